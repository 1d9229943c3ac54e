"""Overlaps between datasets: who appears where, in a common coverage window.

`memberships` is the person x dataset boolean frame every overlap count and dataset covariate
starts from; it reads the spine, never the raw tables.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from djs_toolkit.spine import build_spine, check_datasets, common_window

__all__ = ["memberships", "membership_masks", "resolve_window"]


def resolve_window(extract, labels: list[str], window) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The (start, end) window: the given pair, or the window all ``labels`` cover.

    Example:
        >>> resolve_window(None, [], ("2015-01-01", "2015-12-31"))
        (Timestamp('2015-01-01 00:00:00'), Timestamp('2015-12-31 00:00:00'))
    """
    if window is None:
        return common_window(extract, labels)
    start, end = window
    return pd.Timestamp(start), pd.Timestamp(end)


def _member_sql(labels: list[str], start: pd.Timestamp, end: pd.Timestamp, event_types: bool) -> str:
    cols = [f"MAX(CASE WHEN dataset = '{d}' THEN 1 ELSE 0 END) AS \"{d}\"" for d in labels]
    if event_types:
        from djs_toolkit.spine_sql import EVENT_TYPES

        cols += [f"MAX(CASE WHEN event_type = '{e}' THEN 1 ELSE 0 END) AS \"{e}\""
                 for d, e, _ in EVENT_TYPES if d in labels]
    inlist = ", ".join(f"'{d}'" for d in labels)
    return (f"SELECT person_id, {', '.join(cols)} FROM _spine WHERE dataset IN ({inlist}) "
            f"AND event_date >= DATE '{start.date()}' AND event_date <= DATE '{end.date()}' GROUP BY person_id")


def memberships(extract, datasets: Iterable[str] | None = None, window=None, event_types: bool = False) -> pd.DataFrame:
    """One row per person with an event in the window; one boolean column per dataset.

    Args:
        extract: an opened `Extract`.
        datasets: dataset labels (default: every dataset present).
        window: (start, end) dates; None = the window all chosen datasets cover (so overlaps are
            not deflated by comparing different coverage periods).
        event_types: also add one boolean column per event type of the chosen datasets.

    Returns:
        DataFrame with ``person_id`` and one bool column per dataset (and event type), sorted by
        person; ``.attrs["window"]`` holds the (start, end) used.

    Example:
        >>> # m = memberships(extract, ["familyman", "mags_hocas"])
        >>> # m.attrs["window"]
    """
    labels = check_datasets(extract, datasets)
    start, end = resolve_window(extract, labels, window)
    build_spine(extract)
    df = extract.engine.con.sql(_member_sql(labels, start, end, event_types) + " ORDER BY person_id").df()
    df["person_id"] = df["person_id"].astype("string")
    for c in df.columns[1:]:
        df[c] = df[c].astype(bool)
    df.attrs["window"] = (start, end)
    return df


def membership_masks(extract, datasets: Iterable[str] | None = None, window=None) -> pd.DataFrame:
    """Persons by exact combination of datasets, as a bitmask count, computed inside DuckDB.

    Bit i of ``mask`` is set when the person appears in ``datasets[i]``; ``persons`` counts people
    with exactly that combination (exclusive count). All 2^k combinations are listed, empty ones
    with 0.

    Example:
        >>> # membership_masks(extract, ["mags_hocas", "familyman"])  # mask 0..3
    """
    labels = check_datasets(extract, datasets)
    start, end = resolve_window(extract, labels, window)
    build_spine(extract)
    bits = " + ".join(f"\"{d}\" * {1 << i}" for i, d in enumerate(labels))
    got = extract.engine.con.sql(
        f"SELECT {bits} AS mask, COUNT(*) AS persons FROM ({_member_sql(labels, start, end, False)}) AS m "
        "GROUP BY 1").df()
    full = pd.DataFrame({"mask": range(1 << len(labels))})
    out = full.merge(got, on="mask", how="left").fillna({"persons": 0})
    out["persons"] = out["persons"].astype("int64")
    out.attrs["datasets"] = labels
    out.attrs["window"] = (start, end)
    return out
