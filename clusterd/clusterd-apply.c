/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-apply.c: not written yet. */
#include "common/common.h"
