"""Whole-release attack, part 1: a released CSV table read as an attacker reads it.

Each released table becomes a `PublishedTable`: its row labels, its value cells as printed (number, withheld, or
blank), how many decimals each number was printed with, and what its columns are: counts of people (every cell of
a count table; the `counts=` column of a statistic table and count-named columns beside it), ratios whose value
times the count beside them is a count (proportions, rates, cumulative incidence), relative changes, a protected
survival curve, or an overlap table. `release_model` turns a list of them into one system of linear relations.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHANGE_STATISTICS",
    "RATIO_STATISTICS",
    "WITHHELD",
    "PublishedTable",
    "is_interval_column",
    "ratio_scale",
    "read_published",
    "read_release_folder",
    "table_kind",
]

WITHHELD = "[suppressed]"
# Statistics whose value times the count beside it is a count of people (scaled by 100 for percentages).
RATIO_STATISTICS = frozenset(
    {
        "proportion",
        "rate",
        "percent",
        "percentage",
        "prevalence",
        "incidence",
        "risk",
        "share",
        "cumulative_incidence",
        "survival",
        "probability",
    }
)
# Statistics whose value is a relative change of the count beside it: count x (1 + value) is a count.
CHANGE_STATISTICS = frozenset({"percent_change", "pct_change", "relative_change", "change"})
# Interval ends, standard errors and test statistics: functions of the estimate and n, not counts themselves.
_INTERVAL = re.compile(r"(^|_)(ci|lcl|ucl|lower|upper|lo|hi|se|sd|std|stderr|std_error|p|pvalue|p_value|z)(_|$)")
_OVERLAP_LABELS = ("combination", "degree", "window_start", "window_end")
_NUMBER = re.compile(r"^-?\d+(\.\d*)?([eE][-+]?\d+)?$")


def ratio_scale(statistic: str, column: object = "") -> float:
    """What a ratio is per: 100 for a percentage, 1,000 / 10,000 / 100,000 for a rate per that many, else 1.

    Example:
        >>> ratio_scale("rate", "per_100k"), ratio_scale("percent"), ratio_scale("proportion", "share")
        (100000.0, 100.0, 1.0)
    """
    text = f"{statistic} {column}".lower().replace(",", "").replace(" ", "_")
    for pattern, scale in (
        (r"per_?(100000|100k)", 1e5),
        (r"per_?(10000|10k)", 1e4),
        (r"per_?(1000|1k|thousand)", 1e3),
        (r"percent|pct", 100.0),
    ):
        if re.search(pattern, text):
            return scale
    return 1.0


def is_interval_column(name: object) -> bool:
    """True for a confidence-interval end, standard error or test-statistic column (not an estimate).

    Example:
        >>> is_interval_column("ci_lower"), is_interval_column("cumulative_incidence")
        (True, False)
    """
    return bool(_INTERVAL.search(str(name).strip().lower()))


def table_kind(statistic: str, method: str, otype: str) -> str:
    """How the attacker reads a table: `count`, `ratio`, `change`, `curve`, `overlap`, `other` or `skip`.

    Example:
        >>> table_kind("survival", "km", "survival"), table_kind("rate", "save_table", "table")
        ('curve', 'ratio')
    """
    stat = str(statistic or "").lower()
    if otype in ("regression", "custom") or method == "regression" or stat == "coefficient":
        return "skip"
    if method in ("km", "cif") and otype == "survival":
        return "curve"
    if stat == "overlap":
        return "overlap"
    if stat in ("count", "histogram") or otype == "histogram":
        return "count"
    if stat in RATIO_STATISTICS:
        return "ratio"
    if stat in CHANGE_STATISTICS or stat.endswith("_change"):
        return "change"
    return "other"


@dataclass
class PublishedTable:
    """One released table as printed.

    Attributes:
        uid: the output's id; run: the notebook run it belongs to (quantities are linked within a run).
        labels: row label columns (name -> one string per row); keys: the label columns that identify a row.
        columns: value column labels (a tuple per column: one entry per column level); column_names: level names.
        values: numbers as printed (rows x columns), NaN where withheld or blank; withheld: True where withheld.
        decimals: digits after the decimal point as printed (-1 where no number).
        kind: `table_kind`; counts: position of the column of counts behind a ratio (or None);
        count_columns: positions of the columns holding counts of people.
        rounding: how published counts relate to the true ones: `exact`, `base` (to `base`) or `midpoint6`.
        ratio_rounding: `midpoint6` when ratios were recomputed from midpoint-6 rounded numerators.
        properties: the output's properties from results.json.

    Example:
        >>> t = PublishedTable("r.t", "r", {"g": ["a"]}, ["g"], [("n",)], ("",), np.array([[12.0]]),
        ...                    np.array([[False]]), np.array([[0]]), "count")
        >>> t.column_index("n")
        0
    """

    uid: str
    run: str
    labels: dict[str, list[str]]
    keys: list[str]
    columns: list[tuple[str, ...]]
    column_names: tuple[str, ...]
    values: np.ndarray
    withheld: np.ndarray
    decimals: np.ndarray
    kind: str
    counts: int | None = None
    count_columns: set[int] = field(default_factory=set)
    rounding: str = "exact"
    base: int = 5
    ratio_rounding: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows.

        Example:
            >>> PublishedTable("t", "", {}, [], [], (), np.zeros((2, 0)), np.zeros((2, 0), bool),
            ...                np.zeros((2, 0), int), "count").n_rows
            2
        """
        return int(self.values.shape[0])

    def column_index(self, name: str) -> int | None:
        """Position of the single-level value column `name` (None when absent).

        Example:
            >>> PublishedTable("t", "", {}, [], [("n",)], ("",), np.zeros((1, 1)), np.zeros((1, 1), bool),
            ...                np.zeros((1, 1), int), "count").column_index("x") is None
            True
        """
        for j, c in enumerate(self.columns):
            if len(c) == 1 and c[0] == name:
                return j
        return None

    def row_keys(self) -> list[tuple[str, ...]]:
        """Each row's key labels (in `keys` order).

        Example:
            >>> PublishedTable("t", "", {"g": ["a", "b"]}, ["g"], [], (), np.zeros((2, 0)), np.zeros((2, 0), bool),
            ...                np.zeros((2, 0), int), "count").row_keys()
            [('a',), ('b',)]
        """
        return [tuple(self.labels[k][i] for k in self.keys) for i in range(self.n_rows)]


