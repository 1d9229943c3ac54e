"""Benchmark: notebook 50_journeys' analysis (multi-state journeys) on a dummy extract, against baselines.

Run: `.venv/bin/python bench/multistate.py [--scale medium] [--root PATH] [--repeats 3]`.
Prints one table (figure, ours s, baseline, baseline s, ratio) and peak RSS. The spine is built first and timed on
its own line (shared by every notebook of a `djs run`, not counted). Then, per start event of the pipeline's sets
(possession claim by sex, Family Law Act case by ethnicity, care proceedings by age band): the whole analysis
(`journeys.multistate`: cohort and contacts in DuckDB, state paths, Aalen-Johansen with infinitesimal-jackknife
SEs, three protected tables) and the estimator alone on its start-stop rows. Baselines in the same run on the same
rows: survfit's own algorithm written out in numpy (every person's influence updated at every transition time, the
survival 3.5-3 C loop), and lifelines' AalenJohansenFitter on the one transition it can take (first move into the
criminal courts, other first moves competing; tie jitter and its delta-method variance). Goal (issue 21): each
notebook under 3 minutes on 2 cores, not counting the spine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import lifelines  # noqa: F401  (imported up front: one-off import time is not part of any figure)
from _common import dummy_extract, peak_rss_mib, print_table, timed

from djs_toolkit import journeys, open_extract, spine
from djs_toolkit.sdc import Session
from djs_toolkit.survival import multistate

SETS = [
    ("possession", "possession_claim", "sex"),
    ("family_law_act", "family_case_start: case_type=Family Law Act", "ethnicity_group"),
    ("care", "family_case_start: case_type=Public law", "age_band"),
]
HORIZON, STEP = 1095, 91


def survfit_loop(rows: pd.DataFrame, states: tuple[str, ...], times: np.ndarray) -> np.ndarray:
    """survfit's algorithm as its C code runs it: U = U H - coef H + coef e_after for every person at every
    transition time; the variance at each reported time. Returns the SEs (times x states)."""
    code = {s: i for i, s in enumerate(states)}
    s_n = len(states)
    start, stop = rows["start"].to_numpy(float), rows["stop"].to_numpy(float)
    src = rows["from_state"].map(code).to_numpy()
    dst = np.array([code.get(v, -1) for v in rows["to_state"]])
    pid = pd.factorize(rows["pid"])[0]
    n = pid.max() + 1
    ev_t = np.unique(stop[dst >= 0])
    t0 = ev_t[0]
    at0 = (start < t0) & (stop >= t0)
    p = np.bincount(src[at0], minlength=s_n) / at0.sum()
    u = np.zeros((n, s_n))
    u[pid[at0]] = (np.eye(s_n)[src[at0]] - p) / at0.sum()
    out = np.zeros((len(times), s_n))
    k = 0
    for t in ev_t:
        while k < len(times) and times[k] < t:
            out[k] = np.sqrt((u**2).sum(axis=0))
            k += 1
        at = (start < t) & (stop >= t)
        y = np.bincount(src[at], minlength=s_n).astype(float)
        mv = at & (stop == t) & (dst >= 0)
        d = np.zeros((s_n, s_n))
        np.add.at(d, (src[mv], dst[mv]), 1.0)
        rate = np.where(y[:, None] > 0, d / np.maximum(y, 1)[:, None], 0.0)
        h = np.eye(s_n) + rate - np.diag(rate.sum(axis=1))
        u = u @ h
        who, st = pid[at], src[at]
        coef = p[st] / y[st]
        u[who] -= coef[:, None] * h[st]
        after = np.where(mv[at], dst[at], st)
        u[who, after] += coef
        p = p @ h
    while k < len(times):
        out[k] = np.sqrt((u**2).sum(axis=0))
        k += 1
    return out


def lifelines_first_move(rows: pd.DataFrame) -> float:
    """lifelines AalenJohansenFitter on the time to the first move (into the criminal courts vs any other move)."""
    from lifelines import AalenJohansenFitter

    first = rows[rows.groupby("pid")["start"].transform("min") == rows["start"]]
    first = first[first["start"] == 0]
    cause = np.where(first["to_state"] == "", 0, np.where(first["to_state"] == "criminal court", 1, 2))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AalenJohansenFitter(seed=0).fit(first["stop"].to_numpy(float), cause, event_of_interest=1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="medium")
    ap.add_argument("--root", default=None, help="an extract folder instead of the cached dummy")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-loop", action="store_true", help="skip the survfit-loop baseline (slow at scale)")
    args = ap.parse_args()
    root = Path(args.root) if args.root else dummy_extract(args.scale)
    ex = open_extract(root)
    t0 = time.perf_counter()
    spine.build_spine(ex)
    print(f"# spine built in {time.perf_counter() - t0:.1f} s (not counted); scale {args.scale}", flush=True)
    rows_out = []
    for label, start, by in SETS:
        sec, j = timed(
            lambda start=start, by=by: journeys.multistate(
                ex, start, horizon_days=HORIZON, by=by, step_days=STEP, session=Session("srs", ledger=False)
            ),
            args.repeats,
        )
        r = j.rows
        grid = j.times
        est, _ = timed(
            lambda r=r, j=j, grid=grid: multistate(
                r, "start", "stop", "from_state", "to_state", "pid", states=j.states, by="grp", times=grid
            ),
            args.repeats,
        )
        people = j.info["people"]
        rows_out.append({"figure": f"{label} by {by}: whole analysis ({people:,} people, {len(r):,} rows)",
                         "ours s": f"{sec:.2f}", "baseline": "", "baseline s": "", "ratio": ""})  # fmt: skip
        line = {"figure": f"{label}: Aalen-Johansen + IJ SEs, {len(grid)} times", "ours s": f"{est:.2f}"}
        if not args.skip_loop:
            base, _ = timed(
                lambda r=r, j=j, grid=grid: [survfit_loop(g, j.states, grid) for _, g in r.groupby("grp")], 1
            )
            line.update({"baseline": "survfit loop (numpy)", "baseline s": f"{base:.2f}", "ratio": f"{base / est:.1f}"})
        rows_out.append(line)
        ll = float(np.median([lifelines_first_move(r) for _ in range(args.repeats)]))
        one, _ = timed(
            lambda r=r, j=j, grid=grid: multistate(
                r[(r.groupby("pid")["start"].transform("min") == r["start"]) & (r["start"] == 0)],
                "start", "stop", "from_state", "to_state", "pid", states=j.states, times=grid,
            ),
            args.repeats,
        )  # fmt: skip
        rows_out.append({"figure": f"{label}: first move only (one transition type)", "ours s": f"{one:.2f}",
                         "baseline": "lifelines AalenJohansenFitter", "baseline s": f"{ll:.2f}",
                         "ratio": f"{ll / one:.1f}"})  # fmt: skip
        for row in rows_out[-3:]:
            print("# " + " | ".join(str(v) for v in row.values()), flush=True)
        print(f"# {label} done; peak RSS so far {peak_rss_mib():,.0f} MiB", flush=True)
    print_table(rows_out, ["figure", "ours s", "baseline", "baseline s", "ratio"])
    print(f"peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
