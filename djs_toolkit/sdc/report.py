"""Assemble an `Output` from evidence, flags and protection: released table, mask, reasons, checker evidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Evidence, Grid
from djs_toolkit.sdc.output import REASON_COLUMNS, Output, display_table
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.protect import Protection

__all__ = ["build_output", "cell_position", "reason_frame"]


def reason_frame(rows: Sequence[tuple[object, object, str, str, str]]) -> pd.DataFrame:
    """Reasons as a DataFrame (`row`, `column`, `rule`, `status`, `summary`).

    Example:
        >>> reason_frame([("a", "x", "MinimumThresholdCheck", "fail", "n < 10")]).shape
        (1, 5)
    """
    return pd.DataFrame(rows, columns=REASON_COLUMNS, dtype=object)


def _labels(grid: Grid, cell: int, margins_name: str) -> tuple[object, object]:
    coord = np.unravel_index(int(cell), grid.ext_shape)
    lab = [margins_name if c == k else lv[int(c)] for c, k, lv in zip(coord, grid.shape, grid.levels, strict=True)]
    nr = grid.n_row_dims
    row = lab[0] if nr == 1 else tuple(lab[:nr])
    col = None if nr == len(lab) else (lab[nr] if len(lab) - nr == 1 else tuple(lab[nr:]))
    return row, col


def cell_position(ids: np.ndarray) -> dict[int, tuple[int, int]]:
    """Map extended cell id -> (row, column) position in the displayed table.

    Example:
        >>> cell_position(np.array([[4, 5]]))
        {4: (0, 0), 5: (0, 1)}
    """
    return {int(c): (int(i), int(j)) for (i, j), c in np.ndenumerate(ids)}


def build_output(
    name: str,
    status: str,
    otype: str,
    method: str,
    stat: str,
    ev: Evidence,
    prot: Protection,
    flags: pd.DataFrame,
    ext_values: np.ndarray,
    margins: bool,
    profile: Profile,
    value_name: str,
) -> Output:
    """Lay out the released table and everything the checker needs.

    Example:
        >>> from djs_toolkit.sdc.session import Session
        >>> o = Session().crosstab(pd.Series(["a"] * 12, name="g"), pd.Series(["x"] * 12, name="c"))
        >>> list(o.evidence.columns[:3])
        ['g', 'c', 'n']
    """
    grid = ev.grid
    mname = profile.margins_name
    published = np.where(prot.suppressed, np.nan, prot.published)  # belt and braces: never a withheld value
    table, ids = display_table(grid, published, margins, mname, value_name)
    if stat == "count":
        table = table.round().astype("Int64") if prot.published.dtype.kind == "f" and _integral(table) else table
    mask = pd.DataFrame(prot.suppressed[ids], index=table.index, columns=table.columns)
    rows = []
    for cell, rule, st, summary in flags.itertuples(index=False):
        r, c = _labels(grid, cell, mname) if cell >= 0 else (None, None)
        rows.append((r, c, rule, st, summary))
    reasons = reason_frame(rows)
    evidence = _evidence_frame(ev, prot, flags, ext_values, ids)
    out = Output(name, status, otype, method, stat, table, mask, reasons, evidence, prot.audit)
    out.controls = list(prot.controls)
    pos = cell_position(ids)
    flagged = flags[(flags["cell"] >= 0) & (flags["status"] != "pass")]
    out.properties["cells"] = {
        rule: sorted(pos[c] for c in grp["cell"] if c in pos) for rule, grp in flagged.groupby("rule")
    }
    structural = flags[(flags["cell"] >= 0) & (flags["status"] == "pass") & (flags["rule"] == "StructuralZeroCheck")]
    if len(structural):  # declared zeros that cannot occur: shown as such, not as cells left for the checker
        out.properties["structural_cells"] = sorted(pos[c] for c in structural["cell"] if c in pos)
    out.properties["suppressed_cells"] = sorted(pos[c] for c in map(int, np.flatnonzero(prot.suppressed)) if c in pos)
    return out


def _integral(table: pd.DataFrame) -> bool:
    arr = table.to_numpy(dtype=np.float64)
    fin = arr[np.isfinite(arr)]
    return bool(np.all(fin == np.round(fin)))


def _evidence_frame(
    ev: Evidence, prot: Protection, flags: pd.DataFrame, ext_values: np.ndarray, ids: np.ndarray
) -> pd.DataFrame:
    grid = ev.grid
    coords = grid.coords()
    frame = pd.DataFrame(
        {
            name: [("All" if c == len(lv) else lv[c]) for c in coords[d]]
            for d, (name, lv) in enumerate(zip(grid.names, grid.levels, strict=True))
        }
    )
    cells = ev.cells.reset_index(drop=True)
    frame = pd.concat([frame, cells], axis=1)
    frame["displayed"] = np.isin(np.arange(grid.n_ext), ids.ravel())
    frame["value_unprotected"] = ext_values
    frame["value_published"] = np.where(prot.suppressed, np.nan, prot.published)
    frame["primary"] = prot.primary
    frame["withheld"] = prot.suppressed
    rules = flags[flags["cell"] >= 0].groupby("cell")["rule"].agg(lambda r: "; ".join(sorted(set(r))))
    frame["rules"] = pd.Series(rules).reindex(range(grid.n_ext)).fillna("").to_numpy()
    for col in ("lower", "upper", "required"):
        frame[f"audit_{col}"] = np.nan
        if len(prot.audit):
            frame.loc[prot.audit.index.to_numpy(), f"audit_{col}"] = prot.audit[col].to_numpy(np.float64)
    frame.index.name = "cell"
    return frame