def _parse(cell: str) -> tuple[float, bool, int, bool]:
    """(value, withheld, decimals, numeric) of one printed cell."""
    text = cell.strip()
    if text == WITHHELD:
        return np.nan, True, -1, True
    if text == "" or text.lower() in ("nan", "<na>"):
        return np.nan, False, -1, True
    if not _NUMBER.match(text):
        return np.nan, False, -1, False
    dec = len(text.split(".", 1)[1]) if "." in text and "e" not in text.lower() else 0
    return float(text), False, dec, True


def _rounding(kind: str, profile: Any) -> tuple[str, int]:
    if profile.mitigation == "round" and kind in ("count", "ratio", "change", "other", "overlap"):
        return "base", int(profile.round_base or 5)
    return "exact", int(profile.round_base or 5)


def read_published(text: str, entry: dict[str, Any], uid: str, run: str, profile: Any) -> PublishedTable | None:
    """Read one released CSV (its text) with its results.json entry; None for tables with no counts to relate.

    Args:
        text: the CSV as released.
        entry: the output's results.json entry (type, properties: statistic, method, index_levels,
            csv_header_rows, counts, count_columns, ratio_rounding).
        uid: the output's id; run: its notebook run.
        profile: the release's profile (how counts were rounded).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> e = {"type": "table", "properties": {"statistic": "count", "index_levels": 1}}
        >>> t = read_published("g,n\\na,12\\nb,[suppressed]\\n", e, "r.t", "r", load_profile("srs"))
        >>> t.keys, t.values[:, 0].tolist(), t.withheld[:, 0].tolist()
        (['g'], [12.0, nan], [False, True])
    """
    props = dict(entry.get("properties", {}))
    stat = str(props.get("statistic") or entry.get("djs_toolkit", {}).get("statistic") or "count")
    kind = table_kind(stat, str(props.get("method", "")), str(entry.get("type", "table")))
    if kind == "skip":
        return None
    rows = list(csv.reader(io.StringIO(text)))
    header_rows = max(1, int(props.get("csv_header_rows", 1) or 1))
    if len(rows) < header_rows:
        return None
    header, body = rows[:header_rows], rows[header_rows:]
    width = max(len(r) for r in rows)
    body = [r + [""] * (width - len(r)) for r in body]
    n_index = props.get("index_levels")
    k = int(n_index) if n_index is not None else 0
    if header_rows == 1:
        col_labels: list[tuple[str, ...]] = [(h,) for h in header[0][k:]]
        col_labels += [("",)] * (width - len(header[0]))
        index_names = list(header[0][:k])
        col_level_names: tuple[str, ...] = ("",)
    else:
        levels = header[: header_rows - 1]
        col_labels = [tuple(lv[j] if j < len(lv) else "" for lv in levels) for j in range(k, width)]
        col_level_names = tuple((lv[k - 1] if k >= 1 and k - 1 < len(lv) else "") for lv in levels)
        index_names = list(header[-1][:k])
    parsed = [[_parse(r[j]) for j in range(k, width)] for r in body]
    n_rows, n_cols = len(body), width - k
    numeric = [all(parsed[i][j][3] for i in range(n_rows)) for j in range(n_cols)]
    labels: dict[str, list[str]] = {}
    for j, name in enumerate(index_names):
        labels[name or f"_index{j}"] = [r[j] for r in body]
    value_pos = []
    for j in range(n_cols):
        name = " | ".join(col_labels[j])
        if not numeric[j] or (kind == "overlap" and col_labels[j][-1] in _OVERLAP_LABELS):
            if header_rows == 1:  # a label column printed among the values (e.g. a text column)
                labels[name] = [r[k + j] for r in body]
            continue
        value_pos.append(j)
    cols = [col_labels[j] for j in value_pos]
    vals = np.array([[parsed[i][j][0] for j in value_pos] for i in range(n_rows)], dtype=float).reshape(
        n_rows, len(value_pos)
    )
    withheld = np.array([[parsed[i][j][1] for j in value_pos] for i in range(n_rows)], dtype=bool).reshape(vals.shape)
    decimals = np.array([[parsed[i][j][2] for j in value_pos] for i in range(n_rows)], dtype=int).reshape(vals.shape)
    keys = [n for n in labels if n and not n.startswith("_index")]
    if kind == "overlap":
        bools = [n for n in keys if set(labels[n]) <= {"True", "False"}]
        keys = [n for n in keys if n not in bools and n not in _OVERLAP_LABELS] + (
            ["combination"] if "combination" in labels else []
        )
    rounding, base = _rounding(kind, profile)
    table = PublishedTable(uid, run, labels, keys, cols, col_level_names, vals, withheld, decimals, kind)
    table.rounding, table.base, table.properties = rounding, base, props
    table.ratio_rounding = str(props.get("ratio_rounding", ""))
    _assign_columns(table, props)
    return table


