"""Declared outputs: the one path by which a statistic or figure leaves a notebook.

`save_table`, `save_figure` and `save_text` (a finding in words, `outputs.text`) check every output under the
run's profile (`djs_toolkit.sdc`) and stage it for the runner (`stage`: the contract between a notebook and
`djs run`); `scan` is the last safety scan over everything written under ``outputs/``.

Example:
    >>> from djs_toolkit import outputs
    >>> callable(outputs.save_table)
    True
"""

from __future__ import annotations

from djs_toolkit.outputs.save import MAX_UNITS, configure, save_figure, save_table, session
from djs_toolkit.outputs.scan import scan_release
from djs_toolkit.outputs.text import save_text

__all__ = ["MAX_UNITS", "configure", "save_figure", "save_table", "save_text", "scan_release", "session"]
