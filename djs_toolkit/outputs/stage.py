"""Run context (environment set by the runner) and staged output records.

The runner hands a notebook its context through environment variables, so the same notebook runs unchanged in
Jupyter (interactive defaults) and in batch:

| variable        | batch value (set by `djs run`)            | interactive default                 |
|-----------------|-------------------------------------------|-------------------------------------|
| `DJS_STAGE_DIR` | `runs/<run_id>/stage/<label>`             | `<project>/outputs/_interactive`    |
| `DJS_PROFILE`   | the run's profile (`--profile`)           | `srs` (or `outputs.configure(...)`) |
| `DJS_LEDGER`    | `runs/<run_id>/ledger`                    | none                                |
| `DJS_RUN_NAME`  | the run's label (prefix of every output)  | empty                               |

Each save_* call writes one self-contained *record* at once: the output checker's own clearance folder for that one
output (`release/`, `results.json`, `CLEARANCE.md`, `checker_only/`, `manifest-sha256.txt`), built under a hidden
temporary name and renamed into place. A killed kernel therefore leaves only complete records (plus a hidden
temporary folder the runner ignores and removes), and no `finish()` cell is needed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import (
    atomic_write_bytes,
    atomic_write_json,
    check_sha256_manifest,
    project_root,
    write_sha256_manifest,
)
from djs_toolkit.sdc import Output, Session

__all__ = [
    "ENV_DATA_ROOT",
    "ENV_LEDGER",
    "ENV_PROFILE",
    "ENV_RUN_NAME",
    "ENV_STAGE",
    "NAME_RULE",
    "RunContext",
    "configure",
    "current_context",
    "name_problems",
    "project_root",
    "record_problems",
    "write_record",
]

ENV_STAGE, ENV_PROFILE, ENV_LEDGER = "DJS_STAGE_DIR", "DJS_PROFILE", "DJS_LEDGER"
ENV_RUN_NAME, ENV_DATA_ROOT = "DJS_RUN_NAME", "DJS_DATA_ROOT"
# Short, lower-case names: Windows paths stay under 260 characters (docs/workflow.md §3.3) and names that
# differ only in case cannot collide on a case-insensitive file system. `.` is reserved as the label separator.
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_OVERRIDES: dict[str, str] = {}


@dataclass(frozen=True)
class RunContext:
    """Where and how outputs are staged for the current notebook run.

    Example:
        >>> RunContext(Path("s"), "srs", None, "km-prison", True).uid("table1")
        'km-prison.table1'
    """

    stage_dir: Path
    profile: str
    ledger: str | None
    run_name: str
    batch: bool

    def uid(self, name: str) -> str:
        """The output's id in the run's bundle: `<label>.<name>` in batch, `<name>` interactively.

        Example:
            >>> RunContext(Path("s"), "srs", None, "", False).uid("t")
            't'
        """
        return f"{self.run_name}.{name}" if self.run_name else name


def configure(profile: str | None = None, stage_dir: str | Path | None = None) -> RunContext:
    """Choose the profile (and staging folder) for interactive work; in batch, only confirms the runner's profile.

    A notebook may call `configure(profile=profile)` after its parameters cell: interactively it makes the
    `profile` parameter take effect; under `djs run` it checks the runner injected the same profile.

    Example:
        >>> configure(profile="srs").profile
        'srs'
    """
    ctx = current_context()
    if ctx.batch:
        if profile is not None and str(profile) != ctx.profile:
            raise DJSUserError(
                f"configure(profile={profile!r}) differs from the runner's profile {ctx.profile!r}: "
                f"use the injected `profile` parameter."
            )
        if stage_dir is not None:
            raise DJSUserError("configure(stage_dir=...) is for interactive use: the runner chooses the folder.")
        return ctx
    if profile is not None:
        from djs_toolkit.sdc import load_profile

        load_profile(profile)  # an unknown profile is reported now, not at the first save
        _OVERRIDES["profile"] = str(profile)
    if stage_dir is not None:
        _OVERRIDES["stage_dir"] = str(stage_dir)
    return current_context()


def current_context() -> RunContext:
    """The context from the environment (batch) or the interactive defaults.

    Example:
        >>> current_context().batch in (True, False)
        True
    """
    env = os.environ
    stage = env.get(ENV_STAGE, "")
    if stage:
        return RunContext(
            Path(stage), env.get(ENV_PROFILE) or "srs", env.get(ENV_LEDGER) or None, env.get(ENV_RUN_NAME, ""), True
        )
    folder = _OVERRIDES.get("stage_dir") or str(project_root() / "outputs" / "_interactive")
    profile = _OVERRIDES.get("profile") or env.get(ENV_PROFILE) or "srs"
    return RunContext(Path(folder), profile, env.get(ENV_LEDGER) or None, "", False)


def name_problems(name: object, what: str = "output name") -> list[str]:
    """Problems with an output name or run label (empty list = usable).

    Example:
        >>> name_problems("KM table")  # doctest: +NORMALIZE_WHITESPACE
        ["output name 'KM table' is not usable: use 1-32 lower-case letters, digits, _ or - (starting with a letter
        or digit)"]
    """
    if isinstance(name, str) and NAME_RULE.match(name):
        return []
    return [
        f"{what} {name!r} is not usable: use 1-32 lower-case letters, digits, _ or - (starting with a letter or digit)"
    ]


def write_record(
    ctx: RunContext,
    name: str,
    output: Output,
    figure_png: bytes | None = None,
    sidecars: dict[str, bytes] | None = None,
) -> Path:
    """Stage one checked output as a complete record `<stage_dir>/<name>/` (atomic; see the module docstring).

    The record is the output checker's `finalise` folder for this output alone; a figure is added to its
    `release/` beside the underlying table, and the record's sha256 manifest is rewritten to cover it.

    Example:
        >>> import tempfile, pandas as pd
        >>> ctx = RunContext(Path(tempfile.mkdtemp()), "srs", None, "", False)
        >>> o = Session().crosstab(pd.Series(["a"] * 20, name="g"), pd.Series(["x"] * 20, name="c"), name="t")
        >>> sorted(p.name for p in (write_record(ctx, "t", o) / "release").iterdir())
        ['t.csv']
    """
    stage = Path(ctx.stage_dir)
    stage.mkdir(parents=True, exist_ok=True)
    final = stage / name
    if ctx.batch and final.exists():
        raise DJSUserError(f"Output {name!r} was already saved in this run: give each output its own name.")
    tmp = stage / f".tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        session = Session(ctx.profile, ledger=ctx.ledger, run=ctx.run_name)
        session.outputs[output.name] = output
        rec = session.finalise(tmp / "r")
        table_file = rec / "release" / f"{output.name}.csv"
        if figure_png is not None and table_file.is_file():
            atomic_write_bytes(rec / "release" / f"{output.name}.png", figure_png)
            doc = json.loads((rec / "results.json").read_text(encoding="utf-8"))
            entry = doc["results"][output.name]
            entry["files"].append({"name": f"release/{output.name}.png", "sdc": entry["files"][0]["sdc"]})
            atomic_write_json(rec / "results.json", doc)
        if sidecars and output.status != "fail":  # e.g. a text output's number sources: `<uid><suffix>` beside it
            doc = json.loads((rec / "results.json").read_text(encoding="utf-8"))
            entry = doc["results"][output.name]
            for suffix, data in sidecars.items():
                atomic_write_bytes(rec / "release" / f"{output.name}{suffix}", data)
                entry["files"].append({"name": f"release/{output.name}{suffix}", "sdc": {"summary": {}, "cells": {}}})
            atomic_write_json(rec / "results.json", doc)
        write_sha256_manifest(rec)
        if final.exists():  # interactive re-run of a cell: the new record replaces the old one
            os.replace(final, tmp / "old")
        os.replace(rec, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def record_problems(record: Path) -> list[str]:
    """Why a staged record is incomplete or altered (empty list = complete and valid).

    Example:
        >>> record_problems(Path("no-such-record"))
        ['no-such-record: manifest-sha256.txt missing (incomplete record)']
    """
    record = Path(record)
    if not (record / "manifest-sha256.txt").is_file() or not (record / "results.json").is_file():
        return [f"{record.name}: manifest-sha256.txt missing (incomplete record)"]
    return [f"{record.name}: {p}" for p in check_sha256_manifest(record)]
