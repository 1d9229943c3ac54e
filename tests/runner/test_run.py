"""The batch runner: strict parameters, papermill runs in fresh kernels, --jobs, resume after a kill, byte-identical
bundles, verify, and refusal of what the safety scan catches. Notebook runs use the tiny fixture notebooks."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.scan import scan_release
from djs_toolkit.runner.bundle import verify_bundle
from djs_toolkit.runner.pipeline import load_pipeline
from djs_toolkit.runner.run import new_run_id, run_pipeline, select_runs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"
PIPELINE = """version: 1
notebooks:
  - notebook: nb/counts.ipynb
    timeout: 120
    sets:
      - {name: a, seed: 1}
      - {name: b, seed: 2, groups: 4}
  - notebook: nb/leaky.ipynb
"""
SUBSET = """version: 1
notebooks:
  - notebook: nb/subset.ipynb
    sets:
      - {{name: {0}, drop: {1}}}
      - {{name: {2}, drop: {3}}}
"""
FAILING = """notebooks:
  - notebook: nb/broken.ipynb
  - notebook: nb/slow.ipynb
    timeout: 3
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    (root / "nb").mkdir()
    (root / "data").mkdir()
    for name in ("counts", "leaky", "broken", "slow", "subset", "dies"):
        shutil.copy(FIXTURES / f"{name}.ipynb", root / "nb")
    (root / "pipeline.yaml").write_text(PIPELINE)
    (root / "failing.yaml").write_text(FAILING)
    return root


def _run(root: Path, tag: str, pipeline: str = "pipeline.yaml", **kw):
    lines: list[str] = []
    report = run_pipeline(
        root / pipeline,
        data=str(root / "data"),
        outputs_dir=root / f"outputs_{tag}",
        runs_dir=root / f"runs_{tag}",
        echo=lines.append,
        **kw,
    )
    return report, lines


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def parallel(project):
    return _run(project, "par", jobs=2)


@pytest.fixture(scope="module")
def killed(project):
    """Start `djs run` (one run at a time) in a subprocess, kill it while counts-b sleeps mid-notebook, then resume."""
    gate = project / "gate.txt"
    runs, outs = project / "runs_kill", project / "outputs_kill"
    env = {**os.environ, "DJS_TEST_GATE": str(gate), "DJS_TEST_GATE_RUN": "counts-b"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "djs_toolkit.cli",
            "run",
            str(project / "pipeline.yaml"),
            "--data",
            str(project / "data"),
            "--runs",
            str(runs),
            "--outputs",
            str(outs),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not gate.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gate.is_file(), "the run never reached the gate cell"
    proc.kill()  # the runner, mid-notebook ...
    proc.wait(30)
    os.kill(int(gate.read_text()), getattr(signal, "SIGKILL", signal.SIGTERM))  # ... and its kernel, by id
    (run_dir,) = list(runs.iterdir())
    after_kill = {
        "outputs": sorted(p.name for p in outs.iterdir()) if outs.exists() else [],
        "done": sorted(p.name for p in (run_dir / "done").iterdir()),
        "stage_b": sorted(p.name for p in (run_dir / "stage" / "counts-b").iterdir()),
    }
    lines: list[str] = []
    report = run_pipeline(project / "pipeline.yaml", resume=True, outputs_dir=outs, runs_dir=runs, echo=lines.append)
    return after_kill, report, lines


# --- strict parameters (no kernel) -------------------------------------------------------------------------------


def _write_nb(path: Path, params: str | None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params or "x = 1")]
    if params is not None:
        nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)


