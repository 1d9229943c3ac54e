"""Tests for djs_toolkit.dummy.frames."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.frames import Ctx, take
from djs_toolkit.dummy.population import make_persons


def test_ids_are_unique_across_chunks_and_welsh_imd_is_missing() -> None:
    ps = make_persons(np.random.default_rng(0), 2000, DummyConfig(), 0)
    a = Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)).new_ids("row", 1000).to_pylist()
    b = Ctx(0, 1, ps, DummyConfig(), np.random.default_rng(0)).new_ids("row", 1000).to_pylist()
    assert not set(a) & set(b)
    ctx = Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0))
    cols = ctx.person_cols(np.arange(2000), np.full(2000, day(2015, 1, 1)), ("M", "F"))
    assert (cols["imd"][ps.wales] == NA).all() and (cols["imd"][~ps.wales] >= 1).all()
    assert all(c.startswith("W01") for c in cols["lsoa"][ps.wales])
    assert take({"x": np.arange(5)}, np.array([4, 0]))["x"].tolist() == [4, 0]
