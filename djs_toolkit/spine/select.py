"""Event selectors: which spine events an analysis means, by dataset or event type and spine columns.

A selector names a dataset label or an event type (`EVENT_TYPES`) and, optionally, filters on the spine's
``case_type``, ``disposal``, ``party_role``, ``offence_group`` and the age at the event. It renders to a SQL
predicate over the spine (values checked against the schema's code lists, or quoted) and has a short string form
that notebook parameters and `pipeline.yaml` use (docs/methods.md §7.1):

    what[: column=value[,value...][; column=value...][; age=lo-hi | age=lo+ | age=-hi]]

e.g. ``"mags_conviction: disposal=Fine"`` or ``"family_case_start: case_type=Public law; party_role=Child;
age=0-17"``. Values of one column are alternatives (OR); columns all apply (AND); a missing value never matches a
filter. Values are matched to their code list ignoring case and stored as the code list spells them.

Example:
    >>> s = select("civil_claim", party_role="Defendant", case_type=["Landlord possession", "Mortgage possession"])
    >>> str(s)
    'civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant'
    >>> parse_selector(str(s)) == s
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import DATASETS, TABLES
from djs_toolkit.spine.sql import CONVICTION_DISPOSALS, EVENT_TYPES

__all__ = ["SELECTOR_COLUMNS", "Selector", "as_selector", "parse_selector", "select", "selector_columns"]

# The spine columns a selector filters on, in the order its string form lists them.
SELECTOR_COLUMNS = ("case_type", "disposal", "party_role", "offence_group", "age")
_WORDS = {
    "case_type": "case type",
    "disposal": "disposal",
    "party_role": "party role",
    "offence_group": "offence group",
}
_MAGS = {
    "offence_group": ("mags_defendant_case", "offence_group"),
    "disposal": ("mags_defendant_case", "disposal_type"),
    "case_type": ("mags_defendant_case", "proceedings_type_desc"),
    "age": None,
}
_CROWN = {
    "offence_group": ("crown_defendant_case", "offence_group"),
    "disposal": ("crown_defendant_case", "disposal_type"),
    "case_type": ("crown_defendant_case", "case_type"),
    "age": None,
}
_PRISON = {
    "offence_group": ("prison_journey", "offence_group"),
    "disposal": ("prison_journey", "custody_status"),
    "case_type": ("prison_journey", "sentence_type"),
    "age": None,
}
_FAMILY = {"case_type": ("family_cases", "case_type"), "party_role": ("family_parties", "party_role"), "age": None}
_CIVIL: dict[str, tuple[str, str] | None] = {
    "case_type": ("civil_cases", "claim_type"),
    "party_role": ("civil_parties", "party_role"),
}
# Per event type, the spine columns it fills (spine/sql.py EVENT_SELECTS) and the schema column each comes from
# (None: a number, the age). A column an event type leaves empty is not a filter of it.
_SOURCES: dict[str, dict[str, tuple[str, str] | None]] = {
    "mags_case": _MAGS,
    "mags_conviction": _MAGS,
    "crown_case": _CROWN,
    "crown_conviction": _CROWN,
    "custody_start": _PRISON,
    "release": _PRISON,
    "recall": {k: v for k, v in _PRISON.items() if k != "case_type"},
    "probation_start": {
        "offence_group": ("probation_flatfile", "mo_category_description"),
        "disposal": ("probation_flatfile", "disposal_type_description"),
        "age": None,
    },
    "probation_end": {"disposal": ("probation_flatfile", "disposal_type_description")},
    "family_case_start": _FAMILY,
    "family_order": {**_FAMILY, "disposal": ("family_events", "order_type")},
    "civil_claim": _CIVIL,
    "possession_order": _CIVIL,
    "warrant_executed": _CIVIL,
}
assert set(_SOURCES) == {e for _, e, _ in EVENT_TYPES}
# Values an event type cannot hold although its column's code list has them (spine/sql.py selects them out).
_ONLY = {
    ("mags_conviction", "disposal"): CONVICTION_DISPOSALS,
    ("crown_conviction", "disposal"): CONVICTION_DISPOSALS,
    ("possession_order", "party_role"): ("Defendant",),
    ("warrant_executed", "party_role"): ("Defendant",),
}
_NOUNS = {  # one event, without an article: "people whose first <noun> ...", "a <noun> within 365 days"
    "mags_case": "magistrates' court case",
    "mags_conviction": "magistrates' court conviction",
    "crown_case": "Crown Court case",
    "crown_conviction": "Crown Court conviction",
    "custody_start": "reception into custody",
    "release": "release from custody",
    "recall": "recall to custody",
    "probation_start": "probation start",
    "probation_end": "probation end",
    "family_case_start": "family court case",
    "family_order": "family court order",
    "civil_claim": "civil claim",
    "possession_order": "possession order against an individual",
    "warrant_executed": "warrant executed against an individual",
}
_RESERVED = re.compile(r"[,;=:\n\r\x00]")
_AGE_MAX = 120


def _event_types(what: str) -> tuple[str, ...]:
    if what in DATASETS:
        return tuple(e for d, e, _ in EVENT_TYPES if d == what)
    if what in _SOURCES:
        return (what,)
    raise DJSUserError(
        f"{what!r} is neither a dataset label nor an event type: datasets are {', '.join(DATASETS)}; event types "
        f"are {', '.join(_SOURCES)} (spine.EVENT_TYPES)."
    )


def selector_columns(what: str) -> dict[str, tuple[str, ...] | None]:
    """The columns a selector on ``what`` may filter, each with its valid values (None: any value, or for ``age``
    a range).

    The values are the schema's code list of the column the spine fills it from (over the dataset's event types
    for a dataset label); a column without a code list takes any value.

    Example:
        >>> selector_columns("civil_claim")["party_role"]
        ('Claimant', 'Defendant')
        >>> list(selector_columns("probation_end"))
        ['disposal']
    """
    out: dict[str, tuple[str, ...] | None] = {}
    open_cols: set[str] = set()
    for e in _event_types(what):
        for col, src in _SOURCES[e].items():
            codes = TABLES[src[0]].column(src[1]).codes if src else None
            codes = _ONLY.get((e, col), codes)
            if codes is None:
                open_cols.add(col)
            out[col] = tuple(dict.fromkeys([*(out.get(col) or ()), *(codes or ())]))
    return {c: (None if c in open_cols else out[c]) for c in SELECTOR_COLUMNS if c in out}


def _listing(column: str, valid: tuple[str, ...] | None) -> str:
    if column == "age":
        return "age (whole years at the event: lo-hi, lo+ or -hi)"
    return f"{column} ({', '.join(valid)})" if valid else f"{column} (any value)"


def _syntax(what: str) -> str:
    return f"`{what}: column=value,value; column=value; age=lo-hi` (docs/methods.md §7.1)"


def _values(what: str, column: str, given: Any, valid: tuple[str, ...] | None) -> tuple[str, ...]:
    items = [given] if isinstance(given, str) else list(given) if isinstance(given, Iterable) else [given]
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise DJSUserError(f"Selector on {what}: `{column}` needs one or more text values, e.g. {_syntax(what)}.")
    out = []
    for v in (v.strip() for v in items):
        if valid is None:
            if _RESERVED.search(v):
                raise DJSUserError(
                    f"Selector on {what}: a `{column}` value cannot hold , ; = or : (they separate the selector's "
                    "parts): choose a value without them."
                )
            out.append(v)
            continue
        match = next((c for c in valid if c.lower() == v.lower()), None)
        if match is None:
            raise DJSUserError(
                f"Selector on {what}: {v!r} is not a valid `{column}`: valid values are {', '.join(valid)}."
            )
        out.append(match)
    return tuple(dict.fromkeys(out))


def _age(what: str, given: Any) -> tuple[int | None, int | None]:
    ok = isinstance(given, (tuple, list)) and len(given) == 2
    lo, hi = given if ok else (None, None)
    if not ok or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (lo, hi)):
        raise DJSUserError(
            f"Selector on {what}: `age` takes (lo, hi) in whole years, None for an open end, e.g. age=(0, 17) or "
            "age=(18, None) (as a string: age=0-17, age=18+)."
        )
    if (lo is None and hi is None) or any(v is not None and not 0 <= v <= _AGE_MAX for v in (lo, hi)):
        raise DJSUserError(f"Selector on {what}: `age` needs at least one end between 0 and {_AGE_MAX}.")
    if lo is not None and hi is not None and lo > hi:
        raise DJSUserError(f"Selector on {what}: `age` runs from {lo} to {hi}: the lower end must come first.")
    return lo, hi


def _age_text(age: tuple[int | None, int | None]) -> str:
    lo, hi = age
    return f"{lo}+" if hi is None else f"-{hi}" if lo is None else f"{lo}-{hi}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Selector:
    """Spine events of one dataset or event type, filtered on spine columns (build it with `select`).

    Args:
        what: a dataset label or an event type (`spine.EVENT_TYPES`).
        filters: ``(column, values)`` pairs in `SELECTOR_COLUMNS` order, values as the code list spells them.
        age: inclusive (lo, hi) age in whole years at the event, None at an open end; None = no age filter.

    Example:
        >>> s = select("mags_conviction", disposal="Fine")
        >>> s.sql("s.")
        "(s.event_type = 'mags_conviction' AND s.disposal IN ('Fine'))"
        >>> s.dataset, s.is_plain
        ('mags_hocas', False)
    """

    what: str
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    age: tuple[int | None, int | None] | None = None

    def __post_init__(self) -> None:
        # A Selector built directly is held to what `select` accepts: its SQL splices the age bounds as numbers.
        valid = selector_columns(self.what)
        for c, vals in self.filters:
            if c not in valid or c == "age" or _values(self.what, c, vals, valid[c]) != tuple(vals):
                raise DJSUserError(f"Selector on {self.what}: build it with spine.select (the filter on `{c}`).")
        if self.age is not None and (_age(self.what, self.age) != tuple(self.age) or "age" not in valid):
            raise DJSUserError(f"Selector on {self.what}: build it with spine.select (the age filter).")

    @property
    def dataset(self) -> str:
        """The dataset label of the selected events."""
        return self.what if self.what in DATASETS else next(d for d, e, _ in EVENT_TYPES if e == self.what)

    @property
    def is_plain(self) -> bool:
        """True when nothing is filtered: the selector means its dataset label or event type as before."""
        return not self.filters and self.age is None

    def sql(self, alias: str = "") -> str:
        """The SQL predicate over the spine (``alias`` prefixes its columns, e.g. ``"s."``), in parentheses.

        Code-list values were checked against their list; any other value is quoted (a quote doubled), so no value
        can end the string it sits in.

        Example:
            >>> select("familyman", age=(18, None)).sql()
            "(dataset = 'familyman' AND age_at_event >= 18)"
        """
        key = "dataset" if self.what in DATASETS else "event_type"
        parts = [f"{alias}{key} = {_quote(self.what)}"]
        parts += [f"{alias}{c} IN ({', '.join(_quote(v) for v in vals)})" for c, vals in self.filters]
        if self.age is not None:
            lo, hi = self.age
            col = f"{alias}age_at_event"
            parts.append(
                f"{col} >= {lo}" if hi is None else f"{col} <= {hi}" if lo is None else f"{col} BETWEEN {lo} AND {hi}"
            )
        return "(" + " AND ".join(parts) + ")"

    def mask(self, events: pd.DataFrame) -> pd.Series:
        """The rows of a spine frame (`spine.person_events`) the selector selects, as a boolean Series; the same
        rows as `sql`.

        Example:
            >>> ev = pd.DataFrame({"event_type": ["mags_conviction"] * 3, "disposal": ["Fine", "Fine", None],
            ...                    "age_at_event": [17, 30, 30]})
            >>> select("mags_conviction", disposal="Fine", age=(18, None)).mask(ev).tolist()
            [False, True, False]
        """
        key = "dataset" if self.what in DATASETS else "event_type"
        out = events[key].astype("object") == self.what
        for c, vals in self.filters:
            out &= events[c].astype("object").isin(vals)
        if self.age is not None:
            lo, hi = self.age
            age = pd.to_numeric(events["age_at_event"], errors="coerce")
            out &= age.notna() & (age >= (lo if lo is not None else -1)) & (age <= (hi if hi is not None else 1e9))
        return out.fillna(False).astype(bool)

    def __str__(self) -> str:
        parts = [f"{c}={','.join(v)}" for c, v in self.filters]
        if self.age is not None:
            parts.append(f"age={_age_text(self.age)}")
        return self.what + (": " + "; ".join(parts) if parts else "")

    def describe(self) -> str:
        """One selected event in words, without an article, for titles and population lines ("people whose first
        ...", "a ... within 365 days"); the filters follow in parentheses.

        Example:
            >>> select("civil_claim", party_role="Defendant", case_type=["Landlord possession",
            ...        "Mortgage possession"]).describe()
            'civil claim (case type Landlord possession or Mortgage possession; party role Defendant)'
        """
        noun = _NOUNS.get(self.what) or f"{DATASETS[self.what].title} event"
        parts = [f"{_WORDS[c]} {' or '.join(v)}" for c, v in self.filters]
        if self.age is not None:
            lo, hi = self.age
            at = "at the case start" if self.dataset == "familyman" else "at the event"
            parts.append(
                f"aged {lo} or over {at}"
                if hi is None
                else f"aged {hi} or under {at}"
                if lo is None
                else f"aged {lo}-{hi} {at}"
            )
        return noun + (f" ({'; '.join(parts)})" if parts else "")

    def caveats(self) -> tuple[str, ...]:
        """What a reader of a table on these events should know about the selection (one sentence each).

        Example:
            >>> select("mags_hocas").caveats()
            ()
        """
        out = []
        noun = _NOUNS.get(self.what) or f"{DATASETS[self.what].title} event"
        if self.filters:
            cols = " or ".join(_WORDS[c] for c, _ in self.filters)
            out.append(f"A {noun} whose {cols} is not recorded is not selected.")
        if self.age is not None:
            out.append(
                f"The age of a {noun} is the age recorded for it in whole years "
                + (
                    "at the case start (family records hold no birth date); "
                    if self.dataset == "familyman"
                    else "(carried forward from the offence or reception where that is what is recorded); "
                )
                + "one without a recorded age is not selected."
            )
        if self.what in DATASETS and self.filters:
            lacking = [e for e in _event_types(self.what) if any(c not in _SOURCES[e] for c, _ in self.filters)]
            if lacking:
                out.append(f"Event types without the filtered column ({', '.join(lacking)}) are not selected.")
        return tuple(out)


def select(what: str, **filters: Any) -> Selector:
    """A `Selector`: the events of dataset label or event type ``what`` whose spine columns match ``filters``.

    Args:
        what: a dataset label (``civil_caseman_pcol``) or an event type (``civil_claim``; `spine.EVENT_TYPES`).
        **filters: ``case_type``, ``disposal``, ``party_role``, ``offence_group`` (a value or a list of values,
            alternatives) and ``age=(lo, hi)`` (inclusive whole years at the event; None at an open end).

    Raises:
        DJSUserError: an unknown ``what``, a column ``what``'s events do not carry, or a value outside the column's
            code list; the message lists the valid columns or values.

    Example:
        >>> str(select("family_case_start", case_type="Public law", party_role="child", age=(0, 17)))
        'family_case_start: case_type=Public law; party_role=Child; age=0-17'
    """
    if not isinstance(what, str):
        raise DJSUserError("A selector names a dataset label or an event type (text), e.g. select('civil_claim').")
    what = what.strip()
    valid = selector_columns(what)
    bad = [c for c in filters if c not in valid]
    if bad:
        raise DJSUserError(
            f"Selector on {what}: {', '.join(f'`{c}`' for c in bad)} is not a column its events carry: valid "
            f"columns are {'; '.join(_listing(c, v) for c, v in valid.items()) or 'none'}"
            + ("" if set(bad) <= set(SELECTOR_COLUMNS) else f" (a selector filters on {', '.join(SELECTOR_COLUMNS)})")
            + "."
        )
    given_age = filters.get("age")
    if isinstance(given_age, str):
        given_age = _parse_age(f"{what}: age={given_age}", given_age)
    age = _age(what, given_age) if given_age is not None else None
    chosen = tuple((c, _values(what, c, filters[c], valid[c])) for c in SELECTOR_COLUMNS if c != "age" and c in filters)
    return Selector(what, chosen, age)


def parse_selector(text: str) -> Selector:
    """The `Selector` a string names (module docstring syntax); `str` of a selector parses back to it.

    Raises:
        DJSUserError: the string does not follow the syntax, or `select` refuses what it names.

    Example:
        >>> parse_selector("mags_conviction: disposal=Fine").describe()
        "magistrates' court conviction (disposal Fine)"
        >>> parse_selector("familyman: age=18+").age
        (18, None)
    """
    if not isinstance(text, str) or not text.strip():
        raise DJSUserError("An empty selector: name a dataset label or an event type, e.g. 'civil_claim'.")
    what, sep, rest = text.partition(":")
    what = what.strip()
    filters: dict[str, Any] = {}
    for part in (p.strip() for p in rest.split(";")) if sep else ():
        if not part:
            continue
        col, eq, value = part.partition("=")
        col = col.strip()
        if not eq or not col or not value.strip():
            raise DJSUserError(f"Selector {text!r}: {part!r} is not `column=value`; the syntax is {_syntax(what)}.")
        if col in filters:
            raise DJSUserError(f"Selector {text!r}: `{col}` is given twice: list its values once, comma-separated.")
        filters[col] = _parse_age(text, value) if col == "age" else [v for v in value.split(",") if v.strip()] or value
    return select(what, **filters)


def _parse_age(text: str, value: str) -> tuple[int | None, int | None]:
    m = re.fullmatch(r"\s*(\d+)?\s*(-|\+)?\s*(\d+)?\s*", value)
    if m is None or (m.group(2) == "+" and m.group(3)) or not (m.group(1) or m.group(3)):
        raise DJSUserError(f"Selector {text!r}: age={value.strip()} is not lo-hi, lo+ or -hi (e.g. age=0-17).")
    lo, op, hi = (int(m.group(1)) if m.group(1) else None), m.group(2), (int(m.group(3)) if m.group(3) else None)
    if op is None:
        return lo, lo
    return lo, hi


def as_selector(x: str | Selector) -> Selector:
    """A selector from a `Selector`, its string form or a plain dataset label / event type.

    Example:
        >>> as_selector("crown_case").is_plain
        True
    """
    if isinstance(x, Selector):
        return x
    if isinstance(x, str):
        return parse_selector(x)
    raise DJSUserError(
        f"An event is named by a selector or its string (e.g. 'civil_claim'), not by type {type(x).__name__}."
    )
