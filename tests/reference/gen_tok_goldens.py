#!/usr/bin/env python3
"""Golden token ids for the tokenizer tests, from the reference libraries:
sentencepiece (LLaMA-2 and Mistral tokenizer.model), HF tokenizers (Mistral
and LLaMA-3.1 tokenizer.json) and tiktoken (LLaMA-3.1 tokenizer.model).

Writes tests/reference/tok/:
  texts.txt   one text per line, escaped (\\\\ \\n \\r \\t \\xHH); the first
              N lines (header "# tricky N") are a hand-made corpus of hard
              cases, the rest every sentence of the benchmark datasets
  REF.ids     one line per text: the ids space-separated for the tricky
              texts; "=COUNT FNV1A64HEX" for the dataset texts (FNV-1a 64
              over the ids as little-endian int32), to keep the files small
  REF.rt      indices of texts for which the reference does NOT give
              decode(encode(x)) == x (transformers / sentencepiece decode)
  special.txt REF<TAB>flags<TAB>escaped text<TAB>ids: texts with special
              tokens, encoded with BOS and special-token parsing
  tiny_spm.model, tiny_spm.txt: a hand-made SentencePiece BPE model (UNUSED
              pieces that sentencepiece resegments, a USER_DEFINED piece,
              remove_extra_whitespaces) and sentencepiece's ids for a few
              texts ("escaped text<TAB>ids" per line)
  stories_l2c.ids, aidreams_l2c.ids: the llama2.c tok512 files, encoded by
              l2c_encode below, a line-by-line Python transcription of
              llama2.c run.c's encode() (no BOS), for the tricky texts and
              the CrowS-Pairs sentences only (it is quadratic)
Texts are bytes; a reference sees bytes.decode('utf-8', 'replace'), which is
what a Python caller of these libraries would pass for invalid UTF-8.
Run from the repository root: python3 tests/reference/gen_tok_goldens.py
"""
import csv
import os
import struct
import sys

import sentencepiece as spm
import tiktoken
from tiktoken.load import load_tiktoken_bpe
from tokenizers import Tokenizer
from transformers import AutoTokenizer

M = "../shared/models"
D = "../shared/datasets"
OUT = "tests/reference/tok"

TRICKY = [
    b"", b" ", b"  ", b"   ", b"\t", b"\n", b"\n\n", b"\n\n\n", b"\t\n", b" \n \t ",
    b"Hello world", b" Hello world", b"  Hello world", b"Hello World", b"HELLO WORLD",
    b"Hello world, the doctor said she", b"The nurse said he", b"hello   world\t\tagain\n\n\nend",
    b"trailing spaces   ", b"   leading spaces", b"a\r\nb\rc\n", b"line1\nline2\n",
    b"I'm you're he's we've they'll I'd can't won't shouldn't", b"DON'T I'M YOU'RE", b"'s 't 're",
    b"1 12 123 1234 12345 123456 1234567", b"3.14159 2,718 1e-10 0x1F", b"$1,000,000.00 50% #1 @user",
    "\u4f60\u597d\u4e16\u754c".encode(), "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8".encode(),
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8".encode(), "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645".encode(),
    "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440".encode(), "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5".encode(),
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e".encode(),
    "\U0001F600\U0001F601 \U0001F680 \u2764\ufe0f \U0001F468\u200d\U0001F469\u200d\U0001F467".encode(),
    "\U0001F1FA\U0001F1F8 \U0001F44D\U0001F3FD".encode(),
    "e\u0301 n\u0303 a\u0308\u0304 Z\u0351\u0352\u0353".encode(), "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber".encode(),
    "\u00a0non-breaking\u00a0space \u2003em\u2009thin\u3000ideo".encode(), "zero\u200bwidth\u200cjoin\u200d".encode(),
    "\u2581already\u2581has\u2581metaspace".encode(), "\u0120\u010a byte-level letters".encode(),
    "<s> </s> <unk> [INST] <|eot_id|> as plain text".encode(),
    b"<0x41> <0xE2>", b"a" * 50, b"ab" * 30, b" " * 17, b"\n" * 9, b"!!!???...,,,;;;", b"(([[{{}}]]))",
    b"C++ std::vector<int> x = {1, 2};", b"def f(x):\n    return x ** 2\n", b"<html><body>Hi</body></html>",
    b"https://example.com/path?q=1&r=2#frag", b"user@example.com", b"--- *** ___ ===",
    "\u00bd \u00bc \u2153 \u2460 \u00b2 \u2075 \u216b".encode(), "\u0661\u0662\u0663 \u0967\u0968\u0969 \uff11\uff12\uff13".encode(),
    "\uff28\uff45\uff4c\uff4c\uff4f fullwidth".encode(), "\ufb01 ligature \u2126 ohm \u212b".encode(),
    "ied 4 \u00bd months".encode(), "F\u00fchrer".encode(),
    b"bad \xff byte", b"\x80\x81\x82", b"trunc \xe2\x82", b"\xc3", b"over \xc0\xaf long", b"sur \xed\xa0\x80 rogate",
    b"mix \xe2\x82\xac \xf0\x9f \xe4\xbd\xa0", b"\xf4\x90\x80\x80 above max", b"nul \x00 byte", b"ctl \x01\x1f\x7f",
    b"Once upon a time, there was a little girl named Lily.",
    b"The Black man was arrested. The white man was arrested.",
]