def test_every_parameter_problem_is_reported_at_once_before_anything_runs(project, tmp_path):
    root = tmp_path
    shutil.copytree(project / "nb", root / "nb")
    _write_nb(root / "nb" / "noprofile.ipynb", 'data_root: str = ""\nn: int = 1')
    _write_nb(root / "nb" / "untagged.ipynb", None)
    (root / "p.yaml").write_text("""version: 2
notebooks:
  - notebook: nb/counts.ipynb
    colour: red
    sets:
      - {name: a, seed: "1", groupz: 3}
      - {name: b, groups: true, data_root: /x}
      - {name: a, seed: 2}
  - notebook: nb/missing.ipynb
  - notebook: nb/noprofile.ipynb
  - notebook: nb/untagged.ipynb
""")
    with pytest.raises(DJSUserError) as err:
        load_pipeline(root / "p.yaml")
    msg = str(err.value)
    expected = [
        "nothing was run",
        "version 2 is not supported",
        "unknown key `colour`",
        "run counts-a: parameter `seed` must be int (default 0), got str '1'",
        "run counts-a: parameter `groupz` is unknown",
        "run counts-b: parameter `groups` must be int (default 3), got bool True",
        "run counts-b: `data_root` is set by the runner",
        "run label `counts-a` is used 2 times",
        "notebook nb/missing.ipynb not found",
        "nb/noprofile.ipynb does not declare `profile`",
        "nb/untagged.ipynb has no cell tagged `parameters`",
        "valid parameters of nb/counts.ipynb: groups: int (default 3)  # number of groups; seed: int (default 0)  "
        '# random seed; label: str (default "g")  # group label prefix',
    ]
    for needle in expected:
        assert needle in msg, needle
    assert not (root / "runs").exists()


def test_matrix_and_sets_expand_to_labelled_runs(project, tmp_path):
    shutil.copytree(project / "nb", tmp_path / "nb")
    (tmp_path / "p.yaml").write_text("""timeout: 99
notebooks:
  - notebook: nb/counts.ipynb
    name: c
    parameters: {groups: 5}
    sets: [{name: x, seed: 1}, {seed: 2}]
    matrix: {label: [Crown Court, mags]}
  - notebook: nb/counts.ipynb
    name: long
    matrix: {label: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]}
""")
    p = load_pipeline(tmp_path / "p.yaml")
    assert p.labels()[:4] == ["c-x-crown_court", "c-x-mags", "c-2-crown_court", "c-2-mags"]
    assert p.runs[0].parameters == {"groups": 5, "seed": 1, "label": "Crown Court"} and p.runs[0].timeout == 99
    assert re.fullmatch(r"long-a{20}-[0-9a-f]{6}", p.labels()[4])
    assert [r.label for r in select_runs(p, "c")] == p.labels()[:4]
    with pytest.raises(DJSUserError, match="matches no run"):
        select_runs(p, "nope")


def test_run_ids_are_windows_safe():
    rid = new_run_id()
    assert re.fullmatch(r"\d{8}T\d{4}Z-[0-9a-f]{6}", rid) and not set(rid) & set('<>:"/\\|?*')


# --- notebook runs -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_parallel_run_assembles_only_declared_checked_outputs(parallel, project):
    report, lines = parallel
    assert any("in 2 processes" in line for line in lines)
    assert [(r["run"], r["status"]) for r in report.rows] == [
        ("counts-a", "ok"),
        ("counts-b", "ok"),
        ("leaky", "withheld"),
    ]
    # counts-b.by_outcome is an aggregated frame whose records cannot be linked to counts-a.by_outcome: if one
    # population contained the other, their difference would be a small group, so it fails closed (issue 16).
    assert [(r["pass"], r["review"], r["fail"]) for r in report.rows] == [(1, 2, 0), (0, 2, 1), (0, 0, 1)]
    bundle = report.bundle
    assert sorted(p.name for p in (bundle / "release").iterdir()) == sorted(
        f"counts-{x}.{n}"
        for x in "ab"
        for n in ("by_group.csv", "by_group_fig.csv", "by_group_fig.png", "by_outcome.csv")
        if (x, n) != ("b", "by_outcome.csv")
    )
    assert "could not be linked" in (bundle / "CLEARANCE.md").read_text()
    assert not list(bundle.rglob("*.ipynb")) and (project / "runs_par" / report.run_id / "nb" / "leaky.ipynb").is_file()
    results = json.loads((bundle / "results.json").read_text())["results"]
    leaky = results["leaky.by_court"]
    assert leaky["status"] == "fail" and "person_id" in json.dumps(leaky["djs_toolkit"])
    assert [f["name"] for f in leaky["files"]] == ["withheld/leaky.by_court.txt"]  # a notice, for ACRO's loader
    assert "leaky.by_court: fail" in (bundle / "CLEARANCE.md").read_text()
    assert verify_bundle(bundle) == [] and scan_release(bundle) == {}
    assert report.exit_code == 1  # something was withheld
    # No run id, timestamp or absolute path inside the bundle: its bytes depend on data, parameters and version only.
    for rel, data in _tree(bundle).items():
        assert report.run_id.encode() not in data and str(project).encode() not in data, rel
    assert all(r["timestamp"] == "" for r in results.values())
    summary = (project / "runs_par" / report.run_id / "summary.csv").read_text()
    assert summary.splitlines()[0] == "run,notebook,parameters,status,seconds,pass,review,fail,error,executed_notebook"


