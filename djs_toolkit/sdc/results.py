"""`finalise`: the clearance folder.

Layout (docs/disclosure.md §2.5 for ACRO's results.json, §7.5 for the checker pack):
- `release/`: only `pass` and `review` outputs; CSVs UTF-8, LF, fixed float format; withheld cells written as
  `[suppressed]`; histogram figures drawn only from the protected tables;
- `results.json`: ACRO 1.0.2's results.json (`sdc.acro`: ACRO's loader and SACRO-Viewer open the folder; withheld
  outputs get a notice in `withheld/`, `checksums/` and `config.json` beside it); our additions under `djs_toolkit`;
- `CLEARANCE.md`: the SRS output request (`sdc.request`): project fields, a summary table, what was suppressed and
  why, then per output its purpose, type, population, variables, N, DoF, controls;
- `checker_only/`: DO-NOT-RELEASE evidence (unrounded unweighted counts, denominators, dominance, audit intervals);
- `manifest-sha256.txt`: sha256 of every file.
The folder is built under a temporary name and renamed into place; an existing path is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from djs_toolkit._version import __version__
from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import atomic_write_bytes
from djs_toolkit.sdc.acro import export_acro
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.request import TO_COMPLETE, Project, kind_of, project_lines, summary_lines, suppressed_lines
from djs_toolkit.sdc.rules import STATBARN, worst

if TYPE_CHECKING:
    from djs_toolkit.sdc.session import Session
from djs_toolkit.sdc.share import share_text

__all__ = ["TOOL_VERSION", "results_json", "write_folder"]

TOOL_VERSION = __version__
FLOAT_FORMAT = "%.6f"
DO_NOT_RELEASE = "DO-NOT-RELEASE"


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))  # the text as it is: a CSV cell may hold a line break


def _csv_text(table: pd.DataFrame, mask: pd.DataFrame | None, index: bool = True) -> str:
    out = table.copy()
    if len(out.columns) and len(out):
        fmt = out.astype(object)
        for col in out.columns:
            s = out[col]
            if pd.api.types.is_float_dtype(s):
                fmt[col] = [("" if pd.isna(v) else FLOAT_FORMAT % v) for v in s]
            else:
                fmt[col] = ["" if pd.isna(v) else str(v) for v in s]
        if mask is not None:
            fmt = fmt.mask(mask.to_numpy(bool), "[suppressed]")
        out = fmt
    return out.to_csv(index=index, lineterminator="\n")


def _release_files(o: Output, release: Path) -> list[str]:
    names: list[str] = []
    if o.type == "custom":
        if o.source_path and Path(o.source_path).is_file():
            dest = release / f"{o.name}{Path(o.source_path).suffix.lower()}"
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(o.source_path, tmp)
            os.replace(tmp, dest)
            names.append(f"release/{dest.name}")
        return names
    _atomic_write(release / f"{o.name}.csv", _csv_text(o.table, o.mask))
    names.append(f"release/{o.name}.csv")
    if o.type == "histogram":
        names.append(f"release/{_draw_histogram(o, release)}")
    if o.type == "survival" and len(o.table) and (drawn := _draw_survival(o, release)):
        names.append(f"release/{drawn}")
    return names


def _draw_survival(o: Output, release: Path) -> str | None:
    from djs_toolkit.plotting import km_plot, save_png

    # Drawn from the protected step table only (docs/disclosure.md §3), in the house style: every released step, no
    # censoring ticks, and the KMunicate table at up to five of the times every group released (each cell a released
    # count) and the last released time (the axis spans every curve; "-" for a group ended before it).
    table = o.table.reset_index()
    by = str(table.columns[0]) if table.columns[0] != "time" else None
    common = set.intersection(*(set(g["time"]) for _, g in table.groupby(by))) if by else set(table["time"])
    shared, end = sorted(float(t) for t in common), float(table["time"].max())
    times: list[float] = []
    for target in np.linspace(0.0, shared[-1], 5) if shared else []:  # spread in time, at least 1/8 of it apart
        near = shared[int(np.argmin(np.abs(np.asarray(shared) - target)))]
        if not times or near - times[-1] >= end / 8:
            times.append(near)
    times = [t for t in times if end - t >= end / 8 or t == end] + ([end] if end not in times else [])
    dur = o.variables[-1] if o.variables else "time"
    ylabel = "Survival (Kaplan-Meier)" if o.method == "km" else "Cumulative incidence"
    try:
        fig = km_plot(o, by=by, times=times, ylabel=ylabel, xlabel=f"Time ({dur})",
                      legend_title=by.replace("_", " ").capitalize() if by else None)  # fmt: skip
    except DJSUserError:  # more groups than a figure tells apart, or none drawable: the table is released alone
        return None
    name = f"{o.name}.png"
    save_png(fig, release / name)
    return name


def _draw_histogram(o: Output, release: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Drawn from the protected table only: withheld bins are shown hatched with no height.
    edges = np.asarray(o.properties["bin_edges"], dtype=float)
    heights = pd.to_numeric(o.table.iloc[:, 0], errors="coerce").to_numpy(np.float64)
    withheld = o.mask.iloc[:, 0].to_numpy(bool) if o.mask is not None else np.zeros(len(heights), bool)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(edges[:-1], np.nan_to_num(heights), width=np.diff(edges), align="edge", edgecolor="black")
    for left, w, hid in zip(edges[:-1], np.diff(edges), withheld, strict=True):
        if hid:
            ax.bar(left, 0, width=w, align="edge", hatch="//", fill=False)
            ax.text(left + w / 2, 0, "suppressed", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xlabel(str(o.table.index.name))
    ax.set_ylabel("count")
    name = f"{o.name}.png"
    tmp = release / f".{name}.tmp.png"
    fig.savefig(tmp, dpi=100, metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, release / name)
    return name


def _outcome(o: Output) -> dict[str, dict[str, str]]:
    if o.mask is None or o.table.empty or "cells" not in o.properties:
        return {}
    grid: dict[tuple[int, int], list[str]] = {}
    for rule, cells in o.properties["cells"].items():
        for pos in cells:
            grid.setdefault(tuple(pos), []).append(rule)
    out: dict[str, dict[str, str]] = {}
    for j, col in enumerate(o.table.columns):
        out[str(col)] = {
            str(row): "; ".join(sorted(grid.get((i, j), []))) or "ok" for i, row in enumerate(o.table.index)
        }
    return out


def _summary(o: Output) -> str:
    lines = [f"{o.statistic} ({o.type}) status: {o.status}"]
    if len(o.reasons):
        for (rule, st), grp in o.reasons.groupby(["rule", "status"]):
            lines.append(f"{rule}: {st} - {len(grp)} flag(s)")
    lines += o.controls
    return "\n".join(lines) + "\n"


def _record(o: Output, files: list[str]) -> dict[str, Any]:
    cells = o.properties.get("cells", {})
    # Cell positions as SACRO-Viewer reads the released CSV: the row among the lines under its first header line,
    # the column after its first column (ACRO's one index column); a table with more index levels or header rows
    # is shifted by them, so the viewer marks the right cells (tests/interop).
    dr = (1 if o.table.columns.nlevels == 1 else o.table.columns.nlevels + 1) - 1 if o.type != "custom" else 0
    dc = o.table.index.nlevels - 1 if o.type != "custom" else 0

    def at(positions: Any) -> list[list[int]]:
        return [[int(p[0]) + dr, int(p[1]) + dc] for p in positions]

    sdc: dict[str, dict[str, Any]] = {
        "summary": {rule: len(c) for rule, c in cells.items()},
        "cells": {rule: at(c) for rule, c in cells.items()},
    }
    if o.properties.get("suppressed_cells"):
        sdc["summary"]["suppressed"] = len(o.properties["suppressed_cells"])
        sdc["cells"]["suppressed"] = at(o.properties["suppressed_cells"])
    props = {k: v for k, v in o.properties.items() if k not in ("cells", "suppressed_cells")}
    props.setdefault("dof", o.dof)
    kind = o.properties.get("statbarn_kind", "custom")
    table_level = o.reasons[o.reasons["row"].isna()] if len(o.reasons) else o.reasons
    return {
        "uid": o.name,
        "status": o.status,
        "type": o.type,
        "properties": props,
        "files": [{"name": f, "sdc": sdc} for f in files],
        "outcome": _outcome(o),
        "command": o.command,
        "summary": _summary(o),
        "timestamp": o.timestamp,
        "comments": list(o.comments),
        "exception": "; ".join(f"{e['reason_code']}: {e['text']}" for e in o.exceptions),
        "fair": {
            "context": "https://w3id.org/statbarnsdc#",
            "statbarn": STATBARN.get(kind, "Unknown"),
            "check_status": {str(r): worst(g["status"]) for r, g in o.reasons.groupby("rule")}
            if len(o.reasons)
            else {},
        },
        "djs_toolkit": {
            "description": o.description,
            "population": o.population,
            "variables": o.variables,
            "n": o.n,
            "dof": o.dof,
            "controls": o.controls,
            "statistic": o.statistic,
            "exceptions": o.exceptions,
            "output_flags": [
                {"rule": r.rule, "status": r.status, "summary": r.summary} for r in table_level.itertuples()
            ],
            "released": bool(files) and o.status in ("pass", "review"),
            "relations": list(o.relations),
        },
    }


def results_json(session: Session, files: dict[str, list[str]]) -> dict[str, Any]:
    """The ACRO-compatible results document for a session.

    Example:
        >>> from djs_toolkit.sdc.session import Session
        >>> sorted(results_json(Session(), {}))
        ['djs_toolkit', 'results', 'tool', 'version']
    """
    return {
        "version": TOOL_VERSION,
        "tool": {
            "@type": "SoftwareApplication",
            "name": "djs_toolkit.sdc",
            "url": "https://github.com/ministryofjustice",
            "version": TOOL_VERSION,
        },
        "results": {name: _record(o, files.get(name, [])) for name, o in session.outputs.items()},
        "djs_toolkit": {"profile": session.profile.to_dict(), "ledger": _ledger_note(session)},
    }


def _ledger_note(session: Session) -> str | None:
    # No path: the ledger folder is checker-only and a path would make release files machine-specific. The mode is
    # the one each output was checked under (an output staged by save_table is finalised by another Session).
    if not session.outputs:
        return None  # nothing was checked here (e.g. the header of a bundle assembled from records)
    fallback = "off" if session.ledger is None else "folder"
    modes = {str(o.properties.get("ledger", fallback)) for o in session.outputs.values()}
    if "off" in modes:
        return (
            "SWITCHED OFF for some outputs (ledger=False or DJS_LEDGER=off): differencing checked only against "
            "the earlier outputs of the same session; a checker must compare them with the project's other outputs"
        )
    return "differencing checked against every earlier output in the project's ledger (checker-only folder)"


def _relations(session: Session) -> list[str]:
    """CLEARANCE.md's "relationship to other outputs", from the differencing ledger (docs/disclosure.md §1.4, §7.5)."""
    lines = [f"Relationship to other outputs (from the differencing ledger: {_ledger_note(session)}):"]
    any_rel = False
    for name, o in session.outputs.items():
        if o.relations:
            any_rel = True
            lines.append(f"- {name}:")
            lines += [f"  - {r}" for r in o.relations]
    if not any_rel:
        lines.append("- none of the earlier outputs shares a population or a variable with these outputs")
    lines.append("- earlier versions and outputs made elsewhere: to be completed by the researcher")
    return [*lines, ""]


