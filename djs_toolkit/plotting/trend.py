"""Yearly (or any whole-number) series by group from a protected table: volumes by dataset and year.

Whole-number x ticks (no "2007.5"), groups in natural order with distinct colour, line style and marker, dataset
labels shown by their names, the legend beside the plot listing only groups drawn, and withheld values left as
gaps marked "c" at the foot of the axis (never drawn as 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    SUPPRESSED,
    SUPPRESSED_NOTE,
    display_name,
    group_labels,
    group_levels,
    new_figure,
    protected,
    series_style,
    style,
)
from djs_toolkit.plotting._layout import wrap_text

__all__ = ["trend_plot"]


def trend_plot(
    table: Any,
    x: str,
    y: str,
    by: str | None = None,
    ylabel: str | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    legend_title: str | None = None,
    trim_zeros: bool = False,
) -> Figure:
    """Lines of ``y`` over whole-number ``x`` (years), one per ``by`` group, from a protected table.

    Args:
        table: protected output (``.table`` and ``.mask``) or a DataFrame in which withheld values are missing;
            ``x`` and ``by`` may be index levels.
        x: the whole-number axis (e.g. ``year``).
        y: the value column.
        by: the group column (None: one line).
        ylabel, xlabel, title: labels (default: the column names).
        legend_title: the legend's title (default: ``by``).
        trim_zeros: leave out each line's zeros before its first and after its last non-zero or withheld value:
            years a dataset does not cover have no records, which is not a measured 0 (a rectangular protected
            table fills them with zeros). Zeros between are drawn.

    Returns:
        A matplotlib Figure.

    Example:
        >>> t = pd.DataFrame({"dataset": ["mags_hocas"] * 3 + ["familyman"] * 3, "year": [2019, 2020, 2021] * 2,
        ...                   "events": [120, 110, None, 40, 45, 50]})
        >>> fig = trend_plot(t, "year", "events", by="dataset")
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()], [t.get_text() for t in fig.axes[0].texts]
        (["Magistrates' courts", 'Family court'], ['c'])
    """
    data, mask = protected(table, "table")
    if not isinstance(data.index, pd.RangeIndex):
        data = data.reset_index()
        mask = mask.reset_index(drop=True).reindex(columns=data.columns, fill_value=False)
    for c in [x, y] + ([by] if by else []):
        if c not in data.columns:
            raise DJSUserError(f"The table has no column `{c}`.")
    labels = group_labels(data[by]) if by else pd.Series("", index=data.index)
    order = group_levels(data[by]) if by else [""]
    names = {lv: display_name(lv) for lv in order}
    drawn = [lv for lv in order if data.loc[(labels == lv).to_numpy(), y].notna().any()]
    with style():
        fig = new_figure(11.0, 6.0)
        ax = fig.add_subplot(1, 1, 1)
        hidden_any = False
        span: list[float] = []
        for i, lv in enumerate(drawn):
            g = data[(labels == lv).to_numpy()].sort_values(x)
            hid = mask.loc[g.index, y].to_numpy(bool) | g[y].isna().to_numpy()
            if trim_zeros:
                some = np.flatnonzero(hid | (g[y].to_numpy(float, na_value=np.nan) != 0))
                keep = slice(some[0], some[-1] + 1) if len(some) else slice(0, 0)
                g, hid = g.iloc[keep], hid[keep]
            st = series_style(i)
            xs = g[x].to_numpy(float)
            span += [float(xs.min()), float(xs.max())] if len(xs) else []
            ys = np.where(hid, np.nan, g[y].to_numpy(float, na_value=np.nan))
            ax.plot(xs, ys, color=st["color"], linestyle=st["linestyle"], marker=st["marker"], markersize=5,
                    label=names[lv] if by else None)  # fmt: skip
            for xv in xs[hid]:
                ax.annotate(SUPPRESSED, (xv, 0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=9, fontstyle="italic",
                            color=st["color"])  # fmt: skip
            hidden_any |= bool(hid.any())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if span:  # withheld years too (autoscaling sees only drawn values, and would put their "c" off the axis)
            ax.set_xlim(min(span) - 0.5, max(span) + 0.5)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_ylim(bottom=0)
        ax.set_xlabel(xlabel if xlabel is not None else x.replace("_", " ").capitalize())
        ax.set_ylabel(ylabel if ylabel is not None else y.replace("_", " ").capitalize())
        if by:
            ax.legend(title=legend_title or by, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=11)
        fig.subplots_adjust(left=0.1, right=0.72, bottom=0.14, top=0.9 if title else 0.95)
        notes = [SUPPRESSED_NOTE] if hidden_any else []
        if len(drawn) < len(order):
            notes.append(f"Not shown (withheld): {', '.join(names[lv] for lv in order if lv not in drawn)}")
        if notes:
            fig.text(0.01, 0.01, "; ".join(notes), fontsize=10)
        if title:  # wrapped to the axes' width, never cut by the figure's edge
            ax.set_title(wrap_text(fig, title, 11.0 * (0.72 - 0.1), 16), pad=10)
    return fig
