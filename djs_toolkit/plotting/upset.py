"""Our own UpSet plot (Lex et al. 2014) drawn from a protected overlap table.

`upsetplot` 0.9 crashes on the current numpy/matplotlib (docs/methods.md §0 finding 5), so the
three panels are drawn here: exclusive-intersection bars (top), the membership matrix (bottom) and
set-size bars (left). Bars and labels come from the protected counts only; withheld counts show "c"; datasets are
named by their titles; the "other combinations" row of a collapsed table (`protect_overlap(collapse=True)`) is a
grey bar at the end.

The panels are placed in inches from the measured sizes of their labels (`_layout`), so long set names,
"c" markers and bar labels never overlap: the name column is as wide as the longest name, value labels
turn vertical when they are wider than a bar's column, and both bar axes leave room for their labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator, StrMethodFormatter

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    display_name,
    new_figure,
    one_group,
    protected,
    style,
)
from djs_toolkit.plotting._layout import UpsetLayout, headroom, text_size

__all__ = ["upset_plot"]

_VALUE_PT = 10  # value labels on both bar panels
_NAME_PT = 11  # set names
_PAD_PT = 3  # gap between a bar's end and its label


def _fmt(v: float) -> str:
    return f"{int(v):,}"


def upset_plot(
    overlap: Any,
    datasets: list[str] | None = None,
    group: Any = None,
    sort_by: str = "degree",
    max_combinations: int | None = None,
    title: str | None = None,
) -> Figure:
    """UpSet plot of exclusive intersections with set sizes and the membership matrix.

    Args:
        overlap: protected `overlap_sets` table (`protect_overlap` output, or a DataFrame in which
            withheld counts are missing).
        datasets: the set columns, in display order (default: the table's bool columns).
        group: with a ``by`` column, the group to draw (required when there are several).
        sort_by: ``degree`` (table order) or ``count`` (largest published bars first; withheld last).
        max_combinations: draw only the first n combinations (after sorting; "other combinations" of a collapsed
            table is always drawn, last).
        title: figure title.

    Returns:
        A matplotlib Figure (save it with `save_png`).

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"a": [True, False, True], "b": [False, True, True], "degree": [1, 1, 2],
        ...                   "exclusive": [40, 30, None], "inclusive": [43, None, None]})
        >>> len(upset_plot(t).axes)
        4
    """
    table, mask = protected(overlap, "overlap table")
    sets = datasets or [c for c in table.columns if table[c].dtype == bool]
    missing = [c for c in [*sets, "exclusive", "inclusive"] if c not in table.columns]
    if missing or not sets:
        raise DJSUserError(f"The overlap table lacks column(s) {missing or 'for the sets'}: pass overlap_sets output.")
    table, mask = one_group(table, mask, sets, group)
    member = table[sets].to_numpy(bool)
    exc = table["exclusive"].to_numpy(float, na_value=np.nan)
    exc_c = mask["exclusive"].to_numpy(bool)
    order = np.arange(len(table))
    if sort_by == "count":
        order = np.lexsort((order, np.where(exc_c, np.inf, -np.nan_to_num(exc))))
    elif sort_by != "degree":
        raise DJSUserError("`sort_by` must be 'degree' or 'count'.")
    # "other combinations" (protect_overlap(collapse=True): no set marked) is always drawn, last
    other = ~member.any(axis=1)
    order = np.r_[order[~other[order]], order[other[order]]]
    if max_combinations:
        order = np.r_[order[~other[order]][: max(max_combinations - int(other.any()), 0)], order[other[order]]]
    member, exc, exc_c, is_other = member[order], exc[order], exc_c[order], other[order]
    deg1 = table[sets].to_numpy(bool).sum(axis=1) == 1
    size = dict.fromkeys(sets, (np.nan, True))
    for i in np.flatnonzero(deg1):
        s = sets[int(np.argmax(table[sets].to_numpy(bool)[i]))]
        size[s] = (float(table["inclusive"].to_numpy(float, na_value=np.nan)[i]), bool(mask["inclusive"].iloc[i]))
    n, k = len(order), len(sets)
    bar_labels = [SUPPRESSED if c else _fmt(v) for v, c in zip(exc, exc_c, strict=True)]
    vals = np.array([size[s][0] for s in sets])
    sc = np.array([size[s][1] for s in sets])
    size_labels = [SUPPRESSED if c else _fmt(v) for v, c in zip(vals, sc, strict=True)]
    with style():
        fig = new_figure()
        names = [display_name(name) for name in sets]
        name_w = max(text_size(fig, name, _NAME_PT)[0] for name in names)
        shown = [text_size(fig, lab, _VALUE_PT) for lab, c in zip(bar_labels, exc_c, strict=True) if not c] or [
            (0.0, 0.0)
        ]
        wide, thick = max(w for w, _ in shown), max(h for _, h in shown)
        lay = UpsetLayout.fit(n, k, name_w, label_w=wide, title=bool(title))
        fig.set_size_inches(lay.width, lay.height)
        ax_bar, ax_mat = fig.add_axes(lay.rect("bars")), fig.add_axes(lay.rect("matrix"))
        ax_size, ax_names = fig.add_axes(lay.rect("sizes")), fig.add_axes(lay.rect("names"))
        x = np.arange(n)
        # Intersection bars. Labels are vertical when the widest is wider than a column (fonts shrink only
        # when even a vertical label is thicker than a column, beyond about 64 combinations).
        vertical = wide + 2 * _PAD_PT / 72 > lay.col
        font = max(6.0, _VALUE_PT * min(1.0, 0.9 * lay.col / max(thick, 1e-3))) if vertical else _VALUE_PT
        colours = np.where(is_other, PALETTE[4], PALETTE[0])
        ax_bar.bar(x[~exc_c], exc[~exc_c], color=colours[~exc_c].tolist(), width=0.6)
        for xi, v, c, lab in zip(x, exc, exc_c, bar_labels, strict=True):
            # "c" sits at the foot of its empty column, always horizontal and at full size
            ax_bar.annotate(
                lab,
                (xi, 0 if c else v),
                xytext=(0, _PAD_PT),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=_VALUE_PT if c else font,
                rotation=90 if vertical and not c else 0,
                fontstyle="italic" if c else "normal",
            )
        along = [text_size(fig, lab, font)[0 if vertical else 1] for lab in bar_labels]  # inches, along the bar
        ax_bar.set_ylim(0, headroom(exc[~exc_c], np.array(along)[~exc_c], lay.bars_h, _PAD_PT))
        ax_bar.set_xlim(-0.5, n - 0.5)
        ax_bar.set_xticks([])
        ax_bar.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # as the labels; never a "1e6" offset
        ax_bar.set_ylabel("People (exactly these)")
        ax_bar.spines["bottom"].set_visible(False)
        # Matrix: filled dots for members joined by a line, light dots for non-members.
        yy = np.arange(k)[::-1]
        dot = min(80.0, (0.7 * min(lay.col, lay.row) * 72) ** 2)
        for xi, row, rest in zip(x, member, is_other, strict=True):
            if rest:  # the merged small combinations: no dots, their name down the column
                ax_mat.text(float(xi), (k - 1) / 2, "other combinations", rotation=90, ha="center", va="center",
                            fontsize=min(_NAME_PT, 72 * 0.8 * lay.col), color=PALETTE[4])  # fmt: skip
                continue
            ax_mat.scatter(np.full(k, xi), yy, s=dot, color=np.where(row, PALETTE[4], "#D9D9D9").tolist(), zorder=3)
            if row.sum() > 1:
                ax_mat.plot([xi, xi], [yy[row].min(), yy[row].max()], color=PALETTE[4], linestyle="-", zorder=2)
        ax_mat.set_xlim(-0.5, n - 0.5)
        ax_mat.set_ylim(-0.5, k - 0.5)
        ax_mat.set_yticks([])
        ax_mat.set_xticks([])
        ax_mat.grid(False)
        for sp in ("left", "bottom"):
            ax_mat.spines[sp].set_visible(False)
        # Set names, right-aligned against the matrix, in a column as wide as the longest name.
        for yi, name in zip(yy, names, strict=True):
            ax_names.text(1.0 - lay.pad / lay.names_w, yi, name, ha="right", va="center", fontsize=_NAME_PT)
        ax_names.set_xlim(0, 1)
        ax_names.set_ylim(-0.5, k - 0.5)
        ax_names.axis("off")
        # Set sizes: horizontal bars growing to the left, labelled at their ends; withheld sizes show "c" at
        # zero, inside this panel (right of it is the gap before the names).
        ax_size.barh(yy[~sc], vals[~sc], color=PALETTE[1], height=0.5)
        for yi, v, c, lab in zip(yy, vals, sc, size_labels, strict=True):
            ax_size.annotate(
                lab,
                (0 if c else v, yi),
                xytext=(-_PAD_PT, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=_VALUE_PT,
                fontstyle="italic" if c else "normal",
            )
        size_w = np.array([text_size(fig, lab, _VALUE_PT)[0] for lab in size_labels])
        ax_size.set_xlim(headroom(vals[~sc], size_w[~sc], lay.sizes_w, _PAD_PT), 0)
        ax_size.set_ylim(-0.5, k - 0.5)
        ax_size.set_yticks([])
        ax_size.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax_size.xaxis.set_major_formatter(EngFormatter(sep=""))  # "500k", "1M": short enough for a narrow axis
        ax_size.set_xlabel("Set size")
        ax_size.grid(False)
        ax_size.spines["left"].set_visible(False)
        if exc_c.any() or sc.any():
            fig.text(lay.margin / lay.width, lay.margin / lay.height, SUPPRESSED_NOTE, fontsize=10)
        if title:
            fig.suptitle(title, x=lay.margin / lay.width, y=1 - lay.margin / lay.height, ha="left", va="top")
    return fig