def _clearance(session: Session, results: dict[str, dict[str, Any]]) -> str:
    p = session.profile
    lines = [
        "# Output clearance request",
        "",
        f"The SRS output request for {len(results)} output(s) checked by djs_toolkit {TOOL_VERSION} under profile "
        f"`{p.name}` v{p.version} ({p.description}). Fields marked {TO_COMPLETE} are for the researcher to "
        "complete before submitting: nothing in them was guessed.",
        "",
        *project_lines(Project()),
        *summary_lines(results, p.min_safe_count),
        *suppressed_lines(results, p.min_safe_count),
        *_relations(session),
    ]
    for name, o in session.outputs.items():
        lines += [
            f"## {name}: {o.status}",
            "",
            f"- Purpose: {o.description or 'MISSING: add description='}",
            f"- Justification: {'; '.join(o.comments) or TO_COMPLETE + ' (why the project needs this output)'}",
            f"- Population: {o.population or 'MISSING: add population='}",
            f"- Type: {kind_of(results[name])} ({o.properties.get('method', o.method)}, statistic {o.statistic})",
            f"- Files: {', '.join(f['name'] for f in results[name]['files'])}",
            f"- Variables: {', '.join(o.variables) or '-'}",
            f"- N (unweighted records): {o.n if o.n is not None else '-'}",
            f"- Residual DoF: {o.dof if o.dof is not None else '-'}",
            f"- Controls applied: {'; '.join(o.controls) or 'none needed'}",
            f"- Withheld: {share_text(o.properties) or 'not measured'}",
            f"- Flags: {', '.join(sorted(set(o.reasons.loc[o.reasons['status'] != 'pass', 'rule']))) or 'none'}",
        ]
        if o.properties.get("figure_sources"):  # save_figure(source=...): what the checker compares the figure with
            lines.append(f"- Drawn only from: {', '.join(map(str, o.properties['figure_sources']))} (released tables)")
        if o.properties.get("structural_cells"):  # declared by the analysis: not zeros for the checker to judge
            lines.append(f"- Structural zeros: {len(o.properties['structural_cells'])} cell(s) that cannot occur")
        for e in o.exceptions:
            lines.append(f"- Exception requested ({e['reason_code']}): {e['text']}")
        lines.append("")
    return "\n".join(lines)


