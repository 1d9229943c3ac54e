"""djs brief: briefs built only from release/, every number traced, registered in the manifest, readable."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from djs_toolkit.brief import check_brief, write_briefs
from djs_toolkit.brief.bundle import read_bundle
from djs_toolkit.brief.readability import flesch, prose, reading_age
from djs_toolkit.brief.render import DUMMY_BANNER, NOTES_HEADING
from djs_toolkit.brief.words import share
from djs_toolkit.cli import main
from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs import save_figure, save_table, save_text
from djs_toolkit.outputs import stage as runner_stage
from djs_toolkit.outputs.text import NUMBER, released_values, trace_numbers
from djs_toolkit.runner.bundle import assemble, verify_bundle

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FINDING = "There were 1,250 magistrates' court events in 2020, 250 more than in 2019."


@pytest.fixture()
def bundle(tmp_path, stage, monkeypatch) -> Path:
    """A bundle of one notebook run (overview): a count table, its figure and the researcher's finding."""
    monkeypatch.setenv(runner_stage.ENV_RUN_NAME, "overview")
    t = pd.DataFrame(
        {"year": [2019, 2019, 2020, 2020], "dataset": ["mags_hocas", "familyman"] * 2, "events": [1000, 400, 1250, 380]}
    )
    o = save_table(t, "volumes", "events per dataset and calendar year", "all events", index="year")
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2])
    save_figure(fig, "volumes_fig", underlying=o)
    plt.close(fig)
    assert save_text("finding", FINDING, "magistrates' court events by year", sources=["volumes"]).status == "review"
    runs = [
        {
            "label": "overview",
            "notebook": "notebooks/00_extract_overview.ipynb",
            "notebook_sha256": "0",
            "parameters": {},
            "stage": str(stage),
        }
    ]
    out = tmp_path / "outputs" / "r1"
    assert assemble(runs, "srs", tmp_path / "build", out) == {}
    return out


def _body(md: str) -> str:
    return md.split(NOTES_HEADING, 1)[0]


def test_brief_is_written_registered_and_the_bundle_still_verifies(bundle):
    (w,) = write_briefs(bundle, dummy=True)
    assert (w.label, w.headlines, w.dropped) == ("overview", 1, 0)
    assert sorted(p.name for p in (bundle / "briefs").iterdir()) == ["overview.html", "overview.md"]
    files = {f["path"]: f for f in json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["files"]}
    assert files["briefs/overview.md"]["sensitivity"] == "brief"
    assert files["briefs/overview.html"]["output"] is None
    assert verify_bundle(bundle) == []
    write_briefs(bundle, dummy=True)  # again: rebuilt whole, still verifies
    assert verify_bundle(bundle) == []


def test_every_number_in_the_brief_is_found_in_release(bundle):
    write_briefs(bundle, dummy=True)
    md = (bundle / "briefs" / "overview.md").read_text(encoding="utf-8")
    body = _body(md)
    numbers = [m.group(0) for m in NUMBER.finditer(body)]
    # the period, the researcher's finding (no second headline from the table it states), the 95% of "95% CI"
    assert numbers == ["2019", "2020", "1,250", "2020", "250", "2019", "95%"]
    tables = {p.name: p.read_text(encoding="utf-8") for p in (bundle / "release").glob("*.csv")}
    traces = trace_numbers(body, released_values(tables))
    assert all(t.rule is not None for t in traces)
    for t in traces:  # each source cell, read again from release/, holds the number
        for v in t.sources:
            rows = list(csv.reader(io.StringIO(tables[v.file])))
            cell = rows[v.row][rows[0].index(v.column)] if v.row else v.column
            assert str(int(v.value)) in cell.replace(",", "")
    assert {t.rule for t in traces} == {"value", "difference", "convention"}
    notes = md.split(NOTES_HEADING, 1)[1]
    assert (
        "`250`: difference: (overview.volumes.csv, row 4 (mags_hocas), column events - overview.volumes.csv, row 2 "
        "(mags_hocas), column events)" in notes
    )


def test_the_researchers_finding_is_reused_word_for_word(bundle):
    write_briefs(bundle, dummy=True)
    md = (bundle / "briefs" / "overview.md").read_text(encoding="utf-8")
    assert FINDING in md and "*In the researcher's words.*" in md
    assert "The largest number" not in md  # the table the finding states gives no second headline
    assert md.index(FINDING) < md.index("![events per dataset and calendar year](overview.volumes_fig.png)")


