"""Whole-release attack: every published linear relation of a release in one LP, after every `djs run`.

The single-table audit proves each table safe alone and the differencing ledger compares the records behind outputs;
this attack reads what is actually printed, as an intruder with every released file would (`release_tables`), puts
every linear relation between the printed numbers into one system (`release_model`) and asks HiGHS for the smallest
and largest value of every count in it (`audit.audit_bounds`: printed values substituted, the rest split into
independent blocks, so the LPs stay small however many tables there are). A count is recovered when
- it is withheld in some table and the attacker's interval is narrower than the protection width, or
- it is a small count (1 to the threshold) that the release pins more narrowly than its own printed rounding.
An output whose cells are recovered is withheld (`fail`) and the attack runs again without it, until nothing is
recovered. A ratio printed in a row whose counts a companion table of the same run withholds fails too (the ratio
times its count gives the withheld number, even approximately).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from djs_toolkit.sdc.audit import PublishedSystem, audit_bounds
from djs_toolkit.sdc.release_model import build_model
from djs_toolkit.sdc.release_system import ReleaseModel
from djs_toolkit.sdc.release_tables import PublishedTable, is_interval_column

__all__ = ["AttackResult", "Finding", "attack_release", "companion_findings"]

_TOL = 1e-6


@dataclass(frozen=True)
class Finding:
    """One count the release gives away.

    Attributes:
        output: the output withheld because of it.
        where: the row labels and column (or the relation) of the count.
        what: `withheld count recovered`, `small count pinned`, `not solved` or `ratio beside withheld counts`.
        lower, upper: the attacker's interval (checker-only).

    Example:
        >>> Finding("r.t", "g=a, n", "withheld count recovered", 3.0, 3.0).what
        'withheld count recovered'
    """

    output: str
    where: str
    what: str
    lower: float
    upper: float


@dataclass
class AttackResult:
    """What the whole-release attack did and found.

    Attributes:
        tables: tables read; variables, equations: size of the first round's model; unknown: variables left to the
        LPs after printed values were substituted; blocks, largest: independent LP blocks and the largest (variables);
        rounds: attack rounds (one more after each round that withheld outputs); seconds: wall time.
        findings: every recovered count (all rounds); failed: output -> reasons (no values).

    Example:
        >>> AttackResult().summary()["findings"]
        0
    """

    tables: int = 0
    variables: int = 0
    equations: int = 0
    unknown: int = 0
    blocks: int = 0
    largest: int = 0
    rounds: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Sizes and counts only (deterministic: no time), for results.json and CLEARANCE.md.

        Example:
            >>> AttackResult(tables=3).summary()["tables"]
            3
        """
        return {
            "tables": self.tables,
            "variables": self.variables,
            "equations": self.equations,
            "lp_variables": self.unknown,
            "lp_blocks": self.blocks,
            "largest_block": self.largest,
            "rounds": self.rounds,
            "findings": len(self.findings),
            "outputs_withheld": len(self.failed),
        }

    def findings_frame(self) -> pd.DataFrame:
        """Every finding with the attacker's interval (checker-only evidence).

        Example:
            >>> AttackResult().findings_frame().columns.tolist()
            ['output', 'where', 'what', 'lower', 'upper']
        """
        return pd.DataFrame(
            [(f.output, f.where, f.what, f.lower, f.upper) for f in self.findings],
            columns=["output", "where", "what", "lower", "upper"],
        )


def _propagate(system: PublishedSystem) -> tuple[np.ndarray, np.ndarray]:
    """Bounds after solving every equation with one unknown left (repeatedly): most derived counts need no LP."""
    A = sparse.csr_matrix(system.A)
    lo, hi = system.lower.astype(float).copy(), system.upper.astype(float).copy()
    known = np.isfinite(lo) & (np.abs(hi - lo) <= 1e-9)
    value = np.where(known, lo, 0.0)
    pending = set(range(A.shape[0]))
    while pending:
        solved = []
        for r in sorted(pending):
            cols = A.indices[A.indptr[r] : A.indptr[r + 1]]
            coef = A.data[A.indptr[r] : A.indptr[r + 1]]
            free = ~known[cols]
            if free.sum() > 1:
                continue
            solved.append(r)
            if free.sum() == 0 and abs(system.b[r] - float(coef @ value[cols])) > 1e-6:
                lo[cols], hi[cols] = np.nan, np.nan  # printed numbers that contradict a relation: not solvable
            if free.sum() == 1:
                c = int(cols[free][0])
                x = (system.b[r] - float(coef[~free] @ value[cols[~free]])) / float(coef[free][0])
                lo[c], hi[c], value[c], known[c] = max(lo[c], x), min(hi[c], x), x, True
                if abs(x - lo[c]) > 1e-6 or abs(x - hi[c]) > 1e-6:  # printed bounds contradict: not solvable
                    lo[c], hi[c] = np.nan, np.nan
        if not solved:
            break
        pending -= set(solved)
    return lo, hi


