"""Shared fixtures for the sdc tests: the ACRO reference data (docs/disclosure.md §2.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture()
def court_df() -> pd.DataFrame:
    """500 rows court x outcome with a rare `fine` column: pandas counts A/B/C fine = 2/1/1 (rng seed 1)."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "court": rng.choice(list("ABC"), 500),
            "outcome": rng.choice(["custody", "community", "fine"], 500, p=[0.49, 0.5, 0.01]),
        }
    )


def planted_counts(counts: dict[tuple[str, str], int], value: float | None = None) -> pd.DataFrame:
    """Records whose crosstab is exactly `counts` (row, column) -> n, optional constant value column."""
    rows = [(r, c) for (r, c), n in counts.items() for _ in range(n)]
    df = pd.DataFrame(rows, columns=["r", "c"])
    if value is not None:
        df["v"] = value
    return df