def _checker_only(session: Session, folder: Path) -> None:
    folder.mkdir()
    _atomic_write(
        folder / f"{DO_NOT_RELEASE}.txt",
        "DO NOT RELEASE. Checker-only evidence: unrounded, unweighted counts behind every cell.\n",
    )
    for name, o in session.outputs.items():
        if len(o.evidence):
            ev = o.evidence.reset_index()
            _atomic_write(
                folder / f"{DO_NOT_RELEASE}_{name}_evidence.csv",
                ev.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT),
            )
        if len(o.differencing):
            # The recovered counts and the attacker's bounds: for the checker only, never in a reason.
            _atomic_write(
                folder / f"{DO_NOT_RELEASE}_{name}_differencing.csv",
                o.differencing.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT),
            )
    matrix = (
        pd.DataFrame([dict.fromkeys(o.variables, 1) for o in session.outputs.values()], index=list(session.outputs))
        .fillna(0)
        .astype(int)
        if session.outputs
        else pd.DataFrame()
    )
    matrix = matrix.reindex(sorted(matrix.columns), axis=1)
    _atomic_write(folder / f"{DO_NOT_RELEASE}_variable_matrix.csv", matrix.to_csv(lineterminator="\n"))
    _atomic_write(
        folder / f"{DO_NOT_RELEASE}_profile.json",
        json.dumps(session.profile.to_dict(), indent=2, sort_keys=True) + "\n",
    )


