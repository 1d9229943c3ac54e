"""results.json as ACRO 1.0.2 writes it, so the output checkers' own tools open every clearance folder and bundle.

ACRO's loader (`acro.record.load_records`) refuses a results.json whose top-level `version` is not its own release
string and indexes the first file of every output; SACRO-Viewer (the viewer output checkers use for ACRO outputs)
lists an output only with at least one file, checks each file against `checksums/<file name>.txt` and shows the
risk profile from `config.json` beside results.json. So, as the last step of writing a folder:
- `version` is ACRO's release (`ACRO_VERSION`); the toolkit's own version is kept under `djs_toolkit`;
- an output with no released file (status `fail`, withheld) gets one file, `withheld/<uid>.txt`, a notice that says
  it is withheld and names the rules that withheld it: never a value (tests/interop proves both tools accept it);
- `checksums/<file name>.txt` holds the sha256 of every output file, as ACRO writes them;
- `config.json` is the profile the outputs were checked under (the viewer's "risk profile" panel).
Files named in results.json are relative to the folder (`release/<uid>.csv`): both tools join them to it. The toolkit's
own readers take released files from `release/` only; a withheld notice is never a release candidate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from djs_toolkit._version import __version__
from djs_toolkit.fileio import atomic_write_text, sha256_file

__all__ = ["ACRO_VERSION", "CHECKSUMS", "WITHHELD", "export_acro", "release_files", "withheld_notice"]

ACRO_VERSION = "1.0.2"
WITHHELD = "withheld"
CHECKSUMS = "checksums"
_EMPTY_SDC: dict[str, dict[str, Any]] = {"summary": {}, "cells": {}}


def withheld_notice(uid: str, entry: dict[str, Any]) -> str:
    """The text of a withheld output's only file: its id, its status and the rules that withheld it, no values.

    Example:
        >>> print(withheld_notice("a.t", {"status": "fail", "fair": {"check_status": {"NKCheck": "fail"}}}), end="")
        a.t: WITHHELD, not released (status fail).
        The output checker withheld every file of this output. This notice holds no values.
        Withheld by: NKCheck.
        Why, in words: CLEARANCE.md, section "a.t".
    """
    status = entry.get("status", "fail")
    checks = entry.get("fair", {}).get("check_status", {})
    flags = entry.get("djs_toolkit", {}).get("output_flags", [])
    rules = sorted({r for r, s in checks.items() if s == "fail"} | {f["rule"] for f in flags if f["status"] == "fail"})
    return (
        f"{uid}: WITHHELD, not released (status {status}).\n"
        "The output checker withheld every file of this output. This notice holds no values.\n"
        f"Withheld by: {', '.join(rules) or 'the output checker'}.\n"
        f'Why, in words: CLEARANCE.md, section "{uid}".\n'
    )


def export_acro(folder: Path, doc: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Make `doc` (a results document whose files exist under `folder`) load in ACRO 1.0.2 and SACRO-Viewer.

    Writes the withheld notices, `checksums/` and `config.json` under `folder`; returns the document to write as
    `folder/results.json`. Call it after every output file is in place.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> doc = export_acro(d, {"version": "x", "results": {"a": {"status": "fail", "files": []}}}, {})
        >>> doc["version"], doc["results"]["a"]["files"][0]["name"], doc["djs_toolkit"]["version"] == __version__
        ('1.0.2', 'withheld/a.txt', True)
        >>> sorted(p.relative_to(d).as_posix() for p in d.rglob("*.txt"))
        ['checksums/withheld/a.txt.txt', 'withheld/a.txt']
    """
    folder = Path(folder)
    out = dict(doc)
    out["version"] = ACRO_VERSION
    out["djs_toolkit"] = {**doc.get("djs_toolkit", {}), "version": __version__}
    for uid, entry in doc.get("results", {}).items():
        if not entry.get("files"):
            name = f"{WITHHELD}/{uid}.txt"
            atomic_write_text(folder / name, withheld_notice(uid, entry))
            entry["files"] = [{"name": name, "sdc": _EMPTY_SDC}]
        for f in entry["files"]:
            atomic_write_text(folder / CHECKSUMS / f"{f['name']}.txt", sha256_file(folder / f["name"]))
    atomic_write_text(folder / "config.json", json.dumps(profile, indent=2, sort_keys=True) + "\n")
    return out


def release_files(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """An entry's released files: those under `release/` (a withheld notice is not one).

    Example:
        >>> release_files({"files": [{"name": "withheld/a.txt"}, {"name": "release/b.csv"}]})
        [{'name': 'release/b.csv'}]
    """
    return [f for f in entry.get("files", []) if str(f.get("name", "")).startswith("release/")]
