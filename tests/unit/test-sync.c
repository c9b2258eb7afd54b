/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sync.c: not written yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_pending(void **state) {
        skip();
}

int main(void) {
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_pending) };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
