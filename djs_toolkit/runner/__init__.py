"""Batch runner behind `djs run`: every notebook run of pipeline.yaml in a fresh kernel, one checked bundle.

`pipeline` reads pipeline.yaml and checks parameters, `execute` runs one notebook with papermill,
`differencing` compares outputs across notebook runs, `bundle` assembles ``outputs/<run_id>/``, and
`run` drives them (`run_pipeline`).

Example:
    >>> from djs_toolkit.runner import new_run_id
    >>> len(new_run_id())
    21
"""

from __future__ import annotations

from djs_toolkit.runner.bundle import verify_bundle
from djs_toolkit.runner.pipeline import Pipeline, RunSpec, load_pipeline
from djs_toolkit.runner.run import RunReport, new_run_id, run_pipeline

__all__ = ["Pipeline", "RunReport", "RunSpec", "load_pipeline", "new_run_id", "run_pipeline", "verify_bundle"]
