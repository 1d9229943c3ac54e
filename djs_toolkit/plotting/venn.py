"""2- and 3-set Venn diagrams from protected overlap counts (not area-proportional).

Circles sit at fixed positions; each region is labelled with its exclusive count, and each circle with
its name and set size. Circles differ by outline style as well as colour (docs/workflow.md §5.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    LINESTYLES,
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    new_figure,
    one_group,
    protected,
    style,
)

__all__ = ["venn_plot"]

# Circle centres (unit radius) and the label point of each region, keyed by membership bitmask.
_LAYOUT = {
    2: ([(-0.55, 0.0), (0.55, 0.0)], {1: (-0.9, 0.0), 2: (0.9, 0.0), 3: (0.0, 0.0)}),
    3: (
        [(-0.55, 0.35), (0.55, 0.35), (0.0, -0.6)],
        {
            1: (-0.95, 0.6),
            2: (0.95, 0.6),
            4: (0.0, -1.05),
            3: (0.0, 0.75),
            5: (-0.62, -0.35),
            6: (0.62, -0.35),
            7: (0.0, 0.05),
        },
    ),
}


def venn_plot(overlap: Any, datasets: list[str] | None = None, group: Any = None, title: str | None = None) -> Figure:
    """Venn diagram of 2 or 3 sets with the exclusive count in every region.

    Args:
        overlap: protected `overlap_sets` table over 2 or 3 datasets (`protect_overlap` output or a
            DataFrame in which withheld counts are missing).
        datasets: the 2 or 3 set columns (default: the table's bool columns).
        group: with a ``by`` column, the group to draw.
        title: figure title.

    Returns:
        A matplotlib Figure.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"a": [True, False, True], "b": [False, True, True], "degree": [1, 1, 2],
        ...                   "exclusive": [40, 30, None], "inclusive": [43, None, None]})
        >>> sum(1 for _ in venn_plot(t).axes[0].patches)
        2
    """
    table, mask = protected(overlap, "overlap table")
    sets = datasets or [c for c in table.columns if table[c].dtype == bool]
    if len(sets) not in (2, 3) or any(c not in table.columns for c in [*sets, "exclusive", "inclusive"]):
        raise DJSUserError("A Venn diagram needs an overlap_sets table over 2 or 3 datasets: use upset_plot for more.")
    table, mask = one_group(table, mask, sets, group)
    bits = sum(table[s].to_numpy(bool).astype(int) << i for i, s in enumerate(sets))
    exc = table["exclusive"].to_numpy(float, na_value=np.nan)
    inc = table["inclusive"].to_numpy(float, na_value=np.nan)
    centres, spots = _LAYOUT[len(sets)]
    with style():
        fig = new_figure(8.0, 7.0)
        ax = fig.add_subplot(1, 1, 1)
        for i, (s, c) in enumerate(zip(sets, centres, strict=True)):
            ax.add_patch(
                Circle(
                    c,
                    1.0,
                    facecolor=to_rgba(PALETTE[i], 0.12),
                    edgecolor=PALETTE[i],
                    linestyle=LINESTYLES[i],
                    linewidth=2.5,
                )
            )
            row = np.flatnonzero(bits == (1 << i))
            size = SUPPRESSED if row.size == 0 or mask["inclusive"].to_numpy()[row[0]] else f"{int(inc[row[0]]):,}"
            dx, dy = np.sign(c[0]) * 0.6, (0.85 if c[1] >= 0 else -0.85)
            ax.text(
                c[0] + dx,
                c[1] + dy + np.sign(dy) * 0.35,
                f"{s}\n(set size {size})",
                ha="center",
                va="center",
                fontsize=12,
                color=PALETTE[i],
            )
        suppressed = False
        for m, (x, y) in spots.items():
            row = np.flatnonzero(bits == m)
            hidden = row.size == 0 or bool(mask["exclusive"].to_numpy()[row[0]])
            suppressed |= hidden
            ax.text(
                x,
                y,
                SUPPRESSED if hidden else f"{int(exc[row[0]]):,}",
                ha="center",
                va="center",
                fontsize=13,
                fontstyle="italic" if hidden else "normal",
            )
        ax.set_xlim(-2.2, 2.2)
        ax.set_ylim(-2.2, 2.2)
        ax.set_aspect("equal")
        ax.axis("off")
        if suppressed:
            fig.text(0.01, 0.01, SUPPRESSED_NOTE, fontsize=10)
        if title:
            ax.set_title(title)
    return fig
