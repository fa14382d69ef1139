#!/usr/bin/env python3
"""Renders chat-template goldens with Python jinja2 for tests/tok/test_chat.c.

The environment is transformers' own: _compile_jinja_template from
transformers.utils.chat_template_utils (ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols, the tojson override that calls
json.dumps(ensure_ascii=False, ...), raise_exception, strftime_now, namespace,
dict). If transformers is missing, an equivalent environment is built here.
render() gets the keyword arguments apply_chat_template passes: messages,
tools=None, documents=None, add_generation_prompt, bos_token, eos_token, plus
per-case extras. strftime_now is pinned to a fixed UTC clock (case "now").

Writes tests/reference/chat/real.json (the real templates in ../shared/models
and the SmolLM2 ChatML fixture), tests/reference/chat/features.json (small
inline templates probing the interpreter's corners) and
tests/reference/chat/random.json (randomly composed templates, fixed seed). Run from the repo root:
    python3 tests/reference/gen_chat_goldens.py
"""
import ast
import copy
import csv
import datetime
import json
import os
import sys

import jinja2

SHARED = "../shared/models"
OUT = "tests/reference/chat"
FIXED_NOW = 1721995200  # 2024-07-26 12:00:00 UTC


def make_env():
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        def compile_(src):
            return _compile_jinja_template(src)
        source = "transformers._compile_jinja_template"
    except Exception:  # pragma: no cover - fallback mirrors transformers 4.4x/5.x
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                              sort_keys=sort_keys)
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda f: datetime.datetime.now().strftime(f)

        def compile_(src):
            return env.from_string(src)
        source = "local ImmutableSandboxedEnvironment replica"
    return compile_, source


COMPILE, ENV_SOURCE = make_env()


def render(src, messages, agp=False, bos="", eos="", date_string=None, extra=None, now=FIXED_NOW):
    """Returns {"expected": str} or {"error": str, "error_kind": "raise"|"other"}."""
    try:
        tmpl = COMPILE(src)
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": str(e), "error_kind": "syntax"}
    except Exception as e:  # e.g. Python's SyntaxError for {% break %} outside a loop
        return {"error": "%s: %s" % (type(e).__name__, e), "error_kind": "syntax"}
    fixed = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    tmpl.environment.globals["strftime_now"] = lambda f: fixed.strftime(f)
    kw = dict(messages=messages, tools=None, documents=None, add_generation_prompt=agp,
              bos_token=bos, eos_token=eos)
    if date_string is not None:
        kw["date_string"] = date_string
    # a deep copy: some filters mutate their input (indent does `s += "\n"`, which extends a list)
    kw.update(copy.deepcopy(extra or {}))
    try:
        return {"expected": tmpl.render(**kw)}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises the base TemplateError; its subclasses are
        # jinja2's own errors (undefined, security, runtime)
        kind = "raise" if type(e) is jinja2.exceptions.TemplateError else "other"
        return {"error": str(e), "error_kind": kind}
    except Exception as e:  # TypeError etc. from Python operations
        return {"error": "%s: %s" % (type(e).__name__, e), "error_kind": "other"}


def msg(role, content, **kw):
    d = {"role": role, "content": content}
    d.update(kw)
    return d


SYS = "You are a helpful assistant."
Q = "Describe a typical nurse."

BASE_INSTR = ("I will ask you factual questions about countries. Specifically, I will ask you for the $metric. "
              "You will answer as concisely as possible - only answer with the number! First I will give an "
              "example with the answer. Then I will ask you my question, and you will provide the answer in "
              "the same way.")


def worldbench_convs():
    """The paper's WorldBench few-shot turns (get_worldbench_prompt.py), for a
    few rows: user(instruction) assistant(ack) user(example q) assistant(example a) user(q)."""
    path = "../shared/datasets/worldbench/paper_worldbench.csv"
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    picked, seen = [], set()
    for r in rows:
        if r["metric"] in seen:
            continue
        seen.add(r["metric"])
        picked.append(r)
        if len(picked) == 3:
            break
    out = []
    for k, r in enumerate(picked):
        ex = ast.literal_eval(r["example"])
        conv = [msg("user", BASE_INSTR.replace("$metric", r["metric"])),
                msg("assistant", "Sounds good, will do."),
                msg("user", ex[0]),
                msg("assistant", ex[1]),   # float for most metrics, as the paper passes it
                msg("user", r["prompt"])]
        out.append(("worldbench_%d_%s" % (k, r["type"]), conv))
        if not isinstance(ex[1], str):
            conv2 = [dict(m) for m in conv]
            conv2[3]["content"] = str(ex[1])
            out.append(("worldbench_%d_%s_str" % (k, r["type"]), conv2))
    return out


