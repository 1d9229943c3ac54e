"""The research notebooks and their jupytext twins agree: each notebooks/NAME.ipynb (what `djs run` executes) has a
paired notebooks/NAME.py in the `py:percent` format (what diffs and reviews read) with the same cells, and the
.ipynb is committed clean (no outputs, kernel python3, one `parameters` cell). Cheap: runs in the fast lane."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
PAIRED = "ipynb,py:percent"


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def _sync(path: Path) -> str:
    return f"run `jupytext --sync notebooks/{path.name}` (or `make sync-notebooks`)"


def test_pipeline_names_the_ipynb_notebooks():
    # `djs run` executes the .ipynb that pipeline.yaml names; a paired .py is for reading and diffs only.
    named = {e["notebook"] for e in yaml.safe_load((ROOT / "pipeline.yaml").read_text(encoding="utf-8"))["notebooks"]}
    assert named and named == {f"notebooks/{p.name}" for p in IPYNBS}


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_py_percent_twin(path):
    nb = nbformat.read(path, as_version=4)
    formats = nb.metadata.get("jupytext", {}).get("formats")
    assert formats == PAIRED, (
        f"notebooks/{path.name} is not paired with its .py (jupytext formats {formats!r}): "
        f"run `jupytext --set-formats {PAIRED} notebooks/{path.name}`"
    )
    twin = path.with_suffix(".py")
    assert twin.is_file(), f"notebooks/{twin.name} is missing: {_sync(path)}"
    text = jupytext.read(twin, fmt="py:percent")
    ours, theirs = _cells(nb), _cells(text)
    # Name the first cell that differs, so the message says where the two drifted apart.
    diff = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))
    assert ours == theirs, (
        f"notebooks/{path.name} and notebooks/{twin.name} differ (first at cell {diff}; {len(ours)} vs "
        f"{len(theirs)} cells): {_sync(path)}; the file saved last wins, so save the one you edited last"
    )


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (
        f"notebooks/{path.name} has outputs or execution counts in cell(s) {dirty} (they may hold results that "
        f"are not cleared for release): run `make sync-notebooks`, or in Jupyter Edit > Clear Outputs of All Cells "
        f"and save"
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"notebooks/{path.name} needs the kernel `python3` (the kernel `djs run` starts): in Jupyter Kernel > "
        f"Change Kernel > Python 3, then save"
    )
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and nb.cells[tagged[0]].cell_type == "code", (
        f"notebooks/{path.name} needs exactly one code cell tagged `parameters` (found cells {tagged}): "
        f"papermill injects `data_root`, `profile` and the pipeline's parameters after it"
    )
    assert code and "parameters" in code[0].metadata.get("tags", []), (
        f"notebooks/{path.name}: the `parameters` cell must be the first code cell, before anything runs"
    )
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), f"notebooks/{path.name}: cell ids must be present and unique"


def test_every_py_in_notebooks_has_its_ipynb():
    orphans = sorted(p.name for p in NOTEBOOKS.glob("*.py") if not p.with_suffix(".ipynb").is_file())
    assert not orphans, (
        f"{', '.join(orphans)} in notebooks/ without a .ipynb beside it (`djs run` executes the .ipynb): run "
        f"`jupytext --set-formats {PAIRED} notebooks/NAME.py` to make it, or delete the .py"
    )
