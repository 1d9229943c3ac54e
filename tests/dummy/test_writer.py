"""Tests for djs_toolkit.dummy.writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.writer import part_name, to_arrow, write_table
from djs_toolkit.errors import DJSError


def _xjs(n: int, ds: str = "mags_hocas") -> dict:
    return {
        "source_dataset": np.array([ds] * n, dtype=object),
        "row_id_hash": np.array(["a"] * n, dtype=object),
        "estimated_xjs_id": np.array(["b"] * n, dtype=object),
    }


def test_closed_codes_and_non_null_columns_are_enforced() -> None:
    with pytest.raises(DJSError, match="outside its code list"):
        to_arrow("xjs_link", _xjs(2, "police"), np.random.default_rng(0), DummyConfig())
    bad = _xjs(2)
    bad["row_id_hash"] = np.array(["a", None], dtype=object)
    with pytest.raises(DJSError, match="missing values"):
        to_arrow("xjs_link", bad, np.random.default_rng(0), DummyConfig())


def test_dates_ints_and_injected_missing_values(tmp_path: Path) -> None:
    n = 20_000
    frame = {
        "case_number_hash": np.array([f"{i:016x}" for i in range(n)], dtype=object),
        "case_type": np.array(["Public law"] * n, dtype=object),
        "case_start_date": np.full(n, day(2015, 1, 2)),
        "case_end_date": np.full(n, NA),
        "court_code": np.array(["FC001"] * n, dtype=object),
        "related_case_number_hash": np.full(n, None),
    }
    t = to_arrow("family_cases", frame, np.random.default_rng(0), DummyConfig(missing_rate=0.05))
    assert str(t.column("case_start_date")[0]) == "2015-01-02" and t.column("case_end_date").null_count == n
    assert abs(t.column("court_code").null_count / n - 0.05) < 0.01  # descriptive column: injected
    assert t.column("case_type").null_count == 0 and t.column("case_start_date").null_count == 0
    write_table(t, tmp_path / part_name("family_cases", 1, "parquet"), "parquet")
    assert pq.read_table(tmp_path / "family_cases_01.parquet").num_rows == n
    assert not list(tmp_path.glob(".*tmp"))
