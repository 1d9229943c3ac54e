"""Disclosure control of overlap tables: exclusive cells, inclusive counts and set sizes as one linked table.

`protect_overlap` withholds small combinations and chooses complements so that no withheld count can be
narrowed below the protection width from everything published, then proves it with the LP attacker audit
(`djs_toolkit.sdc.audit`). The tables come from `djs_toolkit.analyses.overlap.overlap_sets`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile, load_profile
from djs_toolkit.sdc.report import reason_frame
from djs_toolkit.sdc.session import Session
from djs_toolkit.sdc.suppress import complement_milp, drop_redundant, information_loss

__all__ = ["protect_overlap", "superset_sums"]

# Columns of an overlap_sets table that are neither set memberships nor the group.
_NOT_GROUPS = ("combination", "degree", "exclusive", "inclusive", "window_start", "window_end")
OTHER = "other combinations"  # the row withheld combinations are merged into (collapse=True)
# An intersection's inclusive count costs this much of its value: withholding it hides no one's exact combination,
# which is what the table (and an UpSet plot) answers; exclusive counts cost their full value.
_INCLUSIVE_WEIGHT = 0.25


def superset_sums(exclusive: np.ndarray) -> np.ndarray:
    """Superset sums (at least these datasets) from exact-combination counts, O(k 2^k).

    Example:
        >>> superset_sums(np.array([0, 5, 3, 2])).tolist()  # masks 0, {a}, {b}, {a, b}
        [10, 7, 5, 2]
    """
    inc = np.array(exclusive, dtype=np.int64, copy=True)
    idx = np.arange(len(inc))
    for i in range(len(inc).bit_length() - 1):
        lo = idx[(idx >> i) & 1 == 0]
        inc[lo] += inc[lo | (1 << i)]
    return inc


def _overlap_system(
    table: pd.DataFrame, labels: list[str], by: str | None
) -> tuple[pd.DataFrame, np.ndarray, sparse.csr_matrix, np.ndarray]:
    """The linked table as one system A x = 0 over cells [e_1..e_M, I_1..I_M, U] per group (All group last).

    I_S = sum of e_T over T containing S; U = sum of all e_T, the union, public like any margin
    (docs/disclosure.md §2.9 defect 1); with ``by``, All-group exclusive cells are sums over groups.
    """
    M = (1 << len(labels)) - 1
    f = table.copy()
    f["_pos"] = np.arange(len(f))  # the caller's row order, restored on output (All rows come last)
    f["_mask"] = sum(f[d].astype(bool).to_numpy(np.int64) << i for i, d in enumerate(labels))
    if by is not None:
        f = f[f[by] != "All"]
        tot = f.groupby("_mask")["exclusive"].sum()
        allg = f.drop_duplicates("_mask").set_index("_mask", drop=False).loc[tot.index].assign(**{by: "All"})
        allg["exclusive"], allg["inclusive"] = tot.to_numpy(), superset_sums(np.r_[0, tot.to_numpy()])[1:]
        allg["_pos"] = len(f) + np.arange(len(allg))
        f = pd.concat([f, allg.reset_index(drop=True)], ignore_index=True)
    blocks = [g.sort_values("_mask") for _, g in (f.groupby(by, sort=False) if by else [(None, f)])]
    if by is not None:
        blocks = sorted(blocks[:-1], key=lambda g: str(g[by].iloc[0])) + blocks[-1:]
    if any(list(g["_mask"]) != list(range(1, M + 1)) for g in blocks):
        raise DJSUserError("protect_overlap needs every combination of every group: pass overlap_sets() output.")
    B = np.array([[float(t & s == s) for t in range(1, M + 1)] for s in range(1, M + 1)])  # B[S, T]: T ⊇ S
    one = np.block([[-B, np.eye(M), np.zeros((M, 1))], [-np.ones((1, M)), np.zeros((1, M)), np.ones((1, 1))]])
    A = sparse.block_diag([sparse.csr_matrix(one)] * len(blocks), format="lil")
    if by is not None:  # All-group exclusive cells = sum of the groups' cells
        n_g, G = 2 * M + 1, len(blocks) - 1
        link = sparse.hstack([sparse.kron(np.ones((1, G)), -sparse.eye(M, n_g)), sparse.eye(M, n_g)])
        A = sparse.vstack([A, link])
    x = np.concatenate(
        [np.r_[g["exclusive"].to_numpy(float), g["inclusive"].to_numpy(float), g["exclusive"].sum()] for g in blocks]
    )
    return pd.concat(blocks, ignore_index=True), x, sparse.csr_matrix(A), B


def _audit(A: sparse.csr_matrix, x: np.ndarray, unknown: np.ndarray, cells: np.ndarray, w: float) -> pd.DataFrame:
    """Attacker interval of each of ``cells`` when the ``unknown`` cells are not published (all others are)."""
    system = PublishedSystem(A, np.zeros(A.shape[0]), np.where(unknown, 0.0, x), np.where(unknown, np.inf, x))
    # Batches of 16: sdc.audit solves one block LP per call, whose cost grows faster than linearly.
    res = pd.concat([audit(system, cells[i : i + 16]) for i in range(0, max(len(cells), 1), 16)])
    res["required"] = w
    res["ok"] = (res["width"] >= w - 1e-6).to_numpy(bool)  # NaN (solver trouble) fails closed
    return res


def _degrees(M: int) -> np.ndarray:
    """Number of datasets in each combination mask 1..M."""
    return np.array([bin(m).count("1") for m in range(1, M + 1)])


def _pattern(
    Y: np.ndarray,
    x: np.ndarray,
    sup: np.ndarray,
    allow: np.ndarray,
    cost: np.ndarray,
    n_g: int,
    t: int,
    w: float,
    linked: bool,
) -> None:
    """Suppress the cheapest pair pattern hiding cell t (hypercube-style, docs/disclosure.md §4).

    A pattern (a row of Y) moves exclusive cell p up and q down by w in one group; inclusive counts follow
    and the union stays. With ``by`` it is mirrored in the All group (which then moves) or, reversed, in a
    second group (All stays). Cells moving down need a count >= w; unpublishable moves are refused.
    """
    gi, j = divmod(int(t), n_g)
    Y = Y[Y[:, j] != 0] * Y[Y[:, j] != 0][:, [j]]  # signed so that the target moves up

    def cost_in(g: int, Yg: np.ndarray) -> np.ndarray:
        c, moved = slice(g * n_g, (g + 1) * n_g), Yg != 0
        bad = ((Yg < 0) & (x[c] < w)).any(1) | (moved & ~allow[c]).any(1)
        return np.where(bad, np.inf, (moved & ~sup[c]) @ cost[c])

    last = len(x) // n_g - 1
    opts = (
        [(cost_in(gi, Y), [(gi, 1)])]
        if not linked
        else ([(cost_in(gi, Y) + cost_in(last, Y), [(gi, 1), (last, 1)])] if gi != last else [])
        + [
            (cost_in(gi, Y) + cost_in(h, Y if gi == last else -Y), [(gi, 1), (h, 1 if gi == last else -1)])
            for h in range(last)
            if h != gi
        ]
    )
    best = [float(o[0].min()) for o in opts]
    if opts and np.isfinite(min(best)):  # otherwise the audit sends the cell to the exact MILP
        o = opts[int(np.argmin(best))]
        for g, sign in o[1]:
            sup[g * n_g : (g + 1) * n_g] |= (sign * Y[int(np.argmin(o[0]))]) != 0


def _choose(
    A: sparse.csr_matrix,
    x: np.ndarray,
    unknown: np.ndarray,
    cost: np.ndarray,
    primary: np.ndarray,
    w: float,
    B: np.ndarray,
    linked: bool,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Complements for every primary cell with the least information lost, audited.

    Two starts, each followed by `drop_redundant` (a pass over the whole table releasing every complement no
    small cell needs): the cheapest pair pattern per cell (`_pattern`) and an exact MILP per cell
    (`complement_milp`); the cheaper result is kept (on the small dummy run each start wins on one of two
    tables). Returns the withheld mask (primary cells and complements; ``unknown`` cells, unpublished by
    design, are not in it) and the audit of every withheld cell; cells it finds too narrow get joint MILP rounds.
    """
    lb, width = np.zeros(len(x)), np.full(len(x), float(w))
    allow = np.ones(len(x), dtype=bool)
    M, n_g = len(B), 2 * len(B) + 1
    allow[n_g - 1 :: n_g] = False  # the union is never withheld
    targets = np.flatnonzero(primary)
    targets = targets[np.argsort(-x[targets], kind="stable")]
    E = (np.eye(M)[:, None, :] - np.eye(M)[None, :, :]).reshape(M * M, M)[~np.eye(M, dtype=bool).ravel()]
    Y = np.hstack([E, E @ B.T, np.zeros((len(E), 1))])  # every pair pattern, in units of w
    by_pattern = unknown | primary
    for t in targets:
        _pattern(Y, x, by_pattern, allow, cost, n_g, int(t), w, linked)
    by_milp, left = complement_milp(A, x, lb, unknown | primary, allow, cost, targets, width)
    starts = [by_pattern] + ([by_milp] if not len(left) else [])
    found = [drop_redundant(A, x, lb, sup, unknown | primary, targets, width, cost) for sup in starts]
    sup = min(found, key=lambda s: float(cost[s & ~unknown].sum()))
    res, rounds = _audit(A, x, sup, np.flatnonzero(sup & ~unknown), w), 0
    while not res["ok"].all() and rounds < 4:
        failing = res.index[~res["ok"].to_numpy()].to_numpy()
        sup, _ = complement_milp(A, x, lb, sup, allow, cost, failing, width, joint=True)
        res, rounds = _audit(A, x, sup, np.flatnonzero(sup & ~unknown), w), rounds + 1
    return sup & ~unknown, res


