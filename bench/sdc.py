"""Benchmark: djs_toolkit.sdc Session.crosstab against bare pandas.crosstab in the same run (and ACRO 1.0.2 when a
side environment exists at /tmp/acroenv). Data as in docs/disclosure.md §2.8: 1,000,000 rows, region (10
levels) x offence (12 levels + 1 rare level with 5 rows), gamma-distributed sentence_days.

Run: .venv/bin/python bench/sdc.py [--repeats 5]
Prints one table: figure, ours (median s), pandas baseline (median s), ratio, ACRO (median s) where available;
then peak RSS of this process (resource.getrusage).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.sdc import Session, load_profile

ACRO_PY = Path("/tmp/acroenv/bin/python")


def make_data(n: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.integers(0, 10, n)
    offence = rng.integers(0, 12, n)
    offence[rng.choice(n, 5, replace=False)] = 12  # the rare level
    return pd.DataFrame(
        {
            "region": np.array([f"region_{i:02d}" for i in range(10)])[region],
            "offence": np.array([f"offence_{i:02d}" for i in range(12)] + ["offence_rare"])[offence],
            "sentence_days": rng.gamma(0.6, 300.0, n).round(),
            "age": rng.integers(18, 90, n),
        }
    )


def paired_times(ours, base, repeats: int) -> tuple[float, float]:
    """Median seconds of `ours` and `base`, run alternately so machine load hits both alike."""
    ours()
    base()  # warm-up (imports, caches)
    a, b = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        base()
        b.append(time.perf_counter() - t0)
    return float(np.median(a)), float(np.median(b))


ACRO_SCRIPT = r"""
import json, logging, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
logging.getLogger("acro").setLevel(logging.WARNING)
from acro import ACRO
df = pd.read_parquet(sys.argv[1]) if sys.argv[1].endswith(".parquet") else pd.read_pickle(sys.argv[1])
reps = int(sys.argv[2])
def med(fn):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return float(np.median(ts))
a = ACRO(suppress=False); s = ACRO(suppress=True)
out = {
 "count": med(lambda: a.crosstab(df.region, df.offence)),
 "suppress_margins": med(lambda: s.crosstab(df.region, df.offence, margins=True)),
 "sum_dominance": med(lambda: a.crosstab(df.region, df.offence, values=df.sentence_days, aggfunc="sum")),
}
print(json.dumps(out))
"""


def acro_times(df: pd.DataFrame, repeats: int) -> dict[str, float]:
    if not ACRO_PY.exists():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bench.pkl"
        df.to_pickle(data)
        script = Path(tmp) / "acro_bench.py"
        script.write_text(ACRO_SCRIPT, encoding="utf-8")
        env = dict(os.environ, MPLBACKEND="Agg")
        try:
            res = subprocess.run(
                [str(ACRO_PY), str(script), str(data), str(max(1, repeats // 2))],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=900,
                env=env,
            )
        except (OSError, subprocess.TimeoutExpired):
            return {}
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if res.returncode == 0 and lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-acro", action="store_true")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)
    df = make_data(args.rows)
    # In-memory ledgers, as before the project's ledger became the default: the benchmark measures the checks (and
    # leaves the project's checker-only ledger alone).
    check_only = Session(load_profile("srs", mitigation="none"), ledger=False)
    protecting = Session("srs", ledger=False)

    def run(session: Session, **kw: object) -> None:
        session.crosstab(df.region, df.offence, **kw)
        session.outputs.clear()  # keep memory flat across repeats

    rows = [
        ("count table, check only", lambda: run(check_only), lambda: pd.crosstab(df.region, df.offence), "count"),
        (
            "count table + margins, suppression + audit",
            lambda: run(protecting, margins=True),
            lambda: pd.crosstab(df.region, df.offence, margins=True),
            "suppress_margins",
        ),
        (
            "sum table, threshold + N-K + p%, check only",
            lambda: run(check_only, values=df.sentence_days, aggfunc="sum"),
            lambda: pd.crosstab(df.region, df.offence, values=df.sentence_days, aggfunc="sum"),
            "sum_dominance",
        ),
        (
            "sum table + margins, suppression + audit",
            lambda: run(protecting, values=df.sentence_days, aggfunc="sum", margins=True),
            lambda: pd.crosstab(df.region, df.offence, values=df.sentence_days, aggfunc="sum", margins=True),
            None,
        ),
    ]
    acro = {} if args.no_acro else acro_times(df, args.repeats)
    print(f"rows={len(df):,} repeats={args.repeats} (median seconds; ratio = ours / pandas in this run)")
    header = f"{'figure':<48} {'ours':>8} {'pandas':>8} {'ratio':>6} {'ACRO':>8} {'ACRO/pd':>8}"
    print(header)
    print("-" * len(header))
    for label, ours_fn, base_fn, acro_key in rows:
        ours, base = paired_times(ours_fn, base_fn, args.repeats)
        a = acro.get(acro_key) if acro_key else None
        a_txt = f"{a:8.3f}" if a else f"{'n/a':>8}"
        ar_txt = f"{a / base:8.1f}" if a else f"{'n/a':>8}"
        print(f"{label:<48} {ours:8.3f} {base:8.3f} {ours / base:6.2f} {a_txt} {ar_txt}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process): {peak:.0f} MiB; ACRO side env: {'yes' if acro else 'not available'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