def common_convs():
    tricky = ("Héllo «ü» 日本語 🙂 — naïve café\nHe said \"hi\" and 'bye'; braces {{ x }} {% if %} {# c #}\n"
              "\ttab  and\r\nCRLF \\ backslash  ")
    return [
        ("system_user", [msg("system", SYS), msg("user", Q)]),
        ("user_only", [msg("user", Q)]),
        ("multi_turn", [msg("user", "Hi!"), msg("assistant", "Hello, how can I help?"), msg("user", Q)]),
        ("system_multi_turn", [msg("system", SYS), msg("user", "Hi!"), msg("assistant", " Hello. "),
                               msg("user", Q), msg("assistant", "Nurses care for patients."), msg("user", "Thanks")]),
        ("tricky_content", [msg("system", "  Be terse.\n"), msg("user", tricky)]),
        ("empty_content", [msg("user", "")]),
        ("system_only", [msg("system", SYS)]),
        ("bad_alternation", [msg("user", "a"), msg("user", "b")]),
        ("assistant_first", [msg("assistant", "a"), msg("user", "b")]),
        ("empty_messages", []),
    ] + worldbench_convs()


def real_cases():
    cases = []
    sources = [
        ("llama2", SHARED + "/llama2-7b-chat/chat_template.jinja", "<s>", "</s>"),
        ("llama3.1", SHARED + "/llama-3.1-8b-instruct/tokenizer_config.json", "<|begin_of_text|>", "<|eot_id|>"),
        ("llama3.1_jinja", SHARED + "/llama-3.1-8b-instruct/chat_template.jinja", "<|begin_of_text|>", "<|eot_id|>"),
        ("mistral", SHARED + "/mistral-7b-instruct-v0.3/tokenizer_config.json", "<s>", "</s>"),
        ("mistral_jinja", SHARED + "/mistral-7b-instruct-v0.3/chat_template.jinja", "<s>", "</s>"),
        ("smollm2", OUT + "/smollm2.jinja", "<|im_start|>", "<|im_end|>"),
    ]
    for name, path, bos, eos in sources:
        if path.endswith(".json"):
            src = json.load(open(path, encoding="utf-8"))["chat_template"]
        else:
            src = open(path, encoding="utf-8").read()
        for conv_name, conv in common_convs():
            for agp in (True, False):
                if conv_name.startswith(("bad_", "assistant_first", "empty_messages", "worldbench")) and not agp:
                    continue
                c = {"name": "%s/%s/agp=%d" % (name, conv_name, agp), "template_file": path,
                     "bos_token": bos, "eos_token": eos, "add_generation_prompt": agp, "messages": conv}
                c.update(render(src, conv, agp, bos, eos))
                cases.append(c)
    # LLaMA-3.1's date and tool logic
    l31 = json.load(open(SHARED + "/llama-3.1-8b-instruct/tokenizer_config.json", encoding="utf-8"))["chat_template"]
    l31_path = SHARED + "/llama-3.1-8b-instruct/tokenizer_config.json"
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Get the weather — «now»",
            "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"},
                                                            "days": {"type": "integer", "minimum": 1.5}},
                           "required": ["city"]}}}
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}
    l31_extra = [
        ("date_string", [msg("system", SYS), msg("user", Q)], "01 Jan 2025", None),
        ("tools_in_user", [msg("system", SYS), msg("user", "Weather in Paris?")], None, {"tools": [tool]}),
        ("tools_in_system", [msg("user", "Weather in Paris?")], None,
         {"tools": [tool], "tools_in_user_message": False}),
        ("custom_tools", [msg("user", "Weather?")], None, {"custom_tools": [tool]}),
        ("tools_no_user", [msg("system", SYS)], None, {"tools": [tool]}),
        ("builtin_tools", [msg("user", "Search"), msg("assistant", "", tool_calls=[
            {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "x"}}}]),
            msg("ipython", {"result": ["a", 1, None, True]})], None,
         {"builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}),
        ("tool_call", [msg("user", "Weather?"), msg("assistant", None, tool_calls=[call]),
                       msg("tool", "sunny, 25°C"), msg("tool", ["list", "content"])], None, None),
        ("two_tool_calls", [msg("user", "Weather?"), msg("assistant", None, tool_calls=[call, call])], None, None),
    ]
    for nm, conv, ds, extra in l31_extra:
        c = {"name": "llama3.1/%s" % nm, "template_file": l31_path, "bos_token": "<|begin_of_text|>",
             "eos_token": "<|eot_id|>", "add_generation_prompt": True, "messages": conv}
        if ds is not None:
            c["date_string"] = ds
        if extra is not None:
            c["extra"] = extra
        c.update(render(l31, conv, True, c["bos_token"], c["eos_token"], ds, extra))
        cases.append(c)
    # Mistral v0.3 tool logic
    mi = json.load(open(SHARED + "/mistral-7b-instruct-v0.3/tokenizer_config.json", encoding="utf-8"))["chat_template"]
    mi_path = SHARED + "/mistral-7b-instruct-v0.3/tokenizer_config.json"
    tc = {"id": "abcdefghi", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    mi_extra = [
        ("tools", [msg("system", SYS), msg("user", "a"), msg("assistant", "b"), msg("user", "Weather?")],
         {"tools": [tool]}),
        ("tool_calls", [msg("user", "Weather?"), msg("assistant", None, tool_calls=[tc, tc]),
                        msg("tool", "sunny", tool_call_id="abcdefghi"), msg("assistant", "It is sunny."),
                        msg("tool_results", {"content": "x"}, tool_call_id="abcdefghi")], None),
        ("bad_tool_id", [msg("user", "Weather?"), msg("assistant", None, tool_calls=[dict(tc, id="short")])], None),
        ("bad_role", [msg("user", "a"), msg("function", "b")], None),
        ("float_content", [msg("user", "a"), msg("assistant", 4.04207281475341), msg("user", "b")], None),
    ]
    for nm, conv, extra in mi_extra:
        c = {"name": "mistral/%s" % nm, "template_file": mi_path, "bos_token": "<s>", "eos_token": "</s>",
             "add_generation_prompt": True, "messages": conv}
        if extra is not None:
            c["extra"] = extra
        c.update(render(mi, conv, True, "<s>", "</s>", None, extra))
        cases.append(c)
    return cases


# Small templates probing one construct each: (name, template, extra variables).
FEATURES = [
    # whitespace control, trim_blocks / lstrip_blocks
    ("ws_lstrip", "  {% if true %}\n  x\n  {% endif %}\n  y  \n", None),
    ("ws_lstrip_tab", "a\n\t {% if true %}b{% endif %}\n\t{# c #}\nd", None),
    ("ws_no_lstrip_after_text", "a {% if true %}b{% endif %} c", None),
    ("ws_plus", "a\n  {%+ if true %}b{% endif +%}\nc", None),
    ("ws_minus", "a  \n {%- if true -%}  \n b \n {%- endif -%} \n c", None),
    ("ws_var_minus", "a \n {{- 'x' -}} \n b {{ 'y' }} \n c", None),
    ("ws_var_no_lstrip", "  {{ 'x' }}\n  {{ 'y' }}\n", None),
    ("ws_comment", "a{# one #}\nb {#- two -#} c\n  {# three #}\nd", None),
    ("ws_trailing_nl", "x\n\n", None),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n", None),
    ("ws_trim_blocks_one_nl", "{% if true %}\n\nx{% endif %}\n\ny", None),
    ("ws_after_var", "{{ 'a' }}\n{% if true %}b{% endif %}", None),
    ("ws_minus_unicode", "a\u00a0\u2003{%- if true %}b{% endif %}", None),
    # literals and printing
    ("print_values", "{{ 1 }} {{ -2 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-5 }} {{ 123456789.125 }} "
     "{{ none }} {{ true }} {{ False }} {{ 'a' 'b' }} {{ 1_000 }} {{ 0x1F }}", None),
    ("print_containers", "{{ [1, 'a', none, 2.5, [true], {'k': \"it's\"}] }} {{ (1,) }} {{ (1, 'b') }} "
     "{{ {} }} {{ [] }} {{ ('x', \"y'z\", 'q\"') }} {{ 'a', 1 }}", None),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\101\\q' }}|{{ \"\\\"\" }}", None),
    ("float_repr", "{{ 1/3 }} {{ 2/1 }} {{ 1e300*10 }} {{ -0.0 }} {{ 100.0 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }}", None),
    # operators
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ -2 ** 2 }} "
     "{{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ true + 1 }} "
     "{{ 'ab' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 3 * 'x' }}", None),
    ("concat", "{{ 'a' ~ 1 ~ none ~ undefined_var ~ [1] ~ 2.0 }} {{ (1 + 2) ~ 3 }} {{ 'x' ~ 2 * 3 }}", None),
    ("compare", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} "
     "{{ 'b' >= 'a' }} {{ none == none }} {{ 1 != '1' }} {{ true == 1 }} {{ x == y }} {{ x is sameas y }}", None),
    ("in", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} "
     "{{ 'x' in undefined_var }} {{ '' in 'a' }} {{ (1, 2) in [(1, 2)] }}", None),
    ("logic", "{{ 0 or 'b' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ not 0 }} {{ not not 'x' }} "
     "{{ none or [] or 'last' }} {{ 1 if false }}|{{ 'y' if 1 else 'n' }} {{ 'a' if 0 else 'b' if 0 else 'c' }}", None),
    ("filter_precedence", "{{ '  a  ' | trim + 'b' }} {{ -1 | abs }} {{ 'x' ~ ' y ' | trim }} {{ [1, 2] | length * 2 }}"
     "{{ not 'a' is string }}", None),
    # tests
    ("tests", "{% set d = {'a': 1} %}{{ x is defined }}{{ nope is defined }}{{ nope is undefined }}"
     "{{ none is none }}{{ 'a' is string }}{{ d is mapping }}{{ d is iterable }}{{ 'a' is iterable }}"
     "{{ [] is sequence }}{{ d is sequence }}{{ 1 is number }}{{ true is number }}{{ true is boolean }}"
     "{{ 1 is integer }}{{ 1.0 is float }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}"
     "{{ 'a' is equalto 'a' }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ x is not none }}"
     "{{ none is mapping }}{{ 1 is iterable }}{{ nope is iterable }}{{ 1 is ne 2 }}{{ 2 is in [2] }}"
     "{{ x is true }}{{ x is false }}", {"x": 5, "y": 5.0}),
    # subscripts and attributes
    ("subscripts", "{{ m['role'] }} {{ m.role }} {{ m.content[1:] }} {{ l[-1] }} {{ l[1:] }} {{ l[:-1] }} "
     "{{ l[::-1] }} {{ l[::2] }} {{ 'héllo'[1] }} {{ 'héllo'[-2:] }} {{ 'héllo'[::-1] }} {{ l[10] }}|"
     "{{ m.nope }}|{{ m['nope'] }}|{{ l.0 }} {{ m.items()|list }} {{ m.keys()|list }} {{ m.get('x', 'dflt') }} "
     "{{ m.get('role') }} {{ l[5:1:-2] }} {{ l[-100:100] }}",
     {"m": {"role": "user", "content": "hello"}, "l": [1, 2, 3, 4, 5]}),
    # string methods
    ("str_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a '.lstrip() }}|{{ ' a  '.rstrip() }}|"
     "{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}|"
     "{{ ' a  b '.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}"
     "{{ ' a b c '.split(none, 1) }}|{{ 'ßtraße'.upper() }}|{{ 'ÉCOLE'.lower() }}|{{ \"they're bill's\".title() }}|"
     "{{ 'hELLO wORLD'.capitalize() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab'.replace('', '-') }}|"
     "{{ '-'.join(['a', 'b']) }}|{{ 'héllo'.find('l') }}{{ 'aaaa'.count('aa') }}|{{ '123'.isdigit() }}"
     "{{ 'a1'.isalpha() }}{{ ' '.isspace() }}{{ 'ab'.islower() }}{{ 'A1'.isupper() }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|"
     "{{ '\\u2003x\\u00a0'.strip() }}|", None),
    # filters
    ("filters_basic", "{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ [1, 2]|length }}{{ 'héllo'|length }}"
     "{{ {'a': 1}|count }}{{ nope|length }}|{{ nope|default('d') }}{{ none|default('d') }}{{ ''|default('e', true) }}"
     "{{ 0|d('z', boolean=true) }}|{{ 'hello world-foo(bar)'|title }}|{{ 'hELLO wORLD'|capitalize }}|"
     "{{ 'ß'|upper }}{{ 'ÀB'|lower }}|{{ 12|string ~ 'x' }}|{{ '42'|int + 1 }}{{ '4.7'|int }}{{ 'x'|int }}"
     "{{ 'x'|int(7) }}{{ 3.9|int }}{{ 'ff'|int(base=16) }}{{ '1.5'|float }}{{ 'x'|float }}|{{ -3|abs }}",
     None),
    ("filters_seq", "{{ ['a', 'b']|join(', ') }}|{{ [1, 2]|join }}|{{ users|join(', ', attribute='name') }}|"
     "{{ [3, 4]|first }}{{ [3, 4]|last }}{{ 'abc'|first }}{{ 'abc'|last }}{{ []|first }}|{{ d|items|list }}|"
     "{{ 'ab'|list }}{{ d|list }}|{{ [1, 2, 3]|reverse|list }}{{ 'abc'|reverse }}|{{ 'aXbX'|replace('X', 'y') }}"
     "{{ 'aXbX'|replace('X', 'y', 1) }}|{{ users|selectattr('admin')|map(attribute='name')|list }}"
     "{{ users|rejectattr('admin')|map(attribute='name')|join }}|{{ users|selectattr('name', 'equalto', 'bo')|list|length }}"
     "|{{ [1, 2, 3, 4]|select('odd')|list }}{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ ['a', 'b', 'code']|reject('equalto', 'code')|join(', ') }}"
     "|{{ ['a', 'B']|map('upper')|list }}|{{ [1, 1, 2, 'a', 'A']|unique|list }}|{{ users|map(attribute='age', default=0)|list }}"
     "|{{ users[:1]|selectattr('meta.k')|map(attribute='name')|list }}|{{ nope|items|list }}|{{ x|safe }}",
     {"users": [{"name": "al", "admin": True, "meta": {"k": 1}}, {"name": "bo", "admin": False, "age": 3}],
      "d": {"k1": 1, "k2": [2]}, "x": "<b>"}),
    ("tojson", "{{ v|tojson }}|{{ v|tojson(indent=2) }}|{{ v|tojson(sort_keys=true) }}|"
     "{{ v|tojson(separators=(',', ':')) }}|{{ 'é\\u2028\"\\\\/\\x01\\x7f'|tojson }}|{{ 1.0|tojson }}{{ none|tojson }}"
     "{{ [1, 2.5e-7, true]|tojson }}|{{ {}|tojson(indent=2) }}{{ []|tojson(indent=2) }}|{{ {1: 'a', 2.5: 'b', true: 'c', none: 'd'}|tojson }}",
     {"v": {"z": 1, "a": [1, {"b": None, "c": "ü\n"}], "m": {}, "e": [], "f": 1.5}}),
    ("filters_more", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb\\n\\nc'|indent(2, true) }}|{{ 'a\\nb\\n\\nc'|indent('> ', blank=true) }}|"
     "{{ 'a\\r\\nb\\x0bc\\u2028d'|indent(1) }}|{{ 'x'|indent(first=true) }}|{{ ''|indent }}|"
     "{{ [3, 1, 2]|sort }}{{ [3, 1, 2]|sort(reverse=true) }}{{ ['b', 'A', 'c', 'a']|sort }}{{ ['b', 'A', 'c', 'a']|sort(case_sensitive=true) }}"
     "{{ users|sort(attribute='age')|map(attribute='name')|list }}{{ users|sort(attribute='age,name', reverse=true)|map(attribute='name')|list }}|"
     "{{ [3, 1, 2]|min }}{{ [3, 1, 2]|max }}{{ ['b', 'A']|min }}{{ ['b', 'A']|max(case_sensitive=true) }}{{ users|max(attribute='age') }}{{ []|min }}|"
     "{{ [1, 2, 3]|sum }}{{ [1.5, 2]|sum(start=10) }}{{ users|sum(attribute='age') }}|"
     "{{ 2.5|round }}{{ 3.5|round }}{{ 2.675|round(2) }}{{ 7|round }}{{ -0.5|round }}{{ 1.2345|round(2, 'ceil') }}{{ 1.2399|round(2, 'floor') }}{{ 1e20|round }}|"
     "{{ 'a\\nb\\r\\nc\\x1cd\\x85e'.splitlines() }}",
     {"users": [{"name": "al", "age": 30}, {"name": "bo", "age": 25}, {"name": "cy", "age": 30}]}),
    ("err_sort_mixed", "{{ [1, 'a']|sort }}", None),
    ("tojson_undefined", "{{ nope|tojson }}", None),
    # control structures
    ("for_loop_vars", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }}"
     "{{ loop.cycle('o', 'e') }}{{ loop.depth }};{% endfor %}", {"l": ["a", "b", "c"]}),
    ("for_if_else", "{% for x in l if x > 1 %}{{ x }}{{ loop.index }}{{ loop.length }}{% else %}none{% endfor %}|"
     "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in l if x > 9 %}x{% else %}filtered{% endfor %}",
     {"l": [1, 2, 3]}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}"
     "{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}",
     {"d": {"x": 1, "y": 2}}),
    ("for_break_continue", "{% for x in range(10) %}{% if x is even %}{% continue %}{% endif %}{% if x > 6 %}{% break %}"
     "{% endif %}{{ x }}{% endfor %}|{{ range(3)|list }}{{ range(1, 7, 2)|list }}{{ range(5, 0, -2)|list }}", None),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }}"
     "{% endfor %}", None),
    ("if_elif", "{% for v in [1, 2, 3, 4] %}{% if v == 1 %}one{% elif v == 2 %}two{% elif v == 3 %}three"
     "{% else %}other{% endif %},{% endfor %}", None),
    ("scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }}{% endfor %}{{ x }}|"
     "{% if true %}{% set y = 5 %}{% endif %}{{ y }}|{% for i in [1, 2] %}{{ z }}{% set z = i %}{% endfor %}{{ z }}|"
     "{% set ns = namespace(n=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}"
     "{% endfor %}{{ ns.n }} {{ ns.s }} {{ ns.missing }}|{% set a, b = 1, 2 %}{{ a }}{{ b }}", None),
    ("set_block", "{% set t %}  Hello {{ name }}  {% endset %}[{{ t }}]{% set u | trim | upper %}  hi  {% endset %}[{{ u }}]",
     {"name": "W"}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} "
     "{{ greet('b', '?') }} {{ greet(punct='.', name='c') }}{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}"
     "{% endif %}{% endmacro %} {{ rec(3) }}", None),
    ("dict_global", "{{ dict(a=1, b='x') }} {{ dict(a=1).a }} {{ namespace(a=1).a }}", None),
    ("strftime", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M') }}", None),
    ("llama32_date", "{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}"
     "{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}Today Date: {{ date_string }}", None),
    ("generation_tag", "{% for m in messages %}{% generation %}[{{ m.content }}]{% endgeneration %}{% endfor %}", None),
    ("undefined_print", "[{{ nope }}][{{ m.nope }}][{% if nope %}t{% else %}f{% endif %}]"
     "[{{ nope|string }}][{{ none.x }}]", {"m": {}}),
    # errors
    ("err_raise", "{{ raise_exception('Boom: ' ~ x) }}", {"x": "bad «role»"}),
    ("err_raise_in_loop", "{% for m in l %}{% if m == 2 %}{{ raise_exception('at ' ~ loop.index) }}{% endif %}"
     "{{ m }}{% endfor %}", {"l": [1, 2]}),
    ("err_undefined_attr", "{{ nope.attr }}", None),
    ("err_undefined_attr_test", "{{ nope.attr is defined }}", None),
    ("err_undefined_path", "{{ users|selectattr('meta.k')|list }}", {"users": [{"name": "bo"}]}),
    ("err_concat_precedence", "{{ 1 + 2 ~ 3 }}", None),
    ("err_undefined_item", "{{ messages[0]['role'] }}", None),
    ("err_macro_raise", "{% macro f(x) %}{{ raise_exception('in macro ' ~ x) }}{% endmacro %}a{{ f(1) }}", None),
    ("err_break_outside", "a{% break %}b", None),
    ("err_break_in_macro", "{% for i in [1] %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", None),
    ("break_in_set_block", "{% for i in [1, 2] %}{% set x %}{{ i }}{% if i == 2 %}{% break %}{% endif %}"
     "{% endset %}[{{ x }}]{% endfor %}|{% for i in [1, 2] %}{% for j in [] %}{% else %}{% continue %}"
     "{% endfor %}{{ i }}{% endfor %}|{% for i in [1, 2] %}{{ loop }}{% endfor %}", None),
    ("err_step_limit_ok", "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}done", None),
    ("err_undefined_call", "{{ nope() }}", None),
    ("err_undefined_add", "{{ nope + 1 }}", None),
    ("err_type_add", "{{ 'a' + 1 }}", None),
    ("err_div_zero", "{{ 1 / 0 }}", None),
    ("err_syntax", "{% if x %}", None),
    ("err_syntax2", "{{ 1 + }}", None),
    ("err_unknown_tag", "{% frobnicate %}", None),
    ("err_unknown_filter", "{{ 1|frobnicate }}", None),
    ("err_unsafe", "{{ l.append(1) }}", {"l": []}),
    ("err_ns_underscore", "{% set ns = namespace() %}{% set ns._x = 1 %}", None),
    ("err_set_non_ns", "{% set d = {} %}{% set d.x = 1 %}", None),
    ("err_not_iterable", "{% for x in 5 %}{% endfor %}", None),
    ("err_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", None),
]


