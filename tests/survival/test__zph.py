"""Proportional-hazards test vs R cox.zph (transform "km"), incl. strata, entry and weights."""

from __future__ import annotations

import numpy as np
import pytest

from djs_toolkit.survival import cox
from tests.survival.conftest import golden
from tests.survival.test_cox import ROSSI


def _check(res, label, table):
    r = golden(table).query("model == @label").set_index("term")
    ours = res.ph_test.loc[r.index]
    np.testing.assert_allclose(ours["chisq"], r["chisq"], atol=1e-5, rtol=1e-6)
    np.testing.assert_array_equal(ours["df"], r["df"])
    np.testing.assert_allclose(ours["p"], r["p"], atol=1e-6)


@pytest.mark.parametrize("label,kwargs", [("efron", {}), ("breslow", {"ties": "breslow"})])
def test_rossi_zph(rossi, label, kwargs):
    _check(cox(rossi, "week", "arrest", ROSSI, **kwargs), label, "rossi_zph.csv")


def test_rossi_zph_strata(rossi):
    res = cox(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "paro", "prio"], strata="mar", cluster="cid")
    _check(res, "efron_strata_cluster", "rossi_zph.csv")


@pytest.mark.parametrize("label,kwargs", [("efron", {}), ("efron_weights", {"weights": "w"})])
def test_delayed_zph_with_factor_term(delayed, label, kwargs):
    res = cox(delayed, "exit", "event", ["x1", "x2", "g"], entry="entry", **kwargs)
    assert list(res.ph_test.index) == ["x1", "x2", "g", "GLOBAL"]
    _check(res, label, "delayed_zph.csv")
