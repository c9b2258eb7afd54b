/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quorum.h: what the rest of clusterd (and clusterctl) may know of the
 * witness vote. The arbitration itself (quorum/arbiter-int.h) and the
 * witness backends stay inside this folder.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Dynamic witness: whether the witness's vote should count for a cluster
 * with this many voting nodes. It counts only when it can break a tie, that
 * is when the number of voting nodes is even (and not zero). With an odd
 * number the nodes alone always leave one side of a split with a majority,
 * and counting the witness would only hurt: 3 nodes + witness make 4 votes
 * and a quorum of 3, so the 2 nodes of a 2|1 split would need the witness,
 * and lose quorum when it is unreachable at the same time.
 * The caller counts the voting nodes the way votequorum does (nodes with a
 * vote in the configuration, minus those that left cleanly when dynamic
 * quorum is on). Pure. */
bool quorum_witness_counts(uint32_t voting_nodes);

/* The expected votes votequorum should use: voting_nodes, plus one when
 * the witness counts (see quorum_witness_counts) and a witness is
 * configured. Pure. */
uint32_t quorum_expected_votes(uint32_t voting_nodes, bool have_witness);