@pytest.mark.slow
def test_killed_run_leaves_no_partial_output_and_resume_completes_it_to_the_same_bytes(killed, parallel):
    after_kill, report, lines = killed
    assert after_kill["outputs"] == []  # nothing, not even a hidden partial folder, in outputs/
    assert after_kill["done"] == ["counts-a.json"]
    assert after_kill["stage_b"] == ["by_group"]  # the record saved before the kill; no marker, so it reruns
    assert [(r["run"], r["status"]) for r in report.rows] == [
        ("counts-a", "skipped"),
        ("counts-b", "ok"),
        ("leaky", "withheld"),
    ]
    assert "1 already complete" in lines[0]
    # Two runs (one in 2 processes, one killed and resumed one notebook at a time): every file identical,
    # release files, results.json, CLEARANCE.md and both manifests included.
    assert _tree(report.bundle) == _tree(parallel[0].bundle)
    again: list[str] = []
    run_pipeline(
        report.bundle.parent.parent / "pipeline.yaml",
        resume=True,
        run_id=report.run_id,
        outputs_dir=report.bundle.parent,
        runs_dir=report.bundle.parent.parent / "runs_kill",
        echo=again.append,
    )
    assert again == [f"run {report.run_id} is already complete: outputs/{report.run_id} verifies"]


