"""Fitted lifelines models checked as the toolkit's own (sdc.lifelines_models): the same records through
`Session.km` / `cif` / `regression` and through lifelines' KaplanMeierFitter, AalenJohansenFitter and CoxPHFitter give
the same checked table, reasons and status (a small group withheld either way), the same ledger verdicts, the same
records staged by `outputs.save_table`, and the same figure; what cannot be checked is refused with the fix."""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from lifelines import (
    AalenJohansenFitter,
    CoxPHFitter,
    KaplanMeierFitter,
    NelsonAalenFitter,
    WeibullAFTFitter,
)

from djs_toolkit import outputs
from djs_toolkit.errors import DJSUserError
from djs_toolkit.plotting import km_plot
from djs_toolkit.sdc import Session
from djs_toolkit.survival import cox

TIMES = [0, 90, 180, 365, 730]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """600 people, whole days with ties, a group X of 8 people (below the threshold of 10), causes 1 and 2."""
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(
        {
            "days": rng.integers(1, 800, n).astype(float),
            "back": rng.integers(0, 2, n),
            "sex": rng.choice(["F", "M"], n),
            "age": rng.integers(18, 60, n),
        }
    )
    df.loc[:7, "sex"] = "X"
    df["why"] = np.where(df["back"] == 1, rng.integers(1, 3, n), 0)
    return df


def _session() -> Session:
    return Session("srs", ledger=False)


def _same(a, b) -> None:
    """The same checked output: table, withheld cells, reasons, status, evidence and released counts."""
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.reasons, b.reasons)
    assert (a.status, a.n, a.statistic, a.method) == (b.status, b.n, b.statistic, b.method)
    assert a.controls == b.controls
    pd.testing.assert_frame_equal(a.evidence, b.evidence)
    for key in ("withheld_share", "threshold", "delayed_entry", "cause"):
        assert a.properties.get(key) == b.properties.get(key), key


def _aj(durations, events, cause=1, **kw) -> AalenJohansenFitter:
    with warnings.catch_warnings():  # lifelines warns that it jitters tied event times
        warnings.simplefilter("ignore")
        return AalenJohansenFitter(seed=0).fit(durations, events, event_of_interest=cause, **kw)


# ---------------------------------------------------------------------------------------- Kaplan-Meier


def test_km_by_group_same_as_the_toolkit_small_group_withheld(cohort):
    own = _session().km("days", "back", by="sex", data=cohort, times=TIMES)
    fitters = [KaplanMeierFitter(label=s).fit(g["days"], g["back"]) for s, g in cohort.groupby("sex")]
    theirs = _session().km(fitters, by="sex", times=TIMES)
    _same(own, theirs)
    unlabelled = {s: KaplanMeierFitter().fit(g["days"], g["back"]) for s, g in cohort.groupby("sex")}
    as_dict = _session().km(unlabelled, by="sex", times=TIMES)  # labelled by the keys
    _same(own, as_dict)
    # X (8 people) is withheld, and M with it as its complement: the total less F would give X
    assert theirs.status == "review" and theirs.table.index.get_level_values("sex").unique().tolist() == ["F"]
    rules = theirs.reasons.set_index("row")["rule"].to_dict()
    assert rules["X"] == "MinimumThresholdCheck" and rules["M"] == "SecondarySuppression"
    f = theirs.table.loc["F"]
    assert f.loc[0.0, "n_at_risk"] == int((cohort["sex"] == "F").sum()) == 307
    assert f["events"].tolist() == [0, 11, 18, 27, 62]
    assert theirs.properties["withheld_share"] == own.properties["withheld_share"] > 0


def test_one_fitter_with_its_data_and_groups_same_as_the_toolkit(cohort):
    kmf = KaplanMeierFitter().fit(cohort["days"], cohort["back"])
    _same(_session().km("days", "back", data=cohort, times=TIMES), _session().km(kmf, data=cohort, times=TIMES))
    own = _session().km("days", "back", by="sex", data=cohort, times=TIMES)
    _same(own, _session().km(kmf, by="sex", data=cohort, times=TIMES))
    _same(own, _session().km(kmf, by=cohort["sex"], times=TIMES))
    # the default round-number grid too
    _same(_session().km(cohort["days"].to_numpy(), cohort["back"].to_numpy()), _session().km(kmf))


