"""Two consecutive `djs run`s of the research notebooks on the small dummy extract, on one project ledger (issue 16
item 4): the second adds nothing to the ledger and its `release/` is byte for byte the first's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from djs_toolkit.runner import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
# One or two parameter sets of each notebook: every kind of output and the comparisons across notebook runs, in
# a third of the whole pipeline's time.
KEEP = {"overview", "reentry-release", "reentry-disposal", "overlaps-possession-crime", "flows-first", "wider-sex"}


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _entries(ledger: Path) -> set[str]:
    return {p.name for p in (ledger / "entries").glob("*.json")}


@pytest.mark.slow
def test_a_rerun_on_the_project_ledger_releases_the_same_bytes_and_adds_nothing(small_extract_dir, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    spec = yaml.safe_load((ROOT / "pipeline.yaml").read_text(encoding="utf-8"))
    notebooks = []
    for nb in spec["notebooks"]:
        sets = [s for s in nb.get("sets", []) if f"{nb['name']}-{s['name']}" in KEEP]
        if sets or nb["name"] in KEEP:
            notebooks.append({**nb, **({"sets": sets} if sets else {})})
    (project / "pipeline.yaml").write_text(yaml.safe_dump({**spec, "notebooks": notebooks}), encoding="utf-8")
    ledger = project / ".djs" / "ledger"  # the project's default ledger (tests otherwise get one of their own)

    def run(tag: str):
        return run_pipeline(
            project / "pipeline.yaml",
            data=str(small_extract_dir),
            jobs=2,
            outputs_dir=project / f"outputs_{tag}",
            runs_dir=project / f"runs_{tag}",
            echo=lambda _: None,
            ledger=ledger,
        )

    first = run("1")
    assert {r["run"] for r in first.rows} == KEEP and first.bundle is not None
    recorded = _entries(ledger)
    assert recorded  # the released outputs are in the project's ledger
    second = run("2")
    assert _entries(ledger) == recorded  # a rerun of the same values adds nothing
    assert _tree(second.bundle / "release") == _tree(first.bundle / "release")
    # Statuses: equal in 4 of 5 such pairs; once overlaps-possession-crime.ordered found its companion table in one
    # run only (a CompanionCheck review, nothing released differently): outputs.companions, not the ledger.
