"""`SessionBase`: what every `Session` call shares: settings, output names, the ledger and the steps of a check.

`Session` (`session.py`) builds on `CurvesAndTables` (`session_outputs.py`), which builds on this class, so every
method sees the attributes and helpers it uses with their types. The steps that need no session state are
functions, shared with the table builder (`session_tables.py`).
"""

from __future__ import annotations

import linecache
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.differencing import LP_BUDGET
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.profiles import Profile, load_profile
from djs_toolkit.sdc.project_ledger import default_ledger, is_off
from djs_toolkit.sdc.protect import Protection
from djs_toolkit.sdc.rules import worst
from djs_toolkit.sdc.session_ledger import record_output

__all__ = ["SessionBase", "command_line", "output_status", "population_mask", "record_ids", "set_record_keys"]

# Failing rules that withholding (or rebuilding from rounded counts) resolves. Min/max are not among them: an
# extreme is unsafe whatever its group size, so the output fails and the reason suggests an alternative.
_RESOLVABLE = ("MinimumThresholdCheck", "NKCheck", "PPercentCheck", "PositionUniquenessCheck", "MinimumDoFCheck")
_SAFE_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def command_line() -> str:
    """The researcher's source line that called the Session method calling this (kept as the output's command).

    Example:
        >>> def crosstab() -> str:
        ...     return command_line()
        >>> crosstab()  # the line that called it
        'crosstab()  # the line that called it'
    """
    frame = sys._getframe(2)  # 0: here, 1: the Session method, 2: the researcher's line
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()


def population_mask(population: object, n: int) -> tuple[np.ndarray | None, str | None]:
    """A population description, or a boolean filter over `n` records -> (mask or None, description).

    Example:
        >>> population_mask(np.array([True, False, True]), 3)[1]
        'records selected by a population filter (2 of 3)'
    """
    if population is None or isinstance(population, str):
        return None, population
    mask = np.asarray(population)
    if mask.dtype != bool or mask.shape != (n,):
        raise DJSUserError("population must be a description (str) or one boolean per record.")
    return mask, f"records selected by a population filter ({int(mask.sum())} of {n})"


def record_ids(data: pd.DataFrame | None, record_id: object) -> object:
    """`record_id` may name a column of `data`; anything else is the ids themselves (or None).

    Example:
        >>> record_ids(pd.DataFrame({"pid": [7, 8]}), "pid").tolist()
        [7, 8]
    """
    if isinstance(record_id, str):
        if data is None or record_id not in data.columns:
            raise DJSUserError(f"record_id={record_id!r} is not a column of data: pass a column name or the ids.")
        return data[record_id]
    return record_id


def set_record_keys(out: Output, record_id: object, index: pd.Index, n: int) -> None:
    """Key `out`'s records in the ledger by `record_id`, or by `index` when no ids are given (`record_id=False`:
    the records are made up from counts, so the ledger keeps the output's released counts only).

    Example:
        >>> out = Output("t", "pass", "table", "crosstab", "count", pd.DataFrame())
        >>> set_record_keys(out, None, pd.RangeIndex(3), 3); out.key_space
        'index'
    """
    if record_id is False:  # not records (a table expanded from counts): recorded by content only, never linked
        out.record_id, out.key_space = None, None
        return
    if record_id is None:
        out.record_id, out.key_space = index, "index"
        return
    ids = record_id if isinstance(record_id, (pd.Series, pd.Index)) else np.asarray(record_id)
    if len(ids) != n:
        raise DJSUserError("record_id must have one id per record, like the table's keys.")
    out.record_id, out.key_space = ids, "record_id"


def output_status(flags: pd.DataFrame, prot: Protection, profile: Profile) -> str:
    """The status of a protected table: its worst flag that protection did not resolve.

    Example:
        >>> from djs_toolkit.sdc.rules import flags_frame
        >>> no = np.zeros(1, bool)
        >>> prot = Protection(np.ones(1), no, no, pd.DataFrame(), ok=True)
        >>> output_status(flags_frame([(0, "ZerosCheck", "review", "a zero")]), prot, load_profile("srs"))
        'review'
    """
    if not prot.ok:
        return "fail"
    withheld = prot.suppressed
    fixed = withheld if prot.resolved is None else prot.resolved  # Protection fills resolved in
    resolved = (flags["status"] == "fail") & flags["rule"].isin(_RESOLVABLE)
    resolved &= flags["cell"].map(lambda c: bool(fixed[c]) if c >= 0 else False)
    status = worst(flags.loc[~resolved, "status"])
    if prot.applied and (withheld.any() or profile.mitigation == "round"):
        status = worst([status, profile.status_after_protection])
    return status


class SessionBase:
    """The state of a checking session and the steps every output goes through (see `Session` for the API).

    Example:
        >>> s = SessionBase("srs", run="r1")
        >>> s.profile.name, s.run, s.outputs
        ('srs', 'r1', {})
    """

    def __init__(
        self,
        profile: str | Path | Profile = "srs",
        ledger: str | Path | bool | None = None,
        *,
        differencing_lp_budget: int = LP_BUDGET,
        run: str = "",
    ) -> None:
        self.profile = load_profile(profile)
        if ledger is True or ledger is None:
            ledger = default_ledger()  # the project's persistent ledger (None when DJS_LEDGER=off)
            self.ledger_mode = "project" if ledger is not None else "off"
        elif ledger is False or is_off(ledger):  # `off` as text too: what DJS_LEDGER=off hands outputs.session()
            ledger, self.ledger_mode = None, "off"
        else:
            self.ledger_mode = "folder"
        self.ledger: str | Path | None = ledger
        self.run = str(run)
        self.differencing_lp_budget = int(differencing_lp_budget)
        self.outputs: dict[str, Output] = {}
        self._ledger_obj: Ledger | None = None

    def __repr__(self) -> str:
        stat = ", ".join(f"{k}={o.status}" for k, o in self.outputs.items())
        return f"Session(profile={self.profile.name!r}, outputs: {stat or 'none'})"

    def ledger_store(self) -> Ledger:
        """The session's Ledger: the folder given as `ledger=` or the project's (`project_ledger`); with
        `ledger=False` one kept in this session only.

        Example:
            >>> from djs_toolkit.sdc import Session
            >>> Session(ledger=False).ledger_store().path is None, Session(ledger=False).ledger_mode
            (True, 'off')
        """
        if self._ledger_obj is None:
            self._ledger_obj = Ledger(self.ledger)
        return self._ledger_obj

    def _name(self, name: str | None) -> str:
        if name is None:
            k = len(self.outputs) + 1
            while f"output_{k}" in self.outputs:
                k += 1
            return f"output_{k}"
        if not name or not set(name) <= _SAFE_NAME or name.startswith("."):
            raise DJSUserError(f"Output name {name!r} is not usable as a file name: use letters, digits, _ - . only.")
        if name in self.outputs:
            raise DJSUserError(f"An output named {name!r} already exists: choose another name.")
        return name

    def _output(self, out: Output, command: str) -> Output:
        """Stamp `out`, check it for differencing and record it in the ledger (`session_ledger`), keep it."""
        out.command = command
        out.timestamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        out.properties["ledger"] = self.ledger_mode  # an output checked without the project's ledger says so
        record_output(out, self.ledger_store(), self.profile, self.run, self.differencing_lp_budget)
        self.outputs[out.name] = out
        return out

    def _get(self, name: str) -> Output:
        if name not in self.outputs:
            raise DJSUserError(f"No output named {name!r}: existing outputs are {list(self.outputs)}.")
        return self.outputs[name]