def test_delayed_entry_same_as_the_toolkit(cohort):
    entry = np.where(np.arange(len(cohort)) % 4 == 0, np.minimum(30.0, cohort["days"] - 1), 0.0)
    d = cohort.assign(entry=entry)
    own = _session().km("days", "back", entry="entry", data=d, times=TIMES)
    theirs = _session().km(KaplanMeierFitter().fit(d["days"], d["back"], entry=d["entry"]), times=TIMES)
    _same(own, theirs)
    assert theirs.properties["delayed_entry"] is True


def test_ledger_treats_both_alike(cohort):
    # all people, then all but one: the second gives one person's exit by subtraction, whichever fitted it
    rest = cohort.iloc[1:]
    s = Session("srs", ledger=False)
    s.km("days", "back", data=cohort, times=TIMES)
    own = s.km("days", "back", data=rest, times=TIMES)
    t = Session("srs", ledger=False)
    t.km(KaplanMeierFitter().fit(cohort["days"], cohort["back"]), data=cohort, times=TIMES)
    theirs = t.km(KaplanMeierFitter().fit(rest["days"], rest["back"]), data=rest, times=TIMES)
    assert own.status == theirs.status == "fail"
    assert "DifferencingCheck" in set(theirs.reasons["rule"])
    pd.testing.assert_frame_equal(own.reasons, theirs.reasons)


# ---------------------------------------------------------------------------------------- Aalen-Johansen


@pytest.mark.parametrize("cause", [1, 2])
def test_cif_by_group_same_as_the_toolkit_ties_undone(cohort, cause):
    own = _session().cif("days", "why", cause=cause, by="sex", data=cohort, times=TIMES)
    fitters = {s: _aj(g["days"], g["why"], cause) for s, g in cohort.groupby("sex")}
    # lifelines moved every tied event time by up to 1e-4: whole days restored, so events count where they happened
    assert not np.all(fitters["F"].durations == np.round(fitters["F"].durations))
    theirs = _session().cif(fitters, by="sex", times=TIMES)
    _same(own, theirs)
    assert theirs.properties["cause"] == cause and theirs.status == "review"
    assert theirs.table.index.get_level_values("sex").unique().tolist() == ["F"]
    assert set(theirs.reasons["rule"]) == {"SurvivalTableCheck", "MinimumThresholdCheck", "SecondarySuppression"}
    f = cohort[cohort["sex"] == "F"]
    shown = theirs.table.loc["F"]
    assert int(shown["events"].sum()) <= int((f["why"] == cause).sum())
    first = shown.index[1]  # the first released step: its events are those up to its time, ties included
    assert shown.loc[first, "events"] == int(((f["why"] == cause) & (f["days"] <= first)).sum()) >= 10


def test_cif_with_delayed_entry_same_as_the_toolkit(cohort):
    entry = np.where(np.arange(len(cohort)) % 5 == 0, np.minimum(20.0, cohort["days"] - 1), 0.0)
    d = cohort.assign(entry=entry)
    own = _session().cif("days", "why", entry="entry", data=d, times=TIMES)
    theirs = _session().cif(_aj(d["days"], d["why"], entry=d["entry"]), times=TIMES)
    _same(own, theirs)


# ---------------------------------------------------------------------------------------- Cox


