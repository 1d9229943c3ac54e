"""Shared selections of the analyses: what an event name means on the spine and how people are grouped.

The group labels are the package's one set (`schema.labels`: `MISSING_LABEL` for a missing value, the MoJ
`AGE_BANDS`), so tables from cohorts, overlaps, flows and journeys line up. A group is always read at one event: the
spine's attributes there are what the person's records dated on or before it say (`spine.build_spine`), so no
grouping reads a record from after the event it describes.

Example:
    >>> entity("civil_claim")
    ("(event_type = 'civil_claim')", 'civil_caseman_pcol')
    >>> group_sql("sex")
    "COALESCE(sex, 'Missing')"
"""

from __future__ import annotations

from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import MISSING_LABEL, age_band_sql
from djs_toolkit.spine.select import Selector, as_selector

__all__ = ["BY_ATTRIBUTES", "entity", "group_sql", "person_group_sql"]

# Person attributes on the spine. Region is not there (Data First person tables carry no usable
# person geography across datasets), so asking for it is refused with a message.
BY_ATTRIBUTES = ("sex", "ethnicity_group", "age_band")


def entity(name: str | Selector, alias: str = "") -> tuple[str, str]:
    """(SQL condition on the spine, dataset label) for an event selector (`spine.select`), its string, a dataset label
    or an event type; ``alias`` prefixes the condition's columns (``"s."``).

    Raises:
        DJSUserError: ``name`` is no valid selector (the message lists what is valid).
    """
    sel = as_selector(name)
    return sel.sql(alias), sel.dataset


def group_sql(by: str | None, alias: str = "") -> str:
    """SQL for the group of an event row: its attribute as the person's records up to that event say.

    Args:
        by: one of `BY_ATTRIBUTES`, or None for a single group ``'all'``.
        alias: table alias prefix of the spine columns (``"t."``).

    Raises:
        DJSUserError: ``by`` is not a person attribute on the spine.
    """
    if by is not None and by not in BY_ATTRIBUTES:
        raise DJSUserError(f"`by` must be one of {', '.join(BY_ATTRIBUTES)}: person region is not on the spine.")
    if by is None:
        return "'all'"
    col = f"{alias}{'age_at_event' if by == 'age_band' else by}"
    return age_band_sql(col) if by == "age_band" else f"COALESCE({col}, '{MISSING_LABEL}')"


def person_group_sql(by: str | None, src: str, where: str, at: str = "last") -> str:
    """SQL, one row per person: ``person_id``, ``event_date`` and ``grp`` of their first or last ``src`` row
    matching ``where``.

    A person-level group is the group of one event (`group_sql`): the first (an index, e.g. the ``first``
    event of an ordered overlap) or the last (a window, e.g. overlap sets: everything recorded up to the
    window's end, nothing after). Ties on the date go to the earlier dataset and event type, then the
    younger recorded age, so the same data give the same group.

    Example:
        >>> "ORDER BY event_date DESC" in person_group_sql("sex", "_spine", "TRUE")
        True
    """
    if at not in ("first", "last"):
        raise DJSUserError("`at` must be 'first' or 'last'.")
    order = "event_date" + (" DESC" if at == "last" else "")
    return (
        f"SELECT person_id, event_date, grp FROM (SELECT person_id, event_date, {group_sql(by)} AS grp, "
        f"ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY {order}, dataset, event_type, age_at_event) AS rn "
        f"FROM {src} WHERE {where}) AS g WHERE rn = 1"
    )
