"""Differencing of two count outputs whose records cannot be linked (docs/disclosure.md §7.4, issue 16).

The ledger links records by their keys; when it cannot (ids on one output and the DataFrame index on the other, an
index renumbered by `reset_index`, tables saved from aggregated DataFrames), the checker cannot tell whether one
population contains the other, so it assumes it might: that is the attacker's best case. The outputs are compared
by content: dimensions showing the same categories are the same variable, whatever they are called and in whichever
order (a transposed or renamed table), and their margins over those shared variables (and the grand totals) are
read off what each output released exactly. If every such margin moved the same way (as nested populations do)
and some moved by 1..m-1, the difference is a small group: the output fails until both outputs carry the same
record ids (then the exact pair check decides).
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.sdc.released import Released

__all__ = ["margins_over", "shared_dims", "unlinked_difference"]


def shared_dims(a: Released, b: Released) -> list[tuple[int, int]]:
    """Pairs (dimension of a, dimension of b) that show the same categories (names and order ignored).

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> a = from_sets(("court", "sex"), (("A", "B"), ("F", "M")), [[0]], [1.0], [1.0])
        >>> b = from_sets(("gender",), (("F", "M"),), [[0]], [1.0], [1.0])
        >>> shared_dims(a, b)
        [(1, 0)]
    """
    used: set[int] = set()
    out = []
    for i, lv in enumerate(a.levels):
        for j, lw in enumerate(b.levels):
            if j not in used and len(lv) > 1 and set(lv) == set(lw):
                out.append((i, j))
                used.add(j)
                break
    return out


def margins_over(rel: Released, dims: list[int]) -> dict[tuple[str, ...], float]:
    """Exactly known counts of `rel` over the categories of `dims` (keys: category names, one per dimension).

    A margin is known when a released exact value covers exactly its cells, or every one of its cells is released
    exactly on its own. `dims = []` gives the grand total under the key `()`.

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> r = from_sets(("g", "h"), (("a", "b"), ("x", "y")), [[0], [1], [2], [3]], [1.0, 2, 3, 4], [1.0, 2, 3, 4])
        >>> margins_over(r, [0])
        {('a',): 3.0, ('b',): 7.0}
    """
    shape = tuple(len(lv) for lv in rel.levels)
    coords = np.array(np.unravel_index(np.arange(rel.n_labels), shape)).reshape(len(shape), -1)
    keys = [tuple(rel.levels[d][int(coords[d, lab])] for d in dims) for lab in range(rel.n_labels)]
    groups: dict[tuple[str, ...], set[int]] = {}
    for lab, k in enumerate(keys):
        groups.setdefault(k, set()).add(lab)
    exact = rel.exact()
    single: dict[int, float] = {}
    out: dict[tuple[str, ...], float] = {}
    for r in np.flatnonzero(exact):
        labs = rel.indices[rel.indptr[r] : rel.indptr[r + 1]]
        if len(labs) == 1:
            single[int(labs[0])] = float(rel.lo[r])
        ks = {keys[int(x)] for x in labs}
        if len(ks) == 1:
            k = next(iter(ks))
            if len(labs) == len(groups[k]):
                out[k] = float(rel.lo[r])
    for k, labs_k in groups.items():
        if k not in out and all(x in single for x in labs_k):
            out[k] = float(sum(single[x] for x in labs_k))
    return out


def unlinked_difference(rel_e: Released, rel_n: Released, min_safe: int) -> list[str]:
    """Margins (over the shared variables, and the grand total) that differ by 1..min_safe-1 between two outputs
    whose every known margin moved the same way; empty when there are none or the populations cannot be nested.

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> e = from_sets(("g",), (("a", "b"),), [[0], [1], [0, 1]], [40.0, 30, 70], [40.0, 30, 70])
        >>> n = from_sets(("h", "g"), (("x",), ("b", "a")), [[0, 1]], [67.0], [67.0])
        >>> unlinked_difference(e, n, 10)
        ['all records']
    """
    if not (rel_e.counts and rel_n.counts):
        return []
    pairs = shared_dims(rel_e, rel_n)
    diffs: dict[str, float] = {}
    for sub in ([], pairs) if pairs else ([],):
        de, dn = [p[0] for p in sub], [p[1] for p in sub]
        me, mn = margins_over(rel_e, de), margins_over(rel_n, dn)
        for k in set(me) & set(mn):
            name = ", ".join(f"{rel_n.dims[d]}={v}" for d, v in zip(dn, k, strict=True)) or "all records"
            diffs[name] = mn[k] - me[k]
    if not diffs:
        return []
    d = np.array(list(diffs.values()))
    if not ((d >= 0).all() or (d <= 0).all()):
        return []  # margins moved both ways: neither population contains the other
    return [k for k, v in diffs.items() if 1 <= abs(v) <= min_safe - 1]
