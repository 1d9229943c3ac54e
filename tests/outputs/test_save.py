"""save_table / save_figure (through the output checker into staged records) and the safety scan."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs import stage as runner_stage
from djs_toolkit.outputs.scan import scan_csv, scan_frame, scan_notebook, scan_release
from djs_toolkit.sdc import Session


def _results(record: Path) -> dict:
    return json.loads((record / "results.json").read_text(encoding="utf-8"))


def test_count_frame_is_checked_and_staged_as_a_complete_record(stage):
    t = pd.DataFrame({"court": ["b", "a", "c"], "n": [40, 55, 3]})
    o = outputs.save_table(t, "courts", "defendants per court", "all defendants")
    assert o.name == "t1.courts" and o.status == "review"
    # c (3) fails the threshold; one more cell is withheld so the total cannot give it back; rows are sorted.
    assert list(o.table.index) == ["a", "b", "c"]
    assert o.mask["n"].tolist() == [False, True, True]
    rec = stage / "courts"
    assert runner_stage.record_problems(rec) == []
    assert (rec / "release" / "t1.courts.csv").read_bytes() == b"court,n\na,55\nb,[suppressed]\nc,[suppressed]\n"
    entry = _results(rec)["results"]["t1.courts"]
    assert entry["djs_toolkit"]["description"] == "defendants per court" and entry["djs_toolkit"]["n"] == 98
    assert (rec / "checker_only" / "DO-NOT-RELEASE_t1.courts_evidence.csv").is_file()


def test_wide_count_frame_keeps_its_columns_as_a_dimension(stage):
    wide = pd.DataFrame({"custody": [30, 2], "fine": [25, 40]}, index=pd.Index(["a", "b"], name="court"))
    o = outputs.save_table(wide, "wide", "outcomes by court", "all defendants")
    assert list(o.table.columns) == ["custody", "fine"] and o.table.index.name == "court"
    assert bool(o.mask.loc["b", "custody"]) and o.status == "review"
    assert o.table.loc["b", "fine"] is pd.NA or np.isnan(float(o.table.loc["b", "fine"]))  # secondary suppression


def test_numeric_index_levels_are_row_labels(stage):
    records = pd.DataFrame({"year": [2019] * 30 + [2020] * 25, "sex": ["f", "m"] * 27 + ["f"]})
    o = outputs.save_table(records.groupby(["year", "sex"]).size().rename("n"), "years", "by year", "all")
    assert o.table.index.names == ["year", "sex"] and list(o.table.columns) == ["n"]
    assert o.table["n"].tolist() == [15, 15, 13, 12] and o.status == "pass"


def test_statistic_with_counts_withholds_what_its_counts_withhold(stage):
    t = pd.DataFrame({"year": [2019, 2020, 2021], "mean_days": [41.5, 38.0, 40.0], "n": [120, 150, 3]})
    o = outputs.save_table(t, "days", "mean days", "trials", statistic="mean", counts="n", index="year")
    assert o.table["mean_days"].tolist()[1] == 38.0
    assert np.isnan(o.table["mean_days"].tolist()[2])
    assert "CountsOnlyCheck" in set(o.reasons["rule"]) and o.status == "review"


def test_statistic_without_counts_is_review_with_what_to_add(stage):
    t = pd.DataFrame({"court": ["a", "b"], "mean_days": [41.5, 38.0]})
    o = outputs.save_table(t, "means", "mean days", "trials", statistic="mean")
    assert o.status == "review"
    summary = o.reasons.loc[o.reasons["rule"] == "MissingCountsCheck", "summary"].iloc[0]
    assert "counts=" in summary


def test_id_column_and_row_level_frame_fail_and_are_not_released(stage):
    ids = pd.DataFrame({"person_id": ["p1", "p2"], "n": [20, 30]})
    o = outputs.save_table(ids, "ids", "people", "all")
    assert o.status == "fail" and (stage / "ids" / "results.json").is_file()
    assert not (stage / "ids" / "release").exists() or not any((stage / "ids" / "release").iterdir())
    rows = pd.DataFrame({"court": [f"c{i}" for i in range(5001)], "n": 50})
    o = outputs.save_table(rows, "rows", "per court", "all")
    assert o.status == "fail" and any("5001 rows > 5000" in s for s in o.reasons["summary"])


def test_small_count_in_a_count_column_without_counts_fails_the_scan(stage):
    t = pd.DataFrame({"year": [2019, 2020], "median_days": [41.0, 38.0], "n_people": [50, 4]})
    o = outputs.save_table(t, "days", "median days", "cohort", statistic="median", index="year")
    assert o.status == "fail" and "SafetyScan" in set(o.reasons["rule"])
    assert not (stage / "days" / "release").exists() or not any((stage / "days" / "release").iterdir())


def test_survival_estimates_without_their_counts_fail(stage):
    # A survival statistic is released only through the safe-KM path, which needs events and censored counts.
    t = pd.DataFrame({"time": [1, 2], "estimate": [0.9, 0.8], "n_at_risk": [50, 4]})
    o = outputs.save_table(t, "km", "survival", "cohort", statistic="survival", index="time")
    assert o.status == "fail" and set(o.reasons["rule"]) == {"SurvivalTableCheck"}
    assert not (stage / "km" / "release").exists() or not any((stage / "km" / "release").iterdir())


def test_bad_frame_input_lists_every_problem_in_one_error(stage):
    t = pd.DataFrame({"court": ["a", None, "a"], "n": [1.5, -2, 3]})
    with pytest.raises(DJSUserError) as err:
        outputs.save_table(t, "Bad Name", "", "pop")
    msg = str(err.value)
    for needle in (
        "output name 'Bad Name'",
        "description is empty",
        "1 missing label",
        "repeat the labels",
        "negative",
        "not whole numbers",
    ):
        assert needle in msg, needle
    assert not stage.exists() or not any(stage.iterdir())


def test_duplicate_name_in_a_batch_run_is_refused(stage):
    t = pd.DataFrame({"court": ["a"], "n": [40]})
    outputs.save_table(t, "dup", "d", "p")
    with pytest.raises(DJSUserError, match="already saved"):
        outputs.save_table(t, "dup", "d", "p")


def test_figure_needs_a_checked_underlying_output(stage):
    fig, _ = plt.subplots()
    with pytest.raises(DJSUserError, match="only beside its checked underlying table"):
        outputs.save_figure(fig, "f", underlying=None, description="d", population="p")
    foreign = Session("srs").crosstab(pd.Series(["a"] * 20, name="g"), pd.Series(["x"] * 20, name="c"))
    with pytest.raises(DJSUserError, match="run's profile"):
        outputs.save_figure(fig, "f", underlying=foreign, description="d", population="p")
    with pytest.raises(DJSUserError, match="run's profile"):
        outputs.save_table(foreign, "t", "d", "p")
    plt.close(fig)


def test_figure_is_released_beside_its_table_with_stable_bytes(stage):
    o = outputs.save_table(pd.DataFrame({"g": ["a", "b"], "n": [30, 40]}), "g", "by g", "all")
    pngs = []
    for name in ("fig1", "fig2"):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.bar(["a", "b"], o.table["n"].astype(float))
        f = outputs.save_figure(fig, name, underlying=o)
        plt.close(fig)
        assert f.status == "review" and "FigureCheck" in set(f.reasons["rule"])
        rel = stage / name / "release"
        assert sorted(p.name for p in rel.iterdir()) == [f"t1.{name}.csv", f"t1.{name}.png"]
        assert runner_stage.record_problems(stage / name) == []
        pngs.append((rel / f"t1.{name}.png").read_bytes())
    assert pngs[0] == pngs[1]  # metadata stripped: same drawing, same bytes
    assert b"Software" not in pngs[0]


def test_session_outputs_are_accepted_and_copied(stage):
    s = outputs.session()
    t = s.crosstab(pd.Series(["a"] * 12 + ["b"] * 15, name="g"), pd.Series(["x"] * 27, name="c"), name="mine")
    o = outputs.save_table(t, "mine", "g by c", "all", comments="first draft", exception=("structural_zero", "why"))
    assert o is not t and t.name == "mine" and o.name == "t1.mine" and t.comments == []
    entry = _results(stage / "mine")["results"]["t1.mine"]
    assert entry["comments"] == ["first draft"] and "structural_zero" in entry["exception"]


def test_interactive_mode_stages_under_outputs_and_replaces_on_rerun(tmp_path, monkeypatch):
    for var in (runner_stage.ENV_STAGE, runner_stage.ENV_RUN_NAME, runner_stage.ENV_PROFILE):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "pipeline.yaml").write_text("notebooks: []\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # Jupyter starts the kernel beside the notebook
    monkeypatch.setattr(runner_stage, "_OVERRIDES", {})
    t = pd.DataFrame({"court": ["a"], "n": [40]})
    assert outputs.save_table(t, "x", "d", "p").name == "x"
    outputs.save_table(t.assign(n=50), "x", "d", "p")
    rec = tmp_path / "outputs" / "_interactive" / "x"
    assert (rec / "release" / "x.csv").read_text() == "court,n\na,50\n"
    assert [p.name for p in rec.parent.iterdir()] == ["x"]  # no temporary folder left behind
    with pytest.raises(DJSUserError, match="profile"):
        outputs.configure(profile="no-such-profile")


# --- safety scan -------------------------------------------------------------------------------------------------


def test_scan_frame_catches_ids_row_level_and_small_counts():
    assert scan_frame(pd.DataFrame({"n": [12, 40]})) == []
    assert "identifier" in scan_frame(pd.DataFrame({"mc_case_id_hash": ["x"], "n": [12]}))[0]
    assert "identifier" in scan_frame(pd.DataFrame({"n": [12]}, index=pd.Index(["a"], name="estimated_xjs_id")))[0]
    assert "6000 rows > 5000" in scan_frame(pd.DataFrame({"n": np.full(6000, 20)}))[0]
    small = scan_frame(pd.DataFrame({"n": [12, 3, 0]}))
    assert small == [
        "table: 1 cell(s) in count column(s) are between 0 and 10 and not suppressed: check it with the output checker"
    ]
    masked = pd.DataFrame({"n": [False, True, False]})
    assert scan_frame(pd.DataFrame({"n": [12, 3, 0]}), mask=masked) == []
    # a non-count statistic: only count-named columns are checked
    assert scan_frame(pd.DataFrame({"mean": [3.0], "events": [12]}), statistic="mean") == []
    assert len(scan_frame(pd.DataFrame({"mean": [3.0], "events": [2]}), statistic="mean")) == 1
    # midpoint-6 columns publish 3 for 1-6 by design; a value off the 6k - 3 grid is still caught
    km = pd.DataFrame({"n_at_risk_midpoint6": [15, 3], "events_midpoint6": [9, 3]})
    assert scan_frame(km, statistic="km", min_safe_count=8) == []
    assert len(scan_frame(km.assign(events_midpoint6=[9, 4]), statistic="km", min_safe_count=8)) == 1


def test_scan_csv_tells_row_labels_from_counts(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("age,n\n5,12\n6,[suppressed]\n")
    assert scan_csv(p, index_columns=1) == []
    assert len(scan_csv(p, index_columns=0)) == 1  # unknown layout: fail closed, the label 5 looks like a count
    p.write_text("c1,x,y\nc2,1,2\ng,,\na,20,4\n")
    assert "1 cell(s)" in scan_csv(p, index_columns=1, header_rows=3)[0]


def test_scan_release_declared_files_types_and_figures(stage):
    outputs.save_table(pd.DataFrame({"court": ["a", "b"], "n": [30, 40]}), "ok", "d", "p")
    rec = stage / "ok"
    assert scan_release(rec) == {}
    (rec / "release" / "extra.csv").write_text("person_id,n\nx,1\n")
    (rec / "release" / "t1.ok.svg").write_text("<svg/>")
    (rec / "release" / "lonely.png").write_bytes(b"")
    found = scan_release(rec)
    assert sorted(found) == ["release/extra.csv", "release/lonely.png", "release/t1.ok.svg"]
    assert any("identifier" in p for p in found["release/extra.csv"])
    assert any("not declared" in p for p in found["release/extra.csv"])
    assert any("not releasable" in p for p in found["release/t1.ok.svg"])
    assert any("without its underlying table" in p for p in found["release/lonely.png"])


def _nb(tmp_path: Path, outputs_: list) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=outputs_)]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    return path


def test_scan_notebook_catches_displayed_ids_rows_and_small_counts(tmp_path):
    rows = pd.DataFrame({"row_id_hash": [f"h{i}" for i in range(6000)], "x": 1})
    out = nbformat.v4.new_output("execute_result", data={"text/plain": repr(rows), "text/html": rows._repr_html_()})
    found = scan_notebook(_nb(tmp_path, [out]))
    assert any("identifier column `row_id_hash`" in p for p in found)
    assert any("6000 rows > 5000" in p for p in found)
    counts = pd.DataFrame({"n": [3, 50]}, index=pd.Index(["a", "b"], name="court"))
    out = nbformat.v4.new_output("display_data", data={"text/html": counts.to_html(), "text/plain": repr(counts)})
    assert scan_notebook(_nb(tmp_path, [out])) == ["n.ipynb cell 0: displays 1 count(s) between 0 and 10 (unprotected)"]
    prose = nbformat.v4.new_output("stream", name="stdout", text="joined on estimated_xjs_id; 120 records\n")
    err = nbformat.v4.new_output("error", ename="KeyError", evalue="person_id", traceback=["person_id  x"])
    assert scan_notebook(_nb(tmp_path, [prose, err])) == []


def test_a_coefficient_table_is_not_scanned_as_counts_in_the_bundle(stage):
    # An ITS fit: ratios and coefficients below 10 are not small counts (they were withheld before).
    fit = pd.DataFrame(
        {"term": ["level", "slope"], "coef": [0.2, 1.5], "se": [0.1, 0.3], "p": [0.04, 0.5], "ratio": [1.22, 4.48]}
    ).set_index("term")
    outputs.save_table(fit, "its", "interrupted time series", "monthly counts (protected)", statistic="coefficient")
    (record,) = [p for p in stage.iterdir() if p.is_dir()]
    assert scan_release(record) == {}
    released = record / "release" / "t1.its.csv"
    released.write_text("term,n\na,3\nb,40\n")  # the same file holding counts is still caught
    results = json.loads((record / "results.json").read_text())
    for r in results["results"].values():
        r["djs_toolkit"]["statistic"] = "count"
    (record / "results.json").write_text(json.dumps(results))
    assert "release/t1.its.csv" in scan_release(record)
