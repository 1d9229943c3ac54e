"""Input checking and design matrices shared by the survival estimators and regressions.

Every message names columns and counts only, never a row value or an identifier: messages end up in
notebooks that output checkers read (errors.py, docs/architecture.md §5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError

__all__ = ["column", "design_matrix", "durations", "event_codes", "group_codes", "weights_array"]


def _label(spec: Any, default: str) -> str:
    return spec if isinstance(spec, str) else default


def column(df: pd.DataFrame | None, spec: Any, role: str) -> np.ndarray:
    """Return `spec` as a 1-d array: a column of `df` when `spec` is a name, else the array itself."""
    if isinstance(spec, str):
        if df is None:
            raise DJSUserError(f"`{role}` is a column name (`{spec}`) but no data frame was given: pass df.")
        if spec not in df.columns:
            raise DJSUserError(f"column `{spec}` ({role}) is not in the data frame: check the name.")
        return df[spec].to_numpy()
    arr = np.asarray(spec)
    if arr.ndim != 1:
        raise DJSUserError(f"`{role}` must be a column name or a 1-d array.")
    if df is not None and len(arr) != len(df):
        raise DJSUserError(f"`{role}` has {len(arr)} values but the data frame has {len(df)} rows.")
    return arr


def durations(df: pd.DataFrame | None, spec: Any, role: str, allow_negative: bool = False) -> np.ndarray:
    """A float array of times; refuses missing values and (unless allowed) negative ones."""
    raw = column(df, spec, role)
    name = _label(spec, role)
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise DJSUserError(f"column `{name}` must be numeric: convert dates to day counts first.") from None
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise DJSUserError(f"column `{name}` has {bad} missing or infinite values: drop or fix those rows.")
    if not allow_negative:
        neg = int(np.count_nonzero(arr < 0))
        if neg:
            raise DJSUserError(f"column `{name}` has {neg} negative values: durations must be >= 0.")
    return arr


def check_entry(entry: np.ndarray, stop: np.ndarray, entry_name: str, stop_name: str) -> None:
    """Refuse rows whose entry is not strictly before their exit ((entry, exit] must be non-empty)."""
    bad = int(np.count_nonzero(entry >= stop))
    if bad:
        raise DJSUserError(
            f"{bad} rows have `{entry_name}` >= `{stop_name}`: the at-risk interval (entry, exit] "
            "must be non-empty; drop those rows or fix the times."
        )


def event_codes(df: pd.DataFrame | None, spec: Any, n: int, max_code: int | None = 1) -> np.ndarray:
    """Integer event codes: 0 = censored, 1..k = event types (only 0/1 when `max_code` is 1)."""
    if spec is None:
        return np.ones(n, dtype=np.int64)
    raw = column(df, spec, "event")
    name = _label(spec, "event")
    arr = np.asarray(raw)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    try:
        f = arr.astype(float)
    except (TypeError, ValueError):
        raise DJSUserError(f"column `{name}` must hold integer event codes (0 = censored).") from None
    bad = int(np.count_nonzero(~np.isfinite(f) | (f != np.round(f)) | (f < 0)))
    if bad:
        raise DJSUserError(f"column `{name}` has {bad} values that are not integer codes >= 0 (0 = censored).")
    codes = f.astype(np.int64)
    if max_code is not None:
        over = int(np.count_nonzero(codes > max_code))
        if over:
            raise DJSUserError(
                f"column `{name}` has {over} values above {max_code}: use 0 = censored, 1 = event "
                "(for competing risks use cif/finegray)."
            )
    return codes


def weights_array(df: pd.DataFrame | None, spec: Any, n: int, integer: bool = False) -> np.ndarray:
    """Case weights (all ones when `spec` is None); refuses negative, missing or (if asked) fractional ones."""
    if spec is None:
        return np.ones(n)
    w = durations(df, spec, "weights")
    name = _label(spec, "weights")
    if integer:
        frac = int(np.count_nonzero(w != np.round(w)))
        if frac:
            raise DJSUserError(f"column `{name}` has {frac} non-integer values: frequency weights are counts.")
    return w


def group_codes(df: pd.DataFrame | None, spec: Any, role: str) -> tuple[np.ndarray, list[Any], str]:
    """Factorise a grouping column: (codes 0..g-1, level values in sorted order, output column name)."""
    raw = column(df, spec, role)
    ser = pd.Series(raw)
    miss = int(ser.isna().sum())
    if miss:
        raise DJSUserError(f"column `{_label(spec, role)}` ({role}) has {miss} missing values: fill or drop them.")
    codes, levels = pd.factorize(ser, sort=True)
    return codes.astype(np.int64), list(levels), _label(spec, role)


def design_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric design matrix from covariate columns.

    Numeric and boolean columns pass through; categorical, string and object columns become indicator
    columns named `col[T.level]`, with the first level (category order, else sorted) as reference.
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    if len(covariates) == 0:
        raise DJSUserError("no covariates given: pass at least one column name in `covariates`.")
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for cov in covariates:
        if cov not in df.columns:
            raise DJSUserError(f"covariate column `{cov}` is not in the data frame: check the name.")
        s = df[cov]
        miss = int(s.isna().sum())
        if miss:
            raise DJSUserError(f"covariate `{cov}` has {miss} missing values: drop or impute them before fitting.")
        if isinstance(s.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
        ):
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [lv for lv in s.cat.categories if (s == lv).any()]
            else:
                levels = sorted(pd.unique(s))
            if len(levels) < 2:
                raise DJSUserError(f"covariate `{cov}` has a single level: drop it from `covariates`.")
            vals = s.to_numpy()
            for lv in levels[1:]:
                blocks.append((vals == lv).astype(float))
                names.append(f"{cov}[T.{lv}]")
        else:
            blocks.append(s.to_numpy(dtype=float))
            names.append(cov)
    return np.column_stack(blocks), names
