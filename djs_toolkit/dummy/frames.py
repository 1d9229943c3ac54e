"""Shared plumbing for the record builders: per-chunk context, hashed ids and person columns.

A record builder returns ``{table: {column: array}}``. Arrays are numpy (dates as day numbers with
`NA`, ints with `NA` for missing, floats with NaN), object arrays of str/None, or Arrow arrays.
Columns starting with ``_`` are internal (the true person, the party role) and never written.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> from djs_toolkit.dummy.population import make_persons
    >>> ctx = Ctx(seed=0, chunk=0, persons=make_persons(np.random.default_rng(0), 5, DummyConfig(), 0),
    ...           cfg=DummyConfig(), rng=np.random.default_rng(0))
    >>> len(ctx.new_ids("row", 3))
    3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years
from djs_toolkit.dummy.ids import hex_ids
from djs_toolkit.dummy.population import Persons

__all__ = ["MISSING", "Ctx", "Frame", "court_codes", "take"]

# A table's columns before writing: numpy arrays, pyarrow arrays (ids), or None for a column filled later.
Frame = dict[str, Any]
MISSING = np.array(None, dtype=object)  # a missing value for np.where (whose stubs refuse a bare None)
_CHUNK_SHIFT = np.uint64(36)  # 68 billion rows per table per chunk


@dataclass
class Ctx:
    """What a record builder needs for one chunk.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> ps = make_persons(np.random.default_rng(0), 2, DummyConfig(), 0)
        >>> c = Ctx(0, 1, ps, DummyConfig(), np.random.default_rng(0))
        >>> int(c.keys("case", 2)[0]) >> 36
        1
    """

    seed: int
    chunk: int
    persons: Persons
    cfg: DummyConfig
    rng: np.random.Generator
    _counters: dict[str, int] = field(default_factory=dict)

    def keys(self, tag: str, n: int) -> np.ndarray:
        """``n`` fresh 64-bit keys for id kind ``tag``, unique across chunks."""
        start = self._counters.get(tag, 0)
        self._counters[tag] = start + n
        return (np.uint64(self.chunk) << _CHUNK_SHIFT) | np.arange(start, start + n, dtype=np.uint64)

    def ids(self, tag: str, keys: np.ndarray) -> pa.StringArray:
        """Hashed ids of ``keys`` (the same key and tag give the same id)."""
        return hex_ids(self.seed, tag, keys)

    def new_ids(self, tag: str, n: int) -> pa.StringArray:
        """``n`` fresh hashed ids of kind ``tag``."""
        return self.ids(tag, self.keys(tag, n))

    def person_cols(self, p: np.ndarray, at: np.ndarray, gender_codes: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Gender, age at ``at``, LSOA code and observable IMD decile of local persons ``p``.

        Welsh LSOAs have no English IMD decile (docs/data.md §14.5): missing.
        """
        ps = self.persons
        sex = np.array(["M", "F"], dtype=object)[ps.sex[p]]
        if "Not known" in gender_codes:
            sex = np.where(self.rng.random(p.size) < 0.003, "Not known", sex)
        wales = ps.wales[p]
        return {
            "gender": sex,
            "age": np.where(at == NA, NA, age_years(ps.dob[p], np.where(at == NA, 0, at))),
            "lsoa": codes.lsoa_codes(ps.lsoa[p], wales),
            "imd": np.where(wales, NA, ps.imd[p].astype(np.int64)),
        }


def take(frame: Frame, idx: np.ndarray) -> Frame:
    """Rows ``idx`` of every column of ``frame``.

    Example:
        >>> import numpy as np
        >>> take({"a": np.array([1, 2, 3])}, np.array([2]))["a"].tolist()
        [3]
    """
    out: Frame = {}
    for k, v in frame.items():
        out[k] = v.take(pa.array(idx)) if isinstance(v, pa.Array) else np.asarray(v)[idx]
    return out


def court_codes(rng: np.random.Generator, region: np.ndarray, prefix: str, per_region: int) -> np.ndarray:
    """Opaque court codes (docs/data.md §9.9): a few courts per region.

    Example:
        >>> import numpy as np
        >>> court_codes(np.random.default_rng(0), np.array([3]), "MC", 10)[0][:2]
        'MC'
    """
    num = np.asarray(region, np.int64) * per_region + rng.integers(0, per_region, np.asarray(region).size)
    return np.char.add(prefix, np.char.zfill(num.astype(str), 3)).astype(object)
