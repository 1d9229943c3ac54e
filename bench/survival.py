"""Benchmark djs_toolkit.survival against lifelines and statsmodels on a simulated re-entry cohort.

Run: `.venv/bin/python bench/survival.py [--n 1000000] [--repeats 3] [--skip-slow]`.
Prints one table (figure, ours s, baseline, baseline s, ratio) and peak RSS. Our figures run first, so
the first peak-RSS line is ours alone. Goals (issue 7): KM/CIF <= 0.5 s, Cox <= 10 s, cluster-robust
Cox <= 60 s, Fine-Gray <= 60 s at 1e6 rows. Baselines that would take over ~3 minutes (lifelines
cluster-robust Cox, quadratic: docs/methods.md §0.1) are timed on a 1e5 subsample
and labelled so.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from djs_toolkit.survival import cif, cox, finegray, km, mcf, recurrent

COVS = ["age_z", "male", "log_prior", "custody", "depriv"]


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    """Daily re-entry cohort: Weibull(0.8) hazard (docs/methods.md §1), competing exits, admin censoring."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(
        {
            "age_z": rng.normal(size=n),
            "male": rng.binomial(1, 0.85, size=n),
            "log_prior": np.log1p(rng.poisson(3, size=n)),
            "custody": rng.binomial(1, 0.3, size=n),
            "depriv": rng.normal(size=n),
        }
    )
    lp = d[COVS].to_numpy() @ np.array([-0.3, 0.2, 0.5, 0.3, 0.1])
    t1 = 365 * (rng.exponential(size=n) / (0.45 * np.exp(lp))) ** (1 / 0.8)
    t2 = rng.exponential(3000, size=n)
    cut = rng.integers(365, 1500, size=n)  # staggered cohort entry, one extract cut-off
    t = np.minimum(t1, t2)
    d["censor_time"] = cut
    d["duration"] = np.minimum(np.ceil(t), cut).astype(int)
    d["status"] = np.where(np.ceil(t) > cut, 0, np.where(t1 <= t2, 1, 2))
    d["event"] = (d["status"] == 1).astype(int)
    d["person"] = np.arange(n) // 2  # ~2 index events per person
    return d


def ag_data(n_rows: int, seed: int = 2) -> pd.DataFrame:
    """Andersen-Gill rows: about 4.75 rows per person, 2-year follow-up, new row on the event day."""
    rng = np.random.default_rng(seed)
    persons = int(n_rows / 4.75)
    x = rng.binomial(1, 0.5, persons)
    z = rng.normal(size=persons)
    rate = 0.004 * rng.gamma(2.0, 0.5, persons) * np.exp(0.5 * x + 0.3 * z)
    gaps = rng.exponential(1 / rate[:, None], size=(persons, 40))
    ends = np.ceil(np.cumsum(gaps, axis=1))  # event days; same-day repeats are dropped below
    stop = np.minimum(ends, 730)
    keep = np.concatenate([np.ones((persons, 1), bool), ends[:, :-1] < 730], axis=1)
    start = np.concatenate([np.zeros((persons, 1)), stop[:, :-1]], axis=1)
    keep &= stop > start
    pid = np.repeat(np.arange(persons), 40).reshape(persons, 40)
    ev = (ends < 730).astype(int)
    d = pd.DataFrame(
        {
            "id": pid[keep],
            "start": start[keep],
            "stop": stop[keep],
            "event": ev[keep],
            "x": x[pid[keep]],
            "z": z[pid[keep]],
        }
    )
    return d


Timing = tuple[float, float]  # (median wall s, median CPU s)


