from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from djs_toolkit.sdc.models import check_model
from djs_toolkit.sdc.profiles import load_profile

SRS = load_profile("srs")


def test_logit_passes_with_dof_and_coefficient_table():
    rng = np.random.default_rng(5)
    X = sm.add_constant(rng.normal(size=(200, 2)))
    y = (X @ np.array([0.2, 1.0, -1.0]) + rng.logistic(size=200) > 0).astype(float)
    res = sm.Logit(y, X).fit(disp=0)
    mc = check_model(res, SRS)
    assert mc.kind == "statsmodels" and mc.dof == 197.0 and mc.n == 200 and mc.flags == []
    assert list(mc.table.columns) == ["coef", "se", "ci_lower", "ci_upper", "p"]
    assert np.allclose(mc.table["coef"].to_numpy(), res.params)  # coefficients are never rounded


def test_indicator_with_few_zeros_fails_and_opensafely_has_no_dof_rule():
    rng = np.random.default_rng(6)
    d = np.ones(50)
    d[:5] = 0.0  # only 5 zeros
    res = sm.OLS(rng.normal(size=50), np.column_stack([np.ones(50), rng.normal(size=50), d])).fit()
    assert [f[1] for f in check_model(res, SRS).flags] == ["IndicatorCountCheck"]
    small = sm.OLS(rng.normal(size=12), sm.add_constant(rng.normal(size=(12, 3)))).fit()
    assert check_model(small, load_profile("opensafely")).flags == []


def test_cox_duck_type_with_design_checks_indicators():
    class Cox:
        params = pd.DataFrame(
            {
                "coef": [0.1],
                "se": [0.2],
                "hr": [1.1],
                "ci_lower": [0.7],
                "ci_upper": [1.6],
                "p": [0.6],
                "robust_se": [0.25],
            },
            index=["female"],
        )
        n, events = 300, 120
        exog = pd.DataFrame({"female": np.r_[np.ones(3), np.zeros(297)]})

    mc = check_model(Cox(), SRS)
    assert mc.kind == "cox" and mc.dof == 119.0 and "robust_se" in mc.table.columns
    assert [(f[0], f[1], f[2]) for f in mc.flags] == [("female", "IndicatorCountCheck", "fail")]
