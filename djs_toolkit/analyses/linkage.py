"""Linkage sensitivity: how overlap counts move when the person links are perturbed.

Relinks one row per person, dataset and event type in the window (dropping a share of links and merging
pairs of people), then recounts the overlap sets or the ordered overlap on each replicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from djs_toolkit.analyses.groups import entity
from djs_toolkit.analyses.overlap import (
    in_window,
    mask_counts,
    ordered_counts,
    ordered_frame,
    ordered_setup,
    overlap_sets,
    resolve_window,
    set_labels,
    sets_frame,
)
from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import as_selector

if TYPE_CHECKING:
    import duckdb

    from djs_toolkit.analyses.overlap import Span, Window
    from djs_toolkit.data.extract import Extract

__all__ = ["ordered_sensitivity", "sets_sensitivity"]


# -- ------------------------------------------------------------------------------------------
# The spine columns the masks, groups and event selectors (`spine.select`) read.
_RELINK_COLS = (
    "dataset",
    "event_type",
    "event_date",
    "age_at_event",
    "sex",
    "ethnicity_group",
    "case_type",
    "disposal",
    "party_role",
    "offence_group",
)


def _relink_base(
    con: duckdb.DuckDBPyConnection, labels: list[str], window: Span | None = None, selected: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Temp tables ``_relink_pd``, one row (``rn``) per person and dataset of ``labels`` in person order, and
    ``_relink_ev``, their events keyed by ``rn`` (with a window: one row per event type, its latest event
    there; with ``selected``, per event type and values of the columns a selector filters on, so a selector
    matches a kept row whenever it matches an event); returns each ``rn``'s person code and each person's blocking
    group (sex, ethnicity group, birth year)."""
    inlist = ", ".join(f"'{d}'" for d in labels)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _relink_pd AS SELECT ROW_NUMBER() OVER (ORDER BY person_id, dataset) - 1 "
        "AS rn, DENSE_RANK() OVER (ORDER BY person_id) - 1 AS pid, person_id, dataset, MIN(sex) AS sex, "
        "MIN(ethnicity_group) AS eth, MIN(EXTRACT(YEAR FROM event_date) - age_at_event) AS yob FROM _spine "
        f"WHERE dataset IN ({inlist}) GROUP BY person_id, dataset"
    )
    pid = con.sql("SELECT pid FROM _relink_pd ORDER BY rn").fetchnumpy()["pid"].astype(np.int64)
    # Blocks numbered in sorted order, missing values last.
    block = (
        con.sql(
            "SELECT DENSE_RANK() OVER (ORDER BY sex NULLS LAST, eth NULLS LAST, yob NULLS LAST) - 1 AS b, rn "
            "FROM _relink_pd WHERE rn IN (SELECT MIN(rn) FROM _relink_pd GROUP BY pid) ORDER BY rn"
        )
        .fetchnumpy()["b"]
        .astype(np.int64)
    )
    join = "FROM _spine s JOIN _relink_pd p ON p.person_id = s.person_id AND p.dataset = s.dataset"
    if window is None:
        cols = ", ".join(f"s.{c}" for c in _RELINK_COLS)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _relink_ev AS SELECT p.rn, {cols} {join}")
    else:  # the latest event of each type in the window: the one a person's group is read at (mask_counts)
        cols = ", ".join(f"s.{c}" for c in _RELINK_COLS)
        keys = ", case_type, disposal, party_role, offence_group, age_at_event" if selected else ""
        latest = (
            f"(SELECT *, ROW_NUMBER() OVER (PARTITION BY person_id, dataset, event_type{keys} ORDER BY event_date "
            f"DESC, age_at_event) AS k FROM _spine WHERE {in_window(*window)}) AS s"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _relink_ev AS SELECT p.rn, {cols} FROM {latest} "
            "JOIN _relink_pd p ON p.person_id = s.person_id AND p.dataset = s.dataset WHERE s.k = 1"
        )
    return pid, block


def _relink(pid: np.ndarray, block: np.ndarray, drop_rate: float, merge_rate: float, seed: int) -> np.ndarray:
    """New person code per ``_relink_pd`` row: the person clusters perturbed (seeded).

    A dropped link detaches one dataset's records of a multi-dataset person into a new cluster (a missed
    match); a merge joins two clusters with the same sex, ethnicity group and estimated birth year (a
    false match of near-identical people). Rates are per cross-dataset membership and per cluster pair
    (docs/methods.md §7 "Linkage uncertainty"; docs/data.md §10: Splink clusters at one threshold).
    """
    if not (0 <= drop_rate <= 1 and 0 <= merge_rate <= 1):
        raise DJSUserError("`drop_rate` and `merge_rate` must be fractions between 0 and 1.")
    rng = np.random.default_rng(seed)
    n_p, later = len(block), np.r_[False, pid[1:] == pid[:-1]]
    drop = later & (rng.random(len(pid)) < drop_rate)  # a person's 2nd+ dataset = a cross-dataset link
    order = np.lexsort((rng.random(n_p), block))  # random neighbours inside each block
    b = block[order]
    starts = np.r_[0, np.flatnonzero(b[1:] != b[:-1]) + 1] if n_p else np.zeros(0, int)
    rank = np.arange(n_p) - np.repeat(starts, np.diff(np.r_[starts, n_p]))  # position inside the block
    pair_a = np.flatnonzero((rank % 2 == 0) & np.r_[b[1:] == b[:-1], False])  # (0,1), (2,3)... per block
    pair_a = pair_a[rng.random(len(pair_a)) < merge_rate]
    target = np.arange(n_p)
    target[order[pair_a + 1]] = order[pair_a]
    return np.where(drop, n_p + np.cumsum(drop) - 1, target[pid])


