"""Tests for djs_toolkit.dummy.cli."""

from __future__ import annotations

from pathlib import Path

import pytest

from djs_toolkit.dummy.cli import build_parser, cli_main


def test_cli_writes_an_extract_and_reports_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["--scale", "tiny", "--seed", "4", "--out", str(tmp_path / "e"), "--format", "csv"]) == 0
    assert (tmp_path / "e" / "xjs_link.csv").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("keep", encoding="utf-8")
    assert cli_main(["--out", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert "not a dummy extract" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--out", "x", "--scale", "galactic"])
