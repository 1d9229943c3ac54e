"""Bench: the whole `djs run` pipeline on dummy extracts of several scales (wall time, peak RSS, byte-identity).

Runs `python -m djs_toolkit.cli run <pipeline> --data <extract>` in a child process per scale, twice with
--repeats 2 (the second run also checks the release bytes and manifest are identical). Peak RSS is the largest
single process among the runner and its kernels (getrusage of waited-for descendants). Dummy extracts are generated
once under $DJS_BENCH_DATA (default /tmp/djs_bench) and reused.

Until the research notebooks exist, pipeline.yaml lists the runner's fixture notebooks (extract_counts reads the
extract; counts uses synthetic data), so these numbers measure the runner, kernel start-up and the output checker
rather than the analyses.

Usage: python bench/pipeline.py [--scales small,medium,national] [--jobs 2] [--pipeline pipeline.yaml]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dummy_extract, print_table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Runs the pipeline as a child and reports the largest resident set among its waited-for descendants (Linux: KiB).
WRAPPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0,
                  "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def run_once(pipeline: Path, data: Path, jobs: int, work: Path) -> dict:
    """One `djs run` in a child process; returns rc, seconds, peak RSS and the bundle folder."""
    outs, runs = work / "outputs", work / "runs"
    cmd = [sys.executable, "-m", "djs_toolkit.cli", "run", str(pipeline), "--data", str(data), "--jobs", str(jobs),
           "--outputs", str(outs), "--runs", str(runs)]
    res = json.loads(subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True,
                                    check=True).stdout)
    bundles = sorted(outs.iterdir()) if outs.is_dir() else []
    res["bundle"] = bundles[-1] if bundles else None
    return res


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="small,medium,national")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, choices=[1, 2])
    ap.add_argument("--pipeline", default=str(REPO / "pipeline.yaml"))
    args = ap.parse_args()
    rows = []
    for scale in [s.strip() for s in args.scales.split(",") if s.strip()]:
        t0 = time.perf_counter()
        data = dummy_extract(scale)
        prep = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix=f"djs-bench-{scale}-") as tmp:
            first = run_once(Path(args.pipeline), data, args.jobs, Path(tmp) / "r1")
            same = "-"
            if args.repeats == 2:
                second = run_once(Path(args.pipeline), data, args.jobs, Path(tmp) / "r2")
                same = str(first["bundle"] is not None and second["bundle"] is not None
                           and _bytes(first["bundle"]) == _bytes(second["bundle"]))
            n_out = len(list((first["bundle"] / "release").iterdir())) if first["bundle"] else 0
            rows.append({"scale": scale, "jobs": args.jobs, "exit": first["rc"], "wall_s": f"{first['seconds']:.1f}",
                         "peak_rss_mib": f"{first['rss_kib'] / 1024:.0f}", "release_files": n_out,
                         "identical_rerun": same, "extract_ready_s": f"{prep:.0f}"})
            print_table(rows[-1:], list(rows[-1]))
            sys.stdout.flush()
    print()
    print_table(rows, list(rows[0]) if rows else [])


if __name__ == "__main__":
    main()
