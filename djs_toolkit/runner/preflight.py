"""What `djs run` checks before its first kernel starts, so a run fails early, once, with the fix.

- the extract validates (`validate_data`): the same errors `djs validate` reports stop the run, unless
  `--allow-invalid`, which the clearance pack then records;
- every folder it will write is writable (`check_writable`), not found out after every notebook ran;
- the run's own files and the differencing ledger are readable (`read_run_json`, `check_ledger`), each damaged file
  named with what to do;
- one `djs run` at a time per run folder, and per shared ledger (`hold_locks`);
- `--resume` finds the run it continues and refuses other settings than the run's (`start_run`).

Every run's parameters were checked before these, when `pipeline.yaml` loaded (`runner.params`): types, declared
choices, and each event-selector parameter parsed (`spine.parse_selector`), so a misspelt disposal or column stops
the run here, with the valid columns and values, not in a kernel.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import FileLock, LockHeld, describe_holder
from djs_toolkit.sdc.ledger import Ledger

__all__ = [
    "LOCK_FILE",
    "check_ledger",
    "check_writable",
    "hold_locks",
    "json_damaged",
    "read_run_json",
    "validate_data",
]

LOCK_FILE = "run.lock"


def read_run_json(path: Path, fix: str) -> dict[str, Any]:
    """A run file (`run.json`) as a dict, or one DJSUserError naming the file and `fix` when it is damaged.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "run.json"; _ = p.write_text("")
        >>> read_run_json(p, "start a new run")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: .../run.json is damaged (not valid JSON): start a new run.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise DJSUserError(f"{path} is damaged (not valid JSON): {fix}.")
    return doc


