"""Fitted lifelines models checked as the toolkit's own: a researcher's existing lifelines code gets checked outputs.

`Session.km` takes a fitted `KaplanMeierFitter` (or a list / dict of them, one per group), `Session.cif` a fitted
`AalenJohansenFitter` (or several), `Session.regression` a fitted `CoxPHFitter`; `outputs.save_table` passes them
the same way. Nothing lifelines estimated is released: each fitter is turned back into what the checker needs, the
records it was fitted on (durations, event codes, entry times, groups), which then go through the same safe
Kaplan-Meier path, thresholds, ledger and status as the toolkit's own curves; a Cox model becomes the toolkit's
coefficient table (coef, se, hr and its interval, p) with its n and events, and, given the rows it was fitted on
(`data=`), the design whose indicators' events are checked, as for `survival.cox`.

What lifelines keeps is not always enough, and what cannot be checked is refused with a `DJSUserError` saying what
to do: weighted fits (the checker counts people), left- or interval-censored fits, other fitters, a Cox model with a
parametric baseline (its knots and breakpoints are placed on the data), and `data=` that is not the rows the model
was fitted on. An `AalenJohansenFitter` keeps only whether each record had the event of interest: the competing
events and censorings at each time are read from its event table, and its entry times, kept only as counts per
time, are given back to its records earliest to earliest (the numbers at risk depend only on those counts). When
there were ties, lifelines moved every event time by up to its `jitter_level`; where every censoring time is a whole
number and every event time within ten jitter levels of one, the whole numbers (days) are restored, so events count
at the times they happened.

Example:
    >>> import numpy as np, pandas as pd
    >>> from lifelines import KaplanMeierFitter
    >>> from djs_toolkit.sdc import Session
    >>> kmf = KaplanMeierFitter().fit(np.arange(1.0, 301.0), np.ones(300))
    >>> o = Session(ledger=False).km(kmf, times=[0, 100, 200, 300])
    >>> o.table["n_at_risk"].tolist(), o.status
    ([300, 300, 200, 100], 'review')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError

__all__ = ["LifelinesCox", "lifelines_curve", "lifelines_kind", "lifelines_model"]

_INTERNAL = ("duration", "event", "entry")
_JITTER_SPAN = 10.0  # lifelines jitters again while ties remain: each pass moves a time by < jitter_level


def _classes(obj: object) -> list[str]:
    return [c.__name__ for c in type(obj).__mro__ if c.__module__.split(".")[0] == "lifelines"]


def _fitters(obj: object) -> list[object] | None:
    """The fitters in `obj` (one, a list/tuple, or the values of a dict), or None when it holds none."""
    items = list(obj.values()) if isinstance(obj, Mapping) else list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if not items or not all(_classes(x) for x in items):
        return None
    return items


def lifelines_kind(obj: object) -> str | None:
    """`km`, `cif` or `model` for a lifelines fitter (or a list / dict of curve fitters), else None.

    Example:
        >>> from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
        >>> [lifelines_kind(x) for x in (KaplanMeierFitter(), [AalenJohansenFitter()], CoxPHFitter(), [1, 2])]
        ['km', 'cif', 'model', None]
    """
    items = _fitters(obj)
    if items is None:
        return None
    names = set().union(*(_classes(x) for x in items))
    if "RegressionFitter" in names:
        return "model"
    return "cif" if "AalenJohansenFitter" in names else "km"


# ---------------------------------------------------------------------------------------------- curves


def _fitted(fitter: object, kind: str) -> str:
    """Refuse what the checker cannot count; return the fitter's class name."""
    cls = type(fitter).__name__
    want, route = ("KaplanMeierFitter", "Session.km") if kind == "km" else ("AalenJohansenFitter", "Session.cif")
    if want not in _classes(fitter):
        other = "Session.cif" if kind == "km" else "Session.km"
        hint = f" (an {cls} goes to {other})" if cls in ("KaplanMeierFitter", "AalenJohansenFitter") else ""
        raise DJSUserError(
            f"{route} checks a fitted lifelines {want}, not a {cls}{hint}: fit a {want}, or pass the durations and "
            "events themselves."
        )
    if getattr(fitter, "durations", None) is None:
        raise DJSUserError(f"The {cls} has not been fitted: call its fit(durations, event_observed) first.")
    censoring = str(getattr(fitter, "_censoring_type", "RIGHT") or "RIGHT")
    if not censoring.endswith("RIGHT"):
        raise DJSUserError(
            f"The {cls} was fitted with {censoring.rsplit('.', 1)[-1].lower()} censoring: the checker's survival "
            "tables are for right-censored times (fit(durations, event_observed))."
        )
    return cls


