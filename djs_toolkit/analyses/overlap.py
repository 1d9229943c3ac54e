"""Overlaps between datasets: who appears where, in a common coverage window, and in which order.

Everything reads the spine (`spine.build_spine`), never the raw tables. Definitions follow
docs/methods.md §7: *exclusive* counts (exactly these datasets: UpSet bars, they sum to the
union) and *inclusive* counts (at least these: what "in both A and B" means), restricted to the window
every compared dataset covers so overlaps are not deflated by different coverage periods. Time-ordered
overlaps ("A then B within d days") get a censoring-aware estimate beside the naive proportion among
people with complete follow-up (docs/methods.md §7). Linkage sensitivity perturbs the person clusters (§7 "Linkage
uncertainty"). `sdc.overlap.protect_overlap` protects exclusive cells, inclusive counts and set sizes as one
linked table (docs/disclosure.md §7.3: suppression, then an LP attacker audit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from djs_toolkit.analyses.groups import BY_ATTRIBUTES, entity, person_group_sql
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import MISSING_LABEL
from djs_toolkit.sdc.overlap import superset_sums
from djs_toolkit.spine import Selector, as_selector, build_spine, check_datasets, common_window, coverage
from djs_toolkit.spine.sql import EVENT_TYPES, days_between

if TYPE_CHECKING:
    import duckdb

    from djs_toolkit.data.extract import Extract

__all__ = [
    "BY_ATTRIBUTES",
    "Window",
    "membership_masks",
    "memberships",
    "ordered_overlap",
    "overlap_sets",
    "resolve_window",
]


# A window as a researcher gives it: (start, end) as ISO strings, dates or Timestamps (a Timestamp is a date).
Window = tuple[str | dt.date | np.datetime64, str | dt.date | np.datetime64]
Span = tuple[pd.Timestamp, pd.Timestamp]  # a window resolved to Timestamps


def resolve_window(extract: Extract, labels: list[str], window: Window | None) -> Span:
    """The (start, end) window: the given pair, or the window all ``labels`` cover.

    Example:
        >>> resolve_window(None, [], ("2015-01-01", "2015-12-31"))
        (Timestamp('2015-01-01 00:00:00'), Timestamp('2015-12-31 00:00:00'))
    """
    if window is None:
        return common_window(extract, labels)
    start, end = window
    return pd.Timestamp(start), pd.Timestamp(end)


def in_window(start: pd.Timestamp, end: pd.Timestamp, col: str = "event_date") -> str:
    return f"{col} >= DATE '{start.date()}' AND {col} <= DATE '{end.date()}'"


def _member_sql(names: list[str], start: pd.Timestamp, end: pd.Timestamp, k: int | None = None) -> str:
    """One row per person with an event of one of the first ``k`` (default: all) ``names`` (selectors) in the
    window: ``person_id`` and one 0/1 column ``c<i>`` per name (positional: a selector's string is no SQL
    identifier)."""
    cols = [f"MAX(CASE WHEN {entity(n)[0]} THEN 1 ELSE 0 END) AS c{i}" for i, n in enumerate(names)]
    inlist = ", ".join(f"'{d}'" for d in dict.fromkeys(entity(n)[1] for n in names))
    any_named = " OR ".join(f"c{i} = 1" for i in range(k or len(names)))
    return (
        f"SELECT person_id, {', '.join(cols)} FROM _spine WHERE dataset IN ({inlist}) "
        f"AND {in_window(start, end)} GROUP BY person_id HAVING {any_named}"
    )


def memberships(
    extract: Extract,
    datasets: Iterable[str | Selector] | None = None,
    window: Window | None = None,
    event_types: bool = False,
) -> pd.DataFrame:
    """One row per person with a selected event in the window; one boolean column per dataset or selector.

    Args:
        extract: an opened `Extract`.
        datasets: dataset labels, event types or event selectors (`spine.select` or its string, e.g.
            ``"civil_claim: party_role=Defendant"``); default: every dataset present.
        window: (start, end) dates; None = the window all their datasets cover (so overlaps are
            not deflated by comparing different coverage periods).
        event_types: also add one boolean column per event type of their datasets.

    Returns:
        DataFrame with ``person_id`` and one bool column per dataset or selector (named by its string form; and per
        event type), sorted by person; ``.attrs["window"]`` holds the (start, end) used, ``.attrs["selected"]``
        each column's description (`Selector.describe`).

    Example:
        >>> # m = memberships(extract, ["familyman", "mags_conviction: disposal=Fine"])
        >>> # m.attrs["window"]
    """
    names = set_labels(extract, datasets)
    ds = list(dict.fromkeys(entity(n)[1] for n in names))
    start, end = resolve_window(extract, ds, window)
    k = len(names)
    if event_types:
        names += [e for d, e, _ in EVENT_TYPES if d in ds and e not in names]
    build_spine(extract)
    df = extract.engine.con.sql(_member_sql(names, start, end, k) + " ORDER BY person_id").df()
    df.columns = ["person_id", *names]
    df["person_id"] = df["person_id"].astype("string")
    for c in names:
        df[c] = df[c].astype(bool)
    df.attrs["window"] = (start, end)
    df.attrs["selected"] = {n: as_selector(n).describe() for n in names}
    return df


def membership_masks(
    extract: Extract, datasets: Iterable[str | Selector] | None = None, window: Window | None = None
) -> pd.DataFrame:
    """Persons by exact combination of datasets (or selectors, as `memberships`), as a bitmask count, computed
    inside DuckDB.

    Bit i of ``mask`` is set when the person appears in ``datasets[i]``; ``persons`` counts people
    with exactly that combination (exclusive count). All 2^k combinations are listed, empty ones
    with 0.

    Example:
        >>> # membership_masks(extract, ["mags_hocas", "familyman"])  # mask 0..3
    """
    labels = set_labels(extract, datasets)
    start, end = resolve_window(extract, list(dict.fromkeys(entity(n)[1] for n in labels)), window)
    build_spine(extract)
    bits = " + ".join(f"c{i} * {1 << i}" for i in range(len(labels)))
    got = extract.engine.con.sql(
        f"SELECT {bits} AS mask, COUNT(*) AS persons FROM ({_member_sql(labels, start, end)}) AS m GROUP BY 1"
    ).df()
    full = pd.DataFrame({"mask": range(1 << len(labels))})
    out = full.merge(got, on="mask", how="left").fillna({"persons": 0})
    out["persons"] = out["persons"].astype("int64")
    out.attrs["datasets"] = labels
    out.attrs["window"] = (start, end)
    return out


# -- k-way sets ---------------------------------------------------------------------------------------------------
def set_labels(extract: Extract, names: Iterable[str | Selector] | None) -> list[str]:
    """Set names: dataset labels (default: every dataset present), event types or selectors, each as its canonical
    string (`spine.Selector`; a plain label stays itself). Refuses an invalid name or a name given twice."""
    if names is None:
        return check_datasets(extract, None)
    out = [str(as_selector(n)) for n in ([names] if isinstance(names, (str, Selector)) else names)]
    twice = sorted({n for n in out if out.count(n) > 1})
    if twice:
        raise DJSUserError(f"{', '.join(map(repr, twice))} named twice: name each set once.")
    return out


def mask_counts(
    con: duckdb.DuckDBPyConnection, labels: list[str], window: Span, by: str | None, src: str = "_spine"
) -> dict[Any, np.ndarray]:
    """Exclusive counts per group, {group: array over the 2^k bitmasks}; only counts leave the database.

    A person's group is that of their last event in the window (`person_group_sql`): what their records up to
    the window's end say, nothing recorded after it."""
    bits = " + ".join(f"MAX(CASE WHEN {entity(d)[0]} THEN {1 << i} ELSE 0 END)" for i, d in enumerate(labels))
    inlist = ", ".join(f"'{d}'" for d in dict.fromkeys(entity(d)[1] for d in labels))
    where = f"dataset IN ({inlist}) AND {in_window(*window)}"
    masks = f"SELECT person_id, {bits} AS mask FROM {src} WHERE {where} GROUP BY person_id"
    grouped = (
        f"SELECT m.mask, g.grp FROM ({masks}) AS m JOIN ({person_group_sql(by, src, where)}) AS g "
        "ON g.person_id = m.person_id"
        if by
        else f"SELECT mask, 'all' AS grp FROM ({masks}) AS m"
    )
    got = con.sql(f"SELECT mask, grp, COUNT(*) AS n FROM ({grouped}) AS p GROUP BY mask, grp").fetchnumpy()
    out: dict[Any, np.ndarray] = {}
    for mask, grp, n in zip(got["mask"], got["grp"], got["n"], strict=True):
        out.setdefault(grp, np.zeros(1 << len(labels), np.int64))[int(mask)] += int(n)
    return out or {"all": np.zeros(1 << len(labels), np.int64)}