def _relinked(con: duckdb.DuckDBPyConnection, new: np.ndarray) -> str:
    """SQL over ``_relink_ev`` with ``person_id`` the relinked person: registers the new codes."""
    con.register("_relink_df", pd.DataFrame({"rn": np.arange(len(new), dtype=np.int64), "new_id": new}))
    cols = ", ".join(f"s.{c}" for c in _RELINK_COLS)
    return f"(SELECT r.new_id AS person_id, {cols} FROM _relink_ev s JOIN _relink_df r ON r.rn = s.rn)"


def _drop_relink(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS _relink_ev")
    con.execute("DROP TABLE IF EXISTS _relink_pd")
    con.unregister("_relink_df")


def _ranges(
    head: pd.DataFrame, runs: list[pd.DataFrame], keys: list[str], cols: list[str], **attrs: object
) -> pd.DataFrame:
    idx = pd.MultiIndex.from_frame(head[keys]) if keys else head.index
    for c in cols:
        allv = pd.concat([(r.set_index(keys) if keys else r)[c] for r in runs], axis=1)
        allv.index = pd.MultiIndex.from_frame(allv.index.to_frame()) if keys else allv.index
        allv = allv.reindex(idx)
        allv = allv.fillna(0) if c in ("exclusive", "inclusive") else allv
        head[f"{c}_min"], head[f"{c}_max"] = allv.min(axis=1).to_numpy(), allv.max(axis=1).to_numpy()
    head.attrs.update(attrs)
    return head


def sets_sensitivity(
    extract: Extract,
    datasets: Iterable[str] | None = None,
    window: Window | None = None,
    by: str | None = None,
    drop_rate: float = 0.02,
    merge_rate: float = 0.01,
    reps: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """`overlap_sets` plus ``exclusive_min/max`` and ``inclusive_min/max`` over ``reps`` perturbed linkages.

    Example:
        >>> # sets_sensitivity(extract, drop_rate=0.05, merge_rate=0.01)[["combination", "exclusive",
        >>> #                  "exclusive_min", "exclusive_max"]]
    """
    labels = set_labels(extract, datasets)
    ds = list(dict.fromkeys(entity(d)[1] for d in labels))
    win = resolve_window(extract, ds, window)
    head = overlap_sets(extract, labels, win, by)
    con = extract.engine.con
    # The masks are MAX over a person's events in the window and the group is their latest event's there, so one
    # row per person, dataset and event type (its latest event in the window) gives the same counts as the events:
    # relink those, not the spine.
    pid, block = _relink_base(con, ds, win, selected=any(not as_selector(n).is_plain for n in labels))
    try:
        runs = [
            sets_frame(
                mask_counts(con, labels, win, by, _relinked(con, _relink(pid, block, drop_rate, merge_rate, seed + r))),
                labels,
                by,
                win,
            )
            for r in range(int(reps))
        ]
    finally:
        _drop_relink(con)
    return _ranges(
        head,
        runs,
        ([by] if by else []) + ["combination"],
        ["exclusive", "inclusive"],
        drop_rate=drop_rate,
        merge_rate=merge_rate,
        reps=int(reps),
        seed=seed,
    )


def ordered_sensitivity(
    extract: Extract,
    first: str,
    then: str,
    within_days: int,
    window: Window | None = None,
    by: str | None = None,
    drop_rate: float = 0.02,
    merge_rate: float = 0.01,
    reps: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """`ordered_overlap` plus min/max of ``cumulative_incidence``, ``naive_proportion`` and ``n_index``.

    Example:
        >>> # ordered_sensitivity(extract, "civil_claim", "mags_hocas", 180)[["cumulative_incidence",
        >>> #                     "cumulative_incidence_min", "cumulative_incidence_max"]]
    """
    start, end, censor = ordered_setup(extract, first, then, within_days, window)
    labels = list(dict.fromkeys([entity(first)[1], entity(then)[1]]))

    def one(src: str) -> pd.DataFrame:
        agg = ordered_counts(extract.engine.con, first, then, within_days, start, end, censor, by, src)
        return ordered_frame(agg, first, then, within_days, by, start, end, censor, 0.05)

    con = extract.engine.con
    pid, block = _relink_base(con, labels)
    try:
        runs = [one(_relinked(con, _relink(pid, block, drop_rate, merge_rate, seed + r))) for r in range(int(reps))]
    finally:
        _drop_relink(con)
    return _ranges(
        one("_spine"),
        runs,
        [by] if by else [],
        ["cumulative_incidence", "naive_proportion", "n_index"],
        drop_rate=drop_rate,
        merge_rate=merge_rate,
        reps=int(reps),
        seed=seed,
    )
