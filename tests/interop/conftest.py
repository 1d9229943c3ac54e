"""The output checkers' own tools on our bundles (issue 19 item 3): ACRO 1.0.2's loader and SACRO-Viewer.

They run from `.venv-interop` (`make interop`, requirements-interop.txt: ACRO wants pandas <= 2.3.3, the viewer
Django < 4.2), in a subprocess. Without that venv these tests FAIL with what to do; DJS_SKIP_INTEROP=1 skips them,
and only when set explicitly. The bundles: one assembled from staged records (every kind of output, a withheld one
among them), one written by `djs check`, and one written by `djs run` on the tiny fixture notebooks.
DJS_INTEROP_BUNDLE=<folder> adds one of your own (a real run's bundle).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
BUNDLES = ["staged_bundle", "check_bundle", pytest.param("run_bundle", marks=pytest.mark.slow)]
if os.environ.get("DJS_INTEROP_BUNDLE"):  # a bundle of your own too: DJS_INTEROP_BUNDLE=outputs/<run_id>
    BUNDLES.append("given_bundle")
PIPELINE = """version: 1
notebooks:
  - notebook: nb/counts.ipynb
    timeout: 120
    sets:
      - {name: a, seed: 1}
  - notebook: nb/leaky.ipynb
"""


@pytest.fixture(scope="session")
def interop_python() -> Path:
    """The interop venv's python (DJS_INTEROP_PYTHON overrides): a missing venv fails, it never skips silently."""
    if os.environ.get("DJS_SKIP_INTEROP") == "1":
        pytest.skip("DJS_SKIP_INTEROP=1: the ACRO and SACRO-Viewer tests were skipped on request")
    given = os.environ.get("DJS_INTEROP_PYTHON")
    venv = ROOT / ".venv-interop"
    py = Path(given) if given else venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not py.is_file():
        pytest.fail(
            f"{py} not found: run `make interop` (ACRO and SACRO-Viewer from requirements-interop.txt), or set "
            "DJS_SKIP_INTEROP=1 to skip these tests explicitly",
            pytrace=False,
        )
    return py


@pytest.fixture(scope="session")
def given_bundle() -> Path:
    """The bundle or clearance folder named by DJS_INTEROP_BUNDLE (e.g. a real run's `outputs/<run_id>`)."""
    return Path(os.environ["DJS_INTEROP_BUNDLE"]).resolve()


@pytest.fixture(scope="session")
def staged_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.runner.test_bundle_clearance import build_bundle

    return build_bundle(tmp_path_factory.mktemp("staged"))


@pytest.fixture(scope="session")
def check_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`djs check` on a folder made elsewhere: a table with its counts, a figure, a file type that is blocked."""
    from djs_toolkit.cli import main
    from tests.runner.test_bundle_clearance import png_bytes

    d = tmp_path_factory.mktemp("check") / "from_stata"
    d.mkdir()
    t = pd.DataFrame({"court": ["A", "B"], "custody": [40, 33], "community": [51, 60]})
    t.to_csv(d / "courts.csv", index=False)
    t.to_csv(d / "courts.counts.csv", index=False)
    (d / "plot.png").write_bytes(png_bytes())
    (d / "model.exe").write_bytes(b"MZ")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d.parent)
        assert main(["check", str(d), "--project-id", "2024/9"]) == 1  # the blocked file fails
    return d.with_name("from_stata-checked")


@pytest.fixture(scope="session")
def run_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`djs run` on the tiny fixture notebooks (one of them leaks a row-level column: that output is withheld)."""
    from djs_toolkit.runner.run import run_pipeline

    root = tmp_path_factory.mktemp("run")
    (root / "nb").mkdir()
    (root / "data").mkdir()
    for name in ("counts", "leaky"):
        shutil.copy(FIXTURES / f"{name}.ipynb", root / "nb")
    (root / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    report = run_pipeline(
        root / "pipeline.yaml",
        data=str(root / "data"),
        outputs_dir=root / "outputs",
        runs_dir=root / "runs",
        echo=lambda s: None,
    )
    assert report.bundle is not None, report.rows
    return report.bundle
