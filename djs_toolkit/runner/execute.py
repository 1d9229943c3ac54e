"""Execute one notebook run with papermill in a fresh kernel, then check what it staged.

One call = one run = one new kernel (`kernel_name="python3"` passed explicitly: papermill#251), a per-cell timeout
(papermill has none by default, docs/workflow.md §2.1), the Windows selector event loop on Python < 3.14 (papermill#515,
§2.2, §6.9), and the run context in environment variables (the kernel inherits the launcher's environment). The function
is top-level and takes/returns plain dicts so a `spawn` process pool can run it: several runs go to separate processes,
never threads (papermill's `cwd` is not thread-safe: papermill#473/#578).

Nothing here prints a cell's output or a library's exception message: those can hold row values. The summary carries
a `DJSUserError`'s text (names and counts only, by the toolkit's rule), or the exception's class, cell and last frame;
the full traceback is in the executed notebook under `runs/` (a log). A kernel that dies before its first cell is
started again (`KERNEL_ATTEMPTS`); how kernels are started is `runner.kernel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from djs_toolkit.fileio import atomic_write_json, sha256_file
from djs_toolkit.outputs.scan import scan_notebook
from djs_toolkit.outputs.stage import record_problems
from djs_toolkit.runner.kernel import kernel_manager_for

__all__ = [
    "BATCH_ENV",
    "KERNEL_ATTEMPTS",
    "KERNEL_NAME",
    "execute_run",
    "failure_text",
    "last_frame",
    "marker_valid",
    "record_statuses",
    "staged_records",
]

KERNEL_NAME = "python3"
KERNEL_ATTEMPTS = 3  # starts of a kernel that dies before its first cell
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
    if sys.platform == "win32":  # a platform check mypy understands: it types this only for Windows
        if sys.version_info < (3, 14):
            asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())


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
    try:
        doc = json.loads(Path(marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent, or damaged (the runner names a damaged one): the run is done again
        return False
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), dict):
        return False
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

    A kernel that dies before running its first cell (a port taken by another job, a slow disk) is started again, up
    to `KERNEL_ATTEMPTS` times, with a note in the result.

    Args:
        task: `label`, `notebook`, `executed` (output .ipynb), `stage`, `marker`, `cwd`, `parameters`, `env`,
            `timeout` (per cell, s), `fingerprint`, `min_safe_count`, optionally `kernel_log` (the kernel's own log).

    Returns:
        `label`, `status` (`ok` | `failed` | `timeout`), `seconds`, `error` (`failure_text`: never a row value),
        `outputs` by status, `scan` (problems found in the executed notebook), `executed` (the executed notebook's
        path, "" when none was written), `notes` (e.g. kernel restarts).

    Example:
        >>> execute_run  # doctest: +SKIP
    """
    stage, executed = Path(task["stage"]), Path(task["executed"])
    executed.parent.mkdir(parents=True, exist_ok=True)
    Path(task["marker"]).unlink(missing_ok=True)
    notes: list[str] = []
    t0 = time.perf_counter()
    with _environ({**BATCH_ENV, **task["env"]}), _quiet_papermill():
        _windows_event_loop()
        for attempt in range(1, KERNEL_ATTEMPTS + 1):
            shutil.rmtree(stage, ignore_errors=True)  # a rerun starts clean: no record of an earlier attempt survives
            stage.mkdir(parents=True)
            executed.unlink(missing_ok=True)
            exc = _papermill(task)
            if exc is None or not _kernel_never_ran(exc, executed) or attempt == KERNEL_ATTEMPTS:
                break
            notes.append(f"kernel died before its first cell ({type(exc).__name__}): started again")
        status, error = ("ok", "") if exc is None else failure_text(exc, task, attempt)
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
        "executed": str(executed) if _cells_started(executed) else "",
        "notes": notes,
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


def _papermill(task: dict[str, Any]) -> BaseException | None:
    """One papermill execution; the exception it ended with (None when every cell ran)."""
    import papermill as pm

    log = task.get("kernel_log")
    try:
        pm.execute_notebook(
            str(task["notebook"]),
            str(task["executed"]),
            parameters=task["parameters"],
            kernel_name=KERNEL_NAME,
            language="python",  # a notebook saved without a kernelspec still takes its parameters
            execution_timeout=int(task["timeout"]),
            start_timeout=120,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            cwd=str(task["cwd"]),
            # Every record is already complete when the last cell ends: no need to wait for a graceful exit.
            shutdown_kernel="immediate",
            kernel_manager_class=kernel_manager_for(Path(log) if log else None),
        )
    except Exception as exc:
        return exc
    return None


