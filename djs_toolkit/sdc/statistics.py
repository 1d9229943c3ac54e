"""Statistic values per extended cell, computed from the evidence (never by regrouping records, except for
percentiles, which need the records sorted, and unknown statistics, which pandas computes)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Evidence, Grid
from djs_toolkit.sdc.profiles import Profile

__all__ = [
    "SUPPORTED",
    "matches_declared",
    "quantile_values",
    "record_valued_cells",
    "statistic_name",
    "statistic_values",
    "structural_margins",
    "unknown_values",
]

_CALLABLES: dict[object, str] = {
    np.sum: "sum",
    np.mean: "mean",
    np.median: "median",
    np.min: "min",
    np.max: "max",
    np.std: "std",
    np.var: "var",
    sum: "sum",
    min: "min",
    max: "max",
    len: "count",
    np.nansum: "sum",
    np.nanmean: "mean",
    np.nanmedian: "median",
    np.nanmin: "min",
    np.nanmax: "max",
    np.nanstd: "std",
    np.nanvar: "var",
}
_ALIASES = {
    "size": "count",
    "average": "mean",
    "amin": "min",
    "amax": "max",
    "nanmin": "min",
    "nanmax": "max",
    "nansum": "sum",
    "nanmean": "mean",
    "nanmedian": "median",
    "nanstd": "std",
    "nanvar": "var",
}
# What `statistic=` may declare for a function the checker does not know (it is then verified against the values).
SUPPORTED = ("count", "sum", "mean", "median", "pNN", "min", "max", "std", "var")


def statistic_name(aggfunc: object) -> str:
    """Canonical statistic name of a pandas-style aggfunc (string or common callable).

    Example:
        >>> statistic_name(np.mean), statistic_name("size"), statistic_name("nunique")
        ('mean', 'count', 'nunique')
    """
    if isinstance(aggfunc, str):
        return _ALIASES.get(aggfunc, aggfunc)
    try:
        if aggfunc in _CALLABLES:
            return _CALLABLES[aggfunc]
    except TypeError:
        pass
    return getattr(aggfunc, "__name__", type(aggfunc).__name__)


def statistic_values(statistic: str, cells: pd.DataFrame, weighted: bool = False) -> np.ndarray:
    """Known linear/extreme/shape statistics over extended cells (NaN where there are no values).

    Example:
        >>> cells = pd.DataFrame({"n": [2], "n_weighted": [2.0], "n_value": [2], "sum": [6.0], "sumsq": [20.0]})
        >>> statistic_values("var", cells).tolist()
        [2.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "count":
            return cells["n_weighted" if weighted else "n"].to_numpy(np.float64)
        nv = cells["n_value"].to_numpy(np.float64)
        s = cells["sum"].to_numpy(np.float64)
        if statistic == "sum":
            return np.where(nv > 0, s, np.nan) if "n_value" in cells else s
        if statistic == "mean":
            denom = cells["w_value"].to_numpy(np.float64) if weighted else nv
            return np.where(nv > 0, s / denom, np.nan)
        if statistic in ("var", "std"):
            var = (cells["sumsq"].to_numpy(np.float64) - s * s / nv) / (nv - 1)
            var = np.where(nv > 1, np.maximum(var, 0.0), np.nan)
            return np.sqrt(var) if statistic == "std" else var
        if statistic == "min":
            return cells["vmin"].to_numpy(np.float64)
        if statistic == "max":
            return cells["vmax"].to_numpy(np.float64)
    raise KeyError(statistic)


def _margin_maps(grid: Grid) -> list[np.ndarray]:
    """For every set of aggregated dimensions, the extended id of each interior cell's aggregate."""
    shape, ext = grid.shape, grid.ext_shape
    coords = np.array(np.unravel_index(np.arange(grid.n_cells), shape))
    maps = []
    d = len(shape)
    for r in range(d + 1):
        for axes in combinations(range(d), r):
            c = coords.copy()
            for a in axes:
                c[a] = shape[a]
            maps.append(np.ravel_multi_index(tuple(c), ext))
    return maps


def structural_margins(grid: Grid, structural: np.ndarray) -> np.ndarray:
    """Declared structural cells with the totals made only of them (a total of cells that cannot occur cannot
    occur either), over extended cells.

    Example:
        >>> g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x"])), 1)
        >>> structural_margins(g, np.array([True, False, False, False, False, False])).tolist()
        [True, True, False, False, False, False]
    """
    declared = np.asarray(structural, dtype=bool)
    interior = declared[grid.interior_ids()]
    covered = np.zeros(grid.n_ext, dtype=bool)
    possible = np.zeros(grid.n_ext, dtype=bool)
    for mp in _margin_maps(grid):
        covered[mp] = True
        possible[mp[~interior]] = True
    return declared | (covered & ~possible)


def _band_round(v: float, scale: float, sig: int) -> tuple[float, float, float]:
    # The unit follows the larger of the value and the cell's spread, so medians near zero still round coarsely.
    if not np.isfinite(v) or scale <= 0:
        return v, v, v
    unit = 10.0 ** (np.floor(np.log10(scale)) - sig + 1)
    r = float(np.round(v / unit) * unit)
    return r, r - unit / 2, r + unit / 2


def quantile_values(ev: Evidence, values: np.ndarray, q: float, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Percentile `q` (linear interpolation, as pandas) of every extended cell, protected against uniqueness.

    A percentile held by fewer than `profile.position_min_in_band` records is rounded to `position_sig_figs`
    significant figures of max(|value|, cell SD), then fewer, until its rounding band holds enough records;
    otherwise it is unprotectable.

    Returns:
        (values, state) with state 0 = exact and shared, 1 = rounded, 2 = unprotectable (to be suppressed).

    Example:
        >>> from djs_toolkit.sdc.evidence import cell_labels, cell_evidence
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> lab, g = cell_labels([pd.Series(["a"] * 4)])
        >>> v = np.array([10.0, 20.0, 20.0, 31.0])
        >>> val, state = quantile_values(cell_evidence(lab, g, v), v, 0.5, load_profile("srs"))
        >>> val.tolist(), state.tolist()
        ([20.0, 20.0], [0, 0])
    """
    grid = ev.grid
    out = np.full(grid.n_ext, np.nan)
    state = np.zeros(grid.n_ext, dtype=np.int8)
    lab = ev.labels
    v = np.asarray(values, dtype=np.float64)
    keep = (lab >= 0) & ~np.isnan(v)
    lab, v = lab[keep], v[keep]
    order = np.argsort(v, kind="stable")
    need = max(1, profile.position_min_in_band)
    for mp in _margin_maps(grid):
        ml = mp[lab[order]]
        perm = order[np.argsort(ml, kind="stable")]
        sl, sv = mp[lab[perm]], v[perm]
        ids, start, cnt = np.unique(sl, return_index=True, return_counts=True)
        pos = start + q * (cnt - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, start + cnt - 1)
        val = sv[lo] + (pos - lo) * (sv[hi] - sv[lo])
        out[ids] = val
        for i, cid in enumerate(ids):
            seg = sv[start[i] : start[i] + cnt[i]]
            x = val[i]
            tol = 1e-9 * max(1.0, abs(x))
            held = np.searchsorted(seg, x + tol, "right") - np.searchsorted(seg, x - tol, "left")
            if held >= need:
                continue
            state[cid] = 2
            scale = max(abs(float(x)), float(np.std(seg)))
            for sig in range(profile.position_sig_figs, 0, -1):
                r, b_lo, b_hi = _band_round(float(x), scale, sig)
                if np.searchsorted(seg, b_hi, "left") - np.searchsorted(seg, b_lo, "left") >= need:
                    out[cid], state[cid] = r, 1
                    break
    return out, state


def unknown_values(keys: list[pd.Series], grid: Grid, values: pd.Series, func: Any) -> np.ndarray:
    """Evaluate an unknown aggfunc with pandas for every extended cell; NaN where it cannot be computed.

    `func` is whatever the researcher gave as aggfunc (anything pandas' `agg` takes; what fails gives NaN).

    Example:
        >>> from djs_toolkit.sdc.evidence import cell_labels
        >>> k = [pd.Series(list("aab"), name="g")]
        >>> _, g = cell_labels(k)
        >>> unknown_values(k, g, pd.Series([1.0, 1.0, 2.0]), "nunique").tolist()
        [1.0, 1.0, 2.0]
    """
    out = np.full(grid.n_ext, np.nan)
    frame = pd.DataFrame(
        {f"k{i}": pd.Categorical(k, categories=lv) for i, (k, lv) in enumerate(zip(keys, grid.levels, strict=True))}
    )
    frame["__v"] = pd.Series(values).to_numpy()
    shape = grid.shape
    d = len(shape)
    for r in range(d + 1):
        for axes in combinations(range(d), d - r):
            grp = [f"k{i}" for i in range(d) if i not in axes]
            try:
                if grp:
                    res = frame.groupby(grp, observed=False)["__v"].agg(func)
                    res = res.reindex(
                        pd.MultiIndex.from_product([grid.levels[i] for i in range(d) if i not in axes])
                        if len(grp) > 1
                        else grid.levels[next(i for i in range(d) if i not in axes)]
                    )
                    arr = pd.to_numeric(pd.Series(res.to_numpy().ravel()), errors="coerce").to_numpy(np.float64)
                else:
                    arr = np.array(
                        [pd.to_numeric(pd.Series([frame["__v"].agg(func)]), errors="coerce")[0]], dtype=np.float64
                    )
            except Exception:
                continue
            sub = [shape[i] if i not in axes else 1 for i in range(d)]
            coords = np.array(np.unravel_index(np.arange(int(np.prod(sub))), sub))
            for a in axes:
                coords[a] = shape[a]
            out[np.ravel_multi_index(tuple(coords), grid.ext_shape)] = arr
    return out


def record_valued_cells(labels: np.ndarray, grid: Grid, values: np.ndarray, published: np.ndarray) -> np.ndarray:
    """Extended cells whose published value equals the value of one of the cell's own records.

    A statistic the checker cannot name is judged by what it is: a value that is one record's value (a maximum
    under another name, `last` on sorted data, a lambda) discloses that record, whatever the function was called.

    Example:
        >>> from djs_toolkit.sdc.evidence import cell_labels
        >>> lab, g = cell_labels([pd.Series(list("aab"))])
        >>> record_valued_cells(lab, g, np.array([1.0, 5.0, 2.0]), np.array([5.0, 2.5, 5.0])).tolist()
        [True, False, True]
    """
    pub = np.asarray(published, np.float64)
    v = np.asarray(values, np.float64)
    keep = (np.asarray(labels) >= 0) & np.isfinite(v)
    lab, v = np.asarray(labels)[keep], v[keep]
    hit = np.zeros(grid.n_ext, dtype=bool)
    for mp in _margin_maps(grid):
        ext = mp[lab]
        target = pub[ext]
        eq = np.isfinite(target) & (np.abs(v - target) <= 1e-9 * np.maximum(1.0, np.abs(target)))
        hit[ext[eq]] = True
    return hit


def matches_declared(theirs: np.ndarray, ours: np.ndarray) -> bool:
    """Whether a function's values (`unknown_values`) are the declared statistic's values (`statistic=`).

    Example:
        >>> matches_declared(np.array([1.0, np.nan]), np.array([1.0 + 1e-12, np.nan])), matches_declared(
        ...     np.array([2.0]), np.array([1.0]))
        (True, False)
    """
    a, b = np.asarray(theirs, np.float64), np.asarray(ours, np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    if (np.isfinite(a) & ~np.isfinite(b)).any():
        return False  # the function publishes a value where the declared statistic has none
    return bool(np.all(np.abs(a[both] - b[both]) <= 1e-9 * np.maximum(1.0, np.abs(b[both]))))
