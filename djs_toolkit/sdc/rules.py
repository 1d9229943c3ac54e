"""Rules: a pure function of an evidence frame, the statistic and a profile.

Each rule yields flag rows `(cell, rule, status, summary)`; `cell = -1` flags the whole output. Summaries state the
rule and its setting, never a cell's value (they reach notebooks and results.json; the numbers stay in the
checker-only evidence). Rule sources: docs/disclosure.md §1.1 (thresholds), §1.2 (SDAP: N-K, p%, DoF, min/max
unsafe), §1.3 (statbarns), §7.2 (check catalogue: numerator and denominator, class disclosure, abs-value dominance).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.statistics import structural_margins

__all__ = ["KIND", "STATBARN", "apply_rules", "flags_frame", "statistic_kind", "worst"]

KIND = {
    "count": "frequency",
    "proportion": "frequency",
    "sum": "linear",
    "mean": "linear",
    "median": "position",
    "min": "extreme",
    "max": "extreme",
    "std": "shape",
    "var": "shape",
}
# SACRO statbarns (docs/disclosure.md §1.3), emitted so results stay comparable with ACRO/SACRO tooling.
STATBARN = {
    "frequency": "Frequencies",
    "linear": "LinearAggregations",
    "position": "Position",
    "extreme": "Endpoints",
    "shape": "Shape",
    "regression": "CorrelationCoefficients",
    "unknown": "Unknown",
    "custom": "Unknown",
    "survival": "HazardSurvivalTables",
}
_ORDER = {"pass": 0, "review": 1, "fail": 2}
COLUMNS = ["cell", "rule", "status", "summary"]


def statistic_kind(statistic: str) -> str:
    """Statbarn-like kind of a statistic name (`p25`-style names are percentiles).

    Example:
        >>> statistic_kind("p90"), statistic_kind("nunique")
        ('position', 'unknown')
    """
    if statistic in KIND:
        return KIND[statistic]
    if statistic.startswith("p") and statistic[1:].isdigit() and 0 <= int(statistic[1:]) <= 100:
        return "position"
    return "unknown"


def worst(statuses: Iterable[object]) -> str:
    """Most severe of several statuses (`fail` > `review` > `pass`); empty -> `pass`.

    Example:
        >>> worst(["pass", "review"])
        'review'
    """
    best = "pass"
    for s in statuses:
        if _ORDER[str(s)] > _ORDER[best]:
            best = str(s)
    return best


def flags_frame(rows: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    """Flag rows as a DataFrame with the standard columns.

    Example:
        >>> flags_frame([(-1, "UnknownStatisticCheck", "review", "x")]).shape
        (1, 4)
    """
    return pd.DataFrame(rows, columns=COLUMNS).astype({"cell": np.int64})


def _cells(mask: np.ndarray, rule: str, status: str, summary: str) -> list[tuple[int, str, str, str]]:
    if status == "pass":
        return []
    return [(int(c), rule, status, summary) for c in np.flatnonzero(mask)]


def _class_disclosure(n: np.ndarray, grid: Grid, structural: np.ndarray) -> np.ndarray:
    """Interior cells holding every record of some line (row, column or fibre) that has a non-structural zero."""
    shape = grid.shape
    ext = n.reshape(grid.ext_shape)[tuple(slice(0, k) for k in shape)]
    struct = structural.reshape(grid.ext_shape)[tuple(slice(0, k) for k in shape)]
    nz = ext > 0
    hit = np.zeros(shape, dtype=bool)
    for axis in range(len(shape)):
        if shape[axis] < 2:
            continue
        one = nz.sum(axis=axis, keepdims=True) == 1
        has_zero = (~nz & ~struct).any(axis=axis, keepdims=True)
        hit |= nz & one & has_zero
    out = np.zeros(grid.ext_shape, dtype=bool)
    out[tuple(slice(0, k) for k in shape)] = hit
    return out.ravel()


def apply_rules(
    cells: pd.DataFrame,
    grid: Grid,
    statistic: str,
    profile: Profile,
    structural: np.ndarray | None = None,
    position_state: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flag the cells of one table.

    Args:
        cells: evidence frame from `cell_evidence` (one row per extended cell).
        grid: the table's Grid.
        statistic: `count`, `proportion`, `sum`, `mean`, `median`, `pNN`, `min`, `max`, `std`, `var`, or
            anything else (flagged `review` as unknown, never an exception).
        profile: the rule set.
        structural: declared structural zeros (boolean over extended cells).
        position_state: for medians/percentiles, 0 = shared by enough records, 1 = rounded, 2 = unprotectable.

    Returns:
        Flags with columns `cell`, `rule`, `status`, `summary` (cell -1 = whole output).

    Example:
        >>> from djs_toolkit.sdc.evidence import cell_labels, cell_evidence
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> ev = cell_evidence(*cell_labels([pd.Series(["a"] * 3 + ["b"] * 12)]))
        >>> apply_rules(ev.cells, ev.grid, "count", load_profile("srs"))[["cell", "rule"]].values.tolist()
        [[0, 'MinimumThresholdCheck']]
    """
    kind = statistic_kind(statistic)
    n_ext = len(cells)
    structural = (
        np.zeros(n_ext, dtype=bool) if structural is None else structural_margins(grid, np.asarray(structural, bool))
    )
    rows: list[tuple[int, str, str, str]] = []
    n = cells["n"].to_numpy()
    n_stat = n if kind == "frequency" or "n_value" not in cells else cells["n_value"].to_numpy()
    t = profile.threshold
    small = (n_stat > 0) & ((n_stat <= t) if profile.threshold_rule == "at_or_below" else (n_stat < t))
    cmp = "<=" if profile.threshold_rule == "at_or_below" else "<"
    who = "numerator or denominator" if statistic == "proportion" else "unweighted n"
    rows += _cells(
        small,
        "MinimumThresholdCheck",
        "fail",
        f"{who} {cmp} {t} (a count of 2 is as disclosive as 1: each contributor can subtract themself)",
    )
    zero = (n == 0) & ~structural
    rows += _cells(
        zero,
        "PresenceOfZeroCheck",
        profile.zeros,
        "zero cell: potentially disclosive; declare it with structural_zeros= if it cannot occur",
    )
    bad_struct = structural & (n > 0)
    rows += _cells(bad_struct, "StructuralZeroCheck", "review", "cell declared a structural zero has records")
    # Declared and empty: marked as structural (a `pass` flag, so the pack shows it), never asked about as a zero.
    rows += [
        (int(c), "StructuralZeroCheck", "pass", "structural zero declared by the analysis: cannot occur")
        for c in np.flatnonzero(structural & (n == 0))
    ]
    if kind == "frequency":
        rows += _cells(
            _class_disclosure(n, grid, structural),
            "ClassDisclosureCheck",
            profile.class_disclosure,
            "all records of a row/column fall in this cell (0%/100%): class disclosure",
        )
    if kind == "linear":
        rows += _dominance(cells, profile)
    if kind in ("linear", "position", "shape") and "n_distinct" in cells:
        same = (cells["n_value"].to_numpy() >= 2) & (cells["n_distinct"].to_numpy() == 1)
        rows += _cells(
            same,
            "AllValuesSameCheck",
            profile.all_values_same,
            "every record in the cell has the same value: the statistic reveals each one",
        )
    if kind == "extreme":
        alt = "publish a percentile (e.g. p5/p95) or a top-coded band ('>= X') instead"
        if profile.minmax in ("fail", "review"):
            rows += _cells(
                n_stat > 0,
                "ExtremeValueCheck",
                profile.minmax,
                f"{statistic} is one record's value (unsafe statistic): {alt}",
            )
    if kind == "shape" and profile.dof_threshold is not None:
        low = (n_stat > 0) & (n_stat - 1 < profile.dof_threshold)
        rows += _cells(low, "MinimumDoFCheck", "fail", f"degrees of freedom (n - 1) < {profile.dof_threshold}")
    if kind == "position" and position_state is not None:
        ps = np.asarray(position_state)
        rows += _cells(
            ps == 1,
            "PositionUniquenessCheck",
            profile.status_after_protection,
            f"value held by fewer than {profile.position_min_in_band} records: rounded",
        )
        rows += _cells(
            ps == 2,
            "PositionUniquenessCheck",
            "fail",
            "value unique to too few records even after rounding: suppressed",
        )
    if kind == "unknown":
        rows.append(
            (
                -1,
                "UnknownStatisticCheck",
                profile.unknown_statistic,
                f"statistic {statistic!r} is not known to the checker: a human must assess it "
                "(known: count, sum, mean, median, pNN, min, max, std, var)",
            )
        )
    return flags_frame(rows)


