"""Tests for djs_toolkit.dummy.population."""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.population import make_persons


def test_population_shares_partners_and_children() -> None:
    cfg = DummyConfig()
    p = make_persons(np.random.default_rng(0), 50_000, cfg, first_id=7 << 32)
    assert int(p.pid[0]) == 7 << 32 and np.unique(p.pid).size == p.n
    assert abs(p.sex.mean() - cfg.p_female) < 0.01 and abs(p.wales.mean() - cfg.p_wales) < 0.005
    assert (p.imd <= 2).mean() > (p.imd >= 9).mean() * 2  # justice users live in deprived areas
    assert (p.region[p.wales] == 9).all() and (p.region[~p.wales] < 9).all()
    # Women are less often in the offending classes (female_class_shift).
    assert (p.crim_class[p.sex == 1] == 0).mean() > (p.crim_class[p.sex == 0] == 0).mean() + 0.3
    paired = p.partner >= 0
    assert (p.partner[p.partner[paired]] == np.flatnonzero(paired)).all()
    assert (p.sex[paired] != p.sex[p.partner[paired]]).all()
    kids = p.append_children(
        np.random.default_rng(1),
        np.full(3, 15_000),
        np.array([0, 1, 2]),
        cfg,
        (7 << 32) + 50_000,
        np.array([True, False, True]),
    )
    assert kids.tolist() == [50_000, 50_001, 50_002] and p.child[kids].all() and (p.imd[kids] == p.imd[:3]).all()
