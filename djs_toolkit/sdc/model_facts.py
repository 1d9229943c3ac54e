"""What a fitted regression reveals beyond its coefficients' names (issue 16; docs/disclosure.md §7.2).

- Leverage: an observation with hat value near 1 is fitted exactly: the model publishes that record's outcome.
- Columns that identify a small group after any affine recoding: a covariate with at most `FEW_VALUES` distinct
  values (a dummy z-scored, coded 0/2, or a three-level code) is a set of categories, whatever its arithmetic; a
  category held by 1..threshold-1 records is fitted from those records alone. Two such columns that differ on
  1..threshold-1 records identify that group too (their difference is a dummy).
- Sufficient statistics: a model with an intercept publishes n and, conservatively, the sum of its outcome over
  its records (an intercept-only model's coefficient is the mean); the ledger records that sum
  (`Released.measure` = the outcome's name), so models or tables on N and N-1 records are differenced like sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.sdc.linear_facts import FEW_VALUES
from djs_toolkit.sdc.released import Released, from_sets

__all__ = ["LEVERAGE_LIMIT", "leverage_flags", "model_released", "recoded_flags"]

LEVERAGE_LIMIT = 0.9  # a hat value this close to 1 fits the observation (almost) exactly
_MAX_PAIRS = 60  # few-valued columns compared pairwise at most (p^2 / 2 passes over the records)


def leverage_flags(exog: np.ndarray) -> list[tuple[object, str, str, str]]:
    """Fail when some observation's hat value is >= LEVERAGE_LIMIT (it is fitted exactly or nearly so).

    Example:
        >>> x = np.column_stack([np.ones(30), np.r_[1.0, np.zeros(29)]])
        >>> [f[1] for f in leverage_flags(x)]
        ['LeverageCheck']
    """
    x = np.asarray(exog, np.float64)
    if x.ndim != 2 or x.shape[0] <= x.shape[1] or not np.isfinite(x).all():
        return []
    q, r = np.linalg.qr(x)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, float(np.abs(np.diag(r)).max(initial=0.0)))
    h = (q[:, keep] ** 2).sum(axis=1)
    n_high = int((h >= LEVERAGE_LIMIT).sum())
    if not n_high:
        return []
    return [
        (
            None,
            "LeverageCheck",
            "fail",
            f"{n_high} observation(s) have leverage >= {LEVERAGE_LIMIT} (hat value near 1): the model fits them "
            "(almost) exactly, so it publishes their outcome; drop or merge the covariate that isolates them",
        )
    ]


def _codes(col: np.ndarray) -> np.ndarray | None:
    u, inv = np.unique(col, return_inverse=True)
    return inv if 2 <= len(u) <= FEW_VALUES else None


def recoded_flags(exog: np.ndarray, names: list[str], need: int) -> list[tuple[object, str, str, str]]:
    """Few-valued columns (any coding) with a value held by 1..need-1 records, and pairs differing on so few.

    Example:
        >>> z = np.r_[np.ones(3), np.zeros(47)]
        >>> x = np.column_stack([np.ones(50), (z - z.mean()) / z.std()])  # a 3-person dummy, z-scored
        >>> [f[:2] for f in recoded_flags(x, ["const", "z"], 10)]
        [('z', 'IndicatorCountCheck')]
    """
    x = np.asarray(exog, np.float64)
    flags: list[tuple[object, str, str, str]] = []
    few: list[tuple[int, np.ndarray]] = []
    for j in range(x.shape[1]):
        codes = _codes(x[:, j])
        if codes is None:
            continue
        few.append((j, codes))
        counts = np.bincount(codes)
        if ((counts > 0) & (counts < need)).any():
            flags.append(
                (
                    names[j],
                    "IndicatorCountCheck",
                    "fail",
                    f"this covariate takes {len(counts)} values (in any coding: z-scored, 0/2, ...) and one is held by "
                    f"fewer than {need} records: merge categories",
                )
            )
    for a in range(min(len(few), _MAX_PAIRS)):
        for b in range(a + 1, min(len(few), _MAX_PAIRS)):
            (ja, ca), (jb, cb) = few[a], few[b]
            if ca.max() != 1 or cb.max() != 1:
                continue  # pairs of two-valued columns: their difference is a dummy
            differ = int((ca != cb).sum())
            same = int((ca == cb).sum())
            if 0 < differ < need or 0 < same < need:
                flags.append(
                    (
                        names[jb],
                        "IndicatorCountCheck",
                        "fail",
                        f"this covariate and {names[ja]} differ (or agree) on fewer than {need} records: together "
                        "they identify that small group; merge categories",
                    )
                )
    return flags


def model_released(result: Any) -> tuple[Released, np.ndarray, pd.Index] | None:
    """The sum of the outcome over the model's records as a released fact, with its labels and record index.

    None for models without an intercept or without a numeric outcome (nothing is recorded).

    Example:
        >>> import statsmodels.api as sm
        >>> y = pd.Series(np.arange(20.0), name="days")
        >>> rel, lab, idx = model_released(sm.OLS(y, np.ones(20)).fit())
        >>> rel.measure, rel.lo.tolist(), len(idx)
        ('days', [190.0], 20)
    """
    model = getattr(result, "model", None)
    exog = getattr(model, "exog", None)
    endog = getattr(model, "endog", None)
    if exog is None or endog is None:
        return None
    x = np.asarray(exog, np.float64)
    y = np.asarray(endog, np.float64).ravel()
    if x.ndim != 2 or len(y) != x.shape[0] or not np.isfinite(y).all():
        return None
    if not any(np.all(x[:, j] == x[0, j]) and x[0, j] != 0 for j in range(x.shape[1])):
        return None  # no intercept: the sum of the outcome is not a linear function of the coefficients
    name = str(getattr(model, "endog_names", "") or "outcome")
    rows = getattr(getattr(model, "data", None), "row_labels", None)
    index = pd.Index(rows) if rows is not None and len(rows) == len(y) else pd.RangeIndex(len(y))
    total = float(y.sum())
    rel = from_sets(("model",), (("all records",),), [[0]], [total], [total], counts=False, measure=name)
    return rel, np.zeros(len(y), np.int32), index
