"""Whole-release attack, part 2: the attacker's unknowns and equations, with who printed or defined each.

`ReleaseModel` holds counts of people as variables (never negative, except differences), every interval a released
table prints for one, the equations between them and which variables are the same quantity (union-find links);
`system()` turns it into the LP audit's `PublishedSystem` over linked variables. `release_model` fills it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.audit import PublishedSystem

__all__ = ["ReleaseModel"]

_INF = np.inf


@dataclass
class ReleaseModel:
    """Variables, their bounds and the equations between them, with who published or defined each.

    Attributes:
        kind: per variable: `count` (a printed cell), `atom` (a count implied by a relation), `signed` (a
            difference that may be negative), `implied` (ratio x count), `slack` (an inequality's slack).
        where: per variable: (output, row labels, column) for reports.
        owners: per variable: outputs that print or define it; withheld_in: outputs that print it withheld.
        printed: per variable: (output, lower, upper) for every printed interval of its true value.
        equations: (terms {variable: coefficient}, right-hand side, owning output).

    Example:
        >>> m = ReleaseModel()
        >>> a, b = m.new("count", ("t", "a", "n"), "t"), m.new("count", ("u", "a", "n"), "u")
        >>> m.link(a, b); m.find(b) == m.find(a)
        True
    """

    kind: list[str] = field(default_factory=list)
    where: list[tuple[str, str, str]] = field(default_factory=list)
    owners: list[set[str]] = field(default_factory=list)
    withheld_in: list[set[str]] = field(default_factory=list)
    printed: list[list[tuple[str, float, float]]] = field(default_factory=list)
    equations: list[tuple[dict[int, float], float, str]] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)

    def new(self, kind: str, where: tuple[str, str, str], owner: str) -> int:
        """A new variable (counts and atoms >= 0; signed differences and slacks as their kind says).

        Example:
            >>> ReleaseModel().new("atom", ("t", "", ""), "t")
            0
        """
        self.kind.append(kind)
        self.where.append(where)
        self.owners.append({owner})
        self.withheld_in.append(set())
        self.printed.append([])
        self.parent.append(len(self.parent))
        return len(self.kind) - 1

    def find(self, v: int) -> int:
        """The variable `v` is linked to (union-find root).

        Example:
            >>> m = ReleaseModel(); m.find(m.new("count", ("t", "", ""), "t"))
            0
        """
        root = v
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[v] != root:
            self.parent[v], v = root, self.parent[v]
        return root

    def link(self, a: int, b: int) -> None:
        """Declare `a` and `b` the same quantity.

        Example:
            >>> m = ReleaseModel(); a, b = m.new("count", ("t", "", ""), "t"), m.new("count", ("u", "", ""), "u")
            >>> m.link(a, b); m.parent[b]
            0
        """
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def publish(self, v: int, lo: float, hi: float, owner: str) -> None:
        """`owner` prints `v` as lying in [lo, hi].

        Example:
            >>> m = ReleaseModel(); v = m.new("count", ("t", "", ""), "t"); m.publish(v, 3, 3, "t"); m.printed[v]
            [('t', 3.0, 3.0)]
        """
        self.printed[v].append((owner, float(lo), float(hi)))
        self.owners[v].add(owner)

    def equation(self, terms: dict[int, float], rhs: float, owner: str) -> None:
        """Record `sum(coef x variable) == rhs`, defined by `owner`'s table.

        Example:
            >>> m = ReleaseModel(); m.equation({m.new("atom", ("t", "", ""), "t"): 1.0}, 2.0, "t"); len(m.equations)
            1
        """
        self.equations.append((dict(terms), float(rhs), owner))

    def define(self, kind: str, where: tuple[str, str, str], terms: dict[int, float], owner: str) -> int:
        """A new variable equal to `sum(coef x variable)`.

        Example:
            >>> m = ReleaseModel(); a = m.new("count", ("t", "", ""), "t"); m.define("atom", ("t", "", ""), {a: 1}, "t")
            1
        """
        v = self.new(kind, where, owner)
        self.equation({v: 1.0, **{k: -c for k, c in terms.items()}}, 0.0, owner)
        return v

    def system(self) -> tuple[PublishedSystem, np.ndarray]:
        """The attacker's system over linked variables.

        Returns:
            (system over linked variables, the position of every variable's linked variable in it).

        Example:
            >>> m = ReleaseModel(); a = m.new("count", ("t", "", ""), "t"); m.publish(a, 4, 4, "t")
            >>> s, pos = m.system(); s.lower.tolist(), pos.tolist()
            ([4.0], [0])
        """
        n = len(self.kind)
        roots = np.array([self.find(v) for v in range(n)], dtype=np.int64)
        used = np.unique(roots)
        pos_of_root = np.full(n, -1, dtype=np.int64)
        pos_of_root[used] = np.arange(len(used))
        lower = np.full(len(used), -_INF)
        upper = np.full(len(used), _INF)
        for v in range(n):
            r = pos_of_root[roots[v]]
            lower[r] = max(lower[r], -_INF if self.kind[v] == "signed" else 0.0)
            for _, lo, hi in self.printed[v]:
                lower[r], upper[r] = max(lower[r], lo), min(upper[r], hi)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        rhs: list[float] = []
        for terms, b, _ in self.equations:
            merged: dict[int, float] = defaultdict(float)
            for v, c in terms.items():
                merged[int(pos_of_root[roots[v]])] += c
            merged = {k: c for k, c in merged.items() if c != 0.0}
            if not merged:
                continue
            i = len(rhs)
            rows += [i] * len(merged)
            cols += list(merged)
            vals += list(merged.values())
            rhs.append(b)
        A = sparse.csr_matrix((vals, (rows, cols)), shape=(len(rhs), len(used)))
        return PublishedSystem(A, np.array(rhs, dtype=float), lower, upper), pos_of_root[roots]
