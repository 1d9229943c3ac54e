"""Shared fixtures: the tiny dummy extract, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `tiny` dummy extract (seed 0) as Parquet, generated once per session."""
    from djs_toolkit import dummy

    return dummy.generate(tmp_path_factory.mktemp("tiny") / "extract", scale="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_extract(tiny_extract_dir: Path):
    """The tiny dummy extract opened with `open_extract`."""
    from djs_toolkit import open_extract

    return open_extract(tiny_extract_dir)


@pytest.fixture(scope="session")
def small_extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `small` dummy extract (about 100k persons, seed 0) as Parquet, generated once per session."""
    from djs_toolkit import dummy

    return dummy.generate(tmp_path_factory.mktemp("small") / "extract", scale="small", seed=0)


@pytest.fixture(scope="session")
def small_nolink_extract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `small` extract of seed 0 without linkage error (`DummyConfig.without_linkage_error`), generated once."""
    from djs_toolkit import dummy
    from djs_toolkit.dummy import DummyConfig

    return dummy.generate(
        tmp_path_factory.mktemp("small_nolink") / "extract",
        scale="small",
        seed=0,
        config=DummyConfig().without_linkage_error(),
    )


@pytest.fixture(autouse=True)
def _own_ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Each test gets its own default differencing ledger (`sdc.project_ledger`), never the repository's `.djs/`.

    Docstring examples run with the ledger off: a module's examples are unrelated tables that share one test.
    """
    if request.node.name.startswith("test_docstring_examples"):
        monkeypatch.setenv("DJS_LEDGER", "off")
    else:
        monkeypatch.setenv("DJS_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger"))


@pytest.fixture()
def stage(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Batch mode as `djs run` sets it up: records go to tmp_path/stage under profile srs, outputs are named `t1.`.

    The differencing ledger is the test's own (a fresh temporary folder): a test never writes into the repository's
    `.djs/` (the runner's stage contract passes `DJS_LEDGER` on; without it a Session falls back to the project's).
    A test changes the profile or run name with `monkeypatch.setenv` after asking for this fixture.
    """
    from djs_toolkit.outputs import stage as runner_stage

    folder = tmp_path / "stage"
    monkeypatch.setenv(runner_stage.ENV_STAGE, str(folder))
    monkeypatch.setenv(runner_stage.ENV_PROFILE, "srs")
    monkeypatch.setenv(runner_stage.ENV_RUN_NAME, "t1")
    monkeypatch.setenv(runner_stage.ENV_LEDGER, str(tmp_path_factory.mktemp("ledger") / "ledger"))
    return folder
