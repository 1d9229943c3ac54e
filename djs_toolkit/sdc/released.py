"""What an output released, seen as linear constraints on record counts (the differencing ledger's view).

Each output labels every record with one interior cell (`cell_labels`, -1 = not in the output). Every released
count is the number of records in a *set* of interior labels (an interior cell, or a margin = a union of cells),
known exactly, as an interval (a rounded value) or not at all (a suppressed cell): docs/disclosure.md §7.4
("every released count is a sum of atom counts; rounded releases are interval constraints; suppressed cells are
unknowns"). `Released` stores those sets in CSR form plus the attacker's interval for each, so the ledger can
rebuild the equations of any earlier output without keeping its table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from djs_toolkit.sdc.evidence import Grid
from djs_toolkit.sdc.rounding import midpoint6, round_to_base, rounding_bounds

__all__ = ["Released", "from_grid", "from_sets", "grid_released", "label_name"]


@dataclass(frozen=True)
class Released:
    """Released counts of one output as sets of its interior labels.

    Attributes:
        dims: dimension names (for tables: the table's variables).
        levels: category labels (as text) of each dimension; interior label = C-order index over them.
        n_labels: number of interior labels.
        indptr, indices: CSR rows: released value r covers labels `indices[indptr[r]:indptr[r+1]]`.
        lo, hi: what an attacker knows of each released count (lo == hi exact; hi = inf unknown).
        names: readable description of each released value (`court=A, outcome=All`), no counts.
        counts: False when the released values are not counts (means, sums, ...): no count constraints.
        measure: for sums (and means, whose n is published or derivable): the column summed; lo/hi are then the
            sums of that column over each set's records (exact, or -inf/inf when withheld). Empty for counts.

    Example:
        >>> r = from_sets(("g",), (("a", "b"),), [[0], [1], [0, 1]], [3.0, 0.0, 5.0], [3.0, np.inf, 5.0])
        >>> r.incidence().toarray().tolist(), r.exact().tolist()
        ([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [True, False, True])
    """

    dims: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    n_labels: int
    indptr: np.ndarray
    indices: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    names: tuple[str, ...]
    counts: bool = True
    measure: str = ""

    @property
    def n_released(self) -> int:
        """Number of released values.

        Example:
            >>> from_sets(("g",), (("a",),), [[0]], [12.0], [12.0]).n_released
            1
        """
        return len(self.lo)

    def incidence(self) -> sparse.csr_matrix:
        """(released values x interior labels) 0/1 matrix.

        Example:
            >>> from_sets(("g",), (("a", "b"),), [[1]], [12.0], [12.0]).incidence().toarray().tolist()
            [[0.0, 1.0]]
        """
        data = np.ones(len(self.indices))
        return sparse.csr_matrix((data, self.indices, self.indptr), shape=(self.n_released, self.n_labels))

    def exact(self) -> np.ndarray:
        """Which released values are known exactly.

        Example:
            >>> from_sets(("g",), (("a",),), [[0]], [10.0], [14.0]).exact().tolist()
            [False]
        """
        return np.isfinite(self.lo) & (self.lo == self.hi)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for `np.savez` (the ledger's `<entry>.cells.npz`).

        Example:
            >>> sorted(from_sets(("g",), (("a",),), [[0]], [10.0], [10.0]).to_arrays())
            ['hi', 'indices', 'indptr', 'lo']
        """
        return {"indptr": self.indptr, "indices": self.indices, "lo": self.lo, "hi": self.hi}

    def to_meta(self) -> dict[str, object]:
        """JSON-able description (dimensions, levels, names) stored beside the arrays.

        Example:
            >>> from_sets(("g",), (("a",),), [[0]], [10.0], [10.0]).to_meta()["dims"]
            ['g']
        """
        return {
            "dims": list(self.dims),
            "levels": [list(lv) for lv in self.levels],
            "n_labels": self.n_labels,
            "names": list(self.names),
            "counts": self.counts,
            "measure": self.measure,
        }

    @classmethod
    def load(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Released:
        """Rebuild from `to_meta()` and `to_arrays()`.

        Example:
            >>> r = from_sets(("g",), (("a",),), [[0]], [10.0], [10.0])
            >>> Released.load(r.to_meta(), r.to_arrays()).names
            ('g=a',)
        """
        return cls(
            tuple(meta["dims"]),
            tuple(tuple(lv) for lv in meta["levels"]),
            int(meta["n_labels"]),
            np.asarray(arrays["indptr"], np.int64),
            np.asarray(arrays["indices"], np.int64),
            np.asarray(arrays["lo"], float),
            np.asarray(arrays["hi"], float),
            tuple(meta["names"]),
            bool(meta["counts"]),
            str(meta.get("measure", "")),
        )


def _text_levels(levels: Sequence[Iterable[object]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(str(v) for v in lv) for lv in levels)


def from_sets(
    dims: Sequence[str],
    levels: Sequence[Sequence[object]],
    sets: Sequence[Sequence[int] | np.ndarray],
    lo: Sequence[float] | np.ndarray,
    hi: Sequence[float] | np.ndarray,
    names: Sequence[str] | None = None,
    counts: bool = True,
    measure: str = "",
) -> Released:
    """Released values given as explicit label sets (survival tables, custom layouts).

    Example:
        >>> from_sets(("g",), (("a", "b"),), [[0, 1]], [20.0], [20.0]).names
        ('g=a|b',)
    """
    lv = _text_levels(levels)
    shape = tuple(len(x) for x in lv)
    n_labels = int(np.prod(shape, dtype=np.int64)) if shape else 0
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    indices = np.concatenate([np.asarray(s, np.int64) for s in sets]) if sets else np.zeros(0, np.int64)
    if names is None:
        names = [_set_name(tuple(dims), lv, shape, np.asarray(s, np.int64)) for s in sets]
    return Released(
        tuple(str(d) for d in dims),
        lv,
        n_labels,
        indptr,
        indices,
        np.asarray(lo, float),
        np.asarray(hi, float),
        tuple(names),
        counts,
        measure,
    )


def _set_name(
    dims: tuple[str, ...], levels: tuple[tuple[str, ...], ...], shape: tuple[int, ...], labels: np.ndarray
) -> str:
    coords = np.unravel_index(labels, shape) if len(labels) else [np.zeros(0, np.int64)] * len(shape)
    parts = []
    for d, c in zip(dims, coords, strict=True):
        u = np.unique(c)
        parts.append(f"{d}={'|'.join(levels[dims.index(d)][int(i)] for i in u)}")
    return ", ".join(parts)


def from_grid(
    grid: Grid,
    ext_ids: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    counts: bool = True,
    margins_name: str = "All",
    measure: str = "",
) -> Released:
    """Released values of a table: each extended cell id (interior or margin) becomes a set of interior labels.

    Args:
        grid: the table's Grid.
        ext_ids: extended ids of the released cells.
        lo, hi: the attacker's interval for each of them.
        counts: whether the values are counts.
        margins_name: the label a margin position is shown with.

    Example:
        >>> import pandas as pd
        >>> g = Grid(("r", "c"), (pd.Index(["a", "b"]), pd.Index(["x"])), 1)
        >>> r = from_grid(g, np.array([0, 2, 4, 5]), np.array([3.0, 4, 7, 7]), np.array([3.0, 4, 7, 7]))
        >>> r.incidence().toarray().tolist(), r.names[2]
        ([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]], 'r=All, c=x')
    """
    shape = grid.shape
    ids = np.arange(grid.n_cells, dtype=np.int64).reshape(shape)
    sets, names = [], []
    levels = _text_levels(grid.levels)
    for e in np.asarray(ext_ids, np.int64):
        coord = np.unravel_index(int(e), grid.ext_shape)
        sl = tuple(slice(None) if c == k else int(c) for c, k in zip(coord, shape, strict=True))
        sets.append(np.asarray(ids[sl]).ravel())
        names.append(
            ", ".join(
                f"{n}={margins_name if c == k else lv[int(c)]}"
                for n, c, k, lv in zip(grid.names, coord, shape, levels, strict=True)
            )
        )
    return from_sets(tuple(str(n) for n in grid.names), levels, sets, lo, hi, names, counts, measure)


def grid_released(
    grid: Grid,
    displayed: np.ndarray,
    counts: np.ndarray,
    withheld: np.ndarray,
    mode: str,
    method: str = "base",
    base: int = 5,
    is_count: bool = True,
) -> Released:
    """The attacker's view of a protected table.

    Args:
        grid: the table's Grid.
        displayed: extended ids shown in the released table.
        counts: true unweighted counts over extended cells.
        withheld: cells withheld (suppressed or redacted) over extended cells.
        mode: `exact` (suppression or none: shown counts are exact), `round` (interior cells rounded; margins are
            sums of rounded cells and add nothing) or `none` (values are not counts).
        method, base: the rounding, for `round`.
        is_count: False for statistics that are not counts (then nothing constrains the counts).

    Example:
        >>> import pandas as pd
        >>> g = Grid(("r",), (pd.Index(["a", "b"]),), 1)
        >>> r = grid_released(g, np.array([0, 1, 2]), np.array([3.0, 20, 23]), np.array([True, True, False]),
        ...                   "exact")
        >>> r.lo.tolist(), r.hi.tolist()
        ([0.0, 0.0, 23.0], [inf, inf, 23.0])
    """
    ids = np.unique(np.asarray(displayed, np.int64).ravel())
    c = np.asarray(counts, float)[ids]
    w = np.asarray(withheld, bool)[ids]
    if mode == "none" or not is_count:
        return from_grid(grid, ids, np.zeros(len(ids)), np.full(len(ids), np.inf), counts=False)
    if mode == "round":
        interior = ~np.any(grid.is_total(), axis=0)[ids]
        ids, c, w = ids[interior], c[interior], w[interior]
        rounded = midpoint6(c) if method == "midpoint6" else round_to_base(c, base)
        lo, hi = rounding_bounds(rounded, method, base)
    else:
        lo, hi = c.copy(), c.copy()
    lo = np.where(w, 0.0, lo)
    hi = np.where(w, np.inf, hi)
    return from_grid(grid, ids, lo, hi)


def label_name(rel: Released, label: int) -> str:
    """Readable description of one interior label (`court=A, outcome=fine`): category names only, no counts.

    Example:
        >>> label_name(from_sets(("g", "h"), (("a", "b"), ("x",)), [[1]], [12.0], [12.0]), 1)
        'g=b, h=x'
    """
    shape = tuple(len(lv) for lv in rel.levels)
    coord = np.unravel_index(int(label), shape)
    return ", ".join(f"{d}={lv[int(c)]}" for d, lv, c in zip(rel.dims, rel.levels, coord, strict=True))
