"""save_text: a finding in words, checked like any output (every number traced to a released value of the run)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs import save_table, save_text
from djs_toolkit.outputs.stage import record_problems
from djs_toolkit.outputs.text import SIDECAR, released_values, trace_numbers
from djs_toolkit.runner.bundle import assemble, verify_bundle

KM = (
    "sex,time,n_at_risk,events,estimate,ci_lower,ci_upper\n"
    "F,365.0,8255,529,0.278378,0.270058,0.286754\n"
    "M,365.0,2299,237,0.522968,0.508202,0.537510\n"
)


def _rules(text: str, tables: dict[str, str]) -> list[tuple[str, str | None]]:
    return [(t.number, t.rule) for t in trace_numbers(text, released_values(tables))]


def test_rules_trace_values_percentages_one_in_and_conventions():
    text = (
        "Within 365 days, about 1 in 2 men (52%, 95% confidence interval 51% to 54%) were back, against 28% of "
        "women; 8,255 women were followed. Men were 24.5 percentage points more likely."
    )
    assert _rules(text, {"km.csv": KM}) == [
        ("365", "value"),
        ("1 in 2", "one_in"),
        ("52%", "percentage"),
        ("95", "convention"),
        ("51%", "percentage"),
        ("54%", "percentage"),
        ("28%", "percentage"),
        ("8,255", "value"),
        ("24.5", "difference"),  # 52.2968 - 27.8378 read in percentage points from one column
    ]


def test_one_significant_digit_must_be_exact_and_wrong_one_in_fails():
    # 3 is no released value (rounding 2.78 would let it match); no released proportion rounds to 1 in 7
    assert _rules("3 groups; 1 in 7 men; 1 in 4 women", {"km.csv": KM}) == [
        ("3", None),
        ("1 in 7", None),
        ("1 in 4", "one_in"),
    ]


def test_ratio_within_a_column_and_no_digits_inside_names():
    tables = {"t.csv": "g,n\na,120\nb,40\n"}
    assert _rules("a had 3.0 times b's count (cif_365, 2011Q1)", tables) == [("3.0", "ratio")]


def test_withheld_cells_are_not_values():
    tables = {"t.csv": "g,n\na,[suppressed]\nb,40\n"}
    assert [v.value for v in released_values(tables)] == [40.0]


def test_save_text_stages_text_and_sources_beside_it(stage):
    save_table(pd.DataFrame({"g": ["a", "b"], "n": [120, 40]}), "ab", "people by g", "all people")
    out = save_text("finding", "120 people were in a, 3.0 times as many as in b.", "people in a and b")
    assert out.status == "review"
    rec = stage / "finding"
    assert record_problems(rec) == []
    assert (rec / "release" / "t1.finding.md").read_text(encoding="utf-8") == (
        "120 people were in a, 3.0 times as many as in b.\n"
    )
    side = json.loads((rec / "release" / f"t1.finding{SIDECAR}").read_text(encoding="utf-8"))
    assert [(n["number"], n["rule"]) for n in side["numbers"]] == [("120", "value"), ("3.0", "ratio")]
    assert side["numbers"][1]["how"] == "ratio: (t1.ab.csv, row 1 (a), column n / t1.ab.csv, row 2 (b), column n)"
    entry = json.loads((rec / "results.json").read_text(encoding="utf-8"))["results"]["t1.finding"]
    assert [f["name"] for f in entry["files"]] == ["release/t1.finding.md", f"release/t1.finding{SIDECAR}"]
    assert entry["djs_toolkit"]["description"] == "people in a and b"


def test_untraced_number_fails_closed_with_its_position_not_its_value(stage, capsys):
    save_table(pd.DataFrame({"g": ["a", "b"], "n": [120, 40]}), "ab", "people by g", "all people")
    out = save_text("bad", "120 in a and 37 in b.", "people in a and b")
    printed = capsys.readouterr().out
    assert out.status == "fail"
    assert "37" not in printed and "37" not in " ".join(out.reasons["summary"])
    assert "characters 13-15" in " ".join(out.reasons["summary"])
    assert list((stage / "bad" / "release").iterdir()) == []  # nothing released, no sidecar


def test_sources_restrict_the_tables_and_must_exist(stage):
    save_table(pd.DataFrame({"g": ["a", "b"], "n": [120, 40]}), "ab", "people by g", "all people")
    save_table(pd.DataFrame({"g": ["c", "d"], "n": [70, 90]}), "cd", "people by g", "all people")
    assert save_text("f1", "70 people were in c.", "c", sources=["cd"]).status == "review"
    assert save_text("f2", "70 people were in c.", "c", sources=["ab"]).status == "fail"
    with pytest.raises(DJSUserError, match="sources"):
        save_text("f3", "70 people.", "c", sources=["nope"])
    save_table(pd.DataFrame({"g": ["e", "f"], "n": [3, 4]}), "ef", "people by g", "all people")  # all withheld
    assert save_text("f5", "3 people were in e.", "e", sources=["ef"]).status == "fail"  # fails closed, no raise
    with pytest.raises(DJSUserError, match="text is empty"):
        save_text("f4", " ", "c")


def test_a_text_output_is_bundled_with_its_sidecar_and_verifies(stage, tmp_path):
    save_table(pd.DataFrame({"g": ["a", "b"], "n": [120, 40]}), "ab", "people by g", "all people")
    save_text("finding", "120 people were in a.", "people in a")
    runs = [{"label": "t1", "notebook": "nb.ipynb", "notebook_sha256": "0", "parameters": {}, "stage": str(stage)}]
    withheld = assemble(runs, "srs", tmp_path / "build", tmp_path / "bundle")
    assert withheld == {}
    release = sorted(p.name for p in (tmp_path / "bundle" / "release").iterdir())
    assert release == ["t1.ab.csv", "t1.finding.md", f"t1.finding{SIDECAR}"]
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text(encoding="utf-8"))
    assert {f["path"]: f["output"] for f in manifest["files"]}["release/t1.finding.md"] == "t1.finding"
    assert verify_bundle(tmp_path / "bundle") == []


def test_a_number_printed_from_the_unrounded_table_reads_the_rounded_csv():
    # the notebook prints 0.0524996 as 5.2%; the released CSV holds 0.052500 (six decimals)
    assert _rules("5.2% of people", {"t.csv": "g,p\na,0.052500\n"}) == [("5.2%", "percentage")]
    assert _rules("5.4% of people", {"t.csv": "g,p\na,0.052500\n"}) == [("5.4%", None)]


def test_one_in_n_at_a_half_and_at_the_end_of_a_sentence():
    # 14/259: the notebook rounds 18.5 to 18, the CSV's 0.054054 gives 18.50002; both name the released proportion
    vals = released_values({"t.csv": "row,p,n\n0,0.054054,259\n"})
    got = [(t.number, t.rule) for t in trace_numbers("About 1 in 18. About 1 in 19. Not 1 in 17.", vals)]
    assert got == [("1 in 18", "one_in"), ("1 in 19", "one_in"), ("1 in 17", None)]
