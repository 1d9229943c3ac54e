"""The install routes agree: pyproject.toml is the one list of dependencies, environment.yml (the conda route into
the SRS) is generated from it and holds every runtime dependency (highspy, jupytext, lifelines included) and
JupyterLab under conda-forge's names with the same versions, `make environment.yml` regenerates it, `make lab` serves
the notebooks (jupytext pairs, the python3 kernel) on 127.0.0.1, and the README and docs/workflow.md name no package
versions by hand."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("environment_yml", REPO / "scripts" / "environment_yml.py")
assert _spec is not None and _spec.loader is not None
envgen = importlib.util.module_from_spec(_spec)
sys.modules["environment_yml"] = envgen
_spec.loader.exec_module(envgen)

PYPROJECT = envgen.load(REPO / "pyproject.toml")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def requirement_names(reqs: list[str]) -> set[str]:
    """Lower-case package names of requirement strings."""
    return {m.group(1).lower() for r in reqs if (m := _NAME.match(r))}


def _specs(reqs: list[str]) -> dict[str, str]:
    out = {}
    for r in reqs:
        m = _NAME.match(r)
        assert m is not None, r
        out[m.group(1).lower().replace("_", "-")] = m.group(2).replace(" ", "")
    return out


def _environment() -> dict[str, str]:
    """environment.yml's dependencies as {conda name: version spec}, read as conda reads it."""
    doc = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    assert doc["channels"] == ["conda-forge"] and doc["name"] == "djs"
    out = {}
    for dep in doc["dependencies"]:
        assert isinstance(dep, str), f"environment.yml: {dep!r} (a pip: section would reach for an index)"
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", dep)
        assert m is not None, dep
        out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_is_generated_from_pyproject():
    text = (REPO / "environment.yml").read_text(encoding="utf-8")
    assert text == envgen.render(PYPROJECT), "environment.yml is out of date: run `make environment.yml`"
    assert "\r" not in text


def test_every_runtime_dependency_and_jupyterlab_is_in_environment_yml_with_the_same_versions():
    env = _environment()
    project = PYPROJECT["project"]
    wanted = {**_specs(project["dependencies"]), **_specs(project["optional-dependencies"]["lab"])}
    assert {"highspy", "jupytext", "lifelines", "jupyterlab", "ipykernel", "papermill"} <= set(wanted)
    for pip_name, version in wanted.items():
        conda_name = envgen.CONDA_NAMES.get(pip_name, pip_name)
        assert conda_name in env, f"{pip_name} (conda: {conda_name}) missing from environment.yml"
        assert env[conda_name] == version, f"{conda_name}: {env[conda_name]!r} here, {version!r} in pyproject.toml"
    # every dependency under PyPI's name (conda-forge's duckdb and matplotlib are the same packages)
    assert env["duckdb"] == ">=1.0" and "matplotlib" in env
    assert env["python"] == project["requires-python"]
    # what `pip install --no-deps --no-build-isolation -e .` needs installed, and the tests' runner
    for req, version in _specs(PYPROJECT["build-system"]["requires"]).items():
        assert env[req] == version
    assert {"pip", "pytest", "hypothesis"} <= set(env)
    assert not {"ruff", "mypy", "pandas-stubs"} & set(env)  # lint tools check the code, not the install


def test_a_dependency_added_to_pyproject_alone_is_caught():
    spec = {**PYPROJECT, "project": dict(PYPROJECT["project"])}
    spec["project"]["dependencies"] = [*spec["project"]["dependencies"], "duckdb-extra-thing>=2"]
    assert envgen.render(spec) != envgen.render(PYPROJECT)
    assert "  - duckdb-extra-thing>=2\n" in envgen.render(spec)


def test_generator_check_mode_and_docstrings(tmp_path, monkeypatch):
    assert envgen.main(["--check"]) == 0
    monkeypatch.setattr(envgen, "ROOT", tmp_path)  # an out-of-date (here: missing) file is reported, not written
    (tmp_path / "pyproject.toml").write_bytes((REPO / "pyproject.toml").read_bytes())
    monkeypatch.setattr(envgen, "load", lambda path=tmp_path / "pyproject.toml": PYPROJECT)
    assert envgen.main(["--check"]) == 1 and not (tmp_path / "environment.yml").exists()
    assert envgen.main([]) == 0
    assert (tmp_path / "environment.yml").read_bytes() == (REPO / "environment.yml").read_bytes()
    monkeypatch.undo()
    result = doctest.testmod(envgen, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_make_targets_for_lab_and_environment_yml():
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^environment\.yml: pyproject\.toml scripts/environment_yml\.py$", make, re.M)
    assert re.search(r"^lab: \$\(STAMP\)$", make, re.M)
    assert "djs dummy --scale small --out dummy/small" in make and "jupyter lab --ServerApp.root_dir=notebooks" in make
    assert "pip install --quiet -e '.[test,lab]'" in make  # `make install` installs the front end
    # the notebooks read the extract `make lab` generates
    for nb in sorted((REPO / "notebooks").glob("*.py")):
        assert 'data_root: str = "../dummy/small"' in nb.read_text(encoding="utf-8"), nb.name


@pytest.mark.parametrize("doc", ["README.md", "docs/workflow.md"])
def test_install_sections_name_no_package_versions_by_hand(doc):
    text = (REPO / doc).read_text(encoding="utf-8")
    names = requirement_names(PYPROJECT["project"]["dependencies"]) | {"jupyterlab"}
    by_hand = [n for n in sorted(names) if re.search(rf"\b{re.escape(n)}\s*(>=|==)", text, re.I)]
    assert not by_hand, f"{doc} lists versions of {by_hand}: point to pyproject.toml instead"
    assert "make environment.yml" in text and "make lab" in text


@pytest.mark.slow
def test_make_environment_yml_runs_and_changes_nothing():
    done = subprocess.run(
        ["make", "-s", "-B", "environment.yml", f"PYTHON={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert envgen.main(["--check"]) == 0


@pytest.mark.slow
def test_make_lab_serves_the_notebooks_with_jupytext_and_the_kernel(tmp_path):
    stamp = REPO / ".venv" / ".installed-stamp"
    if not stamp.is_file() or stamp.stat().st_mtime < (REPO / "pyproject.toml").stat().st_mtime:
        pytest.skip("make lab needs the installed .venv (make install)")
    if not (REPO / "dummy" / "small").is_dir():
        pytest.skip("dummy/small is generated by make run (make lab would generate it: minutes)")
    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "djs-test"
    args = f"--no-browser --allow-root --ServerApp.ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    log = (tmp_path / "lab.log").open("wb")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(
        ["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=REPO, stdout=log, stderr=log, env=env, start_new_session=True
    )

    def get(path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={token}", timeout=10) as r:
            return json.loads(r.read())

    try:
        for _ in range(120):  # up to a minute for the server to start
            try:
                contents = get("/api/contents")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start: " + (tmp_path / "lab.log").read_text(errors="replace")[-2000:])
        names = {c["name"] for c in contents["content"]}
        assert {"10_reentry.ipynb", "10_reentry.py"} <= names  # the server's root is notebooks/
        paired = get("/api/contents/10_reentry.py")
        assert (paired["type"], paired["format"]) == ("notebook", "json")  # jupytext opens the .py as a notebook
        specs = get("/api/kernelspecs")
        assert specs["default"] == "python3" and "python3" in specs["kernelspecs"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make and the server it started, nothing else
        proc.wait(timeout=30)
        log.close()
