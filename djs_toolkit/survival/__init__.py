"""Re-entry survival analysis: curves (km, cif, mcf) and regressions (cox, finegray, recurrent).

One risk-set convention everywhere: a subject with entry e and exit t is at risk at time s iff
e < s <= t (reference survival_and_overlap.md §3). Results are tidy pandas frames or `CoxResult`.
"""

from __future__ import annotations

from djs_toolkit.survival.cif import cif
from djs_toolkit.survival.cohort import reentry_cohort
from djs_toolkit.survival.cox import CoxResult, cox
from djs_toolkit.survival.finegray import finegray
from djs_toolkit.survival.km import km, kmunicate_table
from djs_toolkit.survival.mcf import mcf
from djs_toolkit.survival.measures import proven_reoffending, proven_reoffending_offenders
from djs_toolkit.survival.recurrent import recurrent

__all__ = ["CoxResult", "reentry_cohort", "cif", "cox", "finegray", "km", "kmunicate_table", "mcf", "recurrent", "proven_reoffending", "proven_reoffending_offenders"]