def test_a_number_with_no_source_is_refused(bundle):
    view = read_bundle(bundle, dummy=True)
    assert check_brief("1,250 events", view, "overview")[0].rule == "value"
    with pytest.raises(DJSUserError, match="characters 0-5 have no released source"):
        check_brief("1,251 events", view, "overview")


def test_dummy_banner_on_every_page_and_html_self_contained(bundle):
    write_briefs(bundle, dummy=True)
    md = (bundle / "briefs" / "overview.md").read_text(encoding="utf-8")
    page = (bundle / "briefs" / "overview.html").read_text(encoding="utf-8")
    assert md.count(DUMMY_BANNER) == 2  # top and foot of the Markdown
    assert '<div class="dummy page" role="note">' in page and ".dummy.page { position: fixed" in page
    assert "@page { size: A4" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched: images inline, system fonts
    assert 'src="data:image/png;base64,' in page and 'alt="events per dataset and calendar year"' in page
    write_briefs(bundle, dummy=False)
    assert DUMMY_BANNER not in (bundle / "briefs" / "overview.md").read_text(encoding="utf-8")


def test_readability_plain_english(bundle):
    # Flesch reading ease >= 60: "plain English" (60-70), GOV.UK's aim for specialist readers; reading age <= 14.
    write_briefs(bundle, dummy=True)
    text = prose(_body((bundle / "briefs" / "overview.md").read_text(encoding="utf-8")))
    assert flesch(text) >= 60 and reading_age(text) <= 14
    assert len(text.split()) > 150  # the prose measured is the brief, not a fragment


def test_refusals_unknown_kind_tampered_bundle_unknown_run(bundle):
    with pytest.raises(DJSUserError, match="say --dummy or --real"):
        write_briefs(bundle)
    with pytest.raises(DJSUserError, match="no notebook run"):
        write_briefs(bundle, ["nope"], dummy=True)
    (bundle / "release" / "overview.volumes.csv").write_text("year,dataset,events\n2019,x,999\n", encoding="utf-8")
    with pytest.raises(DJSUserError, match="does not verify"):
        write_briefs(bundle, dummy=True)


def test_run_record_says_dummy(bundle):
    run_json = bundle.parent.parent / "runs" / bundle.name / "run.json"
    run_json.parent.mkdir(parents=True)
    run_json.write_text(json.dumps({"data": "dummy"}), encoding="utf-8")
    assert read_bundle(bundle).dummy is True
    run_json.write_text(json.dumps({"data": str(bundle.parent)}), encoding="utf-8")
    assert read_bundle(bundle).dummy is False


def test_cli(bundle, capsys):
    assert main(["brief", str(bundle), "--dummy"]) == 0
    out = capsys.readouterr().out
    assert "briefs/overview.md|html: 1 headline(s), Flesch reading ease" in out


def test_uncertainty_in_words():
    assert share(0.522968, 0.508202, 0.537510) == "about half (52%, 95% confidence interval 51% to 54%)"
    assert share(0.060206, 0.052633, 0.068829) == "about 1 in 17 (6.0%, 95% confidence interval 5.3% to 6.9%)"


def test_committed_example_is_marked_readable_and_every_number_has_a_note():
    md = (Path(__file__).resolve().parents[2] / "docs" / "briefs" / "reentry-release.md").read_text(encoding="utf-8")
    assert md.count(DUMMY_BANNER) == 2
    body, notes = md.split(NOTES_HEADING, 1)
    text = prose(body)
    assert flesch(text) >= 60 and reading_age(text) <= 14
    noted = re.findall(r"^- `([^`]+)`:", notes, flags=re.M)
    assert [m.group(0) for m in NUMBER.finditer(body) if m.group(0) != "95%"] == [n for n in noted if n != "95"]


def test_the_journeys_question_names_each_start_the_notebook_offers():
    from djs_toolkit.brief.words import question

    asked = {s: question("notebooks/50_journeys.ipynb", {"start": s}) for s in ("possession", "family_law_act", "care")}
    assert asked["possession"].startswith("After a first possession claim,")
    assert asked["family_law_act"].startswith("After a first Family Law Act case,")
    assert asked["care"].startswith("After first care proceedings,")
