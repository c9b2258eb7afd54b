/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* golden-sync.c: not written yet. */
int main(void) {
        return 0;
}
