"""Single-pass cell evidence: everything the rules need, computed once per output from categorical codes.

Design (docs/disclosure.md §7.1): each record gets one int32 cell label (-1 = outside the population or a
missing key). Per-cell evidence comes from `np.bincount` / `ufunc.at` over those labels, and margins are derived
from the interior arrays, never by regrouping the records. All categories are kept, so empty cells are visible.
The label array is kept on the result so the differencing ledger (part 2) can reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError

__all__ = ["Evidence", "Grid", "cell_evidence", "cell_labels", "extend"]

_ADDITIVE = ("n", "n_weighted", "n_value", "w_value", "n_missing", "n_negative", "sum", "abs_sum", "sumsq")


@dataclass(frozen=True)
class Grid:
    """A d-dimensional table extended by one "total" position per dimension.

    Extended cell ids are `np.ravel_multi_index` over `ext_shape`; coordinate `k_i` on dimension i means
    "total over dimension i". Row dimensions come first, column dimensions after.

    Example:
        >>> g = Grid(("a", "b"), (pd.Index(["x", "y"]), pd.Index([1, 2, 3])), 1)
        >>> g.shape, g.n_ext
        ((2, 3), 12)
    """

    names: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    n_row_dims: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Categories per dimension.

        Example:
            >>> Grid(("a",), (pd.Index(["x", "y"]),), 1).shape
            (2,)
        """
        return tuple(len(lv) for lv in self.levels)

    @property
    def ext_shape(self) -> tuple[int, ...]:
        """Shape including one total position per dimension.

        Example:
            >>> Grid(("a",), (pd.Index(["x", "y"]),), 1).ext_shape
            (3,)
        """
        return tuple(k + 1 for k in self.shape)

    @property
    def n_cells(self) -> int:
        """Number of interior cells.

        Example:
            >>> Grid(("a",), (pd.Index(["x", "y"]),), 1).n_cells
            2
        """
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def n_ext(self) -> int:
        """Number of cells including every margin.

        Example:
            >>> Grid(("a",), (pd.Index(["x", "y"]),), 1).n_ext
            3
        """
        return int(np.prod(self.ext_shape, dtype=np.int64))

    def coords(self) -> np.ndarray:
        """(d, n_ext) coordinates of every extended cell.

        Example:
            >>> Grid(("a",), (pd.Index(["x"]),), 1).coords().tolist()
            [[0, 1]]
        """
        return np.array(np.unravel_index(np.arange(self.n_ext), self.ext_shape))

    def is_total(self) -> np.ndarray:
        """(d, n_ext) booleans: is the cell a total along each dimension.

        Example:
            >>> Grid(("a",), (pd.Index(["x"]),), 1).is_total().tolist()
            [[False, True]]
        """
        return self.coords() == np.array(self.shape)[:, None]

    def interior_ids(self) -> np.ndarray:
        """Extended ids of the interior cells, in C order of `shape`.

        Example:
            >>> Grid(("a",), (pd.Index(["x", "y"]),), 1).interior_ids().tolist()
            [0, 1]
        """
        idx = np.unravel_index(np.arange(self.n_cells), self.shape)
        return np.ravel_multi_index(idx, self.ext_shape)

    def label_of(self, cell: int) -> tuple[object, ...]:
        """Category labels of one extended cell (`margins_name` stands for a total).

        Example:
            >>> Grid(("a",), (pd.Index(["x"]),), 1).label_of(1)
            ('All',)
        """
        coord = np.unravel_index(int(cell), self.ext_shape)
        return tuple("All" if c == len(lv) else lv[int(c)] for c, lv in zip(coord, self.levels, strict=True))


@dataclass
class Evidence:
    """Evidence for one output: per extended cell numbers plus the per-record label array.

    Example:
        >>> ev = cell_evidence(*cell_labels([pd.Series(list("aab"), name="g")]))
        >>> ev.cells["n"].tolist()
        [2, 1, 3]
    """

    grid: Grid
    cells: pd.DataFrame
    labels: np.ndarray = field(repr=False)


