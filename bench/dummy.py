"""Benchmark of the dummy extract generator: wall time, CPU time and peak RSS per scale.

Run: `.venv/bin/python bench/dummy.py [--national] [--scales tiny small medium]`. Prints one table
row per scale: persons, rows per table, wall time, peak RSS (max of this process and its worker
processes, from `resource.getrusage`). Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq

from djs_toolkit.dummy import SCALES, generate
from djs_toolkit.schema import TABLES


def _rows(root: Path) -> dict[str, int]:
    out = {}
    for name in TABLES:
        files = (
            [root / f"{name}.parquet"]
            if (root / f"{name}.parquet").exists()
            else sorted(root.glob(f"{name}_[0-9][0-9].parquet"))
        )
        out[name] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return out


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=["tiny", "small", "medium"], choices=list(SCALES))
    ap.add_argument("--national", action="store_true", help="also run the national scale (minutes, GiBs)")
    ap.add_argument("--keep", help="write extracts under this directory instead of a temporary one")
    args = ap.parse_args(argv)
    scales = list(args.scales) + (["national"] if args.national and "national" not in args.scales else [])
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="djs-bench-"))
    print(f"{'scale':<9} {'persons':>10} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13}  rows per table")
    for scale in scales:
        out = base / scale
        t0, c0 = time.perf_counter(), time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        generate(out, scale=scale, seed=0)
        wall = time.perf_counter() - t0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - c0 + (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
        import json

        persons = json.loads((out / "truth" / "config.json").read_text(encoding="utf-8"))["persons"]
        rows = _rows(out)
        print(
            f"{scale:<9} {persons:>10,} {wall:>8.1f} {cpu:>8.1f} {_peak_rss_mib():>13,.0f}  "
            + ", ".join(f"{k}={v:,}" for k, v in rows.items()),
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
