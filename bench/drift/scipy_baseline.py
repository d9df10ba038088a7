#!/usr/bin/python3
"""bench/drift baseline: the tests of `mlforge drift` with scipy/numpy on the
same data (drift_bench generate wrote it as raw columns beside the CSVs).

Per numeric column: ks_2samp (method auto), wasserstein_distance, mean/std/
quantiles/min/max, reference-quantile bins (np.quantile) with PSI,
jensenshannon and Hellinger, out-of-range count. Per categorical column:
counts, chi2_contingency, jensenshannon, PSI, Hellinger. Loading the raw
columns is not timed (np.fromfile); computing is.

Usage: scipy_baseline.py DIR [REPEAT]   prints seconds per run and the median,
then compares its numbers with DIR/report.json (written by drift_bench run).
"""
import json
import sys
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance


def shares(a):
    return a / a.sum()


def psi(a, b, eps=1e-4):
    p, q = shares(a), shares(b)
    p = np.where(p == 0, eps, p)
    q = np.where(q == 0, eps, q)
    return float(np.sum((p - q) * np.log(p / q)))


def hellinger(a, b):
    return float(np.sqrt(1 - np.clip(np.sum(np.sqrt(shares(a) * shares(b))), 0, 1)))


def numeric(r, c, bins=10):
    r = r[np.isfinite(r)]
    c = c[np.isfinite(c)]
    out = {}
    ks = stats.ks_2samp(r, c)
    out["ks_statistic"], out["ks_p_value"] = float(ks.statistic), float(ks.pvalue)
    w = stats.wasserstein_distance(r, c)
    sd = np.std(r)
    out["wasserstein_normed"] = float(w / max(sd, 0.001))
    for x in (r, c):
        np.mean(x), np.std(x), np.min(x), np.max(x), np.quantile(x, [0.25, 0.5, 0.75])
    edges = np.unique(np.quantile(r, np.arange(1, bins) / bins))
    a = np.bincount(np.searchsorted(edges, r, side="right"), minlength=len(edges) + 1).astype(float)
    b = np.bincount(np.searchsorted(edges, c, side="right"), minlength=len(edges) + 1).astype(float)
    out["psi"] = psi(a, b)
    out["jensen_shannon"] = float(distance.jensenshannon(a, b, base=2))
    out["hellinger"] = hellinger(a, b)
    out["out_of_range"] = int(np.sum((c < r.min()) | (c > r.max())))
    return out


def categorical(r, c, k):
    a = np.bincount(r, minlength=k).astype(float)
    b = np.bincount(c, minlength=k).astype(float)
    keep = (a + b) > 0
    chi2, p, dof, _ = stats.chi2_contingency(np.array([a[keep], b[keep]]), correction=False)
    return {"chi2_p_value": float(p), "jensen_shannon": float(distance.jensenshannon(a, b, base=2)),
            "psi": psi(a, b), "hellinger": hellinger(a, b)}


def main():
    d = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    meta = json.load(open(f"{d}/meta.json"))
    n, cols, nnum, k = meta["rows"], meta["cols"], meta["numeric"], meta["categories"]
    ref_num = np.fromfile(f"{d}/ref.f64").reshape(nnum, n)
    cur_num = np.fromfile(f"{d}/cur.f64").reshape(nnum, n)
    ref_cat = np.fromfile(f"{d}/ref.i32", dtype=np.int32).reshape(cols - nnum, n)
    cur_cat = np.fromfile(f"{d}/cur.i32", dtype=np.int32).reshape(cols - nnum, n)
    runs, cpu = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        c = time.process_time()
        results = {}
        for i in range(nnum):
            results[f"num{i}"] = numeric(ref_num[i], cur_num[i])
        for j in range(cols - nnum):
            results[f"cat{nnum + j}"] = categorical(ref_cat[j], cur_cat[j], k)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        print(f"scipy_run_seconds {runs[-1]:.3f} cpu {cpu[-1]:.3f}", flush=True)
    print(f"scipy_seconds {float(np.median(runs)):.3f}")
    print(f"scipy_cpu_seconds {float(np.median(cpu)):.3f}")

    # Cross-check against mlforge's report on the same data.
    try:
        report = json.load(open(f"{d}/report.json"))
    except OSError:
        return
    worst = {}
    for col in report["columns"]:
        mine, theirs = col["stats"], results[col["column"]]
        for key, v in theirs.items():
            if key in mine and v is not None:
                ref = max(abs(v), 1e-300)
                rel = abs(mine[key] - v) / ref if key != "out_of_range" else abs(col.get("out_of_range", 0) - v)
                worst[key] = max(worst.get(key, 0.0), rel)
    for key in sorted(worst):
        print(f"max_relative_difference {key} {worst[key]:.2e}")


if __name__ == "__main__":
    main()