def _codes(key: object, name: str, n: int | None) -> tuple[np.ndarray, pd.Index, str]:
    if isinstance(key, pd.Series):
        series = key
    elif isinstance(key, (pd.Index, np.ndarray, list, tuple, pd.Categorical)):
        series = pd.Series(key)
    else:
        raise DJSUserError(f"Table dimension {name} must be a pandas Series or an array, not {type(key).__name__}.")
    if n is not None and len(series) != n:
        raise DJSUserError(f"Table dimension {name} has a different length from the first dimension: align them.")
    label = str(series.name) if series.name is not None else name
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Declared categories are all kept, so categories with no records show up as empty cells.
        return series.cat.codes.to_numpy(np.int64), pd.Index(series.cat.categories, name=label), label
    codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    uniques = pd.Index(uniques)
    try:
        # Sorting the few uniques and remapping codes is cheaper than factorize(sort=True) on a million rows.
        order = np.asarray(uniques.argsort())
    except TypeError:  # mixed, unorderable labels: keep first-seen order
        order = np.arange(len(uniques))
    rank = np.empty(len(uniques) + 1, dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    rank[-1] = -1  # code -1 (missing key) indexes the last slot
    return rank[codes], uniques.take(order).rename(label), label


def cell_labels(
    keys: Sequence[object], n_row_dims: int | None = None, population: object | None = None
) -> tuple[np.ndarray, Grid]:
    """Per-record cell labels for the table spanned by `keys`.

    Args:
        keys: one Series/array per table dimension (row dimensions first).
        n_row_dims: how many of `keys` are row dimensions (default: all but the last, or 1 for one key).
        population: optional boolean array; records where it is False get label -1.

    Returns:
        (labels, grid): int32 labels (-1 = outside the population or a missing key) and the table's Grid.

    Example:
        >>> lab, g = cell_labels([pd.Series(["a", "b", None])])
        >>> lab.tolist(), list(g.levels[0])
        ([0, 1, -1], ['a', 'b'])
    """
    if len(keys) == 0:
        raise DJSUserError("A table needs at least one dimension: pass index= (and columns=).")
    n: int | None = None
    codes, levels, names = [], [], []
    for i, key in enumerate(keys):
        c, lv, nm = _codes(key, f"dim{i}", n)
        n = len(c)
        codes.append(c)
        levels.append(lv)
        names.append(nm)
    shape = [max(len(lv), 1) for lv in levels]
    if int(np.prod(shape, dtype=np.int64)) >= 2**31 - 1:
        raise DJSUserError("Table has too many cells for one output: aggregate categories first.")
    labels = np.zeros(n or 0, dtype=np.int64)
    bad = np.zeros(n or 0, dtype=bool)
    stride = 1
    for c, k in zip(reversed(codes), reversed(shape), strict=True):
        labels += c * stride
        bad |= c < 0
        stride *= k
    if population is not None:
        pop = np.asarray(population, dtype=bool)
        if pop.shape != labels.shape:
            raise DJSUserError("population mask must have one boolean per record.")
        bad |= ~pop
    labels[bad] = -1
    nr = (len(keys) - 1 if len(keys) > 1 else 1) if n_row_dims is None else n_row_dims
    return labels.astype(np.int32), Grid(tuple(names), tuple(levels), nr)


def _top2_merge(t1: np.ndarray, t2: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    # The two largest contributions of a union are among the children's top-1 and top-2 values.
    d = t1.ndim
    rest = [i for i in range(d) if i not in axes]
    both = np.transpose(np.stack([t1, t2], axis=-1), rest + list(axes) + [d])
    flat = -np.sort(-both.reshape([t1.shape[i] for i in rest] + [-1]), axis=-1)
    return np.expand_dims(flat[..., 0], axes), np.expand_dims(flat[..., 1], axes)


def extend(interior: dict[str, np.ndarray], grid: Grid) -> dict[str, np.ndarray]:
    """Extend interior per-cell arrays to every margin of the grid (flat arrays over extended ids).

    Additive columns are summed, `vmin`/`vmax` reduced, `top1`/`top2` merged; anything else is NaN on margins.

    Example:
        >>> g = Grid(("a",), (pd.Index(["x", "y"]),), 1)
        >>> extend({"n": np.array([2, 3])}, g)["n"].tolist()
        [2, 3, 5]
    """
    shape, d = grid.shape, len(grid.shape)
    out: dict[str, np.ndarray] = {}
    subsets = [s for r in range(1, d + 1) for s in combinations(range(d), r)]
    for name, arr in interior.items():
        if name == "top2":
            continue
        a = arr.reshape(shape)
        ext = np.full(grid.ext_shape, np.nan if arr.dtype.kind == "f" else 0, dtype=arr.dtype)
        ext[tuple(slice(0, k) for k in shape)] = a
        for axes in subsets:
            sl = tuple(slice(k, k + 1) if i in axes else slice(0, k) for i, k in enumerate(shape))
            if name in _ADDITIVE:
                ext[sl] = a.sum(axis=axes, keepdims=True)
            elif name == "vmin":
                ext[sl] = a.min(axis=axes, keepdims=True, initial=np.inf)
            elif name == "vmax":
                ext[sl] = a.max(axis=axes, keepdims=True, initial=-np.inf)
            elif name == "top1" and "top2" not in interior:
                ext[sl] = a.max(axis=axes, keepdims=True, initial=0.0)
            elif name == "top1":
                t1, t2 = _top2_merge(a, interior["top2"].reshape(shape), axes)
                ext[sl] = t1
                out.setdefault("_t2", np.zeros(grid.ext_shape))[sl] = t2
            elif arr.dtype.kind == "f":
                ext[sl] = np.nan
        out[name] = ext.ravel()
    if "top2" in interior:
        t2 = out.pop("_t2", np.zeros(grid.ext_shape))
        t2[tuple(slice(0, k) for k in shape)] = interior["top2"].reshape(shape)
        out["top2"] = t2.ravel()
    return out


def _distinct_per_cell(lab: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray:
    """Distinct values per cell by hashing (cell, value-code) pairs: no sort of the records."""
    codes, uniques = pd.factorize(vals)
    key = lab.astype(np.int64) * max(len(uniques), 1) + codes
    return np.bincount(pd.unique(key) // max(len(uniques), 1), minlength=k).astype(np.float64)


def cell_evidence(
    labels: np.ndarray,
    grid: Grid,
    values: np.ndarray | pd.Series | None = None,
    weights: np.ndarray | pd.Series | None = None,
    distinct: bool = True,
) -> Evidence:
    """Compute per-cell evidence in one vectorised pass over the records.

    Columns (one row per extended cell): `n` (unweighted records), `n_weighted`, and with values: `n_value`
    (non-missing), `n_missing`, `n_negative`, `sum` (weighted when weights are given), `abs_sum`, `sumsq`, `top1`
    and `top2` (largest and second-largest absolute contribution), `vmin`, `vmax`, `n_distinct` (interior cells;
    on margins only known when all values are equal). Thresholds always use the unweighted `n`/`n_value`.

    Args:
        labels: int32 per-record cell labels from `cell_labels`.
        grid: the table's Grid.
        values: the numeric column a magnitude table summarises (None for frequency tables).
        weights: optional survey/frequency weights.
        distinct: compute `n_distinct` (one hash pass over (cell, value) pairs).

    Returns:
        Evidence with `cells` indexed by extended cell id and an `is_margin` column.

    Example:
        >>> lab, g = cell_labels([pd.Series(list("aab"))])
        >>> cell_evidence(lab, g, values=np.array([1.0, -4.0, 2.0])).cells["top1"].tolist()
        [4.0, 2.0, 4.0]
    """
    k = grid.n_cells
    lab = np.asarray(labels)
    inside = lab >= 0
    all_in = bool(inside.all())
    lab_in = lab if all_in else lab[inside]
    interior: dict[str, np.ndarray] = {"n": np.bincount(lab_in, minlength=k)}
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != lab.shape:
            raise DJSUserError("weights must have one value per record.")
        interior["n_weighted"] = np.bincount(lab_in, weights=w if all_in else w[inside], minlength=k)
    else:
        interior["n_weighted"] = interior["n"].astype(np.float64)
    if values is not None:
        v = np.asarray(values, dtype=np.float64)
        if v.shape != lab.shape:
            raise DJSUserError("values must have one value per record.")
        miss = np.isnan(v)
        valid = inside & ~miss
        interior["n_missing"] = np.bincount(lab[inside & miss], minlength=k)
        lv = lab if valid.all() else lab[valid]
        vv = v if valid.all() else v[valid]
        contrib = vv if w is None else vv * (w if valid.all() else w[valid])
        a = np.abs(contrib)
        interior["n_value"] = np.bincount(lv, minlength=k)
        if w is not None:
            interior["w_value"] = np.bincount(lv, weights=w if valid.all() else w[valid], minlength=k)
        interior["n_negative"] = np.bincount(lv[contrib < 0], minlength=k)
        interior["sum"] = np.bincount(lv, weights=contrib, minlength=k)
        interior["abs_sum"] = np.bincount(lv, weights=a, minlength=k)
        interior["sumsq"] = np.bincount(lv, weights=vv * vv, minlength=k)
        top1 = np.zeros(k)
        np.maximum.at(top1, lv, a)
        # Second largest: knock out one record holding each cell's maximum, then take the maximum again.
        hit = np.flatnonzero(a == top1[lv])
        _, first = np.unique(lv[hit], return_index=True)
        a2 = a.copy()
        a2[hit[first]] = -1.0
        top2 = np.zeros(k)
        np.maximum.at(top2, lv, a2)
        interior["top1"], interior["top2"] = top1, np.maximum(top2, 0.0)
        vmin, vmax = np.full(k, np.inf), np.full(k, -np.inf)
        np.minimum.at(vmin, lv, vv)
        np.maximum.at(vmax, lv, vv)
        interior["vmin"], interior["vmax"] = vmin, vmax
        if distinct:
            interior["n_distinct"] = _distinct_per_cell(lv, vv, k)
    ext = extend(interior, grid)
    cells = pd.DataFrame(ext)
    if "vmin" in cells:
        empty = cells["n_value"] == 0
        cells.loc[empty, ["vmin", "vmax"]] = np.nan
        if "n_distinct" in cells:
            # Margins: the exact distinct count is not derivable, but "all equal" is (min == max).
            unknown = cells["n_distinct"].isna()
            cells.loc[unknown & (cells["vmin"] == cells["vmax"]), "n_distinct"] = 1.0
            cells.loc[empty, "n_distinct"] = 0.0
    cells["is_margin"] = np.any(grid.is_total(), axis=0)
    cells.index.name = "cell"
    return Evidence(grid, cells, lab.astype(np.int32, copy=False))