def json_damaged(path: Path) -> bool:
    """True when `path` exists but does not hold a JSON object (a done-marker cut short, say).

    Example:
        >>> json_damaged(Path("no-such-file.json"))
        False
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return not isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return True


def _nearest_existing(folder: Path) -> Path:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return folder


def check_writable(folders: dict[str, Path]) -> None:
    """Refuse, with the folder named, when a folder the run will write cannot be written (nothing is left behind).

    A folder that does not exist yet is checked at its nearest existing parent, where it would be created.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "file").write_text("x")
        1
        >>> check_writable({"--outputs": d / "file" / "outputs"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: --outputs .../file/outputs: cannot be created: `.../file` is a file, not a folder...
    """
    problems = []
    for what, folder in folders.items():
        folder = Path(folder)
        base = _nearest_existing(folder)
        if not base.is_dir():
            problems.append(f"{what} {folder}: cannot be created: `{base}` is a file, not a folder")
            continue
        probe = base / f".djs-write-test-{secrets.token_hex(4)}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            problems.append(f"{what} {folder}: cannot write in `{base}` ({type(exc).__name__})")
    if problems:
        raise DJSUserError(
            "; ".join(problems) + ": nothing was run. Choose folders you can write to (--runs, --outputs, --ledger) "
            "or fix their permissions."
        )


def check_ledger(path: Path, own: bool) -> None:
    """Refuse a damaged differencing ledger before any notebook writes to it, naming the damaged file.

    Args:
        path: the ledger folder (absent: nothing to check).
        own: the run's own ledger (`runs/<run_id>/ledger`) rather than one shared with `--ledger`.

    Example:
        >>> check_ledger(Path("no-such-ledger"), own=True)
    """
    path = Path(path)
    if not path.is_dir():
        return
    again = (
        "start a new run (`djs run` without --resume): its ledger is rebuilt"
        if own
        else "restore it from a backup, or point --ledger at a new folder"
    )
    bad = []
    if (path / "salt.txt").exists() and len((path / "salt.txt").read_text(encoding="utf-8").strip()) != 16:
        bad.append(path / "salt.txt")
    if (path / "ledger.json").exists() and json_damaged(path / "ledger.json"):
        bad.append(path / "ledger.json")
    entries = path / "entries"
    if entries.is_dir():
        bad += [f for f in sorted(entries.glob("*.json")) if json_damaged(f)]
    if bad:
        raise DJSUserError(
            f"the differencing ledger has {len(bad)} damaged file(s): {', '.join(str(b) for b in bad[:5])}"
            f"{' ...' if len(bad) > 5 else ''}: {again}. Nothing was run."
        )
    if (path / "ledger.json").exists():
        try:
            _ = Ledger(path).salt  # the hash check: a ledger from an incompatible version fails closed here
        except DJSUserError as exc:
            raise DJSUserError(f"{exc} Nothing was run.") from None


def hold_locks(run_dir: Path, ledger: Path | None, rid: str, echo: Callable[[str], None]) -> list[FileLock]:
    """Take the run folder's lock (and a shared ledger's): one `djs run` at a time; a dead holder's lock taken over.

    Raises:
        DJSUserError: another live `djs run` holds one of them (it is named: pid, host, start time).
    """
    held: list[FileLock] = []
    wanted = [("run", FileLock(run_dir / LOCK_FILE, f"djs run {rid}"))]
    if ledger is not None:
        wanted.append(("ledger", Ledger(ledger).lock(f"djs run {rid}")))
    try:
        for what, lock in wanted:
            replaced = lock.acquire()
            held.append(lock)
            if replaced is not None:
                echo(f"took over the {what} lock of {describe_holder(replaced)}, which is no longer running")
    except LockHeld as exc:
        for lock in held:
            lock.release()
        subject = f"run {rid}" if exc.path.name == LOCK_FILE else f"the ledger {exc.path.parent}"
        raise DJSUserError(
            f"{subject} is in use by another `djs run`: {describe_holder(exc.holder)}. Wait for it to finish (or stop "
            f"it); if that process is no longer running, delete {exc.path} and try again."
        ) from None
    return held


def validate_data(data_root: Path, allow_invalid: bool, echo: Callable[[str], None]) -> dict[str, Any] | None:
    """Validate the extract as `djs validate` does; stop on errors unless `allow_invalid`.

    Every table in the extract is needed (the spine reads them all), so any error in one stops the run. A folder with
    no table at all is let through for notebooks that read no extract (each notebook that opens it says so).

    Returns:
        What the clearance pack records when `--allow-invalid` was given (None otherwise).

    Raises:
        DJSUserError: validation found errors, each listed with its fix.
    """
    from djs_toolkit.data import open_extract

    report = open_extract(data_root).validate()
    errors = report.problems[report.problems["severity"] == "error"]
    if set(errors["kind"]) == {"no_tables"}:
        echo(f"validation: no Data First table in {data_root}; notebooks that read the extract will say so")
        return {"allow_invalid": True, "errors": []} if allow_invalid else None
    echo(f"validation: {report.n_errors} error(s), {report.n_warnings} warning(s)")
    rows = errors.to_dict("records")
    listed = [
        {
            "table": r["table"],
            "column": r["column"],
            "kind": r["kind"],
            "count": int(r["count"]),
            "message": r["message"],
        }
        for r in rows
    ]
    if listed and not allow_invalid:
        lines = [
            f"  - [{r['kind']}] {r['table']}{'.' + r['column'] if r['column'] else ''}: {r['message']}\n"
            f"      fix: {r['fix']}"
            for r in rows
        ]
        raise DJSUserError(
            f"the extract in {data_root} has {len(listed)} validation error(s) (`djs validate` lists the same); "
            "nothing was run:\n" + "\n".join(lines) + "\nFix them and run again, or pass --allow-invalid to run "
            "anyway (the clearance pack then says so)."
        )
    if not allow_invalid:
        return None
    if listed:
        echo(f"--allow-invalid: running despite {len(listed)} validation error(s); the clearance pack records them")
    return {"allow_invalid": True, "errors": listed}


def _latest_incomplete(runs_dir: Path, outputs_dir: Path) -> str:
    fix = "resume another run with --run-id, or delete that run's folder"
    cands = (
        [
            (read_run_json(d / "run.json", fix).get("started_ns", 0), d.name)
            for d in sorted(runs_dir.iterdir())
            if (d / "run.json").is_file()
        ]
        if runs_dir.is_dir()
        else []
    )
    pending = [name for _, name in sorted(cands) if not (outputs_dir / name).exists()]
    if not pending:
        raise DJSUserError(f"--resume: no unfinished run in {runs_dir}: start a new run without --resume.")
    return pending[-1]


def start_run(
    runs_dir: Path,
    outputs_dir: Path,
    data: str | None,
    profile: str | None,
    only: str | None,
    resume: bool,
    run_id: str | None,
    new_id: Callable[[], str],
) -> tuple[str, dict[str, Any]]:
    """The run's id and settings: a new run's (`new_id()`), or those of the run `--resume` continues (its run.json).

    Raises:
        DJSUserError: no run to resume, a damaged run.json, or settings that differ from the resumed run's.
    """
    if not resume:
        return run_id or new_id(), {"data": data, "profile": profile or "srs", "only": only}
    rid = run_id or _latest_incomplete(runs_dir, outputs_dir)
    info_path = runs_dir / rid / "run.json"
    if not info_path.is_file():
        raise DJSUserError(f"--resume: run {rid} not found in {runs_dir}.")
    info = read_run_json(info_path, "this run cannot be resumed: start a new run (without --resume)")
    for key, given in (("data", data), ("profile", profile), ("only", only)):
        if (
            given is not None
            and given != info.get(key)
            and not (key == "data" and info.get("data_root") and Path(given).resolve() == Path(info["data_root"]))
        ):
            raise DJSUserError(
                f"--resume: run {rid} used --{key} {info.get(key)!r}, not {given!r}: resume with the "
                f"same settings or start a new run."
            )
    return rid, info
