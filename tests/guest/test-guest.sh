#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-guest.sh: boots the test guest in QEMU and checks what the integration
# tests rely on: it ticks on the serial port, each boot takes the next
# generation of the lease, and when two copies run on one disk the guest says
# LEASE LOST and guestdisk.py check finds the interleaving in the journal.
#
# Environment: top_srcdir, top_builddir (set by "make check"); QEMU (default
# qemu-system-x86_64); GUEST_ACCEL (default tcg: it boots in well under a
# second, where some nested KVM hosts take seconds in the BIOS); PYTHON.
# When /dev/kvm is usable the guest is also booted once under KVM.
# Exit 77 (skip) only when QEMU is not installed.

set -u

QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "SKIP: $QEMU is not installed (apt-get install qemu-system-x86)"
	exit 77
fi

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
PYTHON=${PYTHON:-python3}
ACCEL=${GUEST_ACCEL:-tcg}
GUEST=$top_builddir/tests/guest/guest.elf
TOOL=$top_srcdir/tests/guest/guestdisk.py
INTERVAL=50     # ms between ticks
BOOT_TIMEOUT=20 # seconds, per wait; generous for a loaded CI machine

work=$(mktemp -d "${TMPDIR:-/tmp}/test-guest.XXXXXX") || exit 1
pids=""

