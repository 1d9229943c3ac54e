"""Session behaviour, including a replay of each ACRO 1.0.2 defect (docs/disclosure.md §2.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session, load_profile

from .conftest import planted_counts
from .test_suppress import independent_attack


# --- ACRO defect replays -------------------------------------------------------------------------------------
def test_defect1_margins_are_true_totals_and_a_later_table_recovers_nothing(court_df):
    s = Session("srs")
    t = s.crosstab(court_df.court, court_df.outcome, margins=True, name="t")
    truth = pd.crosstab(court_df.court, court_df.outcome, margins=True)
    assert truth["fine"].tolist() == [2, 1, 1, 4]  # the reference's planted small cells
    # ACRO published 156/162/178 (surviving records); we publish the true totals
    assert t.table["All"].tolist() == [158, 163, 179, 500]
    assert t.mask["fine"].all() and t.status == "review"
    u = s.crosstab(court_df.court, court_df.outcome.map(lambda _: "all"), name="u")
    assert u.status == "pass"
    # ACRO's attack: later one-way table minus the first table's margins -> the suppressed cells. Here it is 0.
    assert (u.table["all"].to_numpy() - t.table["All"].to_numpy()[:3]).tolist() == [0, 0, 0]
    # Independent attacker on everything published by both outputs: no suppressed cell narrower than 10.
    ev = t.evidence
    x = ev["n"].to_numpy(float)
    att = independent_attack((4, 4), x, ev["withheld"].to_numpy())
    assert min(hi - lo for lo, hi in att.values()) >= 10
    assert (t.audit["width"] >= 10).all()


def test_defect2_means_are_never_rounded_to_a_count_base():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": list("ab") * 50, "v": rng.normal(3, 1, 100)})
    for prof in ("opensafely", load_profile("acro", mitigation="round")):
        out = Session(prof).pivot_table(df, index="g", values="v", aggfunc="mean")
        assert np.allclose(out.table["v"].to_numpy(), df.groupby("g")["v"].mean().to_numpy(), rtol=0, atol=1e-12)
        assert out.table["v"].iloc[0] != 5.0
    # proportions are recomputed from rounded counts, not rounded to 0.0
    g = pd.Series(["a"] * 40 + ["b"] * 40, name="g")
    c = pd.Series(["x"] * 30 + ["y"] * 10 + ["x"] * 20 + ["y"] * 20, name="c")
    p = Session("opensafely").crosstab(g, c, normalize="index")
    # midpoint-6: 30 -> 27, 10 -> 9; row a = 27/36, 9/36 (ACRO's rounding gave 0.0)
    assert p.table.loc["a"].tolist() == [0.75, 0.25] and p.status == "review"
    assert any("midpoint-6" in c for c in p.controls)
    assert list(p.table.columns) == ["x_midpoint6_derived", "y_midpoint6_derived"]
    counts = Session("opensafely").crosstab(g, c, margins=True)
    assert list(counts.table.columns) == ["x_rounded5", "y_rounded5", "All_rounded5"]
    assert counts.table.loc["a"].tolist() == [30, 10, 40] and counts.table.loc["b"].tolist() == [20, 20, 40]


@pytest.mark.slow
def test_defect3_survival_models_do_not_always_fail():
    rng = np.random.default_rng(0)
    n = 100_000
    x = rng.normal(size=(n, 2))
    res = PHReg(rng.integers(1, 3650, n).astype(float), x, status=rng.integers(0, 2, n)).fit()
    out = Session("srs").regression(res, name="cox")
    assert out.status == "pass" and out.dof == float(res.model.status.sum() - 2)

    class CoxLike:  # the toolkit's Cox result, by duck type
        params = pd.DataFrame(
            {"coef": [0.2], "se": [0.1], "hr": [1.22], "ci_lower": [1.0], "ci_upper": [1.5], "p": [0.04]},
            index=["male"],
        )
        n, events = 5000, 1200

    cox = Session("srs").regression(CoxLike())
    assert cox.dof == 1199.0 and cox.status == "review"  # hazard ratios: manual auxiliary-information check
    assert set(cox.reasons["rule"]) == {"CalculatedRatioCheck"}


@pytest.mark.parametrize("func", ["var", "nunique", "sem", lambda s: s.quantile(0.3), "mode"])
def test_defect4_unsupported_statistics_never_crash(court_df, func):
    df = court_df.assign(v=np.arange(500.0))
    out = Session("srs").pivot_table(df, index="court", values="v", aggfunc=func)
    if func == "var":
        assert out.status == "pass"
        assert np.allclose(out.table["v"].to_numpy(), df.groupby("court")["v"].var().to_numpy())
    else:  # fail closed (issue 16): never published unchanged as `review`
        assert out.status == "fail" and "UnknownStatisticCheck" in set(out.reasons["rule"])


def test_defect5_min_max_fail_with_an_alternative(court_df):
    df = court_df.assign(v=np.arange(500.0))
    out = Session("srs").pivot_table(df, index="court", values="v", aggfunc="max")
    assert out.status == "fail" and out.table["v"].isna().all()
    assert out.reasons["summary"].str.contains("percentile").all()
    acro = Session("acro").pivot_table(df, index="court", values="v", aggfunc="max")
    assert acro.status == "pass"  # what ACRO does, for comparison


# --- other behaviour ---------------------------------------------------------------------------------------
def test_weighted_counts_use_unweighted_thresholds():
    df = planted_counts({("a", "x"): 12, ("a", "y"): 3, ("b", "x"): 20, ("b", "y"): 25})
    w = np.full(len(df), 100.0)
    out = Session("srs").crosstab(df.r, df.c, weights=w)
    truth = pd.crosstab(df.r, df.c)
    shown = out.table.to_numpy(dtype=float)
    open_ = ~out.mask.to_numpy()
    assert np.array_equal(shown[open_], 100.0 * truth.to_numpy()[open_])
    assert out.mask.loc["a", "y"] and np.isnan(shown[0, 1])
    assert out.evidence.loc[1, "n"] == 3 and out.evidence.loc[1, "n_weighted"] == 300.0


def test_population_filter_structural_zeros_and_three_way_tables():
    df = planted_counts({("a", "x"): 30, ("a", "y"): 40, ("b", "x"): 50})
    df["k"] = ["p", "q"] * (len(df) // 2)
    keep = np.ones(len(df), bool)
    keep[:2] = False
    s = Session("srs")
    out = s.crosstab(df.r, df.c, population=keep, structural_zeros=[("b", "y")], name="f")
    assert out.n == len(df) - 2 and out.population.startswith("records selected")
    assert out.status == "pass" and out.table.loc["a", "x"] == 28
    three = s.crosstab([df.r, df.c], df.k, margins=True, name="three")
    assert three.table.shape == (5, 3)  # (a,x) (a,y) (b,x) (b,y) All  x  p q All
    assert three.table.loc[("All", ""), "All"] == len(df)


def test_names_exceptions_and_comments(court_df, tmp_path):
    s = Session("srs")
    o = s.crosstab(court_df.court, court_df.outcome, name="t1")
    before = o.status
    s.add_exception("t1", "structural_zero", "fines are rare")
    s.add_comment("t1", "see paper table 2")
    assert o.status == before and o.exceptions[0]["reason_code"] == "structural_zero"
    with pytest.raises(DJSUserError, match="already exists"):
        s.crosstab(court_df.court, court_df.outcome, name="t1")
    with pytest.raises(DJSUserError, match="file name"):
        s.crosstab(court_df.court, court_df.outcome, name="a:b")
    with pytest.raises(DJSUserError, match="reason_code"):
        s.add_exception("t1", "because", "x")
    with pytest.raises(DJSUserError, match="No output"):
        s.add_comment("zzz", "x")
    blocked = tmp_path / "fig.svg"
    blocked.write_text("<svg/>", encoding="utf-8")
    assert s.custom(blocked, "a figure").status == "fail"
    assert s.ledger is not None and s.ledger_mode == "project"  # the project's persistent ledger by default
    assert Session("srs", ledger=tmp_path / "l.db").ledger == tmp_path / "l.db"
    assert Session("srs", ledger=False).ledger is None


def test_regression_indicator_and_saturated_checks():
    rng = np.random.default_rng(2)
    n = 400
    rare = np.zeros(n)
    rare[:4] = 1.0
    X = sm.add_constant(np.column_stack([rng.normal(size=n), rare]))
    res = sm.OLS(rng.normal(size=n), X).fit()
    out = Session("srs").regression(res)
    assert out.status == "fail" and out.reasons["rule"].tolist() == ["IndicatorCountCheck"]
    assert out.reasons["row"].tolist() == ["x2"]
    g1 = np.repeat([0.0, 1.0], n // 2)
    g2 = np.tile([0.0, 1.0], n // 2)
    sat = sm.OLS(rng.normal(size=n), np.column_stack([np.ones(n), g1, g2, g1 * g2])).fit()
    o2 = Session("srs").regression(sat)
    assert o2.status == "review" and "SaturatedModelCheck" in set(o2.reasons["rule"])
    small = sm.OLS(rng.normal(size=14), sm.add_constant(rng.normal(size=(14, 4)))).fit()
    assert Session("srs").regression(small).status == "fail"  # ACRO's own example: dof = 9 < 10
    assert Session("srs").regression(object()).status == "fail"  # unknown model: fail closed (issue 16)


def test_repr_never_shows_evidence_of_withheld_cells():
    df = planted_counts({("a", "x"): 30, ("a", "y"): 30, ("b", "x"): 30, ("b", "y"): 30}, value=1.0)
    df.loc[0, "v"] = 98765.4321
    out = Session("srs").crosstab(df.r, df.c, values=df.v, aggfunc="sum")
    assert out.mask.loc["a", "x"]
    text = repr(out) + str(out) + out.reasons.to_string()
    assert "98765" not in text and "98,765" not in text
    assert out.evidence["top1"].max() == pytest.approx(98765.4321)  # the checker still has it


def test_bad_inputs_are_user_errors(court_df):
    s = Session("srs")
    with pytest.raises(DJSUserError, match="aggfunc"):
        s.crosstab(court_df.court, court_df.outcome, values=np.ones(500))
    with pytest.raises(DJSUserError, match="not in data"):
        s.pivot_table(court_df, values="nope", index="court")
    with pytest.raises(DJSUserError, match="normalize"):
        s.crosstab(court_df.court, court_df.outcome, normalize="rows")
    with pytest.raises(DJSUserError, match="weights"):
        s.pivot_table(court_df.assign(v=1.0, w=1.0), values="v", index="court", aggfunc="median", weights="w")


def test_degenerate_inputs_are_user_errors():
    s = Session("srs")
    empty = pd.Series([], dtype=object, name="a")
    with pytest.raises(DJSUserError, match="no records"):
        s.crosstab(empty, empty.rename("b"))
    with pytest.raises(DJSUserError, match="no categories"):
        s.crosstab(pd.Series([None] * 20, dtype=object, name="a"), pd.Series(["x"] * 20, name="b"))
    a = pd.Series(["p"] * 20, name="a")
    with pytest.raises(DJSUserError, match="share one index"):
        s.crosstab(a, pd.Series(["x"] * 20, index=range(100, 120), name="b"))


def test_audit_failure_fails_closed(court_df):
    # midpoint-6 proportions with margins: the attacker combines rounded row/column totals with the rounded cells
    # and pins court C's fine cell to [0, 4], narrower than the threshold 7 -> the output fails
    out = Session("opensafely").crosstab(court_df.court, court_df.outcome, margins=True, normalize="index")
    assert out.status == "fail"
    assert not out.audit["ok"].all() and out.audit["width"].min() < 7
    assert any("FAILED" in c for c in out.controls)


def test_broken_unknown_statistic_fails_with_nothing_shown(court_df):
    def broken(_):
        raise ValueError("boom")

    out = Session("srs").pivot_table(court_df.assign(v=1.0), index="court", values="v", aggfunc=broken)
    assert out.status == "fail" and out.table["v"].isna().all()