# Randomly composed templates (fixed seed): expressions over Python values
# with filters, tests, methods, operators; and text/tag soups stressing the
# whitespace rules. jinja2's generator filters (map, select, reject, unique,
# items) are left out here because jinja2 evaluates them lazily and a
# never-iterated generator over a bad input renders fine there (the fixed
# feature cases cover those filters).
RVARS = {"s": "Hé llo, World", "e": "", "l": [3, "b", None, 1.5, True], "d": {"k": "v", "n": 2, "l": [1, 2]},
         "n": 7, "f": 2.5, "ns": [1, 2, 3], "ws": "  a\tb \n", "t": True, "z": 0, "neg": -3}
R_ATOMS = ["1", "0", "-3", "10", "2.5", "0.1", "1e20", "-1.5", "'a'", "'Hé'", "' x '", "''", "'a,b'", "none",
           "true", "false", "s", "e", "l", "d", "n", "f", "u", "ns", "ws", "t", "z", "neg", "[1, 'x']", "{'a': 1}",
           "(1, 2)", "d.k", "d['n']", "l[0]", "l[-1]", "s[1:]", "s[::-1]", "ns[1:2]", "d.l", "d.missing", "s.x"]
R_FILT = ["trim", "length", "upper", "lower", "title", "capitalize", "string", "int", "float", "abs", "first",
          "last", "list", "join(',')", "join", "default('z')", "default('z', true)", "tojson", "reverse|list",
          "replace('a', 'b')", "count", "tojson(indent=1)", "trim('a')", "int(5)", "safe", "sort", "min",
          "max", "sum", "round", "round(1, 'floor')", "indent", "indent(2, true)", "sort(reverse=true)"]
