"""Differencing across three or more outputs: the same table released on several populations.

Pairs (`atoms.pair_check`) catch one output against one other. Some disclosures need several: the same table on
all records, on population P1 and on P2, where P1 and P2 together miss a small group (each pair differs by a large
group). Following docs/disclosure.md §7.4 ("atoms = distinct combinations of labels across all released
outputs"), the atoms of such a *family* (earlier outputs with the same variables and categories as the new one)
are the distinct combinations of the members' cells over the union of their records (members: outputs linked to the
new one by their records that show the same categories in the same layout, whatever the variables are called, and
one-cell totals of linked populations, issue 16); small atoms are tested by
linear algebra and the LP attacker. The family is small (at most `MAX_MEMBERS` outputs); its atoms are the
combinations that occur plus the empty ones the attacker cannot rule out (`_possible`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from djs_toolkit.sdc.atoms import Budget, in_row_space, value_range
from djs_toolkit.sdc.audit import PublishedSystem
from djs_toolkit.sdc.knowledge import support
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry
from djs_toolkit.sdc.released import Released, label_name

__all__ = ["MAX_FAMILY_ATOMS", "MAX_MEMBERS", "family_check"]

MAX_MEMBERS = 8
MAX_FAMILY_ATOMS = 5_000


def _same_table(a: Released, b: Released) -> bool:
    # By content, not by name: the same categories in the same layout are the same table whatever the variables
    # are called (a renamed variable must not split a family).
    return a.counts and b.counts and a.levels == b.levels


def _one_cell(a: Released) -> bool:
    return a.counts and a.n_labels == 1


def _possible(
    atoms: np.ndarray, counts: np.ndarray, per_record: list[np.ndarray], rels: list[Released]
) -> tuple[np.ndarray, np.ndarray]:
    """Add the empty atoms the attacker cannot rule out: a cell's records in any subset of the members.

    The combinations that occur are what the data show, not what the attacker knows (knowledge.py: never the data's
    zero pattern as such). Members are the same table, so a record in cell c of one member sits in cell c of any
    other it belongs to; which members hold it is free unless the populations' meaning (`support`, pair by pair:
    nesting, a filter on a tabulated variable) rules the combination out. Beyond MAX_FAMILY_ATOMS the occurring
    combinations alone are kept (the attacker then knows more: conservative).
    """
    m = len(rels)
    one = np.array([r.n_labels == 1 for r in rels])
    tab = atoms[:, ~one]
    cells = np.unique(tab[tab >= 0]) if (~one).any() else np.zeros(1, np.int64)
    # a record in cell c of one member of the table sits in cell c of any other; a one-cell member only holds it
    value = np.where(one[None, :], 0, cells[:, None])
    subsets = ((np.arange(1, 2**m)[:, None] >> np.arange(m)) & 1).astype(bool)
    extra = np.where(subsets[None, :, :], value[:, None, :], -1).reshape(-1, m)
    if len(atoms) + len(extra) > MAX_FAMILY_ATOMS:
        return atoms, counts
    ok = np.ones(len(extra), bool)
    for j in range(m):
        for k in range(j + 1, m):
            r_k = rels[k].n_labels + 1
            J = np.bincount(
                (per_record[j] + 1) * r_k + per_record[k] + 1, minlength=(rels[j].n_labels + 1) * r_k
            ).reshape(-1, r_k)
            J[0, 0] = 0
            S, _ = support(J, rels[j], rels[k])
            ok &= S[extra[:, j] + 1, extra[:, k] + 1]
    seen = {tuple(a) for a in atoms.tolist()}
    new = np.array([a for a in extra[ok].tolist() if tuple(a) not in seen], np.int64).reshape(-1, m)
    return np.vstack([atoms, new]), np.concatenate([counts, np.zeros(len(new), counts.dtype)])


def family_check(
    ledger: Ledger,
    keyset: str,
    labels: np.ndarray,
    rel: Released,
    entries: list[LedgerEntry],
    key_space: str,
    min_safe: int,
    width: float,
    budget: Budget,
) -> tuple[list[str], list[list], int]:
    """Small atoms pinned by the new output together with >= 2 earlier outputs of the same table.

    Returns:
        (members, findings, unresolved): display names of the family when something is pinned or undecided (else
        empty), rows (cells description, true count, lower, upper, method) for the checker, and the number of
        small atoms the work budget did not reach (a `review`, never a `pass`).

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> led = Ledger(); ids = np.arange(60)
        >>> one = lambda n: from_sets(("g",), (("a",),), [[0]], [float(n)], [float(n)])
        >>> lab = lambda keep: np.where(keep, 0, -1)
        >>> k = led.store_keyset(led.hash_ids(ids))
        >>> for name, keep in (("all", ids < 60), ("p1", ids < 25)):
        ...     _ = led.add(name, "table", "count", "pass", ("g",), one(keep.sum()), lab(keep), k, "record_id", None)
        >>> members, rows, left = family_check(led, k, lab((ids >= 25) & (ids < 57)), one(32), led.entries(),
        ...                              "record_id", 10, 10.0, Budget(100))
        >>> members, [r[1] for r in rows], left
        (["'all'", "'p1'"], [3], 0)
    """
    linked = [
        (e, e.keyset, r)
        for e in entries
        if e.keyset and e.key_space == key_space and (r := ledger.released(e)) is not None and r.counts
    ]
    # The table the family shares: the new output's, or (for a one-cell total) the latest earlier table's
    ref = rel if not _one_cell(rel) else next((r for _, _, r in reversed(linked) if not _one_cell(r)), None)
    members = [m for m in linked if _one_cell(m[2]) or (ref is not None and _same_table(m[2], ref))][-MAX_MEMBERS:]
    if len(members) < 2:
        return [], [], 0
    fam = [e for e, _, _ in members]
    keysets = [keyset, *(k for _, k, _ in members)]
    rels = [rel, *(r for _, _, r in members)]
    longest = max(set(keysets), key=lambda k: (len(ledger.keyset(k)), k))
    if all(ledger.common_prefix(longest, k) is not None for k in set(keysets)):
        # the usual case: every output made from the same records, or frames numbered alike (index keys)
        n_rows = len(ledger.keyset(longest))
        where = [np.arange(len(ledger.keyset(k))) for k in keysets]
    else:  # union of the records by hashing (no sort)
        universe = pd.Index(pd.unique(np.concatenate([np.asarray(ledger.keyset(k)) for k in set(keysets)])))
        n_rows = len(universe)
        where = [universe.get_indexer(pd.Index(np.asarray(ledger.keyset(k)))) for k in keysets]
    # one integer per record encodes its cell in every member (mixed radix), then hashing finds the atoms
    radix = [r.n_labels + 1 for r in rels]
    if float(np.prod(np.asarray(radix, dtype=float))) >= 2.0**62:
        return [], [], 0
    code = np.zeros(n_rows, np.int64)
    stride = 1
    per_record = []  # each member's label per record of the union (-1 = not in that member)
    for w, lab, base in zip(where, [labels] + [np.asarray(ledger.labels(e)) for e in fam], radix, strict=True):
        part = np.zeros(n_rows, np.int64)
        part[w] = np.asarray(lab, np.int64) + 1
        per_record.append(part - 1)
        code += part * stride
        stride *= base
    code = code[code > 0]
    codes_idx, uniq = pd.factorize(code)
    counts = np.bincount(codes_idx)
    if len(uniq) > MAX_FAMILY_ATOMS:
        return [], [], 0
    atoms = np.zeros((len(uniq), len(rels)), np.int64)
    rest = np.asarray(uniq, np.int64)
    for j, base in enumerate(radix):
        atoms[:, j] = rest % base - 1
        rest //= base
    atoms, counts = _possible(atoms, counts, per_record, rels)
    rows, lo, hi = [], [], []
    for j, r in enumerate(rels):
        inc = r.incidence().tocsc()  # released value x label
        col = atoms[:, j]
        member = sparse.csr_matrix(
            (np.ones(int((col >= 0).sum())), (np.flatnonzero(col >= 0), col[col >= 0])), shape=(len(atoms), r.n_labels)
        )
        rows.append((inc @ member.T).tocsr())
        lo.append(r.lo)
        hi.append(r.hi)
    A_atoms = sparse.vstack(rows).tocsr()
    n_rel = A_atoms.shape[0]
    A = sparse.hstack([A_atoms, -sparse.identity(n_rel)]).tocsr()
    lo_all, hi_all = np.concatenate(lo), np.concatenate(hi)
    system = PublishedSystem(
        A,
        np.zeros(n_rel),
        np.concatenate([np.zeros(len(atoms)), lo_all]),
        np.concatenate([np.full(len(atoms), np.inf), hi_all]),
    )
    cand = np.flatnonzero((counts > 0) & (counts < min_safe))
    if len(cand) == 0:
        return [], [], 0
    exact_rows = A_atoms[np.isfinite(lo_all) & (lo_all == hi_all)]
    found, unresolved = [], 0
    exact = in_row_space(exact_rows, cand) if exact_rows.shape[0] else np.zeros(len(cand), bool)
    for k, t in enumerate(cand):
        if exact[k]:
            found.append((t, float(counts[t]), float(counts[t]), "linear algebra"))
            continue
        if not budget.take():
            unresolved += 1  # fail closed: an atom the budget did not reach is undecided, never safe
            continue
        a, b = value_range(system, int(t))
        if b - a < width - 1e-6:
            found.append((t, a, b, "LP"))
    if not found:
        return ([e.display for e in fam] if unresolved else []), [], unresolved

    def describe(t: int) -> str:
        return "; ".join(
            ("in " if atoms[t, j] >= 0 else "not in ")
            + ("this output" if j == 0 else fam[j - 1].display)
            + (f" [{label_name(rels[j], int(atoms[t, j]))}]" if atoms[t, j] >= 0 else "")
            for j in range(len(rels))
        )

    findings = [[describe(int(t)), int(counts[t]), a, b, how] for t, a, b, how in found]
    return [e.display for e in fam], findings, unresolved
