"""The fault suite's tools: damage for an extract, small notebooks, the `djs` command run as a researcher runs it,
and a scan of everything printed or written for the extract's ids and planted values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from djs_toolkit.cli import main

PARAMS = 'data_root: str = ""  # injected\nprofile: str = "srs"  # injected\n'
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
_BINARY = {".parquet", ".npy", ".npz", ".png"}


def plant_latin1(path: Path, where: str = "last") -> list[str]:
    """Turn `"White"` into Latin-1 `"Whit\\xe9"` on the first or last line holding it; returns what must never show."""
    lines = path.read_bytes().split(b"\n")
    hits = [i for i, line in enumerate(lines) if b'"White"' in line]
    i = hits[0] if where == "first" else hits[-1]
    lines[i] = lines[i].replace(b'"White"', b'"Whit\xe9"', 1)
    path.write_bytes(b"\n".join(lines))
    fields = [f.strip('"') for f in lines[i].decode("latin-1").split(",")]
    # Its ids and area code (distinctive enough to search for) and the value itself, as bytes or either decoding.
    return [f for f in fields if re.fullmatch(r"[0-9a-f]{12,}|[EW]0\d{7}", f)] + ["Whit\xe9", "Whit\ufffd"]


def write_notebook(path: Path, *cells: str, kernelspec: dict | None = None) -> Path:
    """A notebook whose first cell (the parameters cell) declares the injected parameters plus `cells[0]`."""
    nb = nbformat.v4.new_notebook()
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
    nb.cells = [nbformat.v4.new_code_cell(PARAMS + cells[0])] + [nbformat.v4.new_code_cell(c) for c in cells[1:]]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


COUNTS = (
    "n: int = 30  # records",
    "import pandas as pd\nfrom djs_toolkit import outputs\n\noutputs.configure(profile=profile)\n"
    "records = pd.DataFrame({'court': ['a', 'b', 'c'] * n})\n"
    "outputs.save_table(records.groupby('court').size().rename('n'), 'by_court', 'records by court', 'synthetic')",
)


def cli(*args: str | Path, capsys) -> tuple[int, str, str]:
    """`djs ARGS` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def djs(*args: str | Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`djs ARGS` as its own process, as a researcher runs it."""
    return subprocess.run(
        [sys.executable, "-m", "djs_toolkit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def djs_popen(*args: str | Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "djs_toolkit.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # Ctrl-C goes to the whole group, as in a terminal
    )


def written_text(*folders: Path) -> dict[str, str]:
    """Every text file under `folders` (the spine cache and the ledger's arrays are binary, row-level by design)."""
    out = {}
    for folder in folders:
        if not folder.exists():
            continue
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.suffix not in _BINARY and "spine" not in p.parts:
                out[str(p)] = p.read_text(encoding="utf-8", errors="replace")
    return out


def assert_no_leak(texts: list[str] | dict[str, str], ids: frozenset[str], planted: tuple[str, ...] = ()) -> None:
    """No id of the extract and no planted value in anything printed or written."""
    items = texts.items() if isinstance(texts, dict) else enumerate(texts)
    for where, text in items:
        found = set(_TOKEN.findall(text)) & ids
        assert not found, f"{where}: holds {len(found)} id(s) of the extract"
        for value in planted:
            assert value not in text, f"{where}: holds a planted value"


def assert_one_clear_error(code: int, err: str, expected_code: int = 2) -> None:
    """Exit status as expected, one `error:` message, no traceback."""
    assert code == expected_code, err
    assert "Traceback" not in err and err.count("error:") == 1, err