def _solve(system: PublishedSystem, targets: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """Attacker interval of every target; also (unknown variables, LP blocks, largest block)."""
    lo, hi = _propagate(system)
    out = np.column_stack([lo[targets], hi[targets]])
    bad = np.isnan(lo) | np.isnan(hi)
    known = ~bad & (np.abs(hi - lo) <= 1e-9)
    open_ = np.array([t for t in targets if not known[t] and not bad[t]], dtype=np.int64)
    unknown = np.flatnonzero(~known & ~bad)
    if not len(open_):
        return out, len(unknown), 0, 0
    A = sparse.csr_matrix(system.A)
    sub = PublishedSystem(A, system.b, np.where(bad, system.lower, lo), np.where(bad, system.upper, hi))
    res = audit_bounds(sub, open_)
    where = {int(t): i for i, t in enumerate(targets)}
    for t, r in zip(open_, res, strict=True):
        out[where[int(t)]] = r
    Au = A[:, unknown]
    adj = Au.T @ Au if Au.shape[0] else sparse.csr_matrix((len(unknown), len(unknown)))
    n_comp, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp[np.searchsorted(unknown, open_)], minlength=n_comp)
    return out, len(unknown), int((sizes > 0).sum()), int(np.bincount(comp).max(initial=0))


def _small(lo: float, hi: float, small: int) -> bool:
    return (lo >= 1 - _TOL and hi <= small + _TOL) or (hi <= -1 + _TOL and lo >= -small - _TOL)


def _round(model: ReleaseModel, profile: Any) -> tuple[list[Finding], tuple[int, int, int, int]]:
    """One attack round over `model`: findings and (variables, unknown, blocks, largest)."""
    system, pos = model.system()
    n_roots = len(system.lower)
    members: list[list[int]] = [[] for _ in range(n_roots)]
    for v, r in enumerate(pos):
        members[int(r)].append(v)
    targets = np.array([r for r in range(n_roots) if any(model.kind[v] != "slack" for v in members[r])], dtype=np.int64)
    bounds, unknown, blocks, largest = _solve(system, targets)
    small = int(profile.min_safe_count) - 1
    width = float(profile.width)
    found: list[Finding] = []
    for t, (lo, hi) in zip(targets, bounds, strict=True):
        vs = members[int(t)]
        where = next(model.where[v] for v in vs if model.kind[v] != "slack")
        text = f"{where[1]}, {where[2]}".strip(", ")
        if np.isnan(lo) or np.isnan(hi):
            owners = sorted(set().union(*(model.owners[v] for v in vs)))
            found += [Finding(o, text, "not solved", float("nan"), float("nan")) for o in owners]
            continue
        withheld = sorted(set().union(*(model.withheld_in[v] for v in vs)))
        if withheld and hi - lo < width - _TOL:
            found += [Finding(o, text, "withheld count recovered", float(lo), float(hi)) for o in withheld]
            continue
        printed = [b for v in vs for b in model.printed[v]]
        narrowest = min((b[2] - b[1] for b in printed), default=np.inf)
        rounded_only = printed and narrowest > _TOL and hi - lo >= narrowest - _TOL  # no narrower than its rounding
        if _small(lo, hi, small) and hi - lo < width - _TOL and not rounded_only:
            owners = sorted(set().union(*(model.owners[v] for v in vs)))
            found += [Finding(o, text, "small count pinned", float(lo), float(hi)) for o in owners]
    return found, (n_roots, unknown, blocks, largest)


