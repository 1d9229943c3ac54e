"""A bundle's CLEARANCE.md is the SRS output request (issue 19 item 2) and its results.json is ACRO 1.0.2's (item 3):
project fields from the project file or options (never guessed), a summary table on top, pipeline order, the
output's type, what was suppressed in plain words; a withheld output's only file is a notice without values.
Records are staged as a notebook stages them, without kernels (tests/interop loads such bundles with the real tools).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from djs_toolkit._version import __version__
from djs_toolkit.cli import main
from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.frames import add_reason
from djs_toolkit.outputs.scan import scan_release
from djs_toolkit.outputs.stage import RunContext, write_record
from djs_toolkit.runner.bundle import assemble, verify_bundle
from djs_toolkit.sdc import Output, Session
from djs_toolkit.sdc.request import Project, load_project

QUESTION = "10 Re-entry: How soon do people come back to the criminal courts?"


def _courts(n_small: int) -> pd.DataFrame:
    rows = [("A", "custody")] * 40 + [("A", "fine")] * 55 + [("B", "custody")] * 60 + [("B", "fine")] * n_small
    return pd.DataFrame(rows, columns=["court", "outcome"])


def png_bytes() -> bytes:
    """A small real PNG (a bar chart)."""
    fig, ax = plt.subplots()
    ax.bar(["A", "B"], [1, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def stage_run(tmp_path: Path, label: str, made: list[tuple[str, Output, bytes | None]], question: str = "") -> dict:
    """Stage outputs as a notebook run would (in this order), returning the run as `assemble` takes it."""
    ctx = RunContext(tmp_path / "stage" / label, "srs", None, label, True)
    for name, o, png in made:
        o.name = f"{label}.{name}"
        o.properties.update({"index_levels": o.table.index.nlevels, "csv_header_rows": 1})
        write_record(ctx, name, o, figure_png=png)
        time.sleep(0.02)  # a notebook's saves are apart in time: the bundle keeps the order they were made in
    run = {"label": label, "notebook": f"nb/{label}.ipynb", "notebook_sha256": "0", "parameters": {}}
    return {**run, "stage": ctx.stage_dir, "question": question}


def made_outputs() -> list[tuple[str, Output, bytes | None]]:
    """A pass table, a figure (review), a table with suppressed cells (review) and a withheld table (fail)."""
    s = Session("srs")
    passing = s.crosstab(_courts(70).court, _courts(70).outcome, name="z_table", description="sentences by court")
    passing.population = "cases sentenced 2019-2021"
    suppressed = s.crosstab(_courts(3).court, _courts(3).outcome, name="m_small", description="sentences, 2021")
    suppressed.population = "cases sentenced 2021"
    figure = dataclasses.replace(passing, reasons=passing.reasons.copy(), properties=dict(passing.properties))
    figure.properties["figure"] = "fig.png"
    figure.status = "review"
    add_reason(figure, "FigureCheck", "review", "figure drawn by researcher code: confirm it shows only its table")
    failed = dataclasses.replace(passing, reasons=passing.reasons.copy(), properties=dict(passing.properties))
    failed.status, failed.description = "fail", "ages of the oldest defendants"
    add_reason(failed, "PositionUniquenessCheck", "fail", "a maximum is one person's value")
    return [
        ("z_table", passing, None),
        ("fig", figure, png_bytes()),
        ("m_small", suppressed, None),
        ("a_max", failed, None),
    ]


def build_bundle(tmp: Path) -> Path:
    """A bundle of two runs (the first with a question in its notebook) and project fields from a project file."""
    with pytest.MonkeyPatch.context() as mp:  # the same tables twice: this is about the request, not differencing
        mp.setenv("DJS_LEDGER", "off")
        runs = [stage_run(tmp, "reentry", made_outputs(), QUESTION), stage_run(tmp, "flows", made_outputs()[:1])]
    project = Project({"id": "2024/017", "title": "Re-entry", "researchers": "A. Researcher"}, "djs_project.yaml")
    assemble(runs, "srs", tmp / "build", tmp / "bundle", project=project)
    return tmp / "bundle"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("clearance"))


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_clearance_is_the_output_request_with_project_fields_and_a_summary_table_in_pipeline_order(bundle):
    text = (bundle / "CLEARANCE.md").read_text(encoding="utf-8")
    assert text.startswith("# Output clearance request\n") and "(draft)" not in text
    project = _section(text, "Project")
    assert "| SRS project number | 2024/017 |" in project and "| Researcher(s) | A. Researcher |" in project
    assert "| Organisation | **TO COMPLETE** |" in project and "From djs_project.yaml." in project  # never guessed
    summary = _section(text, "Summary")
    assert "5 output(s) in the order they were made: 2 pass, 2 review, 1 fail (fail = withheld" in summary
    rows = [r.split(" | ") for r in summary.splitlines() if r.startswith("| ") and r[2].isdigit()]
    # pipeline.yaml's order, then the order each notebook saved its outputs: not alphabetical
    assert [r[1] for r in rows] == [
        "reentry.z_table",
        "reentry.fig",
        "reentry.m_small",
        "reentry.a_max",
        "flows.z_table",
    ]
    by = {r[1]: r for r in rows}
    assert by["reentry.fig"][2] == "figure (PNG) with its underlying table" and by["reentry.z_table"][2] == "table"
    assert by["reentry.z_table"][3:] == ["pass", "all checks pass", "none: release as is |"]
    assert by["reentry.fig"][3] == "review" and by["reentry.fig"][4] == "FigureCheck"
    assert by["reentry.fig"][5].startswith("decide: figure drawn by researcher code")
    assert by["reentry.a_max"][3] == "fail" and by["reentry.a_max"][4].startswith("PositionUniquenessCheck")
    assert by["reentry.a_max"][5].startswith("none: withheld, not for release")
    headings = [ln.split(":")[0][3:] for ln in text.splitlines() if ln.startswith(("## reentry.", "## flows."))]
    assert headings == [r[1] for r in rows]  # the sections follow the same order


def test_suppression_is_said_in_plain_words_and_each_output_has_its_purpose_and_justification(bundle):
    text = (bundle / "CLEARANCE.md").read_text(encoding="utf-8")
    words = _section(text, "What was suppressed and why")
    small = next(ln for ln in words.splitlines() if ln.startswith("- reentry.m_small"))
    assert "cell(s) withheld" in small and "counted fewer than 10 people or records (the threshold)" in small
    assert "cannot be worked out from the totals" in small  # the complements, in words
    assert any(ln.startswith("- reentry.a_max (table): withheld entirely, not released") for ln in words.splitlines())
    section = text.split("\n## reentry.z_table: pass\n", 1)[1].split("\n## ", 1)[0]
    assert "- Purpose: sentences by court" in section
    assert f"- Justification: answers the notebook's question ({QUESTION})" in section
    assert "- Files: release/reentry.z_table.csv" in section
    flows = text.split("\n## flows.z_table: pass\n", 1)[1].split("\n## ", 1)[0]
    assert "- Justification: **TO COMPLETE**" in flows  # no question in its notebook: not guessed
    fig = text.split("\n## reentry.fig: review\n", 1)[1].split("\n## ", 1)[0]
    assert "- Type: figure (PNG) with its underlying table" in fig
    assert "release/reentry.fig.csv, release/reentry.fig.png" in fig


def test_results_json_is_acro_1_0_2_with_a_notice_for_each_withheld_output(bundle):
    doc = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    assert doc["version"] == "1.0.2" and doc["djs_toolkit"]["version"] == __version__  # ours, namespaced
    assert list(doc["results"]) == [
        "reentry.z_table",
        "reentry.fig",
        "reentry.m_small",
        "reentry.a_max",
        "flows.z_table",
    ]
    assert doc["djs_toolkit"]["project"]["fields"]["id"] == "2024/017"
    for uid, entry in doc["results"].items():
        assert entry["files"], uid  # ACRO's loader indexes the first file of every output
        for f in entry["files"]:
            data = (bundle / f["name"]).read_bytes()
            assert (
                "sdc" in f
                and (bundle / "checksums" / f"{f['name']}.txt").read_text() == hashlib.sha256(data).hexdigest()
            )
    withheld = doc["results"]["reentry.a_max"]
    assert [f["name"] for f in withheld["files"]] == ["withheld/reentry.a_max.txt"] and not withheld["djs_toolkit"][
        "released"
    ]
    notice = (bundle / "withheld" / "reentry.a_max.txt").read_text(encoding="utf-8")
    assert "WITHHELD" in notice and "PositionUniquenessCheck" in notice
    assert not any(ch.isdigit() for ch in notice.replace("a_max", ""))  # no values: no number at all
    assert not list((bundle / "release").glob("reentry.a_max*"))
    assert json.loads((bundle / "config.json").read_text())["threshold"] == 10  # the viewer's risk profile
    assert verify_bundle(bundle) == [] and scan_release(bundle) == {}


def test_project_fields_come_from_the_file_or_options_and_a_bad_file_is_one_clear_error(tmp_path):
    f = tmp_path / "djs_project.yaml"
    f.write_text("id: 2024/1\nresearchers: [A, B]\ntitle: Old title\n", encoding="utf-8")
    p = load_project(f, {"title": "New title", "organisation": None})
    assert p.fields == {"id": "2024/1", "title": "New title", "researchers": "A, B"}
    assert p.source == "djs_project.yaml and command line"
    f.write_text("project_number: 1\n", encoding="utf-8")
    with pytest.raises(DJSUserError, match=r"unknown field\(s\) project_number; valid: id, title"):
        load_project(f)
    assert load_project(tmp_path / "absent.yaml").fields == {}


def test_djs_check_warns_before_it_starts_and_fills_the_fields_it_was_given(tmp_path, monkeypatch, capsys):
    d = tmp_path / "from_stata"
    d.mkdir()
    t = pd.DataFrame({"court": ["A", "B"], "custody": [40, 33], "community": [51, 60]})
    t.to_csv(d / "courts.csv", index=False)
    t.to_csv(d / "courts.counts.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(d), "--project-id", "2024/9", "--researcher", "A", "--researcher", "B"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: CLEARANCE.md will mark 4 project field(s) TO COMPLETE (Project title,")
    folder = tmp_path / "from_stata-checked"
    text = (folder / "CLEARANCE.md").read_text(encoding="utf-8")
    assert "| SRS project number | 2024/9 |" in text and "| Researcher(s) | A, B |" in text
    assert "| Project title | **TO COMPLETE** |" in text and "From command line." in text
    assert json.loads((folder / "results.json").read_text())["djs_toolkit"]["project"]["fields"]["id"] == "2024/9"
    assert verify_bundle(folder) == []


def test_a_review_without_a_table_level_reason_asks_about_the_cells_it_flagged_in_words():
    from djs_toolkit.sdc.request import summary_lines

    sdc = {"summary": {"PresenceOfZeroCheck": 2}, "cells": {"PresenceOfZeroCheck": [[0, 1], [1, 1]]}}
    entry = {"status": "review", "type": "table", "files": [{"name": "release/t.csv", "sdc": sdc}]}
    entry["fair"] = {"check_status": {"PresenceOfZeroCheck": "review"}}
    row = summary_lines({"t": entry}, 10)[6]
    assert row == (
        "| 1 | t | table | review | PresenceOfZeroCheck | decide: are the flagged cells disclosive or structural "
        "(2 zero cells that could reveal something about a group)? |"
    )


def test_cell_positions_are_where_sacro_viewer_reads_them_in_the_released_csv(tmp_path):
    import csv

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "court": rng.choice(["A", "B", "C"], 600),
            "sex": rng.choice(["F", "M"], 600, p=[0.97, 0.03]),
            "outcome": rng.choice(["custody", "fine"], 600),
        }
    )
    s = Session("srs")
    s.crosstab([df.court, df.sex], df.outcome, name="two_levels", description="d")
    out = s.finalise(tmp_path / "f")
    entry = json.loads((out / "results.json").read_text())["results"]["two_levels"]
    rows = list(csv.reader((out / "release" / "two_levels.csv").read_text().splitlines()))
    withheld = entry["files"][0]["sdc"]["cells"]["suppressed"]
    assert withheld  # the viewer's reading: the row under the first header line, the column after the first column
    assert all(rows[1 + r][1 + c] == "[suppressed]" for r, c in withheld)


def test_structural_zeros_declared_by_the_analysis_are_said_as_such_not_as_suppression():
    from djs_toolkit.sdc.request import suppressed_lines

    sdc = {"summary": {}, "cells": {}}
    entry = {"status": "pass", "type": "table", "properties": {"structural_cells": [[0, 1], [2, 1]]}}
    entry["files"] = [{"name": "release/t.csv", "sdc": sdc}]
    assert suppressed_lines({"t": entry}, 10)[2:] == [
        "- t (table): 2 cell(s) are structural zeros that cannot occur.",
        "",
    ]
