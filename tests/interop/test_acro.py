"""ACRO 1.0.2's own loader (`acro.record.load_records`, run from .venv-interop) loads every output of every bundle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.interop.conftest import BUNDLES

SCRIPT = Path(__file__).with_name("acro_load.py")


@pytest.mark.parametrize("which", BUNDLES)
def test_acro_load_records_loads_every_output_with_its_status_and_files(which, request, interop_python):
    folder: Path = request.getfixturevalue(which)
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    res = subprocess.run(
        [str(interop_python), str(SCRIPT), str(folder)], capture_output=True, text=True, timeout=600, check=False
    )
    assert res.returncode == 0, f"ACRO's load_records refused {which}:\n{res.stderr[-4000:]}"
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["acro"] == "1.0.2" and doc["version"] == "1.0.2"
    assert list(got["records"]) == list(doc["results"])  # every output, in the bundle's order
    assert any(e["status"] == "fail" for e in doc["results"].values())  # each bundle holds a withheld output
    for uid, entry in doc["results"].items():
        rec = got["records"][uid]
        assert (rec["uid"], rec["status"], rec["type"]) == (uid, entry["status"], entry["type"])
        assert rec["sdc"] == entry["files"][0]["sdc"]
        csvs = [f["name"] for f in entry["files"] if f["name"].endswith(".csv")]
        if csvs:  # ACRO reads an output's CSV files as DataFrames (and keeps only those)
            shapes = [o["frame"] for o in rec["output"]]
            assert len(shapes) == len(csvs) and all(rows >= 1 and cols >= 1 for rows, cols in shapes), uid
        else:  # a custom file, or a withheld output's notice: kept by name
            assert [o["file"] for o in rec["output"]] == [f["name"] for f in entry["files"]], uid
