"""Journeys between jurisdictions: who moves from one dataset to another, and how soon.

A person's contacts (the entry events of `flows.ENTRY_EVENTS`: a new court case, custody, probation,
family or civil case) are ordered in time; a transition is a contact in one dataset followed, as the
person's next contact, by one in another dataset. Counted in DuckDB over the spine. A ``population`` of event
selectors (`spine.select`) restricts the people counted to those with a selected event in the window (people
with a possession claim against them, or a family case), optionally only from that event on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from djs_toolkit.analyses.flows import ENTRY_EVENTS
from djs_toolkit.analyses.groups import group_sql
from djs_toolkit.analyses.multistate import Journeys, multistate
from djs_toolkit.analyses.overlap import resolve_window
from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import Selector, as_selector, build_spine, check_datasets

if TYPE_CHECKING:
    from djs_toolkit.analyses.overlap import Window
    from djs_toolkit.data.extract import Extract

__all__ = ["Journeys", "multistate", "transitions"]


def transitions(
    extract: Extract,
    datasets: Iterable[str] | None = None,
    within_days: int | None = None,
    by: str | None = None,
    window: Window | None = None,
    population: str | Selector | Iterable[str | Selector] | None = None,
    from_population_event: bool = False,
) -> pd.DataFrame:
    """Transition table between jurisdictions with the time between contacts.

    Args:
        extract: an opened `Extract`.
        datasets: dataset labels (default: all present); contacts elsewhere are ignored.
        within_days: count a transition only when the next contact comes within this many days.
        by: ``sex``, ``ethnicity_group`` or ``age_band``, as the person's records up to the later contact say.
        window: (start, end) for both contacts; None = the window all chosen datasets cover.
        population: event selectors (`spine.select`, their strings, dataset labels or event types; one or a list):
            count only people with one of these events in the window. None = everyone.
        from_population_event: count only transitions whose earlier contact is on or after the person's first
            population event in the window (what happened after the possession claim, not before it).

    Returns:
        One row per (``from_dataset``, ``to_dataset``, ``by``): ``transitions``, ``persons`` and the
        ``median_days``, ``q1_days``, ``q3_days`` between the two contacts; ``attrs``: ``window``, ``population``
        (the selectors' descriptions, `Selector.describe`: "a ... or a ..."; None for everyone), ``caveats``.

    Example:
        >>> # transitions(extract, within_days=365, by="sex").query("from_dataset == 'civil_caseman_pcol'")
    """
    labels = check_datasets(extract, datasets)
    start, end = resolve_window(extract, labels, window)
    build_spine(extract)
    inlist = ", ".join(f"'{d}'" for d in labels)
    types = ", ".join(f"'{e}'" for e in ENTRY_EVENTS)
    gap = f"AND days <= {int(within_days)}" if within_days is not None else ""
    in_window = f"event_date >= DATE '{start.date()}' AND event_date <= DATE '{end.date()}'"
    sels = _population(population)
    pop_join, pop_where = "", ""
    if sels:
        pop_join = (
            f"JOIN (SELECT person_id, MIN(event_date) AS p0 FROM _spine WHERE ({' OR '.join(x.sql() for x in sels)}) "
            f"AND {in_window} GROUP BY person_id) AS pop USING (person_id)"
        )
        pop_where = "AND prev_date >= p0" if from_population_event else ""
    elif from_population_event:
        raise DJSUserError("`from_population_event` needs a `population`: name the events that define it.")
    df = extract.engine.con.sql(f"""
        WITH e AS (SELECT person_id, dataset, event_date, record_id, sex, ethnicity_group, age_at_event
                   FROM _spine WHERE event_type IN ({types}) AND dataset IN ({inlist}) AND {in_window}),
        s AS (SELECT *, LAG(dataset) OVER w AS prev_dataset, LAG(event_date) OVER w AS prev_date FROM e
              WINDOW w AS (PARTITION BY person_id ORDER BY event_date, dataset, record_id)),
        t AS (SELECT *, CAST(event_date - prev_date AS INTEGER) AS days FROM s {pop_join}
              WHERE prev_dataset IS NOT NULL AND prev_dataset <> dataset {pop_where})
        SELECT prev_dataset AS from_dataset, dataset AS to_dataset, {group_sql(by)} AS grp, COUNT(*) AS transitions,
               COUNT(DISTINCT person_id) AS persons,
               PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days) AS median_days,
               PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY days) AS q1_days,
               PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY days) AS q3_days
        FROM t WHERE TRUE {gap} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""").df()
    df = df.drop(columns="grp") if by is None else df.rename(columns={"grp": by})
    df.attrs["window"] = (start, end)
    df.attrs["population"] = " or ".join(f"a {x.describe()}" for x in sels) if sels else None
    df.attrs["caveats"] = tuple(dict.fromkeys(c for x in sels for c in x.caveats()))
    return df


def _population(population: str | Selector | Iterable[str | Selector] | None) -> list[Selector]:
    if population is None:
        return []
    items = [population] if isinstance(population, (str, Selector)) else list(population)
    if not items:
        raise DJSUserError("`population` is empty: name at least one event selector, or pass None for everyone.")
    return [as_selector(x) for x in items]
