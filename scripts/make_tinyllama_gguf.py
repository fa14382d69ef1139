#!/usr/bin/env python3
"""Writes a random-weight GGUF with TinyLlama-1.1B's shape for `biasdrift bench`.

dim 2048, hidden 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000, context 2048.
Weights are N(0, 0.02) (norms 1), stored as F16 (default), Q8_0 or Q4_0, written
with the `gguf` package. Speed does not depend on the values, so no tokenizer
is included: `biasdrift bench` needs none.

    python3 scripts/make_tinyllama_gguf.py [--type f16|q8_0|q4_0] [--out /tmp/tinyllama-f16.gguf]

Needs ~2.5 GB of RAM and disk for F16. Write it outside the repository.
"""
import argparse

import numpy as np
import gguf

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CTX = 2048, 5632, 22, 32, 4, 32000, 2048


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--type", default="f16", choices=["f16", "q8_0", "q4_0"])
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    out = a.out or f"/tmp/tinyllama-{a.type}.gguf"
    qt = {"f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
          "q4_0": gguf.GGMLQuantizationType.Q4_0}[a.type]
    rng = np.random.default_rng(a.seed)
    hd = DIM // HEADS

    w = gguf.GGUFWriter(out, "llama")
    w.add_name("tinyllama-1.1b-shape-random")
    w.add_context_length(CTX)
    w.add_embedding_length(DIM)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(HIDDEN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    w.add_file_type({"f16": 1, "q8_0": 7, "q4_0": 2}[a.type])

    def weight(name, rows, cols):
        x = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02)
        if qt == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            q = gguf.quants.quantize(x, qt)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)

    def norm(name):
        w.add_tensor(name, np.ones(DIM, dtype=np.float32))

    weight("token_embd.weight", VOCAB, DIM)
    for l in range(LAYERS):
        p = f"blk.{l}."
        norm(p + "attn_norm.weight")
        weight(p + "attn_q.weight", DIM, DIM)
        weight(p + "attn_k.weight", KV_HEADS * hd, DIM)
        weight(p + "attn_v.weight", KV_HEADS * hd, DIM)
        weight(p + "attn_output.weight", DIM, DIM)
        norm(p + "ffn_norm.weight")
        weight(p + "ffn_gate.weight", HIDDEN, DIM)
        weight(p + "ffn_up.weight", HIDDEN, DIM)
        weight(p + "ffn_down.weight", DIM, HIDDEN)
    norm("output_norm.weight")
    weight("output.weight", VOCAB, DIM)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out)


if __name__ == "__main__":
    main()
