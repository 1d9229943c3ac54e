"""Shared bench helpers: timing with medians, peak RSS, dummy extracts cached under a bench folder."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DATA = Path(os.environ.get("DJS_BENCH_DATA", "/tmp/djs_bench"))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def timed(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def dummy_extract(scale: str, seed: int = 0) -> Path:
    """A dummy extract of ``scale``, generated once and reused across bench runs."""
    from djs_toolkit import dummy

    root = BENCH_DATA / scale
    if not (root / "truth").is_dir():
        t0 = time.perf_counter()
        dummy.generate(root, scale=scale, seed=seed)
        print(f"# generated {scale} dummy extract in {time.perf_counter() - t0:.0f} s", flush=True)
    return root


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A fixed-width table on stdout."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))
