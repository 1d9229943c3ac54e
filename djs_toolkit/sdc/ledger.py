"""The differencing ledger: every released output's records and what it released, kept per project on disk.

docs/disclosure.md §7.4: "per project (outside the release folder, checker-only), each released statistic's
cell-label array (or a hash-compressed equivalent) is persisted with its rounding/suppression metadata". The
ledger spans outputs, notebooks and reruns, so it lives in a folder, not in a Python object.

Folder layout (checker-only; DO NOT RELEASE)::

    README-DO-NOT-RELEASE.txt
    ledger.json                 format, hash scheme and a check value (created once, never rewritten)
    salt.txt                    per-ledger random hash key: ids are never stored, only keyed hashes of them
    keysets/<digest>.npy        uint64 keyed hashes of an output's records in row order; content-addressed,
                                so every output made from the same records shares one file
    entries/<id>.labels.npy     interior cell label per keyset row (int8/16/32; -1 = not in the output)
    entries/<id>.cells.npz      what was released: label sets (CSR) and the attacker's interval of each value
    entries/<id>.json           metadata; written last: an entry exists once its json exists

Nothing is ever rewritten in place: files are unique per entry or content-addressed and written through a
temporary name plus rename; `ledger.json` and `salt.txt` are created once with `os.link` (atomic
create-if-absent). Two processes can therefore append at the same time without a lock; `differencing` closes the
check-then-append race by re-checking against entries that appeared meanwhile. What needs a lock is a whole
pipeline: `djs run` removes a resumed run's entries and compares outputs across runs, so it holds the ledger's
`ledger.lock` (`Ledger.lock`, the same `fileio.FileLock` as the run folder's) while it runs, for a ledger shared
across runs with `--ledger`; its kernels append under that lock.

Ids are hashed with keyed SipHash-2-4 (pandas' `hash_array` with a 16-character per-ledger key): a keyed
pseudo-random function, so the ledger holds no identifier, and without `salt.txt` a guessed id cannot be tested.
Integer ids are hashed as 8 big-endian bytes, other ids as text; record ids and default DataFrame indexes use
different derived keys, so the two never collide.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.util import hash_array

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import FileLock, atomic_write_bytes, atomic_write_text
from djs_toolkit.sdc.ledger_records import FORMAT, LedgerEntry, canonical_ids, id_subkey, npy_bytes, npz_bytes
from djs_toolkit.sdc.released import Released

__all__ = ["KEY_SPACES", "LOCK_NAME", "Ledger", "LedgerEntry", "content_digest"]

SCHEME = "siphash24-pandas-hash_array"
LOCK_NAME = "ledger.lock"
KEY_SPACES = ("record_id", "index")
_CHECK = "djs-ledger-check"
_README = (
    "DO NOT RELEASE. Differencing ledger of djs_toolkit.sdc (checker-only).\n"
    "It holds, for every released output, keyed hashes of the records behind it and each record's cell.\n"
    "Keep it with the project's checker-only files; deleting it makes the next outputs unchecked against "
    "earlier ones.\n"
)


def content_digest(released: Released | None, labels: np.ndarray | None, keyset: str | None) -> str:
    """Digest of what an output released over which records: two outputs with the same digest release the same
    values about the same records, so a rerun adds nothing to compare (`differencing.check_new` skips its twin).

    Example:
        >>> from djs_toolkit.sdc.released import from_sets
        >>> r = from_sets(("g",), (("a",),), [[0]], [12.0], [12.0])
        >>> content_digest(r, np.zeros(12, np.int8), "k") == content_digest(r, np.zeros(12, np.int16), "k")
        True
    """
    h = hashlib.blake2b(digest_size=12)
    h.update(str(keyset or "").encode() + b"\x1f")
    h.update(json.dumps(released.to_meta() if released else {}, sort_keys=True).encode() + b"\x1f")
    if labels is not None:
        h.update(np.ascontiguousarray(labels, dtype=np.int32).tobytes())
    if released is not None:
        for key, arr in sorted(released.to_arrays().items()):
            h.update(key.encode() + np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


class Ledger:
    """A differencing ledger in a folder (or in memory when `path` is None).

    Args:
        path: the ledger folder (created on first write); None keeps the ledger in this process only.

    Example:
        >>> import tempfile
        >>> led = Ledger(Path(tempfile.mkdtemp()) / "ledger")
        >>> k1 = led.hash_ids([101, 102]); k2 = Ledger(led.path).hash_ids([101, 102])
        >>> bool((k1 == k2).all()), k1.dtype.name, len(led.entries())
        (True, 'uint64', 0)
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._salt: str | None = None
        self._metas: dict[str, LedgerEntry] = {}
        self._mem: dict[str, dict[str, Any]] = {}  # in-memory mode: arrays per entry / keyset
        self._keysets: dict[str, np.ndarray] = {}
        self._index: dict[str, pd.Index] = {}
        self._positions: dict[tuple[str, str], np.ndarray] = {}
        self._released: dict[str, Released] = {}
        self._hash_cache: list[tuple[object, str, np.ndarray, dict[str, int]]] = []

    def __repr__(self) -> str:
        return f"Ledger({'in memory' if self.path is None else str(self.path)})"

    def lock(self, note: str = "") -> FileLock:
        """The ledger folder's lock (`ledger.lock`): one pipeline run at a time uses a shared ledger.

        Example:
            >>> import tempfile
            >>> with Ledger(Path(tempfile.mkdtemp()) / "ledger").lock("djs run") as held:
            ...     held.path.name
            'ledger.lock'
        """
        if self.path is None:
            raise DJSUserError("An in-memory ledger has no folder to lock.")
        return FileLock(self.path / LOCK_NAME, note)

    # -- folder and salt ----------------------------------------------------------------------------------------
    def _create_once(self, path: Path, text: str) -> None:
        """Create `path` with `text` unless it exists (atomic: temp file + os.link, which refuses to overwrite)."""
        if path.exists():
            return
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        atomic_write_text(tmp, text)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # file systems without hard links: exclusive create, then write
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)

    @property
    def salt(self) -> str:
        """The per-ledger hash key (created at random on first use, then read back by every process).

        Example:
            >>> len(Ledger().salt)
            16
        """
        if self._salt is not None:
            return self._salt
        if self.path is None:
            self._salt = secrets.token_urlsafe(12)
            return self._salt
        if self.path.exists() and not self.path.is_dir():
            raise DJSUserError(f"The ledger path {self.path.name} is a file: give a folder for the ledger.")
        (self.path / "keysets").mkdir(parents=True, exist_ok=True)
        (self.path / "entries").mkdir(exist_ok=True)
        self._create_once(self.path / "README-DO-NOT-RELEASE.txt", _README)
        self._create_once(self.path / "salt.txt", secrets.token_urlsafe(12) + "\n")
        salt = (self.path / "salt.txt").read_text(encoding="utf-8").strip()
        if len(salt) != 16:
            raise DJSUserError(f"The ledger {self.path.name} has a damaged salt.txt: restore it or start a new ledger.")
        check = str(int(hash_array(np.array([_CHECK], dtype=object), hash_key=id_subkey(salt, "check"))[0]))
        self._create_once(
            self.path / "ledger.json", json.dumps({"format": FORMAT, "hash": SCHEME, "check": check}, indent=2) + "\n"
        )
        try:
            info = json.loads((self.path / "ledger.json").read_text(encoding="utf-8"))
        except ValueError:
            raise DJSUserError(
                f"The ledger file {self.path / 'ledger.json'} is damaged (not valid JSON): restore it from a backup, "
                "or start a new ledger folder (a run's own ledger: start a new run)."
            ) from None
        if not isinstance(info, dict) or (info.get("format"), info.get("hash"), info.get("check")) != (
            FORMAT,
            SCHEME,
            check,
        ):
            # Fail closed: keys hashed differently would never match, silently disabling the checks.
            raise DJSUserError(
                f"The ledger {self.path.name} was written by an incompatible version (hash check "
                "differs): keep it for the checker and start a new ledger folder."
            )
        self._salt = salt
        return salt

    # -- hashing ------------------------------------------------------------------------------------------------
    def hash_ids(self, ids: object, space: str = "record_id") -> np.ndarray:
        """Keyed 64-bit hashes of record ids (missing ids get fresh random keys that match nothing).

        Args:
            ids: one id per record (column, Series, Index, array, list).
            space: `record_id` (ids named by the caller) or `index` (a default DataFrame index).

        Example:
            >>> led = Ledger()
            >>> h = led.hash_ids(pd.Index([5, 6]))
            >>> bool(h[0] == led.hash_ids([5])[0]), bool(h[0] == led.hash_ids([5], "index")[0])
            (True, False)
        """
        return self.hash_ids_info(ids, space)[0]

    def hash_ids_info(self, ids: object, space: str = "record_id") -> tuple[np.ndarray, dict[str, int]]:
        """`hash_ids` plus counts of missing and repeated ids (repeats get an occurrence number, so keys are unique).

        Example:
            >>> k, info = Ledger().hash_ids_info(["a", "b", "a", None])
            >>> len(set(k.tolist())), info
            (4, {'missing': 1, 'duplicated': 1})
        """
        if space not in KEY_SPACES:
            raise DJSUserError(f"key space must be one of {list(KEY_SPACES)}.")
        for obj, sp, keys, info in self._hash_cache:
            if obj is ids and sp == space:  # pandas Index objects are immutable: safe to reuse by identity
                return keys, info
        values, kind, missing = canonical_ids(ids)
        key = id_subkey(self.salt, f"{space}:{kind}")
        if kind == "int":
            as_bytes = values.astype(">i8").view("S8").astype(object)  # fixed width: injective after NUL strip
            h = hash_array(as_bytes, hash_key=key, categorize=False)
        else:
            h = hash_array(values, hash_key=key, categorize=False)
        h = np.asarray(h, dtype=np.uint64)
        n_missing = int(missing.sum())
        if n_missing:
            h[missing] = np.frombuffer(secrets.token_bytes(8 * n_missing), dtype=np.uint64)
        dup = pd.Series(h).duplicated().to_numpy()
        n_dup = int(dup.sum())
        if n_dup:
            # A repeated id (e.g. a person with several records) gets its occurrence number mixed in.
            occ = pd.Series(h).groupby(h).cumcount().to_numpy(np.uint64)
            h = h + occ * np.uint64(0x9E3779B97F4A7C15)
        info = {"missing": n_missing, "duplicated": n_dup}
        if isinstance(ids, pd.Index):
            self._hash_cache = [(ids, space, h, info), *self._hash_cache[:3]]
        return h, info

    # -- keysets ------------------------------------------------------------------------------------------------
    def store_keyset(self, keys: np.ndarray) -> str:
        """Store an output's record keys (row order); returns their digest (content address).

        Example:
            >>> led = Ledger(); d = led.store_keyset(np.array([3, 1], dtype=np.uint64))
            >>> led.keyset(d).tolist()
            [3, 1]
        """
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        digest = hashlib.blake2b(keys.tobytes(), digest_size=16).hexdigest()
        if digest not in self._keysets:
            if self.path is not None:
                target = self.path / "keysets" / f"{digest}.npy"
                if not target.exists():
                    _ = self.salt  # creates the folder
                    atomic_write_bytes(target, npy_bytes(keys))
            self._keysets[digest] = keys
        return digest

    def keyset(self, digest: str) -> np.ndarray:
        """Record keys of a stored keyset.

        Example:
            >>> led = Ledger(); led.keyset(led.store_keyset(np.array([7], dtype=np.uint64))).tolist()
            [7]
        """
        if digest not in self._keysets:
            if self.path is None:
                raise DJSUserError("Unknown keyset in an in-memory ledger.")
            self._keysets[digest] = np.load(self.path / "keysets" / f"{digest}.npy", mmap_mode="r")
        return self._keysets[digest]

    def positions(self, target: str, source: str) -> np.ndarray:
        """For each row of keyset `target`, its row in keyset `source` (-1 when absent); cached.

        Example:
            >>> led = Ledger()
            >>> a = led.store_keyset(np.array([1, 2, 3], dtype=np.uint64))
            >>> b = led.store_keyset(np.array([3, 9], dtype=np.uint64))
            >>> led.positions(b, a).tolist()
            [2, -1]
        """
        key = (target, source)
        if key not in self._positions:
            if target == source:
                pos = np.arange(len(self.keyset(target)), dtype=np.int64)
            else:
                if source not in self._index:
                    self._index[source] = pd.Index(np.asarray(self.keyset(source)))
                pos = self._index[source].get_indexer(pd.Index(np.asarray(self.keyset(target)))).astype(np.int64)
            if len(self._positions) > 64:
                self._positions.clear()
            self._positions[key] = pos
        return self._positions[key]

    def common_prefix(self, a: str, b: str) -> int | None:
        """Length of the shorter of two keysets when it is a prefix of the other (else None).

        Keys are unique within a keyset, so then row i of either is row i of the other, and the other's rows beyond
        the prefix are in one only. The usual case for DataFrame-index keys: frames numbered 0..n-1 share their
        first rows' keys, and their joint needs no key lookup (at national scale a hash lookup of 20 million keys per
        pair of outputs was most of the differencing time).

        Example:
            >>> led = Ledger()
            >>> a = led.store_keyset(np.array([5, 7, 9], dtype=np.uint64))
            >>> b = led.store_keyset(np.array([5, 7], dtype=np.uint64))
            >>> c = led.store_keyset(np.array([7], dtype=np.uint64))
            >>> led.common_prefix(a, b), led.common_prefix(b, a), led.common_prefix(a, c)
            (2, 2, None)
        """
        ka, kb = self.keyset(a), self.keyset(b)
        m, step = min(len(ka), len(kb)), 1 << 20  # in chunks: unrelated keysets differ in the first
        if a == b or all(
            np.array_equal(ka[lo : min(lo + step, m)], kb[lo : min(lo + step, m)]) for lo in range(0, m, step)
        ):
            return m
        return None

    # -- entries ------------------------------------------------------------------------------------------------
    def entries(self) -> list[LedgerEntry]:
        """Every recorded output, oldest first.

        Example:
            >>> Ledger().entries()
            []
        """
        if self.path is not None and (self.path / "entries").is_dir():
            seen = set()
            for f in (self.path / "entries").glob("*.json"):
                eid = f.name[:-5]
                seen.add(eid)
                if eid not in self._metas:
                    try:
                        self._metas[eid] = LedgerEntry.from_json(json.loads(f.read_text(encoding="utf-8")))
                    except (OSError, ValueError, KeyError):
                        continue  # removed or replaced while listing: it is not (or no longer) an entry
            for eid in set(self._metas) - seen:
                del self._metas[eid]
        return sorted(self._metas.values(), key=lambda e: (e.created_ns, e.id))

    def labels(self, entry: LedgerEntry) -> np.ndarray:
        """Per-record interior labels of an entry (aligned with its keyset; -1 = not in the output).

        Example:
            >>> led = Ledger()
            >>> e = led.add("t", "table", "count", "pass", ("g",), None, np.array([0, 1], np.int32),
            ...             np.array([5, 6], np.uint64), "record_id", None)
            >>> led.labels(e).tolist()
            [0, 1]
        """
        if self.path is None:
            return self._mem[entry.id]["labels"]
        return np.load(self.path / "entries" / f"{entry.id}.labels.npy", mmap_mode="r")

    def released(self, entry: LedgerEntry) -> Released | None:
        """The entry's released values as label sets (None when it released none).

        Example:
            >>> Ledger().released(LedgerEntry("e", "t", "", 0, "regression", "cox", "pass", ())) is None
            True
        """
        if not entry.released:
            return None
        if entry.id not in self._released:
            if self.path is None:
                arrays = self._mem[entry.id]["cells"]
            else:
                with np.load(self.path / "entries" / f"{entry.id}.cells.npz") as z:
                    arrays = {k: z[k] for k in z.files}
            self._released[entry.id] = Released.load(entry.released, arrays)
        return self._released[entry.id]

    def add(
        self,
        name: str,
        kind: str,
        statistic: str,
        status: str,
        variables: tuple[str, ...],
        released: Released | None,
        labels: np.ndarray | None,
        keys: np.ndarray | str | None,
        key_space: str | None,
        population: str | None,
        protection: dict[str, Any] | None = None,
        run: str | None = None,
    ) -> LedgerEntry:
        """Record an output; an identical earlier record (same records, cells and releases) is reused.

        Args:
            name: the output's name; kind/statistic/status/variables/population: its description.
            released: what it released (None for outputs with no count-like values, e.g. regressions).
            labels: per-record interior labels (None for aggregate-only outputs: files checked by counts).
            keys: keyed hashes of the records (`hash_ids`), aligned with `labels`, or a stored keyset's digest.
            key_space: `record_id` or `index`.
            protection: how it was protected (mitigation, suppressed cells, rounding), for the checker.
            run: notebook run label under `djs run` (the Session passes its own; "" outside a run).

        Example:
            >>> led = Ledger()
            >>> e = led.add("t", "table", "count", "pass", ("g",), None, None, None, None, "all")
            >>> [x.name for x in led.entries()], e.keyset is None
            (['t'], True)
        """
        run = run or ""
        digest = keys if isinstance(keys, str) or keys is None else self.store_keyset(keys)
        lab = None
        if labels is not None:
            top = int(labels.max(initial=-1))
            dtype = np.int8 if top < 127 else (np.int16 if top < 32767 else np.int32)
            lab = np.ascontiguousarray(labels, dtype=dtype)
        content = content_digest(released, lab, digest)
        h = hashlib.blake2b(digest_size=10)
        for part in (name, kind, statistic, run, content):
            h.update(str(part).encode() + b"\x1f")
        eid = h.hexdigest()
        for e in self.entries():
            if e.id == eid:
                return e
        entry = LedgerEntry(
            eid,
            name,
            run,
            time.time_ns(),
            kind,
            statistic,
            status,
            tuple(variables),
            population,
            key_space if keys is not None else None,
            digest,
            int((lab >= 0).sum()) if lab is not None else 0,
            released.to_meta() if released is not None else {},
            dict(protection or {}),
            content,
        )
        if self.path is None:
            self._mem[eid] = {"labels": lab, "cells": released.to_arrays() if released is not None else {}}
        else:
            _ = self.salt
            folder = self.path / "entries"
            if lab is not None:
                atomic_write_bytes(folder / f"{eid}.labels.npy", npy_bytes(lab))
            if released is not None:
                atomic_write_bytes(folder / f"{eid}.cells.npz", npz_bytes(released.to_arrays()))
            atomic_write_text(folder / f"{eid}.json", json.dumps(entry.to_json(), indent=1, allow_nan=False) + "\n")
        self._metas[eid] = entry
        return entry

    def remove(self, entry: LedgerEntry) -> None:
        """Withdraw an entry (its json first, so no reader sees a half-removed entry).

        Example:
            >>> led = Ledger(); e = led.add("t", "table", "count", "pass", (), None, None, None, None, None)
            >>> led.remove(e); led.entries()
            []
        """
        self._metas.pop(entry.id, None)
        self._mem.pop(entry.id, None)
        if self.path is not None:
            for suffix in (".json", ".labels.npy", ".cells.npz"):
                (self.path / "entries" / f"{entry.id}{suffix}").unlink(missing_ok=True)
