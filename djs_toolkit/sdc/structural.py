"""Structural zeros: cells an analysis declares cannot occur (``structural_zeros=``).

A declared zero is not flagged as a zero for the checker to judge, and it is published: the pack names it, so to an
attacker it is a known 0. Three consequences, shared by `Session.crosstab`/`pivot_table` (sdc/session_tables.py)
and `Session.table` (sdc/tables.py): the declaration is read into cells (`structural_cells`); a declared cell that
has records fails the whole output (`declared_wrong`); and protection treats the declared zeros as known zeros
(`protect_known_zeros`: never a complement, audited fixed at 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.audit import PublishedSystem, audit
from djs_toolkit.sdc.evidence import Evidence, Grid
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.protect import Protection, denominator_cells
from djs_toolkit.sdc.rounding import rounded_counts
from djs_toolkit.sdc.rules import statistic_kind
from djs_toolkit.sdc.suppress import complement_milp, drop_redundant, information_loss, table_equations

__all__ = ["declared_wrong", "protect_known_zeros", "structural_cells"]


def _position(level: pd.Index, label: object) -> int:
    loc = level.get_loc(label)
    if isinstance(loc, (slice, np.ndarray)):  # a repeated category: levels are unique, so never
        raise KeyError(label)
    return int(loc)


def structural_cells(spec: object, grid: Grid) -> np.ndarray | None:
    """Extended cells a ``structural_zeros=`` declaration names: label tuples (one label per dimension) or a boolean
    DataFrame (row labels x column labels, True = cannot occur); None when nothing is declared.

    Example:
        >>> g = Grid(("a", "b"), (pd.Index(["x", "y"]), pd.Index(["p", "q"])), 1)
        >>> structural_cells([("y", "p")], g).nonzero()[0].tolist()
        [3]
    """
    if spec is None:
        return None
    out = np.zeros(grid.n_ext, dtype=bool)
    if isinstance(spec, pd.DataFrame):
        spec = [
            (r if isinstance(r, tuple) else (r,)) + (c if isinstance(c, tuple) else (c,))
            for r in spec.index
            for c in spec.columns
            if bool(spec.loc[r, c])
        ]
    if not isinstance(spec, Iterable):
        raise DJSUserError("structural_zeros must be a DataFrame of booleans or a list of label tuples.")
    for entry in spec:
        labels = entry if isinstance(entry, tuple) else (entry,)
        if len(labels) != len(grid.levels):
            raise DJSUserError("structural_zeros entries need one label per table dimension.")
        try:
            coord = tuple(_position(lv, lab) for lv, lab in zip(grid.levels, labels, strict=True))
        except KeyError:
            raise DJSUserError("a structural_zeros entry does not match the table's categories.") from None
        out[np.ravel_multi_index(coord, grid.ext_shape)] = True
    return out


def declared_wrong(structural: np.ndarray | None, n: np.ndarray) -> list[tuple[int, str, str, str]]:
    """The whole output fails when a cell declared a structural zero has records: the declaration is wrong, and
    releasing the table would either show a count the analysis said cannot exist or hide it with no reason given.
    The message counts cells and names no value.

    Example:
        >>> declared_wrong(np.array([True, False]), np.array([0, 5]))
        []
    """
    if structural is None:
        return []
    wrong = int((structural & (n > 0)).sum())
    if not wrong:
        return []
    return [
        (
            -1,
            "StructuralZeroCheck",
            "fail",
            f"{wrong} cell(s) declared structural zeros (cannot occur) have records: the declaration is wrong, so "
            "the table is withheld; declare only cells that cannot occur (structural_zeros=)",
        )
    ]


def protect_known_zeros(
    ev: Evidence,
    stat: str,
    values: np.ndarray,
    prot: Protection,
    known: np.ndarray,
    prof: Profile,
    axes: tuple[int, ...] | None,
) -> Protection:
    """Protection in which the declared structural zeros are what they are to an attacker: published zeros.

    The pack names them (CLEARANCE.md, results.json), so a structural zero withheld as a complement protects
    nothing and a rounded structural zero is exactly 0, not 0 to 2. Complements are chosen again without them,
    and every withheld cell is audited with them fixed at 0; a table that cannot be protected so fails closed.
    ``known``: the declared zeros (and margins over them only) that hold no records.

    Example:
        >>> # prot = protect_known_zeros(ev, "count", counts, prot, known, profile, None)
    """
    kind = statistic_kind(stat)
    if not prot.applied or not known.any() or not prot.suppressed.any() or kind not in ("frequency", "linear"):
        return prot
    grid, cells = ev.grid, ev.cells
    if kind == "frequency" and prof.mitigation == "round":
        method = "midpoint6" if stat == "proportion" and prof.rate_rounding == "midpoint6" else "base"
        is_margin = grid.is_total().any(axis=0)
        _, system = rounded_counts(
            grid, values, prot.suppressed, method, int(prof.round_base or 5), prot.primary & is_margin
        )
        fixed = PublishedSystem(
            system.A, system.b, np.where(known, 0.0, system.lower), np.where(known, 0.0, system.upper)
        )
        res = audit(fixed, np.flatnonzero(prot.suppressed))
        res["required"] = prof.width
        res["ok"] = (res["width"] >= res["required"] - 1e-6).to_numpy(bool)
        ok = bool(res["ok"].all())
        ctrl = (
            f"LP attacker audit of redacted cells with the structural zeros fixed at 0: {'passed' if ok else 'FAILED'}"
        )
        return dataclasses.replace(prot, audit=res, ok=prot.ok and ok, controls=[*prot.controls, ctrl])
    if not (prot.suppressed & known).any():  # published exactly, so the audit already knew them
        return prot
    if kind == "frequency":
        x, lb, width = cells["n"].to_numpy(np.float64), np.zeros(grid.n_ext), np.full(grid.n_ext, prof.width)
    else:
        x = cells["sum"].to_numpy(np.float64)
        lb = np.zeros(grid.n_ext) if int(cells["n_negative"].to_numpy()[-1]) == 0 else np.full(grid.n_ext, -np.inf)
        width = prof.magnitude_protection * cells["abs_sum"].to_numpy(np.float64)
    A = table_equations(grid)
    allow = ~known
    allow[-1] = bool(prot.primary[-1])  # the grand total is published unless it is itself sensitive
    cost = information_loss(x)

    def audited(sup: np.ndarray) -> pd.DataFrame:
        system = PublishedSystem(A, np.zeros(A.shape[0]), np.where(sup, lb, x), np.where(sup, np.inf, x))
        res = audit(system, np.flatnonzero(sup))
        res["required"] = width[res.index.to_numpy()]
        res["ok"] = (res["width"] >= res["required"] - 1e-6).to_numpy(bool)
        return res

    sup = prot.suppressed & ~known
    res = audited(sup)
    # As secondary_suppression: one exact programme per cell left too narrow (largest first; the complements kept
    # are free), joint rounds only for what that leaves; then the complements no withheld cell needs are released.
    narrow = res.index[~res["ok"].to_numpy()].to_numpy()
    sup, _ = complement_milp(A, x, lb, sup, allow, cost, narrow[np.argsort(-x[narrow], kind="stable")], width)
    res = audited(sup)
    for _ in range(4):
        narrow = res.index[~res["ok"].to_numpy()].to_numpy()
        if not len(narrow):
            sup = drop_redundant(A, x, lb, sup, prot.primary, np.flatnonzero(prot.primary), width, cost)
            res = audited(sup)
            break
        sup, _ = complement_milp(A, x, lb, sup, allow, cost, narrow, width, joint=True)
        res = audited(sup)
    ok = bool(res["ok"].all())
    pub = np.where(sup, np.nan, values)
    if stat == "proportion":
        den = denominator_cells(grid.shape, grid.ext_shape, axes or tuple(range(len(grid.shape))))
        with np.errstate(divide="ignore", invalid="ignore"):
            pub = np.where(pub[den] > 0, pub / pub[den], np.nan)
    moved = int((prot.suppressed & known).sum())
    ctrl = (
        f"{moved} structural zero(s) published rather than withheld as complements (the pack names them: they hide "
        f"nothing); complements chosen again and every withheld cell audited with them fixed at 0: "
        f"{'passed' if ok else 'FAILED'}"
    )
    return dataclasses.replace(
        prot, published=pub, suppressed=sup, audit=res, ok=ok, controls=[*prot.controls, ctrl], resolved=sup.copy()
    )
