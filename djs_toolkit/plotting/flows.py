"""Monthly flows with an interrupted-time-series fit and its counterfactual band.

Observed points come from a protected flows table (withheld months are shown as "c" on the axis, never
as values); incomplete recent months are drawn with hollow markers (docs/methods.md §8). Groups are drawn in
natural order with distinct colour, line style and marker, datasets by their names; a group with no recorded
value is kept (not dropped by groupby), labelled "Missing" and drawn last; the legend lists groups drawn.
"""

from __future__ import annotations

from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    display_name,
    natural_key,
    new_figure,
    protected,
    series_style,
    style,
)

__all__ = ["flows_plot"]


def flows_plot(
    flows: Any, its: Any = None, ylabel: str = "People per month", title: str | None = None, xlabel: str = "Month"
) -> Figure:
    """Monthly counts per flow (and group), optionally with the ITS fit and counterfactual.

    Args:
        flows: protected `monthly_flows` table (columns ``month``, ``count``, optionally ``dataset``, a
            group column and ``incomplete``), or an output with ``.table`` / ``.mask``.
        its: an `flows.ITSResult` (or its ``series`` frame) fitted to one of the flows: the fitted line,
            the counterfactual (dashed) with its interval band (hatched), the interruption months and the
            result's ``notes`` (Covid months left out, interruptions not estimated) under the plot.
        ylabel: y-axis label.
        title: figure title.
        xlabel: x-axis label.

    Returns:
        A matplotlib Figure.

    Example:
        >>> f = pd.DataFrame({"month": pd.date_range("2019-01-01", periods=6, freq="MS"),
        ...                   "count": [12, 15, None, 14, 13, 11], "incomplete": [False] * 5 + [True]})
        >>> len(flows_plot(f).axes[0].lines)
        2
    """
    table, mask = protected(flows, "flows table")
    if "month" not in table.columns or "count" not in table.columns:
        raise DJSUserError("The flows table needs `month` and `count` columns: pass monthly_flows output.")
    keys = [c for c in table.columns if c not in ("month", "count", "incomplete")]
    groups: list[tuple[tuple[object, ...], pd.DataFrame]] = (
        [(k if isinstance(k, tuple) else (k,), g) for k, g in table.groupby(keys, sort=True, dropna=False)]
        if keys
        else [((), table)]
    )
    groups.sort(key=lambda kg: tuple(natural_key(k) for k in kg[0]))  # natural order, missing groups last
    with style():
        fig = new_figure(12.0, 6.0)
        ax = fig.add_subplot(1, 1, 1)
        hidden_any = False
        for i, (key, g) in enumerate(groups):
            g = g.sort_values("month")
            st = series_style(i)
            col, ls, mk = st["color"], st["linestyle"], st["marker"]
            y = g["count"].to_numpy(float, na_value=np.nan)
            hidden = mask.loc[g.index, "count"].to_numpy(bool)
            inc = g["incomplete"].to_numpy(bool) if "incomplete" in g else np.zeros(len(g), bool)
            shown = np.where(hidden | inc, np.nan, y)
            label = " / ".join(display_name(k) for k in key) or "observed"
            drawn = bool(np.isfinite(shown).any())  # a group with nothing published is not in the legend
            ax.plot(g["month"], shown, color=col, linestyle=ls, marker=mk, markersize=4, label=label if drawn else None)
            if (inc & ~hidden).any():
                ax.plot(
                    g["month"][inc & ~hidden],
                    y[inc & ~hidden],
                    linestyle="none",
                    marker=mk,
                    color=col,
                    markerfacecolor="white",
                    label=f"{label} (incomplete)",
                )
            for m in g["month"][hidden]:
                ax.annotate(
                    SUPPRESSED,
                    (m, 0),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    va="bottom",
                    fontsize=9,
                    fontstyle="italic",
                    color=col,
                )
            hidden_any |= bool(hidden.any())
        if its is not None:
            s = its.series if hasattr(its, "series") else its
            params = getattr(its, "params", None)
            terms = [] if params is None else [t for t in params.index if t.startswith(("level_change_", "ramp_"))]
            ax.plot(s["month"], s["fitted"], color=PALETTE[4], linestyle="-", linewidth=1.5, label="model fit")
            if params is None or terms:  # no interruption or ramp fitted (see the notes): no counterfactual to show
                ax.plot(s["month"], s["counterfactual"], color=PALETTE[3], linestyle="--", label="counterfactual")
                ax.fill_between(
                    s["month"],
                    s["cf_lower"],
                    s["cf_upper"],
                    facecolor=PALETTE[3],
                    alpha=0.15,
                    hatch="//",
                    edgecolor=PALETTE[3],
                    linewidth=0,
                    label="counterfactual interval",
                )
            for t in terms:
                when = pd.Timestamp(t.rsplit("_", 1)[1] + "-01")
                ax.axvline(mdates.date2num(when), color=PALETTE[4], linestyle=":", linewidth=1)
                ax.annotate(
                    t.rsplit("_", 1)[1],
                    (when, 1.0),
                    xycoords=("data", "axes fraction"),
                    ha="left",
                    va="top",
                    fontsize=10,
                )
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=11)
        # Notes under the x axis label, one line each: withheld months, and what the ITS fit left out (Covid
        # months, interruptions it could not estimate).
        notes = ([SUPPRESSED_NOTE] if hidden_any else []) + [f"ITS: {n}" for n in getattr(its, "notes", None) or []]
        for i, note in enumerate(reversed(notes)):
            fig.text(0.01, 0.015 + 0.035 * i, note, fontsize=9)
        if title:
            ax.set_title(title)
        fig.subplots_adjust(left=0.08, right=0.7, bottom=0.12 + 0.035 * len(notes), top=0.9 if title else 0.95)
    return fig
