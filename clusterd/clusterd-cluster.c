/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-cluster.c: not written yet. */
#include "common/common.h"
