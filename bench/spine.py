"""Benchmark: person_events and memberships (+ all 2^k combination counts) on dummy extracts.

Each scale runs in its own process so peak RSS is per scale. Baseline in the same run: the
hand-join researchers do today in pandas (read xjs_link, group persons' datasets, count masks).

Usage: python bench/spine.py [--scales medium national] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dummy_extract, peak_rss_mib, print_table


def _one(scale: str, baseline: bool) -> dict:
    import pandas as pd

    from djs_toolkit import open_extract, overlap, spine

    root = dummy_extract(scale)
    ex = open_extract(root)
    t0 = time.perf_counter()
    spine.build_spine(ex)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = spine.person_events(ex)
    t_events = time.perf_counter() - t0
    n_events = len(ev)
    del ev
    t0 = time.perf_counter()
    m = overlap.memberships(ex)
    masks = overlap.membership_masks(ex)
    t_members = time.perf_counter() - t0
    out = {
        "scale": scale,
        "events": n_events,
        "persons": len(m),
        "build_s": t_build,
        "person_events_s": t_events,
        "memberships_and_masks_s": t_members,
    }
    out["peak_rss_mib"] = peak_rss_mib()  # ours, before the baseline runs in this process
    if baseline:
        # What a researcher does by hand: the whole link table into pandas, then a groupby (no window).
        t0 = time.perf_counter()
        link = pd.read_parquet(
            sorted(root.glob("xjs_link*.parquet")) or root / "xjs_link",
            columns=["source_dataset", "estimated_xjs_id"],
        )
        labels = sorted(link["source_dataset"].unique())
        link["bit"] = link["source_dataset"].map({d: 1 << i for i, d in enumerate(labels)}).astype("int64")
        per_person = link.drop_duplicates(["estimated_xjs_id", "bit"]).groupby("estimated_xjs_id")["bit"].sum()
        per_person.value_counts()
        out["pandas_masks_s"] = time.perf_counter() - t0
    out["masks_nonzero"] = int((masks["persons"] > 0).sum())
    out["peak_rss_after_baseline_mib"] = peak_rss_mib()
    print(f"# {scale}: " + ", ".join(f"{k} {v:.1f}" for k, v in out.items() if k.endswith("_s")), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", nargs="+", default=["medium", "national"])
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, not args.no_baseline)))
        return
    rows = []
    for scale in args.scales:
        cmd = [sys.executable, __file__, "--child", scale] + (["--no-baseline"] if args.no_baseline else [])
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        for line in res.stdout.splitlines():
            if line.startswith("#"):
                print(line)
        r = json.loads(res.stdout.splitlines()[-1])
        base = r.get("pandas_masks_s")
        rows.append(
            {
                "scale": r["scale"],
                "persons": f"{r['persons']:,}",
                "events": f"{r['events']:,}",
                "spine build s": f"{r['build_s']:.1f}",
                "person_events s": f"{r['person_events_s']:.1f}",
                "both s": f"{r['build_s'] + r['person_events_s']:.1f}",
                "memberships+2^k s": f"{r['memberships_and_masks_s']:.1f}",
                "pandas hand-join s": f"{base:.1f}" if base else "-",
                "ratio": f"{r['memberships_and_masks_s'] / base:.2f}" if base else "-",
                "peak RSS MiB": f"{r['peak_rss_mib']:.0f}",
                "peak RSS with baseline MiB": f"{r['peak_rss_after_baseline_mib']:.0f}",
            }
        )
    print_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
