"""Our own UpSet plot (Lex et al. 2014) drawn from a protected overlap table.

`upsetplot` 0.9 crashes on the current numpy/matplotlib (survival_and_overlap.md §0 finding 5), so the
three panels are drawn here: exclusive-intersection bars (top), the membership matrix (bottom) and
set-size bars (left). Bars and labels come from the protected counts only; withheld counts show "c".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import PALETTE, SUPPRESSED, SUPPRESSED_NOTE, new_figure, one_group, protected, style

__all__ = ["upset_plot"]


def _fmt(v: float) -> str:
    return f"{int(v):,}"


def upset_plot(overlap: Any, datasets: list[str] | None = None, group: Any = None, sort_by: str = "degree",
               max_combinations: int | None = None, title: str | None = None) -> Figure:
    """UpSet plot of exclusive intersections with set sizes and the membership matrix.

    Args:
        overlap: protected `overlap_sets` table (`protect_overlap` output, or a DataFrame in which
            withheld counts are missing).
        datasets: the set columns, in display order (default: the table's bool columns).
        group: with a ``by`` column, the group to draw (required when there are several).
        sort_by: ``degree`` (table order) or ``count`` (largest published bars first; withheld last).
        max_combinations: draw only the first n combinations (after sorting).
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
    order = order[:max_combinations] if max_combinations else order
    member, exc, exc_c = member[order], exc[order], exc_c[order]
    deg1 = (table[sets].to_numpy(bool).sum(axis=1) == 1)
    size = {s: (np.nan, True) for s in sets}
    for i in np.flatnonzero(deg1):
        s = sets[int(np.argmax(table[sets].to_numpy(bool)[i]))]
        size[s] = (float(table["inclusive"].to_numpy(float, na_value=np.nan)[i]), bool(mask["inclusive"].iloc[i]))
    n, k = len(order), len(sets)
    with style():
        # Columns: set-size bars | set names | intersections; fixed caps keep the PNG size bounded.
        fig = new_figure(min(18.0, 5.0 + 0.3 * n), 4.0 + 0.4 * k)
        gs = fig.add_gridspec(2, 3, width_ratios=[1.2, 1.0, max(2.0, 0.3 * n)],
                              height_ratios=[3, max(1.0, k / 3)], wspace=0.0, hspace=0.03)
        ax_bar, ax_mat, ax_size = fig.add_subplot(gs[0, 2]), fig.add_subplot(gs[1, 2]), fig.add_subplot(gs[1, 0])
        ax_names = fig.add_subplot(gs[1, 1])
        x = np.arange(n)
        top = np.nanmax(np.where(exc_c, np.nan, exc)) if (~exc_c).any() else 1.0
        ax_bar.bar(x[~exc_c], exc[~exc_c], color=PALETTE[0], width=0.6)
        for xi, v, c in zip(x, exc, exc_c):
            ax_bar.text(xi, 0 if c else v, SUPPRESSED if c else _fmt(v), ha="center", va="bottom", fontsize=10,
                        fontstyle="italic" if c else "normal")
        ax_bar.set_ylim(0, top * 1.15)
        ax_bar.set_xlim(-0.6, n - 0.4)
        ax_bar.set_xticks([])
        ax_bar.set_ylabel("People (exactly these)")
        ax_bar.spines["bottom"].set_visible(False)
        # Matrix: filled dots for members joined by a line, light dots for non-members.
        yy = np.arange(k)[::-1]
        for xi, row in zip(x, member):
            ax_mat.scatter(np.full(k, xi), yy, s=80, color=np.where(row, PALETTE[4], "#D9D9D9").tolist(), zorder=3)
            if row.sum() > 1:
                ax_mat.plot([xi, xi], [yy[row].min(), yy[row].max()], color=PALETTE[4], linestyle="-", zorder=2)
        ax_mat.set_xlim(-0.6, n - 0.4)
        ax_mat.set_ylim(-0.6, k - 0.4)
        ax_mat.set_yticks([])
        ax_mat.set_xticks([])
        for yi, name in zip(yy, sets):
            ax_names.text(0.5, yi, name, ha="center", va="center", fontsize=11)
        ax_names.set_ylim(-0.6, k - 0.4)
        ax_names.axis("off")
        ax_mat.grid(False)
        for sp in ("left", "bottom"):
            ax_mat.spines[sp].set_visible(False)
        ax_mat.tick_params(axis="y", length=0)
        # Set sizes: horizontal bars growing to the left; withheld sizes labelled "c".
        vals = np.array([size[s][0] for s in sets])
        sc = np.array([size[s][1] for s in sets])
        ax_size.barh(yy[~sc], vals[~sc], color=PALETTE[1], height=0.5)
        smax = np.nanmax(np.where(sc, np.nan, vals)) if (~sc).any() else 1.0
        for yi, v, c in zip(yy, vals, sc):
            ax_size.annotate(SUPPRESSED if c else _fmt(v), (0 if c else v, yi), xytext=(-4, 0), textcoords="offset points",
                             ha="right", va="center", fontsize=10, fontstyle="italic" if c else "normal")
        ax_size.set_xlim(smax * 1.6, 0)
        ax_size.set_ylim(-0.6, k - 0.4)
        ax_size.set_yticks([])
        ax_size.set_xlabel("Set size")
        ax_size.grid(False)
        ax_size.spines["left"].set_visible(False)
        if exc_c.any() or sc.any():
            fig.text(0.01, 0.01, SUPPRESSED_NOTE, fontsize=10)
        if title:
            fig.suptitle(title, x=0.01, ha="left")
    return fig