@pytest.mark.slow
def test_verify_lists_modified_missing_and_unlisted_files(parallel, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(parallel[0].bundle, copy)
    assert verify_bundle(copy) == []
    table = next((copy / "release").glob("*.by_outcome.csv"))
    table.write_bytes(table.read_bytes().replace(b"\n", b"\r\n"))
    (copy / "CLEARANCE.md").unlink()
    (copy / "release" / "extra.csv").write_text("n\n1\n")
    assert verify_bundle(copy) == [
        "missing: CLEARANCE.md (listed in the manifest, not on disk)",
        f"modified: release/{table.name} (sha256 differs from the manifest)",
        "unlisted: release/extra.csv (on disk, not in the manifest)",
    ]


@pytest.mark.slow
def test_failed_and_timed_out_runs_write_no_bundle_and_leak_no_message(project):
    report, lines = _run(project, "fail", pipeline="failing.yaml", jobs=2)
    status = {r["run"]: r["status"] for r in report.rows}
    assert status == {"broken": "failed", "slow": "timeout"}
    assert any("broken: failed" in line and "ValueError in cell 2 of the executed notebook" in line for line in lines)
    assert any("slow: timeout" in line and "longer than the 3 s per-cell timeout" in line for line in lines)
    assert report.bundle is None and report.exit_code == 1
    assert not (project / "outputs_fail").exists() or not any((project / "outputs_fail").iterdir())
    run_dir = project / "runs_fail" / report.run_id
    logged = "\n".join(lines) + (run_dir / "summary.csv").read_text()
    assert "SECRET-ROW-VALUE" not in logged  # the exception message stays in the executed notebook (a log)
    assert "SECRET-ROW-VALUE" in (run_dir / "nb" / "broken.ipynb").read_text()


@pytest.mark.slow
def test_relative_runs_and_outputs_folders_are_resolved_before_kernels_start(project, monkeypatch):
    # Kernels run in the notebook's folder: a relative stage path would put the records there, and the bundle
    # would come out empty.
    monkeypatch.chdir(project)
    report = run_pipeline(
        project / "pipeline.yaml",
        data=str(project / "data"),
        only="counts-a",
        outputs_dir=Path("o_rel"),
        runs_dir=Path("r_rel"),
        echo=lambda _: None,
    )
    assert [(r["run"], r["pass"], r["review"], r["fail"]) for r in report.rows] == [("counts-a", 1, 2, 0)]
    assert report.bundle == project / "o_rel" / report.run_id
    assert len(list((report.bundle / "release").iterdir())) == 4
    assert not (project / "nb" / "r_rel").exists()


@pytest.mark.slow
def test_differencing_across_runs_flags_the_later_run_in_pipeline_order_whatever_finishes_first(project):
    (project / "sub.yaml").write_text(SUBSET.format("all", 0, "most", 3))
    (project / "rev.yaml").write_text(SUBSET.format("most", 3, "all", 0))
    # each pipeline on its own project ledger: the order within a pipeline decides
    par, lines = _run(project, "sub2", pipeline="sub.yaml", jobs=2, ledger=project / "ledger_sub2")
    seq, _ = _run(project, "sub1", pipeline="sub.yaml", jobs=1, ledger=project / "ledger_sub1")
    rev, _ = _run(project, "rev", pipeline="rev.yaml", jobs=2, ledger=project / "ledger_rev")
    assert any(
        "differencing across notebook runs: 1 output(s) compared" in line and "1 flagged" in line for line in lines
    )
    # each notebook alone releases a safe table; the second in pipeline order gives the 3 left-out records away
    for report, first, later in ((par, "all", "most"), (seq, "all", "most"), (rev, "most", "all")):
        results = json.loads((report.bundle / "results.json").read_text())["results"]
        assert results[f"subset-{first}.courts"]["status"] == "pass"
        bad = results[f"subset-{later}.courts"]
        assert bad["status"] == "fail" and not bad["djs_toolkit"]["released"]
        assert [f["name"] for f in bad["files"]] == [f"withheld/subset-{later}.courts.txt"]
        (flag,) = [f for f in bad["djs_toolkit"]["output_flags"] if f["rule"] == "DifferencingCheck"]
        assert flag["status"] == "fail" and f"earlier output 'subset-{first}.courts' (" in flag["summary"]
        assert [(r["pass"], r["review"], r["fail"]) for r in report.rows] == [(1, 0, 0), (0, 0, 1)]
        assert sorted(p.name for p in (report.bundle / "release").iterdir()) == [f"subset-{first}.courts.csv"]
        clearance = (report.bundle / "CLEARANCE.md").read_text()
        assert (
            f"## subset-{later}.courts: fail" in clearance and "Differencing across notebook runs (fail)" in clearance
        )
        # the recovered counts go to the checker only, never into a reason: 3 records, split over the cells
        found = pd.read_csv(report.bundle / "checker_only" / f"DO-NOT-RELEASE_subset-{later}.courts_differencing.csv")
        assert found["true_count"].sum() == 3 and "true_count" not in json.dumps(bad)
        assert verify_bundle(report.bundle) == []
    # two processes or one: the same bytes
    assert _tree(par.bundle) == _tree(seq.bundle)
    # on the project ledger par released `all` to: `most` first is compared with that earlier release and withheld,
    # and `all`, the same values again, stays released
    later, _ = _run(project, "rev2", pipeline="rev.yaml", ledger=project / "ledger_sub2")
    results = json.loads((later.bundle / "results.json").read_text())["results"]
    assert results["subset-most.courts"]["status"] == "fail" and results["subset-all.courts"]["status"] == "pass"
    assert sorted(p.name for p in (later.bundle / "release").iterdir()) == ["subset-all.courts.csv"]
    assert len(list((project / "ledger_sub2" / "entries").glob("*.json"))) == 1  # nothing added


@pytest.mark.slow
def test_a_dead_kernel_is_reported_with_what_to_do(project):
    (project / "dies.yaml").write_text("notebooks:\n  - notebook: nb/dies.ipynb\n")
    report, lines = _run(project, "dies", pipeline="dies.yaml")
    assert report.bundle is None and [(r["run"], r["status"]) for r in report.rows] == [("dies", "failed")]
    assert lines[-1] == (
        "A kernel died: most often the machine ran out of memory. Resume with fewer notebooks at "
        "once: `djs run --resume --jobs 1`."
    )
