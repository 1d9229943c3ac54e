"""djs_toolkit: analysis toolkit for the MoJ Data First linked datasets.

The public API is this package's names and its thematic modules, loaded on first use so that
``import djs_toolkit`` stays fast:

- `open_extract`, `Extract`, `ValidationReport`: read and validate an extract (`djs_toolkit.data`);
- `schema`: the declared tables; `dummy`: the dummy extract with its truth;
- `spine`: the person-event spine; `analyses` (with `overlap`, `flows`, `journeys`, `compare` as shortcuts):
  cohorts, proven reoffending, overlaps, flows, journeys and comparisons of similar cases (target trials);
- `survival`: the estimators; `sdc`: output checking; `outputs`: `save_table` / `save_figure`;
- `plotting`: the house figures; `runner`: `djs run`;
- `DJSError`, `DJSUserError`: the error hierarchy (`djs_toolkit.errors`).

Where the folders sit and how a Data First column reaches a released cell: docs/architecture.md.

Example:
    >>> import djs_toolkit as djs
    >>> djs.survival.km.__module__
    'djs_toolkit.survival.km'
    >>> djs.overlap.__name__
    'djs_toolkit.analyses.overlap'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from djs_toolkit._version import __version__
from djs_toolkit.errors import DJSError, DJSUserError

if TYPE_CHECKING:
    from djs_toolkit import analyses, data, dummy, outputs, plotting, runner, schema, sdc, spine, survival
    from djs_toolkit.analyses import compare, flows, journeys, overlap
    from djs_toolkit.data import Extract, ValidationReport, open_extract

__all__ = [
    "DJSError",
    "DJSUserError",
    "Extract",
    "ValidationReport",
    "__version__",
    "analyses",
    "compare",
    "data",
    "dummy",
    "flows",
    "journeys",
    "open_extract",
    "outputs",
    "overlap",
    "plotting",
    "runner",
    "schema",
    "sdc",
    "spine",
    "survival",
]

_MODULES = {
    "analyses": "djs_toolkit.analyses",
    "data": "djs_toolkit.data",
    "dummy": "djs_toolkit.dummy",
    "outputs": "djs_toolkit.outputs",
    "plotting": "djs_toolkit.plotting",
    "runner": "djs_toolkit.runner",
    "schema": "djs_toolkit.schema",
    "sdc": "djs_toolkit.sdc",
    "spine": "djs_toolkit.spine",
    "survival": "djs_toolkit.survival",
    "compare": "djs_toolkit.analyses.compare",
    "flows": "djs_toolkit.analyses.flows",
    "journeys": "djs_toolkit.analyses.journeys",
    "overlap": "djs_toolkit.analyses.overlap",
}
_DATA_NAMES = ("Extract", "ValidationReport", "open_extract")


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(_MODULES[name])
        globals()[name] = module
        return module
    if name in _DATA_NAMES:
        value = getattr(importlib.import_module("djs_toolkit.data"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'djs_toolkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
