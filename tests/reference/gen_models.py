#!/usr/bin/env python3
"""Tiny random LLaMA-family models and their transformers logits: the engine's correctness references.

    python3 tests/reference/gen_models.py            # rewrites tests/reference/models/ (deterministic)
    python3 tests/reference/gen_models.py --check    # also cross-checks the GGUFs with llama-cpp-python

For every model NAME this writes, under tests/reference/models/:
  NAME/                      HF folder as transformers' save_pretrained writes it (see README.md for the
                             config.json spelling of each model)
  NAME/expected_logits.txt   transformers' fp32 logits at every position of a fixed id sequence
  NAME.gguf                  the same stored values in llama.cpp's GGUF convention (q/k rows permuted to
                             the interleaved RoPE layout, llama.* keys, a minimal SentencePiece-style vocab)
The file formats are documented in tests/reference/README.md.

Independence: the logits come from transformers' LlamaForCausalLM / MistralForCausalLM, loaded back from
the files written here. The GGUF is verified by reading it back with gguf.GGUFReader and running a
separate numpy forward pass in the GGUF layout (interleaved RoPE, rope_freqs factors) that must
reproduce transformers' logits; llama.cpp itself is an optional third check (--check).
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file

import gguf
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")
SEED = 20250406

# Sizes are kept small so that the whole folder stays around 3 MB (the goldens are committed).
# config_style "classic" rewrites config.json the way checkpoints on the Hub spell it (top-level rope_theta,
# rope_scaling, torch_dtype: what transformers 4.x wrote, e.g. Llama-3.1's own config); "v5" keeps
# transformers 5.x's spelling (rope_parameters holding rope_theta, dtype). Both must be read.
MODELS = [
    dict(name="llama_gqa_f32", arch="llama", dtype=torch.float32, vocab=260, hidden=64, inter=48,
         heads=4, kv=2, head_dim=None, tie=False, rope_theta=10000.0, scaling=None, eps=1e-5,
         n_ids=16, shard=None, style="v5", maxpos=128),
    dict(name="llama_tied_f16", arch="llama", dtype=torch.float16, vocab=300, hidden=64, inter=96,
         heads=8, kv=2, head_dim=None, tie=True, rope_theta=10000.0, scaling=None, eps=1e-6,
         n_ids=20, shard=None, style="classic", maxpos=256),
    dict(name="llama3_rope_bf16", arch="llama", dtype=torch.bfloat16, vocab=261, hidden=64, inter=64,
         heads=2, kv=1, head_dim=32, tie=False, rope_theta=500000.0,
         scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                      original_max_position_embeddings=64),
         eps=1e-5, n_ids=80, shard=None, style="classic", maxpos=512),
    dict(name="mistral_sharded_f32", arch="mistral", dtype=torch.float32, vocab=262, hidden=64, inter=48,
         heads=4, kv=1, head_dim=24, tie=False, rope_theta=1000000.0, scaling=None, eps=1e-5,
         n_ids=18, shard="100KB", style="classic", maxpos=1024),
    dict(name="llama_mha_f16", arch="llama", dtype=torch.float16, vocab=280, hidden=64, inter=64,
         heads=4, kv=4, head_dim=None, tie=False, rope_theta=10000.0, scaling=None, eps=1e-6,
         n_ids=14, shard=None, style="classic", maxpos=128),
]

BOS, EOS, UNK = 1, 2, 0


def make_config(m):
    common = dict(vocab_size=m["vocab"], hidden_size=m["hidden"], intermediate_size=m["inter"],
                  num_hidden_layers=2, num_attention_heads=m["heads"], num_key_value_heads=m["kv"],
                  rms_norm_eps=m["eps"], max_position_embeddings=m["maxpos"], tie_word_embeddings=m["tie"],
                  bos_token_id=BOS, eos_token_id=EOS, hidden_act="silu")
    if m["head_dim"] is not None:
        common["head_dim"] = m["head_dim"]
    rope = {"rope_type": "default", "rope_theta": m["rope_theta"]}
    if m["scaling"] is not None:
        rope = dict(m["scaling"], rope_theta=m["rope_theta"])
    common["rope_parameters"] = rope
    if m["arch"] == "mistral":
        return MistralConfig(sliding_window=None, **common)
    return LlamaConfig(**common)


def init_weights(model, gen):
    """Weights large enough that attention is sharp and logits are O(1): with the default 0.02 init the
    attention is nearly uniform and RoPE/GQA mistakes would hardly move the logits."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith("embed_tokens.weight"):
                # 1/sqrt(dim) also keeps the tied head's logits O(1).
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
            else:
                gain = 2.0 if (".q_proj." in name or ".k_proj." in name) else 1.0
                p.copy_(torch.randn(p.shape, generator=gen) * (gain / math.sqrt(p.shape[1])))


