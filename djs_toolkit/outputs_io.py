"""Writing files safely: temp file then rename, UTF-8, LF line endings.

Nothing is ever half-written: a crash leaves the old file (or none), never a partial one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_csv", "sha256_file", "CSV_FLOAT_FORMAT"]

CSV_FLOAT_FORMAT = "%.6g"


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
