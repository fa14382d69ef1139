#!/usr/bin/env python3
"""Goldens for tests/accel: reference outputs of the PyPI libraries the paper
used (bitsandbytes CPU backend, hqq, optimum-quanto) and torch references
written from ../shared/spec/strategies.md, on small seeded test tensors.

Run from the repository root:  python3 tests/reference/gen_accel_goldens.py
(needs: pip install torch numpy bitsandbytes hqq optimum-quanto).

Output: tests/reference/accel/*.bdg, a tiny container read by tests/accel/golden.h:
  "BDG1" u32 count, then per array: u16 name_len, name, u8 dtype
  (0 f32, 1 u8, 2 i32, 3 i8, 4 f64, 5 i64, 6 u16), u8 ndim, i64 dims[ndim], raw LE data.
"""
import os
import struct
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "accel")
DT = {np.dtype("float32"): 0, np.dtype("uint8"): 1, np.dtype("int32"): 2,
      np.dtype("int8"): 3, np.dtype("float64"): 4, np.dtype("int64"): 5, np.dtype("uint16"): 6}


def save(name, arrays):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(b"BDG1")
        f.write(struct.pack("<I", len(arrays)))
        for k, v in arrays.items():
            v = np.ascontiguousarray(np.asarray(v))
            kb = k.encode()
            f.write(struct.pack("<H", len(kb)) + kb)
            f.write(struct.pack("<BB", DT[v.dtype], v.ndim))
            for d in v.shape:
                f.write(struct.pack("<q", d))
            f.write(v.astype(v.dtype.newbyteorder("<")).tobytes())
    print(path, os.path.getsize(path), "bytes")


def t2n(t):
    return t.detach().cpu().contiguous().numpy()


# ---------------------------------------------------------------- bnb 4-bit
def bnb4_matrices():
    rng = np.random.default_rng(1234)
    mats = {}
    a = (rng.standard_normal((32, 128)) * 0.02).astype(np.float32)
    a[3, :] = 0.0                      # two all-zero blocks
    a[5, 7] = -0.0
    a[6, :64] = rng.standard_normal(64).astype(np.float32) * 1e-4  # tiny values
    mats["a"] = a
    mats["b"] = (rng.standard_normal((7, 100)) * 0.5).astype(np.float32)  # partial last block
    mats["c"] = (rng.standard_normal((5, 13))).astype(np.float32)         # odd count
    return mats


def tie_block(code):
    """A 64-block with absmax exactly 1 whose entries sit exactly on the fp32
    midpoints the quantizer compares against (ties must go to the lower code)."""
    c = np.sort(code.astype(np.float32))
    mids = ((c[:-1] + c[1:]) / np.float32(2)).astype(np.float32)
    blk = np.zeros(64, np.float32)
    blk[0] = 1.0
    blk[1:1 + len(mids)] = mids
    blk[20:20 + len(mids)] = -mids
    return blk.reshape(1, 64)


def gen_bnb4():
    import bitsandbytes.functional as F
    from bitsandbytes.backends.default.ops import _get_4bit_code
    out = {}
    for qt in ("fp4", "nf4"):
        code = t2n(_get_4bit_code(qt, torch.device("cpu")))
        out[qt + "_code"] = code
        mats = bnb4_matrices()
        mats["tie"] = tie_block(code)
        for name, w in mats.items():
            t = torch.from_numpy(w)
            q, st = F.quantize_4bit(t, blocksize=64, quant_type=qt, compress_statistics=False)
            dq = F.dequantize_4bit(q, st)
            out[f"{qt}_{name}_w"] = w
            out[f"{qt}_{name}_q"] = t2n(q).reshape(-1)
            out[f"{qt}_{name}_absmax"] = t2n(st.absmax).astype(np.float32)
            out[f"{qt}_{name}_dq"] = t2n(dq).astype(np.float32)
    save("bnb4.bdg", out)


def dyn_nearest(code, x):
    """Exact nearest entry of the sorted dynamic map, ties to the lower index
    (the CUDA kernel's rule). bitsandbytes' CPU library uses an approximate
    binary search instead (BinSearch Direct2) which sometimes picks a
    neighbour; we store this spec-exact index alongside bnb's."""
    c = code.astype(np.float64)
    d = np.abs(x.astype(np.float64)[:, None] - c[None, :])
    return d.argmin(1).astype(np.uint8)


