/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quorum-dynamic.c: whether the witness's vote counts (quorum.h).
 */
#include "quorum/quorum.h"

bool quorum_witness_counts(uint32_t voting_nodes) {
        return voting_nodes > 0 && voting_nodes % 2 == 0;
}

uint32_t quorum_expected_votes(uint32_t voting_nodes, bool have_witness) {
        return voting_nodes + (have_witness && quorum_witness_counts(voting_nodes) ? 1 : 0);
}