def sets_frame(counts: dict[Any, np.ndarray], labels: list[str], by: str | None, window: Span) -> pd.DataFrame:
    k = len(labels)
    # Degree first, then earlier datasets first: a stable, readable order for tables and UpSet bars.
    order = sorted(range(1, 1 << k), key=lambda m: (bin(m).count("1"), [not (m >> i) & 1 for i in range(k)]))
    frames = []
    for grp in sorted(counts, key=str):
        f = pd.DataFrame({d: [bool((m >> i) & 1) for m in order] for i, d in enumerate(labels)})
        f["combination"] = [" & ".join(d for i, d in enumerate(labels) if (m >> i) & 1) for m in order]
        f["degree"] = [bin(m).count("1") for m in order]
        f["exclusive"], f["inclusive"] = counts[grp][order], superset_sums(counts[grp])[order]
        frames.append(f if by is None else f.assign(**{by: grp})[[by, *f.columns]])
    out = pd.concat(frames, ignore_index=True)
    out["window_start"], out["window_end"] = window
    out.attrs.update({"window": tuple(window), "datasets": list(labels), "by": by})
    return out


def overlap_sets(
    extract_or_memberships: Extract | pd.DataFrame,
    datasets: Iterable[str] | None = None,
    window: Window | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Every combination of datasets with its exclusive and inclusive person count.

    Args:
        extract_or_memberships: an opened `Extract`, or a `memberships` frame (person x bool columns).
        datasets: dataset labels, event types or selectors (`spine.select` or its string; default: every dataset
            present / every bool column).
        window: (start, end); None = the window all chosen datasets cover (extract input only: a
            memberships frame carries its window in ``attrs``).
        by: ``sex``, ``ethnicity_group`` or ``age_band`` (extract: as the person's records up to their last
            event in the window say), or any column of a memberships frame.

    Returns:
        One row per non-empty combination (per group): ``by`` (if given), one bool column per dataset,
        ``combination`` (labels joined by " & "), ``degree``, ``exclusive`` (exactly these datasets),
        ``inclusive`` (at least these), ``window_start``, ``window_end``. Set sizes are the inclusive
        counts of the degree-1 rows; exclusive counts sum to the union. ``attrs``: window, datasets, by.

    Example:
        >>> m = pd.DataFrame({"person_id": ["a", "b", "c"], "mags_hocas": [True, True, False],
        ...                   "familyman": [False, True, True]})
        >>> overlap_sets(m)[["combination", "exclusive", "inclusive"]].values.tolist()
        [['mags_hocas', 1, 2], ['familyman', 1, 2], ['mags_hocas & familyman', 1, 1]]
    """
    if not isinstance(extract_or_memberships, pd.DataFrame):
        ex = extract_or_memberships
        labels = set_labels(ex, datasets)
        win = resolve_window(ex, list(dict.fromkeys(entity(d)[1] for d in labels)), window)
        build_spine(ex)
        return sets_frame(mask_counts(ex.engine.con, labels, win, by), labels, by, win)
    m = extract_or_memberships
    if window is not None:
        raise DJSUserError("`window` applies to an extract: a memberships frame already carries its window.")
    labels = list(datasets) if datasets is not None else [c for c in m.columns if m[c].dtype == bool]
    missing = [c for c in labels + ([by] if by else []) if c not in m.columns]
    if missing or not labels:
        raise DJSUserError(f"The memberships frame lacks column(s) {missing or 'of bool type'}: pass memberships().")
    mask = np.zeros(len(m), np.int64)
    for i, d in enumerate(labels):
        mask += m[d].to_numpy(bool).astype(np.int64) << i
    keys = m[by].astype(object).fillna(MISSING_LABEL).to_numpy() if by else np.full(len(m), "all", object)
    counts = {g: np.bincount(mask[keys == g], minlength=1 << len(labels)) for g in pd.unique(keys)}
    for c in counts.values():
        c[0] = 0  # people in none of the chosen datasets are outside the overlap universe
    return sets_frame(counts, labels, by, m.attrs.get("window", (pd.NaT, pd.NaT)))


# -- time-ordered overlaps ----------------------------------------------------------------------------------------
def ordered_setup(
    extract: Extract, first: str | Selector, then: str | Selector, within_days: int, window: Window | None
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    if int(within_days) <= 0:
        raise DJSUserError("`within_days` must be a positive number of days.")
    d_then = entity(then)[1]
    start, end = resolve_window(extract, list(dict.fromkeys([entity(first)[1], d_then])), window)
    cov = coverage(extract).set_index("dataset")
    censor: pd.Timestamp = cov["observed_until"][d_then]  # coverage end, cliff and extract cut-off
    if start < cov["start"][d_then] or end > censor:
        raise DJSUserError(
            f"The window must lie inside the coverage of `{d_then}` (the `then` dataset), or "
            "follow-up would be unobservable: pass a narrower window or None."
        )
    build_spine(extract)
    return start, end, censor


def ordered_counts(
    con: duckdb.DuckDBPyConnection,
    first: str | Selector,
    then: str | Selector,
    within_days: int,
    start: pd.Timestamp,
    end: pd.Timestamp,
    censor: pd.Timestamp,
    by: str | None,
    src: str = "_spine",
) -> pd.DataFrame:
    """Counts by (group, time, event, complete follow-up): no person-level rows leave the database."""
    cdate = f"DATE '{censor.date()}'"
    gap, fu = days_between("i.t0", "n.t1"), days_between("i.t0", cdate)
    sql = (
        f"WITH idx AS (SELECT person_id, event_date AS t0, grp FROM "
        f"({person_group_sql(by, src, f'{entity(first)[0]} AND {in_window(start, end)}', at='first')}) AS f), "
        f"nxt AS (SELECT i.person_id, MIN(s.event_date) AS t1 FROM idx i JOIN {src} s ON s.person_id = i.person_id "
        f"WHERE {entity(then, 's.')[0]} AND s.event_date > i.t0 AND s.event_date <= {cdate} GROUP BY i.person_id), "
        f"one AS (SELECT i.grp, CASE WHEN n.t1 IS NULL THEN {fu} ELSE {gap} END AS time, "
        f"CASE WHEN n.t1 IS NULL THEN 0 ELSE 1 END AS event, CASE WHEN {fu} >= {int(within_days)} THEN 1 ELSE 0 "
        "END AS complete FROM idx i LEFT JOIN nxt n ON n.person_id = i.person_id) "
        "SELECT grp, time, event, complete, COUNT(*) AS n FROM one GROUP BY grp, time, event, complete "
        "ORDER BY grp, time, event, complete"
    )
    return con.sql(sql).df()


def _incidence_at(agg: pd.DataFrame, d: int, alpha: float) -> dict[str, float]:
    """1 - Kaplan-Meier at d days, plus the naive proportion. Data First records no deaths, so there is
    no competing event and Aalen-Johansen equals 1 - KM (docs/methods.md §5.2)."""
    from djs_toolkit.survival import km

    n, t = agg["n"].to_numpy(np.int64), agg["time"].to_numpy()
    ev_in, comp = (agg["event"].to_numpy() == 1) & (t <= d), agg["complete"].to_numpy() == 1
    row: dict[str, float] = {
        "n_index": int(n.sum()),
        "events_within": int(n[ev_in].sum()),
        "n_complete_followup": int(n[comp].sum()),
        "events_complete_followup": int(n[comp & ev_in].sum()),
        "n_at_risk_at_end": int(n[t >= d].sum()),
    }
    row["naive_proportion"] = row["events_complete_followup"] / row["n_complete_followup"] if comp.any() else np.nan
    curve = km(agg, "time", "event", weights="n", alpha=alpha) if len(agg) else pd.DataFrame()
    upto = curve[curve["time"] <= d] if len(curve) else curve
    s, lo, hi = (
        upto.iloc[-1][["estimate", "ci_lower", "ci_upper"]]
        if len(upto)
        else ((1.0, 1.0, 1.0) if len(agg) else (np.nan,) * 3)
    )
    return {**row, "cumulative_incidence": 1.0 - s, "ci_lower": 1.0 - hi, "ci_upper": 1.0 - lo}


def ordered_frame(
    agg: pd.DataFrame,
    first: str | Selector,
    then: str | Selector,
    d: int,
    by: str | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
    censor: pd.Timestamp,
    alpha: float,
) -> pd.DataFrame:
    groups = sorted(agg["grp"].unique(), key=str) if len(agg) or by else ["all"]
    # Columns named even when no one is indexed (a narrow selector on a small extract): the table is then empty.
    columns = [*([by] if by else []), "first", "then", "within_days", *_incidence_at(agg.iloc[:0], int(d), alpha)]
    out = pd.DataFrame(
        [
            {
                **({by: g} if by else {}),
                "first": str(as_selector(first)),
                "then": str(as_selector(then)),
                "within_days": int(d),
                **_incidence_at(agg[agg["grp"] == g], int(d), alpha),
            }
            for g in groups
        ],
        columns=columns,
    )
    out["estimator"] = f"1 - Kaplan-Meier, censored when `then` stops being observed ({censor.date()})"
    out["naive_label"] = f"proportion among index persons with >= {int(d)} days of follow-up"
    out["censor_date"], out["window_start"], out["window_end"] = censor, start, end
    out.attrs.update(
        {
            "window": (start, end),
            "censor_date": censor,
            "first": as_selector(first).describe(),
            "then": as_selector(then).describe(),
            "caveats": tuple(dict.fromkeys([*as_selector(first).caveats(), *as_selector(then).caveats()])),
        }
    )
    return out


@overload
def ordered_overlap(
    extract: Extract,
    first: str | Selector,
    then: str | Selector,
    within_days: int,
    window: Window | None = None,
    by: str | None = None,
    alpha: float = 0.05,
    return_curve: Literal[False] = False,
) -> pd.DataFrame: ...
@overload
def ordered_overlap(
    extract: Extract,
    first: str | Selector,
    then: str | Selector,
    within_days: int,
    window: Window | None = None,
    by: str | None = None,
    alpha: float = 0.05,
    *,
    return_curve: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...
def ordered_overlap(
    extract: Extract,
    first: str | Selector,
    then: str | Selector,
    within_days: int,
    window: Window | None = None,
    by: str | None = None,
    alpha: float = 0.05,
    return_curve: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """People whose first ``first`` event in the window is followed by a ``then`` event within ``within_days``.

    Index = a person's first ``first`` event in the window (t0); outcome = their first ``then`` event in
    (t0, t0 + within_days]. Follow-up is censored where the ``then`` dataset stops being observed
    (`spine.coverage` ``observed_until``: coverage end, coverage cliff or the extract's cut-off).

    Args:
        extract: an opened `Extract`.
        first: an event selector (`spine.select`), its string (``"mags_conviction: disposal=Fine"``), a dataset
            label or an event type (`spine.EVENT_TYPES`).
        then: likewise.
        within_days: the window in days.
        window: (start, end) for index events; None = the window both datasets cover.
        by: ``sex``, ``ethnicity_group`` or ``age_band``, as the person's records up to the index event say.
        alpha: 1 - confidence level of the incidence interval.
        return_curve: also return the cumulative-incidence curve (`km` columns, estimate = 1 - S).

    Returns:
        One row per group: ``n_index``, ``events_within``, ``cumulative_incidence`` with ``ci_lower`` and
        ``ci_upper`` (1 - KM at the window, labelled in ``estimator``), ``n_complete_followup``,
        ``events_complete_followup``, ``naive_proportion`` (labelled in ``naive_label``), ``n_at_risk_at_end``,
        ``censor_date``, ``window_start``, ``window_end``; ``first`` and ``then`` as canonical selector strings, and
        in ``attrs`` their descriptions (``first``, ``then``: `Selector.describe`) and ``caveats``; with
        ``return_curve`` a tuple (summary, curve).

    Example:
        >>> # ordered_overlap(extract, "civil_claim", "mags_hocas", 180, by="sex")
    """
    start, end, censor = ordered_setup(extract, first, then, within_days, window)
    agg = ordered_counts(extract.engine.con, first, then, within_days, start, end, censor, by)
    out = ordered_frame(agg, first, then, within_days, by, start, end, censor, alpha)
    if not return_curve:
        return out
    from djs_toolkit.survival import km

    curve = km(agg, "time", "event", weights="n", by="grp" if by else None, alpha=alpha)
    curve = curve.rename(columns={"grp": by}) if by else curve
    curve["estimate"], curve["ci_lower"], curve["ci_upper"] = (
        1 - curve["estimate"],
        1 - curve["ci_upper"],
        1 - curve["ci_lower"],
    )
    curve.attrs["estimator"] = "cif"  # kmunicate_table then starts the curve at 0
    return out, curve
