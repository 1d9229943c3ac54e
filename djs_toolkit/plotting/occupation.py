"""Stacked state-occupation figure from a protected table: where people are at each time after a start event.

One stacked bar per reporting time (the table's times, never a record's own), one segment per state, in the table's
state order with colour and hatch; the share of withheld probabilities is drawn as one hatched grey segment marked
"c" (it is 1 minus the published ones, so it shows nothing the table does not), never as 0. One panel per group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    HATCHES,
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    group_labels,
    group_levels,
    new_figure,
    protected,
    style,
)

__all__ = ["occupation_plot"]

_WITHHELD = "#BFBFBF"
MAX_PANELS = 12  # every age band with Missing is 9 panels (care proceedings by age band at national scale)


def occupation_plot(
    table: Any,
    by: str | None = None,
    time: str = "time",
    state: str = "state",
    value: str = "estimate",
    title: str | None = None,
    xlabel: str = "Days since the start event",
) -> Figure:
    """Stacked bars of state-occupation probabilities at each reporting time, one panel per ``by`` group.

    Args:
        table: the checked Output of the probabilities as released (from ``save_table``: rows by ``by`` and
            ``time``, one column per state), or a protected long table (``time``, ``state``, ``estimate`` and
            ``by``); withheld probabilities are masked or missing. Draw the released Output: a table protected
            otherwise (e.g. ``journeys.multistate``'s ``occupation``) may publish cells the release withholds.
        by: the group column (None: one panel).
        time, state, value: column names.
        title: figure title.
        xlabel: x-axis label.

    Returns:
        A matplotlib Figure.

    Example:
        >>> t = pd.DataFrame({"time": [0, 0, 0, 90, 90, 90], "state": ["none", "civil", "crime"] * 2,
        ...                   "estimate": [0.1, 0.8, 0.1, 0.6, None, None]})
        >>> fig = occupation_plot(t)
        >>> [t.get_text() for t in fig.legends[0].get_texts()]
        ['none', 'civil', 'crime', 'withheld (c)']
        >>> wide = t.pivot(index="time", columns="state", values="estimate")[["none", "civil", "crime"]]
        >>> sorted(float(round(p.get_height(), 2)) for p in occupation_plot(wide).axes[0].patches if p.get_height() > 0)
        [0.1, 0.1, 0.4, 0.6, 0.8]
    """
    data, mask = protected(table, "table")
    if not isinstance(data.index, pd.RangeIndex):
        data, mask = data.reset_index(), mask.reset_index(drop=True)
    keys = [time] + ([by] if by else [])
    if state not in data.columns and all(k in data.columns for k in keys):
        # The released wide layout (one column per state): made long again cell for cell, each cell hidden exactly
        # where the release withholds it, so the figure can show nothing the released table does not.
        cols = [c for c in data.columns if c not in keys]
        hid = mask[cols].to_numpy(bool).ravel(order="F")  # melt stacks column after column
        data = data.melt(id_vars=keys, value_vars=cols, var_name=state, value_name=value)
        mask = pd.DataFrame({value: hid})
    for c in [time, state, value] + ([by] if by else []):
        if c not in data.columns:
            raise DJSUserError(f"The table has no column `{c}`.")
    states = list(dict.fromkeys(data[state].astype(str)))
    if len(states) > len(PALETTE):
        raise DJSUserError(f"A stacked figure tells at most {len(PALETTE)} states apart: merge states first.")
    hidden = mask[value].to_numpy(bool) | data[value].isna().to_numpy()
    vals = np.where(hidden, np.nan, data[value].to_numpy(float, na_value=np.nan))
    labels = group_labels(data[by]) if by else pd.Series("", index=data.index)
    panels = group_levels(data[by]) if by else [""]
    if len(panels) > MAX_PANELS:
        raise DJSUserError(f"At most {MAX_PANELS} groups fit one figure: merge small groups first.")
    times = np.sort(data[time].astype(float).unique())
    width = 0.8 * (np.diff(times).min() if len(times) > 1 else 1.0)
    with style():
        ncol = min(len(panels), 2 if len(panels) <= 6 else 3)
        nrow = int(np.ceil(len(panels) / ncol))
        fig = new_figure(11.0 if ncol < 3 else 14.0, 1.5 + 3.6 * nrow)
        any_hidden = False
        axes = []
        for p, grp in enumerate(panels):
            ax = fig.add_subplot(nrow, ncol, p + 1)
            axes.append(ax)
            sel = (labels == grp).to_numpy()
            grid = pd.DataFrame({"t": data.loc[sel, time].astype(float), "s": data.loc[sel, state].astype(str),
                                 "v": vals[sel]}).pivot_table(index="t", columns="s", values="v", aggfunc="first",
                                                              dropna=False)  # fmt: skip
            grid = grid.reindex(index=times, columns=states)
            present = data.loc[sel, time].astype(float).unique()
            bottom = np.zeros(len(times))
            for i, s in enumerate(states):
                h = np.nan_to_num(grid[s].to_numpy(float))
                ax.bar(times, h, width, bottom=bottom, color=PALETTE[i], hatch=HATCHES[i], edgecolor="white",
                       linewidth=0.5)  # fmt: skip
                bottom = bottom + h
            rest = np.where(np.isin(times, present) & grid.isna().any(axis=1).to_numpy(), 1.0 - bottom, 0.0)
            rest = np.clip(rest, 0.0, 1.0)
            if (rest > 1e-9).any():
                any_hidden = True
                ax.bar(times, rest, width, bottom=bottom, color=_WITHHELD, hatch="xx", edgecolor="white", linewidth=0.5)
                for x, b, r in zip(times, bottom, rest, strict=True):
                    if r > 0.03:
                        ax.text(x, b + r / 2, SUPPRESSED, ha="center", va="center", fontsize=9, fontstyle="italic")
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            # Axis titles once per row and column: three panels abreast leave no room for one beside each.
            if p >= len(panels) - ncol:
                ax.set_xlabel(xlabel)
            if p % ncol == 0:
                ax.set_ylabel("People in each state")
            if by:
                ax.set_title(str(grp), fontsize=12)
        handles = [
            Patch(facecolor=PALETTE[i], hatch=HATCHES[i], edgecolor="white", label=s) for i, s in enumerate(states)
        ]
        if any_hidden:
            handles.append(Patch(facecolor=_WITHHELD, hatch="xx", edgecolor="white", label=f"withheld ({SUPPRESSED})"))
        fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.995, 0.9), fontsize=10)
        fig.subplots_adjust(left=0.08, right=0.78, bottom=0.12 / nrow + 0.04, top=0.92 if title else 0.96, hspace=0.45,
                            wspace=0.3)  # fmt: skip
        if any_hidden:
            fig.text(0.01, 0.01, SUPPRESSED_NOTE + "; the withheld share is 1 minus the published ones", fontsize=10)
        if title:
            fig.suptitle(title)
    return fig
