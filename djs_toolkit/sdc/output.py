"""`Output`: one checked output (what may be released, why cells were withheld, and checker-only evidence)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.released import Released

__all__ = ["Output", "display_table"]

REASON_COLUMNS = ["row", "column", "rule", "status", "summary"]


@dataclass(eq=False)
class Output:
    """A checked output.

    Attributes:
        name: unique id within the session (ACRO's uid).
        status: `pass`, `review` or `fail`.
        type: `table`, `regression`, `histogram` or `custom`.
        table: what may be released: protected values, withheld cells as missing.
        mask: True where a cell was withheld (primary or secondary suppression, or redaction).
        reasons: one row per flagged cell (`row`, `column`, `rule`, `status`, `summary`), no cell values.
        evidence: checker-only numbers per cell (unrounded unweighted counts, dominance, audit intervals).
        released: the released counts as label sets (the differencing ledger's view; None = nothing count-like).
        key_space: how `record_id` keys records: `record_id` (named by the caller) or `index` (DataFrame index).
        relations: earlier outputs sharing populations or variables with this one (from the ledger).
        differencing: checker-only differencing findings (true counts and attacker bounds of small groups).

    Example:
        >>> o = Output("t1", "pass", "table", "crosstab", "count", pd.DataFrame({"x": [12]}))
        >>> o.status, o.mask.shape
        ('pass', (1, 1))
    """

    name: str
    status: str
    type: str
    method: str
    statistic: str
    table: pd.DataFrame
    mask: pd.DataFrame | None = None
    reasons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REASON_COLUMNS))
    evidence: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    audit: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    description: str | None = None
    population: str | None = None
    variables: list[str] = field(default_factory=list)
    n: int | None = None
    dof: float | None = None
    controls: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    timestamp: str = ""
    comments: list[str] = field(default_factory=list)
    exceptions: list[dict[str, str]] = field(default_factory=list)
    record_id: object | None = field(default=None, repr=False)
    cell_labels: np.ndarray | None = field(default=None, repr=False)
    source_path: str | None = None
    released: Released | None = field(default=None, repr=False)
    key_space: str | None = None
    relations: list[str] = field(default_factory=list)
    differencing: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def __post_init__(self) -> None:
        if self.mask is None:
            self.mask = pd.DataFrame(False, index=self.table.index, columns=self.table.columns)

    def __repr__(self) -> str:
        # Only released values and rule names: evidence for withheld cells must never be printed.
        rules = self.reasons["rule"].value_counts().sort_index() if len(self.reasons) else pd.Series(dtype=int)
        lines = [f"Output {self.name!r}: {self.type} ({self.method}, {self.statistic}) status={self.status}"]
        if len(rules):
            lines.append("flags: " + ", ".join(f"{r} x{c}" for r, c in rules.items()))
        if self.controls:
            lines.append("controls: " + "; ".join(self.controls))
        if self.mask is not None and self.mask.to_numpy().any():
            lines.append(f"withheld cells: {int(self.mask.to_numpy().sum())}")
        if self.exceptions:
            lines.append("exceptions: " + ", ".join(e["reason_code"] for e in self.exceptions))
        lines.append(self.table.to_string(max_rows=30, max_cols=20))
        return "\n".join(lines)

    __str__ = __repr__


def _label(grid: Grid, coord: tuple[int, ...], dims: range, margins_name: str) -> tuple[Hashable, ...]:
    parts = [margins_name if coord[d] == grid.shape[d] else grid.levels[d][coord[d]] for d in dims]
    if len(parts) > 1 and all(coord[d] == grid.shape[d] for d in dims):
        return (margins_name,) + ("",) * (len(parts) - 1)  # pandas spells a MultiIndex margin ("All", "")
    return tuple(parts)


def display_table(
    grid: Grid, ext_values: np.ndarray, margins: bool, margins_name: str = "All", value_name: str = "value"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Lay extended-cell values out as a pandas-style table.

    Rows are the row dimensions, columns the column dimensions; with `margins`, one grand total row and column
    (pandas `margins=True` semantics). Returns the table and the extended id of every displayed cell.

    Example:
        >>> g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x"])), 1)
        >>> t, ids = display_table(g, np.arange(6.0), margins=True)
        >>> t.to_numpy().tolist(), ids.tolist()
        ([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [[0, 1], [2, 3], [4, 5]])
    """
    shape, nr = grid.shape, grid.n_row_dims
    rdims, cdims = range(nr), range(nr, len(shape))

    def positions(dims: range) -> list[tuple[int, ...]]:
        inner: list[tuple[int, ...]] = [tuple(c) for c in np.ndindex(*[shape[d] for d in dims])] if len(dims) else [()]
        if margins and len(dims):
            inner.append(tuple(shape[d] for d in dims))
        return inner

    rpos, cpos = positions(rdims), positions(cdims)
    ids = np.empty((len(rpos), len(cpos)), dtype=np.int64)
    for i, rp in enumerate(rpos):
        for j, cp in enumerate(cpos):
            coord = rp + cp
            ids[i, j] = np.ravel_multi_index(coord, grid.ext_shape)
    rlabels = [_label(grid, tuple(rp) + tuple(0 for _ in cdims), rdims, margins_name) for rp in rpos]
    if len(cdims):
        clabels = [_label(grid, tuple(0 for _ in rdims) + tuple(cp), cdims, margins_name) for cp in cpos]
        cindex = (
            pd.MultiIndex.from_tuples(clabels, names=[grid.names[d] for d in cdims])
            if len(cdims) > 1
            else pd.Index([c[0] for c in clabels], name=grid.names[nr])  # one column dimension
        )
    else:
        cindex = pd.Index([value_name])
    rindex = (
        pd.MultiIndex.from_tuples(rlabels, names=[grid.names[d] for d in rdims])
        if nr > 1
        else pd.Index([r[0] if len(r) == 1 else r for r in rlabels], name=grid.names[0])
    )
    table = pd.DataFrame(np.asarray(ext_values)[ids], index=rindex, columns=cindex)
    return table, ids
