"""`djs run` parses every event-selector parameter before any kernel starts (docs/methods.md §7.1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from djs_toolkit import DJSUserError
from djs_toolkit.runner.params import Param, default_problems, parameter_problems
from djs_toolkit.runner.pipeline import load_pipeline
from tests.faults.tools import assert_one_clear_error, cli, write_notebook

ROOT = Path(__file__).resolve().parents[2]
DECL = {
    "first": Param("first", "str", '"civil_claim"', "what comes first: an event selector"),
    "population": Param("population", "list", "[]", "who is studied: event selectors"),
    "label": Param("label", "str", '""', "a free comment"),
}


def test_selector_parameters_are_parsed():
    assert parameter_problems(DECL, {"first": "mags_conviction: disposal=Fine", "label": "x: y=z"}, "run a") == []
    assert parameter_problems(DECL, {"first": "", "population": ["civil_claim", "familyman: age=18+"]}, "run a") == []
    [bad] = parameter_problems(DECL, {"first": "mags_conviction: disposal=Fines"}, "run a")
    assert bad.startswith("run a: parameter `first` is not a valid event selector: Selector on mags_conviction:")
    assert "valid values are Immediate custody, Suspended sentence order" in bad
    [bad] = parameter_problems(DECL, {"population": ["civil_claim", "civil_claim: role=Defendant"]}, "run b")
    assert "`role` is not a column its events carry: valid columns are case_type (" in bad
    assert "party_role (Claimant, Defendant)" in bad
    [bad] = default_problems({"first": Param("first", "str", '"crown: age=1"', "an event selector")}, "nb.ipynb")
    assert bad.startswith("notebook nb.ipynb: the default of `first` is not a valid event selector: 'crown'")


def test_a_bad_selector_is_refused_before_any_kernel_starts(tmp_path, capsys):
    write_notebook(
        tmp_path / "nb" / "ordered.ipynb", 'first: str = "civil_claim"  # what comes first: an event selector'
    )
    (tmp_path / "p.yaml").write_text(
        "notebooks:\n  - notebook: nb/ordered.ipynb\n    sets:\n"
        "      - {name: ok, first: 'mags_conviction: disposal=Fine'}\n"
        "      - {name: typo, first: 'mags_conviction: disposal=Fines'}\n"
    )
    (tmp_path / "data").mkdir()
    code, _, err = cli("run", tmp_path / "p.yaml", "--data", tmp_path / "data", "--runs", tmp_path / "runs",
                       "--outputs", tmp_path / "outputs", capsys=capsys)  # fmt: skip
    assert_one_clear_error(code, err)
    assert "run ordered-typo: parameter `first` is not a valid event selector" in err
    assert "'Fines' is not a valid `disposal`" in err and "nothing was run" in err
    assert "ordered-ok" not in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("notebook", "value", "says"),
    [
        ("notebooks/20_overlaps.ipynb", {"first": "mags_conviction: disposal=Fines"}, "`first` is not a valid event"),
        ("notebooks/20_overlaps.ipynb", {"then": "custody_start: party_role=Child"}, "`then` is not a valid event"),
        ("notebooks/30_flows.ipynb", {"first": "civil_claim: case_type=Eviction"}, "`first` is not a valid event"),
        ("notebooks/40_wider_issues.ipynb", {"population": ["familyman: role=Child"]}, "`population` is not a valid"),
    ],
)
def test_the_research_notebooks_declare_their_selectors(tmp_path, notebook, value, says):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "p.yaml").write_text(f"notebooks:\n  - notebook: {notebook}\n    parameters: {value}\n")
    with pytest.raises(DJSUserError) as err:
        load_pipeline(tmp_path / "p.yaml")
    assert says in str(err.value)


def test_the_pipeline_selectors_parse():
    load_pipeline(ROOT / "pipeline.yaml")  # every run's selectors and every notebook's defaults
