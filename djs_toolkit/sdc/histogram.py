"""Histogram binning that does not leak the data's extremes through the outer bin edges.

ACRO only notes "check extreme bin edges" (docs/disclosure.md §2.3; ACRO #192/#308); here automatic edges are
widened to round numbers strictly outside the data range, and explicit edges equal to the data min/max are flagged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError

__all__ = ["bin_values"]


def nice_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    # Equal "nice" widths (1, 1.2, ..., 8 x 10^k) with both outer edges strictly outside [min, max].
    raw = (hi - lo) / bins if hi > lo else max(abs(hi), 1.0) / bins
    mags = 10.0 ** np.floor(np.log10(raw))
    steps = (1.0, 1.2, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0)
    for width in [m * mags * scale for scale in (1.0, 10.0, 100.0) for m in steps]:
        start = np.floor(lo / width) * width
        if start >= lo:
            start -= width
        if start + bins * width > hi:
            return start + width * np.arange(bins + 1)
    return np.linspace(lo - raw, hi + raw, bins + 1)


def bin_values(values: pd.Series, bins: int | Sequence[float]) -> tuple[pd.Series, np.ndarray, str | None]:
    """Bin a numeric column into a categorical of half-open intervals `[a, b)`.

    Returns:
        (binned, edges, flag): the categorical Series (all bins kept), the edges, and a review message when
        explicit outer edges equal the data's min or max (None otherwise).

    Example:
        >>> b, e, f = bin_values(pd.Series([1.0, 2.0, 3.0, 9.0]), 2)
        >>> e.tolist(), f
        ([0.0, 5.0, 10.0], None)
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        raise DJSUserError("hist: the column has no numeric values to bin.")
    flag = None
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise DJSUserError("hist: bins must be a positive integer or a sequence of edges.")
        edges = nice_edges(float(finite.min()), float(finite.max()), int(bins))
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise DJSUserError("hist: bin edges must be an increasing sequence of at least two numbers.")
        if edges[0] == finite.min() or edges[-1] == finite.max():
            flag = "an outer bin edge equals the data minimum or maximum: it reveals an individual's value"
    names = [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]
    codes = np.searchsorted(edges, v, side="right") - 1
    codes[~np.isfinite(v) | (codes < 0) | (codes >= len(names))] = -1
    # pandas-stubs 2.3 types `codes` as Sequence[int]; pandas takes (and here gets) an integer array.
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(names))  # type: ignore[arg-type]
    return pd.Series(cat, name=str(values.name) if values.name is not None else "value"), edges, flag
