"""Journeys between jurisdictions: who moves from one dataset to another, and how soon.

A person's contacts (the entry events of `flows.ENTRY_EVENTS`: a new court case, custody, probation,
family or civil case) are ordered in time; a transition is a contact in one dataset followed, as the
person's next contact, by one in another dataset. Counted in DuckDB over the spine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from djs_toolkit.analyses.flows import ENTRY_EVENTS
from djs_toolkit.analyses.groups import group_sql
from djs_toolkit.analyses.overlap import resolve_window
from djs_toolkit.spine import build_spine, check_datasets

if TYPE_CHECKING:
    from djs_toolkit.analyses.overlap import Window
    from djs_toolkit.data.extract import Extract

__all__ = ["transitions"]


def transitions(
    extract: Extract,
    datasets: Iterable[str] | None = None,
    within_days: int | None = None,
    by: str | None = None,
    window: Window | None = None,
) -> pd.DataFrame:
    """Transition table between jurisdictions with the time between contacts.

    Args:
        extract: an opened `Extract`.
        datasets: dataset labels (default: all present); contacts elsewhere are ignored.
        within_days: count a transition only when the next contact comes within this many days.
        by: ``sex``, ``ethnicity_group`` or ``age_band``, as the person's records up to the later contact say.
        window: (start, end) for both contacts; None = the window all chosen datasets cover.

    Returns:
        One row per (``from_dataset``, ``to_dataset``, ``by``): ``transitions``, ``persons`` and the
        ``median_days``, ``q1_days``, ``q3_days`` between the two contacts; ``attrs["window"]``.

    Example:
        >>> # transitions(extract, within_days=365, by="sex").query("from_dataset == 'civil_caseman_pcol'")
    """
    labels = check_datasets(extract, datasets)
    start, end = resolve_window(extract, labels, window)
    build_spine(extract)
    inlist = ", ".join(f"'{d}'" for d in labels)
    types = ", ".join(f"'{e}'" for e in ENTRY_EVENTS)
    gap = f"AND days <= {int(within_days)}" if within_days is not None else ""
    df = extract.engine.con.sql(f"""
        WITH e AS (SELECT person_id, dataset, event_date, record_id, sex, ethnicity_group, age_at_event
                   FROM _spine WHERE event_type IN ({types}) AND dataset IN ({inlist})
                   AND event_date >= DATE '{start.date()}' AND event_date <= DATE '{end.date()}'),
        s AS (SELECT *, LAG(dataset) OVER w AS prev_dataset, LAG(event_date) OVER w AS prev_date FROM e
              WINDOW w AS (PARTITION BY person_id ORDER BY event_date, dataset, record_id)),
        t AS (SELECT *, CAST(event_date - prev_date AS INTEGER) AS days FROM s
              WHERE prev_dataset IS NOT NULL AND prev_dataset <> dataset)
        SELECT prev_dataset AS from_dataset, dataset AS to_dataset, {group_sql(by)} AS grp, COUNT(*) AS transitions,
               COUNT(DISTINCT person_id) AS persons,
               PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days) AS median_days,
               PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY days) AS q1_days,
               PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY days) AS q3_days
        FROM t WHERE TRUE {gap} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""").df()
    df = df.drop(columns="grp") if by is None else df.rename(columns={"grp": by})
    df.attrs["window"] = (start, end)
    return df
