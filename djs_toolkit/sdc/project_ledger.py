"""Where the differencing ledger lives by default: one persistent ledger per project, under `<project>/.djs/ledger`.

Every `Session` and `outputs.save_table` check their outputs against every output the project has released before
(docs/disclosure.md §7.4), whichever notebook, Session object or process made it, unless the ledger is switched off
explicitly (`Session(ledger=False)`, or `DJS_LEDGER=off` in the environment); an output checked without the ledger
says so in the clearance pack.

Under `djs run` (`runner_ledger`) the project ledger is used by default too, under its lock for the whole run. The
kernels record into the run's own ledger (`runs/<run_id>/ledger`) holding the project's hash key
(`seed_run_ledger`), so a notebook sees only its own run's outputs and the same pipeline always gives the same
findings; once every notebook has finished the runner links the project's earlier entries in
(`import_entries`), compares every output with them and with the earlier runs of the pipeline, and links the
released entries back into the project (`publish_entries`). A rerun's outputs have the ids of the entries they
repeat, so a rerun adds nothing to the project ledger and is compared exactly as the first run was.

The project is the nearest folder at or above the working folder holding `pipeline.yaml`, `pyproject.toml` or
`.git` (Jupyter starts kernels in the notebook's folder); the working folder itself when there is none. `.djs/` is
checker-only: git-ignored, never released.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import project_root
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry

__all__ = [
    "ENV_LEDGER",
    "OFF",
    "default_ledger",
    "import_entries",
    "is_off",
    "project_root",
    "publish_entries",
    "runner_ledger",
    "seed_run_ledger",
]

ENV_LEDGER = "DJS_LEDGER"
OFF = ("off", "none", "false", "0", "no")


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


def is_off(value: object) -> bool:
    """True for the words that switch the ledger off (`off`, `none`, `false`, `0`, `no`, any case).

    Example:
        >>> is_off("OFF"), is_off("ledger"), is_off(None)
        (True, False, False)
    """
    return isinstance(value, str | Path) and str(value).strip().lower() in OFF


def runner_ledger(value: str | Path | None, root: Path) -> Path | None:
    """The project ledger a `djs run` uses: `value` (`--ledger`: a folder, or `off`), else `DJS_LEDGER`, else
    `<root>/.djs/ledger`; None = switched off (the run is then compared within itself only, and says so).

    Example:
        >>> old = os.environ.pop(ENV_LEDGER, None)
        >>> runner_ledger(None, Path("/p")) == Path("/p").resolve() / ".djs" / "ledger"
        True
        >>> runner_ledger("off", Path("/p")) is None
        True
        >>> _ = None if old is None else os.environ.update({ENV_LEDGER: old})
    """
    if value is not None and str(value).strip():
        return None if is_off(value) else Path(value).expanduser().resolve()
    folder = default_ledger(root)
    return None if folder is None else folder.resolve()


def _link(src: Path, dst: Path) -> None:
    """`dst` as a hard link to `src` (ledger files are never rewritten, so sharing them is safe); a copy where the
    file system has no hard links. Through a temporary name: a reader never sees half a file."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def seed_run_ledger(project: Path, run_ledger: Path) -> None:
    """Give a run's ledger the project ledger's hash key (created with the project ledger on first use), so the
    records of both link; refuses a run ledger keyed otherwise.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); seed_run_ledger(d / "project", d / "run")
        >>> Ledger(d / "run").salt == Ledger(d / "project").salt
        True
    """
    _ = Ledger(project).salt
    for name in ("README-DO-NOT-RELEASE.txt", "salt.txt", "ledger.json"):
        src, dst = Path(project) / name, Path(run_ledger) / name
        if name == "salt.txt" and dst.exists() and dst.read_bytes() != src.read_bytes():
            raise DJSUserError(
                f"The run's ledger {run_ledger} has another hash key than the project's ledger {project} (replaced "
                "since the run started?): start a new run (`djs run` without --resume)."
            )
        _link(src, dst)


def _link_entry(src: Ledger, dst: Ledger, entry: LedgerEntry) -> None:
    if src.path is None or dst.path is None:
        raise DJSUserError("Entries are linked between ledger folders only.")
    if entry.keyset:
        _link(src.path / "keysets" / f"{entry.keyset}.npy", dst.path / "keysets" / f"{entry.keyset}.npy")
    for suffix in (".labels.npy", ".cells.npz", ".json"):  # the json last: an entry exists once its json exists
        f = src.path / "entries" / f"{entry.id}{suffix}"
        if f.exists():
            _link(f, dst.path / "entries" / f.name)


def import_entries(project: Ledger, run: Ledger) -> set[str]:
    """Link every entry of the project ledger that the run's ledger lacks into it; returns their ids (the outputs
    released before this pipeline, which the runner compares with every output of the run).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); seed_run_ledger(d / "p", d / "r")
        >>> e = Ledger(d / "p").add("t", "table", "count", "pass", (), None, None, None, None, None)
        >>> import_entries(Ledger(d / "p"), Ledger(d / "r")) == {e.id}, [x.name for x in Ledger(d / "r").entries()]
        (True, ['t'])
    """
    have = {e.id for e in run.entries()}
    fresh = [e for e in project.entries() if e.id not in have]
    for e in fresh:
        _link_entry(project, run, e)
    return {e.id for e in fresh}


def publish_entries(run: Ledger, project: Ledger, ids: set[str]) -> int:
    """Link the run's released entries `ids` into the project ledger; an entry it already holds (a rerun's) is left
    as it is. Returns how many were added.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); seed_run_ledger(d / "p", d / "r")
        >>> e = Ledger(d / "r").add("t", "table", "count", "pass", (), None, None, None, None, None, run="a")
        >>> [publish_entries(Ledger(d / "r"), Ledger(d / "p"), {e.id}) for _ in range(2)]
        [1, 0]
    """
    have = {e.id for e in project.entries()}
    added = 0
    for e in run.entries():
        if e.id in ids and e.id not in have:
            _link_entry(run, project, e)
            added += 1
    return added
