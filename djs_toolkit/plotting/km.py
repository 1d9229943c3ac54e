"""Kaplan-Meier / cumulative-incidence plot with a KMunicate-style table beneath.

KMunicate (Morris et al., BMJ Open 2019; docs/workflow.md §5.2): confidence bands around each
curve and, below the plot, the numbers at risk, with events and censored so far, at chosen times. The
table is passed in as data (a protected `survival.kmunicate_table`), so the figure shows no more than
the releasable table; withheld cells print as "c". A group with no recorded value (NaN, None, or "nan"
after ``astype(str)``) is labelled "Missing" in the legend and the table, and drawn last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting._base import (
    LINESTYLES,
    MARKERS,
    PALETTE,
    SUPPRESSED,
    SUPPRESSED_NOTE,
    group_labels,
    group_levels,
    new_figure,
    protected,
    style,
)
from djs_toolkit.plotting._layout import text_size

__all__ = ["km_plot"]

_ROWS = (("n_at_risk", "At risk"), ("cum_events", "Events"), ("cum_censored", "Censored"))


def _flat(table: pd.DataFrame, mask: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Index levels (e.g. group and time of an `sdc.Session.km` table) as columns; they are never withheld."""
    if "time" in table.columns or "time" not in (table.index.names or []):
        return table, mask
    flat = table.reset_index()
    extra = [c for c in flat.columns if c not in mask.columns]
    return flat, pd.concat([pd.DataFrame(False, index=flat.index, columns=extra), mask.reset_index(drop=True)], axis=1)[
        flat.columns
    ]


def km_plot(
    curve: Any,
    risk_table: Any,
    by: str | None = None,
    ylabel: str = "Probability",
    xlabel: str = "Days since index",
    title: str | None = None,
) -> Figure:
    """Step curves with confidence bands and a KMunicate risk table (at risk, events, censored).

    Args:
        curve: protected curve with ``time``, ``estimate``, ``ci_lower``, ``ci_upper`` (and ``by``);
            survival or cumulative incidence alike.
        risk_table: protected table with ``time``, ``n_at_risk`` and ``cum_events`` / ``cum_censored``
            (or per-interval ``events`` / ``censored``), and ``by`` when grouped; an `sdc.Session.km` output
            (group and time in the index) serves as both curve and table.
        by: the group column (detected when the first column is not ``time``); missing values in it (NaN,
            None, pd.NA, or "nan" / "None" / "<NA>" after ``astype(str)``) form one group labelled "Missing".
        ylabel: y-axis label.
        xlabel: x-axis label.
        title: figure title.

    Returns:
        A matplotlib Figure with two axes (curves, table).

    Example:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"time": [0, 30, 90], "estimate": [1, .9, .8], "ci_lower": [1, .85, .7],
        ...                   "ci_upper": [1, .95, .9]})
        >>> r = pd.DataFrame({"time": [0, 90], "n_at_risk": [120, 60], "cum_events": [0, 24],
        ...                   "cum_censored": [0, None]})
        >>> len(km_plot(c, r).axes)
        2
    """
    cur, _ = _flat(*protected(curve, "curve"))
    tab, tmask = _flat(*protected(risk_table, "risk table"))
    for need, frame in ((("time", "estimate", "ci_lower", "ci_upper"), cur), (("time", "n_at_risk"), tab)):
        if any(c not in frame.columns for c in need):
            raise DJSUserError(f"km_plot needs columns {list(need)}: pass km/cif output and kmunicate_table output.")
    by = by or (cur.columns[0] if cur.columns[0] != "time" else None)
    if by and (by not in cur.columns or by not in tab.columns):
        raise DJSUserError(f"The group column `{by}` must be in both the curve and the risk table.")
    rows = [
        (c, lab) if c in tab else (c.replace("cum_", ""), lab if c == "n_at_risk" else f"{lab} (interval)")
        for c, lab in _ROWS
    ]
    rows = [(c, lab) for c, lab in rows if c in tab]
    # Groups are matched by their label, so NaN, None and "nan" all select the one "Missing" group.
    cur_lab, tab_lab = (group_labels(cur[by]), group_labels(tab[by])) if by else (None, None)
    levels = group_levels(cur[by], tab[by]) if by else [None]
    labels = [f"{lv}: {lab}" if by else lab for lv in levels for _, lab in rows]
    n_rows = len(labels)
    with style():
        fig = new_figure(10.0, 6.0 + 0.3 * n_rows)
        # Left margin: matplotlib's default 1.25 in, or wider so the longest table row label is not cut off.
        left = max(1.25, max(text_size(fig, lab, 10)[0] for lab in labels) + 0.2) / 10.0
        gs = fig.add_gridspec(2, 1, height_ratios=[6.0, 0.3 * n_rows + 0.4], hspace=0.25, left=left)
        ax, axt = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
        hidden_any = bool(tmask[[c for c, _ in rows]].to_numpy().any())  # a missing group value is not withheld
        for i, lv in enumerate(levels):
            g = cur if cur_lab is None else cur[(cur_lab == lv).to_numpy()]
            t = g["time"].to_numpy(float)
            col, ls = PALETTE[i % 6], LINESTYLES[i % 6]
            est = g["estimate"].to_numpy(float, na_value=np.nan)
            ax.step(t, est, where="post", color=col, linestyle=ls, label=lv)
            # a marker at the start of each curve identifies it without colour
            ax.plot(t[:1], est[:1], marker=MARKERS[i % 6], color=col, linestyle="none")
            ax.fill_between(
                t,
                g["ci_lower"].to_numpy(float, na_value=np.nan),
                g["ci_upper"].to_numpy(float, na_value=np.nan),
                step="post",
                color=col,
                alpha=0.15,
                linewidth=0,
            )
        times = sorted(tab["time"].unique())
        right = max(float(cur["time"].max()), float(times[-1]))
        ax.set_xlim(min(0.0, float(cur["time"].min())) - 0.04 * right, right * 1.02)  # room for the table's 1st column
        ax.set_ylim(0, 1)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        if by:
            ax.legend(title=by, loc="best")
        # The table shares the curve's x axis, one line per group and measure.
        axt.set_xlim(ax.get_xlim())
        axt.set_ylim(-0.5, n_rows - 0.5)
        y = n_rows - 1
        for i, lv in enumerate(levels):
            g = tab if tab_lab is None else tab[(tab_lab == lv).to_numpy()]
            for c, _label in rows:
                for tt, v, hid in zip(
                    g["time"], g[c].to_numpy(float, na_value=np.nan), tmask.loc[g.index, c], strict=True
                ):
                    axt.text(
                        float(tt),
                        y,
                        SUPPRESSED if hid else f"{int(v):,}",
                        ha="center",
                        va="center",
                        fontsize=10,
                        color=PALETTE[i % 6],
                        fontstyle="italic" if hid else "normal",
                    )
                y -= 1
        axt.set_yticks(range(n_rows - 1, -1, -1), labels, fontsize=10)
        axt.set_xticks(times)
        axt.tick_params(axis="x", labelbottom=False, length=0)
        axt.tick_params(axis="y", length=0)
        axt.grid(False)
        for sp in ("left", "bottom"):
            axt.spines[sp].set_visible(False)
        if hidden_any:
            fig.text(0.01, 0.01, SUPPRESSED_NOTE, fontsize=10)
        if title:
            ax.set_title(title)
    return fig
