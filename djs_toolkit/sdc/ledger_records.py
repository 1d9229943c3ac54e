"""What one differencing-ledger entry holds, and how record ids become keyed hashes (`djs_toolkit.sdc.ledger`)."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError

__all__ = ["FORMAT", "LedgerEntry", "canonical_ids", "id_subkey", "npy_bytes", "npz_bytes"]

FORMAT = 1  # the ledger's file format (ledger.json, entries/*.json)


@dataclass(frozen=True)
class LedgerEntry:
    """Metadata of one recorded output (arrays are loaded on demand through the Ledger).

    Example:
        >>> LedgerEntry("e1", "t1", "", 0, "table", "count", "pass", ("g",)).display
        "'t1'"
    """

    id: str
    name: str
    run: str
    created_ns: int
    kind: str
    statistic: str
    status: str
    variables: tuple[str, ...]
    population: str | None = None
    key_space: str | None = None
    keyset: str | None = None
    n_records: int = 0
    released: dict[str, Any] = field(default_factory=dict, repr=False)
    protection: dict[str, Any] = field(default_factory=dict, repr=False)
    content: str = ""  # digest of what it released over which records (`Ledger.content_digest`): reruns match it

    @property
    def display(self) -> str:
        """How messages name the entry: `'name'`, or under `djs run` its id in the bundle `'label.name'`.

        Example:
            >>> LedgerEntry("e1", "t1", "nb-a", 0, "table", "count", "pass", ()).display
            "'nb-a.t1'"
        """
        if self.run and not self.name.startswith(self.run + "."):
            return f"'{self.run}.{self.name}'"  # an Output from outputs.session(), recorded before save_table named it
        return f"'{self.name}'"

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (the entry's `.json` file).

        Example:
            >>> LedgerEntry("e1", "t1", "", 0, "table", "count", "pass", ("g",)).to_json()["variables"]
            ['g']
        """
        return {
            "format": FORMAT,
            "id": self.id,
            "name": self.name,
            "run": self.run,
            "created_ns": self.created_ns,
            "kind": self.kind,
            "statistic": self.statistic,
            "status": self.status,
            "variables": list(self.variables),
            "population": self.population,
            "key_space": self.key_space,
            "keyset": self.keyset,
            "n_records": self.n_records,
            "released": self.released,
            "protection": self.protection,
            "content": self.content,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LedgerEntry:
        """Inverse of `to_json`.

        Example:
            >>> e = LedgerEntry("e1", "t1", "", 0, "table", "count", "pass", ("g",))
            >>> LedgerEntry.from_json(e.to_json()) == e
            True
        """
        return cls(
            d["id"],
            d["name"],
            d.get("run", ""),
            int(d["created_ns"]),
            d["kind"],
            d["statistic"],
            d["status"],
            tuple(d.get("variables", ())),
            d.get("population"),
            d.get("key_space"),
            d.get("keyset"),
            int(d.get("n_records", 0)),
            d.get("released", {}),
            d.get("protection", {}),
            d.get("content", ""),
        )


def id_subkey(salt: str, tag: str) -> str:
    # pandas wants a 16-character key; derive one per (key space, id kind) so spaces never collide.
    digest = hashlib.blake2b(f"{salt}\x1f{tag}".encode(), digest_size=12).digest()
    return base64.urlsafe_b64encode(digest).decode()


def canonical_ids(ids: object) -> tuple[np.ndarray, str, np.ndarray]:
    """(values, kind, missing): int64 values (kind `int`) or an object array of text (kind `str`)."""
    arr = ids.to_numpy() if isinstance(ids, (pd.Index, pd.Series)) else np.asarray(ids)
    if arr.ndim != 1:
        raise DJSUserError("record_id must be one id per record (a column, Series, Index or 1-D array).")
    if arr.dtype.kind == "O" and pd.api.types.infer_dtype(arr, skipna=True) == "integer":
        # integers held in an object column (e.g. after a merge) are the same ids as an int64 column
        missing = pd.isna(arr)
        return np.where(missing, 0, arr).astype(np.int64), "int", missing
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64), "int", np.zeros(len(arr), bool)
    if arr.dtype.kind == "M":
        missing = np.isnat(arr)
        return arr.astype("datetime64[ns]").astype(np.int64), "int", missing
    if arr.dtype.kind == "f":
        missing = ~np.isfinite(arr)
        ok = arr[~missing]
        if np.all(ok == np.round(ok)) and (len(ok) == 0 or np.abs(ok).max() < 2**62):
            return np.where(missing, 0, arr).astype(np.int64), "int", missing
    s = pd.Series(arr, dtype=object)
    missing = s.isna().to_numpy()
    text = s.where(~missing, "").map(str).to_numpy(dtype=object)
    return text, "str", missing


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # mypy matches **arrays against allow_pickle: bool
    return buf.getvalue()
