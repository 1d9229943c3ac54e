"""What `djs run` reports when it ends: the console table, `runs/<run_id>/summary.csv`, and what to do next.

A failed run's own message is shown in both (a `DJSUserError`'s text, or the exception's class, cell and last frame:
`execute.failure_text`), with the path of its executed notebook, so the reason is where the researcher looks and not
only inside `runs/`. Nothing here holds a row value: labels, parameters from pipeline.yaml, counts and those messages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from djs_toolkit.fileio import atomic_write_text
from djs_toolkit.runner.pipeline import RunSpec

__all__ = ["SUMMARY_COLUMNS", "TABLE_COLUMNS", "bundle_statuses", "finish", "progress_line", "summary_row"]

TABLE_COLUMNS = ["run", "notebook", "parameters", "status", "seconds", "pass", "review", "fail"]
SUMMARY_COLUMNS = [*TABLE_COLUMNS, "error", "executed_notebook"]


def _indent(text: str, prefix: str = "    ") -> str:
    first, *rest = str(text).splitlines() or [""]
    return "\n".join([first, *(prefix + line for line in rest)])


def progress_line(res: dict[str, Any], done: int, total: int) -> str:
    """One line (plus the indented rest of a many-line message) for a finished notebook run.

    Example:
        >>> progress_line({"label": "a", "status": "ok", "seconds": 1.0, "outputs": {"pass": 2}, "error": "",
        ...                "scan": [], "notes": []}, 1, 2)
        '[1/2] a: ok in 1.0 s (2 pass, 0 review, 0 fail)'
    """
    outs = res["outputs"]
    line = f"[{done}/{total}] {res['label']}: {res['status']} in {res['seconds']:.1f} s"
    if outs:
        line += f" ({outs.get('pass', 0)} pass, {outs.get('review', 0)} review, {outs.get('fail', 0)} fail)"
    if res["error"]:
        line += f" - {_indent(res['error'])}"
    if res["scan"]:
        line += f" - executed notebook failed the safety scan ({len(res['scan'])} problem(s))"
    for note in res.get("notes", []):
        line += f"\n    note: {note}"
    return line


def bundle_statuses(bundle: Path | None) -> dict[str, dict[str, str]]:
    """Final status of every output by run label, from the bundle (after the runner's checks), or {} without one."""
    if bundle is None:
        return {}
    doc = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    by_run: dict[str, dict[str, str]] = {}
    for uid, entry in doc["results"].items():
        by_run.setdefault(entry["djs_toolkit"]["run"], {})[uid] = entry["status"]
    return by_run


def summary_row(spec: RunSpec, res: dict[str, Any], statuses: dict[str, dict[str, str]]) -> dict[str, Any]:
    """One summary row: the run, its status and outputs by status, and for a failure its message and notebook."""
    outs = dict(res["outputs"])
    if statuses:  # the bundle's statuses: after the runner's differencing across runs and safety scan
        mine = list(statuses.get(spec.label, {}).values())
        outs = {st: mine.count(st) for st in ("pass", "review", "fail")}
    params = spec.parameters_text()
    failed = res["status"] not in ("ok", "skipped")
    return {
        "run": spec.label,
        "notebook": spec.notebook_rel,
        "parameters": params[:40] + ("..." if len(params) > 40 else ""),
        "status": res["status"] if not res["scan"] else "withheld",
        "seconds": f"{res['seconds']:.1f}",
        "pass": outs.get("pass", 0),
        "review": outs.get("review", 0),
        "fail": outs.get("fail", 0),
        "error": res.get("error", "") if failed else "",
        "executed_notebook": res.get("executed", "") if failed else "",
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    buf.write(",".join(SUMMARY_COLUMNS) + "\n")
    writer = csv.DictWriter(buf, SUMMARY_COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerows(rows)  # quoted: a message may hold commas, quotes and line breaks
    return buf.getvalue()


def finish(
    rows: list[dict[str, Any]],
    run_dir: Path,
    bundle: Path | None,
    withheld: dict[str, list[str]],
    echo: Callable[[str], None],
    resume_command: str,
) -> None:
    """Print the summary table, each failure's message and notebook, and what to do; write summary.csv."""
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in TABLE_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in TABLE_COLUMNS)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in TABLE_COLUMNS) for r in rows]
    echo("\n" + "\n".join(lines))
    atomic_write_text(run_dir / "summary.csv", _csv(rows))
    for uid, problems in sorted(withheld.items()):
        echo(f"withheld {uid}: " + "; ".join(problems))
    if bundle is not None:
        echo(f"\noutputs: {bundle} (verify with `djs verify {bundle}`)")
        return
    failed = [r for r in rows if r["status"] not in ("ok", "skipped", "withheld")]
    for r in failed:
        where = r["executed_notebook"] or "none: it failed before its first cell"
        echo(f"\n{r['run']} {r['status']}: {_indent(r['error'] or r['status'], '  ')}\n  executed notebook: {where}")
    echo(
        f"\n{len(failed)} run(s) did not finish: {', '.join(r['run'] for r in failed)}. Fix them, then "
        f"`{resume_command}` (completed runs are skipped); no bundle was written."
    )