def test_cox_same_checks_and_status_as_the_toolkit(cohort):
    own = _session().regression(cox(cohort, "days", "back", ["sex", "age"]), data=cohort, event="back")
    cph = CoxPHFitter().fit(cohort[["days", "back", "sex", "age"]], "days", "back", formula="sex + age")
    theirs = _session().regression(cph, data=cohort)
    with_event = _session().regression(cph, data=cohort, event="back")  # as the toolkit's is called: accepted
    pd.testing.assert_frame_equal(theirs.reasons, with_event.reasons)
    assert own.status == theirs.status == "fail"  # X has 8 people: fewer than 10 ones and events
    pd.testing.assert_frame_equal(own.reasons, theirs.reasons)
    assert theirs.reasons["row"].tolist() == ["sex[T.X]", "sex[T.X]"]
    assert theirs.reasons["rule"].tolist() == ["IndicatorCountCheck", "EventsPerLevelCheck"]
    pd.testing.assert_frame_equal(own.table, theirs.table, rtol=1e-3)  # Efron ties both; convergence differs
    assert (theirs.n, theirs.dof) == (own.n, own.dof) == (600, int(cohort["back"].sum()) - 3)


def test_cox_without_the_small_group_passes_and_without_data_is_review(cohort):
    d = cohort[cohort["sex"] != "X"].assign(male=lambda x: (x["sex"] == "M").astype(int))
    own = _session().regression(cox(d, "days", "back", ["male", "age"]), data=d, event="back")
    cph = CoxPHFitter().fit(d[["days", "back", "male", "age"]], "days", "back")
    theirs = _session().regression(cph, data=d)
    assert own.status == theirs.status == "pass" and theirs.reasons.empty
    bare_own = _session().regression(cox(d, "days", "back", ["male", "age"]))
    bare = _session().regression(cph)
    assert bare.status == bare_own.status == "review"
    pd.testing.assert_frame_equal(bare.reasons, bare_own.reasons)
    assert bare.reasons["rule"].tolist() == ["CalculatedRatioCheck"]


@pytest.mark.parametrize("how", ["strata", "entry"])
def test_cox_with_strata_or_delayed_entry_on_shuffled_rows_same_as_the_toolkit(cohort, how):
    d = cohort.assign(region=np.arange(len(cohort)) % 3, start=np.where(np.arange(len(cohort)) % 3 == 0, 0.5, 0.0))
    d = d.sample(frac=1.0, random_state=2)  # lifelines sorts by duration; the design is rebuilt in data's order
    kw = {"strata": "region"} if how == "strata" else {"entry": "start"}
    own = _session().regression(cox(d, "days", "back", ["sex", "age"], **kw), data=d, event="back")
    lkw = {"strata": ["region"]} if how == "strata" else {"entry_col": "start"}
    cph = CoxPHFitter().fit(
        d[["days", "back", "sex", "age", "region", "start"]], "days", "back", formula="sex + age", **lkw
    )
    theirs = _session().regression(cph, data=d)
    assert own.status == theirs.status == "fail"
    pd.testing.assert_frame_equal(own.reasons, theirs.reasons)
    pd.testing.assert_frame_equal(own.table, theirs.table, rtol=1e-3)


# ---------------------------------------------------------------------------------------- save_table, km_plot


def test_save_table_takes_fitted_curves_and_models_through_the_same_path(cohort, stage, capsys):
    fitters = [KaplanMeierFitter(label=s).fit(g["days"], g["back"]) for s, g in cohort.groupby("sex")]
    own = outputs.session().km("days", "back", by="sex", data=cohort)
    a = outputs.save_table(own, "km_own", "time to return", "everyone")
    b = outputs.save_table(fitters, "km_lifelines", "time to return", "everyone")
    assert a.status == b.status == "review" and b.method == "km"
    csv = [(stage / n / "release" / f"t1.{n}.csv").read_bytes() for n in ("km_own", "km_lifelines")]
    # the same release; the groups' column is called `group` (one fitter per group names no column)
    assert csv[0] == csv[1].replace(b"group,", b"sex,", 1) and b"\nX," not in csv[1] and b"\nF," in csv[1]
    entry = json.loads((stage / "km_lifelines" / "results.json").read_text(encoding="utf-8"))
    assert entry["results"]["t1.km_lifelines"]["status"] == "review"
    c = outputs.save_table(_aj(cohort["days"], cohort["why"]), "cif_lifelines", "time to return", "everyone")
    assert c.method == "cif" and c.status == "review"
    cph = CoxPHFitter().fit(cohort[["days", "back", "sex", "age"]], "days", "back", formula="sex + age")
    m = outputs.save_table(cph, "cox_lifelines", "hazard ratios", "everyone", data=cohort)
    assert m.status == "fail" and "EventsPerLevelCheck" in set(m.reasons["rule"])
    assert "saved t1.cox_lifelines: fail" in capsys.readouterr().out


