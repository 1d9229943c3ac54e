"""Fixtures for the dummy-generator tests: one `small` extract per test session (slow tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the _measures helper


@pytest.fixture(scope="session")
def small_con(small_extract_dir: Path):
    """A DuckDB connection with a view per table of the small extract."""
    from _measures import connect

    return connect(small_extract_dir)


@pytest.fixture(scope="session")
def tiny_con(tiny_extract_dir: Path):
    """A DuckDB connection with a view per table of the tiny extract."""
    from _measures import connect

    return connect(tiny_extract_dir)