def gen_bnb4_dq():
    import bitsandbytes.functional as F
    rng = np.random.default_rng(99)
    w = (rng.standard_normal((40, 1024)) * 0.02).astype(np.float32)   # 640 blocks -> 3 dq blocks (last partial)
    w[:, :3] *= 40                                                     # outlier columns
    out = {"w": w}
    dyn = t2n(F.create_dynamic_map(signed=True)).astype(np.float32)
    out["dyn_code"] = dyn
    for qt in ("fp4", "nf4"):
        t = torch.from_numpy(w)
        q, st = F.quantize_4bit(t, blocksize=64, quant_type=qt, compress_statistics=True)
        q0, st0 = F.quantize_4bit(t, blocksize=64, quant_type=qt, compress_statistics=False)
        absmax = t2n(st0.absmax).astype(np.float32)
        offset = np.float32(t2n(st.offset).item())
        a2 = (absmax - offset).astype(np.float32)
        # spec-exact second level: per 256-block absmax, x / absmax, nearest code
        n = len(a2)
        codes = np.zeros(n, np.uint8)
        am2 = []
        for b0 in range(0, n, 256):
            blk = a2[b0:b0 + 256]
            m = np.float32(np.abs(blk).max())
            am2.append(m)
            codes[b0:b0 + 256] = dyn_nearest(dyn, (blk / m).astype(np.float32))
        am2 = np.array(am2, np.float32)
        deq_abs = (dyn[codes].reshape(-1) * np.repeat(am2, 256)[:n]).astype(np.float32) + offset
        out[qt + "_q"] = t2n(q).reshape(-1)
        out[qt + "_absmax"] = absmax
        out[qt + "_offset"] = np.array([offset], np.float32)
        out[qt + "_bnb_qabs"] = t2n(st.absmax).reshape(-1)
        out[qt + "_bnb_abs2"] = t2n(st.state2.absmax).astype(np.float32)
        out[qt + "_ref_qabs"] = codes
        out[qt + "_ref_abs2"] = am2
        out[qt + "_ref_absmax_dq"] = deq_abs.astype(np.float32)
    save("bnb4dq.bdg", out)


# ---------------------------------------------------------------- LLM.int8
def int8_spec_ref(W, A, thr=6.0):
    """LLM.int8 written from strategies.md §2 in torch, fp32 activations
    (decisions.md §1): CB/SCB per row, per-token SCA with outliers |x|>=thr
    excluded, whole outlier columns zeroed and computed against the
    int8-dequantized weight columns, int32 accumulation, 1/16129 constant."""
    SCB = W.abs().max(dim=1).values
    CB = torch.round(W * (127.0 / SCB).unsqueeze(1)).to(torch.int8)
    out_mask = A.abs() >= thr
    cols = torch.argwhere(out_mask.any(dim=0)).view(-1)
    A0 = A.clone()
    A0[out_mask] = 0
    SCA = A0.abs().max(dim=1).values
    CA = torch.round(A0 * (127.0 / SCA).unsqueeze(1)).to(torch.int8)
    CA[:, cols] = 0
    C32 = (CA.to(torch.int64) @ CB.to(torch.int64).t()).to(torch.int32)
    out = C32.float() * (SCA.unsqueeze(1) * SCB.unsqueeze(0)) * np.float32(6.200012e-05)
    subB = (CB[:, cols].float() * (SCB / 127.0).unsqueeze(1)).t()
    out = out + A[:, cols] @ subB
    return CB, SCB, CA, SCA, cols, out


