#!/bin/sh
# Tokenizer speed: encodes every CrowS-Pairs sentence (sent_more, sent_less)
# and DecodingTrust user prompt with biasdrift and with HF tokenizers (the
# same texts, one encode call per text, single thread, best of 3), and
# prints MB/s for both. Usage: scripts/tok_speed.sh [BIASDRIFT_BINARY]
set -eu
BIN=${1:-./biasdrift}
M=../shared/models
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$TMP/texts.txt" <<'PY'
import csv, sys
D = "../shared/datasets"
out = []
with open(f"{D}/crows_pairs/crows_pairs_anonymized.csv", newline="", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        out += [r["sent_more"], r["sent_less"]]
with open(f"{D}/decodingtrust_stereotype/user_prompts.csv", newline="", encoding="utf-8") as f:
    out += [r["user_prompt"] for r in csv.DictReader(f)]
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    for t in out:
        f.write(t.replace("\n", " ") + "\n")
PY
for tok in llama-3.1-8b-instruct/tokenizer.json mistral-7b-instruct-v0.3/tokenizer.json \
           llama2-7b-chat/tokenizer.model llama-3.1-8b-instruct/tokenizer.model; do
    ours=$("$BIN" tokenize --tokenizer "$M/$tok" --bench "$TMP/texts.txt" --no-special)
    ref=$(python3 - "$M/$tok" "$TMP/texts.txt" <<'PY'
import sys, time
path, tf = sys.argv[1], sys.argv[2]
texts = open(tf, encoding="utf-8").read().split("\n")[:-1]
nbytes = sum(len(t.encode()) for t in texts)
if path.endswith(".json"):
    from tokenizers import Tokenizer
    tk = Tokenizer.from_file(path)
    enc, lib = (lambda s: tk.encode(s, add_special_tokens=False)), "hf-tokenizers"
elif "llama-3" in path:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    pat = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
           r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tt = tiktoken.Encoding(name="l3", pat_str=pat, mergeable_ranks=load_tiktoken_bpe(path), special_tokens={})
    enc, lib = (lambda s: tt.encode_ordinary(s)), "tiktoken"
else:
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=path)
    enc, lib = (lambda s: sp.encode(s)), "sentencepiece"
best = 1e30
for _ in range(3):
    t0 = time.perf_counter()
    for s in texts:
        enc(s)
    best = min(best, time.perf_counter() - t0)
print("%s %.3f" % (lib, nbytes / 1e6 / best))
PY
)
    echo "$tok: biasdrift $(echo "$ours" | sed 's/.*"mb_per_s": \([0-9.]*\).*/\1/') MB/s; ${ref%% *} ${ref##* } MB/s ($ours)"
done
