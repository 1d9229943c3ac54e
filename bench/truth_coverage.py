"""Coverage of the planted re-entry log hazard ratios across seeds (issue 7 item 6): a measurement, not a test.

Run: `.venv/bin/python bench/truth_coverage.py [--seeds 0-7] [--scale small] [--with-linkage-error]`
(about 7 s a seed at small on one core, twice that with linkage error). For each seed it generates the
extract with every linkage error rate zero (as tests/survival/test_truth_recovery.py, whose cohort, design
and benchmark it imports, so the model is the test's), fits the pooled cluster-robust Cox model to the
files and the same model to the error-free truth/index_events ("bench"); with --with-linkage-error also to
the default extract of the seed (the same realisation with linkage error). It prints per seed: how many of
the 11 95% CIs cover the truth, the largest |z| and the joint Wald test of all coefficients against the
true vector with the full robust covariance (`CoxResult.covariance`).

Then across seeds (independent realisations of the same truth): per covariate, the coverage k/S with
P(X <= k) for X ~ Binomial(S, 0.95), the mean deviation from the truth and its z (mean deviation over
sqrt(sum of variances) / S), and the mean extract-minus-benchmark difference with its SD / sqrt(S) (the
part of the deviation not due to the draw). Pooled: the sum of the per-seed Wald statistics (chi-square,
S x 11 df, if unbiased) and the Wald test of the mean deviation vector (chi-square, 11 df), the test with
power against a bias common to the seeds.

Measured (seeds 0-7, small, generator of commit c8ed47b): benchmark 86/88 CIs cover, mean-deviation Wald
12.6 on 11 df (p = 0.32); without linkage error 75/88, 52.6 (p = 2e-7), the files off the benchmark on
average by -0.037 (prior family case), -0.026 (prior contacts), -0.020 (age 10-17), -0.012 (IMD), +0.012
(probation start); with linkage error 58/88, 183.5 (p = 2e-33). Those file-minus-benchmark differences
were definitions, found by matching every cohort row to its true index event: family parties of 16-17
counted as adults, breach and non-criminal cases of unknown proceedings type counted as offences, a case's
missing disposal not taken from its principal offence, probation events without a disposal (licences)
taken as probation starts, remand journeys of unknown status as releases, age at index from the index
record alone, and residents of Wales (no IMD decile) coded as not most deprived. With the cohort fixed and
Wales left out of the model (complete cases): without linkage error 87/88, 17.2 (p = 0.10), the largest
mean differences prior contacts -0.015 +- 0.006 (seed 2 alone -0.056: two prolific re-offenders whose next
offences, a day later, were first heard after the courts' coverage ends), age 35-49 -0.006 +- 0.002, age
10-17 -0.005 +- 0.004, prior family case -0.004 +- 0.003, IMD -0.002 +- 0.002; with linkage error 66/88,
135.4 (p = 1e-23).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from djs_toolkit import dummy, open_extract
from djs_toolkit.analyses import reentry_cohort
from djs_toolkit.dummy import DummyConfig
from djs_toolkit.survival import CoxResult, cox
from tests.analyses.test_truth_recovery import (
    PERIOD,
    WAITING,
    _benchmark,
    _design,
    wald,
)

Z95 = 1.959963984540054


def fmt_p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def seeds_arg(text: str) -> list[int]:
    """``0-7`` or ``0,3,5``."""
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def fit_seed(seed: int, scale: str, tmp: Path, linkage_error: bool = False) -> dict:
    """Generate one extract (without linkage error unless asked) and fit the test's model to the files and
    to the truth."""
    t0 = time.perf_counter()
    root = dummy.generate(
        tmp / f"seed{seed}_{linkage_error}",
        scale=scale,
        seed=seed,
        config=None if linkage_error else DummyConfig().without_linkage_error(),
    )
    t_gen = time.perf_counter() - t0
    truth = pd.read_csv(root / "truth" / "reentry_log_hr.csv").set_index("covariate")["log_hr"]
    names = list(truth.index)
    c = reentry_cohort(
        open_extract(root),
        ["case_end", "release", "probation_start"],
        outcome="magistrates",
        period=PERIOD,
        waiting_days=WAITING,
    )
    got = cox(_design(c), "duration", "event", names, cluster="person")
    bench = _benchmark(root, names, c.attrs["follow_up_end"])
    shutil.rmtree(root)
    return {
        "seed": seed,
        "truth": truth,
        "got": got,
        "bench": bench,
        "gen_s": t_gen,
        "fit_s": time.perf_counter() - t0 - t_gen,
    }


SHORT = {
    "log1p_prior_contacts_730d": "contacts",
    "index_release": "release",
    "index_probation_start": "prob_start",
    "imd_most_deprived_quintile": "imd_q1",
    "prior_possession_claim_730d": "possession",
    "prior_family_case_730d": "family",
}


def per_seed_row(seed: int, truth: pd.Series, res: CoxResult) -> dict:
    se = res.params["robust_se"]
    z = (res.params["coef"] - truth) / se
    w = wald(res, truth)
    return {
        "seed": seed,
        "covered": int((z.abs() <= Z95).sum()),
        "max|z|": f"{z.abs().max():.2f}",
        "missed": ",".join(SHORT.get(k, k.replace("age_", "")) for k in z.index[z.abs() > Z95]) or "-",
        "wald": f"{w['chisq']:.2f}",
        "p": fmt_p(w["p"]),
    }


def across(runs: list[dict], which: str) -> tuple[pd.DataFrame, dict]:
    truth = runs[0]["truth"]
    s = len(runs)
    coef = pd.DataFrame({r["seed"]: r[which].params["coef"] for r in runs})
    se = pd.DataFrame({r["seed"]: r[which].params["robust_se"] for r in runs})
    dev = coef.sub(truth, axis=0)
    covered = (dev.abs() <= Z95 * se).sum(axis=1)
    mean_dev = dev.mean(axis=1)
    v_mean = sum(r[which].covariance.loc[truth.index, truth.index] for r in runs) / s**2
    table = pd.DataFrame(
        {
            "covered": covered.astype(str) + f"/{s}",
            "P(X<=k)": [f"{binom.cdf(k, s, 0.95):.3f}" for k in covered],
            "mean_dev": mean_dev.round(4),
            "z_mean": (mean_dev / np.sqrt(np.diag(v_mean))).round(2),
        }
    )
    sum_w = sum(wald(r[which], truth)["chisq"] for r in runs)
    w_mean = float(mean_dev @ np.linalg.solve(v_mean.to_numpy(), mean_dev.to_numpy()))
    pooled = {
        "sum_wald": sum_w,
        "sum_df": s * len(truth),
        "sum_p": chi2.sf(sum_w, s * len(truth)),
        "mean_wald": w_mean,
        "mean_df": len(truth),
        "mean_p": chi2.sf(w_mean, len(truth)),
        "covered": int(covered.sum()),
        "cis": s * len(truth),
    }
    return table, pooled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("0-7"))
    ap.add_argument("--scale", default="small")
    ap.add_argument(
        "--with-linkage-error",
        action="store_true",
        help="also fit the default extract of each seed (with linkage error)",
    )
    args = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="djs_truth_coverage_") as tmp:
        for seed in args.seeds:
            runs.append(fit_seed(seed, args.scale, Path(tmp)))
            r = runs[-1]
            print(
                f"# seed {seed}: generated in {r['gen_s']:.1f} s, cohort and fits in {r['fit_s']:.1f} s, "
                f"{r['got'].n} index events, {r['got'].events} re-entries",
                flush=True,
            )
            if args.with_linkage_error:
                d = fit_seed(seed, args.scale, Path(tmp), linkage_error=True)
                assert d["bench"].params.equals(r["bench"].params), "not the same realisation"
                r["linkage"] = d["got"]
                print(
                    f"# seed {seed} with linkage error: {d['gen_s'] + d['fit_s']:.1f} s, {d['got'].n} index "
                    f"events, {d['got'].events} re-entries",
                    flush=True,
                )
    truth = runs[0]["truth"]
    assert all(r["truth"].equals(truth) for r in runs), "the planted truth differs between seeds"
    cols = ["seed", "covered", "max|z|", "missed", "wald", "p"]
    labels = [("got", "extract without linkage error"), ("bench", "benchmark: truth/index_events")]
    if args.with_linkage_error:
        labels.append(("linkage", "default extract (with linkage error)"))
    for which, label in labels:
        print(f"\n## {label}: per seed (11 covariates, 95% CIs, robust SE; Wald chi-square on 11 df)")
        rows = [per_seed_row(r["seed"], truth, r[which]) for r in runs]
        print(pd.DataFrame(rows)[cols].to_string(index=False))
        table, pooled = across(runs, which)
        if which != "bench":
            diff = pd.DataFrame({r["seed"]: r[which].params["coef"] - r["bench"].params["coef"] for r in runs})
            table["got-bench"] = diff.mean(axis=1).round(4)
            table["sd/sqrt(S)"] = (diff.std(axis=1, ddof=1) / np.sqrt(len(runs))).round(4)
        print(f"\n## {label}: per covariate across {len(runs)} seeds")
        print(table.to_string())
        print(
            f"coverage {pooled['covered']}/{pooled['cis']} ({pooled['covered'] / pooled['cis']:.3f}); "
            f"sum of Wald = {pooled['sum_wald']:.1f} on {pooled['sum_df']} df, p = {fmt_p(pooled['sum_p'])}; "
            f"Wald of the mean deviation = {pooled['mean_wald']:.2f} on {pooled['mean_df']} df, "
            f"p = {fmt_p(pooled['mean_p'])}"
        )


if __name__ == "__main__":
    main()