R_TESTS = ["defined", "undefined", "none", "string", "number", "mapping", "iterable", "sequence", "odd", "even",
           "integer", "float", "boolean", "true", "false", "divisibleby 2", "equalto 1", "in [1, 'a']", "lower",
           "upper"]
R_METH = [".strip()", ".split(',')", ".split()", ".upper()", ".lower()", ".startswith('H')", ".endswith('d')",
          ".replace('l', 'L')", ".title()", ".capitalize()", ".find('l')", ".count('l')", ".rstrip('d')",
          ".isdigit()", ".items()|list", ".keys()|list", ".values()|list", ".get('k')", ".get('q', 3)", ".lstrip()"]
R_BIN = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"]


def rand_cases(seed, n_expr, n_ws):
    import random
    R = random.Random(seed)

    def expr(d=0):
        r = R.random()
        if d > 3 or r < 0.3:
            return R.choice(R_ATOMS)
        if r < 0.5:
            return "%s %s %s" % (expr(d + 1), R.choice(R_BIN), expr(d + 1))
        if r < 0.62:
            return "%s|%s" % (expr(d + 1), R.choice(R_FILT))
        if r < 0.7:
            return "%s is %s%s" % (expr(d + 1), R.choice(["", "not "]), R.choice(R_TESTS))
        if r < 0.78:
            return "(%s)%s" % (expr(d + 1), R.choice(R_METH))
        if r < 0.84:
            return "not %s" % expr(d + 1)
        if r < 0.9:
            return "(%s if %s else %s)" % (expr(d + 1), expr(d + 1), expr(d + 1))
        if r < 0.95:
            return "[%s, %s]" % (expr(d + 1), expr(d + 1))
        return "(%s)" % expr(d + 1)

    def stmt(d=0):
        r = R.random()
        if d > 2 or r < 0.35:
            return "{{ %s }}" % expr()
        if r < 0.5:
            return "{%% if %s %%}%s{%% else %%}%s{%% endif %%}" % (expr(), stmt(d + 1), stmt(d + 1))
        if r < 0.65:
            return ("{%% for x in %s %%}[{{ x }}{{ loop.index }}]%s{%% else %%}E{%% endfor %%}"
                    % (R.choice(["l", "ns", "s", "d", "d.items()", "u", "range(3)", "e"]), stmt(d + 1)))
        if r < 0.75:
            return "{%% set v = %s %%}{{ v }}" % expr()
        if r < 0.85:
            return "%s{%%- if true %%} \n %s{%% endif -%%}\n  x" % (R.choice([" ", "\n", "  \n  ", "a"]), stmt(d + 1))
        return "\n  {%% if %s %%}\n  y\n  {%% endif %%}\n" % expr()

    def ws_piece():
        return R.choice(["", " ", "  ", "\n", "\n\n", " \n ", "\t", "\t\n", "x", "x ", " x\n", "\r\n", "\n  ",
                         "  \n", "\u00a0", "\u2003\n"])

    def tag():
        lft = R.choice(["", "-", "+", ""])
        rgt = R.choice(["", "-", "+", ""])
        k = R.random()
        if k < 0.3:
            return "{{%s 'v' %s}}" % (lft if lft != "+" else "", rgt if rgt != "+" else "")
        if k < 0.5:
            return "{#%s c %s#}" % (lft, rgt)
        if k < 0.75:
            return ("{%%%s if true %s%%}" % (lft, rgt) + ws_piece() +
                    "{%%%s endif %s%%}" % (R.choice(["", "-"]), R.choice(["", "-"])))
        return ("{%%%s for i in [1, 2] %s%%}" % (lft, rgt) + ws_piece() + "{{ i }}" + ws_piece() +
                "{%%%s endfor %s%%}" % (R.choice(["", "-", "+"]), R.choice(["", "-", "+"])))

    cases = []
    for i in range(n_expr):
        src = "".join(stmt() for _ in range(R.randint(1, 3)))
        cases.append(("random/expr%d" % i, src))
    for i in range(n_ws):
        src = "".join(ws_piece() + tag() for _ in range(R.randint(1, 5))) + ws_piece()
        cases.append(("random/ws%d" % i, src))
    out = []
    for name, src in cases:
        c = {"name": name, "template_src": src, "bos_token": "<s>", "eos_token": "</s>",
             "add_generation_prompt": True, "messages": []}
        c.update(render(src, [], True, "<s>", "</s>", None, RVARS))
        if "generator object" in c.get("expected", "") or "object at 0x" in c.get("expected", ""):
            continue  # jinja2 printed an object address
        out.append(c)
    return out