def _collapse(
    shown: pd.DataFrame, mask: pd.DataFrame, exclusive: np.ndarray, base: float, by: str | None, labels: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose exclusive count is withheld merged into one "other combinations" row per group (after it).

    A single dataset's row stays, with its set size and its exclusive count withheld. The "other" row's count is
    the true total of every withheld exclusive count (rounded like every count under a rounding profile): the union less
    the published rows, so it tells an attacker nothing the table did not.
    """
    hidden = mask["exclusive"].to_numpy(bool)
    # a single dataset's row stays for its set size (its exclusive count withheld, counted in "other")
    stays = ~hidden | (shown["degree"].to_numpy() == 1)
    groups = shown[by].astype(str).to_numpy() if by else np.zeros(len(shown), dtype=object)
    shown = shown.assign(degree=shown["degree"].astype("Int64"))
    parts, masks = [], []
    for g in pd.unique(groups):
        here = groups == g
        parts.append(shown[here & stays])
        masks.append(mask[here & stays])
        if (here & hidden).any():
            total = float(exclusive[here & hidden].sum())
            row = shown[here & hidden].iloc[[0]].copy()
            row[labels] = False
            row["combination"] = OTHER
            row["degree"] = row["inclusive"] = pd.array([pd.NA], dtype="Int64")
            row["exclusive"] = int(np.floor(total / base + 0.5) * base)
            parts.append(row)
            masks.append(mask[here & hidden].iloc[[0]].assign(exclusive=False, inclusive=True))
    return pd.concat(parts, ignore_index=True), pd.concat(masks, ignore_index=True)


def protect_overlap(
    table: pd.DataFrame,
    session_or_profile: Session | Profile | str | Path = "srs",
    name: str | None = None,
    *,
    collapse: bool = False,
) -> Output:
    """Protect an `overlap_sets` table as one linked table: exclusive cells, inclusive counts, set sizes.

    Counts in (0, threshold) are withheld; complements are then chosen so that no withheld count can be
    narrowed below the protection width from *all* published values (exclusive, inclusive, set sizes and
    the union, treated as public), and the LP attacker audit proves it (docs/disclosure.md §0 fact 9,
    §7.3). Complements minimise the people withheld over the whole table: one MILP over every small cell
    with each cell weighted by its count (`sdc.suppress.information_loss`); single-dataset counts and set
    sizes are used only when nothing else protects the table, the All group after them, and the union is never
    withheld. Rounding profiles then round the published counts (rounding only widens the intervals).

    With ``collapse`` (UpSet practice: the largest combinations, the small ones together), the inclusive counts
    of intersections are not published (set sizes are), so fewer complements are needed, and every withheld
    combination is shown in one "other combinations" row per group, with their total.

    The share of people in withheld exclusive cells is ``properties["withheld_share"]`` (`sdc.share`).

    Args:
        table: `overlap_sets` output (with ``by``, an ``All`` group is added and protected with the groups).
        session_or_profile: an `sdc.Session` (the output is registered for ``finalise``) or a profile.
        name: output name (default ``overlap_<k>``).
        collapse: publish set sizes but not intersections' inclusive counts; merge withheld rows into
            "other combinations".

    Returns:
        `sdc.Output`: ``table`` (withheld counts missing), ``mask`` (True where withheld), ``status``,
        ``audit`` (attacker interval of each withheld cell: lower, upper, width, required, ok).

    Example:
        >>> from djs_toolkit.analyses.overlap import overlap_sets
        >>> m = pd.DataFrame({"a": [True] * 40 + [False] * 30 + [True] * 3, "b": [False] * 40 + [True] * 33})
        >>> out = protect_overlap(overlap_sets(m))
        >>> out.status, int(out.mask.to_numpy().sum()), bool(out.audit["ok"].all())
        ('review', 4, True)
        >>> round(out.properties["withheld_share"], 3)  # a & b (3) and b only (30) of 73 people
        0.452
    """
    if isinstance(session_or_profile, Session):
        session, prof = session_or_profile, session_or_profile.profile
    else:
        session, prof = None, load_profile(session_or_profile)
    labels = table.attrs.get("datasets") or [c for c in table.columns if table[c].dtype == bool]
    by = (
        table.attrs["by"]
        if "by" in table.attrs
        else next((c for c in table.columns if c not in labels and c not in _NOT_GROUPS), None)
    )
    frame, x, A, B = _overlap_system(table, labels, by)
    M, w, safe = len(B), prof.width, prof.min_safe_count
    n_g = 2 * M + 1
    j, grp = np.arange(len(x)) % n_g, np.arange(len(x)) // n_g
    union = j == 2 * M
    deg = np.r_[_degrees(M), _degrees(M), 0][j]
    all_group = (grp == grp.max()) & (by is not None)
    # Not published by design (collapse): intersections' inclusive counts; an attacker does not know them.
    unknown = (j >= M) & ~union & (deg >= 2) & collapse
    primary = (x > 0) & (x < safe) & ~union & ~unknown
    # Tiers: intersections first (by count), then single-dataset counts, set sizes, and the All group last.
    tier = np.where(all_group, 3, np.where(deg == 1, np.where(j < M, 1, 2), 0))
    withheld, res = _choose(
        A, x, unknown, information_loss(x, tier, np.where(j < M, 1.0, _INCLUSIVE_WEIGHT)), primary, w, B, by is not None
    )
    ok = bool(res["ok"].all()) and not ((x > 0) & (x < safe) & union).any()
    cells = np.flatnonzero(~union)
    back = np.argsort(np.argsort(frame["_pos"].to_numpy(), kind="stable"))  # system row -> output row
    row, col = back[grp[cells] * M + j[cells] % M], np.where(j[cells] < M, "exclusive", "inclusive")
    shown = frame.sort_values("_pos").drop(columns=["_mask", "_pos"]).reset_index(drop=True)
    mask = pd.DataFrame(False, index=shown.index, columns=shown.columns)
    evidence = shown.drop(columns=["window_start", "window_end"], errors="ignore")  # checker-only: true counts
    true_exclusive = shown["exclusive"].to_numpy(np.int64)
    for c in ("exclusive", "inclusive"):
        mask.loc[row[col == c], c] = (withheld | unknown)[cells[col == c]]
        vals = shown[c].astype(float)
        if prof.mitigation == "round" and prof.round_base:
            vals = pd.Series(np.floor(vals / prof.round_base + 0.5) * prof.round_base, index=vals.index)
        shown[c] = vals.mask(mask[c]).round().astype("Int64")
    share = _people_withheld(true_exclusive, mask["exclusive"].to_numpy(bool), shown, by)
    reasons = reason_frame(
        [
            (
                int(r),
                c,
                *(
                    ("MinimumThresholdCheck", "fail", f"count below {safe}")
                    if primary[cell]
                    else (
                        "SecondarySuppression",
                        "review",
                        "withheld so that no suppressed count can be recovered by differencing",
                    )
                ),
            )
            for cell, r, c in zip(cells, row, col, strict=True)
            if withheld[cell]
        ]
    )
    n_other = int(mask["exclusive"].sum())
    if collapse:
        base = float(prof.round_base) if prof.mitigation == "round" and prof.round_base else 1.0
        shown, mask = _collapse(shown, mask, true_exclusive, base, by, labels)
        other = np.flatnonzero((shown["combination"] == OTHER).to_numpy())
        merged = f"combinations below {safe}, and complements protecting them, merged into this row"
        counted = f"counted in '{OTHER}' (withheld to protect small combinations)"
        single = np.flatnonzero(mask["exclusive"].to_numpy(bool))
        reasons = reason_frame(
            [(int(i), "exclusive", "CombinationsMerged", "review", merged) for i in other]
            + [(int(i), "exclusive", "SecondarySuppression", "review", counted) for i in single]
        )
    status = "fail" if not ok else (prof.status_after_protection if withheld.any() else "pass")
    if status == "pass" and prof.zeros == "review" and (x[cells] == 0).any():
        status = "review"
    if session is not None:
        k = len(session.outputs) + 1
        while name is None and f"overlap_{k}" in session.outputs:
            k += 1
        name = name or f"overlap_{k}"
        if name in session.outputs:
            raise DJSUserError(f"An output named {name!r} already exists: choose another name.")
    # Statistic "overlap": a count table whose counts are the exclusive / inclusive columns (the set
    # columns and degree are labels), so scans check those columns only.
    out = Output(
        name or "overlap",
        status,
        "table",
        "overlap_sets",
        "overlap",
        shown,
        mask,
        reasons,
        evidence,
        res,
        description=f"persons by combination of {', '.join(labels)}",
        variables=list(labels),
        n=int(x[union][-1]),
    )
    out.properties.update({"statistic": "overlap", "withheld_share": share, "withheld_share_of": "people"})
    out.properties["collapsed"] = bool(collapse)
    out.controls = [
        f"counts below {safe} withheld",
        "complementary suppression over exclusive, inclusive and set-size counts as one linked table, "
        "chosen to withhold the fewest people",
        "LP attacker audit of every withheld count",
    ]
    if collapse:
        out.controls[1:1] = [
            "inclusive counts of intersections not published (set sizes are)",
            f"{n_other} withheld combination(s) shown together as '{OTHER}'",
        ]
    if session is not None:
        session.outputs[out.name] = out
    return out


def _people_withheld(exclusive: np.ndarray, withheld: np.ndarray, shown: pd.DataFrame, by: str | None) -> float:
    """Share of people whose exact combination is withheld (in their group's row or in the All group's)."""
    if by is None:
        return float(exclusive[withheld].sum() / max(exclusive.sum(), 1))
    is_all = (shown[by] == "All").to_numpy()
    combo = shown["combination"].to_numpy()
    hidden_all = set(combo[is_all & withheld])
    hit = withheld | np.isin(combo, list(hidden_all))
    people = exclusive[~is_all]
    return float(people[hit[~is_all]].sum() / max(people.sum(), 1))