def gen_int8():
    import bitsandbytes  # noqa: F401  (registers torch.ops.bitsandbytes)
    rng = np.random.default_rng(7)
    out = {}
    W = (rng.standard_normal((48, 200)) * 0.05).astype(np.float32)
    W[4, :] = 0.0
    W[5, 9] = 0.5 / 127 * 0.05  # exercises round-half cases loosely
    out["w"] = W
    Wt = torch.from_numpy(W)
    for n in (1, 7):
        A = (rng.standard_normal((n, 200))).astype(np.float32)
        A[:, 3] *= 9.0                 # an outlier-prone column
        A[n - 1, 150] = 6.0            # exactly the threshold: an outlier (>=)
        A[0, 151] = 5.9999995          # just below
        At = torch.from_numpy(A)
        CB, SCB, CA, SCA, cols, ref = int8_spec_ref(Wt, At)
        # bitsandbytes' own CPU ops on the same fp32 inputs
        bCB, bSCB, _ = torch.ops.bitsandbytes.int8_vectorwise_quant.default(Wt.clone(), 0.0)
        bCA, bSCA, bcols = torch.ops.bitsandbytes.int8_vectorwise_quant.default(At.clone(), 6.0)
        bout, _ = torch.ops.bitsandbytes.int8_mixed_scaled_mm.default(At, bCA, bCB, bSCA, bSCB, bcols, None)
        assert torch.equal(bCB, CB) and torch.equal(bSCB, SCB)
        assert torch.equal(bCA, CA) and torch.equal(bSCA, SCA) and torch.equal(bcols, cols)
        k = f"n{n}_"
        out[k + "x"] = A
        out[k + "ca"] = t2n(CA)
        out[k + "sca"] = t2n(SCA)
        out[k + "cols"] = t2n(cols).astype(np.int32)
        out[k + "ref"] = t2n(ref)
        out[k + "bnb"] = t2n(bout).astype(np.float32)
    out["cb"] = t2n(CB)
    out["scb"] = t2n(SCB)
    save("int8.bdg", out)


# ---------------------------------------------------------------- KV codecs
def kv_tensors():
    rng = np.random.default_rng(5)
    cases = {}
    # [B=1, H, T, D] as HF's cache holds it; keys with per-channel outliers
    k = rng.standard_normal((1, 4, 40, 32)).astype(np.float32)
    k[:, :, :, 5] *= 12.0
    cases["a"] = k
    cases["b"] = (rng.standard_normal((1, 2, 64, 64)) * 0.3).astype(np.float32)
    c = rng.standard_normal((1, 4, 32, 16)).astype(np.float32)
    c[0, 1, :, :] = 0.25          # constant stretch: groups with max == min (HQQ axis 1)
    cases["c"] = c
    return cases


def hqq_hf(t, nbits, axis):
    """What transformers 4.45 HQQQuantizedCache does: Quantizer.quantize with
    compute_dtype fp16, optimize=False (hqq's default when the paper ran),
    meta moved to fp16, then Quantizer.dequantize (fp16 arithmetic)."""
    from hqq.core.quantize import Quantizer
    q, meta = Quantizer.quantize(torch.from_numpy(t), nbits=nbits, axis=axis, group_size=64,
                                 optimize=False, round_zero=False, compute_dtype=torch.float16,
                                 device="cpu", bitpack=True)
    meta["compute_dtype"] = torch.float16
    for key in ("scale", "zero"):
        meta[key] = meta[key].to(torch.float16)
    dq = Quantizer.dequantize(q, meta)
    return meta, dq


def hqq_spec(t, nbits, axis):
    """HQQ 73cb373 from strategies.md §4.3 (no small-denominator guard: that
    came later), used where the installed hqq differs (max - min <= 1e-4)."""
    W = torch.from_numpy(t).float()
    W = W.reshape([-1, 64]) if axis == 1 else W.reshape([64, -1])
    mn = W.min(dim=axis, keepdim=True)[0]
    mx = W.max(dim=axis, keepdim=True)[0]
    qmax = 2 ** nbits - 1
    s = (qmax / (mx - mn)).clamp(max=2e4)
    z = -mn * s
    q = (W * s + z).round().clamp(0, qmax)
    scale = (1.0 / s).half()
    zh = z.half()
    dq = ((q.half() - zh) * scale).reshape(t.shape)
    return q, scale, zh, dq


