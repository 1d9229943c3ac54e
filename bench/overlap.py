"""Benchmark: all 2^k dataset combinations and one ordered overlap on the national dummy extract.

Run: `.venv/bin/python bench/overlap.py [--scale national] [--root PATH] [--repeats 1]`.
Prints one table (figure, ours s, baseline s, ratio) and peak RSS. The spine is built first and timed on
its own line (it is shared by every analysis, see bench/spine.py). Ours run before the baselines, so the
first peak-RSS figure is ours alone. Baselines, in the same run and on the same spine rows: the pandas
hand-route a researcher would write (events to pandas, groupby to bitmasks; merge + lifelines KM).
Goals (issue 8): all 2^k combinations <= 15 s, one ordered overlap <= 30 s at national scale.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

import lifelines  # noqa: F401  (imported up front: one-off import time is not part of any figure)
from _common import dummy_extract, peak_rss_mib, print_table, timed

import djs_toolkit.survival  # noqa: F401  (imported up front too, for the same reason)
from djs_toolkit import open_extract, overlap, spine

LABELS = ["mags_hocas", "crown_xhibit", "prison_nomis", "probation_delius", "familyman", "civil_caseman_pcol"]
FIRST, THEN, DAYS = "civil_claim", "mags_case", 365


def baseline_sets(ex, window) -> np.ndarray:
    """Pandas: distinct (person, dataset) rows in the window, bitmask per person, counts per mask."""
    inlist = ", ".join(f"'{d}'" for d in LABELS)
    ev = ex.engine.con.sql(
        f"SELECT person_id, dataset FROM _spine WHERE dataset IN ({inlist}) AND event_date >= "
        f"DATE '{window[0].date()}' AND event_date <= DATE '{window[1].date()}'"
    ).df()
    ev = ev.drop_duplicates()
    bit = ev["dataset"].map({d: 1 << i for i, d in enumerate(LABELS)}).astype("int64")
    masks = bit.groupby(ev["person_id"]).sum()
    exc = np.bincount(masks.to_numpy(), minlength=1 << len(LABELS))
    inc = np.array([exc[[t for t in range(len(exc)) if t & s == s]].sum() for s in range(len(exc))])
    return np.r_[exc[1:], inc[1:]]


def baseline_ordered(ex, window, censor: pd.Timestamp) -> tuple[int, float]:
    """Pandas + lifelines: first `first` event per person, next `then` event after it, KM at DAYS."""
    from lifelines import KaplanMeierFitter

    con = ex.engine.con
    a = con.sql(
        f"SELECT person_id, event_date FROM _spine WHERE event_type = '{FIRST}' AND event_date >= "
        f"DATE '{window[0].date()}' AND event_date <= DATE '{window[1].date()}'"
    ).df()
    b = con.sql(f"SELECT person_id, event_date AS d FROM _spine WHERE event_type = '{THEN}'").df()
    t0 = a.groupby("person_id")["event_date"].min().rename("t0")
    m = b.merge(t0, left_on="person_id", right_index=True)
    m = m[(m["d"] > m["t0"]) & (m["d"] <= censor)]
    gap = (m.groupby("person_id")["d"].min().reindex(t0.index) - t0).dt.days
    event = gap.notna()
    time_ = np.where(event, gap, (censor - t0).dt.days)
    kmf = KaplanMeierFitter().fit(time_, event.astype(int))
    return len(t0), 1 - float(kmf.survival_function_at_times(DAYS).iloc[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="national")
    ap.add_argument("--root", type=Path, default=None, help="an existing dummy extract (default: bench cache)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--memory-limit", default="10GB", help="DuckDB memory limit; beyond it DuckDB spills to disk")
    args = ap.parse_args()
    root = args.root or dummy_extract(args.scale)
    ex = open_extract(root)
    # Without a limit DuckDB may take 80% of RAM for the national spine and the process is OOM-killed
    # on a 24 GiB machine (seen); with one, temp tables spill to /tmp.
    ex.engine.con.execute(f"SET memory_limit = '{args.memory_limit}'")
    ex.engine.con.execute("SET temp_directory = '/tmp/djs_bench_duckdb_spill'")
    t0 = time.perf_counter()
    spine.build_spine(ex)
    t_spine = time.perf_counter() - t0
    n_ev = ex.engine.con.sql("SELECT COUNT(*) FROM _spine").fetchall()[0][0]
    print(
        f"# {args.scale}: {n_ev:,} spine events; spine build {t_spine:.1f} s (shared, before any figure); "
        f"peak RSS after build {peak_rss_mib():.0f} MiB",
        flush=True,
    )

    t_sets, sets = timed(lambda: overlap.overlap_sets(ex, LABELS), args.repeats)
    print(f"# overlap_sets {t_sets:.2f} s, peak RSS {peak_rss_mib():.0f} MiB", flush=True)
    t_ord, ordd = timed(lambda: overlap.ordered_overlap(ex, FIRST, THEN, DAYS), args.repeats)
    rss_ours = peak_rss_mib()
    print(f"# ordered_overlap {t_ord:.2f} s, peak RSS {rss_ours:.0f} MiB", flush=True)
    window, censor = sets.attrs["window"], ordd["censor_date"].iloc[0]
    t_bsets, bsets = timed(lambda: baseline_sets(ex, window), args.repeats)
    print(f"# baseline sets {t_bsets:.2f} s, peak RSS {peak_rss_mib():.0f} MiB", flush=True)
    ord_window = (ordd["window_start"].iloc[0], ordd["window_end"].iloc[0])
    t_bord, bord = timed(lambda: baseline_ordered(ex, ord_window, censor), args.repeats)
    rss_all = peak_rss_mib()

    # Same answers, or the timings compare different work.
    ours = np.r_[sets.set_index("combination")["exclusive"], sets.set_index("combination")["inclusive"]]
    order = sets[LABELS].to_numpy(bool) @ (1 << np.arange(len(LABELS)))
    ref = np.r_[bsets[: len(order)][order - 1], bsets[len(order) :][order - 1]]
    assert (ours == ref).all(), "overlap_sets differs from the pandas baseline"
    assert ordd["n_index"].iloc[0] == bord[0] and abs(ordd["cumulative_incidence"].iloc[0] - bord[1]) < 1e-9
    rows = [
        {
            "figure": f"overlap_sets, 2^{len(LABELS)} combinations",
            "ours s": f"{t_sets:.2f}",
            "baseline": "pandas groupby",
            "baseline s": f"{t_bsets:.2f}",
            "ours/baseline": f"{t_sets / t_bsets:.2f}",
            "goal s": "15",
        },
        {
            "figure": f"ordered_overlap {FIRST} -> {THEN} {DAYS} d",
            "ours s": f"{t_ord:.2f}",
            "baseline": "pandas merge + lifelines KM",
            "baseline s": f"{t_bord:.2f}",
            "ours/baseline": f"{t_ord / t_bord:.2f}",
            "goal s": "30",
        },
    ]
    print_table(rows, list(rows[0]))
    print(f"# peak RSS: {rss_ours:.0f} MiB after ours (includes the spine), {rss_all:.0f} MiB after baselines")
    print(
        f"# union {int(sets['exclusive'].sum()):,} persons; {FIRST} -> {THEN}: n_index "
        f"{int(ordd['n_index'].iloc[0]):,}, incidence {ordd['cumulative_incidence'].iloc[0]:.4f}"
    )


if __name__ == "__main__":
    main()
