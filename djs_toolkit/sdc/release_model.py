"""Whole-release attack, part 3: every published linear relation of a release as one system over counts.

Variables are counts of people (never negative): every count cell of every released table, and the counts the
tables imply (a ratio times its count, the complement of a proportion, the people censored or entering between two
rows of a survival curve, the exclusive cells of an overlap table). Each printed number bounds its variable (exactly,
or to its rounding interval); relations are equations:
- margins: a cell labelled with the profile's margins name is the sum of the cells it totals;
- the same quantity in two tables of one notebook run (same column name, rows matched by their shared labels and
  equal wherever both print it) is one variable; so is a ratio's implied numerator and a count column it matches;
- ratio x count: `(value - h) x n <= k <= (value + h) x n` for a value printed with half-unit `h` (k = n x (1 +
  value) for a relative change);
- protected survival curves: cumulative events, censored, competing and entries within their rounding intervals,
  the number at risk their difference; raw time-indexed tables: the differences between adjacent rows;
- overlap tables: every inclusive count is the sum of the exclusive cells of its supersets, groups sum to `All`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np

from djs_toolkit.sdc.release_system import ReleaseModel
from djs_toolkit.sdc.release_tables import PublishedTable, is_interval_column, ratio_scale
from djs_toolkit.sdc.rounding import rounding_bounds

__all__ = ["build_model"]

_INF = np.inf


def _text(t: PublishedTable, i: int) -> str:
    return ", ".join(f"{k}={t.labels[k][i]}" for k in t.labels if not k.startswith("_index")) or f"row {i + 1}"


def _bounds(t: PublishedTable, value: float, method: str | None = None) -> tuple[float, float]:
    how = method or t.rounding
    if how == "exact":
        return value, value
    lo, hi = rounding_bounds(np.array([value]), how, t.base)
    return float(lo[0]), float(hi[0])


class _Builder:
    """Reads every table into the model; `cells[(uid, i, j)]` is the variable of a count cell."""

    def __init__(self, profile: Any) -> None:
        self.m = ReleaseModel()
        self.profile = profile
        self.cells: dict[tuple[str, int, int], int] = {}
        self.implied: list[tuple[PublishedTable, int, int, int, float, float]] = []  # table, row, col, var, lo, hi

    def count_cells(self, t: PublishedTable) -> None:
        margin = self.profile.margins_name
        for j in sorted(t.count_columns):
            col = " | ".join(t.columns[j])
            for i in range(t.n_rows):
                v = self.m.new("count", (t.uid, _text(t, i), col), t.uid)
                self.cells[(t.uid, i, j)] = v
                if t.withheld[i, j]:
                    self.m.withheld_in[v].add(t.uid)
                elif np.isfinite(t.values[i, j]):
                    in_margin = any(t.labels[k][i] == margin for k in t.keys) or margin in t.columns[j]
                    if not (in_margin and t.rounding != "exact"):  # rounded tables' totals are sums of rounded cells
                        self.m.publish(v, *_bounds(t, t.values[i, j]), t.uid)

    def margins(self, t: PublishedTable) -> None:
        margin = self.profile.margins_name
        full: dict[tuple[str, ...], int] = {}
        for (uid, i, j), v in self.cells.items():
            if uid == t.uid:
                full[tuple(t.labels[k][i] for k in t.keys) + t.columns[j]] = v
        seen: list[set[str]] = [set() for _ in range(len(t.keys) + len(t.column_names))]
        for lab in full:
            for p, x in enumerate(lab):
                if x != margin:
                    seen[p].add(x)
        for lab, v in full.items():
            at = [q for q, x in enumerate(lab) if x == margin]
            if not at:
                continue
            p = at[0]
            kids = [full[c] for x in sorted(seen[p]) if (c := (*lab[:p], x, *lab[p + 1 :])) in full]
            if kids:
                self.m.equation({v: 1.0, **dict.fromkeys(kids, -1.0)}, 0.0, t.uid)

    def ratios(self, t: PublishedTable) -> None:
        if t.counts is None:
            return
        counts: int = t.counts
        h_default = 0.5e-6
        for j, col in enumerate(t.columns):
            name = " | ".join(col)
            if j in t.count_columns or is_interval_column(name):
                continue
            scale = ratio_scale(str(t.properties.get("statistic", "")), name)
            vals = t.values[:, j] / scale
            bounded = t.kind == "ratio" and bool(np.all(vals[np.isfinite(vals)] <= 1.0 + 1e-9))
            for i in range(t.n_rows):
                n = self.cells[(t.uid, i, counts)]
                v = t.values[i, j]
                if not np.isfinite(v):
                    continue
                h = 0.5 * 10.0 ** (-t.decimals[i, j]) if t.decimals[i, j] >= 0 else h_default
                lo_c, hi_c = (v - h) / scale, (v + h) / scale
                if t.kind == "change":
                    lo_c, hi_c = 1.0 + lo_c, 1.0 + hi_c
                k = self.m.new("implied", (t.uid, _text(t, i), f"{name} x {' | '.join(t.columns[counts])}"), t.uid)
                n_val = t.values[i, counts]
                if t.ratio_rounding in ("midpoint6", "base") and np.isfinite(n_val):  # recomputed from rounded counts
                    lo, hi = _bounds(t, float(np.rint((lo_c + hi_c) / 2 * n_val)), t.ratio_rounding)
                    self.m.publish(k, lo, hi, t.uid)
                else:
                    for c, sign in ((lo_c, -1.0), (hi_c, 1.0)):  # k - c n - s = 0 (s >= 0) / k - c n + s = 0
                        s = self.m.new("slack", (t.uid, "", ""), t.uid)
                        self.m.equation({k: 1.0, n: -c, s: sign}, 0.0, t.uid)
                    lo, hi = lo_c * n_val, hi_c * n_val
                if bounded:
                    self.m.define(
                        "atom",
                        (t.uid, _text(t, i), f"{' | '.join(t.columns[counts])} - {name} x n"),
                        {n: 1.0, k: -1.0},
                        t.uid,
                    )
                if np.isfinite(n_val):
                    self.implied.append((t, i, j, k, lo, hi))

    def curve(self, t: PublishedTable) -> None:
        """A protected survival curve: cumulative counts within their rounding, the number at risk their difference."""
        names = [" | ".join(c) for c in t.columns]
        if "time" not in t.labels or "n_at_risk" not in names:
            return
        col = {n: names.index(n) for n in ("n_at_risk", "events", "censored", "competing_events") if n in names}
        method = "midpoint6" if self.profile.rate_rounding == "midpoint6" else "base"
        base = int(self.profile.min_safe_count)
        for rows in _groups(t):
            vals = {n: t.values[rows, j] for n, j in col.items()}
            if not all(np.all(np.isfinite(v)) for v in vals.values()) or len(rows) < 2:
                continue
            steps = rows[1:]  # the first row (time 0) repeats the first step's number at risk
            pub: dict[str, np.ndarray] = {
                n: np.cumsum(vals[n][1:]) for n in ("events", "censored", "competing_events") if n in vals
            }
            exits = np.sum(list(pub.values()), axis=0)
            entries = vals["n_at_risk"][1:] + np.concatenate([[0.0], exits[:-1]])
            first = float(entries[0])
            delayed = bool(t.properties.get("delayed_entry", False)) or bool(np.ptp(entries) > 0)
            cum: dict[str, list[int]] = {n: [] for n in ("entries", *pub)}
            for k, i in enumerate(steps):
                where = (t.uid, _text(t, i), "")
                for n in cum:
                    v = self.m.new("count", (where[0], where[1], f"cumulative {n}"), t.uid)
                    cum[n].append(v)
                    if n == "entries":
                        if k > 0 and not delayed:
                            self.m.link(v, cum[n][0])
                            continue
                        x = float(entries[k])
                        if method == "midpoint6":
                            lo, hi = _bounds(t, x, "midpoint6")
                        elif k == 0:
                            lo = hi = x
                        else:
                            lo, hi = (first + b for b in _bounds(_based(t, base), x - first, "base"))
                    else:
                        x = float(pub[n][k])
                        exact = n == "events" and method != "midpoint6"
                        lo, hi = (x, x) if exact else _bounds(_based(t, base), x, method)
                    self.m.publish(v, lo, hi, t.uid)
                at_risk = {cum["entries"][k]: 1.0}
                for n in pub:
                    if k > 0:
                        at_risk[cum[n][k - 1]] = -1.0
                        self.m.define("atom", (t.uid, _text(t, i), n), {cum[n][k]: 1.0, cum[n][k - 1]: -1.0}, t.uid)
                self.m.define("atom", (t.uid, _text(t, i), "at risk"), at_risk, t.uid)
                if k > 0 and delayed:
                    e = {cum["entries"][k]: 1.0, cum["entries"][k - 1]: -1.0}
                    self.m.define("atom", (t.uid, _text(t, i), "entries"), e, t.uid)
            last = {cum["entries"][-1]: 1.0, **{cum[n][-1]: -1.0 for n in pub}}
            self.m.define("atom", (t.uid, _text(t, steps[-1]), "still at risk"), last, t.uid)

    def time_differences(self, t: PublishedTable) -> None:
        """A raw time-indexed table: adjacent rows of a number at risk or a cumulative count differ by a count."""
        names = [" | ".join(c) for c in t.columns]
        if "time" not in t.labels:
            return
        cols = [j for j in t.count_columns if names[j] == "n_at_risk" or names[j].startswith("cum_")]
        ev = [j for j in t.count_columns if names[j] in ("cum_events", "events", "cum_competing", "competing_events")]
        for rows in _groups(t):
            for a, b in itertools.pairwise(rows):
                for j in cols:
                    d = {self.cells[(t.uid, b, j)]: 1.0, self.cells[(t.uid, a, j)]: -1.0}
                    self.m.define("signed", (t.uid, _text(t, b), f"{names[j]} change"), d, t.uid)
                if "n_at_risk" in names and ev:
                    r = names.index("n_at_risk")
                    terms = {self.cells[(t.uid, a, r)]: 1.0, self.cells[(t.uid, b, r)]: -1.0}
                    for j in ev:  # cumulative columns enter as differences, per-interval ones as they are
                        terms[self.cells[(t.uid, b, j)]] = terms.get(self.cells[(t.uid, b, j)], 0.0) - 1.0
                        if names[j].startswith("cum_"):
                            terms[self.cells[(t.uid, a, j)]] = terms.get(self.cells[(t.uid, a, j)], 0.0) + 1.0
                    self.m.define("signed", (t.uid, _text(t, b), "left the risk set otherwise"), terms, t.uid)

    def overlap(self, t: PublishedTable) -> None:
        """Inclusive counts are sums of the exclusive cells of their supersets; groups sum to the `All` group."""
        names = [" | ".join(c) for c in t.columns]
        if "exclusive" not in names or "inclusive" not in names:
            return
        ex, inc = names.index("exclusive"), names.index("inclusive")
        sets = [k for k in t.labels if set(t.labels[k]) <= {"True", "False"}]
        group_keys = [k for k in t.keys if k != "combination"]
        masks = [sum(1 << b for b, k in enumerate(sets) if t.labels[k][i] == "True") for i in range(t.n_rows)]
        by_group: dict[tuple[str, ...], dict[int, int]] = defaultdict(dict)
        for i in range(t.n_rows):
            by_group[tuple(t.labels[k][i] for k in group_keys)][masks[i]] = i
        for rows in by_group.values():
            for s, i in rows.items():
                sup = [r for m, r in rows.items() if m & s == s]
                terms = {self.cells[(t.uid, i, inc)]: 1.0}
                for r in sup:
                    terms[self.cells[(t.uid, r, ex)]] = terms.get(self.cells[(t.uid, r, ex)], 0.0) - 1.0
                self.m.equation(terms, 0.0, t.uid)
        margin = self.profile.margins_name
        if group_keys:
            total = {g: rows for g, rows in by_group.items() if margin in g}
            parts = {g: rows for g, rows in by_group.items() if margin not in g}
            for rows in total.values():
                for s, i in rows.items():
                    kids = [self.cells[(t.uid, r[s], ex)] for r in parts.values() if s in r]
                    self.m.equation({self.cells[(t.uid, i, ex)]: 1.0, **dict.fromkeys(kids, -1.0)}, 0.0, t.uid)


def _based(t: PublishedTable, base: int) -> PublishedTable:
    """`t` with another rounding base (survival curves round to the smallest safe count)."""
    if t.base == base:
        return t
    out = PublishedTable(
        t.uid, t.run, t.labels, t.keys, t.columns, t.column_names, t.values, t.withheld, t.decimals, t.kind
    )
    out.rounding, out.base = t.rounding, base
    return out


def _groups(t: PublishedTable) -> list[list[int]]:
    """Row positions of each group (labels other than `time`), ordered by time."""
    others = [k for k in t.keys if k != "time"]
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i in range(t.n_rows):
        groups[tuple(t.labels[k][i] for k in others)].append(i)

    def when(i: int) -> float:
        try:
            return float(t.labels["time"][i])
        except ValueError:
            return np.inf

    return [sorted(rows, key=when) for rows in groups.values()]


def _row_map(t: PublishedTable, keys: list[str]) -> dict[tuple[str, ...], int] | None:
    """Rows by their labels on `keys`; None when those labels do not identify a row."""
    out = {tuple(t.labels[k][i] for k in keys): i for i in range(t.n_rows)}
    return out if len(out) == t.n_rows else None


def _agree(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] + 1e-6 and b[0] <= a[1] + 1e-6


def _link_tables(b: _Builder, tables: list[PublishedTable]) -> None:
    """The same column in two tables of one run, rows matched by shared labels and equal where both print it."""
    by_run: dict[str, list[PublishedTable]] = defaultdict(list)
    for t in tables:
        by_run[t.run].append(t)
    for group in by_run.values():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                _link_pair(b, group[x], group[y])
        _link_implied(b, group)


def _pairs(b: _Builder, t: PublishedTable, u: PublishedTable) -> list[tuple[int, int]] | None:
    """Matched rows of two tables on their shared labels (None when the shared labels do not identify rows)."""
    shared = [k for k in t.keys if k in u.keys]
    if not shared and (t.keys or u.keys):
        return None
    mt, mu = _row_map(t, shared), _row_map(u, shared)
    if mt is None or mu is None:
        return None
    return [(i, mu[key]) for key, i in mt.items() if key in mu]


def _same_rows(t: PublishedTable, u: PublishedTable, pairs: list[tuple[int, int]], compared: int) -> bool:
    """Enough to call two columns one quantity: the same rows with one printed alike in both, or two such rows."""
    return (len(pairs) == t.n_rows == u.n_rows and compared >= 1) or compared >= 2


def _link_pair(b: _Builder, t: PublishedTable, u: PublishedTable) -> None:
    names_u = {" | ".join(c): j for j, c in enumerate(u.columns)}
    common = [(j, names_u[n]) for j, c in enumerate(t.columns) if (n := " | ".join(c)) in names_u]
    common = [(j, k) for j, k in common if j in t.count_columns and k in u.count_columns]
    if not common:
        return
    pairs = _pairs(b, t, u)
    if not pairs:
        return
    for j, k in common:
        both = [(i, r) for i, r in pairs if np.isfinite(t.values[i, j]) and np.isfinite(u.values[r, k])]
        if any(not _agree(_bounds(t, t.values[i, j]), _bounds(u, u.values[r, k])) for i, r in both):
            continue
        if not _same_rows(t, u, pairs, len(both)):
            continue
        for i, r in pairs:
            b.m.link(b.cells[(t.uid, i, j)], b.cells[(u.uid, r, k)])


def _link_implied(b: _Builder, group: list[PublishedTable]) -> None:
    """A ratio's implied numerator and a count column of the run that it equals wherever both are printed."""
    uids = {t.uid for t in group}
    by_col: dict[tuple[str, int], list[tuple[int, int, float, float]]] = defaultdict(list)
    tables = {t.uid: t for t in group}
    for t, i, j, k, lo, hi in b.implied:
        if t.uid in uids:
            by_col[(t.uid, j)].append((i, k, lo, hi))
    for (uid, _), items in by_col.items():
        t = tables[uid]
        for u in group:
            pairs = dict(_pairs(b, t, u) or [])
            if not pairs:
                continue
            for c in sorted(u.count_columns):
                if u.uid == t.uid and c == t.counts:
                    continue
                both = [
                    (i, k, lo, hi, pairs[i])
                    for i, k, lo, hi in items
                    if i in pairs and np.isfinite(u.values[pairs[i], c])
                ]
                if not both or any(not _agree((lo, hi), _bounds(u, u.values[r, c])) for _, _, lo, hi, r in both):
                    continue
                if not _same_rows(t, u, list(pairs.items()), len(both)):
                    continue
                for i, k, _, _ in items:
                    if i in pairs:
                        b.m.link(k, b.cells[(u.uid, pairs[i], c)])


def build_model(tables: list[PublishedTable], profile: Any) -> ReleaseModel:
    """Every relation of the released tables in one model (see the module docstring).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> from djs_toolkit.sdc.release_tables import read_published
        >>> e = {"type": "table", "properties": {"statistic": "count", "index_levels": 1}}
        >>> t = read_published("g,n\\na,12\\nb,[suppressed]\\nAll,15\\n", e, "r.t", "r", load_profile("srs"))
        >>> m = build_model([t], load_profile("srs")); len(m.equations)
        1
    """
    b = _Builder(profile)
    for t in tables:
        if t.kind == "curve":
            b.curve(t)
            continue
        b.count_cells(t)
        b.margins(t)
        if t.kind == "overlap":
            b.overlap(t)
        if t.kind in ("ratio", "change"):
            b.ratios(t)
        b.time_differences(t)
    _link_tables(b, tables)
    return b.m
