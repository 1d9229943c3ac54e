from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.sdc.report import cell_position, reason_frame
from djs_toolkit.sdc.session import Session

from .conftest import planted_counts


def test_reason_frame_and_positions():
    assert list(reason_frame([]).columns) == ["row", "column", "rule", "status", "summary"]
    assert cell_position(np.array([[0, 1], [3, 4]])) == {0: (0, 0), 1: (0, 1), 3: (1, 0), 4: (1, 1)}


def test_built_output_table_mask_reasons_and_evidence_agree():
    df = planted_counts({("a", "x"): 4, ("a", "y"): 40, ("a", "z"): 50, ("b", "x"): 60, ("b", "y"): 70, ("b", "z"): 80})
    o = Session("srs").crosstab(df.r, df.c, margins=True)
    assert o.table.dtypes.eq("Int64").all()
    assert o.table.isna().to_numpy().tolist() == o.mask.to_numpy().tolist()
    assert o.reasons[["row", "column", "rule"]].values.tolist() == [["a", "x", "MinimumThresholdCheck"]]
    ev = o.evidence
    assert ev.loc[0, "value_unprotected"] == 4 and np.isnan(ev.loc[0, "value_published"])
    assert ev["withheld"].sum() == 4 and ev["primary"].sum() == 1
    assert ev.loc[0, "rules"] == "MinimumThresholdCheck" and ev.loc[0, "audit_required"] == 10.0
    assert o.properties["suppressed_cells"] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert isinstance(o.table, pd.DataFrame)