SPECIAL = [
    ("mistral_hf", "<s>[INST] You are a helpful assistant.\n\nDescribe a typical nurse.[/INST]"),
    ("mistral_hf", "[INST]hi[/INST] ok</s>"),
    ("mistral_hf", "Hello <unk> world"),
    ("mistral_hf", ""),
    ("mistral_hf", "  two leading spaces"),
    ("llama3_hf", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe fair.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nWho is a nurse?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("llama3_hf", "text <|eot_id|> more <|reserved_special_token_5|>"),
    ("llama3_hf", ""),
    ("llama3_hf", "<|begin_of_text|>"),
]


def esc(b):
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5C:
            out.append("\\\\"); i += 1; continue
        if c == 0x0A:
            out.append("\\n"); i += 1; continue
        if c == 0x0D:
            out.append("\\r"); i += 1; continue
        if c == 0x09:
            out.append("\\t"); i += 1; continue
        if c < 0x20 or c == 0x7F:
            out.append("\\x%02X" % c); i += 1; continue
        if c < 0x80:
            out.append(chr(c)); i += 1; continue
        n = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        if n and i + n <= len(b):
            try:
                out.append(b[i:i + n].decode("utf-8")); i += n; continue
            except UnicodeDecodeError:
                pass
        out.append("\\x%02X" % c); i += 1
    return "".join(out)


def dataset_texts():
    texts = []
    def rows(path):
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    for r in rows(f"{D}/crows_pairs/crows_pairs_anonymized.csv"):
        texts += [r["sent_more"], r["sent_less"]]
    texts += [r["user_prompt"] for r in rows(f"{D}/decodingtrust_stereotype/user_prompts.csv")]
    texts += [r["prompt"] for r in rows(f"{D}/discrimevalgen/discrim_eval_gen.csv")]
    wb = f"{D}/worldbench/paper_worldbench.csv"
    if os.path.exists(wb):
        texts += [r["prompt"] for r in rows(wb)]
    return [t.encode("utf-8") for t in texts]


def l2c_load(path):
    b = open(path, "rb").read()
    pos, vocab, scores = 4, [], []
    while pos < len(b):
        score, n = struct.unpack("<fi", b[pos:pos + 8])
        vocab.append(b[pos + 8:pos + 8 + n])
        scores.append(score)
        pos += 8 + n
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)   # run.c's bsearch over duplicates: take the lowest id
    return vocab, scores, lookup


def l2c_encode(tok, text):
    vocab, scores, lookup = tok
    tokens = []
    if text:
        tokens.append(lookup[b" "])
    buf = b""
    for k, c in enumerate(text):
        if c & 0xC0 != 0x80:
            buf = b""
        buf += bytes([c])
        if k + 1 < len(text) and text[k + 1] & 0xC0 == 0x80 and len(buf) < 4:
            continue
        if buf in lookup:
            tokens.append(lookup[buf])
        else:
            tokens += [x + 3 for x in buf]
        buf = b""
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            m = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]], -1)
            if m != -1 and scores[m] > best:
                best, best_id, best_idx = scores[m], m, i
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    return tokens


def pb_varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def pb_field(num, wt, payload):
    key = pb_varint(num << 3 | wt)
    if wt == 0:
        return key + pb_varint(payload)
    if wt == 5:
        return key + payload
    return key + pb_varint(len(payload)) + payload


def tiny_spm():
    pieces = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3)]
    pieces += [("<0x%02X>" % b, 0, 6) for b in range(256)]
    pieces += [("\u2581", -1, 1), ("a", -2, 1), ("b", -3, 1), ("c", -4, 1), ("d", -5, 1), ("x", -6, 1),
               ("ab", -1.5, 1), ("\u2581a", -0.5, 1), ("abc", -1.2, 5), ("\u2581ab", -0.7, 1),
               ("<sep>", 0, 4), ("cd", -0.2, 1), ("abcd", -0.1, 1), ("\u2581\u2581", -0.3, 1),
               ("xa", -0.9, 5), ("xab", -0.8, 1)]
    m = b""
    for text, score, ty in pieces:
        m += pb_field(1, 2, pb_field(1, 2, text.encode()) + pb_field(2, 5, struct.pack("<f", score)) +
                      pb_field(3, 0, ty))
    m += pb_field(2, 2, pb_field(3, 0, 2) + pb_field(35, 0, 1))
    m += pb_field(3, 2, pb_field(1, 2, b"identity") + pb_field(3, 0, 1))
    return m


