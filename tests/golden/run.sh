#!/bin/sh
# Runs each golden program over its cases: tests/golden/cases/<program>/*.in
# must produce the matching .out exactly. GOLDEN_REFRESH=1 rewrites them.
status=0
for p in $GOLDEN_BINS; do
        name=$(basename "$p")
        dir="$top_srcdir/tests/golden/cases/$name"
        for in in "$dir"/*.in; do
                [ -e "$in" ] || continue
                out="${in%.in}.out"
                if [ -n "$GOLDEN_REFRESH" ]; then
                        "$top_builddir/$p" < "$in" > "$out"
                        continue
                fi
                if ! "$top_builddir/$p" < "$in" | diff -u "$out" - ; then
                        echo "FAIL: $in" >&2
                        status=1
                fi
        done
done
exit $status
