"""What the attacker knows besides the released values: which atoms of two outputs can hold records.

docs/disclosure.md §7.4 lists atoms as the combinations that occur; treating the data's zero pattern as known
would flag safe pairs of independent tables, treating nothing as known would miss the classic attacks. The
attacker here knows the *meaning* of the variables and of the population filters, read off the linked records:
- a variable both outputs tabulate under the same name and coding: a record sits in the same category in both;
- a variable of one output that is a function of a variable of the other (a recoding such as custody vs
  outcome, age band vs age group, or a population filter on a tabulated variable such as year = 2019): every
  category maps to the one category the linked records show;
- population nesting: membership of one output's population ("in E", "in N") is a variable like any other, so a
  population contained in the other's fixes the corresponding "outside" atoms at zero.
Atoms holding records are always possible (a data correction between reruns moves records between categories).
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.sdc.released import Released

__all__ = ["MAX_SUPPORT_CELLS", "support"]

MAX_SUPPORT_CELLS = 16_000_000


def _dims(rel: Released) -> list[tuple[str, np.ndarray, int, tuple[str, ...]]]:
    """(name, code per row/column of J with -1 at the "outside" position, categories, labels) + membership."""
    n = rel.n_labels
    shape = tuple(len(lv) for lv in rel.levels)
    coords = np.unravel_index(np.arange(n), shape) if n else [np.zeros(0, np.int64)] * len(shape)
    out = [
        (name, np.concatenate([[-1], np.asarray(c, np.int64)]), len(lv), lv)
        for name, c, lv in zip(rel.dims, coords, rel.levels, strict=True)
    ]
    inside = np.ones(n + 1, np.int64)
    inside[0] = 0
    return [*out, ("\x00in", inside, 2, ("out", "in"))]


def _function(ce: np.ndarray, cn: np.ndarray, le: int, ln: int, J: np.ndarray) -> np.ndarray | None:
    """Map from E's categories to N's when the linked records show one (else None); -1 = category unseen."""
    i, j = np.nonzero(J)
    ok = (ce[i] >= 0) & (cn[j] >= 0)
    M = np.zeros((le, ln))
    np.add.at(M, (ce[i[ok]], cn[j[ok]]), J[i[ok], j[ok]])
    nz = M > 0
    if (nz.sum(axis=1) > 1).any():
        return None
    return np.where(nz.any(axis=1), nz.argmax(axis=1), -1)


def _constraint(ce: np.ndarray, cn: np.ndarray, f: np.ndarray) -> np.ndarray:
    target = np.where(ce >= 0, f[np.maximum(ce, 0)], -1)
    return (target[:, None] < 0) | (cn[None, :] < 0) | (target[:, None] == cn[None, :])


def support(J: np.ndarray, rel_e: Released, rel_n: Released) -> tuple[np.ndarray, float]:
    """Atoms the attacker cannot rule out, and how often linked records agree on same-named variables.

    Returns:
        (S, agreement): S over J's shape (S[0, 0] = True: records outside both, unconstrained); agreement = share
        of records in both outputs whose categories agree on the variables both tabulate (1.0 if none).

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> e = from_sets(("g",), (("a", "b"),), [[0], [1]], [5, 5], [5, 5])
        >>> S, agree = support(np.array([[0, 0, 0], [2, 3, 0], [0, 0, 5]]), e, e)  # N: part of E's records
        >>> S.astype(int).tolist(), agree
        ([[1, 0, 0], [1, 1, 0], [1, 0, 1]], 1.0)
    """
    S = J > 0
    S[0, 0] = True
    if J.size > MAX_SUPPORT_CELLS:
        return S, 1.0
    both = J[1:, 1:].sum()
    agree = np.ones(J.shape, dtype=bool)
    ok = np.ones(J.shape, dtype=bool)
    dims_n = _dims(rel_n)
    for name_e, ce, le, lab_e in _dims(rel_e):
        for name_n, cn, ln, lab_n in dims_n:
            same = name_e == name_n and not name_e.startswith("\x00")
            if same:
                lookup = {v: k for k, v in enumerate(lab_n)}
                mapped = np.array([lookup.get(v, -1) for v in lab_e], dtype=np.int64)
                if (mapped >= 0).any():
                    eq = _constraint(ce, cn, np.where(mapped >= 0, mapped, -2))
                    agree &= eq
                    ok &= eq
                    continue
            f = _function(ce, cn, le, ln, J)
            if f is not None:
                ok &= _constraint(ce, cn, f)
                continue
            g = _function(cn, ce, ln, le, J.T)
            if g is not None:
                ok &= _constraint(cn, ce, g).T
    agreement = 1.0 if both == 0 else float((J * agree)[1:, 1:].sum() / both)
    S |= ok
    S[0, 0] = True
    return S, agreement
