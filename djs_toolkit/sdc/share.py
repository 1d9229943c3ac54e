"""How much of a protected table's answer is withheld: the share of its units in withheld cells.

Every protected output carries it as ``properties["withheld_share"]`` (a fraction) with ``withheld_share_of`` saying
of what: ``total`` for a table (the units of its interior cells, which partition them: people, events, records),
``people`` for an overlap table (exclusive cells) and a survival curve (people in withheld groups). CLEARANCE.md and
the line `outputs.save_table` prints show it, so a checker and a researcher see what protection cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from djs_toolkit.sdc.evidence import Grid

__all__ = ["group_share", "share_text", "table_share"]


def table_share(grid: Grid, n_ext: np.ndarray, withheld: np.ndarray) -> float:
    """Share of the table's units (its interior counts) in withheld interior cells; 0 for an empty table.

    Example:
        >>> import pandas as pd
        >>> g = Grid(("a",), (pd.Index(["x", "y", "z"]),), 1)
        >>> table_share(g, np.array([3.0, 40.0, 57.0, 100.0]), np.array([True, True, False, False]))
        0.43
    """
    inner = grid.interior_ids()
    n = np.asarray(n_ext, dtype=np.float64)[inner]
    total = float(n.sum())
    return float(n[np.asarray(withheld, dtype=bool)[inner]].sum() / total) if total > 0 else 0.0


def group_share(groups: np.ndarray, inside: np.ndarray, levels: Sequence[Any], hidden: Sequence[str]) -> float:
    """Share of the records in ``inside`` whose group (code into ``levels``) is one of the ``hidden`` labels.

    Example:
        >>> group_share(np.array([0, 0, 1, 1, 1]), np.ones(5, bool), ["F", "M"], ["F"])
        0.4
    """
    inside = np.asarray(inside, dtype=bool)
    codes = [i for i, lv in enumerate(levels) if str(lv) in set(map(str, hidden))]
    lost = inside & np.isin(groups, codes)
    return float(lost.sum() / inside.sum()) if inside.any() else 0.0


def share_text(properties: dict[str, Any]) -> str | None:
    """The withheld share as a phrase for CLEARANCE.md and the saved line; None when it was not measured.

    Example:
        >>> share_text({"withheld_share": 0.0046, "withheld_share_of": "people"})
        '0.5% of the people in withheld cells'
    """
    share = properties.get("withheld_share")
    if share is None:
        return None
    of = properties.get("withheld_share_of", "total")
    where = "withheld groups" if of == "people in groups" else "withheld cells"
    return f"{float(share):.1%} of the {'people' if of.startswith('people') else 'total'} in {where}"
