"""Analyses that know Data First: re-entry cohorts, proven reoffending, overlaps, flows and journeys.

Everything here reads the person-event spine (`djs_toolkit.spine`) and hands tidy pandas frames to the
estimators (`djs_toolkit.survival`) and the output checker (`djs_toolkit.sdc`).

Example:
    >>> from djs_toolkit.analyses import INDEX_TYPES
    >>> "release" in INDEX_TYPES
    True
"""

from __future__ import annotations

from djs_toolkit.analyses import flows, journeys, linkage, overlap
from djs_toolkit.analyses.cases import INDEX_TYPES
from djs_toolkit.analyses.cohort import OUTCOMES, cohort_table, reentry_cohort
from djs_toolkit.analyses.measures import MEASURE_LABEL, proven_reoffending, proven_reoffending_offenders

__all__ = [
    "INDEX_TYPES",
    "MEASURE_LABEL",
    "OUTCOMES",
    "cohort_table",
    "flows",
    "journeys",
    "linkage",
    "overlap",
    "proven_reoffending",
    "proven_reoffending_offenders",
    "reentry_cohort",
]
