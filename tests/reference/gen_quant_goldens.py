#!/usr/bin/env python3
"""Goldens for biasdrift's scalar dequantization (src/model/tensor.c) and
fp16/bf16 conversions, computed with the `gguf` Python package (gguf-py, the
llama.cpp project's reference implementation in numpy) and numpy.

For every block format: random but valid block bytes (finite fp16 scales) are
dequantized with gguf.quants.dequantize; for the formats gguf-py can quantize
(q8_0, q4_0, q4_1) a second set comes from gguf.quants.quantize of Gaussian
floats. Written to tests/reference/quant/:
  <type>.raw  block bytes            <type>.f32  gguf-py's dequantized float32
  conv_in.f32 float32 inputs          conv_f16.u16 / conv_bf16.u16 rounded halves
Run from the repository root:  python3 tests/reference/gen_quant_goldens.py
"""
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant")
rng = np.random.default_rng(20261128)


def f16_bytes(vals):
    return np.asarray(vals, dtype=np.float16).view(np.uint8)


def random_blocks(qt, nblk):
    """Random bytes with the fp16 scale fields replaced by moderate finite values."""
    bsz = quants.GGML_QUANT_SIZES[qt][1]
    raw = rng.integers(0, 256, size=(nblk, bsz), dtype=np.uint8)
    if qt in (T.Q8_0, T.Q4_0):
        raw[:, 0:2] = f16_bytes(rng.uniform(-0.1, 0.1, nblk)).reshape(nblk, 2)
    elif qt == T.Q4_1:
        raw[:, 0:2] = f16_bytes(rng.uniform(0, 0.1, nblk)).reshape(nblk, 2)
        raw[:, 2:4] = f16_bytes(rng.uniform(-1, 0, nblk)).reshape(nblk, 2)
    elif qt in (T.Q4_K, T.Q5_K):
        raw[:, 0:2] = f16_bytes(rng.uniform(0, 0.01, nblk)).reshape(nblk, 2)
        raw[:, 2:4] = f16_bytes(rng.uniform(0, 0.01, nblk)).reshape(nblk, 2)
    elif qt == T.Q6_K:
        raw[:, 208:210] = f16_bytes(rng.uniform(-0.01, 0.01, nblk)).reshape(nblk, 2)
    return raw


def main():
    os.makedirs(OUT, exist_ok=True)
    specs = [("q8_0", T.Q8_0, 16), ("q4_0", T.Q4_0, 16), ("q4_1", T.Q4_1, 16),
             ("q4_K", T.Q4_K, 6), ("q5_K", T.Q5_K, 6), ("q6_K", T.Q6_K, 6)]
    for name, qt, nblk in specs:
        raw = random_blocks(qt, nblk)
        if qt in (T.Q8_0, T.Q4_0, T.Q4_1):
            x = rng.standard_normal((1, 32 * nblk)).astype(np.float32)
            raw = np.concatenate([raw.reshape(-1), quants.quantize(x, qt).reshape(-1)])
        raw = np.ascontiguousarray(raw.reshape(1, -1))
        deq = quants.dequantize(raw, qt).astype(np.float32).reshape(-1)
        raw.tofile(os.path.join(OUT, name + ".raw"))
        deq.tofile(os.path.join(OUT, name + ".f32"))

    # Conversions: specials, subnormals, exact ties and random values over a wide range.
    specials = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.99, 65520.0, 1e6, -1e6, np.inf, -np.inf,
                6.103515625e-05, 5.96e-08, 2.98e-08, 2.9802322e-08, 1e-10, 3.0e-05,
                1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8,
                3.4e38, -1.17549435e-38]
    rnd = np.concatenate([rng.standard_normal(200) * 10.0 ** rng.uniform(-9, 6, 200),
                          rng.uniform(-1, 1, 56).astype(np.float32)])
    x = np.concatenate([np.array(specials, dtype=np.float32), rnd.astype(np.float32)])
    with np.errstate(over="ignore"):
        f16 = x.astype(np.float16).view(np.uint16)
    bf16 = quants.quantize(x.reshape(1, -1), T.BF16).view(np.uint16).reshape(-1)
    x.tofile(os.path.join(OUT, "conv_in.f32"))
    f16.tofile(os.path.join(OUT, "conv_f16.u16"))
    bf16.tofile(os.path.join(OUT, "conv_bf16.u16"))


if __name__ == "__main__":
    main()