def timed(fn: Callable[[], object], repeats: int) -> Timing:
    """Median wall seconds and median CPU seconds (process_time, all threads) of `repeats` calls."""
    times, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(".", end="", flush=True)  # progress: one dot per timed figure
    return statistics.median(times), statistics.median(cpus)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-slow", action="store_true", help="skip baselines slower than ~30 s")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    d = cohort(args.n)
    ag = ag_data(args.n)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (timings assume an idle machine)")
    print(
        f"cohort rows {len(d):,}, events {int(d.event.sum()):,}, distinct days {d.duration.nunique()}; "
        f"AG rows {len(ag):,}, persons {ag.id.nunique():,}"
    )
    rep = args.repeats
    ours = {
        "km (by custody)": timed(lambda: km(d, "duration", "event", by="custody"), max(rep, 5)),
        "cif cause 1": timed(lambda: cif(d, "duration", "status", cause=1), max(rep, 5)),
        "mcf (AG data)": timed(lambda: mcf(ag, "start", "stop", "event", "id"), max(rep, 5)),
        "cox efron": timed(lambda: cox(d, "duration", "event", COVS), rep),
        "cox efron cluster-robust": timed(lambda: cox(d, "duration", "event", COVS, cluster="person"), rep),
        "finegray censoring-complete": timed(
            lambda: finegray(d, "duration", "status", 1, COVS, censor_time="censor_time"), rep
        ),
        "finegray IPCW": timed(lambda: finegray(d, "duration", "status", 1, COVS), rep),
        "recurrent AG robust": timed(lambda: recurrent(ag, "start", "stop", "event", "id", ["x", "z"]), rep),
    }
    ours_peak = peak_mb()

    import lifelines
    from statsmodels.duration.hazard_regression import PHReg

    X = d[COVS].to_numpy(float)
    base: dict[str, tuple[str, Timing | None]] = {}
    base["km (by custody)"] = (
        "lifelines KaplanMeierFitter x2",
        timed(
            lambda: [lifelines.KaplanMeierFitter().fit(g.duration, g.event) for _, g in d.groupby("custody")],
            max(rep, 5),
        ),
    )
    base["cif cause 1"] = (
        "lifelines AalenJohansenFitter",
        timed(lambda: lifelines.AalenJohansenFitter().fit(d.duration, d.status, event_of_interest=1), 1),
    )
    base["mcf (AG data)"] = (
        "lifelines NelsonAalenFitter(entry), no robust var",
        timed(lambda: lifelines.NelsonAalenFitter().fit(ag.stop, ag.event, entry=ag.start), max(rep, 3)),
    )
    base["cox efron"] = (
        "statsmodels PHReg efron",
        timed(lambda: PHReg(d.duration, X, status=d.event, ties="efron").fit(), 1),
    )
    lif_plain = timed(lambda: lifelines.CoxPHFitter().fit(d[[*COVS, "duration", "event"]], "duration", "event"), 1)
    slow = args.skip_slow
    base["cox efron cluster-robust"] = (
        "statsmodels PHReg fit(groups)",
        None if slow else timed(lambda: PHReg(d.duration, X, status=d.event, ties="efron").fit(groups=d.person), 1),
    )
    dcc = d.assign(t2=np.where(d.status == 2, d.censor_time, d.duration))
    base["finegray censoring-complete"] = (
        "statsmodels PHReg complete + groups",
        None
        if slow
        else timed(lambda: PHReg(dcc.t2, X, status=dcc.event, ties="efron").fit(groups=np.arange(len(d))), 1),
    )
    base["finegray IPCW"] = ("(no Python Fine-Gray; docs/methods.md §0.4)", None)
    base["recurrent AG robust"] = (
        "statsmodels PHReg(entry+1e-6) groups",
        None
        if slow
        else timed(
            lambda: PHReg(
                ag.stop, ag[["x", "z"]].to_numpy(float), status=ag.event, entry=ag.start + 1e-6, ties="efron"
            ).fit(groups=ag.id),
            1,
        ),
    )
    sub = d.iloc[:100_000]
    lif_sub = (
        None
        if slow
        else timed(
            lambda: lifelines.CoxPHFitter().fit(
                sub[[*COVS, "duration", "event", "person"]], "duration", "event", cluster_col="person"
            ),
            1,
        )
    )
    ours_sub = timed(lambda: cox(sub, "duration", "event", COVS, cluster="person"), rep)

    def row(fig: str, v: Timing, name: str, b: Timing | None) -> None:
        bw = f"{b[0]:8.2f} {b[1]:8.2f}" if b is not None else "       -        -"
        ratio = f"{b[0] / v[0]:7.1f} {b[1] / v[1]:7.1f}" if b is not None else "      -       -"
        print(f"{fig:33s} {v[0]:8.2f} {v[1]:8.2f}  {name:45s} {bw} {ratio}")

    print(
        f"\n{'figure':33s} {'ours s':>8s} {'cpu s':>8s}  {'baseline':45s} {'base s':>8s} {'cpu s':>8s}"
        f" {'ratio':>7s} {'cpu rat':>7s}"
    )
    for k, v in ours.items():
        name, b = base[k]
        row(k, v, name, b)
    row("cox efron", ours["cox efron"], "lifelines CoxPHFitter (Efron)", lif_plain)
    row("cox cluster-robust, 1e5 rows", ours_sub, "lifelines CoxPHFitter cluster_col (1e5 only)", lif_sub)
    print(
        "\ns = median wall seconds, cpu s = median CPU seconds (process_time, all threads); ratio ="
        f" baseline / ours. Repeats: ours {rep} (5 for curves), slow baselines once."
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"peak RSS after our figures: {ours_peak:.0f} MB; after baselines: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