def _manifest(root: Path) -> None:
    lines = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(root).as_posix()}")
    _atomic_write(root / "manifest-sha256.txt", "\n".join(lines) + "\n")


def write_folder(session: Session, path: Path) -> Path:
    """Write the clearance folder at `path` (refused if it exists).

    Example:
        >>> import tempfile
        >>> from djs_toolkit.sdc.session import Session
        >>> write_folder(Session(), Path(tempfile.mkdtemp()) / "empty").name
        'empty'
    """
    path = Path(path)
    if path.exists():
        raise DJSUserError(f"{path} already exists: finalise never overwrites; choose a new folder name.")
    if not path.parent.is_dir():
        raise DJSUserError(f"Parent folder of {path.name} does not exist: create it first.")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    tmp.mkdir()
    try:
        release = tmp / "release"
        release.mkdir()
        files: dict[str, list[str]] = {}
        for name, o in session.outputs.items():
            files[name] = _release_files(o, release) if o.status in ("pass", "review") else []
        doc = export_acro(tmp, cast(dict, _clean(results_json(session, files))), session.profile.to_dict())
        text = json.dumps(doc, indent=2, sort_keys=False, default=_json_default, allow_nan=False)
        _atomic_write(tmp / "results.json", text + "\n")
        _atomic_write(tmp / "CLEARANCE.md", _clearance(session, doc["results"]))
        _checker_only(session, tmp / "checker_only")
        _manifest(tmp)
        if path.exists():
            raise DJSUserError(f"{path} appeared while finalising: finalise never overwrites; choose a new name.")
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _clean(obj: object) -> object:
    """Strict JSON: NaN and infinities (which SACRO-Viewer's parser rejects) become null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_default(obj: object) -> object:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (tuple, set)):
        return list(obj)
    return str(obj)