def _assign_columns(table: PublishedTable, props: dict[str, Any]) -> None:
    """Which value columns hold counts, and which column is the denominator of a ratio."""
    names = [" | ".join(c) for c in table.columns]
    if table.kind == "count":
        table.count_columns = set(range(len(names)))
        return
    if table.kind == "overlap":
        table.count_columns = {j for j, n in enumerate(names) if n in ("exclusive", "inclusive")}
        return
    if table.kind == "curve":
        return
    declared = props.get("count_columns")
    counts = props.get("counts")
    if isinstance(declared, list):
        wanted = set(declared)
    else:  # not declared (a table made elsewhere): every column printed as whole numbers holds counts
        printed = table.decimals >= 0
        wanted = {
            n
            for j, n in enumerate(names)
            if printed[:, j].any() and bool((table.decimals[printed[:, j], j] == 0).all())
        }
        if not isinstance(counts, str) and table.kind in ("ratio", "change"):
            counts = next((n for n in names if n in wanted and (n == "n" or n.startswith("n_") or "count" in n)), None)
    if isinstance(counts, str):
        wanted.add(counts)
    table.count_columns = {j for j, n in enumerate(names) if n in wanted}
    if isinstance(counts, str) and counts in names:
        table.counts = names.index(counts)


def read_release_folder(folder: Path, doc: dict[str, Any], profile: Any) -> list[PublishedTable]:
    """Every released CSV of a bundle or clearance folder (`folder` holds `release/`), read with its entry.

    Example:
        >>> import tempfile
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> read_release_folder(Path(tempfile.mkdtemp()), {"results": {}}, load_profile("srs"))
        []
    """
    out = []
    for uid, entry in sorted(doc.get("results", {}).items()):
        if entry.get("status") == "fail":
            continue
        run = str(entry.get("djs_toolkit", {}).get("run", ""))
        for f in entry.get("files", []):
            path = Path(folder) / f["name"]
            if path.suffix.lower() != ".csv" or not path.is_file():
                continue
            t = read_published(path.read_text(encoding="utf-8"), entry, uid, run, profile)
            if t is not None:
                out.append(t)
    return out
