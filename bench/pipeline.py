"""Bench: the whole `djs run` research pipeline on dummy extracts (wall time, peak RSS, byte-identical reruns).

Ours: `python -m djs_toolkit.cli run pipeline.yaml --data <extract> --jobs 2` in a child process (the spine is
built once and read in place by every kernel). Baseline, in the same session: what a researcher does with
papermill alone, every notebook x parameter set one after the other, each kernel building its own spine
(papermill.execute_notebook, outputs to a scratch stage). With --repeats 2, ours runs twice and the two bundles'
release files and manifests are compared byte for byte. Peak RSS is the largest single process among the
child and its kernels (getrusage of waited-for descendants, Linux KiB). Dummy extracts are generated once under
$DJS_BENCH_DATA (default /tmp/djs_bench) and reused.

Usage: python bench/pipeline.py [--scales small,medium,national] [--baseline-scales small,medium] [--repeats 2]
       [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dummy_extract, print_table

REPO = Path(__file__).resolve().parent.parent
# Runs a command as a child and reports the largest resident set among its waited-for descendants.
WRAPPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0,
                  "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""
# The papermill-only baseline: every run in turn, parameters as the runner would inject them.
BASELINE = """
import os, sys, papermill
from pathlib import Path
from djs_toolkit.runner.execute import BATCH_ENV
from djs_toolkit.runner.pipeline import load_pipeline
pipeline, data, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
work.mkdir(parents=True, exist_ok=True)
os.environ.update(BATCH_ENV)
for spec in load_pipeline(pipeline).runs:
    os.environ["DJS_STAGE_DIR"] = str(work / "stage" / spec.label)
    os.environ["DJS_RUN_NAME"] = spec.label
    papermill.execute_notebook(str(spec.notebook), str(work / f"{spec.label}.ipynb"), kernel_name="python3",
                               parameters={**spec.parameters, "data_root": data, "profile": "srs"},
                               cwd=str(spec.notebook.parent), progress_bar=False)
"""


def _measure(cmd: list[str]) -> dict:
    out = json.loads(
        subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True).stdout
    )
    if out["rc"] not in (0, 1):  # 1 = something withheld by the safety scan (fail closed), still a full run
        raise SystemExit(f"{cmd[:3]} failed with exit code {out['rc']}")
    return out


def run_ours(pipeline: Path, data: Path, jobs: int, work: Path) -> dict:
    """One `djs run` in a child process: rc, seconds, peak RSS, and the bundle folder."""
    outs, runs = work / "outputs", work / "runs"
    res = _measure(
        [
            sys.executable,
            "-m",
            "djs_toolkit.cli",
            "run",
            str(pipeline),
            "--data",
            str(data),
            "--jobs",
            str(jobs),
            "--outputs",
            str(outs),
            "--runs",
            str(runs),
        ]
    )
    bundles = sorted(outs.iterdir()) if outs.is_dir() else []
    res["bundle"] = bundles[-1] if bundles else None
    return res


def run_baseline(pipeline: Path, data: Path, work: Path) -> dict:
    """Papermill alone, one run after another, each kernel building its own spine."""
    return _measure([sys.executable, "-c", BASELINE, str(pipeline), str(data), str(work)])


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def statuses(bundle: Path) -> dict[str, int]:
    """Outputs of a bundle by checker status (results.json)."""
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"))["results"]
    out = {"pass": 0, "review": 0, "fail": 0}
    for r in results.values():
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="small,medium,national")
    ap.add_argument(
        "--baseline-scales",
        default="small,medium",
        help="scales that also run the papermill-only baseline (national: about an hour)",
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, choices=[1, 2])
    ap.add_argument("--pipeline", default=str(REPO / "pipeline.yaml"))
    ap.add_argument("--keep", default="", help="copy each scale's first bundle to KEEP/<scale> (for the README)")
    args = ap.parse_args()
    base_scales = {s.strip() for s in args.baseline_scales.split(",") if s.strip()}
    rows = []
    for scale in [s.strip() for s in args.scales.split(",") if s.strip()]:
        data = dummy_extract(scale)
        with tempfile.TemporaryDirectory(prefix=f"djs-bench-{scale}-") as tmp:
            first = run_ours(Path(args.pipeline), data, args.jobs, Path(tmp) / "r1")
            same = manifests = "-"
            if args.repeats == 2:
                second = run_ours(Path(args.pipeline), data, args.jobs, Path(tmp) / "r2")
                if first["bundle"] and second["bundle"]:
                    a, b = _bytes(first["bundle"]), _bytes(second["bundle"])
                    same = str(a == b)
                    manifests = str(
                        all(m in a and a.get(m) == b.get(m) for m in ("manifest.json", "manifest-sha256.txt"))
                    )
            if args.keep and first["bundle"]:
                shutil.copytree(first["bundle"], Path(args.keep) / scale, dirs_exist_ok=True)
            base = run_baseline(Path(args.pipeline), data, Path(tmp) / "base") if scale in base_scales else None
            st = statuses(first["bundle"]) if first["bundle"] else {}
            rows.append(
                {
                    "scale": scale,
                    "runs": 17,
                    "exit": first["rc"],
                    "ours_wall_s": f"{first['seconds']:.0f}",
                    "papermill_wall_s": f"{base['seconds']:.0f}" if base else "-",
                    "ratio": f"{first['seconds'] / base['seconds']:.2f}" if base else "-",
                    "ours_peak_rss_mib": f"{first['rss_kib'] / 1024:.0f}",
                    "papermill_peak_rss_mib": f"{base['rss_kib'] / 1024:.0f}" if base else "-",
                    "outputs_pass/review/fail": f"{st.get('pass', 0)}/{st.get('review', 0)}/{st.get('fail', 0)}",
                    "identical_rerun": same,
                    "same_manifest": manifests,
                }
            )
            print_table(rows[-1:], list(rows[-1]))
            sys.stdout.flush()
    print()
    print_table(rows, list(rows[0]) if rows else [])


if __name__ == "__main__":
    main()
