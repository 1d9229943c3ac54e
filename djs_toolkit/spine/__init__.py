"""The person-event spine: who did what, when, across every Data First dataset.

`build_spine` joins each dataset's person-records to ``xjs_link`` once per extract (inside DuckDB);
every analysis reads the spine instead of hand-joining tables. `build` holds the rules and the public
functions, `windows` each dataset's coverage window, `sql` the per-dataset event SQL and the shared SQL
helpers, `cache` the saved spine a pipeline run shares across notebooks, `select` the event selectors every
analysis names its events with (``select("mags_conviction", disposal="Fine")``).

Example:
    >>> from djs_toolkit import spine
    >>> [e for d, e, _ in spine.EVENT_TYPES if d == "prison_nomis"]
    ['custody_start', 'release', 'recall']
"""

from __future__ import annotations

from djs_toolkit.spine.build import build_spine, diagnostics, event_counts, last_observable, person_events, save_spine
from djs_toolkit.spine.cache import load_spine
from djs_toolkit.spine.select import SELECTOR_COLUMNS, Selector, as_selector, parse_selector, select, selector_columns
from djs_toolkit.spine.sql import EVENT_TYPES
from djs_toolkit.spine.windows import check_datasets, common_window, coverage, observed_until

__all__ = [
    "EVENT_TYPES",
    "SELECTOR_COLUMNS",
    "Selector",
    "as_selector",
    "build_spine",
    "check_datasets",
    "common_window",
    "coverage",
    "diagnostics",
    "event_counts",
    "last_observable",
    "load_spine",
    "observed_until",
    "parse_selector",
    "person_events",
    "save_spine",
    "select",
    "selector_columns",
]
