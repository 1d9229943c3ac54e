"""Kaplan-Meier / cumulative-incidence curves with a KMunicate table beneath, drawn from a protected step table.

KMunicate (Morris et al., BMJ Open 2019; docs/workflow.md §5.2): each curve as a full step function with its
confidence band and, aligned beneath it, the numbers at risk with events and censored so far at chosen times. Both
come from the protected step table (`sdc.Session.km` / `cif`, or `save_table` of a `survival.km` curve): every step
it releases is drawn, so the curve shows when events happen, and the table's counts are read from the same released
steps, so the figure shows no more than the table. A separately protected KMunicate table can be passed instead.

Groups are drawn in natural order with distinct colour, line style and marker (`series_style`), the missing group
last; a group the checker withheld is drawn nowhere and named in a note, and the legend lists only drawn groups.
Withheld cells print as "c".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    SUPPRESSED,
    SUPPRESSED_NOTE,
    group_labels,
    group_levels,
    new_figure,
    protected,
    series_style,
    style,
)
from djs_toolkit.plotting._layout import text_size, wrap_text

__all__ = ["km_grid", "km_plot", "kmunicate_rows"]

_ROWS = (
    ("n_at_risk", "At risk"),
    ("cum_events", "Events"),
    ("cum_competing", "Competing"),
    ("cum_censored", "Censored"),
)
_NOT_RELEASED = "-"
_NOT_GROUPS = {
    "time",
    "estimate",
    "ci_lower",
    "ci_upper",
    "std_error",
    "n_at_risk",
    "events",
    "censored",
    "competing_events",
    "cum_events",
    "cum_censored",
    "cum_competing",
    "survival",
    "survival_ci_lower",
    "survival_ci_upper",
}


def _flat(table: pd.DataFrame, mask: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Index levels (e.g. group and time of an `sdc.Session.km` table) as columns; they are never withheld."""
    if "time" in table.columns or "time" not in (table.index.names or []):
        return table, mask
    flat = table.reset_index()
    extra = [c for c in flat.columns if c not in mask.columns]
    cols = pd.concat([pd.DataFrame(False, index=flat.index, columns=extra), mask.reset_index(drop=True)], axis=1)
    return flat, cols[flat.columns]


def _withheld_groups(obj: Any) -> list[str]:
    """Groups a checked curve's reasons say were withheld whole (they have no rows to draw)."""
    reasons = getattr(obj, "reasons", None)
    if reasons is None or not len(reasons) or "row" not in reasons:
        return []
    rows = reasons[reasons["rule"].isin(["MinimumThresholdCheck", "SurvivalTableCheck"]) & reasons["row"].notna()]
    return [str(r) for r in rows["row"] if str(r) != "all"]


def _nice_times(last: float, n: int = 5) -> list[float]:
    ticks = MaxNLocator(nbins=n - 1, steps=[1, 2, 2.5, 3, 5, 10]).tick_values(0.0, last)
    return [float(t) for t in ticks if 0.0 <= t <= last]


def km_grid(times: Sequence[float], step: float = 30.0) -> list[float]:
    """Reporting times for a protected step table: the KMunicate ``times`` and a point every ``step`` days up to the
    last of them.

    Pass it as ``times=`` to `sdc.Session.km` / `cif`: the checker merges grid intervals until each step holds the
    threshold of events, so the curve is drawn as the full step function it releases, and every KMunicate time is a
    possible step end, so `km_plot` reads the table beneath from the same steps. Grid points closer than half a step
    to a KMunicate time are left out (no sliver intervals). The grid goes one step past the last KMunicate time: the
    number at risk just after it is the start of the next released step (`km_plot` cuts the axis at the last time).

    Example:
        >>> km_grid([0, 90, 180, 365], step=60)
        [0.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 365.0, 425.0]
    """
    want = sorted({float(t) for t in times})
    if not want or want[0] < 0 or step <= 0:
        raise DJSUserError("km_grid needs KMunicate times >= 0 (e.g. [0, 90, 180, 365, 730]) and a step > 0.")
    regular = np.arange(0.0, want[-1], float(step))
    keep = [float(g) for g in regular if min(abs(g - w) for w in want) >= step / 2]
    return sorted({0.0, *want, *keep, want[-1] + step})