def _kernel_never_ran(exc: BaseException, executed: Path) -> bool:
    """The kernel died or never answered before any cell started: worth one more start (not a notebook's error)."""
    from jupyter_client.kernelspec import NoSuchKernel
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, (PapermillExecutionError, NoSuchKernel, FileNotFoundError, PermissionError)):
        return False
    return not _cells_started(executed)


def _last_started_cell(executed: Path) -> int | None:
    """The index of the last cell that started (the one running when a kernel died), None if none did."""
    try:
        cells = json.loads(Path(executed).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return None
    started = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _cells_started(executed: Path) -> bool:
    """Whether any cell of the executed notebook started (papermill marks unrun cells `completed` when it gives up;
    a cell that ran has a start time)."""
    try:
        cells = json.loads(Path(executed).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return False
    return any(c.get("metadata", {}).get("papermill", {}).get("start_time") for c in cells)


def failure_text(exc: BaseException, task: dict[str, Any], attempts: int = 1) -> tuple[str, str]:
    """(status, message) for a failed run, for the console and summary.csv: never a row value.

    A `DJSUserError` raised in a cell is shown in full (its text names tables, columns and counts only, by the
    toolkit's rule); any other exception by its class, cell and last frame, its message withheld (pandas, DuckDB and
    Python quote values in theirs).

    Example:
        >>> failure_text(TimeoutError("x"), {"timeout": 3, "executed": "no-such.ipynb"}, 3)[1]
        'TimeoutError: the kernel did not start (3 attempt(s))'
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = f"{exc.ename} in cell {exc.cell_index} of the executed notebook"
        if exc.ename == "DJSUserError":
            return "failed", f"{where}: {str(exc.evalue).strip()}"
        frame = last_frame(exc.traceback)
        at = f", raised at {frame}" if frame else ""
        return "failed", f"{where}{at} (message withheld: it may hold data)"
    name = type(exc).__name__
    if isinstance(exc, NoSuchKernel):
        return "failed", (
            f"{name}: no Jupyter kernel named {KERNEL_NAME}: install it with "
            f"`python -m ipykernel install --sys-prefix --name {KERNEL_NAME}` (`djs doctor` checks it)"
        )
    if not _cells_started(Path(task.get("executed") or "-")):
        log = task.get("kernel_log")
        return "failed", f"{name}: the kernel did not start ({attempts} attempt(s))" + (
            f"; its log: {log}" if log else ""
        )
    if "Timeout" in name:
        return "timeout", f"{name}: a cell ran longer than the {task['timeout']} s per-cell timeout"
    cell = _last_started_cell(Path(task["executed"]))
    return "failed", name + (f" in cell {cell} of the executed notebook" if cell is not None else "")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r"File (.+?):(\d+), in (\S+?)(?:\(|$)", re.MULTILINE)
_CELL = re.compile(r"Cell In\[\d+\], line (\d+)")


def last_frame(traceback: list[str]) -> str:
    """The last frame of an IPython traceback as `file:line (function)`, paths shortened; "" if there is none.

    Example:
        >>> last_frame(["Cell In[3], line 2", "File \x1b[32m/x/site-packages/pandas/core/frame.py:41\x1b[0m, in "
        ...             "\x1b[36mDataFrame.__getitem__\x1b[39m(self, key)"])
        'pandas/core/frame.py:41 (DataFrame.__getitem__)'
    """
    for entry in reversed(traceback or []):
        text = _ANSI.sub("", entry)
        m = _FRAME.search(text)
        if m:
            return f"{_short_path(m.group(1))}:{m.group(2)} ({m.group(3)})"
        c = _CELL.search(text)
        if c:
            return f"line {c.group(1)} of the cell"
    return ""


def _short_path(path: str) -> str:
    parts = Path(path).as_posix().split("/")
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    if "djs_toolkit" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("djs_toolkit") :])
    return "/".join(parts[-2:])


@contextlib.contextmanager
def _quiet_papermill() -> Iterator[None]:
    # papermill and nbclient log a dying kernel's id and "Kernel died ..." to the console: the summary says what
    # happened, once, with what to do.
    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
