#!/usr/bin/env python3
"""A tiny LLaMA-shaped GGUF whose weights use every dtype biasdrift reads
(f32, f16, bf16, q8_0, q4_0, q4_1, q4_K, q5_K, q6_K), written with the `gguf`
package's GGUFWriter, plus goldens: the first and last row of every tensor
dequantized by gguf-py (GGUFReader + gguf.quants.dequantize), so the C side's
GGUF reader, shape handling (reversed dims -> [out, in]) and dequantization
are checked end to end against the reference implementation.

Writes tests/reference/model/mixed.gguf, mixed_rows.txt (name rows cols, one
per line, in golden order) and mixed_rows.f32 (row 0 then the last row of each).
Run from the repository root:  python3 tests/reference/gen_gguf_mixed.py
"""
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model")
rng = np.random.default_rng(7)

DIM, HID, NH, NKV, HD, VOC = 256, 32, 4, 2, 8, 16


def kblocks(qt, rows, cols):
    """Random valid K-quant blocks (gguf-py cannot quantize K types)."""
    bsz = quants.GGML_QUANT_SIZES[qt][1]
    nb = rows * cols // 256
    raw = rng.integers(0, 256, size=(nb, bsz), dtype=np.uint8)
    f16 = lambda lo, hi: np.asarray(rng.uniform(lo, hi, nb), dtype=np.float16).view(np.uint8).reshape(nb, 2)
    if qt in (T.Q4_K, T.Q5_K):
        raw[:, 0:2] = f16(0, 0.01)
        raw[:, 2:4] = f16(0, 0.01)
    else:
        raw[:, 208:210] = f16(-0.01, 0.01)
    return raw.reshape(rows, cols // 256 * bsz)


def main():
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "mixed.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_custom_alignment(64)
    w.add_name("mixed-dtype test model")
    w.add_block_count(1)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(HID)
    w.add_head_count(NH)
    w.add_head_count_kv(NKV)
    w.add_key_length(HD)
    w.add_value_length(HD)
    w.add_rope_dimension_count(HD)
    w.add_context_length(128)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(500000.0)
    w.add_vocab_size(VOC)
    w.add_tokenizer_model("llama")
    w.add_token_list([("t%d" % i).encode() for i in range(VOC)])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}\n{% endfor %}")

    specs = [  # name, numpy shape [out, in], type
        ("token_embd.weight", (VOC, DIM), T.Q8_0),
        ("blk.0.attn_norm.weight", (DIM,), T.F32),
        ("blk.0.attn_q.weight", (NH * HD, DIM), T.Q4_K),
        ("blk.0.attn_k.weight", (NKV * HD, DIM), T.Q5_K),
        ("blk.0.attn_v.weight", (NKV * HD, DIM), T.Q6_K),
        ("blk.0.attn_output.weight", (DIM, NH * HD), T.BF16),
        ("blk.0.ffn_norm.weight", (DIM,), T.F16),
        ("blk.0.ffn_gate.weight", (HID, DIM), T.F16),
        ("blk.0.ffn_up.weight", (HID, DIM), T.Q4_0),
        ("blk.0.ffn_down.weight", (DIM, HID), T.Q4_1),
        ("output_norm.weight", (DIM,), T.F32),
        ("output.weight", (VOC, DIM), T.F32),
        ("rope_freqs.weight", (HD // 2,), T.F32),
    ]
    for name, shape, qt in specs:
        if qt in (T.Q4_K, T.Q5_K, T.Q6_K):
            w.add_tensor(name, kblocks(qt, *shape), raw_dtype=qt)
            continue
        a = rng.standard_normal(shape).astype(np.float32)
        if name == "rope_freqs.weight":
            a = np.array([1.0, 1.5, 4.0, 8.0], dtype=np.float32)
        if qt == T.F32:
            w.add_tensor(name, a)
        elif qt == T.F16:
            w.add_tensor(name, a.astype(np.float16))
        else:
            w.add_tensor(name, quants.quantize(a, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    idx, rows = [], []
    for t in r.tensors:
        deq = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        deq = deq.reshape(-1, deq.shape[-1])
        idx.append("%s %d %d" % (t.name, deq.shape[0], deq.shape[1]))
        rows.append(deq[0])
        rows.append(deq[-1])
    with open(os.path.join(OUT, "mixed_rows.txt"), "w") as f:
        f.write("\n".join(idx) + "\n")
    np.concatenate(rows).astype("<f4").tofile(os.path.join(OUT, "mixed_rows.f32"))


if __name__ == "__main__":
    main()