def kmunicate_rows(steps: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """The KMunicate rows of one group's protected step table at ``times``, read from its released steps only.

    At a time where a released step ends: the number at risk just after it (the next step's; none after the last
    step, where the checker cut the curve), and the events, competing events and censored so far. Where the
    checker merged steps across a time, the counts at that time were not released: the row is missing (the
    figure prints "-"). Times past the curve's last step get no row.

    Example:
        >>> s = pd.DataFrame({"time": [0.0, 90.0, 180.0], "n_at_risk": [100, 100, 70], "events": [0, 20, 15],
        ...                   "censored": [0, 10, 5]})
        >>> kmunicate_rows(s, [0, 90, 120, 180, 365])[["time", "n_at_risk", "cum_events"]].values.tolist()
        [[0.0, 100.0, 0.0], [90.0, 70.0, 20.0], [120.0, nan, nan], [180.0, nan, 35.0]]
    """
    s = steps.sort_values("time").reset_index(drop=True)
    t = s["time"].to_numpy(np.float64)
    n = s["n_at_risk"].to_numpy(np.float64, na_value=np.nan)
    exits = {
        c: s[c].to_numpy(np.float64, na_value=np.nan) if c in s else np.zeros(len(s))
        for c in ("events", "competing_events", "censored")
    }
    # at risk just after each step: the next step's start; after the last released step the table says nothing
    # (the checker cut the curve there because few remained)
    after = np.r_[n[1:], np.nan]
    cols = ["time", "n_at_risk", "cum_events", "cum_competing", "cum_censored"]
    rows = []
    for want in sorted({float(w) for w in times}):
        if want > t[-1] or want < t[0]:
            continue
        k = int(np.flatnonzero(t == want)[0]) if (t == want).any() else -1
        if k < 0:
            rows.append([want, np.nan, np.nan, np.nan, np.nan])
            continue
        at_risk = n[0] if k == 0 else after[k]
        rows.append(
            [want, at_risk, *(float(np.sum(exits[c][: k + 1])) for c in ("events", "competing_events", "censored"))]
        )
    return pd.DataFrame(rows, columns=cols)


def km_plot(
    curve: Any,
    risk_table: Any = None,
    by: str | None = None,
    ylabel: str = "Probability",
    xlabel: str = "Days since index",
    title: str | None = None,
    times: Sequence[float] | None = None,
    legend_title: str | None = None,
    estimate: str = "estimate",
) -> Figure:
    """Full step curves with confidence bands and a KMunicate table (at risk, events, censored) aligned beneath.

    Args:
        curve: protected step table with ``time``, ``estimate``, ``ci_lower``, ``ci_upper`` (and ``by``): an
            `sdc.Session.km` / `cif` output or `save_table` of a `survival.km` / `survival.cif` curve (group and
            time may be in the index), or a DataFrame in which withheld values are missing. Survival or cumulative
            incidence alike.
        risk_table: a separately protected KMunicate table (``time``, ``n_at_risk`` and ``cum_events`` /
            ``cum_censored``, or per-interval ``events`` / ``censored``); None reads the table from ``curve``'s
            released steps at ``times`` (`kmunicate_rows`), so the figure needs one protected table only.
        by: the group column (detected when not given).
        ylabel: y-axis label.
        xlabel: x-axis label.
        title: figure title.
        times: times of the KMunicate columns when read from ``curve`` (default: about five round numbers).
        legend_title: the legend's title (default: ``by``).
        estimate: the curve drawn, with ``ci_lower`` / ``ci_upper`` (``estimate``) or ``<estimate>_ci_lower`` /
            ``<estimate>_ci_upper``: ``"survival"`` draws the Kaplan-Meier curve a protected cumulative-incidence
            table carries beside its incidence (the same released counts).

    Returns:
        A matplotlib Figure with two axes (curves, table).

    Example:
        >>> c = pd.DataFrame({"time": [0, 30, 90, 150], "estimate": [1, .9, .8, .7], "ci_lower": [1, .85, .7, .6],
        ...                   "ci_upper": [1, .95, .9, .8], "n_at_risk": [120, 120, 100, 70], "events": [0, 12, 12, 10],
        ...                   "censored": [0, 8, 18, 5]})
        >>> fig = km_plot(c, times=[0, 90])
        >>> len(fig.axes), [t.get_text() for t in fig.axes[1].texts][:3]
        (2, ['120', '70', '0'])
    """
    cur, cmask = _flat(*protected(curve, "curve"))
    if estimate != "estimate":  # e.g. the survival curve a cumulative-incidence table carries
        names = {estimate: "estimate", f"{estimate}_ci_lower": "ci_lower", f"{estimate}_ci_upper": "ci_upper"}
        if any(c not in cur.columns for c in names):
            raise DJSUserError(f"The curve has no `{estimate}` with its interval: pass estimate='estimate'.")
        drop = [c for c in names.values() if c in cur.columns]
        cur, cmask = cur.drop(columns=drop).rename(columns=names), cmask.drop(columns=drop).rename(columns=names)
    if any(c not in cur.columns for c in ("time", "estimate", "ci_lower", "ci_upper")):
        raise DJSUserError("km_plot needs a curve with time, estimate, ci_lower and ci_upper: pass km/cif output.")
    by = by or next((c for c in cur.columns if c not in _NOT_GROUPS), None)
    if by and by not in cur.columns:
        raise DJSUserError(f"The group column `{by}` is not in the curve.")
    cur_lab = group_labels(cur[by]) if by else pd.Series("", index=cur.index)
    drawn = [lv for lv in (group_levels(cur[by]) if by else [""]) if cur.loc[cur_lab == lv, "estimate"].notna().any()]
    missing_groups = [g for g in _withheld_groups(curve) if g not in drawn]
    if by:
        missing_groups += [lv for lv in group_levels(cur[by]) if lv not in drawn and lv not in missing_groups]
    if not drawn:
        raise DJSUserError("Every group of the curve is withheld: there is nothing to draw.")
    tables = _risk_tables(cur, cur_lab, drawn, risk_table, by, times)
    # a Competing row only when there are competing events (a cumulative-incidence table without a competing
    # event type carries a column of zeros)
    competing = any(
        bool(m["cum_competing"].any()) or bool((t["cum_competing"].fillna(0).to_numpy() != 0).any())
        for t, m in tables.values()
        if "cum_competing" in t and "cum_competing" in m
    )
    rows = [(c, lab) for c, lab in _ROWS if c != "cum_competing" or competing]
    labels = [f"{lv}: {lab}" if by else lab for lv in drawn for _, lab in rows]
    n_rows = len(labels)
    with style():
        fig = new_figure(10.0, 6.0)
        # inches measured from the text, so no label is cut: table labels left, the legend beside the curves, a
        # long title wrapped to the width it has
        left_in = max(1.25, max(text_size(fig, lab, 10)[0] for lab in [*labels, xlabel]) + 0.2)
        legend_in = max(text_size(fig, t, 12)[0] for t in [*drawn, legend_title or by or ""]) + 0.9 if by else 0.3
        title = wrap_text(fig, title, 10.0 - left_in - 0.2, 16) if title else title
        title_in = 0.28 * (title.count("\n") + 1) + 0.2 if title else 0.0
        height = 5.9 + 0.3 * n_rows + title_in
        fig.set_size_inches(10.0, height)
        top, bottom = 1 - (0.25 + title_in) / height, 0.45 / height  # inches: title above, note below
        gs = fig.add_gridspec(
            2,
            1,
            height_ratios=[4.2, 0.3 * n_rows + 0.4],
            hspace=0.9 / 4.2,
            left=left_in / 10.0,
            right=1 - legend_in / 10.0,
            top=top,
            bottom=bottom,
        )
        ax, axt = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
        # the x axis spans the KMunicate table (a curve released past its last time is cut there), with room for
        # the widest count centred on the first and last time
        shown = [float(t["time"].max()) for t, _ in tables.values() if len(t)]
        right = max(shown) if shown else float(cur["time"].max())
        widest = max((text_size(fig, f"{v:,.0f}", 10)[0] for t, _ in tables.values() for c, _ in rows if c in t
                      for v in t[c].dropna()), default=0.3)  # fmt: skip
        axis_in = 10.0 - left_in - legend_in
        pad = right * (widest / 2 + 0.05) / max(axis_in - widest - 0.1, 1.0)
        for i, lv in enumerate(drawn):
            g = cur[(cur_lab == lv).to_numpy()].sort_values("time")
            t = g["time"].to_numpy(float)
            st = series_style(i)
            est = g["estimate"].to_numpy(float, na_value=np.nan)
            ax.step(t, est, where="post", color=st["color"], linestyle=st["linestyle"], label=lv or None)
            # markers at the table's times, on the step (value of the last step at or before each): a cue beside
            # colour and line style
            marks = tables[lv][0]["time"].to_numpy(float) if len(tables[lv][0]) else t[:1]
            marks = marks[(marks >= t[0]) & (marks <= t[-1])]
            on = est[np.searchsorted(t, marks, side="right") - 1]
            ax.plot(marks, on, linestyle="none", marker=st["marker"], color=st["color"], markersize=6)
            ax.fill_between(
                t,
                g["ci_lower"].to_numpy(float, na_value=np.nan),
                g["ci_upper"].to_numpy(float, na_value=np.nan),
                step="post",
                color=st["color"],
                alpha=0.15,
                linewidth=0,
            )
        ax.set_xlim(-pad, right + pad)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:.1f}"))
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        if by:  # beside the curves, never over them
            ax.legend(title=legend_title or by, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        _table(axt, ax, tables, drawn, rows, labels)
        notes = []
        if any(m.to_numpy().any() for _, m in tables.values()) or cmask.to_numpy().any():
            notes.append(SUPPRESSED_NOTE)
        every = {float(x) for t, _ in tables.values() for x in t["time"]}
        if any(len(t) < len(every) or (t[[c for c, _ in rows if c in t]].isna()
               & ~m[[c for c, _ in rows if c in m]]).to_numpy().any() for t, m in tables.values()):  # fmt: skip
            notes.append(
                f"{_NOT_RELEASED} = not released at this time (steps merged across it, or past the curve's end)"
            )
        if missing_groups:
            notes.append(f"Not shown (withheld): {', '.join(missing_groups)}")
        if notes:
            fig.text(0.01, 0.01, "; ".join(notes), fontsize=10)
        if title:
            ax.set_title(title, pad=12)
    return fig


def _risk_tables(
    cur: pd.DataFrame,
    cur_lab: pd.Series,
    drawn: list[str],
    risk_table: Any,
    by: str | None,
    times: Sequence[float] | None,
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """(rows, withheld mask) of the KMunicate table of each drawn group."""
    out = {}
    if risk_table is None:
        if "n_at_risk" not in cur.columns:
            raise DJSUserError("The curve has no n_at_risk: pass its protected KMunicate table as risk_table.")
        want = list(times) if times is not None else _nice_times(float(cur["time"].max()))
        for lv in drawn:
            rows = kmunicate_rows(cur[(cur_lab == lv).to_numpy()], want)
            out[lv] = (rows, pd.DataFrame(False, index=rows.index, columns=rows.columns))  # "-": not released
        return out
    tab, tmask = _flat(*protected(risk_table, "risk table"))
    if "time" not in tab.columns or "n_at_risk" not in tab.columns:
        raise DJSUserError("The risk table needs time and n_at_risk: pass kmunicate_table output.")
    if by and by not in tab.columns:
        raise DJSUserError(f"The group column `{by}` must be in both the curve and the risk table.")
    tab_lab = group_labels(tab[by]) if by else pd.Series("", index=tab.index)
    for lv in drawn:
        keep = (tab_lab == lv).to_numpy()
        g, m = tab[keep].copy(), tmask[keep].copy()
        for per, cum in (("events", "cum_events"), ("censored", "cum_censored"), ("competing_events", "cum_competing")):
            if cum not in g and per in g:  # per-interval counts: cumulated, withheld from a withheld one on
                g[cum] = g[per].cumsum()
                m[cum] = m[per].cumsum().astype(bool) | g[cum].isna()
        out[lv] = (g.reset_index(drop=True), m.reset_index(drop=True))
    return out


def _table(
    axt: Any,
    ax: Any,
    tables: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
    drawn: list[str],
    rows: list[tuple[str, str]],
    labels: list[str],
) -> None:
    """The KMunicate table on the curve's x axis: one line per group and count, "c" where withheld."""
    n_rows = len(labels) + 1  # a header line of times first
    axt.set_xlim(ax.get_xlim())
    axt.set_ylim(-0.5, n_rows - 0.5)
    y = n_rows - 2
    ticks = sorted({float(x) for g, _ in tables.values() for x in g["time"]})
    for i, lv in enumerate(drawn):
        g, m = tables[lv]
        at = {float(x): k for k, x in enumerate(g["time"])}
        colour = series_style(i)["color"]
        for c, _label in rows:
            for tt in ticks:  # a time past this group's curve is not released for it: "-", never blank
                k = at.get(tt, -1)
                hid = bool(m[c].iloc[k]) if k >= 0 and c in m else False
                v = g[c].iloc[k] if k >= 0 and c in g else np.nan
                text = SUPPRESSED if hid else (_NOT_RELEASED if pd.isna(v) else f"{round(float(v)):,}")
                italic = "italic" if text == SUPPRESSED else "normal"
                axt.text(tt, y, text, ha="center", va="center", fontsize=10, color=colour, fontstyle=italic)
            y -= 1
    for tt in ticks:
        axt.text(tt, n_rows - 1, f"{tt:g}", ha="center", va="center", fontsize=10, fontweight="bold")
    axt.set_yticks(range(n_rows - 1, -1, -1), [ax.get_xlabel(), *labels], fontsize=10)
    axt.set_xticks([])
    axt.tick_params(axis="y", length=0)
    axt.grid(False)
    for sp in ("left", "bottom", "top", "right"):
        axt.spines[sp].set_visible(False)