def gen_kv():
    from optimum.quanto import MaxOptimizer, qint4, quantize_weight
    out = {}
    for name, t in kv_tensors().items():
        out[name] = t
        for nbits in (4, 8):
            for axis in (0, 1):
                key = f"hqq{nbits}_ax{axis}_{name}"
                q, scale, zh, dq = hqq_spec(t, nbits, axis)
                W = torch.from_numpy(t).reshape([-1, 64]) if axis == 1 else torch.from_numpy(t).reshape([64, -1])
                degenerate = bool(((W.max(dim=axis)[0] - W.min(dim=axis)[0]) <= 1e-4).any())
                if not degenerate:
                    meta, dq_lib = hqq_hf(t, nbits, axis)
                    assert torch.equal(dq_lib, dq), key
                    assert torch.equal(meta["scale"].reshape(-1), scale.reshape(-1)), key
                out[key] = t2n(dq.float())
                out[key + "_q"] = t2n(q.to(torch.uint8)).reshape(-1)
                out[key + "_scale"] = t2n(scale.float()).reshape(-1)
                out[key + "_zero"] = t2n(zh.float()).reshape(-1)
        for axis in (0, -1):
            tt = torch.from_numpy(t)
            if axis == -1 and (t.shape[1] * t.shape[2]) % 64:
                continue
            scale, shift = MaxOptimizer()(tt, qint4, axis, 64)
            qt = quantize_weight(tt, qint4, axis, scale, shift, 64)
            key = f"quanto4_ax{'m1' if axis == -1 else 0}_{name}"
            out[key] = t2n(qt.dequantize()).astype(np.float32)
            out[key + "_scale"] = t2n(scale).reshape(-1)
            out[key + "_shift"] = t2n(shift).reshape(-1)
    save("kv.bdg", out)


