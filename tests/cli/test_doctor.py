"""`djs doctor`: every check, and a fix on each failure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from djs_toolkit.cli import doctor


def test_all_checks_pass_in_the_project_environment(tmp_path, capsys):
    assert doctor.doctor(tmp_path, start_kernel=False) == 0
    out = capsys.readouterr().out
    names = {c.name for c in doctor.run_checks(tmp_path, start_kernel=False)}
    assert {
        "python",
        "pandas",
        "papermill",
        "kernel python3",
        "write outputs/",
        "write runs/",
        "path length",
        "import duckdb",
        "import highspy",
        "import lifelines",
        "import statsmodels",
        "djs_toolkit",
        "highspy",
        "jupytext",
        "lifelines",
        "jupyterlab",
    } <= names
    assert "FAIL" not in out and out.rstrip().endswith("checks passed.")


def test_checked_packages_are_pyprojects_runtime_dependencies_and_the_lab_extra():
    from tests.test_install import PYPROJECT, requirement_names

    spec = PYPROJECT
    names = {c.name for c in doctor._packages()}
    assert names == requirement_names(spec["project"]["dependencies"])
    assert {c.name for c in doctor._front_end()} == requirement_names(spec["project"]["optional-dependencies"]["lab"])
    assert {"highspy", "jupytext", "lifelines"} <= names


def test_jupyterlab_missing_or_old_is_a_warning_with_the_fix(monkeypatch):
    real = doctor.metadata.version

    def version(pkg: str) -> str:
        if pkg == "jupyterlab":
            raise doctor.metadata.PackageNotFoundError(pkg)
        return real(pkg)

    monkeypatch.setattr(doctor.metadata, "version", version)
    (check,) = doctor._front_end()
    assert (check.name, check.status) == ("jupyterlab", "warn")
    assert "not installed" in check.detail and "conda install 'jupyterlab>=4'" in check.fix
    monkeypatch.setattr(doctor.metadata, "version", lambda pkg: "3.6.1" if pkg == "jupyterlab" else real(pkg))
    (check,) = doctor._front_end()
    assert (check.status, check.detail) == ("warn", "3.6.1 (needs >= 4)")


def test_toolkit_not_installed_fails_with_the_install_command(monkeypatch):
    def missing(name: str) -> list[str]:
        raise doctor.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(doctor.metadata, "requires", missing)
    monkeypatch.setattr(doctor.metadata, "version", missing)
    assert doctor._minimums() == {}  # no list kept beside pyproject.toml's
    (check,) = doctor._installed()
    assert check.status == "fail" and check.fix.endswith("pip install --no-deps --no-build-isolation -e .")


def test_a_broken_highspy_fails_its_import_check(monkeypatch):
    def broken() -> None:
        raise ImportError("no highspy")

    monkeypatch.setattr(doctor, "_probe_highspy", broken)
    checks = {c.name: c for c in doctor._imports()}
    assert checks["import highspy"].status == "fail" and "ImportError" in checks["import highspy"].detail
    assert checks["import lifelines"].status == "ok"


@pytest.mark.slow
def test_kernel_start_imports_the_toolkit():
    check = doctor._start_kernel("fix")
    assert (check.status, check.detail) == ("ok", "started; imports djs_toolkit")


def test_an_old_package_fails_with_a_fix_and_exit_1(tmp_path, capsys, monkeypatch):
    old = {"pandas": "99.0", "no-such-package-djs": "1"}
    monkeypatch.setattr(doctor, "_minimums", lambda extra=None: {} if extra else old)
    assert doctor.doctor(tmp_path, start_kernel=False) == 1
    out = capsys.readouterr().out
    assert "FAIL  pandas: " in out and "(needs >= 99.0)" in out and "fix: upgrade: conda install 'pandas>=99.0'" in out
    assert "FAIL  no-such-package-djs: not installed" in out
    assert "fix the FAIL lines above" in out


def test_missing_kernelspec_and_unwritable_outputs_fail_with_fixes(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setattr(KernelSpecManager, "find_kernel_specs", lambda self: {"ir": "/x"})
    (check,) = doctor._kernel(start=True)
    assert check.status == "fail" and "ipykernel install --sys-prefix --name python3" in check.fix
    (tmp_path / "outputs").write_text("a file where the folder should be")
    checks = {c.name: c for c in doctor._writable(tmp_path)}
    assert checks["write outputs/"].status == "fail" and checks["write runs/"].status == "ok"


def test_path_length_against_windows_max_path(tmp_path):
    short = doctor.longest_path(tmp_path)
    long_root = tmp_path / ("x" * 120)
    assert doctor.longest_path(long_root) == short + 121
    assert doctor._paths(Path("/p")).status == "ok"  # a short project folder: ~210 characters at most
    check = doctor._paths(long_root)
    assert check.status == ("fail" if sys.platform == "win32" else "warn")
    assert "shorter folder" in check.fix


@pytest.mark.parametrize("status,tag", [("ok", "ok   "), ("warn", "warn "), ("fail", "FAIL ")])
def test_check_lines(status, tag):
    assert doctor.Check("x", status, "d", "f" if status == "fail" else "").line().startswith(tag + " x: d")