def classic_config(path):
    """Rewrites config.json with the spelling of 4.x-era checkpoints (see MODELS)."""
    fn = os.path.join(path, "config.json")
    with open(fn) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    if rope.get("rope_type", "default") == "default":
        cfg["rope_scaling"] = None
    else:
        cfg["rope_scaling"] = rope
    cfg["torch_dtype"] = cfg.pop("dtype")
    # Llama-2/3.1-era configs have no head_dim at all; readers must default it to hidden/heads.
    if cfg.get("head_dim") == cfg["hidden_size"] // cfg["num_attention_heads"]:
        del cfg["head_dim"]
    with open(fn, "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def load_hf_tensors(path):
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        out.update(load_file(os.path.join(path, fn)))
    return out


def permute_to_interleaved(w, n_head):
    """HF stores each head's rows as [first halves of the RoPE pairs | second halves] (rotate-half);
    llama.cpp's kernels rotate adjacent rows (2i, 2i+1). Same reshape as convert_hf_to_gguf.py's
    LlamaModel.permute (called with n_kv_head for k)."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(m, head_dim):
    """Per-frequency divisors (llama.cpp's rope_freqs.weight): theta_i = pos * base^(-2i/d) / f_i."""
    s = m["scaling"]
    base = m["rope_theta"]
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    old = s["original_max_position_embeddings"]
    lo_wl = old / s["low_freq_factor"]
    hi_wl = old / s["high_freq_factor"]
    out = []
    for fr in freqs:
        wl = 2 * math.pi / fr
        if wl < hi_wl:
            out.append(1.0)
        elif wl > lo_wl:
            out.append(s["factor"])
        else:
            smooth = (old / wl - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
            out.append(1.0 / ((1 - smooth) / s["factor"] + smooth))
    return np.array(out, dtype=np.float32)


def vocab_pieces(n):
    """A minimal SentencePiece-style ("llama") vocabulary: <unk> <s> </s>, 256 byte tokens, then
    letters and word-start pieces. Only meant to make the GGUF loadable by tools."""
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(tokens)
    letters = "abcdefghijklmnopqrstuvwxyz"
    extra = ["\u2581"] + ["\u2581" + c for c in letters] + list(letters)
    extra += ["\u2581" + a + b for a in letters for b in letters]
    need = n - len(tokens)
    if need < 0:
        raise ValueError("vocab must hold at least 259 tokens")
    for i, piece in enumerate(extra[:need]):
        tokens.append(piece)
        types.append(1)
        scores.append(-float(i + 1))
    return tokens, scores, types


GGUF_FILE_TYPE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 32}


def to_gguf_array(t):
    """(numpy array, raw_dtype) keeping the stored dtype; BF16 goes as raw uint16 bit patterns."""
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().view(np.uint16), gguf.GGMLQuantizationType.BF16
    if t.dtype == torch.float16:
        return t.contiguous().numpy(), None
    return t.contiguous().to(torch.float32).numpy(), None


def write_gguf(m, cfg, tensors, fn):
    heads, kv = m["heads"], m["kv"]
    head_dim = cfg.head_dim
    w = gguf.GGUFWriter(fn, "llama")
    w.add_name(m["name"])
    w.add_context_length(m["maxpos"])
    w.add_embedding_length(m["hidden"])
    w.add_block_count(2)
    w.add_feed_forward_length(m["inter"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(m["rope_theta"])
    w.add_layer_norm_rms_eps(m["eps"])
    w.add_file_type(GGUF_FILE_TYPE[m["dtype"]])
    w.add_vocab_size(m["vocab"])
    w.add_rope_dimension_count(head_dim)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    if m["scaling"] is not None and m.get("scaling_meta"):
        s = m["scaling"]
        # Not llama.cpp's convention (its loader aborts on type "llama3"): only in the *.meta.gguf twin.
        w.add_string("llama.rope.scaling.type", "llama3")
        w.add_float32("llama.rope.scaling.factor", s["factor"])
        w.add_float32("llama.rope.scaling.low_freq_factor", s["low_freq_factor"])
        w.add_float32("llama.rope.scaling.high_freq_factor", s["high_freq_factor"])
        w.add_uint32("llama.rope.scaling.original_context_length", s["original_max_position_embeddings"])
    tokens, scores, types = vocab_pieces(m["vocab"])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_unk_token_id(UNK)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def put(name, t):
        # llama.cpp's converter writes 1-D tensors as F32 whatever the file type (its CPU backend cannot
        # multiply by an F16 norm vector); widening F16/BF16 to F32 is exact.
        if t.dim() == 1 or m.get("widen"):
            t = t.to(torch.float32)
        arr, raw = to_gguf_array(t)
        w.add_tensor(name, arr, raw_dtype=raw)

    if m["scaling"] is not None:
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(m, head_dim))
    put("token_embd.weight", tensors["model.embed_tokens.weight"])
    for i in range(2):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_norm.weight", tensors[p + "input_layernorm.weight"])
        put(f"blk.{i}.attn_q.weight", permute_to_interleaved(tensors[p + "self_attn.q_proj.weight"], heads))
        put(f"blk.{i}.attn_k.weight", permute_to_interleaved(tensors[p + "self_attn.k_proj.weight"], kv))
        put(f"blk.{i}.attn_v.weight", tensors[p + "self_attn.v_proj.weight"])
        put(f"blk.{i}.attn_output.weight", tensors[p + "self_attn.o_proj.weight"])
        put(f"blk.{i}.ffn_norm.weight", tensors[p + "post_attention_layernorm.weight"])
        put(f"blk.{i}.ffn_gate.weight", tensors[p + "mlp.gate_proj.weight"])
        put(f"blk.{i}.ffn_down.weight", tensors[p + "mlp.down_proj.weight"])
        put(f"blk.{i}.ffn_up.weight", tensors[p + "mlp.up_proj.weight"])
    put("output_norm.weight", tensors["model.norm.weight"])
    if not m["tie"]:
        put("output.weight", tensors["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_tensor_f64(t):
    """A GGUFReader tensor as float64 in numpy (rows, cols) order."""
    shape = tuple(reversed([int(x) for x in t.shape]))
    if t.tensor_type == gguf.GGMLQuantizationType.BF16:
        bits = np.asarray(t.data).view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64).reshape(shape)
    return np.asarray(t.data).astype(np.float64).reshape(shape)


def gguf_forward(fn, ids):
    """Independent fp64 forward pass straight from the GGUF (interleaved RoPE, rope_freqs divisors)."""
    r = gguf.GGUFReader(fn)
    kvs = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.")}
    T = {t.name: gguf_tensor_f64(t) for t in r.tensors}
    nh, nkv = kvs["llama.attention.head_count"], kvs["llama.attention.head_count_kv"]
    hd, eps = kvs["llama.attention.key_length"], kvs["llama.attention.layer_norm_rms_epsilon"]
    base = kvs["llama.rope.freq_base"]
    n = len(ids)
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    if "rope_freqs.weight" in T:
        inv = inv / T["rope_freqs.weight"]
    ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x):  # x: (n, heads, hd), pairs are adjacent
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos[:, None, :] - x1 * sin[:, None, :]
        out[..., 1::2] = x0 * sin[:, None, :] + x1 * cos[:, None, :]
        return out

    def rms(x, wgt):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * wgt

    x = T["token_embd.weight"][ids]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(kvs["llama.block_count"]):
        b = f"blk.{i}."
        h = rms(x, T[b + "attn_norm.weight"])
        q = rope((h @ T[b + "attn_q.weight"].T).reshape(n, nh, hd))
        k = rope((h @ T[b + "attn_k.weight"].T).reshape(n, nkv, hd))
        v = (h @ T[b + "attn_v.weight"].T).reshape(n, nkv, hd)
        att = np.empty((n, nh, hd))
        for hh in range(nh):
            g = hh // (nh // nkv)
            s = q[:, hh, :] @ k[:, g, :].T / math.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            att[:, hh, :] = (s / s.sum(axis=1, keepdims=True)) @ v[:, g, :]
        x = x + att.reshape(n, nh * hd) @ T[b + "attn_output.weight"].T
        h = rms(x, T[b + "ffn_norm.weight"])
        gt = h @ T[b + "ffn_gate.weight"].T
        x = x + ((gt / (1 + np.exp(-gt))) * (h @ T[b + "ffn_up.weight"].T)) @ T[b + "ffn_down.weight"].T
    x = rms(x, T["output_norm.weight"])
    head = T.get("output.weight", T["token_embd.weight"])
    return x @ head.T


def check_gguf_shapes(fn, m, cfg, tensors):
    r = gguf.GGUFReader(fn)
    got = {t.name: t for t in r.tensors}
    hd = cfg.head_dim
    want = {"token_embd.weight": [m["hidden"], m["vocab"]], "output_norm.weight": [m["hidden"]]}
    if not m["tie"]:
        want["output.weight"] = [m["hidden"], m["vocab"]]
    if m["scaling"] is not None:
        want["rope_freqs.weight"] = [hd // 2]
    for i in range(2):
        b = f"blk.{i}."
        want.update({b + "attn_norm.weight": [m["hidden"]], b + "ffn_norm.weight": [m["hidden"]],
                     b + "attn_q.weight": [m["hidden"], m["heads"] * hd],
                     b + "attn_k.weight": [m["hidden"], m["kv"] * hd],
                     b + "attn_v.weight": [m["hidden"], m["kv"] * hd],
                     b + "attn_output.weight": [m["heads"] * hd, m["hidden"]],
                     b + "ffn_gate.weight": [m["hidden"], m["inter"]],
                     b + "ffn_up.weight": [m["hidden"], m["inter"]],
                     b + "ffn_down.weight": [m["inter"], m["hidden"]]})
    if set(got) != set(want):
        raise SystemExit(f"{fn}: tensor names {sorted(set(got) ^ set(want))} differ")
    for name, shape in want.items():
        if [int(x) for x in got[name].shape] != shape:
            raise SystemExit(f"{fn}: {name} shape {got[name].shape.tolist()}, expected {shape}")
    # The permutation must be a pure reordering of the stored values.
    q = gguf_tensor_f64(got["blk.0.attn_q.weight"])
    hfq = tensors["model.layers.0.self_attn.q_proj.weight"].to(torch.float64).numpy()
    if not np.array_equal(np.sort(q, axis=None), np.sort(hfq, axis=None)):
        raise SystemExit(f"{fn}: attn_q values differ from q_proj")


def hf_logits(path, ids, dtype):
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor([ids])).logits[0]
    return model, out


def write_logits(fn, ids, logits):
    with open(fn, "w") as f:
        f.write("ids %d %s\n" % (len(ids), " ".join(str(i) for i in ids)))
        f.write("vocab %d\n" % logits.shape[1])
        for row in logits:
            f.write(" ".join("%.9g" % float(v) for v in row) + "\n")


def gen_one(k, m):
    name = m["name"]
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    cfg = make_config(m)
    gen = torch.Generator().manual_seed(SEED + k)
    cls = MistralForCausalLM if m["arch"] == "mistral" else LlamaForCausalLM
    model = cls(cfg)
    init_weights(model, gen)
    model = model.to(m["dtype"])
    kw = {"max_shard_size": m["shard"]} if m["shard"] else {}
    model.save_pretrained(path, **kw)
    if m["style"] == "classic":
        classic_config(path)

    rng = np.random.default_rng(SEED + 100 + k)
    ids = [BOS] + [int(x) for x in rng.integers(3, m["vocab"], m["n_ids"] - 1)]

    # Reference: what transformers computes in fp32 from the stored (rounded) values, read back from disk.
    loaded, logits = hf_logits(path, ids, torch.float32)
    want_rope = dict(cfg.rope_parameters)
    if dict(loaded.config.rope_parameters) != want_rope:
        raise SystemExit(f"{name}: config.json reloads as {loaded.config.rope_parameters}, not {want_rope}")
    write_logits(os.path.join(path, "expected_logits.txt"), ids, logits.numpy())

    _, logits64 = hf_logits(path, ids, torch.float64)
    err32 = (logits.double() - logits64).abs().max().item()

    tensors = load_hf_tensors(path)
    gguf_fn = os.path.join(OUT, name + ".gguf")
    write_gguf(m, cfg, tensors, gguf_fn)
    check_gguf_shapes(gguf_fn, m, cfg, tensors)
    gg = gguf_forward(gguf_fn, ids)
    err_gguf = float(np.abs(gg - logits64.numpy()).max())
    # transformers computes RoPE angles in fp32 even for an fp64 model, so the two differ by ~1e-6;
    # a layout mistake (unpermuted q/k, wrong GQA grouping) moves the logits by O(1).
    if err_gguf > 5e-5:
        raise SystemExit(f"{name}: numpy forward of the GGUF differs from transformers by {err_gguf}")
    line = (f"{name}: ids {len(ids)} vocab {m['vocab']} |logits|max {logits.abs().max().item():.3g} "
            f"fp32-vs-fp64 {err32:.2e} gguf-numpy-vs-hf64 {err_gguf:.2e}")

    if m["scaling"] is not None:
        meta = dict(m, scaling_meta=True)
        write_gguf(meta, cfg, tensors, os.path.join(OUT, name + ".meta.gguf"))
        # The scaling must move the logits by far more than the test tolerance, or the test proves nothing.
        plain = copy.deepcopy(loaded.config)
        plain.rope_parameters = {"rope_type": "default", "rope_theta": m["rope_theta"]}
        unscaled = cls(plain).to(torch.float32).eval()
        unscaled.load_state_dict(loaded.state_dict())
        with torch.no_grad():
            d = (unscaled(torch.tensor([ids])).logits[0] - logits).abs().max().item()
        if d < 0.05:
            raise SystemExit(f"{name}: llama3 scaling changes logits by only {d}")
        line += f" scaling-effect {d:.3g}"
    print(line)
    return ids, logits


def read_golden(name):
    with open(os.path.join(OUT, name, "expected_logits.txt")) as f:
        ids = [int(x) for x in f.readline().split()[2:]]
        f.readline()
        return ids, np.array([[float(v) for v in line.split()] for line in f])


def transformers_gguf_check():
    """Optional: transformers' own GGUF loader (it undoes the q/k permutation itself) vs the golden.
    It ignores rope_freqs.weight, so the llama3 model is expected to differ by the scaling effect."""
    for m in MODELS:
        ids, want = read_golden(m["name"])
        model = transformers.AutoModelForCausalLM.from_pretrained(OUT, gguf_file=m["name"] + ".gguf",
                                                                  dtype=torch.float32).eval()
        with torch.no_grad():
            got = model(torch.tensor([ids])).logits[0].double().numpy()
        print(f"transformers(gguf_file) {m['name']}: max |logit diff| {np.abs(got - want).max():.2e}")


def llama_cpp_check(tmpdir):
    """Optional: llama.cpp (llama-cpp-python) on each GGUF, all-position logits vs the golden.
    llama.cpp rounds activations to F16/BF16 before F16/BF16 matrix products, so those files differ by
    ~1e-2; the same values widened to an all-F32 GGUF isolate the layout (expect ~1e-5). F32 KV cache and
    no flash attention, for the same reason."""
    os.environ.setdefault("GGML_NO_BACKTRACE", "1")
    try:
        import llama_cpp
    except ImportError:
        print("llama_cpp not importable: skipping the llama.cpp cross-check")
        return
    for m in MODELS:
        ids, want = read_golden(m["name"])
        files = [("", os.path.join(OUT, m["name"] + ".gguf"))]
        if m["dtype"] != torch.float32:
            wide = os.path.join(tmpdir, m["name"] + ".f32.gguf")
            tensors = load_hf_tensors(os.path.join(OUT, m["name"]))
            write_gguf(dict(m, widen=True), make_config(m), tensors, wide)
            files.append((" (widened to F32)", wide))
        for label, fn in files:
            llm = llama_cpp.Llama(model_path=fn, n_ctx=max(128, len(ids)), n_batch=max(128, len(ids)),
                                  logits_all=True, verbose=False, n_threads=1,
                                  type_k=0, type_v=0, flash_attn=False)
            llm.eval(ids)
            got = np.array(llm.scores[:len(ids)], dtype=np.float64)
            print(f"llama.cpp {m['name']}{label}: max |logit diff| {np.abs(got - want).max():.2e}")
            del llm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="cross-check the GGUFs with transformers' GGUF loader and llama-cpp-python")
    args = ap.parse_args()
    torch.set_num_threads(1)  # same bytes on every run
    os.makedirs(OUT, exist_ok=True)
    print(f"torch {torch.__version__} transformers {transformers.__version__} gguf {gguf.__version__}"
          if hasattr(gguf, "__version__") else f"torch {torch.__version__} transformers {transformers.__version__}")
    for k, m in enumerate(MODELS):
        gen_one(k, m)
    if args.check:
        transformers_gguf_check()
        with tempfile.TemporaryDirectory() as tmp:
            llama_cpp_check(tmp)


if __name__ == "__main__":
    sys.exit(main())
