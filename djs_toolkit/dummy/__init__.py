"""Dummy Data First extract: linked across datasets, calibrated, with defects and ground truth.

`generate` simulates people and their justice careers (population -> family and civil cases ->
criminal careers -> court, prison and probation records -> linkage error -> files) and writes all
17 tables of `djs_toolkit.schema` in the canonical layout, plus ``truth/`` (format: see
`djs_toolkit.dummy.truth`). Parameters live in
`DummyConfig`; scales in `SCALES`.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from djs_toolkit import dummy
    >>> out = dummy.generate(Path(tempfile.mkdtemp()) / "extract", scale="tiny", seed=0)
    >>> (out / "truth" / "reentry_log_hr.csv").exists()
    True
"""

from __future__ import annotations

from djs_toolkit.dummy.config import SCALES, DummyConfig, Scale
from djs_toolkit.dummy.generate import generate

__all__ = ["SCALES", "DummyConfig", "Scale", "generate"]
