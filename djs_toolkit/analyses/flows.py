"""Flows into and through the justice system by month, and interrupted time series (ITS) on them.

`monthly_flows` counts first-ever contacts (after a wash-out look-back, because a person first seen at
data start may well have been in contact before it: left truncation), re-entries (a person's 2nd+
contact) and cross-jurisdiction transitions (e.g. a civil claim then a criminal case within 180 days),
each flagging the most recent months as incomplete (docs/methods.md §8 "Right truncation of
recent months"). `its` (from `analyses.its`) fits the segmented regression of Lopez Bernal et al. (2017)
to such a series, with seasonality, several interruptions and ramps, autocorrelation-robust errors and the
counterfactual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from djs_toolkit.analyses.groups import entity, group_sql
from djs_toolkit.analyses.its import COVID_MONTHS, MIN_SEGMENT_MONTHS, ITSResult, its
from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import Selector, as_selector, build_spine, check_datasets, coverage
from djs_toolkit.spine.sql import EVENT_TYPES, days_between

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = ["COVID_MONTHS", "ENTRY_EVENTS", "KNOWN_DATES", "MIN_SEGMENT_MONTHS", "ITSResult", "its", "monthly_flows"]

# Event types that open a new contact with a jurisdiction (convictions, releases, orders and probation
# ends happen inside a contact, so they are not entries).
ENTRY_EVENTS = ("mags_case", "crown_case", "custody_start", "probation_start", "family_case_start", "civil_claim")
# Interruptions and ramps named in docs/methods.md §8: court closures (March 2020), the England
# evictions ban (Mar 2020 - May 2021: it starts with the closures, so one March 2020 interruption carries
# both, and a second one marks June 2021 when it lifts) and the
# cost-of-living crisis as a ramp. The ramp's span is our assumption: state it, and vary it (docs/methods.md §8 asks for
# sensitivity to the breakpoint).
KNOWN_DATES = {
    "court_closures": "2020-03",
    "evictions_ban_start": "2020-03",
    "evictions_ban_end": "2021-06",
    "cost_of_living_ramp": ("2021-10", "2022-10"),
}
_MONTH = "(EXTRACT(YEAR FROM {d}) * 12 + EXTRACT(MONTH FROM {d}) - 1)"  # portable month number


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _month_start(ts: pd.Timestamp, ceil: bool = False) -> pd.Period:
    p = pd.Timestamp(ts).to_period("M")
    return p + 1 if ceil and pd.Timestamp(ts) > p.start_time else p


def _grid(
    got: pd.DataFrame,
    spans: dict[str, tuple[pd.Period, pd.Period, pd.Timestamp]],
    by: str | None,
    incomplete_months: int,
) -> pd.DataFrame:
    """Zero-filled month x flow x group frame inside each flow's reporting span, recent months flagged."""
    groups = sorted(got["grp"].unique(), key=str) if by else ["all"]
    frames = []
    for flow, (lo, hi, until) in spans.items():
        if lo > hi:
            raise DJSUserError(f"No month of `{flow}` is left after the wash-out: shorten washout_months.")
        months = pd.period_range(lo, hi, freq="M")
        idx = pd.MultiIndex.from_product([months, groups], names=["period", "grp"])
        # PeriodIndex.from_ordinals is in pandas >= 2.2 but missing from pandas-stubs 2.3.
        sub = got[got["flow"] == flow].assign(
            period=lambda d: pd.PeriodIndex.from_ordinals(  # type: ignore[attr-defined]
                d["m"].astype(np.int64) - (1970 * 12), freq="M"
            )
        )
        cnt = sub.groupby(["period", "grp"])["n"].sum().reindex(idx, fill_value=0)
        f = cnt.reset_index().rename(columns={"n": "count"})
        f.insert(1, "dataset", flow)
        # Recent months still fill in (late records, cases not yet concluded): flagged, not dropped
        # (docs/methods.md §8).
        last_full = hi if until >= hi.end_time.normalize() else hi - 1
        f["incomplete"] = f["period"] > last_full - incomplete_months
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "month", out.pop("period").dt.start_time)
    out = out.rename(columns={"grp": by}) if by else out.drop(columns="grp")
    out["count"] = out["count"].astype(np.int64)
    return out


