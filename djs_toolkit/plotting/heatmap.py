"""A heatmap of a protected two-way count table (e.g. transitions between jurisdictions), withheld cells marked.

Every cell shows its published count or "c" on a grey cell: a withheld count is never drawn as 0 or as a
colour. Totals must come from the table itself (`save_table(..., margins=...)` publishes true totals protected with
it), never from adding protected cells. Dataset labels are shown by their names, and the margins are measured so no
tick label is cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    display_name,
    natural_key,
    new_figure,
    protected,
    style,
)
from djs_toolkit.plotting._layout import text_size

__all__ = ["heatmap_plot"]

_CELL_PT = 10
_TICK_PT = 11
_MARGIN_LABELS = {"All", "Total"}


def heatmap_plot(
    table: Any,
    row: str,
    column: str,
    value: str,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    colorbar_label: str = "Count",
) -> Figure:
    """Heatmap of ``value`` by ``row`` x ``column`` from a protected table; withheld cells show "c".

    Args:
        table: protected output (``.table`` and ``.mask``) or a DataFrame in which withheld values are missing;
            ``row`` and ``column`` may be index levels. Margin rows and columns ("All") are left out.
        row, column: the columns whose levels are the heatmap's rows and columns.
        value: the count column drawn (e.g. the "All" column of a table saved with ``margins=``).
        title, xlabel, ylabel: figure title and axis labels (default: the column names).
        colorbar_label: the colour bar's label.

    Returns:
        A matplotlib Figure.

    Example:
        >>> t = pd.DataFrame({"from": ["mags_hocas", "mags_hocas", "probation_delius", "probation_delius"],
        ...                   "to": ["mags_hocas", "probation_delius", "mags_hocas", "probation_delius"],
        ...                   "n": [0, 5880, 5289, None]})
        >>> fig = heatmap_plot(t, "from", "to", "n")
        >>> sorted(x.get_text() for x in fig.axes[0].texts)
        ['0', '5,289', '5,880', 'c']
    """
    data, mask = protected(table, "table")
    if not isinstance(data.index, pd.RangeIndex):
        data = data.reset_index()
        mask = mask.reset_index(drop=True).reindex(columns=data.columns, fill_value=False)
    for c in (row, column, value):
        if c not in data.columns:
            raise DJSUserError(f"The table has no column `{c}`: pass the row, column and value names it has.")
    keep = ~data[row].astype(str).isin(_MARGIN_LABELS) & ~data[column].astype(str).isin(_MARGIN_LABELS)
    data, mask = data[keep.to_numpy()], mask[keep.to_numpy()]
    rows = sorted(pd.unique(data[row]), key=natural_key)
    cols = sorted(pd.unique(data[column]), key=natural_key)
    grid = np.full((len(rows), len(cols)), np.nan)
    hidden = np.zeros(grid.shape, dtype=bool)
    r_at, c_at = {v: i for i, v in enumerate(rows)}, {v: j for j, v in enumerate(cols)}
    for (rv, cv, v), hid in zip(data[[row, column, value]].itertuples(index=False), mask[value], strict=True):
        i, j = r_at[rv], c_at[cv]
        hidden[i, j] = bool(hid) or pd.isna(v)
        grid[i, j] = np.nan if hidden[i, j] else float(v)
    rnames, cnames = [display_name(v) for v in rows], [display_name(v) for v in cols]
    with style():
        fig = new_figure()
        left = max(text_size(fig, n, _TICK_PT)[0] for n in rnames) + 0.9  # the names, their tick gap and the label
        bottom = max(text_size(fig, n, _TICK_PT)[0] for n in cnames) * 0.71 + 0.9  # 45-degree labels
        cell = 0.75
        width, height = left + cell * len(cols) + 1.6, bottom + cell * len(rows) + (0.8 if title else 0.3)
        fig.set_size_inches(width, height)
        ax = fig.add_axes((left / width, bottom / height, cell * len(cols) / width, cell * len(rows) / height))
        cax = fig.add_axes(((left + cell * len(cols) + 0.25) / width, bottom / height, 0.2 / width,
                            cell * len(rows) / height))  # fmt: skip
        cmap = LinearSegmentedColormap.from_list("djs_blues", ["#FFFFFF", PALETTE[0]])
        top = float(np.nanmax(grid)) if np.isfinite(grid).any() else 1.0
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=max(top, 1.0), aspect="auto")
        for i, j in zip(*np.nonzero(hidden), strict=True):
            ax.add_patch(_hatched(i, j))
        for (i, j), v in np.ndenumerate(grid):
            dark = np.isfinite(v) and v > 0.55 * top
            text = SUPPRESSED if hidden[i, j] else ("" if np.isnan(v) else f"{v:,.0f}")
            ax.text(j, i, text, ha="center", va="center", fontsize=_CELL_PT, color="white" if dark else "#0B0C0C",
                    fontstyle="italic" if hidden[i, j] else "normal")  # fmt: skip
        ax.set_xticks(range(len(cols)), cnames, rotation=45, ha="right", rotation_mode="anchor", fontsize=_TICK_PT)
        ax.set_yticks(range(len(rows)), rnames, fontsize=_TICK_PT)
        ax.set_xlabel(xlabel if xlabel is not None else column)
        ax.set_ylabel(ylabel if ylabel is not None else row)
        ax.grid(False)
        for sp in ax.spines.values():
            sp.set_visible(False)
        bar = fig.colorbar(im, cax=cax)
        bar.set_label(colorbar_label, fontsize=_TICK_PT)
        bar.ax.tick_params(labelsize=10)
        bar.ax.yaxis.set_major_formatter("{x:,.0f}")
        if hidden.any():
            fig.text(0.1 / width, 0.1 / height, SUPPRESSED_NOTE, fontsize=10)
        if title:
            fig.text(0.1 / width, 1 - 0.15 / height, title, fontsize=16, ha="left", va="top")
    return fig


def _hatched(i: int, j: int) -> Rectangle:
    return Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#E6E6E6", edgecolor="white", linewidth=1)
