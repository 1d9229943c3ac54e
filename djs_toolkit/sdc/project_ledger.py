"""Where the differencing ledger lives by default: one persistent ledger per project, under `<project>/.djs/ledger`.

Every `Session` and `outputs.save_table` check their outputs against every output the project has released before
(docs/disclosure.md §7.4), whichever notebook, Session object or process made it, unless the ledger is switched off
explicitly (`Session(ledger=False)`, or `DJS_LEDGER=off` in the environment); an output checked without the ledger
says so in the clearance pack. Under `djs run` the runner names the ledger in `DJS_LEDGER` (and holds its lock).

The project is the nearest folder at or above the working folder holding `pipeline.yaml`, `pyproject.toml` or
`.git` (Jupyter starts kernels in the notebook's folder); the working folder itself when there is none. `.djs/` is
checker-only: git-ignored, never released.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_LEDGER", "OFF", "default_ledger", "project_root"]

ENV_LEDGER = "DJS_LEDGER"
OFF = ("off", "none", "false", "0", "no")


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working folder) holding pipeline.yaml, pyproject.toml
    or .git; `start` itself when there is none.

    Example:
        >>> project_root(Path("/")) == Path("/")
        True
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in ("pipeline.yaml", "pyproject.toml", ".git")):
            return folder
    return here


def default_ledger(start: Path | None = None) -> Path | None:
    """The ledger folder a Session uses when none is given: `DJS_LEDGER`, else `<project>/.djs/ledger`; None = off.

    Example:
        >>> import tempfile
        >>> here = Path(tempfile.mkdtemp())
        >>> old = os.environ.pop(ENV_LEDGER, None)
        >>> default_ledger(here) == here.resolve() / ".djs" / "ledger"
        True
        >>> os.environ[ENV_LEDGER] = "off"; default_ledger(here) is None
        True
        >>> _ = os.environ.pop(ENV_LEDGER) if old is None else os.environ.update({ENV_LEDGER: old})
    """
    env = os.environ.get(ENV_LEDGER, "").strip()
    if env:
        return None if env.lower() in OFF else Path(env)
    return project_root(start) / ".djs" / "ledger"
