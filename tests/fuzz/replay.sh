#!/bin/sh
# Replays every fuzz target's corpus; part of "make check".
set -e
status=0
for t in $FUZZ_BINS; do
        name=$(basename "$t")
        corpus="$top_srcdir/tests/fuzz/corpus/$name"
        if [ ! -d "$corpus" ]; then
                echo "$name: no corpus at $corpus" >&2
                status=1
                continue
        fi
        "$top_builddir/$t" "$corpus" || status=1
done
exit $status