def _unweighted(fitter: object, n: int, cls: str) -> None:
    weights = getattr(fitter, "weights", None)
    table = getattr(fitter, "event_table", None)
    weighted = weights is not None and not np.all(np.asarray(weights, np.float64) == 1.0)
    if table is not None and "removed" in table:
        weighted |= float(np.asarray(table["removed"], np.float64).sum()) != n
    if weighted:
        raise DJSUserError(
            f"The {cls} was fitted with weights: the checker counts people, so fit it on one row per person "
            "without weights (or check the unweighted counts with Session.km / Session.cif)."
        )


def _cause(fitter: object) -> int:
    label = str(getattr(fitter, "label_cmprisk", ""))
    m = re.fullmatch(r"observed_(-?\d+)", label)
    if m is None:
        raise DJSUserError("The AalenJohansenFitter does not say its event of interest: refit it with lifelines.")
    return int(m.group(1))


def _aj_records(fitter: Any, cls: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Durations, codes (cause, cause + 1 for any competing event, 0 censored) and entry times of an AJ fit."""
    cause = _cause(fitter)
    stop = np.asarray(fitter.durations, np.float64).copy()
    interest = np.asarray(fitter.event_observed).astype(bool)
    table = fitter.event_table
    times = np.asarray(table.index, np.float64)
    competing_at = dict(zip(times, np.asarray(table["observed"] - table[fitter.label_cmprisk], np.int64), strict=True))
    other = pd.Series(stop[~interest])
    rank = other.groupby(other).cumcount().to_numpy()
    wanted = other.map(competing_at).fillna(0).to_numpy(np.int64)
    code = np.where(interest, cause, 0).astype(np.int64)
    code[np.flatnonzero(~interest)[rank < wanted]] = cause + 1
    if int((code == cause + 1).sum()) != int(np.asarray(table["observed"]).sum()) - int(interest.sum()):
        raise DJSUserError(f"The {cls}'s event table does not match its records: refit it, or use Session.cif.")
    jitter = float(getattr(fitter, "_jitter_level", 0.0) or 0.0)
    exits = code != 0
    if jitter > 0 and np.all(stop[~exits] == np.round(stop[~exits])):
        off = np.abs(stop[exits] - np.round(stop[exits]))
        if np.all(off <= _JITTER_SPAN * jitter):  # lifelines' jitter of tied event times undone: whole days again
            stop[exits] = np.round(stop[exits])
    entrance = np.asarray(table["entrance"], np.int64)
    if not (entrance[times > 0] > 0).any():
        return stop, code, None, cause
    entry = np.sort(np.repeat(times, entrance))  # earliest entry to earliest exit: at-risk counts need no more
    order = np.argsort(stop, kind="stable")
    start = np.empty(len(stop))
    start[order] = entry
    if (start >= stop).any():
        raise DJSUserError(f"The {cls}'s entry times cannot be matched to its records: use Session.cif with entry=.")
    return stop, code, start, cause


def _records(fitter: Any, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    cls = _fitted(fitter, kind)
    n = len(np.asarray(fitter.durations))
    _unweighted(fitter, n, cls)
    if kind == "cif":
        return _aj_records(fitter, cls)
    stop = np.asarray(fitter.durations, np.float64)
    code = np.asarray(fitter.event_observed).astype(np.int64)
    entry = getattr(fitter, "entry", None)
    start = None if entry is None else np.asarray(entry, np.float64)
    return stop, code, start, 1


def _by_values(by: object, data: pd.DataFrame | None, n: int) -> tuple[str, np.ndarray]:
    if isinstance(by, str):
        if data is None or by not in data.columns:
            raise DJSUserError(f"by={by!r} is not a column of data: pass data= (the rows the fitter was fitted on).")
        return by, data[by].to_numpy()
    values = np.asarray(by)
    if values.shape != (n,):
        raise DJSUserError("by must have one value per record the fitter was fitted on, in the same order.")
    return str(getattr(by, "name", None) or "group"), values


def lifelines_curve(
    kind: str,
    durations: object,
    events: object,
    cause: int,
    by: object,
    entry: object,
    data: pd.DataFrame | None,
    record_id: object,
    population: object = None,
) -> tuple[object, object, int, object, object, pd.DataFrame | None, object]:
    """`Session.km` / `cif` arguments with fitted lifelines curves turned into the records they were fitted on.

    `durations` may be one fitter (with `by=` a column of `data` or one value per record, `data=` the rows it was
    fitted on, in order) or a list / dict of fitters, one per group (labelled by their `label=` or the dict's keys;
    `by=` then names the group column). Anything else is returned as given. Records of a fitter are keyed in the
    ledger by `data`'s index when given, else by their position, as the toolkit keys arrays. An AalenJohansenFitter
    takes nothing per record (`by=`, `data=`, `record_id=`, a `population=` filter): it may reorder its records when
    it jitters tied times, and its entry times are counts per time, so per-record values would be matched to the
    wrong records; fit one per group instead.

    Example:
        >>> from lifelines import KaplanMeierFitter
        >>> f = [KaplanMeierFitter(label=s).fit([5.0, 9.0], [1, 0]) for s in ("F", "M")]
        >>> _, _, cause, by, _, frame, _ = lifelines_curve("km", f, None, 1, "sex", None, None, None)
        >>> by, frame["sex"].tolist(), frame["event"].tolist()
        ('sex', ['F', 'F', 'M', 'M'], [1, 0, 1, 0])
    """
    fitters = _fitters(durations)
    if fitters is None:
        if events is None:
            raise DJSUserError(
                "events is missing: pass one 0/1 (or cause code) per record, or a fitted lifelines "
                "KaplanMeierFitter / AalenJohansenFitter as the first argument."
            )
        return durations, events, cause, by, entry, data, record_id
    if events is not None or entry is not None:
        raise DJSUserError("A fitted lifelines curve holds its events and entry times: drop events= and entry=.")
    parts = [_records(f, kind) for f in fitters]
    causes = {p[3] for p in parts}
    if len(causes) > 1:
        raise DJSUserError(f"The AalenJohansenFitters have different events of interest {sorted(causes)}: fit one.")
    stop = np.concatenate([p[0] for p in parts])
    frame = pd.DataFrame({"duration": stop, "event": np.concatenate([p[1] for p in parts])})
    if any(p[2] is not None for p in parts):
        frame["entry"] = np.concatenate([p[2] if p[2] is not None else np.zeros(len(p[0])) for p in parts])
    single = not isinstance(durations, (list, tuple, Mapping))
    per_record = [
        k for k, v in (("by", by if single else None), ("data", data), ("record_id", record_id)) if v is not None
    ]
    per_record += ["population"] if population is not None and not isinstance(population, str) else []
    if kind == "cif" and per_record:
        raise DJSUserError(
            f"An AalenJohansenFitter keeps no per-record order ({', '.join(per_record)}= cannot be matched to its "
            "records): fit one per group and pass them as a list or dict, or pass the columns to Session.cif."
        )
    group: str | None = None
    if not single:
        if by is not None and not isinstance(by, str):
            raise DJSUserError("With one fitter per group, by= is the group column's name (or leave it out).")
        labels = (
            [str(k) for k in durations] if isinstance(durations, Mapping) else [str(f._label) for f in fitters]  # type: ignore[attr-defined]
        )
        if len(set(labels)) < len(labels):
            raise DJSUserError(f"The fitters' labels {labels} repeat: give each group's fitter its own label=.")
        group = by if isinstance(by, str) else "group"
        frame[group] = np.repeat(labels, [len(p[0]) for p in parts])
        if data is not None:
            raise DJSUserError("With one fitter per group, data= is not used: each fitter holds its own records.")
        if isinstance(record_id, str):
            raise DJSUserError("With one fitter per group, record_id= is the ids themselves, in the fitters' order.")
    else:
        if data is not None:
            if len(data) != len(frame):
                raise DJSUserError(
                    f"data= has {len(data)} rows but the fitter was fitted on {len(frame)}: pass the rows it was "
                    "fitted on, in the same order."
                )
            frame.index = data.index
        if by is not None:
            group, values = _by_values(by, data, len(frame))
            frame[group] = values
        if isinstance(record_id, str):
            if data is None or record_id not in data.columns:
                raise DJSUserError(f"record_id={record_id!r} is not a column of data: pass data= or the ids.")
            record_id = data[record_id].to_numpy()
    if group in _INTERNAL:
        raise DJSUserError(f"The group column may not be called {group!r}: rename it.")
    return "duration", "event", causes.pop(), group, "entry" if "entry" in frame else None, frame, record_id


# ---------------------------------------------------------------------------------------------- Cox models


@dataclass
class LifelinesCox:
    """A fitted lifelines CoxPHFitter as the checker reads the toolkit's `survival.CoxResult`.

    Example:
        >>> LifelinesCox(pd.DataFrame(), 10, 4).model
        'cox (lifelines CoxPHFitter)'
    """

    params: pd.DataFrame
    n: int
    events: int
    model: str = "cox (lifelines CoxPHFitter)"
    notes: list[str] = field(default_factory=list)


def _cox_table(fitter: Any) -> pd.DataFrame:
    s = fitter.summary
    lower = next(c for c in s.columns if str(c).startswith("exp(coef) lower"))
    upper = next(c for c in s.columns if str(c).startswith("exp(coef) upper"))
    table = pd.DataFrame(
        {
            "coef": s["coef"],
            "se": s["se(coef)"],
            "hr": s["exp(coef)"],
            "ci_lower": s[lower],
            "ci_upper": s[upper],
            "p": s["p"],
        }
    ).astype(float)
    table.index = pd.Index([str(i) for i in s.index])  # named as survival.cox names its coefficients
    return table


def _cox_design(fitter: Any, data: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The design (one column per coefficient) and event indicator of the rows `data` holds, checked against the
    durations the model was fitted on."""
    n = int(fitter._n_examples)
    if not isinstance(data, pd.DataFrame) or len(data) != n:
        raise DJSUserError(
            f"data= must be the {n} rows the CoxPHFitter was fitted on (with its duration, event and covariate "
            "columns)."
        )
    missing = [c for c in (fitter.duration_col, fitter.event_col) if c is not None and c not in data.columns]
    if missing:
        raise DJSUserError(f"data= lacks the model's column(s) {missing}: pass the DataFrame given to fit().")
    fitted = np.sort(np.asarray(fitter.durations, np.float64))
    given = np.sort(pd.to_numeric(data[fitter.duration_col], errors="coerce").to_numpy(np.float64))
    if not np.allclose(fitted, given, equal_nan=False):
        raise DJSUserError("data= is not the data the CoxPHFitter was fitted on (its durations differ): pass that.")
    try:
        design = fitter.regressors.transform_df(data)["beta_"]
    except Exception as exc:
        raise DJSUserError(
            f"The model's covariates cannot be rebuilt from data= ({type(exc).__name__}): pass the DataFrame given "
            "to fit()."
        ) from exc
    design = pd.DataFrame(np.asarray(design, np.float64), index=data.index, columns=[str(c) for c in design.columns])
    params = [str(c) for c in fitter.params_.index]
    if list(design.columns) != params:
        raise DJSUserError("The model's covariates rebuilt from data= do not match its coefficients: refit it.")
    if fitter.event_col is None:
        events = np.ones(n, bool)
    else:
        events = pd.to_numeric(data[fitter.event_col], errors="coerce").fillna(0).to_numpy() != 0
    if int(events.sum()) != int(np.asarray(fitter.event_observed).sum()):
        raise DJSUserError("data= is not the data the CoxPHFitter was fitted on (its events differ): pass that.")
    return design, events


def lifelines_model(
    result: object, data: pd.DataFrame | None, event: object, cause: int, design: pd.DataFrame | None
) -> tuple[object, pd.DataFrame | None, object, int, pd.DataFrame | None]:
    """`Session.regression` arguments with a fitted lifelines CoxPHFitter turned into the toolkit's Cox result and,
    given `data=` (the rows it was fitted on), its design and events; anything else is returned as given.

    Example:
        >>> from lifelines import CoxPHFitter
        >>> d = pd.DataFrame({"t": np.arange(1.0, 41.0), "e": 1, "x": [0, 1] * 20})
        >>> res, _, ev, _, dsg = lifelines_model(CoxPHFitter().fit(d, "t", "e"), d, None, 1, None)
        >>> res.n, res.events, list(res.params.columns), int(dsg["x"].sum()), int(ev.sum())
        (40, 40, ['coef', 'se', 'hr', 'ci_lower', 'ci_upper', 'p'], 20, 40)
    """
    if lifelines_kind(result) != "model":
        if lifelines_kind(result) is not None:
            raise DJSUserError("Session.regression checks a fitted CoxPHFitter; curves go to Session.km / .cif.")
        return result, data, event, cause, design
    cls = type(result).__name__
    if "CoxPHFitter" not in _classes(result) or getattr(result, "baseline_estimation_method", "") != "breslow":
        raise DJSUserError(
            f"lifelines' {cls} cannot be checked: only the semi-parametric CoxPHFitter (the default "
            "baseline_estimation_method='breslow'); a parametric baseline's knots and breakpoints are placed on the "
            "data. Fit it with survival.cox, or with CoxPHFitter()."
        )
    if getattr(result, "params_", None) is None:
        raise DJSUserError("The CoxPHFitter has not been fitted: call its fit(df, duration_col, event_col) first.")
    _unweighted(result, int(result._n_examples), cls)  # type: ignore[attr-defined]
    fitted = LifelinesCox(
        _cox_table(result),
        int(result._n_examples),  # type: ignore[attr-defined]
        int(np.asarray(result.event_observed).sum()),  # type: ignore[attr-defined]
    )
    if data is None:
        if design is not None or event is not None:
            raise DJSUserError("For a lifelines model pass data= (the DataFrame given to fit()), not design= / event=.")
        return fitted, None, None, 1, None
    own = getattr(result, "event_col", None)
    if event is not None and not (isinstance(event, str) and event == own):
        raise DJSUserError(
            f"The CoxPHFitter's events are its event column {own!r}: drop event= (or pass event={own!r})."
        )
    dsg, events = _cox_design(result, data)
    return fitted, None, events.astype(np.int64), 1, dsg
