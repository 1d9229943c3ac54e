"""`ValidationReport`: every problem found in one pass, as a table and as readable text.

Problems carry names and counts only, never row values or ids: reports end up in notebooks that
output checkers see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

__all__ = ["PROBLEM_COLUMNS", "Problem", "Severity", "ValidationReport"]

Severity = Literal["error", "warning"]
PROBLEM_COLUMNS = ["severity", "table", "column", "kind", "count", "message", "fix"]


@dataclass(frozen=True)
class Problem:
    """One problem: where, what kind, how many rows, and how to fix it."""

    severity: Severity
    table: str
    column: str
    kind: str
    count: int
    message: str
    fix: str


class ValidationReport:
    """All problems with an extract, found in one pass.

    Attributes:
        problems: DataFrame with columns severity, table, column, kind, count, message, fix.
        ok: True when there is no error (warnings allowed).

    Example:
        >>> r = ValidationReport([Problem("warning", "t", "c", "out_of_range", 2, "2 ages above 100", "check")])
        >>> r.ok, len(r.problems)
        (True, 1)
    """

    def __init__(self, problems: list[Problem], summary: pd.DataFrame | None = None) -> None:
        rows = [asdict(p) for p in problems]
        df = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
        order = {"error": 0, "warning": 1}
        if len(df):
            df = df.sort_values(
                ["severity", "table", "column", "kind"], key=lambda s: s.map(order) if s.name == "severity" else s
            )
        self.problems = df.reset_index(drop=True)
        self.summary = summary if summary is not None else pd.DataFrame(columns=["table", "rows", "columns"])

    @property
    def ok(self) -> bool:
        """No errors."""
        return not (self.problems["severity"] == "error").any()

    @property
    def n_errors(self) -> int:
        """Number of error rows."""
        return int((self.problems["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        """Number of warning rows."""
        return int((self.problems["severity"] == "warning").sum())

    def for_table(self, table: str, severity: str | None = None) -> pd.DataFrame:
        """Problems of one table (optionally of one severity).

        Example:
            >>> ValidationReport([]).for_table("xjs_link").empty
            True
        """
        df = self.problems[self.problems["table"] == table]
        return df if severity is None else df[df["severity"] == severity]

    def __str__(self) -> str:
        head = f"Validation: {'OK' if self.ok else 'FAILED'} - {self.n_errors} error(s), {self.n_warnings} warning(s)"
        lines = [head]
        if len(self.summary):
            tables = zip(self.summary["table"], self.summary["rows"], strict=True)
            lines.append("Tables: " + ", ".join(f"{t} ({n:,} rows)" for t, n in tables))
        for sev in ("error", "warning"):
            sub = self.problems[self.problems["severity"] == sev]
            if len(sub):
                lines.append(f"{sev.upper()}S:")
                for r in sub.to_dict("records"):
                    where = f"{r['table']}.{r['column']}" if r["column"] else r["table"]
                    lines.append(f"  - [{r['kind']}] {where}: {r['message']}")
                    lines.append(f"      fix: {r['fix']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ValidationReport ok={self.ok} errors={self.n_errors} warnings={self.n_warnings}>"

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"
