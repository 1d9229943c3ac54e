"""finalise(): folder layout, results.json in ACRO 1.0.2's schema (docs/disclosure.md §2.5), manifest, no overwrite."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session

ACRO_TOP = {"version", "tool", "results"}
ACRO_OUTPUT = {
    "uid",
    "status",
    "type",
    "properties",
    "files",
    "outcome",
    "command",
    "summary",
    "timestamp",
    "comments",
    "exception",
}
TYPES = {"table", "regression", "histogram", "survival plot", "pie chart", "custom"}


def validate_results(doc: dict) -> None:
    """The documented schema (docs/disclosure.md §2.5), checked field by field."""
    assert set(doc) >= ACRO_TOP and set(doc) - ACRO_TOP == {"djs_toolkit"}  # additions under one namespace
    assert isinstance(doc["version"], str)
    assert doc["tool"]["@type"] == "SoftwareApplication" and {"name", "url", "version"} <= set(doc["tool"])
    for uid, rec in doc["results"].items():
        assert set(rec) >= ACRO_OUTPUT and set(rec) - ACRO_OUTPUT <= {"fair", "djs_toolkit"}
        assert rec["uid"] == uid and rec["status"] in ("pass", "review", "fail") and rec["type"] in TYPES
        assert isinstance(rec["properties"], dict) and isinstance(rec["command"], str)
        datetime.fromisoformat(rec["timestamp"])
        assert isinstance(rec["comments"], list) and all(isinstance(c, str) for c in rec["comments"])
        assert isinstance(rec["exception"], str) and isinstance(rec["summary"], str)
        for f in rec["files"]:
            assert isinstance(f["name"], str)
            assert all(isinstance(k, str) and isinstance(v, int) for k, v in f["sdc"]["summary"].items())
            for cells in f["sdc"]["cells"].values():
                assert all(isinstance(p, list) and len(p) == 2 and all(isinstance(i, int) for i in p) for p in cells)
        for col, rows in rec["outcome"].items():
            assert isinstance(col, str) and all(isinstance(v, str) for v in rows.values())
        assert isinstance(rec["fair"]["statbarn"], str)


@pytest.fixture()
def finished(court_df, tmp_path: Path) -> tuple[Session, Path]:
    s = Session("srs")
    s.crosstab(
        court_df.court,
        court_df.outcome,
        margins=True,
        name="t",
        description="court x outcome",
        population="500 synthetic cases",
    )
    s.pivot_table(court_df.assign(v=np.arange(500.0)), index="court", values="v", aggfunc="max", name="mx")
    s.hist(court_df.assign(v=np.arange(500.0)), "v", bins=5, name="h")
    rng = np.random.default_rng(0)
    s.regression(sm.OLS(rng.normal(size=100), sm.add_constant(rng.normal(size=(100, 2)))).fit(), name="ols")
    note = tmp_path / "note.txt"
    note.write_text("free text\n", encoding="utf-8")
    s.custom(note, "a note", name="note")
    s.add_exception("t", "other", "reason text")
    return s, s.finalise(tmp_path / "run1")


def test_results_json_follows_acro_schema(finished):
    s, out = finished
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    validate_results(doc)
    t = doc["results"]["t"]
    assert t["status"] == "review" and t["exception"] == "other: reason text"
    assert t["files"][0]["name"] == "release/t.csv"
    assert t["files"][0]["sdc"]["summary"] == {"MinimumThresholdCheck": 4, "suppressed": 8}
    assert [0, 2] in t["files"][0]["sdc"]["cells"]["MinimumThresholdCheck"]  # row A, column fine
    assert t["outcome"]["fine"]["A"] == "MinimumThresholdCheck" and t["outcome"]["custody"]["A"] == "ok"
    # ACRO's loader indexes every output's first file: a withheld output's only file is a notice without values
    assert doc["results"]["mx"]["status"] == "fail" and doc["results"]["mx"]["files"][0]["name"] == "withheld/mx.txt"
    assert doc["version"] == "1.0.2" and not list((out / "release").glob("mx.*"))
    assert doc["results"]["mx"]["fair"]["check_status"] == {"ExtremeValueCheck": "fail"}
    assert (
        t["fair"]["statbarn"] == "Frequencies"
        and doc["results"]["ols"]["fair"]["statbarn"] == "CorrelationCoefficients"
    )
    assert doc["results"]["ols"]["properties"]["dof"] == 97.0


def test_release_holds_only_pass_and_review_outputs_as_lf_csv(finished):
    _, out = finished
    names = sorted(p.name for p in (out / "release").iterdir())
    assert names == ["h.csv", "h.png", "note.txt", "ols.csv", "t.csv"]
    raw = (out / "release" / "t.csv").read_bytes()
    assert b"\r\n" not in raw
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == "court,community,custody,fine,All"
    assert lines[1] == "A,[suppressed],75,[suppressed],158"
    ols = (out / "release" / "ols.csv").read_text(encoding="utf-8").splitlines()
    assert ols[0] == "covariate,coef,se,ci_lower,ci_upper,p"
    assert all(len(cell.split(".")[-1]) == 6 for cell in ols[1].split(",")[1:])  # fixed float format


def test_checker_pack_clearance_and_manifest(finished):
    _, out = finished
    co = out / "checker_only"
    assert (co / "DO-NOT-RELEASE.txt").exists()
    ev = pd.read_csv(co / "DO-NOT-RELEASE_t_evidence.csv")
    fine = ev[(ev["court"] == "A") & (ev["outcome"] == "fine")].iloc[0]
    assert fine["n"] == 2 and bool(fine["withheld"]) and fine["audit_upper"] - fine["audit_lower"] >= 10
    md = (out / "CLEARANCE.md").read_text(encoding="utf-8")
    assert "## t: review" in md and "court x outcome" in md and "500 synthetic cases" in md
    assert "N (unweighted records): 500" in md and "Residual DoF: 97.0" in md
    manifest = (out / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines()
    listed = {line.split("  ")[1]: line.split("  ")[0] for line in manifest}
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest-sha256.txt"}
    assert set(listed) == files
    for rel, digest in listed.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    assert not any(":" in p.name for p in out.rglob("*"))


def test_finalise_never_overwrites(finished, tmp_path):
    s, out = finished
    before = (out / "results.json").read_bytes()
    with pytest.raises(DJSUserError, match="never overwrites"):
        s.finalise(out)
    assert (out / "results.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_results_json_is_strict_json_even_with_missing_numbers(tmp_path):
    class NoEvents:  # Cox-like result without events: DoF unknown, reported as null
        params = pd.DataFrame(
            {"coef": [np.nan], "se": [0.1], "hr": [1.0], "ci_lower": [0.8], "ci_upper": [1.2], "p": [np.inf]},
            index=["x"],
        )
        n, events = 100, None

    s = Session("srs")
    s.regression(NoEvents(), name="cox")
    out = s.finalise(tmp_path / "strict")
    text = (out / "results.json").read_text(encoding="utf-8")
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    validate_results(doc)
    assert doc["results"]["cox"]["properties"]["dof"] is None and doc["results"]["cox"]["status"] == "review"
