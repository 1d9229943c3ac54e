"""Sums, means and weighted tables as linear facts about records (issue 16; docs/disclosure.md §7.4).

A statistic is judged by what it reveals about counts of records, not by its name:
- a sum or mean of a column with few distinct values (`FEW_VALUES`, e.g. a 0/1 indicator) is a count of the
  records holding each value (with n published or derivable, a mean is a sum): each value's count per cell must be
  0 or at least the threshold, suppression protects every value's counts, and the ledger records the table as the
  count table of cells x values, so differencing against count tables of the same records is checked;
- a sum or mean of any other column is a magnitude: dominance and p% apply (`rules`), and the ledger records the
  released cell totals as sums of that column over the cells' records (`Released.measure`), so two outputs whose
  cells differ by a small group (N and N-1 records, nested populations) are caught by `sum_differencing`;
- a weighted count with one constant weight is a count table (the weight divides out); with varying weights it is
  a magnitude table of the weights, and dominance and p% apply to the weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Grid, cell_evidence, cell_labels
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.protect import Protection
from djs_toolkit.sdc.rules import apply_rules
from djs_toolkit.sdc.suppress import secondary_suppression

__all__ = ["FEW_VALUES", "LevelTable", "constant_weights", "level_table", "protect_levels", "weight_dominance"]

FEW_VALUES = 3  # a column with at most this many distinct values is a category, whatever its arithmetic


class LevelTable:
    """The count table behind a sum or mean of a few-valued column: cells x the column's values.

    Attributes:
        labels: per-record label over `grid` (the table's dimensions plus the value as the last one).
        grid: the table's Grid with the values as one more (column) dimension.
        counts: (table's extended cells, values + 1) counts; the last column is each cell's n.

    Example:
        >>> keys = [pd.Series(list("aabb"), name="g")]
        >>> lt = level_table(keys, 1, None, np.array([0.0, 1.0, 1.0, 1.0]))
        >>> lt.counts.tolist()
        [[1, 1, 2], [0, 2, 2], [1, 3, 4]]
    """

    def __init__(self, labels: np.ndarray, grid: Grid, counts: np.ndarray) -> None:
        self.labels, self.grid, self.counts = labels, grid, counts

    @property
    def k(self) -> int:
        """Number of distinct values."""
        return self.counts.shape[1] - 1

    def ext_ids(self, table_ext: np.ndarray, with_n: bool = True) -> np.ndarray:
        """Extended ids over `grid` of the given table cells: every value's count (and n when `with_n`).

        Example:
            >>> lt = level_table([pd.Series(list("ab"), name="g")], 1, None, np.array([0.0, 1.0]))
            >>> lt.ext_ids(np.array([2])).tolist()
            [6, 7, 8]
        """
        per = np.arange(self.k + (1 if with_n else 0))
        return (np.asarray(table_ext, np.int64)[:, None] * (self.k + 1) + per[None, :]).ravel()


def level_table(
    keys: list[pd.Series], n_row_dims: int, pop_mask: np.ndarray | None, values: np.ndarray
) -> LevelTable | None:
    """The cells x values count table when `values` has 2..FEW_VALUES distinct values (else None).

    Example:
        >>> level_table([pd.Series(list("ab"), name="g")], 1, None, np.arange(2.0) * 7.5).k
        2
        >>> level_table([pd.Series(list("abcd"), name="g")], 1, None, np.arange(4.0)) is None
        True
    """
    v = np.asarray(values, np.float64)
    inside = np.isfinite(v) if pop_mask is None else (np.isfinite(v) & pop_mask)
    head = pd.unique(v[inside][:4096])  # most columns show many values at once: no pass over every record
    if len(head) > FEW_VALUES:
        return None
    levels = np.sort(pd.unique(v[inside]))
    if not 2 <= len(levels) <= FEW_VALUES:
        return None
    code = np.where(np.isfinite(v), np.searchsorted(levels, np.where(np.isfinite(v), v, levels[0])), -1)
    # a missing value (code -1) is outside the value's count table
    cats = pd.Index([f"{x:g}" for x in levels])
    lev = pd.Series(pd.Categorical.from_codes(code, categories=cats), name="\x00value")  # type: ignore[arg-type]
    labels, grid = cell_labels([*[k.reset_index(drop=True) for k in keys], lev], n_row_dims, inside)
    ev = cell_evidence(labels, grid)
    counts = ev.cells["n"].to_numpy(np.int64).reshape(-1, len(levels) + 1)
    return LevelTable(labels, grid, counts)


def _small(n: np.ndarray, profile: Profile) -> np.ndarray:
    t = profile.threshold
    return (n > 0) & ((n <= t) if profile.threshold_rule == "at_or_below" else (n < t))


def level_flags(lt: LevelTable, profile: Profile, statistic: str) -> list[tuple[int, str, str, str]]:
    """A cell fails when the count of records holding some value is 1..threshold-1 (the statistic reveals it).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> lt = level_table([pd.Series(["a"] * 30, name="g")], 1, None, np.r_[np.ones(3), np.zeros(27)])
        >>> [c for c, *_ in level_flags(lt, load_profile("srs"), "sum")]
        [0, 1]
    """
    small = _small(lt.counts[:, : lt.k], profile).any(axis=1)
    cmp = "<=" if profile.threshold_rule == "at_or_below" else "<"
    text = (
        f"the {statistic} of a column with {lt.k} distinct values is a count of the records holding each value: "
        f"some value is held by {cmp} {profile.threshold} records in this cell"
    )
    return [(int(c), "MinimumThresholdCheck", "fail", text) for c in np.flatnonzero(small)]


def protect_levels(grid: Grid, lt: LevelTable, prot: Protection, profile: Profile) -> Protection:
    """Secondary suppression on every value's count table, on top of the table's own protection.

    A withheld mean or sum of a 0/1 column is a withheld count, recoverable from the margin and the other cells'
    counts, so each value's counts get complements as a count table does (width: the profile's count width).
    """
    if not prot.suppressed.any():
        return prot
    suppressed = prot.suppressed.copy()
    ok, controls = prot.ok, list(prot.controls)
    audits = [prot.audit]
    for level in range(lt.k):
        x = lt.counts[:, level].astype(np.float64)
        res = secondary_suppression(grid, x, suppressed, np.full(grid.n_ext, profile.width), np.zeros(grid.n_ext))
        suppressed |= res.suppressed
        ok &= res.ok
        audits.append(res.audit)
    added = int((suppressed & ~prot.suppressed).sum())
    controls.append(
        f"each value's counts protected as a count table ({lt.k} values; {added} further cell(s) withheld; "
        f"LP attacker audit {'passed' if ok else 'FAILED'})"
    )
    published = np.where(suppressed, np.nan, prot.published)
    frames = [a for a in audits if len(a)]
    audit = pd.concat(frames) if frames else prot.audit
    return Protection(published, suppressed, prot.primary, audit, ok, controls, True, prot.resolved)


def constant_weights(w: np.ndarray | None, labels: np.ndarray) -> bool:
    """Whether every record in the output has the same (finite) weight: the weighted table is then a count table.

    Example:
        >>> constant_weights(np.array([2.0, 2.0, 9.0]), np.array([0, 1, -1])), constant_weights(None, np.array([0]))
        (True, True)
    """
    if w is None:
        return True
    x = np.asarray(w, np.float64)[np.asarray(labels) >= 0]
    return bool(len(x) == 0 or (np.isfinite(x).all() and (x == x[0]).all()))


def weight_dominance(
    labels: np.ndarray, grid: Grid, w: np.ndarray, profile: Profile
) -> list[tuple[int, str, str, str]]:
    """Dominance (N-K, p%) of the weights in each cell of a weighted count: a weighted count is a sum of weights.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> lab, g = cell_labels([pd.Series(["a"] * 20, name="g")])
        >>> sorted({r for _, r, *_ in weight_dominance(lab, g, np.r_[500.0, np.ones(19)], load_profile("srs"))})
        ['NKCheck', 'PPercentCheck']
    """
    ev = cell_evidence(labels, grid, np.asarray(w, np.float64))
    flags = apply_rules(ev.cells, grid, "sum", profile)
    keep = flags[flags["rule"].isin(["NKCheck", "PPercentCheck"])]
    return [
        (int(c), str(r), str(s), f"weighted count: {t}")
        for c, r, s, t in keep[["cell", "rule", "status", "summary"]].itertuples(index=False)
    ]
