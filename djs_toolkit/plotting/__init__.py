"""Figures drawn only from protected tables, in the Government Analysis Function style.

`km_plot`, `upset_plot`, `venn_plot`, `flows_plot`, `heatmap_plot`, `trend_plot`, `occupation_plot` and
`sequence_plot` take a DataFrame or a checked
output (``.table`` and ``.mask``) and mark withheld cells "c" (never 0); groups come in natural order (1, 2, 10)
with distinct colour, line style and marker for up to ten, datasets by their names, legends list only what is
drawn, and a group with no recorded value is labelled `MISSING_LABEL` ("Missing") and drawn last. `save_png` writes
deterministic bytes. The packaged style file ``djs.mplstyle`` is applied inside each function, so global matplotlib
state is untouched.

Example:
    >>> from djs_toolkit import plotting
    >>> plotting.STYLE.name
    'djs.mplstyle'
"""

from __future__ import annotations

from djs_toolkit.plotting._base import MISSING_LABEL, PALETTE, STYLE, SUPPRESSED, new_figure, save_png, style
from djs_toolkit.plotting.flows import flows_plot
from djs_toolkit.plotting.heatmap import heatmap_plot
from djs_toolkit.plotting.km import km_grid, km_plot, kmunicate_rows
from djs_toolkit.plotting.occupation import occupation_plot
from djs_toolkit.plotting.sequence import sequence_plot
from djs_toolkit.plotting.trend import trend_plot
from djs_toolkit.plotting.upset import upset_plot
from djs_toolkit.plotting.venn import venn_plot

__all__ = [
    "MISSING_LABEL",
    "PALETTE",
    "STYLE",
    "SUPPRESSED",
    "flows_plot",
    "heatmap_plot",
    "km_grid",
    "km_plot",
    "kmunicate_rows",
    "new_figure",
    "occupation_plot",
    "save_png",
    "sequence_plot",
    "style",
    "trend_plot",
    "upset_plot",
    "venn_plot",
]
