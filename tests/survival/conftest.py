"""Golden fixtures from R (tests/fixtures/r, produced by make_golden.R; R is not needed to test)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

R_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "r"

EST_TOL = 1e-6  # estimates (coefficients, curves) vs R
SE_TOL = 1e-4  # standard errors vs R


def golden(name: str) -> pd.DataFrame:
    """Read one committed fixture CSV."""
    return pd.read_csv(R_DIR / name, keep_default_na=True)


@pytest.fixture(scope="session")
def rossi() -> pd.DataFrame:
    return golden("rossi.csv")


@pytest.fixture(scope="session")
def delayed() -> pd.DataFrame:
    d = golden("delayed.csv")
    d["cl"] = d["id"] % 100  # the cluster used in make_golden.R
    return d


@pytest.fixture(scope="session")
def competing() -> pd.DataFrame:
    return golden("competing.csv")


@pytest.fixture(scope="session")
def ag() -> pd.DataFrame:
    return golden("ag.csv")
