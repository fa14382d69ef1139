#!/bin/sh
# Runs test binaries from the repository root; prints each result and the
# closing line "N passed, N failed". Exit status 1 if any failed.
pass=0; fail=0; failed=""
for t in "$@"; do
    [ -x "$t" ] || continue
    start=$(date +%s)
    if out=$("$t" 2>&1); then
        pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
    else
        fail=$((fail + 1)); failed="$failed $t"
        echo "FAIL $t"; echo "$out" | tail -n 40 | sed 's/^/    /'
    fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
