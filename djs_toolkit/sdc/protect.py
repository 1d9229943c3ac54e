"""Protection of one table: withhold failing cells, then suppress (with complements) or round, then audit.

Which mitigation applies (docs/disclosure.md §7.3):
- frequency tables: the profile's `mitigation` (`suppress`: primary + secondary with true margins; `round`:
  redact then round counts, derived values recomputed from the rounded counts; `none`: failing cells withheld and
  the output fails);
- sums and means: suppression on the additive sum table whenever mitigation is not `none` (magnitudes are never
  rounded to a count base), with protection width `magnitude_protection` x the cell's absolute total;
- medians, percentiles, min/max, std/var and unknown statistics: failing cells withheld (no additive relation
  lets an attacker recompute them, so there is nothing to complement).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from djs_toolkit.sdc.audit import audit
from djs_toolkit.sdc.evidence import Evidence, Grid
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.rounding import rounded_counts
from djs_toolkit.sdc.rules import statistic_kind
from djs_toolkit.sdc.suppress import secondary_suppression

__all__ = ["Protection", "denominator_cells", "protect_table"]

AUDIT_COLUMNS = ["lower", "upper", "width", "required", "ok"]


@dataclass
class Protection:
    """Result of protecting one table (arrays over extended cells).

    Attributes:
        published: values that may be released (NaN where withheld).
        suppressed: withheld cells (primary, secondary or redacted).
        primary: cells failing a rule.
        audit: attacker interval per withheld cell (`lower`, `upper`, `width`, `required`, `ok`).
        ok: the audit passed (or was not applicable).
        controls: human-readable list of the controls applied.
        applied: whether any protection changed the table.
        resolved: cells whose failing rules the protection resolved (withheld, or rebuilt from rounded counts).

    Example:
        >>> p = Protection(np.array([1.0]), np.array([False]), np.array([False]), _empty_audit(), True)
        >>> p.resolved.tolist()
        [False]
    """

    published: np.ndarray
    suppressed: np.ndarray
    primary: np.ndarray
    audit: pd.DataFrame
    ok: bool
    controls: list[str] = field(default_factory=list)
    applied: bool = False
    resolved: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.resolved is None:
            self.resolved = self.suppressed.copy()


def denominator_cells(grid_shape: tuple[int, ...], ext_shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """Extended id of each cell's denominator: the same cell with the normalised dimensions set to total.

    Example:
        >>> denominator_cells((2, 2), (3, 3), (1,)).tolist()
        [2, 2, 2, 5, 5, 5, 8, 8, 8]
    """
    coords = np.array(np.unravel_index(np.arange(int(np.prod(ext_shape))), ext_shape))
    for a in axes:
        coords[a] = grid_shape[a]
    return np.ravel_multi_index(tuple(coords), ext_shape)


def _empty_audit() -> pd.DataFrame:
    return pd.DataFrame(columns=AUDIT_COLUMNS, index=pd.Index([], name="cell", dtype=np.int64))


def protect_table(
    ev: Evidence,
    statistic: str,
    values: np.ndarray,
    flags: pd.DataFrame,
    profile: Profile,
    normalize_axes: tuple[int, ...] | None = None,
) -> Protection:
    """Protect one table according to the profile.

    Args:
        ev: the table's evidence.
        statistic: canonical statistic name (`count`, `proportion`, `sum`, `mean`, ...).
        values: the statistic over extended cells (for `proportion`: the counts behind it).
        flags: rule flags from `apply_rules`.
        profile: the rule set.
        normalize_axes: for proportions, the dimensions whose total is the denominator.

    Returns:
        Protection; for proportions `published` holds proportions recomputed from the published counts.

    Example:
        >>> from djs_toolkit.sdc.evidence import cell_labels, cell_evidence
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> from djs_toolkit.sdc.rules import apply_rules
        >>> r = pd.Series(["a"] * 40 + ["b"] * 30 + ["c"] * 3)
        >>> ev = cell_evidence(*cell_labels([r]))
        >>> prof = load_profile("srs")
        >>> fl = apply_rules(ev.cells, ev.grid, "count", prof)
        >>> p = protect_table(ev, "count", ev.cells["n"].to_numpy(float), fl, prof)
        >>> p.published.tolist(), p.ok
        ([40.0, nan, nan, 73.0], True)
    """
    grid, cells = ev.grid, ev.cells
    kind = statistic_kind(statistic)
    fail = flags[(flags["status"] == "fail") & (flags["cell"] >= 0)]["cell"].to_numpy()
    primary = np.zeros(grid.n_ext, dtype=bool)
    primary[fail] = True
    values = np.asarray(values, dtype=np.float64)
    mitigation = profile.mitigation
    rules = sorted(set(flags.loc[flags["status"] == "fail", "rule"]))
    if mitigation == "none" or (not primary.any() and (mitigation != "round" or kind != "frequency")):
        ctrl = [] if not primary.any() else [f"failing cells withheld ({', '.join(rules)}); no mitigation in profile"]
        pub = np.where(primary, np.nan, values)
        if statistic == "proportion":
            pub = _proportions(pub, grid, normalize_axes)
        return Protection(
            pub, primary.copy(), primary, _empty_audit(), True, ctrl, False, np.zeros(grid.n_ext, dtype=bool)
        )
    if kind == "frequency" and mitigation == "round":
        return _round(ev, statistic, values, primary, profile, normalize_axes, rules)
    if kind in ("frequency", "linear"):
        if kind == "frequency":
            x, lb = cells["n"].to_numpy(np.float64), np.zeros(grid.n_ext)
            width = np.full(grid.n_ext, profile.width)
            what = f"interval width >= {profile.width:g}"
        else:
            x = cells["sum"].to_numpy(np.float64)
            nonneg = int(cells["n_negative"].to_numpy()[-1]) == 0
            lb = np.zeros(grid.n_ext) if nonneg else np.full(grid.n_ext, -np.inf)
            width = profile.magnitude_protection * cells["abs_sum"].to_numpy(np.float64)
            what = f"interval width >= {profile.magnitude_protection:.0%} of each cell's absolute total"
        res = secondary_suppression(grid, x, primary, width, lb)
        n_sec = int((res.suppressed & ~primary).sum())
        pub = np.where(res.suppressed, np.nan, values)
        if statistic == "proportion":
            pub = _proportions(pub, grid, normalize_axes)
        ctrl = [
            f"primary suppression of {int(primary.sum())} cell(s) ({', '.join(rules)})",
            f"secondary suppression of {n_sec} cell(s) chosen so margins stay the true totals",
            f"LP attacker audit of every suppressed cell ({what}): {'passed' if res.ok else 'FAILED'}",
        ]
        return Protection(pub, res.suppressed, primary, res.audit[AUDIT_COLUMNS], res.ok, ctrl, True)
    pub = np.where(primary, np.nan, values)
    ctrl = [f"failing cells withheld ({', '.join(rules)}); {statistic} cells are not additive, so no complements"]
    return Protection(pub, primary.copy(), primary, _empty_audit(), True, ctrl, True)


def _proportions(counts: np.ndarray, grid: Grid, axes: tuple[int, ...] | None) -> np.ndarray:
    den = denominator_cells(grid.shape, grid.ext_shape, axes or tuple(range(len(grid.shape))))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts[den] > 0, counts / counts[den], np.nan)


def _round(
    ev: Evidence,
    statistic: str,
    values: np.ndarray,
    primary: np.ndarray,
    profile: Profile,
    normalize_axes: tuple[int, ...] | None,
    rules: list[str],
) -> Protection:
    grid = ev.grid
    method = "midpoint6" if statistic == "proportion" and profile.rate_rounding == "midpoint6" else "base"
    base = int(profile.round_base or 5)
    is_margin = grid.is_total().any(axis=0)
    # Redaction applies to interior cells; margins are rebuilt from the rounded cells, as OpenSAFELY does.
    redact = primary & ~is_margin
    # A margin failing the threshold would be redacted wherever it is published: the attacker cannot know it.
    pub, system = rounded_counts(grid, values, redact, method, base, unknown=primary & is_margin)
    targets = np.flatnonzero(redact)
    res = audit(system, targets)
    res["required"] = profile.width
    res["ok"] = (res["width"] >= res["required"] - 1e-6).to_numpy(bool)
    ok = bool(res["ok"].all())
    label = "midpoint-6" if method == "midpoint6" else f"base {base}"
    ctrl = []
    if redact.any():
        ctrl.append(f"redaction of {int(redact.sum())} cell(s) ({', '.join(rules)})")
    ctrl += [f"counts rounded ({label}); totals are sums of the rounded counts"]
    if statistic == "proportion":
        pub = _proportions(pub, grid, normalize_axes)
        ctrl.append(f"proportions recomputed from the {label}-rounded counts")
    if redact.any():
        ctrl.append(
            f"LP attacker audit of redacted cells (interval width >= {profile.width:g}): {'passed' if ok else 'FAILED'}"
        )
    return Protection(pub, redact, primary, res[AUDIT_COLUMNS], ok, ctrl, True, redact | is_margin)