def companion_findings(tables: list[PublishedTable]) -> list[Finding]:
    """Ratios printed in a row whose counts are withheld, in their own table or a companion of the same run.

    A companion prints the ratio's count column (same name, rows matched by shared labels, equal where both print
    it); any count it withholds in the matched row is one the ratio times its count would give, at least
    approximately (a cumulative incidence with censoring), so the ratio is withheld there too or the table fails.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> from djs_toolkit.sdc.release_tables import read_published
        >>> srs = load_profile("srs")
        >>> c = read_published("g,n,k\\na,40,[suppressed]\\n", {"properties": {"statistic": "count",
        ...     "index_levels": 1}}, "r.c", "r", srs)
        >>> p = read_published("g,share,n\\na,0.075000,40\\n", {"properties": {"statistic": "proportion",
        ...     "index_levels": 1, "counts": "n"}}, "r.p", "r", srs)
        >>> [f.output for f in companion_findings([c, p])]
        ['r.p']
    """
    found = []
    for t in tables:
        if t.kind not in ("ratio", "change") or t.counts is None:
            continue
        ratio_cols = [
            j for j, c in enumerate(t.columns) if j not in t.count_columns and not is_interval_column(" | ".join(c))
        ]
        printed = np.isfinite(t.values[:, ratio_cols]).any(axis=1) if ratio_cols else np.zeros(t.n_rows, bool)
        counts_name = " | ".join(t.columns[t.counts])
        bad = printed & t.withheld[:, sorted(t.count_columns)].any(axis=1)
        for u in tables:
            k = u.column_index(counts_name)
            if u.uid == t.uid or u.run != t.run or k is None:
                continue
            shared = [x for x in t.keys if x in u.keys]
            if not shared:
                continue
            rows_u: dict[tuple[str, ...], int] = {}
            for r in range(u.n_rows):
                rows_u.setdefault(tuple(u.labels[x][r] for x in shared), r)
            if len(rows_u) != u.n_rows:
                continue
            matched = [(i, rows_u.get(tuple(t.labels[x][i] for x in shared))) for i in range(t.n_rows)]
            pairs = [(i, r) for i, r in matched if r is not None]
            both = [(i, r) for i, r in pairs if np.isfinite(t.values[i, t.counts]) and np.isfinite(u.values[r, k])]
            if any(abs(t.values[i, t.counts] - u.values[r, k]) > 2 * max(t.base, u.base) for i, r in both):
                continue  # another population that happens to use the same column name
            if not ((len(pairs) == t.n_rows == u.n_rows and both) or len(both) >= 2):
                continue  # too little to tell the two tables count the same people
            cols = sorted(u.count_columns) or [k]
            for i, r in pairs:
                bad[i] = bad[i] or (printed[i] and bool(u.withheld[r, cols].any()))
        for row in np.flatnonzero(bad):
            where = ", ".join(f"{x}={t.labels[x][row]}" for x in t.keys) or f"row {row + 1}"
            found.append(Finding(t.uid, where, "ratio beside withheld counts", float("nan"), float("nan")))
    return found


def attack_release(tables: list[PublishedTable], profile: Any, max_rounds: int | None = None) -> AttackResult:
    """Attack every released table together; withhold what gives a count away and attack again (see module doc).

    Args:
        tables: the released tables (`release_tables.read_release_folder`).
        profile: the release's profile (threshold, protection width, rounding).
        max_rounds: rounds before every output still involved fails (default: one per table).

    Returns:
        AttackResult; `failed` maps each output to withhold to why (counts and rules only).

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> from djs_toolkit.sdc.release_tables import read_published
        >>> srs, e = load_profile("srs"), {"properties": {"statistic": "count", "index_levels": 1}}
        >>> a = read_published("g,n\\nx,[suppressed]\\ny,40\\nAll,43\\n", e, "r.a", "r", srs)
        >>> res = attack_release([a], srs)
        >>> sorted(res.failed), res.findings[0].what
        (['r.a'], 'withheld count recovered')
    """
    t0 = time.perf_counter()
    res = AttackResult(tables=len(tables))
    live = list(tables)
    rounds = max_rounds if max_rounds is not None else len(tables) + 1
    for k in range(max(1, rounds)):
        model = build_model(live, profile)
        found, (n_vars, unknown, blocks, largest) = _round(model, profile)
        found += companion_findings(live)
        if k == 0:
            res.variables, res.equations = n_vars, len(model.equations)
            res.unknown, res.blocks, res.largest = unknown, blocks, largest
        res.rounds = k + 1
        res.findings += found
        if not found:
            break
        for f in found:
            res.failed.setdefault(f.output, [])
        live = [t for t in live if t.uid not in res.failed]
    else:
        res.failed.update({t.uid: [] for t in live if res.findings})
    for uid in res.failed:
        mine = [f for f in res.findings if f.output == uid]
        kinds = sorted({f.what for f in mine})
        res.failed[uid] = [f"{sum(f.what == w for f in mine)} count(s): {w}" for w in kinds]
    res.seconds = time.perf_counter() - t0
    return res
