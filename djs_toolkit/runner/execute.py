"""Execute one notebook run with papermill in a fresh kernel, then check what it staged.

One call = one run = one new kernel (`kernel_name="python3"` passed explicitly: papermill#251), a per-cell timeout
(papermill has none by default, docs/workflow.md §2.1), the Windows selector event loop on Python < 3.14 (papermill#515,
§2.2, §6.9), and the run context in environment variables (the kernel inherits the launcher's environment). The function
is top-level and takes/returns plain dicts so a `spawn` process pool can run it: several runs go to separate processes,
never threads (papermill's `cwd` is not thread-safe: papermill#473/#578).

Nothing here prints a cell's output or an exception's message: those can hold row values. The summary carries the
exception's class and cell number only; the full traceback is in the executed notebook under `runs/` (a log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from djs_toolkit.fileio import atomic_write_json, sha256_file
from djs_toolkit.outputs.scan import scan_notebook
from djs_toolkit.outputs.stage import record_problems

__all__ = ["BATCH_ENV", "KERNEL_NAME", "execute_run", "marker_valid", "record_statuses", "staged_records"]

KERNEL_NAME = "python3"
# tqdm reads these at import (tqdm#1491/#1526, docs/workflow.md §5.1): no progress-bar noise in logs.
# Agg backend and fixed hash seed and SOURCE_DATE_EPOCH keep figures and set order reproducible (§5.2, §6.8).
BATCH_ENV = {
    "TQDM_DISABLE": "1",
    "TQDM_MININTERVAL": "5",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "SOURCE_DATE_EPOCH": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _windows_event_loop() -> None:
    # zmq needs a selector loop; Proactor became the default in 3.8 and the policy API is deprecated in 3.14.
    if sys.platform == "win32" and sys.version_info < (3, 14):
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]


def staged_records(stage: Path) -> list[Path]:
    """Record folders staged by a run (hidden temporary folders of a killed save are not records).

    Example:
        >>> staged_records(Path("no-such-folder"))
        []
    """
    stage = Path(stage)
    return sorted(p for p in stage.iterdir() if p.is_dir() and not p.name.startswith(".")) if stage.is_dir() else []


def record_statuses(records: list[Path]) -> dict[str, int]:
    """Outputs by status (`pass`, `review`, `fail`) across staged records.

    Example:
        >>> record_statuses([])
        {'pass': 0, 'review': 0, 'fail': 0}
    """
    counts = {"pass": 0, "review": 0, "fail": 0}
    for rec in records:
        doc = json.loads((rec / "results.json").read_text(encoding="utf-8"))
        for entry in doc.get("results", {}).values():
            counts[entry.get("status", "fail")] = counts.get(entry.get("status", "fail"), 0) + 1
    return counts


def marker_valid(marker: Path, fingerprint: str, stage: Path) -> bool:
    """True when a finished run's marker matches its inputs and every staged record is complete and unaltered.

    This is what `--resume` trusts to skip a run.

    Example:
        >>> marker_valid(Path("no-marker.json"), "abc", Path("no-stage"))
        False
    """
    if not Path(marker).is_file():
        return False
    doc = json.loads(Path(marker).read_text(encoding="utf-8"))
    records = staged_records(stage)
    if doc.get("fingerprint") != fingerprint or doc.get("status") != "ok":
        return False
    if sorted(doc.get("records", {})) != [r.name for r in records]:
        return False
    return all(
        not record_problems(r) and sha256_file(r / "manifest-sha256.txt") == doc["records"][r.name] for r in records
    )


def execute_run(task: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill and check its staged records; write the done-marker on success.

    Args:
        task: `label`, `notebook`, `executed` (output .ipynb), `stage`, `marker`, `cwd`, `parameters`, `env`,
            `timeout` (per cell, s), `fingerprint`, `min_safe_count`.

    Returns:
        `label`, `status` (`ok` | `failed` | `timeout`), `seconds`, `error` (class and cell only), `outputs` by
        status, `scan` (problems found in the executed notebook).

    Example:
        >>> execute_run  # doctest: +SKIP
    """
    import papermill as pm

    stage, executed = Path(task["stage"]), Path(task["executed"])
    shutil.rmtree(stage, ignore_errors=True)  # a rerun starts clean: no record of an earlier attempt survives
    stage.mkdir(parents=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    Path(task["marker"]).unlink(missing_ok=True)
    status, error = "ok", ""
    t0 = time.perf_counter()
    with _environ({**BATCH_ENV, **task["env"]}):
        _windows_event_loop()
        try:
            pm.execute_notebook(
                str(task["notebook"]),
                str(executed),
                parameters=task["parameters"],
                kernel_name=KERNEL_NAME,
                execution_timeout=int(task["timeout"]),
                start_timeout=120,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=True,
                cwd=str(task["cwd"]),
                # Every record is already complete when the last cell ends: no need to wait for a graceful exit.
                shutdown_kernel="immediate",
            )
        except pm.PapermillExecutionError as exc:
            status, error = "failed", f"{exc.ename} in cell {exc.cell_index} of the executed notebook"
        except Exception as exc:
            name = type(exc).__name__
            timed_out = "Timeout" in name
            status = "timeout" if timed_out else "failed"
            error = f"{name}: a cell ran longer than the {task['timeout']} s per-cell timeout" if timed_out else name
    seconds = round(time.perf_counter() - t0, 1)
    for tmp in stage.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    records = staged_records(stage)
    bad = [p for r in records for p in record_problems(r)]
    if status == "ok" and bad:
        status, error = "failed", f"{len(bad)} staged record problem(s)"
    scan = scan_notebook(executed, int(task["min_safe_count"])) if status == "ok" and executed.is_file() else []
    result = {
        "label": task["label"],
        "status": status,
        "seconds": seconds,
        "error": error,
        "outputs": record_statuses(records) if not bad else {},
        "scan": scan,
    }
    if status == "ok":
        atomic_write_json(
            Path(task["marker"]),
            {
                "fingerprint": task["fingerprint"],
                "status": status,
                "seconds": seconds,
                "scan": scan,
                "outputs": result["outputs"],
                "records": {r.name: sha256_file(r / "manifest-sha256.txt") for r in records},
            },
        )
    return result
