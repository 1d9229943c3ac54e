"""Safety scan: identifier columns, row-level frames and unprotected small counts in tables, files and notebooks.

A second, independent line of defence behind the output checker (fail closed): the runner refuses to release any
output whose table or file fails it, and any notebook run whose executed notebook (a log) displays row-level data.
Rules and numbers:
- identifier columns are refused in outputs (OpenSAFELY job-runner's `patient_id` rule generalised to a list of id
  columns: docs/workflow.md §1.3, §6.4); Data First ids are `*_hash` and `estimated_*` (docs/data.md);
- more rows than the largest allowed aggregate (OpenSAFELY: 5,000 rows per file, docs/workflow.md §1.3,
  docs/disclosure.md §1.5) is treated as a row-level frame;
- a count in (0, threshold) left unprotected fails (threshold from the profile, docs/disclosure.md §1.1).
Problems name files, cells (by position), columns and counts of cells, never a cell's value.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ALLOWED_EXTENSIONS",
    "ID_PATTERNS",
    "MAX_ROWS",
    "is_count_column",
    "is_id_column",
    "scan_csv",
    "scan_frame",
    "scan_notebook",
    "scan_release",
]

ID_PATTERNS = ("*_hash", "estimated_*", "person_id", "record_id", "offender_id", "defendant_id")
MAX_ROWS = 5000  # OpenSAFELY's per-file row limit for aggregate outputs (docs/workflow.md §1.3)
# Release allowlist (OpenSAFELY: csv, png/jpeg/svg, txt, json; §1.3) minus svg, which the srs profile blocks.
ALLOWED_EXTENSIONS = (".csv", ".png", ".txt", ".json", ".md")
_COUNT_PATTERNS = (
    "n",
    "count",
    "counts",
    "n_*",
    "*_n",
    "*_count",
    "count_*",
    "events",
    "n_events",
    "censored",
    "n_censored",
    "n_at_risk",
    "at_risk",
    "persons",
    "people",
    "records",
    "frequency",
    "freq",
    "exclusive",
    "inclusive",
    "transitions",
)
_ROWS_TEXT = re.compile(r"\[(\d+) rows x \d+ columns\]|(\d+) rows \u00d7 \d+ columns|Length: (\d+)")  # pandas' HTML
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TABULAR = re.compile(r"\S {2,}\S|^\s+\S")


def is_id_column(name: object) -> bool:
    """True when a column name looks like a person or record identifier (`ID_PATTERNS`, case-insensitive).

    Example:
        >>> is_id_column("estimated_xjs_id"), is_id_column("Row_ID_Hash"), is_id_column("court")
        (True, True, False)
    """
    text = str(name).strip().lower()
    return any(fnmatch.fnmatchcase(text, p) for p in ID_PATTERNS)


def is_count_column(name: object) -> bool:
    """True when a column name says it holds counts of units (`n`, `events`, `n_at_risk`, `*_count`, ...).

    Example:
        >>> is_count_column("n_at_risk"), is_count_column("estimate")
        (True, False)
    """
    text = str(name).strip().lower()
    return any(fnmatch.fnmatchcase(text, p) for p in _COUNT_PATTERNS)


def _midpoint6(name: object) -> bool:
    # Midpoint-6 rounded columns publish 3 for 1-6 by design (OpenSAFELY, docs/disclosure.md §1.5): their
    # small values are checked for the midpoint-6 grid (0 or 6k - 3) instead of the threshold.
    return str(name).strip().lower().endswith(("_midpoint6", "_midpoint6_derived"))


def _names(index: pd.Index) -> list[object]:
    labels: list[object] = [n for n in index.names if n is not None]
    for lab in index:
        labels.extend(lab if isinstance(lab, tuple) else (lab,))
    return labels


def _small(values: np.ndarray, min_safe: int, names: Sequence[object] | None = None) -> int:
    """Cells in (0, min_safe); columns named `*_midpoint6` count only values off the midpoint-6 grid."""
    if values.ndim == 2 and names is not None and any(_midpoint6(n) for n in names):
        mid = np.array([_midpoint6(n) for n in names])
        v = pd.DataFrame(values).apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        off_grid = (v > 0) & (np.mod(v + 3, 6) != 0)
        return int(((v > 0) & (v < min_safe) & ~mid[None, :]).sum() + (off_grid & mid[None, :]).sum())
    v = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy(np.float64)
    return int(((v > 0) & (v < min_safe)).sum())


def scan_frame(
    table: pd.DataFrame,
    statistic: str = "count",
    min_safe_count: int = 10,
    mask: pd.DataFrame | None = None,
    max_rows: int = MAX_ROWS,
    where: str = "table",
) -> list[str]:
    """Problems that make a table unreleasable (empty list = none found).

    Args:
        table: the table as it would be released (row labels in the index).
        statistic: `count` means every cell is a count; otherwise only count-named columns are checked.
        min_safe_count: smallest count the profile lets through (`Profile.min_safe_count`).
        mask: True where a cell is withheld (not released, so not checked).
        max_rows: the largest allowed aggregate.
        where: how to name the table in messages.

    Example:
        >>> scan_frame(pd.DataFrame({"person_id": ["a"], "n": [3]}))  # doctest: +NORMALIZE_WHITESPACE
        ['table: column `person_id` looks like a person/record identifier (*_hash, estimated_*, person_id,
        record_id, offender_id, defendant_id): release aggregates only, without identifiers',
         'table: 1 cell(s) in count column(s) are between 0 and 10 and not suppressed: check it with the output
         checker']
    """
    problems = []
    ids = sorted({str(n) for n in _names(table.columns) + list(table.index.names) if n is not None and is_id_column(n)})
    problems += [
        f"{where}: column `{n}` looks like a person/record identifier ({', '.join(ID_PATTERNS)}): "
        f"release aggregates only, without identifiers"
        for n in ids
    ]
    if len(table) > max_rows:
        problems.append(
            f"{where}: {len(table)} rows > {max_rows}, the largest allowed aggregate (row-level data?): "
            f"aggregate before saving"
        )
    values = table.to_numpy(dtype=object)
    if mask is not None and mask.shape == table.shape:
        values = np.where(mask.to_numpy(bool), np.array(None, dtype=object), values)  # withheld: not checked
    names = list(table.columns)
    if statistic not in ("count", "histogram"):
        keep = [
            j
            for j, c in enumerate(table.columns)
            if any(
                is_count_column(x)
                or is_count_column(str(x).lower().removesuffix("_midpoint6_derived").removesuffix("_midpoint6"))
                for x in (c if isinstance(c, tuple) else (c,))
            )
        ]
        values, names = values[:, keep], [names[j] for j in keep]
    n_small = _small(values, min_safe_count, names) if values.size else 0
    if n_small:
        problems.append(
            f"{where}: {n_small} cell(s) in count column(s) are between 0 and {min_safe_count} and not "
            f"suppressed: check it with the output checker"
        )
    return problems


def scan_csv(
    path: Path,
    statistic: str = "count",
    min_safe_count: int = 10,
    index_columns: int | None = None,
    header_rows: int = 1,
    max_rows: int = MAX_ROWS,
    where: str | None = None,
) -> list[str]:
    """Scan one CSV file: identifier columns in its header, row count, small unprotected counts.

    Args:
        path: the CSV file.
        statistic: as for `scan_frame`.
        min_safe_count: as for `scan_frame`.
        index_columns: how many leading columns are row labels (None = unknown: every column is scanned).
        header_rows: header lines (pandas writes `levels + 1` for multi-level columns).
        max_rows: the largest allowed aggregate.
        where: how to name the file in messages.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.csv"; _ = p.write_text("age,n\\n5,12\\n6,[suppressed]\\n")
        >>> scan_csv(p, index_columns=1)
        []
    """
    where = where or Path(path).name
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    header, body = rows[:header_rows], rows[header_rows:]
    width = max((len(r) for r in rows), default=0)
    names = [" ".join(h[j] for h in header if j < len(h)) for j in range(width)]
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in body], columns=range(width), dtype=object)
    skip = index_columns if index_columns is not None else 0
    values = frame.iloc[:, skip:]
    values.columns = names[skip:]
    problems = [
        f"{where}: column `{n}` looks like a person/record identifier ({', '.join(ID_PATTERNS)}): release "
        f"aggregates only, without identifiers"
        for n in sorted({c for h in header for c in h if is_id_column(c)})
    ]
    values.index = pd.RangeIndex(len(values))
    problems += [
        p for p in scan_frame(values, statistic, min_safe_count, None, max_rows, where) if "identifier" not in p
    ]
    return problems


def _results(folder: Path) -> tuple[dict, int]:
    for cand in (folder / "results.json", folder.parent / "results.json"):
        if cand.is_file():
            doc = json.loads(cand.read_text(encoding="utf-8"))
            prof = doc.get("djs_toolkit", {}).get("profile", {}) or {}
            thr = int(prof.get("threshold", 10))
            return doc, thr + 1 if prof.get("threshold_rule") == "at_or_below" else thr
    return {}, 10


def scan_release(folder: Path, max_rows: int = MAX_ROWS) -> dict[str, list[str]]:
    """Scan every file of a release folder; map each failing file (path relative to the bundle) to its problems.

    `folder` is a bundle (holding `release/` and `results.json`) or its `release/` folder. Files must be declared
    in results.json, have an allowed type, and a figure needs its underlying table (same name, `.csv`) beside it.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "release").mkdir(); _ = (d / "release" / "x.png").write_bytes(b"")
        >>> sorted(scan_release(d)["release/x.png"])[0][:40]
        'release/x.png: figure without its underl'
    """
    folder = Path(folder)
    release = folder / "release" if (folder / "release").is_dir() else folder
    doc, min_safe = _results(release.parent)
    declared: dict[str, dict] = {}
    for entry in doc.get("results", {}).values():
        for f in entry.get("files", []):
            declared[f["name"]] = entry
    out: dict[str, list[str]] = {}
    for p in sorted(q for q in release.rglob("*") if q.is_file()):
        rel = f"release/{p.relative_to(release).as_posix()}"
        problems = []
        if p.suffix.lower() not in ALLOWED_EXTENSIONS:
            problems.append(
                f"{rel}: file type {p.suffix.lower() or '(none)'} is not releasable "
                f"(allowed: {', '.join(ALLOWED_EXTENSIONS)})"
            )
        entry = declared.get(rel)
        if doc and entry is None:
            problems.append(
                f"{rel}: not declared in results.json (only outputs saved through save_table/save_figure "
                f"may be released)"
            )
        if p.suffix.lower() == ".png" and not p.with_suffix(".csv").is_file():
            problems.append(f"{rel}: figure without its underlying table {p.with_suffix('.csv').name} beside it")
        if p.suffix.lower() == ".csv":
            props = (entry or {}).get("properties", {})
            kind = (entry or {}).get("type")
            # Regression tables hold coefficients, not counts (their own checks ran in the output checker).
            default = "coefficient" if kind == "regression" or props.get("method") == "regression" else "count"
            # The checker records the statistic under its own key (coefficient tables such as an ITS fit).
            stat = (
                "histogram"
                if kind == "histogram"
                else str(props.get("statistic") or (entry or {}).get("djs_toolkit", {}).get("statistic") or default)
            )
            problems += scan_csv(
                p, stat, min_safe, props.get("index_levels"), int(props.get("csv_header_rows", 1)), max_rows, rel
            )
        if problems:
            out[rel] = problems
    return out


class _Tables(HTMLParser):
    """Collects the cells of every HTML table: a list of tables, each a list of rows of (tag, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str]]]] = []
        self._cell: list[str] | None = None
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("th", "td") and self.tables and self.tables[-1]:
            self._cell, self._tag = [], tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1][-1].append((self._tag, "".join(self._cell).strip()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _scan_html(html: str, where: str, min_safe: int, max_rows: int) -> list[str]:
    parser = _Tables()
    parser.feed(html)
    problems = [p for p in _scan_text(re.sub(r"<[^>]+>", " ", html), where, max_rows) if "rows" in p]
    for table in parser.tables:
        head = [r for r in table if r and all(tag == "th" for tag, _ in r)]
        body = [r for r in table if any(tag == "td" for tag, _ in r)]
        names = {text for r in table for tag, text in r if tag == "th"}
        problems += [
            f"{where}: displays a table with identifier column `{n}`" for n in sorted(names) if is_id_column(n)
        ]
        if len(body) > max_rows and not problems:
            problems.append(f"{where}: displays a table of {len(body)} rows > {max_rows} (row-level data?)")
        if head and body:
            cols = [text for _, text in head[0]]
            width = max(len(r) for r in body)
            offset = width - len(cols) if len(cols) < width else 0  # the index header cell may be missing
            count_cols = [j + offset for j, c in enumerate(cols) if is_count_column(c)]
            vals = np.array([[r[j][1] if j < len(r) else "" for j in count_cols] for r in body], dtype=object)
            n_small = _small(vals, min_safe) if vals.size else 0
            if n_small:
                problems.append(f"{where}: displays {n_small} count(s) between 0 and {min_safe} (unprotected)")
    return problems


def _scan_text(text: str, where: str, max_rows: int) -> list[str]:
    problems = []
    for m in _ROWS_TEXT.finditer(text):
        n = int(next(g for g in m.groups() if g))
        if n > max_rows:
            problems.append(f"{where}: displays a frame of {n} rows > {max_rows} (row-level data?)")
    ids = set()
    for line in text.splitlines():
        # Only tabular lines (DataFrame/Series reprs) and Series names: prose that mentions a column is not data.
        if _TABULAR.search(line) or line.startswith("Name: "):
            ids |= {t for t in _TOKEN.findall(line) if is_id_column(t)}
    problems += [f"{where}: displays identifier column `{n}`" for n in sorted(ids)]
    return problems


def scan_notebook(path: Path, min_safe_count: int = 10, max_rows: int = MAX_ROWS) -> list[str]:
    """Scan an executed notebook's outputs for displayed identifiers, row-level frames and small counts.

    Error outputs are skipped (a failed run is never assembled). Count checks apply to HTML tables whose column
    is count-named; plain-text displays are checked for identifiers and row counts only.

    Example:
        >>> import nbformat, tempfile
        >>> nb = nbformat.v4.new_notebook()
        >>> nb.cells = [nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        ...     "stream", name="stdout", text="   person_id  age\\n0  1  30\\n")])]
        >>> p = Path(tempfile.mkdtemp()) / "n.ipynb"; nbformat.write(nb, p)
        >>> scan_notebook(p)
        ['n.ipynb cell 0: displays identifier column `person_id`']
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    problems: list[str] = []
    for k, cell in enumerate(nb.get("cells", [])):
        where = f"{Path(path).name} cell {k}"
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if out.get("output_type") == "error":
                continue
            data = out.get("data", {})
            texts = [out.get("text", ""), data.get("text/plain", "")]
            for text in texts:
                problems += _scan_text(text if isinstance(text, str) else "".join(text), where, max_rows)
            html = data.get("text/html", "")
            if html:
                problems += _scan_html(
                    html if isinstance(html, str) else "".join(html), where, min_safe_count, max_rows
                )
    return list(dict.fromkeys(problems))
