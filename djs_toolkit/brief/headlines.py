"""Headline findings of one notebook run, read from its released outputs only.

The researcher's own findings (`outputs.save_text`, released as `<uid>.md`) come first, in their words. Then, up to
four in all, one headline per released table of a kind a reader can take in at once: a survival or cumulative
incidence curve (the share back within a year, by group), an ordered overlap (the share of one group with a later
event), proven reoffending rates (the latest cohort), a fitted model (hazard ratios) and, for anything else, the
largest released count. Each headline carries one figure: the run's released figure of the same output.

Example:
    >>> Headline("About half came back.", ["r.km"]).text
    'About half came back.'
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from djs_toolkit.brief.bundle import BundleView, Output
from djs_toolkit.brief.words import INDEX_EVENTS, count, dataset, days, share

__all__ = ["MAX_HEADLINES", "Headline", "headlines"]

MAX_HEADLINES = 4
MAX_GROUPS = 3  # groups named in one headline: more is a table, not a sentence


@dataclass
class Headline:
    """One finding: Markdown sentences, the outputs its numbers come from, one figure and its alt text.

    Example:
        >>> Headline("x", ["r.a"], "release/r.a.png", "a chart").figure
        'release/r.a.png'
    """

    text: str
    sources: list[str]
    figure: str | None = None
    alt: str = ""
    researcher: bool = False
    notes: list[str] = field(default_factory=list)


def _ok(x: object) -> bool:
    return isinstance(x, numbers.Real) and math.isfinite(float(x))


def _group_col(t: pd.DataFrame, skip: set[str]) -> str | None:
    first = t.columns[0]
    return None if first in skip or pd.api.types.is_numeric_dtype(t[first]) else str(first)


def _who(group: str | None, level: object) -> str:
    if group is None:
        return "people"
    level = str(level)
    if group == "sex":
        return {"M": "men", "F": "women"}.get(level, f"people whose sex is {level}")
    return f"people in the {group.replace('_', ' ')} group {level}"


def _survival(view: BundleView, o: Output, index: str, outcome: str) -> str | None:
    t = view.table(str(o.csv))
    if not {"time", "estimate", "ci_lower", "ci_upper"} <= set(t.columns):
        return None
    group = _group_col(t, {"time"})
    parts = []
    for level, g in list(t.groupby(group, sort=False)) if group else [(None, t)]:
        g = g[g["time"].apply(_ok) & g["estimate"].apply(_ok)]
        g = g[g["time"] > 0]
        if g.empty:
            continue
        at = g[g["time"] <= 365]
        row = (at if len(at) else g).iloc[-1]
        if not (_ok(row["ci_lower"]) and _ok(row["ci_upper"])):
            continue
        parts.append(
            f"{share(row['estimate'], row['ci_lower'], row['ci_upper'])} of {_who(group, level)} had {outcome} "
            f"within {days(row['time'])}"
        )
        if len(parts) == MAX_GROUPS:
            break
    if not parts:
        return None
    return f"Of {index}, " + "; ".join(parts) + "."


def _ordered(view: BundleView, o: Output, first: str, then: str) -> str | None:
    t = view.table(str(o.csv))
    if not {"cumulative_incidence", "ci_lower", "ci_upper", "n_index"} <= set(t.columns):
        return None
    group = _group_col(t, set())
    t = t[t["cumulative_incidence"].apply(_ok) & t["n_index"].apply(_ok)].sort_values("n_index", ascending=False)
    parts = [
        f"of {count(r['n_index'])} {_who(group, r[group]) if group else 'people'} with {first}, "
        f"{share(r['cumulative_incidence'], r['ci_lower'], r['ci_upper'])} then had {then}"
        for _, r in t.head(MAX_GROUPS).iterrows()
        if _ok(r["ci_lower"]) and _ok(r["ci_upper"])
    ]
    return ("Within the follow-up, " + "; ".join(parts) + ".") if parts else None


def _rates(view: BundleView, o: Output) -> str | None:
    t = view.table(str(o.csv))
    if not {"cohort", "rate", "rate_lower", "rate_upper", "n_offenders"} <= set(t.columns):
        return None
    t = t[t["rate"].apply(_ok) & t["rate_lower"].apply(_ok) & t["rate_upper"].apply(_ok)]
    if t.empty:
        return None
    r = t.iloc[-1]
    who = f"{str(r['age_group']).lower()} offenders" if "age_group" in t.columns else "offenders"
    rate = share(r["rate"], r["rate_lower"], r["rate_upper"])
    return (
        f"In the latest cohort with a full follow-up ({r['cohort']}), {rate} "
        f"of {count(r['n_offenders'])} {who} had a proven reoffence in a court within a year."
    )


def _model(view: BundleView, o: Output) -> str | None:
    t = view.table(str(o.csv))
    if not {"hr", "ci_lower", "ci_upper"} <= set(t.columns):
        return None
    t = t.rename(columns={t.columns[0]: "term"})
    t = t[t["hr"].apply(_ok) & t["ci_lower"].apply(_ok) & t["ci_upper"].apply(_ok)]
    t = t[(t["ci_upper"] < 1) | (t["ci_lower"] > 1)]  # intervals that leave out "no difference"
    if t.empty:
        return None
    r = t.iloc[0]
    who = {"female": "women came back at", "male": "men came back at"}.get(
        str(r["term"]), f"people in the group `{r['term']}` came back at"
    )
    base = {"female": "men", "male": "women"}.get(str(r["term"]), "the comparison group")
    return (
        f"Taking age and the other factors in the model into account, {who} {r['hr']:.2f} times the rate of "
        f"{base} (95% confidence interval {r['ci_lower']:.2f} to {r['ci_upper']:.2f})."
    )


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _its(view: BundleView, o: Output) -> str | None:
    """An interrupted time series: the level change at each interruption, as a ratio to the trend before."""
    t = view.table(str(o.csv))
    if not {"term", "ratio", "ci_lower", "ci_upper"} <= set(t.columns):
        return None
    parts = []
    for _, r in t[t["term"].astype(str).str.startswith("level_change_")].iterrows():
        year, _, month = str(r["term"]).removeprefix("level_change_").partition("-")
        if not (_ok(r["ratio"]) and _ok(r["ci_lower"]) and _ok(r["ci_upper"])) or not month.isdigit():
            continue
        chance = "this could be chance" if r["ci_lower"] < 0 < r["ci_upper"] else "this is unlikely to be chance"
        parts.append(
            f"from {_MONTHS[int(month) - 1]} {year} the monthly number was {r['ratio']:.2f} times what the trend "
            f"before would give ({chance})"
        )
    return ("Allowing for the trend and the time of year, " + "; ".join(parts[:MAX_GROUPS]) + ".") if parts else None


def _largest(view: BundleView, o: Output) -> str | None:
    if o.statistic not in ("", "count") or o.type not in ("table", "histogram") or o.uid.endswith(".cohort"):
        return None
    t = view.table(str(o.csv))
    # margins ("All") are totals, not a group: the largest group is the headline
    if any(" | " in str(c) for c in t.columns):  # joined row keys ("sex | time"): no plain sentence reads them
        return None
    t = t[~(t.select_dtypes(exclude="number").astype(str) == "All").any(axis=1)]
    values = t.select_dtypes("number").drop(columns=["year", "time", "month", "cohort", "All"], errors="ignore")
    labels = [c for c in t.columns if c not in values.columns]  # year and the like name the row: labels
    if values.empty or not labels:
        return None
    stacked = values.stack()
    if stacked.empty or not _ok(stacked.max()) or stacked.max() < 10:
        return None
    top = float(stacked.max())
    row, col = cast(tuple[Any, Any], stacked.idxmax())
    where = ", ".join(
        f"{c.replace('_', ' ')} {dataset(str(t.at[row, c]))}" for c in labels if str(t.at[row, c]) not in ("", "nan")
    )
    # a description with digits ("within 365 days") would put a number in the brief that is not a table value
    plain = o.description and not any(ch.isdigit() for ch in o.description)
    what = o.description[:1].lower() + o.description[1:] if plain else str(col).replace("_", " ")
    return f"The largest number in the table of {what} is {count(top)} ({where})."


def _figure(view: BundleView, run_outputs: list[Output], o: Output) -> tuple[str | None, str]:
    for cand in (f"{o.uid}_fig", o.uid):
        fo = next((x for x in run_outputs if x.uid == cand and x.png), None)
        if fo is not None:
            return fo.png, fo.description
    return None, ""


def headlines(view: BundleView, label: str) -> list[Headline]:
    """Two to four headlines for one notebook run (fewer when its release holds fewer readable tables).

    Example:
        >>> from pathlib import Path
        >>> headlines(BundleView(Path("b"), [{"label": "r", "outputs": []}], {}), "r")
        []
    """
    run = next(r for r in view.runs if r["label"] == label)
    params = run.get("parameters", {})
    outs = view.outputs_of(label)
    found: list[Headline] = []
    covered: set[str] = set()  # tables a researcher's finding already states: no second headline from them
    for o in outs:
        if o.method == "text":
            md = next(f for f in o.files if f.endswith(".md"))
            side = next((f for f in o.files if f.endswith(".sources.json")), None)
            cited = {s["file"] for n in (json.loads(view.text(side))["numbers"] if side else []) for s in n["sources"]}
            tables = [x for x in outs if x.csv and Path(x.csv).name in cited]
            covered.update(x.uid for x in tables)
            fig, alt = next((f for f in (_figure(view, outs, x) for x in tables) if f[0]), (None, ""))
            found.append(Headline(view.text(md).strip(), [o.uid, *(x.uid for x in tables)], fig, alt, True))
    index = INDEX_EVENTS.get(str(params.get("index_type", "")), "the people in this analysis")
    outcome = dataset(str(params.get("outcome") or "any_criminal_court"))
    ranked: list[tuple[int, int, Headline]] = []
    for k, o in enumerate(outs):
        if not o.csv or o.uid.endswith("_fig") or o.method == "text" or o.uid in covered:
            continue
        if o.type == "survival":
            rank, text = 0, _survival(view, o, index, outcome)
        elif text := _its(view, o):
            rank = 1
        elif o.type == "regression" or o.method == "regression":
            rank, text = 2, _model(view, o)
        elif text := _ordered(view, o, dataset(str(params.get("first", ""))), dataset(str(params.get("then", "")))):
            rank = 0
        elif text := _rates(view, o):
            rank = 1
        else:
            rank, text = 3, _largest(view, o)
        if text:
            fig, alt = _figure(view, outs, o)
            ranked.append((rank, k, Headline(text, [o.uid], fig, alt)))
    for rank, _, h in sorted(ranked, key=lambda r: r[:2]):
        # a table's largest count is a headline only when the run has little else to say
        if len(found) < MAX_HEADLINES and (rank < 3 or len(found) < 2):
            found.append(h)
    used: set[str] = set()
    for h in found:  # one figure each: a figure already shown is not repeated
        if h.figure in used:
            h.figure, h.alt = None, ""
        if h.figure:
            used.add(h.figure)
    return found
