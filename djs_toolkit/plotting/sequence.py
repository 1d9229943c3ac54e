"""Sequence (alluvial) figure of the first moves after a start event, drawn only from a protected flow table.

Columns are the state at time zero and after each move; a band from one column's state to the next column's is a
released flow, its width the count. Withheld flows are not drawn (never as 0 or a thin band): the part of a state's
people whose next move is withheld is a hatched grey stub marked "c", and people whose follow-up ended leave to an
"end of follow-up" node.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import PALETTE, SUPPRESSED, SUPPRESSED_NOTE, new_figure, protected, style

__all__ = ["sequence_plot"]

_END = "end of follow-up"
_GREY = "#BFBFBF"


def _flows(table: Any) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """(step, from, to, n) of released flows, the people in each (step, from) (NaN when withheld), and the states."""
    data, mask = protected(table, "table")
    keep = [str(i) != "All" for i in data.index]
    data, mask = data[keep], mask[keep]
    cols = [c for c in data.columns if str(c) != "All"]
    if isinstance(data.index, pd.MultiIndex):
        steps = [int(k) for k in data.index.get_level_values(0)]
        froms = [str(f) for f in data.index.get_level_values(1)]
    else:
        parts = [str(i).split(" | ") for i in data.index]
        if any(len(p) != 2 for p in parts):
            raise DJSUserError(
                "The sequence table's rows must be (step, from_state): pass journeys.multistate's sequences."
            )
        steps = [int(p[0]) for p in parts]
        froms = [p[1] for p in parts]
    rows = []
    for r, (k, f) in enumerate(zip(steps, froms, strict=True)):
        for c in cols:
            hid = bool(mask.iloc[r][c]) or pd.isna(data.iloc[r][c])
            rows.append((int(k), f, str(c), np.nan if hid else float(data.iloc[r][c])))
    flows = pd.DataFrame(rows, columns=["step", "from", "to", "n"])
    total = data["All"].astype(float).where(~mask["All"].to_numpy(bool)) if "All" in data.columns else pd.Series(np.nan)
    total.index = pd.MultiIndex.from_arrays([steps, froms])
    states = [str(c) for c in cols if str(c) != _END]
    return flows, total, states


def _band(ax: Any, x0: float, y0: tuple[float, float], x1: float, y1: tuple[float, float], color: str) -> None:
    """A band from (x0, y0 bottom-top) to (x1, y1 bottom-top) with cubic edges."""
    xm = (x0 + x1) / 2
    verts = [(x0, y0[0]), (xm, y0[0]), (xm, y1[0]), (x1, y1[0]), (x1, y1[1]), (xm, y1[1]), (xm, y0[1]), (x0, y0[1]),
             (x0, y0[0])]  # fmt: skip
    codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=color, edgecolor="none", alpha=0.45))


def sequence_plot(table: Any, title: str | None = None, min_share: float = 0.0) -> Figure:
    """Alluvial figure of the state at time zero and after each of the first moves, from protected counts.

    Args:
        table: the protected flow table (rows: step and state left; columns: state entered or end of follow-up;
            an ``All`` column of row totals), e.g. ``journeys.multistate``'s ``sequences`` output.
        title: figure title.
        min_share: flows below this share of the people at time zero are not drawn (noted under the figure).

    Returns:
        A matplotlib Figure.

    Example:
        >>> idx = pd.MultiIndex.from_tuples([(1, "civil"), (2, "none")], names=["step", "from_state"])
        >>> t = pd.DataFrame({"none": [60, 0], "civil": [0, 20], "end of follow-up": [None, 40],
        ...                   "All": [70, 60]}, index=idx)
        >>> fig = sequence_plot(t)
        >>> [x.get_text() for x in fig.axes[0].texts].count("c")
        1
    """
    flows, total, states = _flows(table)
    n_steps = int(flows["step"].max()) if len(flows) else 0
    color = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(states)}
    color[_END] = _GREY
    # people in each (column, state): column 0 from step 1's row totals, column k from the flows into it
    size: dict[tuple[int, str], float] = {}
    for key, v in total.items():
        k, f = key if isinstance(key, tuple) else (0, "")
        if k == 1:
            own = flows[(flows["step"] == 1) & (flows["from"] == f)]["n"].sum()
            size[(0, str(f))] = float(v) if pd.notna(v) else float(own)
    for k in range(1, n_steps + 1):
        into = flows[flows["step"] == k].groupby("to")["n"].sum(min_count=1)
        for s, v in into.items():
            nxt = total.get((k + 1, s), np.nan) if s != _END else np.nan
            size[(k, str(s))] = float(nxt) if pd.notna(nxt) else float(0.0 if pd.isna(v) else v)
    grand = sum(v for (c, _), v in size.items() if c == 0) or 1.0
    gap = 0.02 * grand
    order = [*states, _END]
    with style():
        fig = new_figure(12.0, 7.0)
        ax = fig.add_subplot(1, 1, 1)
        pos: dict[tuple[int, str], list[float]] = {}  # bottom, next free out-slot, next free in-slot
        for c in range(n_steps + 1):
            y = 0.0
            for s in order:
                h = size.get((c, s), 0.0)
                if h <= 0:
                    continue
                ax.add_patch(Rectangle((c - 0.04, y), 0.08, h, facecolor=color[s], edgecolor="white"))
                if h / grand > 0.03:
                    ax.text(c + 0.06, y + h / 2, s, va="center", fontsize=9)
                pos[(c, s)] = [y, y, y]
                y += h + gap
        any_hidden = skipped = False
        for k in range(1, n_steps + 1):
            for f in order:
                if (k - 1, f) not in pos:
                    continue
                out = flows[(flows["step"] == k) & (flows["from"] == f)]
                for t in order:
                    n = out.loc[out["to"] == t, "n"]
                    v = float(n.iloc[0]) if len(n) and pd.notna(n.iloc[0]) else 0.0
                    if v <= 0 or (k, t) not in pos:
                        continue
                    if v / grand < min_share:
                        skipped = True
                        continue
                    a, b = pos[(k - 1, f)], pos[(k, t)]
                    _band(ax, k - 1 + 0.04, (a[1], a[1] + v), k - 0.04, (b[2], b[2] + v), color[f])
                    a[1] += v
                    b[2] += v
                hidden_n = out["n"].isna().any()
                known = size.get((k - 1, f), 0.0)
                rest = known - (pos[(k - 1, f)][1] - pos[(k - 1, f)][0])
                if hidden_n and rest > 0:
                    any_hidden = True
                    y0 = pos[(k - 1, f)][1]
                    ax.add_patch(Rectangle((k - 1 + 0.04, y0), 0.12, rest, facecolor=_GREY, hatch="xx",
                                           edgecolor="white"))  # fmt: skip
                    ax.text(k - 1 + 0.1, y0 + rest / 2, SUPPRESSED, ha="center", va="center", fontsize=9,
                            fontstyle="italic")  # fmt: skip
        ax.set_xlim(-0.3, n_steps + 0.6)
        ax.set_ylim(0, max([v[0] + size[k] for k, v in pos.items()], default=1.0) * 1.02)
        ax.set_xticks(range(n_steps + 1), ["time zero"] + [f"after move {k}" for k in range(1, n_steps + 1)])
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        notes = []
        if any_hidden:
            notes.append(SUPPRESSED_NOTE + ": withheld moves are not drawn")
        if skipped:
            notes.append(f"flows under {min_share:.0%} of people not drawn")
        if notes:
            fig.text(0.01, 0.01, "; ".join(notes), fontsize=10)
        fig.subplots_adjust(left=0.04, right=0.96, bottom=0.12, top=0.92 if title else 0.97)
        if title:
            ax.set_title(title, pad=10)
    return fig
