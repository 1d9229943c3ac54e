"""Figures drawn only from protected tables, in the Government Analysis Function style.

`upset_plot`, `venn_plot`, `flows_plot` and `km_plot` take a DataFrame or a checked output (``.table`` and
``.mask``) and mark withheld cells "c"; a group with no recorded value is labelled `MISSING_LABEL`
("Missing"). `save_png` writes deterministic bytes. The packaged style file ``djs.mplstyle`` is applied
inside each function, so global matplotlib state is untouched.

Example:
    >>> from djs_toolkit import plotting
    >>> plotting.STYLE.name
    'djs.mplstyle'
"""

from __future__ import annotations

from djs_toolkit.plotting._base import MISSING_LABEL, PALETTE, STYLE, SUPPRESSED, new_figure, save_png, style
from djs_toolkit.plotting.flows import flows_plot
from djs_toolkit.plotting.km import km_plot
from djs_toolkit.plotting.upset import upset_plot
from djs_toolkit.plotting.venn import venn_plot

__all__ = [
    "MISSING_LABEL",
    "PALETTE",
    "STYLE",
    "SUPPRESSED",
    "flows_plot",
    "km_plot",
    "new_figure",
    "save_png",
    "style",
    "upset_plot",
    "venn_plot",
]
