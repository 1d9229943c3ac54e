"""Writing files safely: temp file then rename, UTF-8, LF line endings.

Nothing is ever half-written: a crash leaves the old file (or none), never a partial one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = [
    "CSV_FLOAT_FORMAT",
    "MANIFEST_NAME",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_sha256_manifest",
    "sha256_file",
    "write_csv",
    "write_sha256_manifest",
]

CSV_FLOAT_FORMAT = "%.6g"
# BagIt (RFC 8493) payload manifest name: verifiable without the toolkit (docs/workflow.md §5.3).
MANIFEST_NAME = "manifest-sha256.txt"


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    Example:
        >>> import tempfile
        >>> p = atomic_write_bytes(Path(tempfile.mkdtemp()) / "a.txt", b"hi")
        >>> p.read_bytes()
        b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text with LF line endings atomically.

    Example:
        >>> import tempfile
        >>> atomic_write_text(Path(tempfile.mkdtemp()) / "a.md", "x\\n").read_bytes()
        b'x\\n'
    """
    return atomic_write_bytes(path, text.replace("\r\n", "\n").encode("utf-8"))


def write_csv(df: pd.DataFrame, path: Path, float_format: str = CSV_FLOAT_FORMAT) -> Path:
    """Write a DataFrame as hash-stable CSV: UTF-8, LF, fixed float format, no index, atomically.

    pandas uses os.linesep on Windows (pandas#20353), so the line terminator is explicit.

    Example:
        >>> import tempfile
        >>> p = write_csv(pd.DataFrame({"a": [1.5]}), Path(tempfile.mkdtemp()) / "t.csv")
        >>> p.read_bytes()
        b'a\\n1.5\\n'
    """
    text = df.to_csv(index=False, lineterminator="\n", float_format=float_format, date_format="%Y-%m-%d")
    return atomic_write_text(path, text)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks.

    Example:
        >>> import tempfile
        >>> p = atomic_write_bytes(Path(tempfile.mkdtemp()) / "e", b"")
        >>> sha256_file(p)[:12]
        'e3b0c44298fc'
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_json(path: Path, obj: object) -> Path:
    """Write JSON atomically: 2-space indent, UTF-8, LF, trailing newline; key order as given (hash-stable).

    Example:
        >>> import tempfile
        >>> atomic_write_json(Path(tempfile.mkdtemp()) / "a.json", {"b": 1}).read_bytes()
        b'{\\n  "b": 1\\n}\\n'
    """
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(obj: object) -> object:
    # numpy scalars and paths reach JSON through pandas/numpy results; NaN/inf become null, never invalid JSON.
    if hasattr(obj, "item"):
        value = obj.item()  # type: ignore[attr-defined]
        return None if isinstance(value, float) and value != value else value
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def write_sha256_manifest(root: Path, name: str = MANIFEST_NAME) -> Path:
    """Write a BagIt-style ``<sha256>  <relative posix path>`` line for every file under ``root`` (sorted).

    The manifest itself is left out; every other file is listed, hidden ones too (nothing may hide in a bundle).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = atomic_write_text(d / "a.txt", "x\\n")
        >>> write_sha256_manifest(d).read_text().split()[1]
        'a.txt'
    """
    root = Path(root)
    lines = [f"{sha256_file(p)}  {rel}" for rel, p in _listed_files(root, name)]
    return atomic_write_text(root / name, "".join(line + "\n" for line in lines))


def _listed_files(root: Path, name: str) -> list[tuple[str, Path]]:
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel != name:
            files.append((rel, p))
    return sorted(files)


def check_sha256_manifest(root: Path, name: str = MANIFEST_NAME) -> list[str]:
    """Re-hash every file against ``root/name``; return one line per problem (empty list = all verified).

    Problems: the manifest is missing; a listed file is missing or its hash differs; a file is not listed.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = atomic_write_text(d / "a.txt", "x\\n"); _ = write_sha256_manifest(d)
        >>> _ = (d / "a.txt").write_text("y\\n"); check_sha256_manifest(d)
        ['modified: a.txt (sha256 differs from the manifest)']
    """
    root = Path(root)
    manifest = root / name
    if not manifest.is_file():
        return [f"missing: {name} (the folder has no manifest; it cannot be verified)"]
    listed: dict[str, str] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if rel:
            listed[rel] = digest
    present = dict(_listed_files(root, name))
    problems = []
    for rel, digest in sorted(listed.items()):
        if rel not in present:
            problems.append(f"missing: {rel} (listed in the manifest, not on disk)")
        elif sha256_file(present[rel]) != digest:
            problems.append(f"modified: {rel} (sha256 differs from the manifest)")
    problems += [f"unlisted: {rel} (on disk, not in the manifest)" for rel in sorted(set(present) - set(listed))]
    return problems
