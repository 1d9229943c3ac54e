"""Derived values published only from protected counts: a statistic beside its counts, and companion tables.

`save_table` (`outputs.frames`) checks a table's counts as a crosstab; this module adds what a companion table or
the statistic itself would otherwise give away:
- a ratio (proportion, rate, percent, cumulative incidence, ...) times its count is a count, and so is the count
  minus it for a proportion; a relative change gives count x (1 + change); count-named whole-number columns beside
  the counts are counts; two count columns nested in every row (`events_within` <= `n_index`) differ by a count.
  A row where any of these is small (1 to below the smallest safe count) is withheld, with complements chosen by the
  checker's secondary suppression (margins public), or redacted where the profile rounds;
- a companion is an earlier output of the same notebook run that prints one of this table's count columns (same
  name, rows matched by their shared labels, equal wherever both print it). Counts it withholds are withheld here
  too, and a statistic is withheld in every row where the companion withholds any count. When the companion prints
  this statistic's counts column for every row, the column is restated exactly as the companion printed it, so the
  pair never disagrees on which counts are public;
- under a rounding profile the counts column is printed rounded, ratios are recomputed from the midpoint-6 rounded
  numerator and the rounded count, and interval columns (computed from the unrounded counts) are withheld.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from djs_toolkit.outputs.companions import companion_rows
from djs_toolkit.outputs.scan import is_count_column
from djs_toolkit.outputs.stage import RunContext
from djs_toolkit.sdc import Output
from djs_toolkit.sdc.evidence import Grid, extend
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.release_tables import CHANGE_STATISTICS, RATIO_STATISTICS, is_interval_column, ratio_scale
from djs_toolkit.sdc.rounding import midpoint6, round_to_base
from djs_toolkit.sdc.suppress import secondary_suppression

__all__ = ["Derived", "count_columns", "derived_rows", "restate_derived", "withhold_rows"]


def _is_ratio(statistic: str) -> bool:
    return statistic in RATIO_STATISTICS


def _is_change(statistic: str) -> bool:
    return statistic in CHANGE_STATISTICS or statistic.endswith("_change")


def count_columns(frame: pd.DataFrame, values: list, counts: str | None, statistic: str) -> list:
    """Value columns holding counts: all of a count table's; else the counts column and count-named whole numbers.

    Example:
        >>> f = pd.DataFrame({"rate": [0.5], "n_events": [4], "n": [8]})
        >>> count_columns(f, ["rate", "n_events", "n"], "n", "rate")
        ['n_events', 'n']
    """
    if statistic == "count":
        return list(values)
    out = []
    for c in values:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
        whole = bool(np.all(np.isnan(v) | (v == np.round(v))))
        if c == counts or (whole and is_count_column(c)):
            out.append(c)
    return out


def _implied(frame: pd.DataFrame, col: object, counts: str, statistic: str) -> np.ndarray:
    """The count a ratio (or relative change) column gives with the counts column: value x n (or n x (1 + value))."""
    v = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64) / ratio_scale(statistic, col)
    n = pd.to_numeric(frame[counts], errors="coerce").to_numpy(np.float64)
    return n * (1.0 + v) if _is_change(statistic) else n * v


def ratio_columns(values: list, counts_cols: list, statistic: str) -> list:
    """Columns whose value times the counts column is a count (estimates, not interval ends or errors).

    Example:
        >>> ratio_columns(["share", "ci_lower", "n"], ["n"], "proportion")
        ['share']
    """
    if not (_is_ratio(statistic) or _is_change(statistic)):
        return []
    return [c for c in values if c not in counts_cols and not is_interval_column(c)]


@dataclass
class Derived:
    """Rows of a table to withhold because of what they imply, and the companion printing its counts.

    Attributes:
        rows: rows to withhold entirely (their counts become primary suppressions).
        stat_rows: rows whose statistic (not its counts) is withheld.
        counts_from: values and withheld flags of the counts column as a companion prints them for every row.
        reasons: (rule, summary) pairs, counts and rules only.

    Example:
        >>> Derived(np.zeros(2, bool), np.zeros(2, bool)).reasons
        []
    """

    rows: np.ndarray
    stat_rows: np.ndarray
    counts_from: tuple[np.ndarray, np.ndarray] | None = None
    reasons: list[tuple[str, str]] = field(default_factory=list)


def _is_total(name: object) -> bool:
    """A column that can hold the others of its row (`n`, `n_index`, `total`, ...): columns of a wide count table
    that happen to be ordered are categories side by side, not one inside the other."""
    text = str(name).strip().lower()
    return text in ("n", "count", "total") or text.startswith(("n_", "total")) or text.endswith(("_n", "_total"))


def _small(x: np.ndarray, profile: Profile) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (x >= 0.5) & (x < profile.min_safe_count - 0.5)


def derived_rows(
    frame: pd.DataFrame,
    keys: list,
    values: list,
    counts: str | None,
    statistic: str,
    profile: Profile,
    ctx: RunContext,
    uid: str,
) -> Derived:
    """What `frame`'s statistic, nested counts and companions require withheld (see the module docstring).

    Example:
        >>> from djs_toolkit.outputs.stage import current_context
        >>> from djs_toolkit.sdc import load_profile
        >>> f = pd.DataFrame({"g": ["a", "b"], "share": [0.05, 0.5], "n": [60, 60]})
        >>> d = derived_rows(f, ["g"], ["share", "n"], "n", "proportion", load_profile("srs"), current_context(), "x")
        >>> d.rows.tolist(), d.reasons[0][0]
        ([True, False], 'DerivedCountCheck')
    """
    n_rows = len(frame)
    rows = np.zeros(n_rows, dtype=bool)
    stat_rows = np.zeros(n_rows, dtype=bool)
    reasons: list[tuple[str, str]] = []
    cols = count_columns(frame, values, counts, statistic)
    num = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64) for c in cols}
    implied = {}
    if counts is not None:
        for c in ratio_columns(values, cols, statistic):
            implied[c] = _implied(frame, c, counts, statistic)
            small = _small(implied[c], profile)
            if _is_ratio(statistic) and np.all(
                implied[c][np.isfinite(implied[c])] <= num[counts][np.isfinite(implied[c])] + 1e-6
            ):
                small |= _small(num[counts] - implied[c], profile)
            rows |= small
    for c in cols:
        if c != counts and statistic != "count":
            rows |= _small(num[c], profile)
    nested = [
        (a, b)
        for a in cols
        for b in cols
        if a != b and _is_total(b) and np.all(np.nan_to_num(num[a]) <= np.nan_to_num(num[b]))
    ]
    for a, b in nested:
        rows |= _small(num[b] - num[a], profile)
    if rows.any():
        reasons.append(
            (
                "DerivedCountCheck",
                f"{int(rows.sum())} row(s) withheld: a count derived from the table (a ratio times its count, a "
                f"count beside it, or the difference of nested counts) is below {profile.min_safe_count}",
            )
        )
    found = companion_rows(ctx, uid, frame, keys, cols, counts, statistic)
    rows |= found.rows
    stat_rows |= found.stat_rows
    counts_from, companions = found.counts_from, found.companions
    # Only when a companion made this table withhold something is there a decision to confirm; agreeing with it
    # (counts restated as it printed them, nothing withheld) is not a question for the checker.
    if companions and (stat_rows.any() or found.rows.any()):
        reasons.append(
            (
                "CompanionCheck",
                f"consistent with {companions} companion table(s) of this run printing its counts: "
                f"{int(stat_rows.sum())} row(s) whose counts a companion withholds are withheld here too",
            )
        )
    return Derived(rows, stat_rows, counts_from, reasons)


def _positions(table: pd.DataFrame, frame: pd.DataFrame, keys: list) -> np.ndarray:
    labels = frame[keys[0]] if len(keys) == 1 else pd.MultiIndex.from_frame(frame[keys])
    return np.asarray(table.index.get_indexer(labels), dtype=np.int64)


def _grid(table: pd.DataFrame) -> Grid | None:
    """The checker's grid behind a crosstab's display table (rows: every key combination), or None."""
    idx = table.index
    levels = [pd.Index(pd.unique(idx.get_level_values(i))) for i in range(idx.nlevels)]
    if int(np.prod([len(lv) for lv in levels])) != len(idx):
        return None
    names = (*(str(n) for n in idx.names), str(table.columns.name or "measure"))
    return Grid(names, (*levels, pd.Index(table.columns)), idx.nlevels)


def withhold_rows(
    oc: Output, frame: pd.DataFrame, keys: list, cnt: pd.DataFrame, rows: np.ndarray, profile: Profile
) -> Output:
    """Withhold `rows` of a checked count table with complements (secondary suppression, margins public).

    Example:
        >>> from djs_toolkit.sdc import Session, load_profile
        >>> f = pd.DataFrame({"g": ["a", "b", "c"], "n": [40, 30, 50]})
        >>> oc = Session(ledger=False).table(f.set_index("g"))
        >>> out = withhold_rows(oc, f, ["g"], f[["n"]], np.array([True, False, False]), load_profile("srs"))
        >>> out.mask["n"].tolist()
        [True, True, False]
    """
    assert oc.mask is not None
    pos = _positions(oc.table, frame, keys)
    extra = np.zeros(oc.mask.shape, dtype=bool)
    extra[pos[rows & (pos >= 0)], :] = True
    current = oc.mask.to_numpy(bool)
    if not (extra & ~current).any():
        return oc
    grid = _grid(oc.table)
    if profile.mitigation == "round" or grid is None:
        new = current | extra
        ok = profile.mitigation == "round"
    else:
        interior = np.zeros(oc.table.shape)
        vals = cnt.reindex(columns=list(oc.table.columns)).to_numpy(np.float64)
        interior[pos[pos >= 0]] = np.nan_to_num(vals[pos >= 0])
        x = extend({"n": interior.ravel()}, grid)["n"]
        primary = np.zeros(grid.n_ext, dtype=bool)
        primary[grid.interior_ids()] = (current | extra).ravel()
        res = secondary_suppression(grid, x, primary, np.full(grid.n_ext, profile.width), np.zeros(grid.n_ext))
        new, ok = res.suppressed[grid.interior_ids()].reshape(current.shape), res.ok
    out = _copy(oc)
    out.mask = pd.DataFrame(new, index=oc.table.index, columns=oc.table.columns)
    out.table = oc.table.mask(new)
    out.status = "fail" if not ok else _worse(oc.status, profile.status_after_protection)
    return out


def _copy(o: Output) -> Output:
    import dataclasses

    return dataclasses.replace(o, properties=dict(o.properties), reasons=o.reasons.copy(), controls=list(o.controls))


def _worse(a: str, b: str) -> str:
    order = {"pass": 0, "review": 1, "fail": 2}
    return a if order[a] >= order[b] else b


def restate_derived(
    out: Output,
    oc: Output,
    frame: pd.DataFrame,
    keys: list,
    values: list,
    counts: str,
    statistic: str,
    derived: Derived,
    profile: Profile,
) -> Output:
    """A statistic table laid out like its counts (`out`), made consistent with its counts and companions.

    The counts column is printed as the counts were protected (`oc`, rounded where the profile rounds) or as a
    companion printed it; statistic cells are withheld where the counts are or `derived` says; under a rounding
    profile ratios are recomputed from rounded counts and interval columns withheld.

    Example:
        >>> from djs_toolkit.sdc import Session, load_profile
        >>> f = pd.DataFrame({"g": ["a", "b"], "share": [0.5, 0.25], "n": [40, 40]})
        >>> oc = Session(ledger=False).table(f.set_index("g")[["n"]])
        >>> out = Output("t", "review", "table", "save_table", "proportion", f.set_index("g")[["share", "n"]])
        >>> d = Derived(np.zeros(2, bool), np.array([False, True]))  # a companion withholds row b
        >>> res = restate_derived(out, oc, f, ["g"], ["share", "n"], "n", "proportion", d, load_profile("srs"))
        >>> res.table["share"].tolist()
        [0.5, nan]
    """
    assert out.mask is not None
    res = _copy(out)
    table, mask = out.table.copy(), out.mask.copy()
    pos = _positions(table, frame, keys)
    ok = pos >= 0
    cols = count_columns(frame, values, counts, statistic)
    stat_cols = [c for c in table.columns if c not in cols]
    n_pub = np.full(len(table), np.nan)
    if derived.counts_from is not None:
        vals, withheld = derived.counts_from
        col_mask = np.zeros(len(table), dtype=bool)
        n_pub[pos[ok]], col_mask[pos[ok]] = vals[ok], withheld[ok]
        mask[:] = False
        mask[counts] = col_mask
        for c in [c for c in table.columns if c != counts]:  # the counts' own suppression no longer applies
            full = np.full(len(table), np.nan)
            full[pos[ok]] = pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)[ok]
            table[c] = (
                pd.Series(np.round(full), index=table.index).astype("Int64")
                if pd.api.types.is_integer_dtype(frame[c])
                else full
            )
        hide = derived.stat_rows | derived.rows
    else:
        n_pub = pd.to_numeric(oc.table.iloc[:, 0], errors="coerce").reindex(table.index).to_numpy(np.float64)
        hide = derived.stat_rows
    rows = np.zeros(len(table), dtype=bool)
    rows[pos[ok]] = hide[ok]
    for c in stat_cols if derived.counts_from is None else [c for c in table.columns if c != counts]:
        mask[c] = mask[c].to_numpy(bool) | rows | mask[counts].to_numpy(bool)
    rounding = profile.mitigation == "round"
    if rounding:
        for c in cols:
            if c != counts:
                table[c] = round_to_base(
                    pd.to_numeric(table[c], errors="coerce").to_numpy(np.float64), int(profile.round_base or 5)
                )
        for c in ratio_columns(values, cols, statistic):
            k = np.full(len(table), np.nan)
            k[pos[ok]] = _implied(frame, c, counts, statistic)[ok]
            k = (
                midpoint6(np.rint(k))
                if _is_ratio(statistic)
                else round_to_base(np.rint(k), int(profile.round_base or 5))
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                v = k / n_pub if _is_ratio(statistic) else k / n_pub - 1.0
            table[c] = np.where(n_pub > 0, v * ratio_scale(statistic, c), np.nan)
        for c in stat_cols:
            if c not in ratio_columns(values, cols, statistic):
                mask[c] = True  # computed from the unrounded counts: not released under a rounding profile
        res.properties["ratio_rounding"] = "midpoint6" if _is_ratio(statistic) else "base"
        res.reasons = pd.concat(
            [
                res.reasons,
                _reason(
                    "RoundedStatisticCheck",
                    "counts printed rounded; ratios recomputed from rounded counts; other statistic columns withheld",
                ),
            ],
            ignore_index=True,
        )
    table[counts] = (
        pd.Series(np.round(n_pub), index=table.index).astype("Int64")
        if np.all(np.isnan(n_pub) | (n_pub == np.round(n_pub)))
        else n_pub
    )
    res.table = table.mask(mask.to_numpy(bool))
    res.mask = mask
    for rule, text in derived.reasons:
        res.reasons = pd.concat([res.reasons, _reason(rule, text)], ignore_index=True)
        res.status = _worse(res.status, "review")
    if mask.to_numpy().any():
        res.status = _worse(res.status, profile.status_after_protection)
    res.properties.update({"counts": counts, "count_columns": cols})
    return res


def _reason(rule: str, summary: str) -> pd.DataFrame:
    from djs_toolkit.sdc.report import reason_frame

    return reason_frame([(None, None, rule, "review", summary)])
