"""Benchmark: the differencing ledger. Time to check the 50th output against a ledger of 49 on 1,000,000 records
(goal <= 2 s), warm (same process) and cold (a new process opening the on-disk ledger), against the same
Session.crosstab with an empty ledger and against bare pandas.crosstab in the same run.

Data: 1,000,000 people, 10 categorical variables (3-13 levels), person ids. The 49 earlier outputs are two-way
tables on different pairs of variables, a third of them on sub-populations (one year, one sex, one region), some
with margins; the 50th is a two-way table on a nested population (adults in one year).

Run: .venv/bin/python bench/ledger.py [--n 1000000] [--repeats 3]
Prints one table: figure, ours (median s), baseline (median s, same run), ratio; then peak RSS.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mib, print_table

from djs_toolkit.sdc import Session

VARS = {
    "court": 12,
    "outcome": 5,
    "sex": 2,
    "age_band": 6,
    "region": 9,
    "offence": 13,
    "year": 4,
    "ethnicity": 5,
    "prior": 4,
    "disposal": 3,
}


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for name, k in VARS.items():
        p = rng.dirichlet(np.full(k, 3.0))
        cols[name] = pd.Categorical.from_codes(rng.choice(k, n, p=p), [f"{name[:3]}{i}" for i in range(k)])
    df = pd.DataFrame(cols)
    df["person_id"] = rng.permutation(n).astype(np.int64) + 1_000_000
    return df


def earlier_outputs(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str, str, bool]]:
    pairs = list(itertools.combinations(VARS, 2))
    subsets = [
        ("all", df),
        ("y0", df[df.year == "yea0"]),
        ("sexF", df[df.sex == "sex0"]),
        ("reg1", df[df.region == "reg1"]),
    ]
    specs = []
    for k in range(49):  # 45 pairs, then 4 of them again on another population
        a, b = pairs[k % len(pairs)]
        tag, d = subsets[0] if k % 3 else subsets[1 + (k // 3) % 3]
        if k >= len(pairs):
            tag, d = subsets[1 + k % 3]
        specs.append((f"t{k:02d}_{tag}", d, a, b, k % 2 == 0))
    return specs


def build(ledger: Path, df: pd.DataFrame) -> float:
    s = Session("srs", ledger=ledger, differencing_lp_budget=10**9)
    t0 = time.perf_counter()
    for name, d, a, b, margins in earlier_outputs(df):
        s.crosstab(d[a], d[b], margins=margins, name=name, record_id=d.person_id)
    return time.perf_counter() - t0


def fiftieth(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df.year == "yea1") & (df.age_band != "age0")]


COLD = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from ledger import make_data, fiftieth
from djs_toolkit.sdc import Session
df = make_data(int(sys.argv[2]))
d = fiftieth(df)
t0 = time.perf_counter()
o = Session("srs", ledger=sys.argv[1], differencing_lp_budget=10**9).crosstab(
    d.court, d.outcome, margins=True, name="t49_cold", record_id=d.person_id)
print(time.perf_counter() - t0, o.status)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    df = make_data(args.n)
    work = Path(tempfile.mkdtemp(prefix="djs_ledger_bench_"))
    try:
        led = work / "ledger"
        t_build = build(led, df)
        d = fiftieth(df)
        ours, empty, diff_only, pandas_t = [], [], [], []
        for r in range(args.repeats):
            copy = work / f"ledger{r}"  # each repeat checks against exactly the 49 earlier outputs
            shutil.copytree(led, copy)
            s = Session("srs", ledger=copy, differencing_lp_budget=10**9)
            t0 = time.perf_counter()
            o = s.crosstab(d.court, d.outcome, margins=True, name=f"t49_{r}", record_id=d.person_id)
            ours.append(time.perf_counter() - t0)
            assert o.status != "fail" and "DifferencingCheck" not in set(o.reasons["rule"]), o.reasons
            # the differencing part alone: the same check again, on the recorded ledger (entry deduplicated)
            from djs_toolkit.sdc.differencing import NewOutput, check_new

            store = s.ledger_store()
            keys = store.hash_ids(o.record_id)
            new = NewOutput(
                o.name + "x", o.released, o.cell_labels, store.store_keyset(keys), "record_id", tuple(o.variables)
            )
            t0 = time.perf_counter()
            res = check_new(store, new, s.profile, 600, entries=[e for e in store.entries() if e.name != o.name])
            shutil.rmtree(copy, ignore_errors=True)
            diff_only.append(time.perf_counter() - t0)
            assert res.compared == 49, res.compared
            t0 = time.perf_counter()
            Session("srs", ledger=work / f"empty{r}").crosstab(d.court, d.outcome, margins=True, record_id=d.person_id)
            empty.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pd.crosstab(d.court, d.outcome, margins=True)
            pandas_t.append(time.perf_counter() - t0)
        cold = subprocess.run(
            [sys.executable, "-c", COLD, str(led), str(args.n), str(Path(__file__).parent)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()

        def med(xs: list[float]) -> float:
            return float(np.median(xs))

        rows = [
            {
                "figure": "50th output vs ledger of 49, warm (Session.crosstab)",
                "ours": f"{med(ours):.2f}",
                "baseline": f"{med(empty):.2f}",
                "ratio": f"{med(ours) / med(empty):.1f}x",
                "note": "baseline = same call, empty ledger",
            },
            {
                "figure": "50th output vs ledger of 49, cold (new process)",
                "ours": f"{float(cold[0]):.2f}",
                "baseline": f"{med(empty):.2f}",
                "ratio": f"{float(cold[0]) / med(empty):.1f}x",
                "note": f"status {cold[1]}",
            },
            {
                "figure": "differencing check alone (49 pairs)",
                "ours": f"{med(diff_only):.2f}",
                "baseline": f"{med(pandas_t):.2f}",
                "ratio": f"{med(diff_only) / med(pandas_t):.1f}x",
                "note": "baseline = pandas.crosstab",
            },
            {
                "figure": "building the 49 earlier outputs (total)",
                "ours": f"{t_build:.1f}",
                "baseline": "",
                "ratio": "",
                "note": f"{args.n:,} records",
            },
        ]
        print_table(rows, ["figure", "ours", "baseline", "ratio", "note"])
        size = sum(p.stat().st_size for p in led.rglob("*") if p.is_file()) / 2**20
        print(f"ledger size on disk: {size:.0f} MiB; peak RSS: {peak_rss_mib():.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