def test_km_plot_draws_the_checked_result_and_refuses_the_fitter(cohort):
    fitters = [KaplanMeierFitter(label=s).fit(g["days"], g["back"]) for s, g in cohort.groupby("sex")]
    own = km_plot(_session().km("days", "back", by="sex", data=cohort, times=TIMES), times=TIMES)
    theirs = km_plot(_session().km(fitters, by="sex", times=TIMES), times=TIMES)
    texts = [[t.get_text() for t in fig.axes[1].texts] for fig in (own, theirs)]
    assert texts[0] == texts[1] and "307" in texts[1]
    assert [line.get_xdata().tolist() for line in own.axes[0].lines] == [
        line.get_xdata().tolist() for line in theirs.axes[0].lines
    ]
    with pytest.raises(DJSUserError, match="fitted lifelines model, not a checked table"):
        km_plot(fitters[0])


# ---------------------------------------------------------------------------------------- refusals


def test_what_cannot_be_checked_is_refused_with_the_fix(cohort):
    s = _session()
    d, e = cohort["days"], cohort["back"]
    cases = [
        (lambda: s.km(KaplanMeierFitter()), "has not been fitted"),
        (lambda: s.km(KaplanMeierFitter().fit(d, e, weights=np.full(len(d), 2.0))), "fitted with weights"),
        (lambda: s.km(KaplanMeierFitter().fit_left_censoring(d, e)), "left censoring"),
        (lambda: s.km(NelsonAalenFitter().fit(d, e)), "not a NelsonAalenFitter"),
        (lambda: s.km(_aj(d, cohort["why"])), "goes to Session.cif"),
        (lambda: s.cif(KaplanMeierFitter().fit(d, e)), "goes to Session.km"),
        (lambda: s.km(KaplanMeierFitter().fit(d, e), e), "drop events= and entry="),
        (lambda: s.km(KaplanMeierFitter().fit(d, e), data=cohort.iloc[:5]), "fitted on 600"),
        (lambda: s.km([KaplanMeierFitter().fit(d, e)] * 2), "labels"),
        (lambda: s.km([KaplanMeierFitter(label="a").fit(d, e)], by=cohort["sex"]), "group column's name"),
        (lambda: s.km(d), "events is missing"),
        # lifelines may reorder an AalenJohansenFitter's records: nothing per record can be matched to them
        (lambda: s.cif(_aj(d, cohort["why"]), by=cohort["sex"]), r"no per-record order \(by="),
        (lambda: s.cif([_aj(d, cohort["why"])], population=np.ones(len(d), bool)), r"\(population="),
        (lambda: s.regression(WeibullAFTFitter().fit(cohort[["days", "back", "age"]], "days", "back")), "Weibull"),
        (
            lambda: s.regression(
                CoxPHFitter(baseline_estimation_method="spline", n_baseline_knots=3).fit(
                    cohort[["days", "back", "age"]], "days", "back"
                )
            ),
            "semi-parametric",
        ),
        (
            lambda: s.regression(CoxPHFitter().fit(cohort[["days", "back", "age"]], "days", "back"), data=cohort[:9]),
            "600 rows",
        ),
        (
            lambda: s.regression(
                CoxPHFitter().fit(cohort[["days", "back", "age"]], "days", "back"),
                data=cohort.assign(days=cohort["days"] + 1),
            ),
            "durations differ",
        ),
        (lambda: s.regression(KaplanMeierFitter().fit(d, e)), "curves go to Session.km"),
        (
            lambda: s.regression(
                CoxPHFitter().fit(cohort[["days", "back", "age"]], "days", "back"), data=cohort, event="why"
            ),
            "its event column 'back'",
        ),
    ]
    for call, message in cases:
        with pytest.raises(DJSUserError, match=message):
            call()
    assert s.outputs == {}  # nothing refused was recorded