# ---------------------------------------------------------------- Wanda
MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def calib_ids(vocab, ns, T, seed):
    """Fixed calibration tokens shared with tests/accel/test_wanda.c (an LCG
    both sides compute): id = (state >> 33) % vocab."""
    s = seed
    ids = np.zeros((ns, T), np.int64)
    for i in range(ns):
        for t in range(T):
            s = (s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            ids[i, t] = (s >> 33) % vocab
    return ids


def run_layer(layer, h, pos_emb, T):
    mask = torch.full((1, 1, T, T), float("-inf")).triu(1)
    out = layer(h, attention_mask=mask, position_embeddings=pos_emb,
                position_ids=torch.arange(T)[None])
    return out[0] if isinstance(out, tuple) else out


def wanda_ref(model_dir, ns, T, seed, kind):
    """Wanda (strategies.md §5.2) in torch on a transformers model: per block,
    hooks gather each linear's input statistic S_j = mean over samples of the
    sum over tokens of x^2 (float64), score |W| * sqrt(S), prune per output row
    (unstructured: the int(in*0.5) lowest, stable; 2:4: the 2 lowest of every
    4), then run the pruned block to get the next block's inputs."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    cfg = model.config
    ids = torch.from_numpy(calib_ids(cfg.vocab_size, ns, T, seed))
    masks = {}
    with torch.no_grad():
        x = model.model.embed_tokens(ids)
        pos_emb = model.model.rotary_emb(x[:1], torch.arange(T)[None])
        names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        for li, layer in enumerate(model.model.layers):
            lins = {"q_proj": layer.self_attn.q_proj, "k_proj": layer.self_attn.k_proj,
                    "v_proj": layer.self_attn.v_proj, "o_proj": layer.self_attn.o_proj,
                    "gate_proj": layer.mlp.gate_proj, "up_proj": layer.mlp.up_proj,
                    "down_proj": layer.mlp.down_proj}
            S = {k: torch.zeros(v.in_features, dtype=torch.float64) for k, v in lins.items()}
            hooks = []
            for k, v in lins.items():
                def hook(mod, inp, out, k=k):
                    a = inp[0].reshape(-1, inp[0].shape[-1]).double()
                    S[k] += (a * a).sum(0)
                hooks.append(v.register_forward_hook(hook))
            for s in range(ns):
                run_layer(layer, x[s:s + 1], pos_emb, T)
            for h in hooks:
                h.remove()
            for k in names:
                W = lins[k].weight.data
                metric = W.abs() * torch.sqrt(S[k] / ns).float().unsqueeze(0)
                mask = torch.zeros_like(W, dtype=torch.bool)
                if kind == "unstructured":
                    idx = torch.sort(metric, dim=-1, stable=True)[1][:, :int(W.shape[1] * 0.5)]
                    mask.scatter_(1, idx, True)
                else:
                    for j in range(0, W.shape[1], 4):
                        tmp = metric[:, j:j + 4]
                        # the 2 smallest; on ties the lower index (stable sort)
                        idx = torch.sort(tmp, dim=-1, stable=True)[1][:, :2]
                        mask.scatter_(1, j + idx, True)
                W[mask] = 0
                masks[f"l{li}_{k}"] = t2n(mask).astype(np.uint8)
            x = torch.cat([run_layer(layer, x[s:s + 1], pos_emb, T) for s in range(ns)])
        logits = model(ids[:1]).logits[0]
    return masks, t2n(logits)


def gen_wanda():
    out = {}
    for kind in ("unstructured", "2of4"):
        masks, logits = wanda_ref(os.path.join(MODELS, "llama_gqa_f32"), 4, 16, 42, kind)
        for k, v in masks.items():
            out[f"{kind}_{k}"] = v
        out[f"{kind}_logits"] = logits.astype(np.float32)
    save("wanda.bdg", out)


# ---------------------------------------------------------------- AWQ
AWQ_MODEL = os.path.join(OUT, "awq_tiny")


def make_awq_model():
    """A tiny MHA LLaMA (dim 128, hidden 256: whole 128-groups, rows multiples
    of 64 as AutoAWQ's clip batching needs) with uneven norm weights so the
    activation-aware scaling has something to find. Stored fp16."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(1234)
    cfg = LlamaConfig(vocab_size=300, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, initializer_range=0.05,
                      bos_token_id=1, eos_token_id=2)
    m = LlamaForCausalLM(cfg)
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for layer in m.model.layers:
            for ln in (layer.input_layernorm, layer.post_attention_layernorm):
                w = 0.5 + 1.5 * torch.rand(128, generator=g)
                w[torch.randperm(128, generator=g)[:4]] *= 6.0
                ln.weight.copy_(w)
    m = m.half()
    m.save_pretrained(AWQ_MODEL, safe_serialization=True)
    for f in os.listdir(AWQ_MODEL):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(AWQ_MODEL, f))


def awq_pq(w, g):
    """AutoAWQ pseudo_quantize_tensor, w_bit 4, zero point, fp32."""
    shape = w.shape
    w = w.reshape(-1, g)
    mx = w.amax(dim=1, keepdim=True)
    mn = w.amin(dim=1, keepdim=True)
    scales = (mx - mn).clamp(min=1e-5) / 15
    zeros = (-torch.round(mn / scales)).clamp_(0, 15)
    q = torch.clamp(torch.round(w / scales) + zeros, 0, 15)
    return ((q - zeros) * scales).reshape(shape), q.reshape(shape), scales.view(shape[0], -1), zeros.view(shape[0], -1)


def awq_ref(ns=4, T=32, seed=7, g=128):
    """AWQ as AutoAWQ v0.2.7 runs it (strategies.md §3; fp32 per decisions.md):
    input features captured by running each block unmodified (so the block
    inputs are the original model's), duo-scaling grid k/20 with the MSE of
    the inspected module (self_attn, o_proj, mlp, down_proj), scales folded
    into norm / previous linear, features divided by s, clip search (not
    q/k), final group quantization."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(AWQ_MODEL, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config
    ids = torch.from_numpy(calib_ids(cfg.vocab_size, ns, T, seed))
    out = {}
    mask = torch.full((1, 1, T, T), float("-inf")).triu(1)
    with torch.no_grad():
        x = model.model.embed_tokens(ids)
        pos = model.model.rotary_emb(x, torch.arange(T)[None])
        for li, layer in enumerate(model.model.layers):
            at, mlp = layer.self_attn, layer.mlp
            lins = {"q": at.q_proj, "k": at.k_proj, "v": at.v_proj, "o": at.o_proj,
                    "gate": mlp.gate_proj, "up": mlp.up_proj, "down": mlp.down_proj}
            feats = {}
            hooks = [m.register_forward_hook(lambda mod, i, o, n=n: feats.__setitem__(n, i[0].reshape(-1, i[0].shape[-1]).clone()))
                     for n, m in lins.items()]
            xn = layer(x, attention_mask=mask, position_embeddings=pos)
            xn = xn[0] if isinstance(xn, tuple) else xn
            for h in hooks:
                h.remove()
            W = {n: m.weight.data.clone() for n, m in lins.items()}
            N = feats["q"].shape[0]

            def inspect(gi, Wm):
                saved = {n: lins[n].weight.data for n in Wm}
                for n, w in Wm.items():
                    lins[n].weight.data = w
                if gi == 0:
                    y = at(hidden_states=feats["q"].view(ns, T, -1), attention_mask=mask, position_embeddings=pos)[0]
                elif gi == 1:
                    y = torch.nn.functional.linear(feats["o"], lins["o"].weight)
                elif gi == 2:
                    y = mlp(feats["gate"])
                else:
                    y = torch.nn.functional.linear(feats["down"], lins["down"].weight)
                for n, w in saved.items():
                    lins[n].weight.data = w
                return y.reshape(-1)

            groups = [("ln1", ["q", "k", "v"], "q"), ("v", ["o"], "o"), ("ln2", ["gate", "up"], "gate"), ("up", ["down"], "down")]
            best_idx = np.full(4, -1, np.int32)
            losses = np.zeros((4, 20), np.float64)
            scales = {}
            for gi, (prev, mem, fk) in enumerate(groups):
                if gi == 1 and W["v"].shape != W["o"].shape:
                    continue
                w = torch.cat([W[n] for n in mem])
                ws = w.abs().view(-1, g)
                ws = ws / (ws.amax(dim=1, keepdim=True) + 1e-6)
                w_mean = ws.view(w.shape).mean(0)
                x_mean = feats[fk].abs().float().sum(0) / N
                ref = inspect(gi, {})
                best = float("inf")
                for k in range(20):
                    ratio = k / 20
                    sc = (x_mean.pow(ratio) / (w_mean.pow(1 - ratio) + 1e-4)).clamp(min=1e-4)
                    sc = sc / (sc.max() * sc.min()).sqrt()
                    sc[torch.isinf(sc)] = 1
                    sc[torch.isnan(sc)] = 1
                    Wm = {n: awq_pq(W[n] * sc.view(1, -1), g)[0] / sc.view(1, -1) for n in mem}
                    loss = (ref.double() - inspect(gi, Wm).double()).pow(2).mean().item()
                    losses[gi, k] = loss
                    if loss < best:
                        best, best_idx[gi], scales[gi] = loss, k, sc.clone()
            # apply
            n1 = layer.input_layernorm.weight.data.clone()
            n2 = layer.post_attention_layernorm.weight.data.clone()
            for gi, (prev, mem, fk) in enumerate(groups):
                if gi not in scales:
                    continue
                sc = scales[gi]
                for n in mem:
                    W[n] = W[n] * sc.view(1, -1)
                if prev == "ln1":
                    n1 = n1 / sc
                elif prev == "ln2":
                    n2 = n2 / sc
                else:
                    W[prev][-sc.numel():] = W[prev][-sc.numel():] / sc.view(-1, 1)
                feats[fk] = feats[fk] / sc.view(1, -1)
            # clip
            fmap = {"v": "q", "o": "o", "gate": "gate", "up": "gate", "down": "down"}
            for n in ["v", "o", "gate", "up", "down"]:
                w = W[n]
                xf = feats[fmap[n]]
                step = max(1, xf.shape[0] // 512)
                xs = xf[::step].reshape(1, -1, w.shape[1] // g, g)
                wv = w.reshape(w.shape[0], 1, -1, g)
                m0 = wv.abs().amax(dim=-1, keepdim=True)
                bestm = m0.clone()
                min_err = torch.full_like(m0, 1e9, dtype=torch.float64)
                # dot products in float64 (both sides) so that near-equal candidate errors
                # are ordered the same way in C and here
                org = (xs.double() * wv.double()).sum(dim=-1)
                for i in range(10):
                    mv = m0 * (1 - i / 20)
                    cw = torch.clamp(wv, -mv, mv)
                    qw = awq_pq(cw.reshape(w.shape), g)[0].reshape(wv.shape)
                    cur = (xs.double() * qw.double()).sum(dim=-1)
                    err = (cur - org).pow(2).mean(dim=1).view(min_err.shape)
                    better = err < min_err
                    min_err[better] = err[better]
                    bestm[better] = mv[better]
                W[n] = torch.clamp(wv, -bestm, bestm).reshape(w.shape)
            for n in lins:
                _, q, sc, z = awq_pq(W[n], g)
                out[f"l{li}_{n}_q"] = t2n(q).astype(np.uint8)
                out[f"l{li}_{n}_scale"] = t2n(sc).astype(np.float32)
                out[f"l{li}_{n}_zero"] = t2n(z).astype(np.uint8)
                # the packed format keeps fp16 scales (as AutoAWQ's GEMM checkpoints)
                lins[n].weight.data = (q - z.repeat_interleave(g, dim=1)) * sc.half().float().repeat_interleave(g, dim=1)
            layer.input_layernorm.weight.data = n1
            layer.post_attention_layernorm.weight.data = n2
            out[f"l{li}_best"] = best_idx
            out[f"l{li}_losses"] = losses
            x = xn
        out["logits"] = t2n(model(ids[:1]).logits[0]).astype(np.float32)
    return out


def gen_awq_gemm():
    """AutoAWQ's own WQLinear_GEMM.from_linear packing (pip install --no-deps
    autoawq==0.2.7.post2) and its dequantize_gemm, on a pseudo-quantized
    linear, as _apply_quant calls them (fp16 weights, transposed scales/zeros)."""
    import importlib.util
    import types
    if "awq" not in sys.modules:
        # awq/__init__ pulls in the model zoo (datasets, ...); only the packing
        # modules are needed, so register the package without running it
        spec = importlib.util.find_spec("awq")
        pkg = types.ModuleType("awq")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["awq"] = pkg
    from awq.modules.linear.gemm import WQLinear_GEMM
    from awq.utils.packing_utils import dequantize_gemm
    torch.manual_seed(5)
    lin = torch.nn.Linear(256, 64, bias=False)
    with torch.no_grad():
        lin.weight.mul_(3.0)
    w, q, sc, z = awq_pq(lin.weight.data.float(), 128)
    lin = lin.half()
    lin.weight.data = w.half()
    ql = WQLinear_GEMM.from_linear(lin, 4, 128, scales=sc.t().contiguous(), zeros=z.t().contiguous())
    dq = dequantize_gemm(ql.qweight, ql.qzeros, ql.scales, 4, 128)  # [in, out]
    out = {"qweight": t2n(ql.qweight).astype(np.int32), "qzeros": t2n(ql.qzeros).astype(np.int32),
           "scales": t2n(ql.scales).view(np.uint16), "dq": t2n(dq.float()).astype(np.float32),
           "q": t2n(q).astype(np.uint8), "z": t2n(z).astype(np.uint8), "s": t2n(sc).astype(np.float32)}
    save("awq_gemm.bdg", out)


def load_bdg(name):
    """Reads a BDG1 container written by save()."""
    inv = {v: k for k, v in DT.items()}
    out = {}
    with open(os.path.join(OUT, name), "rb") as f:
        assert f.read(4) == b"BDG1"
        (n,) = struct.unpack("<I", f.read(4))
        for _ in range(n):
            (kl,) = struct.unpack("<H", f.read(2))
            k = f.read(kl).decode()
            dt, nd = struct.unpack("<BB", f.read(2))
            dims = struct.unpack("<%dq" % nd, f.read(8 * nd))
            dtype = inv[dt]
            cnt = int(np.prod(dims)) if nd else 1
            out[k] = np.frombuffer(f.read(cnt * dtype.itemsize), dtype=dtype.newbyteorder("<")).reshape(dims)
    return out


AWQ_HUB = os.path.join(OUT, "awq_hub")
HUB_LINS = [("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"),
            ("o", "self_attn.o_proj"), ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"),
            ("down", "mlp.down_proj")]


def gen_awq_hub():
    """A published-style AutoAWQ GEMM checkpoint of the tiny AWQ model: the
    codes, zeros and scales torch's AWQ chose (awq.bdg) packed by AutoAWQ's
    own WQLinear_GEMM.from_linear, config.json with its quantization_config,
    the other tensors as in awq_tiny/. Reference logits: transformers' fp32
    LlamaForCausalLM with the linears dequantized in fp32 from what AutoAWQ's
    unpack_awq / reverse_awq_order read back out of the checkpoint."""
    import importlib.util
    import json
    import types
    from safetensors.torch import load_file, save_file
    from transformers import LlamaConfig, LlamaForCausalLM
    if "awq" not in sys.modules:
        spec = importlib.util.find_spec("awq")
        pkg = types.ModuleType("awq")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["awq"] = pkg
    from awq.modules.linear.gemm import WQLinear_GEMM
    from awq.utils.packing_utils import reverse_awq_order, unpack_awq
    g = 128
    gold = load_bdg("awq.bdg")
    base = load_file(os.path.join(AWQ_MODEL, "model.safetensors"))
    cfgd = json.load(open(os.path.join(AWQ_MODEL, "config.json")))
    nl = cfgd["num_hidden_layers"]
    tensors = {}
    deq = {}
    for k, v in base.items():
        if not any(k.endswith(f"{mod}.weight") for _, mod in HUB_LINS):
            tensors[k] = v.contiguous()
    for l in range(nl):
        for short, mod in HUB_LINS:
            q = torch.from_numpy(gold[f"l{l}_{short}_q"].astype(np.int64))
            sc = torch.from_numpy(gold[f"l{l}_{short}_scale"].copy()).half()
            z = torch.from_numpy(gold[f"l{l}_{short}_zero"].astype(np.int64))
            out_f, in_f = q.shape
            w = (q - z.repeat_interleave(g, dim=1)).float() * sc.float().repeat_interleave(g, dim=1)
            lin = torch.nn.Linear(in_f, out_f, bias=False).half()
            lin.weight.data = w.half()
            ql = WQLinear_GEMM.from_linear(lin, 4, g, scales=sc.float().t().contiguous(),
                                           zeros=z.float().t().contiguous())
            name = f"model.layers.{l}.{mod}"
            tensors[name + ".qweight"] = ql.qweight.contiguous()
            tensors[name + ".qzeros"] = ql.qzeros.contiguous()
            tensors[name + ".scales"] = ql.scales.half().contiguous()
            iw, iz = unpack_awq(ql.qweight, ql.qzeros, 4)
            iw, iz = reverse_awq_order(iw, iz, 4)
            iw, iz = (iw & 15).long(), (iz & 15).long()          # [in, out], [in/g, out]
            assert torch.equal(iw.t(), q) and torch.equal(iz.t(), z), name  # the packer kept the codes
            deq[name] = ((iw - iz.repeat_interleave(g, dim=0)).float() *
                         ql.scales.float().repeat_interleave(g, dim=0)).t().contiguous()
    os.makedirs(AWQ_HUB, exist_ok=True)
    save_file(tensors, os.path.join(AWQ_HUB, "model.safetensors"), metadata={"format": "pt"})
    cfgd["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": g, "zero_point": True,
                                   "version": "gemm", "modules_to_not_convert": None}
    with open(os.path.join(AWQ_HUB, "config.json"), "w") as f:
        json.dump(cfgd, f, indent=2)
    cfg = LlamaConfig.from_pretrained(AWQ_MODEL)
    model = LlamaForCausalLM(cfg).float().eval()
    sd = {k: v.float() for k, v in tensors.items() if not k.endswith((".qweight", ".qzeros", ".scales"))}
    for name, w in deq.items():
        sd[name + ".weight"] = w
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in k for k in missing), (missing, unexpected)
    ids = torch.from_numpy(calib_ids(cfg.vocab_size, 1, 24, 11))
    with torch.no_grad():
        logits = model(ids).logits[0]
    save("awq_hub.bdg", {"ids": t2n(ids[0]).astype(np.int32), "logits": t2n(logits).astype(np.float32)})
    for f in os.listdir(AWQ_HUB):
        print(os.path.join(AWQ_HUB, f), os.path.getsize(os.path.join(AWQ_HUB, f)), "bytes")


def gen_awq():
    make_awq_model()
    save("awq.bdg", awq_ref())
    gen_awq_gemm()


def main():
    torch.manual_seed(0)
    which = sys.argv[1:] or ["bnb4", "bnb4dq", "int8", "kv", "wanda", "awq", "awqhub"]
    table = {"bnb4": gen_bnb4, "bnb4dq": gen_bnb4_dq, "int8": gen_int8, "kv": gen_kv, "wanda": gen_wanda, "awq": gen_awq,
             "awqhub": gen_awq_hub}
    for w in which:
        if w in table:
            table[w]()


if __name__ == "__main__":
    main()
