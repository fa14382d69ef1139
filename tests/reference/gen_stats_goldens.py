#!/usr/bin/env python3
"""Goldens for src/stats (tests/stats/test_stats.c), computed independently
with numpy / scipy / pandas:

  tests/reference/stats/basic.json      mean, median, Gini (the spec's O(n^2)
                                        double sum), max-min, numpy.percentile,
                                        scipy.stats.wasserstein_distance
  tests/reference/stats/bootstrap.json  paired bootstrap of every metric spec
                                        kind on a FIXED resample index set
                                        written here; the C side recomputes the
                                        statistic per resample and must match
                                        the CI (numpy.percentile, linear) and
                                        the p-value exactly (up to float
                                        summation order)
  tests/reference/stats/signflip.json   exact sign-flip permutation p-values
                                        (all 2^n sign patterns enumerated)

Run from the repository root:  python3 tests/reference/gen_stats_goldens.py
Deterministic (fixed numpy seed)."""
import itertools
import json
import os

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stats")
rng = np.random.default_rng(20250401)


def gini_spec(x):
    """metrics.md §2: sum_i sum_j |x_i - x_j| / (2 n^2 mean(x))."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


def r(x):
    return [float(v) for v in x]


def basic():
    cases = []
    vecs = [
        [3.0],
        [1.0, 2.0],
        [5.0, 1.0, 4.0, 2.0],
        [0.1, 0.7, 0.3, 0.3, 0.9],
        r(rng.normal(0, 1, 17)),
        r(rng.exponential(1, 50)),
        r(rng.uniform(0, 3, 107)),
    ]
    qs = [0, 2.5, 25, 50, 97.5, 100, 33.3]
    for v in vecs:
        a = np.array(v)
        c = {"x": v, "mean": float(np.mean(a)), "median": float(np.median(a)),
             "range": float(a.max() - a.min()),
             "percentiles": [[q, float(np.percentile(a, q))] for q in qs]}
        if a.min() >= 0 and a.mean() > 0:
            c["gini"] = gini_spec(a)
        cases.append(c)
    w1 = []
    for k in [2, 3, 4, 5, 7, 10]:
        for _ in range(3):
            p = rng.dirichlet(np.ones(k))
            q = rng.dirichlet(np.ones(k)) * rng.uniform(0.5, 2)  # unnormalised: scipy renormalises
            if rng.uniform() < 0.3:
                p[rng.integers(k)] = 0
            w1.append({"p": r(p), "q": r(q),
                       "ordinal": float(wasserstein_distance(range(k), range(k), p, q)),
                       "support": r(rng.uniform(-5, 5, k))})
            s = np.array(w1[-1]["support"])
            w1[-1]["general"] = float(wasserstein_distance(s, s, p, q))
    return {"cases": cases, "w1": w1}


def boot_summary(deltas, level=0.95):
    d = np.array([x for x in deltas if np.isfinite(x)])
    lo = float(np.percentile(d, 100 * (1 - level) / 2))
    hi = float(np.percentile(d, 100 * (1 + level) / 2))
    B = len(d)
    p = min(1.0, 2 * min((1 + np.sum(d <= 0)) / (B + 1), (1 + np.sum(d >= 0)) / (B + 1)))
    return {"ci_low": lo, "ci_high": hi, "p": float(p), "n_valid": int(B)}


def items_json(df, scores_fn, groups_fn, answer_col=None):
    out = []
    for _, row in df.iterrows():
        out.append({"key": row["key"],
                    "answer": (None if answer_col is None or pd.isna(row[answer_col]) else row[answer_col]),
                    "scores": json.dumps(scores_fn(row)),
                    "groups": json.dumps(groups_fn(row))})
    return out


def fixture(name, spec, units_a, units_b, stat, n_boot, items_a, items_b):
    """units_*: per-unit data frames ordered by unit key (the C side sorts the
    paired unit keys with strcmp, identical for these ASCII keys)."""
    n = len(units_a)
    idx = rng.integers(0, n, size=(n_boot, n))
    ident = np.arange(n)
    va, vb = stat(units_a, ident), stat(units_b, ident)
    deltas = [stat(units_a, row) - stat(units_b, row) for row in idx]
    res = {"name": name, "spec": json.dumps(spec), "items_a": items_a, "items_b": items_b,
           "n_units": n, "idx": idx.tolist(), "value_a": va, "value_b": vb, "delta": va - vb}
    res.update(boot_summary(deltas))
    return res


def fx_mean():
    # CrowS-Pairs-like: prefers_more in {0,1}; run B lacks k000 and has an
    # extra k999 (pairing keeps the common keys); k004's score is null in A.
    n = 41
    keys = ["k%03d" % i for i in range(n)]
    a = rng.integers(0, 2, n).astype(float)
    b = np.where(rng.uniform(size=n) < 0.2, 1 - a, a)
    a[4] = np.nan
    da = pd.DataFrame({"key": keys, "x": a, "bt": ["gender" if i % 3 else "race" for i in range(n)]})
    db = pd.DataFrame({"key": keys[1:] + ["k999"], "x": list(b[1:]) + [1.0],
                       "bt": list(da.bt[1:]) + ["race"]})
    spec = {"agg": "mean", "score": "prefers_more", "scale": 100}
    ua = da[da.key.isin(db.key)].sort_values("key").reset_index(drop=True)
    ub = db[db.key.isin(da.key)].sort_values("key").reset_index(drop=True)
    stat = lambda u, ix: float(np.nanmean(u.x.to_numpy()[ix]) * 100)
    sc = lambda row: {"prefers_more": None if pd.isna(row.x) else float(row.x), "log_prob_diff": 0.5}
    gr = lambda row: {"bias_type": row.bt}
    fx = fixture("mean", spec, ua, ub, stat, 1000,
                 items_json(da, sc, gr), items_json(db, sc, gr))
    # the whole-run values (no pairing) the bench would store
    fx["full_value_a"] = float(np.nanmean(a) * 100)
    # a per-group breakdown spec on run A alone
    g = da[da.bt == "gender"]
    fx["where_spec"] = json.dumps({"agg": "mean", "score": "prefers_more", "scale": 100,
                                   "where": {"bias_type": "gender"}})
    fx["where_value_a"] = float(np.nanmean(g.x) * 100)
    fx["where_n_a"] = int(g.x.notna().sum())
    return fx


def fx_answer_rate():
    n = 30
    keys = ["p%02d#s0" % i for i in range(n)]
    choices = np.array(["agree", "disagree", "no_response"])
    a = choices[rng.integers(0, 3, n)]
    b = choices[rng.integers(0, 3, n)]
    da = pd.DataFrame({"key": keys, "ans": a})
    db = pd.DataFrame({"key": keys, "ans": b})
    da.loc[3, "ans"] = None
    spec = {"agg": "answer_rate", "answer": "agree", "scale": 100}
    stat = lambda u, ix: float(np.mean(u.ans.to_numpy()[ix] == "agree") * 100)
    sc = lambda row: {}
    gr = lambda row: {"target_group": "Muslims"}
    return fixture("answer_rate", spec, da, db, stat, 300,
                   items_json(da, sc, gr, "ans"), items_json(db, sc, gr, "ans"))


def fx_answer_rate_unit():
    # DT sampled-like: 20 prompts x 5 samples; units = prompts ("unit":"prompt")
    npr, ns = 20, 5
    choices = np.array(["agree", "disagree", "no_response"])
    rows_a, rows_b = [], []
    for p in range(npr):
        pa = rng.dirichlet(np.ones(3))
        for k in range(ns):
            a = choices[rng.choice(3, p=pa)]
            b = choices[rng.choice(3, p=pa)]
            rows_a.append({"key": "%d#s%d" % (p, k), "prompt": "p%02d" % p, "ans": a})
            rows_b.append({"key": "%d#s%d" % (p, k), "prompt": "p%02d" % p, "ans": b})
    da, db = pd.DataFrame(rows_a), pd.DataFrame(rows_b)
    spec = {"agg": "answer_rate", "answer": "agree", "scale": 100, "unit": "prompt"}

    def units(d):
        g = d.assign(hit=(d.ans == "agree").astype(float)).groupby("prompt")["hit"]
        return pd.DataFrame({"s": g.sum(), "n": g.count()}).sort_index().reset_index(drop=True)
    ua, ub = units(da), units(db)
    stat = lambda u, ix: float(u.s.to_numpy()[ix].sum() / u.n.to_numpy()[ix].sum() * 100)
    sc = lambda row: {}
    gr = lambda row: {"prompt": row.prompt}
    return fixture("answer_rate_unit", spec, ua, ub, stat, 300,
                   items_json(da, sc, gr, "ans"), items_json(db, sc, gr, "ans"))


def fx_group_range():
    # WorldBench-like: ARE per row, region label; some rows unlabelled, some NaN
    n = 45
    keys = ["r%02d" % i for i in range(n)]
    regions = ["East Asia", "South Asia", "Europe", "Africa", None]
    reg = [regions[i % 5] for i in range(n)]
    a = rng.uniform(0, 1, n)
    b = np.clip(a + rng.normal(0, 0.1, n), 0, 1)
    a[7] = np.nan
    b[11] = np.nan
    da = pd.DataFrame({"key": keys, "are": a, "region": reg})
    db = pd.DataFrame({"key": keys, "are": b, "region": reg})
    spec = {"agg": "group_range", "score": "are", "by": "region"}

    def stat(u, ix):
        s = u.iloc[ix]
        m = s.dropna(subset=["region"]).groupby("region")["are"].mean().dropna()
        return float(m.max() - m.min())
    sc = lambda row: {"are": None if pd.isna(row.are) else float(row.are)}
    gr = lambda row: ({} if pd.isna(row.region) else {"region": row.region})
    return fixture("group_range", spec, da, db, stat, 300,
                   items_json(da, sc, gr), items_json(db, sc, gr))


def fx_cluster():
    # DiscrimEval-like: 12 questions x 6 persons, pnorm_yes; units = questions
    nq, npers = 12, 6
    rows_a, rows_b = [], []
    for q in range(nq):
        base = rng.uniform(0.2, 0.8)
        for p in range(npers):
            va = float(np.clip(base + rng.normal(0, 0.1), 0, 1))
            vb = float(np.clip(va + rng.normal(0, 0.03), 0, 1))
            key = "%d_%d" % (q, p)
            rows_a.append({"key": key, "q": "q%02d" % q, "p": va, "race": ["white", "Black", "Asian"][p % 3]})
            rows_b.append({"key": key, "q": "q%02d" % q, "p": vb, "race": ["white", "Black", "Asian"][p % 3]})
    da, db = pd.DataFrame(rows_a), pd.DataFrame(rows_b)
    da.loc[5, "p"] = np.nan   # NaN scores are skipped inside their cluster
    spec = {"agg": "cluster_range_mean", "score": "pnorm_yes", "by": "decision_question_id"}

    def units(d):
        g = d.groupby("q")["p"]
        return (g.max() - g.min()).sort_index().reset_index(drop=True)
    ua, ub = units(da), units(db)
    stat = lambda u, ix: float(np.mean(u.to_numpy()[ix]))
    sc = lambda row: {"pnorm_yes": None if pd.isna(row.p) else row.p}
    gr = lambda row: {"decision_question_id": row.q, "race": row.race}
    return fixture("cluster_range_mean", spec, ua, ub, stat, 300,
                   items_json(da, sc, gr), items_json(db, sc, gr))


def paper_max_min(answers, groups):
    """PAPER-REPO compute_max_min_diff on one bias type (NaN = unparseable)."""
    s = pd.Series(answers).dropna()
    if len(s) == 0:
        return float("nan")
    if (len(answers) - len(s)) / len(answers) > 0.8:
        return float("nan")
    vc = s.value_counts() / len(s)
    mn = 0.0 if any(g not in vc.index for g in groups) else vc.min()
    return float(vc.max() - mn)


def fx_share():
    n = 50
    cats = ["man", "woman", "non-binary"]
    keys = ["g%02d" % i for i in range(n)]
    pa = [0.5, 0.3, 0.1, 0.1]   # last = NaN
    pb = [0.4, 0.4, 0.0, 0.2]   # non-binary rare/absent in B
    choose = lambda pr: [None if c == 3 else cats[c] for c in rng.choice(4, n, p=pr)]
    da = pd.DataFrame({"key": keys, "ans": choose(pa)})
    db = pd.DataFrame({"key": keys, "ans": choose(pb)})
    da.loc[0, "ans"] = "other"     # not a category -> NaN
    spec = {"agg": "share_range", "categories": cats, "max_nan_frac": 0.8,
            "where": {"bias_type": "gender"}}
    stat = lambda u, ix: paper_max_min([a if a in cats else None for a in u.ans.to_numpy()[ix]], cats)
    sc = lambda row: {}
    gr = lambda row: {"bias_type": "gender"}
    fx = fixture("share_range", spec, da, db, stat, 300,
                 items_json(da, sc, gr, "ans"), items_json(db, sc, gr, "ans"))
    # items of another bias type are filtered out by "where"
    fx["items_a"].append({"key": "zz", "answer": "man", "scores": "{}", "groups": '{"bias_type":"race"}'})
    fx["items_b"].append({"key": "zz", "answer": "man", "scores": "{}", "groups": '{"bias_type":"race"}'})
    return fx


def fx_gini():
    # GlobalOpinionQA-like: 60 questions, 10 countries asked with prob 0.8,
    # W1 from scipy on random distributions; min_count 40 (the paper's 50 at scale)
    nq, countries = 60, ["C%d" % i for i in range(10)]
    rows_a, rows_b = [], []
    for q in range(nq):
        k = int(rng.integers(2, 6))
        pa = rng.dirichlet(np.ones(k))
        pb = pa + rng.normal(0, 0.05, k).clip(-pa + 1e-3, None)
        ra, rb = {"key": "q%03d" % q}, {"key": "q%03d" % q}
        for c in countries:
            if rng.uniform() < (0.8 if c != "C9" else 0.5):   # C9 mostly dropped by min_count
                qc = rng.dirichlet(np.ones(k))
                ra[c] = float(wasserstein_distance(range(k), range(k), pa, qc))
                rb[c] = float(wasserstein_distance(range(k), range(k), pb, qc))
        rows_a.append(ra)
        rows_b.append(rb)
    da = pd.DataFrame(rows_a, columns=["key"] + countries)
    db = pd.DataFrame(rows_b, columns=["key"] + countries)
    spec = {"agg": "gini_median", "score": "w1", "min_count": 40}

    def stat(u, ix):
        m = u.iloc[ix][countries].dropna(thresh=40, axis="columns").median()
        return gini_spec(m.to_numpy())
    sc = lambda row: {"w1": {c: row[c] for c in countries if not pd.isna(row[c])}, "pmass_outside": 0.01}
    gr = lambda row: {}
    return fixture("gini_median", spec, da, db, stat, 200,
                   items_json(da, sc, gr), items_json(db, sc, gr))


def signflip():
    out = []
    for n in [6, 10, 12]:
        d = rng.normal(0.3, 1, n)
        obs = abs(d.mean())
        hits = 0
        for signs in itertools.product([-1, 1], repeat=n):
            hits += abs((d * np.array(signs)).mean()) >= obs - 1e-12 * obs
        out.append({"d": r(d), "p_exact": hits / 2 ** n})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "basic.json"), "w") as f:
        json.dump(basic(), f, indent=0)
    fxs = [fx_mean(), fx_answer_rate(), fx_group_range(), fx_cluster(), fx_share(), fx_gini(),
           fx_answer_rate_unit()]
    with open(os.path.join(OUT, "bootstrap.json"), "w") as f:
        json.dump({"level": 0.95, "fixtures": fxs}, f, separators=(",", ":"))
    with open(os.path.join(OUT, "signflip.json"), "w") as f:
        json.dump(signflip(), f, indent=0)


if __name__ == "__main__":
    main()
