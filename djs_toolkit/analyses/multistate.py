"""Multi-state journeys after a start event: where people are, day by day, across the jurisdictions.

`multistate` follows everyone with a start event (their first, e.g. a possession claim) from that day (time zero)
for `horizon_days`, through six states: no contact, civil, family, criminal court, custody, probation. The state
rule (docs/methods.md §5.5):

- A contact is a new court case (criminal: magistrates' or Crown; family; civil claim), a custodial journey or a
  probation event. It is active from its start (first hearing, receipt, reception, referral, issue) to its end
  (final result, disposal, final release, termination); a contact with no end recorded (a civil claim never has
  one; its last possession order or warrant executed counts) is active for `open_days` after its last date.
- A person's state on a day is the jurisdiction of their active contact; when several are active, the most
  restrictive: custody, then probation, then criminal court, then family, then civil. With none active: no contact.
  A contact in a jurisdiction left out of `states` counts as no contact.
- Follow-up ends (right censoring) at the horizon or on the last day every dataset involved observes
  (`spine.observed_until`: coverage ends and the Common Platform cliff), whichever is first. A start event dated
  before the first day every dataset involved covers is followed from that day (late entry: left truncation), in
  the state the rule gives then.

The estimates are `survival.multistate` (Aalen-Johansen, infinitesimal-jackknife CIs). What leaves the function
for release is checked by the output checker (`sdc.Session`, docs/disclosure.md §7): the numbers of people in each
state at each reporting time (rows stop, as Kaplan-Meier tables do, once fewer than the threshold are followed),
the transitions per interval and the first moves (sequences) are count tables protected with their margins;
probabilities and cumulative intensities are published only where the counts behind them are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from djs_toolkit.analyses.cases import INDEX_TYPES, index_select
from djs_toolkit.analyses.groups import group_sql
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import DATASETS
from djs_toolkit.sdc import Output, Session
from djs_toolkit.spine import Selector, as_selector, build_spine, observed_until
from djs_toolkit.spine.sql import days_between
from djs_toolkit.survival import MultistateFit
from djs_toolkit.survival import multistate as aalen_johansen

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = ["NO_CONTACT", "STATES", "Journeys", "multistate"]

NO_CONTACT = "no contact"
# Jurisdiction states, most restrictive first (the order that settles overlapping contacts), with their contacts.
_CONTACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # state: (datasets, contact event types)
    "custody": (("prison_nomis",), ("custody_start",)),
    "probation": (("probation_delius",), ("probation_start",)),
    "criminal court": (("mags_hocas", "crown_xhibit"), ("mags_case", "crown_case")),
    "family": (("familyman",), ("family_case_start",)),
    "civil": (("civil_caseman_pcol",), ("civil_claim",)),
}
STATES = (NO_CONTACT, "civil", "family", "criminal court", "custody", "probation")
END_OF_FOLLOW_UP = "end of follow-up"


@dataclass
class Journeys:
    """What `multistate` returns.

    Attributes:
        states: the states, in table order.
        times: the reporting times (days since the start event).
        occupation: per group, time and state: ``n`` (protected count of people in the state), ``estimate``,
            ``std_error``, ``ci_lower``, ``ci_upper``; withheld (missing) wherever the count is.
        intensities: per group, transition and reporting time: ``transitions`` (cumulative, protected), ``cumhaz``
            (Nelson-Aalen cumulative intensity) and its CI; withheld wherever a count behind it is.
        counts: checked output: people in each state (columns) per group and reporting time, with margins.
        transitions: checked output: moves per group and transition (rows) per interval (columns), with margins.
        sequences: checked output: the first three moves after time zero per step and state left (rows) into each
            state or the end of follow-up (columns), for the whole cohort followed from time zero, with margins.
        fit: the unprotected estimates (`survival.MultistateFit`): for the researcher, never for release.
        rows: the start-stop rows, one per person and spell (records: never for release).
        info: cohort facts (start, window, people, late entries, the state rule's parameters).
        counts_behind: for ``occupation`` and ``intensities``, the unprotected counts behind each published value
            (same key and value columns), to pass as ``counts=`` when saving the statistic (`outputs.save_table`
            checks the statistic through them): never for release.
    """

    states: tuple[str, ...]
    times: np.ndarray
    occupation: pd.DataFrame
    intensities: pd.DataFrame
    counts: Output
    transitions: Output
    sequences: Output
    fit: MultistateFit
    rows: pd.DataFrame = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    counts_behind: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)


def _start_sql(start: str | Selector) -> tuple[str, str, str]:
    """(SQL of the start events with ``event_date``, dataset label, description) for an index type or a selector."""
    if isinstance(start, str) and start in INDEX_TYPES:
        dataset, flt, when = INDEX_TYPES[start]
        return index_select(start, flt, when), dataset, start.replace("_", " ")
    sel = as_selector(start)
    return f"SELECT * FROM _spine WHERE {sel.sql()}", sel.dataset, sel.describe()


def _check_states(states: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(STATES) if states is None else tuple(dict.fromkeys([NO_CONTACT, *states]))
    bad = [s for s in chosen if s not in STATES]
    if bad:
        raise DJSUserError(f"Unknown state(s) {', '.join(map(repr, bad))}: states are {', '.join(STATES)}.")
    if len(chosen) < 2:
        raise DJSUserError("Name at least one jurisdiction state besides 'no contact'.")
    return chosen


def _window(extract: Extract, datasets: list[str], start_dataset: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day every dataset covers and the last day every one observes (entries before it are late)."""
    present = [d for d in datasets if DATASETS[d].person_table in extract.tables]
    missing = sorted(set(datasets) - set(present))
    if missing:
        raise DJSUserError(f"The extract has no {', '.join(missing)} data: leave the states they feed out of `states`.")
    first = pd.Timestamp(max(DATASETS[d].start for d in present))
    last = pd.Timestamp(min(observed_until(d, extract.extract_end) for d in [*present, start_dataset]))
    if first > last:
        raise DJSUserError("The datasets of these states share no coverage window: choose fewer states.")
    return first, last


def _cohort_and_contacts(
    extract: Extract, start: str | Selector, chosen: tuple[str, ...], horizon: int, by: str | None, open_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Per person: time zero, entry and exit days, group; and every contact overlapping follow-up, in days."""
    build_spine(extract)
    index_sql, start_dataset, described = _start_sql(start)
    used = [s for s in _CONTACTS if s in chosen]
    datasets = sorted({d for s in used for d in _CONTACTS[s][0]})
    first, last = _window(extract, datasets, start_dataset)
    lo = pd.Timestamp(DATASETS[start_dataset].start)
    con = extract.engine.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ms_index AS
        SELECT person_id, t0, grp,
               GREATEST(0, {days_between("t0", f"DATE '{first.date()}'")}) AS entry,
               LEAST({int(horizon)}, {days_between("t0", f"DATE '{last.date()}'")}) AS exit
        FROM (SELECT person_id, event_date AS t0, {group_sql(by)} AS grp,
                     ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY event_date, record_id) AS rn
              FROM ({index_sql}) AS i WHERE event_date IS NOT NULL AND event_date >= DATE '{lo.date()}'
              AND event_date <= DATE '{last.date()}') AS f
        WHERE rn = 1""")
    cohort = con.sql("SELECT person_id, grp, entry, exit FROM _ms_index WHERE entry < exit ORDER BY person_id").df()
    firsts = int(con.sql("SELECT COUNT(*) AS n FROM _ms_index").df()["n"].iloc[0])
    state_case = " ".join(
        f"WHEN s.event_type IN ({', '.join(repr(e) for e in _CONTACTS[st][1])}) THEN {i + 1}"
        for i, st in enumerate(used)
    )
    types = ", ".join(repr(e) for st in used for e in _CONTACTS[st][1])
    # A civil claim's last date is its last possession order or warrant executed (same party record).
    contacts = con.sql(f"""
        WITH civ AS (SELECT record_id, MAX(event_date) AS last_date FROM _spine
                     WHERE event_type IN ('possession_order', 'warrant_executed')
                     AND person_id IN (SELECT person_id FROM _ms_index) GROUP BY record_id),
        c AS (SELECT s.person_id, CASE {state_case} END AS rank, {days_between("i.t0", "s.event_date")} AS a,
                     CASE WHEN s.end_date IS NOT NULL AND s.end_date >= s.event_date
                          THEN {days_between("i.t0", "s.end_date")}
                          ELSE {days_between("i.t0", "GREATEST(s.event_date, COALESCE(v.last_date, s.event_date))")}
                               + {int(open_days)} END AS b, i.entry, i.exit
              FROM _spine s JOIN _ms_index i ON s.person_id = i.person_id
              LEFT JOIN civ v ON s.event_type = 'civil_claim' AND v.record_id = s.record_id
              WHERE s.event_type IN ({types}))
        SELECT person_id, rank, GREATEST(a, entry) AS a, b FROM c
        WHERE b >= entry AND a <= exit AND entry < exit""").df()
    con.execute("DROP TABLE IF EXISTS _ms_index")
    info = {
        "start": str(start),
        "start_described": described,
        "window": (first, last),
        "first_start_events": firsts,
        "people": len(cohort),
        "late_entries": int((cohort["entry"] > 0).sum()),
        "horizon_days": int(horizon),
        "open_days": int(open_days),
        "priority": [s for s in _CONTACTS if s in chosen],
    }
    return cohort, contacts, info


def _paths(cohort: pd.DataFrame, contacts: pd.DataFrame, used: list[str], codes: dict[str, int]) -> pd.DataFrame:
    """Start-stop rows per person from the contacts: state changes where the most restrictive active contact does."""
    n_used = len(used)
    pidx = pd.Index(cohort["person_id"])
    who = pidx.get_indexer(contacts["person_id"])
    rank = contacts["rank"].to_numpy(np.int64) - 1  # 0 = most restrictive
    a, b = contacts["a"].to_numpy(np.int64), contacts["b"].to_numpy(np.int64)
    entry, exit_ = cohort["entry"].to_numpy(np.int64), cohort["exit"].to_numpy(np.int64)
    n = len(cohort)
    # deltas: +1 at a, -1 at b + 1, per (person, day, rank); plus a zero delta at every person's entry
    person = np.concatenate([who, who, np.arange(n)])
    day = np.concatenate([a, b + 1, entry])
    r = np.concatenate([rank, rank, np.zeros(n, np.int64)])
    delta = np.concatenate([np.ones(len(a)), -np.ones(len(a)), np.zeros(n)])
    order = np.lexsort((day, person))
    person, day, r, delta = person[order], day[order], r[order], delta[order]
    active = np.zeros((len(person), n_used))
    active[np.arange(len(person)), r] = delta
    active = np.cumsum(active, axis=0)  # each person's deltas sum to zero, so the running sum restarts per person
    last = np.r_[(person[1:] != person[:-1]) | (day[1:] != day[:-1]), True]  # state after a day's changes
    on = active[last] > 0.5
    person, day = person[last], day[last]
    top = np.where(on.any(axis=1), on.argmax(axis=1), -1)
    state = np.array([codes[NO_CONTACT]] + [codes[s] for s in used], dtype=np.int64)[top + 1]
    keep = day <= exit_[person]
    person, day, state = person[keep], day[keep], state[keep]
    # drop days on which the state does not change (the first row of each person is always kept)
    new = np.r_[True, (person[1:] != person[:-1]) | (state[1:] != state[:-1])]
    person, day, state = person[new], day[new], state[new]
    nxt_same = np.r_[person[1:] == person[:-1], False]
    stop = np.where(nxt_same, np.r_[day[1:], 0], exit_[person])
    to = np.where(nxt_same, np.r_[state[1:], -1], -1)
    rows = pd.DataFrame({"pid": person, "start": day, "stop": stop, "from_code": state, "to_code": to})
    rows["grp"] = cohort["grp"].to_numpy()[person]
    return rows[rows["start"] < rows["stop"]].reset_index(drop=True)  # a move on the last day ends follow-up there


def _at(rows: pd.DataFrame, t: float) -> np.ndarray:
    """Rows counted at time t: at risk (start < t <= stop); at 0, those followed from time zero."""
    if t <= 0:
        return (rows["start"].to_numpy() == 0) & (rows["stop"].to_numpy() > 0)
    return (rows["start"].to_numpy() < t) & (rows["stop"].to_numpy() >= t)


def _grid_rows(wide: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """A count grid with its row labels as index levels (group first when grouped)."""
    return wide if by else wide.droplevel(0)


def _start_state(start: str | Selector, chosen: tuple[str, ...]) -> str | None:
    """The state whose contact the start event itself is (a possession claim: civil), or None (a conviction)."""
    if isinstance(start, str) and start in INDEX_TYPES:
        found = re.search(r"event_type = '(\w+)'", INDEX_TYPES[start][1])
        what = found.group(1) if found else None
    else:
        what = as_selector(start).what
    return next((s for s in _CONTACTS if s in chosen and what in _CONTACTS[s][1]), None)


def _below_at_start(wide: pd.DataFrame, start_state: str | None) -> pd.DataFrame | None:
    """Cells of the state counts that cannot occur: at time zero the start event's own contact is active (it starts
    that day and ends on or after it), so nobody followed from then is in a state the rule ranks below it."""
    if start_state is None:
        return None
    ranked = list(_CONTACTS)
    below = {NO_CONTACT, *ranked[ranked.index(start_state) + 1 :]}
    at_zero = wide.index.get_level_values("time") == 0
    return pd.DataFrame({c: at_zero & (c in below) for c in wide.columns}, index=wide.index)


def _protect(
    session: Session,
    wide: pd.DataFrame,
    name: str,
    description: str,
    population: str,
    structural: pd.DataFrame | None = None,
) -> Output:
    if wide.empty:
        raise DJSUserError(
            f"Nothing to count for `{name}`: fewer people than the threshold are followed, or nobody moves; "
            "choose a more common start event or a longer horizon."
        )
    out = session.table(
        wide, name=name, description=description, population=population, margins=True, structural_zeros=structural
    )
    if len(out.table) != len(wide) + 1:  # the checker keeps the row order and adds the total row
        raise DJSUserError(f"The protected `{name}` table lost rows: report this to the toolkit maintainers.")
    return out


def _withheld(out: Output, wide: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame shaped like ``wide``: cells the checker withheld."""
    mask = out.mask if out.mask is not None else out.table.isna()
    m = (
        mask.iloc[: len(wide)][list(wide.columns)].to_numpy(bool)
        | out.table.iloc[: len(wide)][list(wide.columns)].isna().to_numpy()
    )
    return pd.DataFrame(m, index=wide.index, columns=wide.columns)


def multistate(
    extract: Extract,
    start: str | Selector,
    states: Sequence[str] | None = None,
    horizon_days: int = 1095,
    by: str | None = None,
    *,
    step_days: int = 90,
    move_step_days: int = 365,
    open_days: int = 90,
    session: Session | None = None,
    name: str = "journeys",
    alpha: float = 0.05,
) -> Journeys:
    """State-occupation probabilities, transitions and first moves after a start event, protected for release.

    Args:
        extract: an opened `Extract`.
        start: the start event: an index type (`analyses.INDEX_TYPES`, e.g. ``"possession_claim"``), a dataset
            label or event type, or an event selector (``"family_case_start: case_type=Public law"``); each
            person's first such event in the data is their time zero.
        states: jurisdiction states to follow (default all of `STATES`); ``no contact`` is always one.
        horizon_days: follow-up from time zero, in days.
        by: ``sex``, ``ethnicity_group`` or ``age_band`` at the start event.
        step_days: spacing of the reporting times of the state counts and probabilities (0, step, ... horizon).
        move_step_days: width of the intervals the moves are counted in, and the spacing of the intensities' times
            (coarser than `step_days`: moves are rarer than people in a state, and small counts are withheld).
        open_days: how long a contact with no recorded end stays active after its last date.
        session: the checking session (a notebook passes ``outputs.session()``); default: an `srs` session
            without a ledger.
        name: prefix of the checked outputs' names.
        alpha: 1 - confidence level.

    Returns:
        `Journeys`: protected probabilities and intensities, the three checked count tables, the unprotected fit.

    Example:
        >>> # j = multistate(extract, "possession_claim", horizon_days=730, by="sex", session=outputs.session())
        >>> # j.occupation.query("time == 365")
    """
    chosen = _check_states(states)
    if min(int(horizon_days), int(step_days), int(move_step_days)) < 1 or int(open_days) < 0:
        raise DJSUserError("`horizon_days`, `step_days` and `move_step_days` must be at least 1, `open_days` >= 0.")
    session = session if session is not None else Session("srs", ledger=False)
    used = [s for s in _CONTACTS if s in chosen]
    codes = {s: i for i, s in enumerate(chosen)}
    cohort, contacts, info = _cohort_and_contacts(extract, start, chosen, int(horizon_days), by, int(open_days))
    if cohort.empty:
        raise DJSUserError("No start events fall in the window the chosen states' datasets cover: check `start`.")
    rows = _paths(cohort, contacts, used, codes)
    labels = np.array(chosen, dtype=object)
    rows["from_state"] = labels[rows["from_code"].to_numpy()]
    rows["to_state"] = np.where(rows["to_code"] >= 0, labels[np.maximum(rows["to_code"].to_numpy(), 0)], "")
    grid = _grid(int(horizon_days), int(step_days))
    move_grid = _grid(int(horizon_days), int(move_step_days))
    fit = aalen_johansen(
        rows, "start", "stop", "from_state", "to_state", "pid", states=chosen, by="grp" if by else None,
        times=np.union1d(grid, move_grid), alpha=alpha,
    )  # fmt: skip
    population = f"people with a first {info['start_described']}, followed up to {int(horizon_days)} days"
    groups = sorted(rows["grp"].unique(), key=str) if by else ["all"]
    threshold = session.profile.min_safe_count
    # -- people in each state at each reporting time (rows stop once fewer than the threshold are followed)
    recs = []
    for g in groups:
        sub = rows[rows["grp"] == g] if by else rows
        for t in grid:
            at = _at(sub, t)
            n = np.bincount(sub["from_code"].to_numpy()[at], minlength=len(chosen))
            if n.sum() < threshold:
                break
            recs.append((g, int(t), *n.tolist()))
    occ_wide = pd.DataFrame(recs, columns=[by or "group", "time", *chosen]).set_index([by or "group", "time"])
    occ_wide.columns.name = "state"
    occ_wide = _grid_rows(occ_wide, by)
    counts = _protect(session, occ_wide, f"{name}_states", "people in each state at each time since the start event",
                      population, _below_at_start(occ_wide, _start_state(start, chosen)))  # fmt: skip
    hid = _withheld(counts, occ_wide)
    occ, occ_behind = _occupation(fit, occ_wide, hid, by)
    # -- transitions per interval
    trans_wide, trans_hid, transitions = _transitions(session, rows, move_grid, by, name, population)
    intens, int_behind = _intensities(fit, trans_wide, trans_hid, by, move_grid)
    sequences = _sequences(session, rows, chosen, name, population)
    info.update(
        {"states": chosen, "step_days": int(step_days), "move_step_days": int(move_step_days), "threshold": threshold}
    )
    behind = {"occupation": occ_behind, "intensities": int_behind}
    return Journeys(chosen, grid, occ, intens, counts, transitions, sequences, fit, rows, info, behind)


def _grid(horizon: int, step: int) -> np.ndarray:
    """0, step, 2 step, ... up to the horizon; the horizon itself only when at least half a step beyond (two near
    rows would differ by a few people)."""
    grid = np.arange(0, horizon + 1, step, dtype=float)
    return grid if horizon - grid[-1] < step / 2 else np.r_[grid, float(horizon)]


_STAT_COLUMNS = ("estimate", "std_error", "ci_lower", "ci_upper")


def _occupation(
    fit: MultistateFit, wide: pd.DataFrame, hid: pd.DataFrame, by: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probabilities at the reporting times, withheld where the count of people in the state is."""
    long = cast(pd.Series, wide.stack()).reset_index(name="n")  # stubs type stack() as a DataFrame
    withheld = hid.stack().to_numpy()
    est = fit.occupation.rename(columns={"grp": by} if by else {})
    keys = ([by] if by else []) + ["time", "state"]
    est = est.assign(time=est["time"].astype(int))
    out = long.merge(est.drop(columns="n_at_risk"), on=keys, how="left")
    cols = ["n", "estimate", "std_error", "ci_lower", "ci_upper"]
    out[cols] = out[cols].astype(float)
    raw = out["n"].to_numpy().copy()
    out.loc[withheld, cols] = np.nan
    behind = out[keys].assign(**{c: raw.astype(np.int64) for c in _STAT_COLUMNS})
    return out, behind


def _transitions(
    session: Session, rows: pd.DataFrame, grid: np.ndarray, by: str | None, name: str, population: str
) -> tuple[pd.DataFrame, pd.DataFrame, Output]:
    moved = rows[rows["to_code"] >= 0]
    edges = grid[1:]
    k = np.searchsorted(edges, moved["stop"].to_numpy(), side="left")  # interval (edges[k-1], edges[k]]
    starts = np.r_[0, edges[:-1]].astype(int)
    names = [f"{a + 1}-{int(b)}" for a, b in zip(starts, edges, strict=True)]
    frame = pd.DataFrame(
        {
            "group": moved["grp"].to_numpy() if by else "all",
            "transition": moved["from_state"].to_numpy() + " -> " + moved["to_state"].to_numpy(),
            "days": pd.Categorical(np.array(names, dtype=object)[k], categories=names),
        }
    )
    wide = frame.groupby(["group", "transition", "days"], observed=False).size().unstack("days", fill_value=0)
    wide = wide[wide.sum(axis=1) > 0]
    if by:
        wide.index = wide.index.set_names([by, "transition"])
    wide = _grid_rows(wide, by)
    wide.columns = pd.Index([str(c) for c in wide.columns], name="days since start")
    out = _protect(session, wide, f"{name}_moves", "moves between states in each interval since the start event",
                   population)  # fmt: skip
    return wide, _withheld(out, wide), out


def _intensities(
    fit: MultistateFit, wide: pd.DataFrame, hid: pd.DataFrame, by: str | None, grid: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cumulative intensities at the reporting times, where every interval count up to the time is released."""
    h = fit.hazards.rename(columns={"grp": by} if by else {})
    h = h.assign(transition=h["from_state"] + " -> " + h["to_state"], time=h["time"].astype(int))
    h = h[h["time"] > 0]
    cum = wide.cumsum(axis=1)
    shown = ~hid.cumsum(axis=1).astype(bool)
    cum.columns = shown.columns = grid[1 : len(wide.columns) + 1].astype(int)
    both = cast(pd.Series, cum.stack()).reset_index(name="transitions")
    both["shown"] = shown.stack().to_numpy()
    both.columns = [*([by] if by else []), "transition", "time", "transitions", "shown"]
    keys = [*([by] if by else []), "transition", "time"]
    out = both.merge(h[[*keys, "n_at_risk", "cumhaz", "std_error", "ci_lower", "ci_upper"]], on=keys, how="left")
    cols = ["transitions", "cumhaz", "std_error", "ci_lower", "ci_upper"]
    out[cols] = out[cols].astype(float)
    raw = out["transitions"].to_numpy().copy()
    out.loc[~out["shown"].to_numpy(bool), cols] = np.nan
    out = out.drop(columns=["shown", "n_at_risk"])
    return out, out[keys].assign(**{c: raw.astype(np.int64) for c in _STAT_COLUMNS})


def _sequences(session: Session, rows: pd.DataFrame, chosen: tuple[str, ...], name: str, population: str) -> Output:
    """The first three moves of people followed from time zero: (step, from) x (to or end of follow-up), whole cohort
    (by group they would be mostly small cells)."""
    seq = rows[rows.groupby("pid")["start"].transform("min") == 0].sort_values(["pid", "start"])
    step = seq.groupby("pid").cumcount() + 1
    seq = seq[step <= 3].assign(step=step[step <= 3])
    to = np.where(seq["to_code"] >= 0, seq["to_state"], END_OF_FOLLOW_UP)
    cols = [*chosen, END_OF_FOLLOW_UP]
    frame = pd.DataFrame(
        {
            "step": seq["step"].to_numpy(),
            "from_state": pd.Categorical(seq["from_state"], categories=list(chosen)),
            "to_state": pd.Categorical(to, categories=cols),
        }
    )
    wide = frame.groupby(["step", "from_state", "to_state"], observed=False).size().unstack("to_state")
    wide = wide[wide.sum(axis=1) > 0]
    wide.columns = pd.Index([str(c) for c in wide.columns], name="to_state")
    # A move is a change of state: from a state into itself cannot occur.
    itself = pd.DataFrame({c: wide.index.get_level_values("from_state") == c for c in wide.columns}, index=wide.index)
    return _protect(session, wide, f"{name}_sequences", "first three moves after the start event (people followed "
                    "from it), by the state they leave", population, itself)  # fmt: skip
