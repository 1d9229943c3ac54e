"""Checking a table given as numbers: a DataFrame of statistics plus a same-shape DataFrame of unweighted counts.

For outputs made elsewhere (R, Stata, SQL, `djs check`) and for `outputs.save_table`: the counts are checked with
the same rules and protection as a crosstab (threshold, zeros, class disclosure, secondary suppression with true
margins or rounding, LP audit), cells withheld from the counts are withheld from the statistic, and the output is
recorded in the ledger as aggregate-only (no record keys: the table-level differencing rule applies). A
statistic without counts cannot be checked at all: `review` with a reason saying what to add
(docs/disclosure.md §1.4 "the unweighted, unrounded underlying counts for every cell", §7.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.evidence import Evidence, Grid, extend
from djs_toolkit.sdc.output import display_table
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.protect import Protection, protect_table
from djs_toolkit.sdc.release_tables import RATIO_STATISTICS, ratio_scale
from djs_toolkit.sdc.released import Released, grid_released
from djs_toolkit.sdc.rules import apply_rules, flags_frame
from djs_toolkit.sdc.statistics import structural_margins
from djs_toolkit.sdc.structural import declared_wrong, protect_known_zeros

__all__ = ["CheckedTable", "as_frame", "check_counts"]


@dataclass
class CheckedTable:
    """Result of checking a table's counts.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> c = check_counts(pd.DataFrame({"x": [12, 3]}, index=pd.Index(["a", "b"], name="g")), None,
        ...                  "count", load_profile("srs"))
        >>> c.table["x"].tolist(), c.mask["x"].tolist()
        ([<NA>, <NA>], [True, True])
    """

    table: pd.DataFrame
    mask: pd.DataFrame
    evidence: Evidence
    protection: Protection
    flags: pd.DataFrame
    released: Released
    grid: Grid
    ext_counts: np.ndarray


def as_frame(obj: pd.DataFrame | pd.Series, what: str) -> pd.DataFrame:
    """A DataFrame with one column level (a Series becomes one column).

    Example:
        >>> as_frame(pd.Series([1, 2], name="n"), "table").columns.tolist()
        ['n']
    """
    if isinstance(obj, pd.Series):
        return obj.to_frame(obj.name if obj.name is not None else "value")
    if not isinstance(obj, pd.DataFrame):
        raise DJSUserError(f"{what} must be a pandas DataFrame (row labels as the index) or Series.")
    if isinstance(obj.columns, pd.MultiIndex):
        flat = obj.copy()
        flat.columns = [" | ".join(map(str, c)) for c in obj.columns]
        return flat
    return obj


def _whole_counts(counts: pd.DataFrame) -> np.ndarray:
    arr = counts.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    problems = {
        "missing or not numeric": ~np.isfinite(arr),
        "negative": arr < 0,
        "not whole numbers": np.isfinite(arr) & (arr != np.round(arr)),
    }
    bad = [f"{int(m.sum())} cell(s) {label}" for label, m in problems.items() if m.any()]
    if bad:
        raise DJSUserError(
            "counts must be unweighted, unsuppressed whole numbers >= 0 (the checker suppresses): "
            + "; ".join(bad)
            + "."
        )
    return arr


def _grid(frame: pd.DataFrame) -> Grid:
    idx, cols = frame.index, frame.columns
    rname = (
        "row"
        if idx.name is None and not isinstance(idx, pd.MultiIndex)
        else (idx.name if not isinstance(idx, pd.MultiIndex) else " | ".join(str(n) for n in idx.names))
    )
    rlabels = pd.Index([" | ".join(map(str, r)) if isinstance(r, tuple) else r for r in idx], name=str(rname))
    cname = str(cols.name) if cols.name is not None else "column"
    if rlabels.has_duplicates or cols.has_duplicates:
        raise DJSUserError("the table repeats a row or column label: aggregate first so each cell appears once.")
    return Grid((str(rname), cname), (rlabels, pd.Index(cols, name=cname)), 1)


def _derived_flags(frame: pd.DataFrame, n: np.ndarray, grid: Grid, statistic: str, profile: Profile) -> pd.DataFrame:
    """Cells whose ratio times its count (or the count less it) is a small count: primary suppressions."""
    scale = ratio_scale(statistic)
    v = frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64) / scale
    k = v * n
    small = (k >= 0.5) & (k < profile.min_safe_count - 0.5)
    if np.all(v[np.isfinite(v)] <= 1.0):
        small |= (n - k >= 0.5) & (n - k < profile.min_safe_count - 0.5)
    ids = grid.interior_ids()[np.flatnonzero(small.ravel())]
    why = f"the {statistic} times its count (or the count less it) is a count below {profile.min_safe_count}"
    return flags_frame([(int(c), "MinimumThresholdCheck", "fail", why) for c in ids])  # resolved by withholding


def _declared(spec: object, frame: pd.DataFrame, grid: Grid) -> np.ndarray | None:
    """Extended cells of a ``structural_zeros=`` given with a table: a boolean frame of its shape, or (row label,
    column label) pairs."""
    if spec is None:
        return None
    if isinstance(spec, pd.DataFrame):
        if list(map(str, spec.index)) != list(map(str, frame.index)) or list(map(str, spec.columns)) != list(
            map(str, frame.columns)
        ):
            raise DJSUserError("structural_zeros= must have the table's shape: the same row labels and columns.")
        inner = spec.fillna(False).to_numpy(bool).ravel()
    else:
        inner = np.zeros(frame.size, dtype=bool)
        try:
            for row, col in spec:  # type: ignore[attr-defined]
                i, j = frame.index.get_loc(row), frame.columns.get_loc(col)
                if not isinstance(i, int) or not isinstance(j, int):
                    raise KeyError(row)
                inner[i * frame.shape[1] + j] = True
        except (KeyError, TypeError, ValueError):
            raise DJSUserError(
                "structural_zeros= takes a boolean DataFrame shaped like the table, or (row label, column label) "
                "pairs naming its cells."
            ) from None
    out = np.zeros(grid.n_ext, dtype=bool)
    out[grid.interior_ids()[np.flatnonzero(inner)]] = True
    return out


def check_counts(
    values: pd.DataFrame | pd.Series,
    counts: pd.DataFrame | pd.Series | None,
    statistic: str,
    profile: Profile,
    margins: bool = False,
    structural_zeros: object = None,
) -> CheckedTable:
    """Check a table through its counts (for `statistic="count"`, `values` are the counts).

    Args:
        values: the table as released: row labels in the index, one column per column category.
        counts: unweighted counts of the same shape (None when `values` are the counts).
        statistic: `count` or the name of what `values` are (`mean`, `rate`, ...).
        profile: the rule set.
        margins: show row/column totals (counts only: totals of a statistic are not sums).
        structural_zeros: cells that cannot occur (a boolean DataFrame shaped like the table, or (row label, column
            label) pairs): marked as such, never flagged as zeros, published as known zeros (`sdc.structural`).

    Returns:
        CheckedTable with the released table (withheld cells missing) and the protection.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> v = pd.DataFrame({"mean_days": [41.5, 38.0]}, index=pd.Index([2019, 2020], name="year"))
        >>> n = pd.DataFrame({"mean_days": [120, 4]}, index=v.index)
        >>> check_counts(v, n, "mean", load_profile("srs")).table["mean_days"].tolist()
        [nan, nan]
    """
    frame = as_frame(values, "the table")
    if counts is None:
        if statistic != "count":
            raise DJSUserError("counts are needed to check a statistic: pass counts= of the same shape.")
        cframe = frame
    else:
        cframe = as_frame(counts, "counts")
        if (
            list(map(str, cframe.columns)) != list(map(str, frame.columns))
            or len(cframe) != len(frame)
            or list(map(str, cframe.index)) != list(map(str, frame.index))
        ):
            raise DJSUserError("counts= must have the table's shape: the same row labels and columns, in order.")
    arr = _whole_counts(cframe)
    grid = _grid(frame)
    n = arr.ravel().astype(np.int64)
    ext = extend({"n": n, "n_weighted": n.astype(np.float64)}, grid)
    cells = pd.DataFrame(ext)
    cells["is_margin"] = np.any(grid.is_total(), axis=0)
    cells.index.name = "cell"
    ev = Evidence(grid, cells, np.zeros(0, np.int32))
    structural = _declared(structural_zeros, frame, grid)
    flags = apply_rules(cells, grid, "count", profile, structural)
    if counts is not None and statistic in RATIO_STATISTICS:  # value x count is a count, and so is the rest
        flags = pd.concat([flags, _derived_flags(frame, arr, grid, statistic, profile)], ignore_index=True)
    wrong = declared_wrong(structural, cells["n"].to_numpy())
    if wrong:
        flags = pd.concat([flags, flags_frame(wrong)], ignore_index=True)
    counts_ext = cells["n"].to_numpy(np.float64)
    prot = protect_table(ev, "count", counts_ext, flags, profile)
    if structural is not None:
        known = structural_margins(grid, structural) & (cells["n"].to_numpy() == 0)
        prot = protect_known_zeros(ev, "count", counts_ext, prot, known, profile, None)
    show_margins = margins and statistic == "count"
    if statistic == "count":
        shown_vals = np.where(prot.suppressed, np.nan, prot.published)
    else:
        vals = frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64).ravel()
        stat_ext = np.full(grid.n_ext, np.nan)
        stat_ext[grid.interior_ids()] = vals
        shown_vals = np.where(prot.suppressed, np.nan, stat_ext)
    table, ids = display_table(grid, shown_vals, show_margins, profile.margins_name, str(statistic))
    table.index = table.index.rename(grid.names[0])
    if statistic == "count" and np.all(np.isnan(shown_vals[ids]) | (shown_vals[ids] == np.round(shown_vals[ids]))):
        table = table.round().astype("Int64")
    mask = pd.DataFrame(prot.suppressed[ids], index=table.index, columns=table.columns)
    rounded = profile.mitigation == "round"
    released = grid_released(
        grid, ids, counts_ext, prot.suppressed, "round" if rounded else "exact", "base", int(profile.round_base or 5)
    )
    return CheckedTable(table, mask, ev, prot, flags, released, grid, counts_ext)
