"""Text outputs ("findings"): `save_text` stages words whose every number is a released value of the same run.

A finding states a result in the researcher's words ("about 1 in 2 men were back in court within a year"). The
words are checked like any output: every number in them is traced (`trace_numbers`) to a value of a released
table of the same notebook run (`released_values`), or derived from released values by one declared rule, else
the output fails closed and the message gives the number's position, never its value. The trace goes beside the
text as a sidecar (`release/<uid>.sources.json`) so a checker, and `djs brief`, can see where each number came from.

Rules, in the order they are tried (the first that fits is recorded):

| rule | the number is | example |
|---|---|---|
| `value` | a released value or label, as printed or rounded to the digits shown | `5,808` |
| `percentage` | a released proportion x 100, rounded to the digits shown | `52%` from 0.522968 |
| `one_in` | N in "1 in N": a released proportion p with N = round(1 / p) | `1 in 2` from 0.522968 |
| `difference` | two released values of one row or column subtracted (x 100: points) | `24.5 percentage points` |
| `ratio` | two released values of one row or column divided | `3.0 times` |
| `convention` | the 95 of "95% confidence interval" | |

A number of one significant digit (`5`, `0.4`) must equal a released value exactly: rounding would let it match
almost anything. A number that merely *equals* a released value may still mean something else: the checker reads
the words (the output is `review`).

Example:
    >>> values = released_values({"t.csv": "sex,estimate\\nF,0.278378\\nM,0.522968\\n"})
    >>> [(t.number, t.rule) for t in trace_numbers("About 1 in 2 men (52%) and 28% of women.", values)]
    [('1 in 2', 'one_in'), ('52%', 'percentage'), ('28%', 'percentage')]
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.frames import add_reason, problems_error
from djs_toolkit.outputs.save import session
from djs_toolkit.outputs.stage import current_context, name_problems, record_problems, write_record
from djs_toolkit.sdc import Output

__all__ = ["NUMBER", "SIDECAR", "Trace", "Value", "released_values", "save_text", "stage_tables", "trace_numbers"]

# A number in prose: 5,808 / 0.52 / 52% / 1 in 2. Digits inside a word or a name (cif_365, 2011Q1) and footnote
# markers ([^a]) are not numbers of the prose; a leading minus is read as part of the words ("fell by").
NUMBER = re.compile(r"(?<![\w.^])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w]|\.\d)(?P<pct>\s?%)?")
_ONE_IN = re.compile(r"(?<![\w.])1 in (?P<n>\d+(?:,\d{3})*)(?![\w%]|\.\d)")  # a full stop may end the sentence
_CONVENTION = re.compile(r"(?<![\w.])95\s?% confidence interval", re.IGNORECASE)
_LABEL_DIGITS = re.compile(r"\d+(?:\.\d+)?")
SIDECAR = ".sources.json"
_MAX_PAIRS = 400  # values per row or column tried pairwise for a difference or ratio (400^2 pairs)


@dataclass(frozen=True)
class Value:
    """One released number: a cell (or a number in a row label or column name) of a released table.

    Example:
        >>> Value(0.5, "t.csv", 1, "estimate", "F").where()
        't.csv, row 1 (F), column estimate'
    """

    value: float
    file: str
    row: int  # 1-based data row; 0 = the header (a number in a column name)
    column: str
    label: str = ""

    def where(self) -> str:
        """Where the value is, in words a reader can follow to the file.

        Example:
            >>> Value(2019.0, "t.csv", 0, "cif_2019").where()
            't.csv, header, column cif_2019'
        """
        row = "header" if self.row == 0 else f"row {self.row}" + (f" ({self.label})" if self.label else "")
        return f"{self.file}, {row}, column {self.column}"


@dataclass
class Trace:
    """How one number of a text was traced: its position, the rule and the released values it came from.

    Example:
        >>> Trace(0, 3, "52%", "percentage", [Value(0.52, "t.csv", 1, "p")]).how()
        'percentage: t.csv, row 1, column p x 100'
    """

    start: int
    end: int
    number: str
    rule: str | None = None
    sources: list[Value] = field(default_factory=list)

    def how(self) -> str:
        """The derivation in words (the footnote of a brief, the sidecar's `how`).

        Example:
            >>> Trace(0, 2, "95", "convention").how()
            'convention: the 95% of a 95% confidence interval'
        """
        w = [v.where() for v in self.sources]
        return {
            None: "no source in the released tables",
            "value": f"value: {w[0] if w else ''}",
            "percentage": f"percentage: {w[0] if w else ''} x 100",
            "one_in": f"one_in: 1 / ({w[0] if w else ''}), rounded",
            "difference": f"difference: ({' - '.join(w)})" + (" x 100" if self.number.endswith("%") else ""),
            "ratio": f"ratio: ({' / '.join(w)})",
            "convention": "convention: the 95% of a 95% confidence interval",
        }[self.rule]

    def to_dict(self) -> dict[str, object]:
        """The sidecar's record of this number (only traced numbers are written: they are released values).

        Example:
            >>> Trace(0, 2, "95", "convention").to_dict()["rule"]
            'convention'
        """
        return {
            "position": [self.start, self.end],
            "number": self.number,
            "rule": self.rule,
            "how": self.how(),
            "sources": [{"file": v.file, "row": v.row, "column": v.column, "label": v.label} for v in self.sources],
        }


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _cell_number(cell: str) -> float | None:
    try:
        x = float(cell)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def released_values(tables: Mapping[str, str]) -> list[Value]:
    """Every number of released CSV tables (`{file name: CSV text}`): cells, and numbers in labels and headers.

    Withheld cells (`[suppressed]`, empty) are not values.

    Example:
        >>> [(v.value, v.row, v.column) for v in released_values({"t.csv": "year,n\\n2019,[suppressed]\\n2020,40\\n"})]
        [(2019.0, 1, 'year'), (2020.0, 2, 'year'), (40.0, 2, 'n')]
    """
    out: list[Value] = []
    for fname, text in tables.items():
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            continue
        header = rows[0]
        for col in header:
            out += [Value(_number(m), fname, 0, col) for m in _LABEL_DIGITS.findall(col)]
        for r, row in enumerate(rows[1:], start=1):
            nums = [_cell_number(c) for c in row]
            label = ", ".join(c for c, x in zip(row, nums, strict=False) if x is None and c and c != "[suppressed]")[
                :80
            ]
            for c, (cell, x) in enumerate(zip(row, nums, strict=False)):
                col = header[c] if c < len(header) else str(c)
                if x is not None:
                    out.append(Value(x, fname, r, col, label))
                elif cell and cell != "[suppressed]":  # a label: its numbers are released too (2011Q1, 18-20)
                    out += [Value(_number(m), fname, r, col, label) for m in _LABEL_DIGITS.findall(cell)]
    return out


def _decimals(num: str) -> int:
    return len(num.split(".")[1]) if "." in num else 0


def _significant(num: str) -> int:
    digits = num.replace(",", "").replace(".", "").lstrip("0")
    return len(digits)


class _Index:
    """Released values sorted for look-up within a tolerance, with their rows and columns for pairs."""

    def __init__(self, values: Sequence[Value]) -> None:
        self.values = list(values)
        arr = np.array([v.value for v in self.values], dtype=float)
        self.order = np.argsort(arr, kind="stable")
        self.sorted = arr[self.order]
        self.groups: dict[tuple[str, str, object], list[int]] = {}
        for i, v in enumerate(self.values):
            if v.row > 0:
                self.groups.setdefault((v.file, "column", v.column), []).append(i)
                self.groups.setdefault((v.file, "row", v.row), []).append(i)

    def near(self, x: float, tol: float) -> list[int]:
        lo = np.searchsorted(self.sorted, x - tol, side="left")
        hi = np.searchsorted(self.sorted, x + tol, side="right")
        return [int(i) for i in self.order[lo:hi]]


def _fits(x: float, v: float, num: str, scale: float = 1.0) -> bool:
    """`v` printed with the digits of `num` reads `num` (one significant digit: only when exact).

    Within half a unit of the last digit shown, plus the rounding of the released CSV (six decimals, times `scale`):
    a notebook prints from the unrounded protected table, the brief reads the CSV.
    """
    slack = 1e-9 * max(1.0, abs(x)) + 5e-7 * scale
    if _significant(num) < 2:
        return abs(v - x) <= slack
    return abs(v - x) <= 0.5 * 10 ** -_decimals(num) + slack


def _matches(idx: _Index, x: float, num: str, scale: float, proportion: bool = False) -> list[Value]:
    tol = (0.5 * 10 ** -_decimals(num) + 1e-6 * scale) / scale + 1e-9 * max(1.0, abs(x))
    return [
        v
        for v in (idx.values[i] for i in idx.near(x / scale, tol))
        if (not proportion or 0 <= v.value <= 1) and _fits(x, v.value * scale, num, scale)
    ]


def _pair(idx: _Index, x: float, num: str, pct: bool) -> tuple[str, list[Value]] | None:
    """Two released values of one row or column whose difference or ratio reads `num`."""
    if _significant(num) < 2:
        return None
    scale = 100.0 if pct else 1.0
    for key in sorted(idx.groups, key=str):
        members = idx.groups[key][:_MAX_PAIRS]
        a = np.array([idx.values[i].value for i in members])
        diff = np.abs(a[:, None] - a[None, :]) * scale
        tol = 0.5 * 10 ** -_decimals(num) + 1e-6 * scale + 1e-9 * max(1.0, abs(x))
        hits = np.argwhere(np.abs(diff - x) <= tol)
        for i, j in hits:
            if i != j and _fits(x, float(diff[i, j]), num, scale):
                first, second = sorted((members[i], members[j]), key=lambda k: -idx.values[k].value)
                return "difference", [idx.values[first], idx.values[second]]
        if pct:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = a[:, None] / a[None, :]
        hits = np.argwhere(np.isfinite(ratio) & (np.abs(ratio - x) <= tol))
        for i, j in hits:
            if i != j and _fits(x, float(ratio[i, j]), num):
                return "ratio", [idx.values[members[i]], idx.values[members[j]]]
    return None


def trace_numbers(text: str, values: Sequence[Value]) -> list[Trace]:
    """Trace every number of `text` to released `values` (see the module's rules); `rule` None = untraced.

    Example:
        >>> vals = released_values({"t.csv": "g,n\\na,120\\nb,40\\n"})
        >>> [(t.number, t.rule) for t in trace_numbers("120 against 40: 80 more, 3 times as many; 7 others", vals)]
        [('120', 'value'), ('40', 'value'), ('80', 'difference'), ('3', None), ('7', None)]
    """
    idx = _Index(values)
    traces: list[Trace] = []
    taken: set[int] = set()
    for m in _CONVENTION.finditer(text):
        traces.append(Trace(m.start(), m.start() + 2, "95", "convention"))
        taken.add(m.start())
    for m in _ONE_IN.finditer(text):
        n = _number(m.group("n"))
        src = next(
            (
                idx.values[i]
                for i in idx.near(1.0 / n, 1.0 / (n - 0.5) - 1.0 / (n + 0.5) if n > 1 else 0.5)
                # N is 1/p rounded either way at a half (a notebook rounds the unrounded p, e.g. 14/259 -> 18.5 -> 18;
                # the CSV's six decimals give 18.50002 -> 19): within half a unit, plus the CSV's rounding of p
                if 0 < idx.values[i].value <= 1
                and abs(1.0 / idx.values[i].value - n) <= 0.5 + 1e-6 / idx.values[i].value ** 2
            ),
            None,
        )
        traces.append(Trace(m.start(), m.end(), m.group(0), "one_in" if src else None, [src] if src else []))
        taken.update((m.start(), m.start("n")))
    options: list[tuple[Trace, list[Value]]] = []
    for m in NUMBER.finditer(text):
        if m.start() in taken:
            continue
        num = m.group("num")
        pct = bool(m.group("pct")) or text.startswith(" percentage point", m.end())
        x = _number(num)
        t = Trace(m.start(), m.end(), m.group(0).replace(" %", "%"))
        found = _matches(idx, x, num, 100.0, proportion=True) if pct else []
        if found:
            t.rule = "percentage"
        elif found := _matches(idx, x, num, 1.0):
            t.rule = "value"
        elif (pair := _pair(idx, x, num, pct)) is not None:
            t.rule, t.sources = pair
        options.append((t, found))
    # A number that several released values read as is traced to the row most of the text's numbers share
    # ("52% (95% confidence interval 51% to 54%)" comes from one row of one table).
    rows = Counter(k for _, found in options for k in {(v.file, v.row) for v in found})
    rows.update((v.file, v.row) for t in traces for v in t.sources)
    for t, found in options:
        if found:
            t.sources = [max(found, key=lambda v: rows[(v.file, v.row)])]
        traces.append(t)
    return sorted(traces, key=lambda t: t.start)


def stage_tables(stage_dir: Path, only: Sequence[str] | None = None) -> dict[str, str]:
    """The released CSV tables of the complete records staged in `stage_dir` (this notebook run's saved outputs).

    Example:
        >>> stage_tables(Path("no-such-stage"))
        {}
    """
    tables: dict[str, str] = {}
    folder = Path(stage_dir)
    if not folder.is_dir():
        return tables
    for rec in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if record_problems(rec) or (only is not None and rec.name not in only):
            continue
        for f in sorted((rec / "release").glob("*.csv")):
            tables[f.name] = f.read_text(encoding="utf-8")
    return tables


def save_text(
    name: str,
    text: str,
    description: str,
    population: str = "as the released tables it quotes",
    *,
    sources: Sequence[str] | None = None,
    comments: str | Sequence[str] = (),
) -> Output:
    """Check a finding written in words and stage it for release (`release/<uid>.md` and its number sources).

    Every number in `text` must be a value of a table this notebook run has already saved (or derived from such
    values by one of the module's rules), else the output fails closed: not released, and the reasons give each
    untraced number's position. A traced text is `review`: a checker reads the words.

    Args:
        name: as for save_table; unique in the notebook run.
        text: the finding, plain Markdown (one or a few sentences per headline).
        description: what the finding is about (goes to CLEARANCE.md).
        population: who it is about.
        sources: names of outputs saved earlier in this run that the numbers come from (default: all of them).
        comments: researcher comments for the checker.

    Returns:
        The checked Output (`review`, or `fail` when a number has no source).

    Example:
        >>> import pandas as pd
        >>> from djs_toolkit.outputs import save_table
        >>> o = save_table(pd.DataFrame({"g": ["a", "b"], "n": [30, 40]}), "ab", "by g", "all")  # doctest: +ELLIPSIS
        saved ab: pass...
        >>> save_text("ab_finding", "40 people were in group b.", "group b", sources=["ab"]).status
        saved ab_finding: review; 1 number(s) traced to released values
        'review'
        >>> save_text("ab_bad", "41 people were in group b.", "group b").status
        saved ab_bad: fail; 1 number(s) without a released source; NOT released
        'fail'
    """
    ctx = current_context()
    problems = name_problems(name)
    for what, value in (("text", text), ("description", description), ("population", population)):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{what} is empty: say what the finding states and for whom")
    if problems:
        raise problems_error(problems, f"save_text({name!r})")
    only = None if sources is None else [str(s) for s in sources]
    tables = stage_tables(ctx.stage_dir, only)
    # A source never saved is a mistake in the call; a source saved but not released (failed) only leaves its
    # numbers without a source, so the text fails closed like any output and the notebook runs on.
    saved = {f.parent.name for f in Path(ctx.stage_dir).glob("*/results.json")}
    if only is not None and (missing := sorted(set(only) - saved)):
        raise DJSUserError(
            f"save_text({name!r}): sources {missing} are not saved in this run: save those tables first with "
            f"save_table, or leave sources= out"
        )
    traces = trace_numbers(text, released_values(tables))
    uid = ctx.uid(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{uid}.md"
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8", newline="\n")
        out = session().custom(path, description, name=uid)
        out.population = population
        out.properties.update({"method": "text", "numbers": len(traces)})
        out.reasons = out.reasons.iloc[0:0]  # the text is checked here, not left as an unchecked custom file
        out.status = "pass"
        untraced = [t for t in traces if t.rule is None]
        for t in untraced:  # positions only: an untraced number may be a value that must not be released
            add_reason(
                out,
                "TextNumberCheck",
                "fail",
                f"number at characters {t.start}-{t.end} has no source in this run's released tables: quote a "
                f"released value (or one derived from released values) or remove it",
            )
        add_reason(
            out,
            "TextCheck",
            "review",
            f"text written by the researcher: {len(traces) - len(untraced)} number(s) traced to released values "
            f"({out.name}{SIDECAR}); a checker reads the words",
        )
        out.comments.extend([comments] if isinstance(comments, str) else [str(c) for c in comments])
        sidecar = json.dumps({"numbers": [t.to_dict() for t in traces]}, indent=2) + "\n"
        write_record(ctx, name, out, sidecars={SIDECAR: sidecar.encode("utf-8")})
    # Counts only: this line lands in the executed notebook, a log.
    print(
        f"saved {out.name}: {out.status}; "
        + (
            f"{len(untraced)} number(s) without a released source; NOT released"
            if untraced
            else f"{len(traces)} number(s) traced to released values"
        )
    )
    return out
