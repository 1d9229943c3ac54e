"""Target-trial emulation (issue 21): truth recovery over seeds, and time and memory on a large extract.

Coverage (a measurement, not a test):
    .venv/bin/python bench/target_trial.py coverage [--seeds 0-19] [--public-law-mult 10] [--no-linkage-error]
For each seed it generates a `small` dummy extract with `public-law-mult` times the public-law volume (so the
comparison has about 2,000 children rather than 200), runs `compare.target_trial` (supervision order vs care
order for children aged 10-17 at the end of public-law proceedings; first criminal offence after) with both
weightings and without, and compares each estimate with `truth/family_effect.csv`: the marginal log hazard ratio
and the risk difference at 730 days (ate truth for ipw and naive, ato truth for overlap). It prints a row per seed
and method and, across seeds, each method's coverage k/S of its 95% CIs with P(X <= k), X ~ Binomial(S, 0.95),
and its mean deviation from the truth.

Timing:
    .venv/bin/python bench/target_trial.py timing [--scale national] [--repeats 3]
The extract (cached under $DJS_BENCH_DATA, default /tmp/djs_bench) and its spine are built first and not timed
(the pipeline's runner shares the spine across notebooks); then the median wall time of `target_trial` (the
cohort in DuckDB, the propensity model, curves, contrasts and Cox fits) and the peak RSS.

Measured (2-core machine shared with other jobs, generator of commit ad03e86):
- coverage, seeds 0-19, x10, linkage error on: naive 2/20 (log HR) and 4/20 (RD 730 days), mean deviation -0.284
  and -0.048; ipw 20/20 and 18/20, +0.051 and +0.012; overlap 17/20 and 18/20, +0.052 and +0.012 (about 35-150 s
  a seed). Linkage error off, seeds 0-9: naive 0/10 and 2/10; ipw 9/10 and 10/10 (+0.037, +0.018); overlap 9/10
  and 10/10 (+0.024, +0.012).
- timing, medium (2,171 children): ipw 3.7 s, overlap 4.5 s (medians of 3), peak RSS 2.3 GiB with the spine build
  (224 s, not counted); national, ten times the spine, is expected near 45 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import dummy_extract, peak_rss_mib, print_table, timed
from djs_toolkit import dummy, open_extract
from djs_toolkit.analyses.compare import target_trial
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.spine import build_spine

ELIGIBILITY = "family_order: case_type=Public law; party_role=Child; age=10-17"
TREATMENTS = {"supervision": "family_order: disposal=Supervision order", "care": "family_order: disposal=Care order"}
Z = 1.959963984540054


def _config(mult: float, linkage_error: bool) -> DummyConfig:
    d = DummyConfig()
    pl = {**d.family_cases_per_year, "Public law": d.family_cases_per_year["Public law"] * mult}
    cfg = dataclasses.replace(d, family_cases_per_year=pl)
    return cfg if linkage_error else cfg.without_linkage_error()


def truth_of(root: Path) -> pd.Series:
    t = pd.read_csv(root / "truth" / "family_effect.csv")
    return t.set_index(["estimand", "quantity", t["time_days"].fillna(0).astype(int)])["value"]


def recover(root: Path) -> list[dict]:
    """One row per method: estimates of the log HR and the 730-day risk difference with CIs and the truth."""
    truth = truth_of(root)
    ex = open_extract(root)
    rows = []
    for method in ("ipw", "overlap"):
        r = target_trial(ex, ELIGIBILITY, TREATMENTS, method=method, times=(730,))
        est = "ate" if method == "ipw" else "ato"
        fits = [("naive", "ate", r.naive_contrasts)] if method == "ipw" else []
        fits.append((method, est, r.contrasts))
        for name, estimand, c in fits:
            h = r.hazard_ratio.set_index("model").loc["naive" if name == "naive" else "weighted"]
            rows.append(
                {
                    "method": name,
                    "n": int(r.arms["persons"].sum()),
                    "log_hr": float(h["log_hr"]),
                    "log_hr_se": float(h["se"]),
                    "true_log_hr": float(truth[(estimand, "marginal_log_hr", 0)]),
                    "rd": float(c["rd"].iloc[0]),
                    "rd_se": float(c["rd_se"].iloc[0]),
                    "true_rd": float(truth[(estimand, "risk_difference", 730)]),
                }
            )
    return rows


def coverage(seeds: list[int], mult: float, linkage_error: bool) -> None:
    cfg = _config(mult, linkage_error)
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            root = dummy.generate(Path(tmp) / "x", scale="small", seed=seed, config=cfg)
            got = recover(root)
        for g in got:
            g["seed"] = seed
            g["hr_covers"] = abs(g["log_hr"] - g["true_log_hr"]) <= Z * g["log_hr_se"]
            g["rd_covers"] = abs(g["rd"] - g["true_rd"]) <= Z * g["rd_se"]
        rows += got
        print(f"# seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        print_table(
            [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in g.items()} for g in got], list(got[0])
        )
    df = pd.DataFrame(rows)
    s = len(seeds)
    summary = []
    for m, g in df.groupby("method", sort=False):
        for q, cov in (("log_hr", "hr_covers"), ("rd", "rd_covers")):
            k = int(g[cov].sum())
            dev = g[q] - g[f"true_{q}"]
            summary.append(
                {
                    "method": m,
                    "quantity": q,
                    "coverage": f"{k}/{s}",
                    "P(X<=k)": round(float(binom.cdf(k, s, 0.95)), 4),
                    "mean_dev": round(float(dev.mean()), 4),
                    "mean_se": round(float(g[f"{q}_se"].mean()), 4),
                    "z_mean_dev": round(float(dev.mean() / np.sqrt((g[f"{q}_se"] ** 2).sum()) * s), 2),
                }
            )
    print(f"# {s} seeds, small x{mult:g} public law, linkage error {'on' if linkage_error else 'off'}")
    print_table(summary, list(summary[0]))


def timing(scale: str, repeats: int) -> None:
    root = dummy_extract(scale)
    ex = open_extract(root)
    t0 = time.perf_counter()
    build_spine(ex)
    print(f"# spine built in {time.perf_counter() - t0:.0f} s (not counted)", flush=True)
    times = []
    for method in ("ipw", "overlap"):
        sec, r = timed(lambda m=method: target_trial(ex, ELIGIBILITY, TREATMENTS, method=m), repeats)
        times.append(
            {"scale": scale, "method": method, "median_s": round(sec, 2), "children": int(r.arms["persons"].sum())}
        )
    for t in times:
        t["peak_rss_mib"] = round(peak_rss_mib())
    print_table(times, list(times[0]))
    print(f"# total median {statistics.fmean([t['median_s'] for t in times]):.1f} s per call")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("coverage")
    c.add_argument("--seeds", default="0-19")
    c.add_argument("--public-law-mult", type=float, default=10.0)
    c.add_argument("--no-linkage-error", action="store_true")
    t = sub.add_parser("timing")
    t.add_argument("--scale", default="national")
    t.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.cmd == "coverage":
        lo, _, hi = a.seeds.partition("-")
        coverage(list(range(int(lo), int(hi or lo) + 1)), a.public_law_mult, not a.no_linkage_error)
    else:
        timing(a.scale, a.repeats)


if __name__ == "__main__":
    main()
