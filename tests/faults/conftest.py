"""Fixtures of the fault suite: the tiny dummy extract as CSV, its ids, and a fresh copy of it to damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory) -> Path:
    """The tiny dummy extract as CSV (where encoding faults live), generated once."""
    from djs_toolkit import dummy

    return dummy.generate(tmp_path_factory.mktemp("tinycsv") / "x", scale="tiny", seed=0, format="csv")


@pytest.fixture(scope="session")
def extract_ids(tiny_csv) -> frozenset[str]:
    """Every id and area code in the tiny extract: none may reach a message or a file the run writes."""
    ids: set[str] = set()
    for path in tiny_csv.glob("*.csv"):
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in df.columns:
            if col.endswith("_hash") or col.startswith(("estimated_", "lsoa")):
                ids.update(v for v in df[col] if len(v) >= 6)  # short codes collide with counts
    return frozenset(ids)


@pytest.fixture()
def extract(tiny_csv, tmp_path) -> Path:
    """A fresh copy of the tiny CSV extract to damage."""
    return Path(shutil.copytree(tiny_csv, tmp_path / "extract", ignore=shutil.ignore_patterns("truth")))