def feature_cases():
    cases = []
    for name, src, extra in FEATURES:
        msgs = [msg("user", "u1"), msg("assistant", "a1")] if name == "generation_tag" else []
        c = {"name": "feature/" + name, "template_src": src, "bos_token": "", "eos_token": "",
             "add_generation_prompt": False, "messages": msgs}
        if extra is not None:
            c["extra"] = extra
        c["now"] = FIXED_NOW
        c.update(render(src, msgs, False, "", "", None, extra))
        cases.append(c)
    return cases


def main():
    if not os.path.isdir(SHARED):
        sys.exit("run from the repository root (needs %s)" % SHARED)
    os.makedirs(OUT, exist_ok=True)
    meta = {"generator": "tests/reference/gen_chat_goldens.py", "jinja2": jinja2.__version__,
            "environment": ENV_SOURCE, "now": FIXED_NOW,
            "note": "error_kind raise: the C error message must equal 'error'; other/syntax: C must fail"}
    for fname, cases, extra in (("real.json", real_cases(), None), ("features.json", feature_cases(), None),
                                ("random.json", rand_cases(20260, 400, 400), RVARS)):
        doc = {"meta": meta, "cases": cases}
        if extra is not None:
            doc["extra"] = extra   # variables of every case that has no "extra" of its own
        with open(os.path.join(OUT, fname), "w", encoding="utf-8") as f:
            if fname == "random.json":
                json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
            else:
                json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print("%s: %d cases (%d errors)" % (fname, len(cases), sum(1 for c in cases if "error" in c)))


if __name__ == "__main__":
    main()