TINY_TEXTS = ["abc", "abcd", "xabc", "xabcx", "cabc", "xab", "xxab", "ab cd", "  a  b  ", "x<sep>ab", "<sep>",
              "\u00e4", "", "a\tb", "ab<sep>cd<sep>", "   ", "dcba", "abcabcabc", "\u2581a"]


def fnv(ids):
    h = 0xcbf29ce484222325
    for byte in struct.pack("<%di" % len(ids), *ids):
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    os.makedirs(OUT, exist_ok=True)
    texts = TRICKY + dataset_texts()
    for t in texts:
        assert b"\n" not in esc(t).encode()
    with open(f"{OUT}/texts.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# tricky {len(TRICKY)}\n")
        for t in texts:
            f.write(esc(t) + "\n")

    sp2 = spm.SentencePieceProcessor(model_file=f"{M}/llama2-7b-chat/tokenizer.model")
    spm3 = spm.SentencePieceProcessor(model_file=f"{M}/mistral-7b-instruct-v0.3/tokenizer.model")
    hf_m = Tokenizer.from_file(f"{M}/mistral-7b-instruct-v0.3/tokenizer.json")
    hf_l = Tokenizer.from_file(f"{M}/llama-3.1-8b-instruct/tokenizer.json")
    ranks = load_tiktoken_bpe(f"{M}/llama-3.1-8b-instruct/tokenizer.model")
    pat = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
           r"\s*[\r\n]+|\s+(?!\S)|\s+")
    tt = tiktoken.Encoding(name="llama3", pat_str=pat, mergeable_ranks=ranks, special_tokens={})
    tr_m = AutoTokenizer.from_pretrained(f"{M}/mistral-7b-instruct-v0.3")
    tr_l = AutoTokenizer.from_pretrained(f"{M}/llama-3.1-8b-instruct")

    refs = {
        "llama2_spm": (lambda s: sp2.encode(s), lambda ids: sp2.decode(ids)),
        "mistral_spm": (lambda s: spm3.encode(s), lambda ids: spm3.decode(ids)),
        "mistral_hf": (lambda s: hf_m.encode(s, add_special_tokens=False).ids,
                       lambda ids: tr_m.decode(ids)),
        "llama3_hf": (lambda s: hf_l.encode(s, add_special_tokens=False).ids,
                      lambda ids: tr_l.decode(ids)),
        "llama3_tt": (lambda s: tt.encode(s, disallowed_special=()), lambda ids: tr_l.decode(ids)),
    }
    total = 0
    for name, (enc, dec) in refs.items():
        bad_rt = []
        with open(f"{OUT}/{name}.ids", "w", newline="\n") as f:
            for i, t in enumerate(texts):
                s = t.decode("utf-8", "replace")
                ids = enc(s)
                if i < len(TRICKY):
                    f.write(" ".join(map(str, ids)) + "\n")
                else:
                    f.write("=%d %016x\n" % (len(ids), fnv(ids)))
                if dec(ids) != s:
                    bad_rt.append(i)
        with open(f"{OUT}/{name}.rt", "w", newline="\n") as f:
            f.write(" ".join(map(str, bad_rt)) + "\n")
        total += os.path.getsize(f"{OUT}/{name}.ids")
        print(name, "round-trip exceptions:", len(bad_rt), file=sys.stderr)
    model = tiny_spm()
    with open(f"{OUT}/tiny_spm.model", "wb") as f:
        f.write(model)
    sp = spm.SentencePieceProcessor(model_proto=model)
    with open(f"{OUT}/tiny_spm.txt", "w", encoding="utf-8", newline="\n") as f:
        for t in TINY_TEXTS:
            f.write(esc(t.encode()) + "\t" + " ".join(map(str, sp.encode(t))) + "\n")
    n_l2c = len(TRICKY) + 2 * 1508
    for name, path in (("stories_l2c", f"{M}/stories260K/tok512.bin"), ("aidreams_l2c", f"{M}/aidreams260K/tok512.bin")):
        tok = l2c_load(path)
        with open(f"{OUT}/{name}.ids", "w", newline="\n") as f:
            for i, t in enumerate(texts[:n_l2c]):
                ids = l2c_encode(tok, t)
                if i < len(TRICKY):
                    f.write(" ".join(map(str, ids)) + "\n")
                else:
                    f.write("=%d %016x\n" % (len(ids), fnv(ids)))
        with open(f"{OUT}/{name}.rt", "w", newline="\n") as f:
            f.write("\n")
    with open(f"{OUT}/special.txt", "w", encoding="utf-8", newline="\n") as f:
        for name, s in SPECIAL:
            tok = hf_m if name == "mistral_hf" else hf_l
            ids = tok.encode(s, add_special_tokens=True).ids
            f.write(f"{name}\t3\t{esc(s.encode())}\t{' '.join(map(str, ids))}\n")
    total += os.path.getsize(f"{OUT}/texts.txt")
    print("texts:", len(texts), "bytes written:", total, file=sys.stderr)


if __name__ == "__main__":
    main()