def _dominance(cells: pd.DataFrame, profile: Profile) -> list[tuple[int, str, str, str]]:
    rows: list[tuple[int, str, str, str]] = []
    if profile.nk_n is None and profile.p_percent is None:
        return rows
    neg = cells["n_negative"].to_numpy()
    if profile.dominance_negatives == "review" and (neg > 0).any():
        rows.append((-1, "NKCheck", "review", "dominance not assessed: negative values present (ACRO behaviour)"))
        return rows
    total = cells["abs_sum"].to_numpy()
    top1, top2 = cells["top1"].to_numpy(), cells["top2"].to_numpy()
    live = (cells["n_value"].to_numpy() > 0) & (total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if profile.nk_n is not None:
            top = top1 if profile.nk_n == 1 else top1 + top2
            share = np.where(live, top / np.where(total > 0, total, 1.0), 0.0)
            rows += _cells(
                live & (share >= float(profile.nk_k or 1.0) - 1e-12),
                "NKCheck",
                "fail",
                f"top {profile.nk_n} contributors hold >= {profile.nk_k:.0%} of the cell's absolute total",
            )
        if profile.p_percent is not None:
            rest = total - top1 - top2
            rows += _cells(
                live & (rest < profile.p_percent * top1 - 1e-12),
                "PPercentCheck",
                "fail",
                f"the 2nd largest contributor could estimate the largest within {profile.p_percent:.0%}",
            )
    return rows
