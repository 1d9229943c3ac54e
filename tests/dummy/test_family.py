"""Tests for djs_toolkit.dummy.family."""

from __future__ import annotations

import numpy as np
import pytest

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.family import APPLICANT, CASE_TYPES, CHILD, RESPONDENT, adult_party_keys, simulate_family
from djs_toolkit.dummy.population import make_persons


def test_case_volumes_roles_and_children() -> None:
    cfg = DummyConfig()
    n = 50_000
    ps = make_persons(np.random.default_rng(1), n, cfg, 0)
    out = simulate_family(np.random.default_rng(1), ps, cfg, n / 1e7, n)
    ct = out.cases["case_type"]
    in_2015 = (out.cases["start"] >= 16436) & (out.cases["start"] < 16801)
    pl = int(((ct == CASE_TYPES.index("Public law")) & in_2015).sum())
    assert abs(pl - 16_000 * n / 1e7) <= 4 * np.sqrt(16_000 * n / 1e7) + 10  # configured yearly volume
    pa = out.parties
    assert ps.n > n and ps.child[n:].all()  # children are new persons
    kid_rows = pa["role"] == CHILD
    assert (pa["person"][kid_rows] >= n).all()
    pub = ct[pa["case"]] == CASE_TYPES.index("Public law")
    assert not (pub & (pa["role"] == APPLICANT)).any()  # the local authority is not a person
    assert (pub & (pa["role"] == RESPONDENT)).any()
    p, d = adult_party_keys(out, ps)
    assert p.size and (p < ps.n).all() and not ps.child[p].any()


@pytest.mark.slow
def test_quarter_of_care_mothers_return(small_con) -> None:
    """Broadhurst et al. 2015 (docs/data.md §13.4): 24 % of birth mothers return with new care proceedings."""
    from _measures import care_mothers_return

    n, rate = care_mothers_return(small_con)
    assert n >= 300
    assert abs(rate - 0.24) <= 0.06, rate