# shellcheck disable=SC2317 # called through trap
cleanup() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	for f in "$work"/*.serial "$work"/*.err; do
		[ -s "$f" ] || continue
		echo "--- $f (last lines)"
		tail -n 15 "$f"
	done
	exit 1
}

[ -f "$GUEST" ] || fail "$GUEST is missing: run make first"

# start NAME IMAGE HOST [DRIVE_OPTIONS]: boots a guest in the background.
# Its serial output goes to $work/NAME.serial; its pid is stored in pid_NAME.
start() {
	"$QEMU" -accel "$ACCEL" -m 32 -display none -monitor none -nodefaults -no-reboot \
		-serial "file:$work/$1.serial" \
		-kernel "$GUEST" -append "host=$3 interval=$INTERVAL" \
		-drive "file=$2,format=raw,if=ide${4:+,$4}" \
		</dev/null >"$work/$1.err" 2>&1 &
	eval "pid_$1=$!"
	pids="$pids $!"
}

# stop NAME: ends that guest (SIGTERM: QEMU exits cleanly, its writes done).
stop() {
	eval "pid=\$pid_$1"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pids=$(echo "$pids" | sed "s/ $pid\b//")
}

# wait_for NAME DESCRIPTION AWK_CONDITION: waits until awk, run over the
# guest's serial output, exits 0; fails if the guest dies or time runs out.
wait_for() {
	eval "pid=\$pid_$1"
	deadline=$(($(date +%s) + BOOT_TIMEOUT))
	while ! awk "$3" "$work/$1.serial" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || fail "guest $1 exited before $2"
		[ "$(date +%s)" -lt "$deadline" ] || fail "guest $1: no $2 within ${BOOT_TIMEOUT}s"
		sleep 0.1
	done
}

# ticks N: an awk condition, true once N tick lines were printed.
ticks() {
	echo "/^guest: tick / { n++ } END { exit !(n >= $1) }"
}

# lease IMAGE: prints "generation host" from the lease block.
lease() {
	"$PYTHON" "$TOOL" show "$1" | "$PYTHON" -c 'import json, sys; l = json.load(sys.stdin); print(l["generation"], l["host"])'
}

expect_lease() {
	got=$(lease "$1") || fail "cannot read the lease of $1"
	[ "$got" = "$2" ] || fail "lease of $1 is '$got', expected '$2'"
}

expect_clean() {
	"$PYTHON" "$TOOL" check "$1" >"$work/check.json" 2>"$work/check.err" ||
		fail "guestdisk.py check $1 failed: $(cat "$work/check.err")"
}

img=$work/disk.img
"$PYTHON" "$TOOL" init "$img" --size-mib 4 || fail "guestdisk.py init failed"
expect_lease "$img" "0 "
expect_clean "$img"
echo "ok: a new image has an empty lease and a clean journal"

# 1. First boot: generation 1, ticks on the console, records in the journal.
start first "$img" node1
wait_for first "3 ticks" "$(ticks 3)"
stop first
grep -q '^guest: boot host=node1 gen=1$' "$work/first.serial" || fail "no boot line for node1 gen 1"
grep -q '^guest: tick 3 host=node1 gen=1$' "$work/first.serial" || fail "no 'tick 3' line for node1"
expect_lease "$img" "1 node1"
expect_clean "$img"
echo "ok: first boot took generation 1 and ticked"

# 2. Second boot, elsewhere: generation 2, and the journal is still in order.
start second "$img" node2
wait_for second "3 ticks" "$(ticks 3)"
stop second
grep -q '^guest: boot host=node2 gen=2$' "$work/second.serial" || fail "no boot line for node2 gen 2"
grep -q 'LEASE LOST' "$work/second.serial" && fail "a lone guest reported LEASE LOST"
expect_lease "$img" "2 node2"
expect_clean "$img"
"$PYTHON" - "$work/check.json" <<'EOF' || fail "the journal summary does not show generations 1 and 2"
import json, sys
gens = json.load(open(sys.argv[1]))["generations"]
assert [(g["generation"], g["hosts"]) for g in gens] == [(1, ["node1"]), (2, ["node2"])], gens
assert all(g["records"] >= 3 for g in gens), gens
EOF
echo "ok: second boot took generation 2; the journal shows 1 then 2"

# 3. Two copies at once: the split brain the cluster must never allow. QEMU's
#    own image locking would refuse the second copy on one host; a shared
#    disk seen from two nodes has no such guard, which is what we model.
start old "$img" nodeA file.locking=off
wait_for old "2 ticks" "$(ticks 2)"
start new "$img" nodeB file.locking=off
wait_for new "3 ticks" "$(ticks 3)"
# The old copy must notice, and write at least twice more after noticing.
wait_for old "2 ticks after LEASE LOST" '/LEASE LOST/ { lost = 1 } lost && /^guest: tick / { n++ } END { exit !(n >= 2) }'
stop old
stop new
grep -q '^guest: boot host=nodeA gen=3$' "$work/old.serial" || fail "no boot line for nodeA gen 3"
grep -q '^guest: boot host=nodeB gen=4$' "$work/new.serial" || fail "no boot line for nodeB gen 4"
grep -q '^guest: LEASE LOST host=nodeA mine=3 found=4 holder=nodeB$' "$work/old.serial" ||
	fail "the old copy did not report 'LEASE LOST host=nodeA mine=3 found=4 holder=nodeB'"
"$PYTHON" "$TOOL" check "$img" >"$work/check.json" 2>"$work/check.err"
status=$?
[ "$status" -ne 0 ] || fail "guestdisk.py check passed a journal written by two copies"
[ "$status" -eq 1 ] || fail "guestdisk.py check exited $status, expected 1: $(cat "$work/check.err")"
grep -q "interleaving: generation [34] (host 'node[AB]')" "$work/check.err" ||
	fail "guestdisk.py check did not name the interleaving: $(cat "$work/check.err")"
echo "ok: two copies at once: LEASE LOST on the console, and check names the interleaving:"
head -n 1 "$work/check.err"

# 4. The same guest under KVM, when this machine has a working KVM: the rig
#    may use it, and KVM backends differ in what they emulate.
kvm_works() {
	[ -c /dev/kvm ] && [ -w /dev/kvm ] &&
		echo quit | "$QEMU" -accel kvm -M none -nodefaults -display none -monitor stdio -serial none \
			>/dev/null 2>&1
}
if [ "$ACCEL" = kvm ]; then
	:
elif kvm_works; then
	ACCEL=kvm
	kimg=$work/kvm.img
	"$PYTHON" "$TOOL" init "$kimg" --size-mib 1 || fail "guestdisk.py init failed"
	start kvm "$kimg" node-kvm
	wait_for kvm "2 ticks under KVM" "$(ticks 2)"
	stop kvm
	expect_lease "$kimg" "1 node-kvm"
	expect_clean "$kimg"
	echo "ok: the guest runs under KVM too"
else
	echo "note: no usable KVM here, the guest ran under $ACCEL only"
fi

exit 0
