"""Survival estimators: curves (km, cif, mcf), multi-state journeys (multistate) and regressions (cox, finegray,
recurrent).

Estimators only: they take plain frames of times and events and know nothing of Data First (the cohorts
they are fed come from `djs_toolkit.analyses`).

One risk-set convention everywhere: a subject with entry e and exit t is at risk at time s iff
e < s <= t (docs/methods.md §3). Results are tidy pandas frames or `CoxResult`.
"""

from __future__ import annotations

from djs_toolkit.survival.cif import cif
from djs_toolkit.survival.cox import CoxResult, cox
from djs_toolkit.survival.finegray import finegray
from djs_toolkit.survival.km import km, kmunicate_table
from djs_toolkit.survival.mcf import mcf
from djs_toolkit.survival.multistate import MultistateFit, multistate
from djs_toolkit.survival.recurrent import recurrent

__all__ = [
    "CoxResult",
    "MultistateFit",
    "cif",
    "cox",
    "finegray",
    "km",
    "kmunicate_table",
    "mcf",
    "multistate",
    "recurrent",
]
