/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-request.c: not written yet. */
#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        (void)data;
        (void)size;
        return 0;
}
