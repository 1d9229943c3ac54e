"""Writing files safely: temp file then rename, UTF-8, LF line endings.

Nothing is ever half-written: a crash leaves the old file (or none), never a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

__all__ = [
    "CSV_FLOAT_FORMAT",
    "FILE_MODE",
    "MANIFEST_NAME",
    "FileLock",
    "LockHeld",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_sha256_manifest",
    "describe_holder",
    "process_alive",
    "project_root",
    "sha256_file",
    "write_csv",
    "write_sha256_manifest",
]

CSV_FLOAT_FORMAT = "%.6g"


def _umask() -> int:
    # /proc gives it without changing it (os.umask is the only portable read, and it briefly sets it).
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# The mode open() gives a new file under this process's umask.
FILE_MODE = 0o666 & ~_umask()
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
        # mkstemp creates 0600; a file written here gets the mode any new file gets (0644 under the usual umask), so a
        # bundle's files do not differ in mode by how each was written.
        os.chmod(tmp, FILE_MODE)
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
        value = obj.item()
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


# -- one process at a time ----------------------------------------------------------------------------------------
_GUARD_STALE_S = 30.0  # a take-over guard older than this was left by a process killed mid-take-over


class LockHeld(Exception):
    """A `FileLock` is held by another process that is (or may be) alive.

    Attributes:
        path: the lock file.
        holder: what the holder wrote: `pid`, `host`, `started` (UTC), `note` (what it runs).
    """

    def __init__(self, path: Path, holder: dict) -> None:
        self.path = Path(path)
        self.holder = holder
        super().__init__(f"{self.path} is held by {describe_holder(holder)}")


def describe_holder(holder: dict) -> str:
    """`process <pid> on <host> since <started>` (what a lock file says of its holder).

    Example:
        >>> describe_holder({"pid": 12, "host": "srs-01", "started": "2026-01-05T10:00:00+00:00", "note": "djs run"})
        'process 12 on srs-01 since 2026-01-05T10:00:00+00:00 (djs run)'
    """
    text = f"process {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')}"
    return text + (f" ({holder['note']})" if holder.get("note") else "")


def _process_start(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (Linux), to tell a reused pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return None
    return "Z" if fields[0] == "Z" else fields[19]  # a zombie has exited: only its exit status is left


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process `pid` on this machine is running (and, given `started`, is the same process, not a reuse).

    POSIX asks the kernel with signal 0; Windows opens the process and reads its exit code.

    Example:
        >>> process_alive(os.getpid()), process_alive(-1)
        (True, False)
    """
    if not isinstance(pid, int) or pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    now = _process_start(pid)
    return not (now == "Z" or (started is not None and now is not None and now != started))


def _windows_alive(pid: int) -> bool:
    if sys.platform != "win32":  # never called elsewhere; the check lets mypy type the rest for Windows only
        return False
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # access denied: it exists
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _create_exclusive(path: Path, text: str) -> bool:
    """Create `path` holding `text` unless it exists; True when this call created it (never a half-written file)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        os.link(tmp, path)  # atomic, refuses to overwrite, and the content is there the moment the name is
        return True
    except FileExistsError:
        return False
    except OSError:  # file systems without hard links: exclusive create, then write
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return True
    finally:
        tmp.unlink(missing_ok=True)


class FileLock:
    """An exclusive lock held by one process at a time, as a file naming its holder; works the same on Windows.

    The lock file is created atomically (a hard link of a complete file, or `O_CREAT | O_EXCL`), so two processes
    can never both hold it. A holder that died (killed, machine restarted) leaves its file behind: the next process
    on the same machine sees its pid is gone and takes the lock over, one at a time (a second guard file serialises
    take-overs). A holder on another machine cannot be checked, so it is reported, never taken over.

    Args:
        path: the lock file.
        note: what the holder does (shown to anyone refused).

    Example:
        >>> import tempfile
        >>> lock = FileLock(Path(tempfile.mkdtemp()) / "run.lock", "djs run")
        >>> lock.acquire() is None, lock.path.is_file()
        (True, True)
        >>> FileLock(lock.path).acquire()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        djs_toolkit.fileio.LockHeld: .../run.lock is held by process ... on ... since ... (djs run)
        >>> lock.release(); lock.path.exists()
        False
    """

    def __init__(self, path: Path, note: str = "") -> None:
        self.path = Path(path)
        self.note = note
        self.held = False
        self._token = secrets.token_hex(8)

    def read(self) -> dict | None:
        """The holder's record, or None when there is no lock file or it cannot be read."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def _alive(self, holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return True  # cannot be checked from here: assume it runs
        return process_alive(holder.get("pid", -1), holder.get("process_start"))

    def acquire(self, wait_s: float = 5.0) -> dict | None:
        """Take the lock, taking over a dead holder's; returns the dead holder's record (None if there was none).

        Raises:
            LockHeld: a live process (or one on another machine) holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "process_start": _process_start(os.getpid()),
            "note": self.note,
            "token": self._token,
        }
        replaced: dict | None = None
        deadline = time.monotonic() + wait_s
        while True:
            if _create_exclusive(self.path, json.dumps(me, indent=1) + "\n"):
                self.held = True
                return replaced
            holder = self.read()
            if holder is not None and self._alive(holder):
                raise LockHeld(self.path, holder)
            if self._take_over(holder):
                replaced = holder or {"note": "a damaged lock file"}
            elif time.monotonic() > deadline:
                raise LockHeld(self.path, self.read() or {"note": "being taken over by another process"})
            else:
                time.sleep(0.05)

    def _take_over(self, seen: dict | None) -> bool:
        guard = self.path.with_name(self.path.name + ".takeover")
        if not _create_exclusive(guard, self._token):
            with contextlib.suppress(OSError):
                if time.time() - guard.stat().st_mtime > _GUARD_STALE_S:
                    guard.unlink()
            return False
        try:
            current = self.read()
            if (current or {}).get("token") == (seen or {}).get("token"):  # still the dead holder's file
                self.path.unlink(missing_ok=True)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def release(self) -> None:
        """Give the lock up (only if this object still holds it)."""
        if self.held and (self.read() or {}).get("token") == self._token:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working folder) holding pipeline.yaml, pyproject.toml
    or .git; `start` itself when there is none. Jupyter starts kernels in the notebook's folder, so this keeps a
    notebook's interactive outputs and its project's ledger in the project, not beside the notebook.

    Example:
        >>> project_root(Path("/")) == Path("/")
        True
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in ("pipeline.yaml", "pyproject.toml", ".git")):
            return folder
    return here