def monthly_flows(
    extract: Extract,
    kind: str = "first_entry",
    datasets: Iterable[str] | None = None,
    by: str | None = None,
    *,
    events: Sequence[str] = ENTRY_EVENTS,
    washout_months: int = 24,
    first: str | Selector | None = None,
    then: str | Selector | None = None,
    within_days: int = 180,
    incomplete_months: int = 3,
) -> pd.DataFrame:
    """Monthly counts of first-ever contacts, re-entries or cross-jurisdiction transitions.

    Args:
        extract: an opened `Extract`.
        kind: ``first_entry`` (a person's first entry event, per dataset and in ``any`` of them),
            ``re_entry`` (persons with an entry event after an earlier one anywhere in the datasets) or
            ``transition`` (persons with a ``then`` event preceded by a ``first`` event within
            ``within_days``; counted in the month of the ``then`` event).
        datasets: dataset labels for first_entry / re_entry (default: every dataset present).
        by: ``sex``, ``ethnicity_group`` or ``age_band``, as the person's records up to the counted event say.
        events: event types that count as a contact (default `ENTRY_EVENTS`).
        washout_months: look-back after each dataset's coverage start during which contacts are only
            history: months before start + wash-out are not reported (left truncation).
        first: what starts a transition: an event selector (`spine.select`), its string
            (``"mags_conviction: disposal=Fine"``), a dataset label or an event type.
        then: what ends a transition, likewise.
        within_days: maximum days from ``first`` to ``then``.
        incomplete_months: the last months before the data stop being observed flagged ``incomplete``
            (a partially observed last month is flagged too).

    Returns:
        ``month`` (first day), ``dataset`` (label, ``any``, or ``first -> then`` with their selector strings), ``by``
        (if given), ``count`` (persons), ``incomplete``; months with no flow are 0. ``attrs``: kind and settings
        (for a transition also ``first`` and ``then`` described, `Selector.describe`, and their ``caveats``).

    Example:
        >>> # f = monthly_flows(extract, "transition", first="civil_claim", then="mags_hocas", within_days=180)
        >>> # f[~f.incomplete].set_index("month")["count"]
    """
    build_spine(extract)
    cov = coverage(extract).set_index("dataset")
    start, observed_until = cov["start"], cov["observed_until"]  # Timestamps by dataset label
    con = extract.engine.con
    if kind == "transition":
        if first is None or then is None or int(within_days) <= 0:
            raise DJSUserError("A transition needs `first`, `then` and a positive `within_days`.")
        (fc, fd), (tc, td) = entity(first, "f."), entity(then, "t.")
        lo = max(start[td], start[fd] + pd.Timedelta(days=int(within_days)))
        until = min(observed_until[td], observed_until[fd])
        first_sel, then_sel = as_selector(first), as_selector(then)
        flow = f"{first_sel} -> {then_sel}"
        described = {
            "first": first_sel.describe(),
            "then": then_sel.describe(),
            "caveats": tuple(dict.fromkeys([*first_sel.caveats(), *then_sel.caveats()])),
        }
        gap = days_between("f.event_date", "t.event_date")
        sql = (
            f"SELECT {_quote(flow)} AS flow, {_MONTH.format(d='t.event_date')} AS m, {group_sql(by, 't.')} AS grp, "
            f"COUNT(DISTINCT t.person_id) AS n FROM _spine t JOIN _spine f ON f.person_id = t.person_id "
            f"WHERE {tc} AND {fc} AND {gap} >= 1 AND {gap} <= {int(within_days)} "
            f"AND t.event_date <= DATE '{until.date()}' GROUP BY 3, 2, 1"
        )
        spans = {flow: (_month_start(lo, ceil=True), _month_start(until), until)}
    elif kind in ("first_entry", "re_entry"):
        described = {}
        labels = check_datasets(extract, datasets)
        evs = [e for d, e, _ in EVENT_TYPES if d in labels and e in events]
        if not evs:
            raise DJSUserError("No entry event type belongs to the chosen datasets: check `events` and `datasets`.")
        starts = {d: start[d] + pd.DateOffset(months=int(washout_months)) for d in labels}
        untils = {d: observed_until[d] for d in labels}
        starts["any"], untils["any"] = max(starts.values()), min(untils.values())
        spans = {d: (_month_start(starts[d], ceil=True), _month_start(untils[d]), untils[d]) for d in [*labels, "any"]}
        where = f"event_type IN ({', '.join(repr(e) for e in evs)}) AND in_coverage"
        if kind == "first_entry":  # the first row of each person (and dataset) with its attributes
            rank = "ROW_NUMBER() OVER (PARTITION BY person_id{p} ORDER BY event_date, dataset, record_id)"
            sel = (
                f"SELECT person_id, dataset, event_date, {group_sql(by)} AS grp, {rank.format(p=', dataset')} AS r1, "
                f"{rank.format(p='')} AS r0 FROM _spine WHERE {where}"
            )
            keep_d, keep_any = "r1 = 1", "r0 = 1"
        else:  # an entry on a later day than the person's first entry is a re-entry
            sel = (
                f"SELECT person_id, dataset, event_date, {group_sql(by)} AS grp, MIN(event_date) OVER "
                f"(PARTITION BY person_id) AS first_date FROM _spine WHERE {where}"
            )
            keep_d = keep_any = "event_date > first_date"
        m = _MONTH.format(d="event_date")
        sql = (
            f"WITH e AS ({sel}) SELECT dataset AS flow, {m} AS m, grp, COUNT(DISTINCT person_id) AS n FROM e "
            f"WHERE {keep_d} GROUP BY 1, 2, 3 UNION ALL SELECT 'any' AS flow, {m} AS m, grp, "
            f"COUNT(DISTINCT person_id) AS n FROM e WHERE {keep_any} GROUP BY 1, 2, 3"
        )
    else:
        raise DJSUserError("`kind` must be 'first_entry', 're_entry' or 'transition'.")
    got = con.sql(sql).df()
    out = _grid(got, spans, by, int(incomplete_months))
    out.attrs.update(
        {
            "kind": kind,
            "washout_months": int(washout_months),
            "within_days": int(within_days),
            "incomplete_months": int(incomplete_months),
            **described,
        }
    )
    return out
