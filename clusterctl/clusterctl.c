/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterctl.c: not written yet. */
#include "common/common.h"
int main(void) {
        return 0;
}
