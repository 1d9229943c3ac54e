"""Proven reoffending on a hand-built extract: cohorts, follow-up and waiting windows by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from djs_toolkit import open_extract
from djs_toolkit.analyses import proven_reoffending, proven_reoffending_offenders
from tests.helpers import empty_tables, rows_of, write_extract

D = dt.date.fromisoformat


def _case(rid, offence, result, disposal="Fine"):
    return dict(
        row_id_hash=rid,
        offence_date=D(offence),
        first_hearing_date=D(result),
        final_result_date=D(result),
        disposal_type=disposal,
        age_at_offence=25,
    )


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    t = empty_tables()
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            _case("m1", "2014-12-01", "2015-01-10"),  # P1 index 2015Q1
            _case("m2", "2015-06-01", "2015-08-01"),  # P1 reoffence; index 2015Q3
            _case("m3", "2015-12-01", "2016-07-01"),  # P1 reoffence proven by day 538
            _case("m4", "2015-03-01", "2016-09-01"),  # P2 offence proven too late
            _case("m5", "2015-01-01", "2015-03-15", "Conditional discharge"),  # P3 index 2015Q1
            _case("m6", "2015-02-01", "2015-03-20", "Dismissed or acquitted"),  # P3: not a conviction
        ],
    )
    t["prison_journey"] = rows_of(
        "prison_journey",
        [
            dict(
                row_id_hash="p1",
                journey_start_date=D("2014-06-01"),
                release_date=D("2015-02-01"),
                first_recall_date=None,
                custody_status="Sentenced",
                age_at_reception=25,
            )
        ],
    )
    t["xjs_link"] = pd.DataFrame(
        [
            ("mags_hocas", "m1", "P1"),
            ("mags_hocas", "m2", "P1"),
            ("mags_hocas", "m3", "P1"),
            ("mags_hocas", "m4", "P2"),
            ("prison_nomis", "p1", "P2"),
            ("mags_hocas", "m5", "P3"),
            ("mags_hocas", "m6", "P3"),
        ],
        columns=["source_dataset", "row_id_hash", "estimated_xjs_id"],
    )
    return open_extract(write_extract(tmp_path_factory.mktemp("pr"), tables=t))


def test_offenders_first_index_per_cohort_and_windows(extract):
    off = proven_reoffending_offenders(extract)
    got = {(r.person_id, r.cohort, r.index_type): (r.reoffences, r.complete_follow_up) for r in off.itertuples()}
    assert got == {
        ("P1", "2015Q1", "court_disposal"): (2, True),  # m2 and m3 (m3 proven 538 days after)
        ("P1", "2015Q3", "court_disposal"): (1, True),  # m3
        ("P1", "2016Q3", "court_disposal"): (0, True),
        ("P2", "2015Q1", "release"): (0, True),  # m4 proven 578 days after: too late
        ("P2", "2016Q3", "court_disposal"): (0, True),
        ("P3", "2015Q1", "court_disposal"): (0, True),
    }
    # Distinct offence dates in (index - 730 days, index], the index case included.
    assert off.loc[off.person_id == "P1", "prior_contacts"].tolist() == [1, 2, 3]


def test_measures_per_cohort(extract):
    res = proven_reoffending(extract, with_cif=False, by=None).set_index("cohort")
    q1 = res.loc["2015Q1"]
    assert (q1["n_offenders"], q1["n_reoffenders"], q1["reoffences"]) == (3, 1, 2)
    assert q1["rate"] == pytest.approx(1 / 3) and q1["reoffences_per_offender"] == pytest.approx(2 / 3)
    assert q1["reoffences_per_reoffender"] == 2.0
    assert res.loc["2016Q3", "n_offenders"] == 2 and res.loc["2016Q3", "rate"] == 0
    assert res["measure"].iloc[0].startswith("court-proven")
    by = proven_reoffending(extract, by=["age_group", "index_type"], with_cif=False)
    assert by.query("cohort == '2015Q1' and index_type == 'release'")["n_offenders"].tolist() == [1]


def test_cif_365_is_the_km_of_the_reentry_cohort_at_365_days(extract):
    # The measure aggregates the cohort in the engine; by hand: the row-level cohort and its KM.
    from djs_toolkit.analyses import reentry_cohort
    from djs_toolkit.survival import km

    res = proven_reoffending(extract, by=None).set_index("cohort")
    off = proven_reoffending_offenders(extract)
    co = reentry_cohort(extract, sorted(off["index_type"].unique()))
    co = co.merge(off[["record_id", "index_type", "cohort"]], on=["record_id", "index_type"])
    for cohort, g in co.groupby("cohort"):
        curve = km(g, "duration", "event")
        s = curve.loc[curve["time"] <= 365, "estimate"]
        assert res.loc[cohort, "cif_365"] == pytest.approx(1 - (s.iloc[-1] if len(s) else 1.0), abs=1e-12)
    # 2015Q1 by hand: P1 (m1) is back at m2's offence, P2 (released 2015-02-01) at m4's offence a month
    # later (a new case, whether or not proven in time), P3's m6 was committed before its index: 2 of 3.
    assert res.loc["2015Q1", "cif_365"] == pytest.approx(2 / 3)
    # No work table is left holding the cohort.
    tables = {r[0] for r in extract.engine.con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert not {"_cohort", "_idx"} & tables


def _offenders_frame(seed=3, n=4000):
    rng = np.random.default_rng(seed)
    f = pd.DataFrame(
        {
            "cohort": rng.choice(["2014Q1", "2014Q2", "2014Q3", "2014Q4", "2015Q1", "2015Q2"], n),
            "age_band": rng.choice(["18-20", "21-24", "25-29", None], n, p=[0.3, 0.3, 0.35, 0.05]),
            "sex": rng.choice(["M", "F"], n, p=[0.8, 0.2]),
            "prior_band": rng.choice(["0", "1-2", "3-5", "6+"], n),
            "index_type": rng.choice(["release", "court_disposal"], n),
        }
    )
    f.loc[f["cohort"] >= "2015Q1", "index_type"] = np.where(
        rng.random((f["cohort"] >= "2015Q1").sum()) < 0.3, "probation_start", "release"
    )
    lin = (
        -0.5
        + 0.6 * (f["sex"] == "M")
        + 0.4 * f["prior_band"].isin(["3-5", "6+"])
        - 0.3 * (f["index_type"] == "release")
    )
    f["reoffended"] = rng.random(n) < 1 / (1 + np.exp(-lin))
    f["reoffences"] = f["reoffended"] * rng.integers(1, 4, n)
    f["complete_follow_up"] = True
    f["record_id"] = [f"r{i}" for i in range(n)]
    f["index_date"] = pd.to_datetime("2014-01-01") + pd.to_timedelta(rng.integers(0, 540, n), unit="D")
    return f


def test_expected_rate_is_the_row_level_logistic_model_of_the_reference_period():
    # Known answer: statsmodels' formula GLM fitted on one row per offender of the first four cohorts,
    # its predictions averaged per cohort. probation_start (absent from the reference) takes the
    # reference level of index_type, as documented; a missing age band is a level of its own.
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    f = _offenders_frame()
    g = f.assign(age_band=f["age_band"].fillna("missing"), y=f["reoffended"].astype(float))
    ref = g[g["cohort"] < "2015Q1"]
    fit = smf.glm(
        "y ~ C(age_band, Treatment('25-29')) + C(sex, Treatment('M')) + C(prior_band) + C(index_type)",
        data=ref,
        family=sm.families.Binomial(),
    ).fit()
    base = ref["index_type"].value_counts().idxmax()
    p = fit.predict(g.assign(index_type=g["index_type"].replace("probation_start", base)))
    want = p.groupby(g["cohort"]).mean()
    res = proven_reoffending(f, with_cif=False, by=None).set_index("cohort")
    assert res["expected_rate"].to_numpy() == pytest.approx(want.sort_index().to_numpy(), abs=1e-10)
    # Indirect standardisation: over the reference period, observed = expected and adjusted = observed.
    r = res.loc[["2014Q1", "2014Q2", "2014Q3", "2014Q4"]]
    assert (r["expected_rate"] * r["n_offenders"]).sum() == pytest.approx(r["n_reoffenders"].sum(), rel=1e-9)
    assert res["adjusted_rate"].to_numpy() == pytest.approx(
        (res["rate"] / res["expected_rate"] * ref["y"].mean()).to_numpy(), rel=1e-12
    )


# -- the MoJ's rules, one hand-built offender each ---------------------------------------------------------------
def _mags(rid, offence, hearing, result, disposal="Fine", proceedings="Criminal", age=30):
    return dict(
        row_id_hash=rid,
        case_id_hash=f"k{rid}",
        offence_date=None if offence is None else D(offence),
        first_hearing_date=D(hearing),
        final_result_date=D(result),
        disposal_type=disposal,
        proceedings_type_desc=proceedings,
        breach_marker=proceedings == "Breach",
        age_at_offence=age,
    )


def _crown(rid, case_type, offence, receipt, disposal_date, disposal="Fine", sentence=None):
    return dict(
        row_id_hash=rid,
        case_type=case_type,
        offence_date=D(offence),
        receipt_date=D(receipt),
        disposal_date=D(disposal_date),
        sentence_date=D(sentence or disposal_date),
        disposal_type=disposal,
        age_at_offence=30,
    )


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """Index cases (court disposals, Fine) in 2015Q1 unless said; follow-up window 365 + 183 days."""
    t = empty_tables()
    t["mags_defendant_case"] = rows_of(
        "mags_defendant_case",
        [
            # B: only a breach conviction and a non-criminal matter after the index: not reoffences.
            _mags("b0", "2015-01-05", "2015-01-20", "2015-02-01"),
            _mags("b1", "2015-05-01", "2015-05-20", "2015-06-01", proceedings="Breach"),
            _mags("b2", "2015-07-01", "2015-07-20", "2015-08-01", "Otherwise dealt with", "Non-criminal"),
            # A: two new offences. 2015-04-01 is on two cases and appealed at the Crown Court (one offence);
            # 2015-06-01 was committed for sentence, sentenced after the window but received within it.
            _mags("a0", "2015-01-05", "2015-01-25", "2015-02-10"),
            _mags("a1", "2015-04-01", "2015-04-20", "2015-05-01"),
            _mags("a2", "2015-04-01", "2015-04-20", "2015-05-02", "Conditional discharge"),
            _mags("a3", "2015-06-01", "2015-06-10", "2015-06-20", "Committed to Crown Court"),
            # U: a conviction with no offence date anywhere (no principal offence row): dated by its first hearing.
            _mags("u0", "2015-01-05", "2015-02-01", "2015-02-15"),
            _mags("u1", None, "2015-05-01", "2015-06-01"),
            # J: a juvenile (16 at the offence) with one reoffence.
            _mags("j0", "2015-01-05", "2015-02-01", "2015-02-20", age=16),
            _mags("j1", "2015-03-01", "2015-03-10", "2015-04-01", age=16),
            # C: indexes on 2019-07-01 (2019Q3) and 2019-06-30 (2019Q2); the courts are observed to 2020-12-31.
            _mags("c0", "2019-06-01", "2019-06-10", "2019-07-01"),
            _mags("d0", "2019-06-01", "2019-06-10", "2019-06-30"),
        ],
    )
    t["crown_defendant_case"] = rows_of(
        "crown_defendant_case",
        [
            _crown("a4", "Appeal", "2015-04-01", "2015-06-01", "2015-07-01"),
            _crown("a5", "Committal for sentence", "2015-06-01", "2015-07-01", "2016-12-01"),
        ],
    )
    link = [("mags_hocas", r, r[0].upper()) for r in t["mags_defendant_case"]["row_id_hash"]]
    link += [("crown_xhibit", r, r[0].upper()) for r in t["crown_defendant_case"]["row_id_hash"]]
    t["xjs_link"] = pd.DataFrame(link, columns=["source_dataset", "row_id_hash", "estimated_xjs_id"])
    return open_extract(write_extract(tmp_path_factory.mktemp("pr_rules"), tables=t))


def test_reoffences_are_new_proven_offences(rules):
    off = proven_reoffending_offenders(rules).set_index(["person_id", "cohort"])
    got = off.loc[[("B", "2015Q1"), ("A", "2015Q1"), ("U", "2015Q1"), ("J", "2015Q1")]]
    # B: breaches and non-criminal matters are not offences (they counted as 2 reoffences before).
    # A: 2 offences (before: 3 court records, the appeal counted as a new offence, and the committal missed
    # because its Crown sentence fell after the window).
    # U: the undated conviction is dated by its first hearing (before: dropped) and counted as undated.
    assert got["reoffences"].tolist() == [0, 2, 1, 1]
    assert got["undated_reoffences"].tolist() == [0, 0, 1, 0]
    assert got["first_reoffence"].dt.strftime("%Y-%m-%d").tolist()[1:] == ["2015-04-01", "2015-05-01", "2015-03-01"]
    assert got["age_group"].tolist() == ["Adult", "Adult", "Adult", "Juvenile"]


def test_cohort_completeness_is_decided_for_the_cohort(rules):
    off = proven_reoffending_offenders(rules).set_index(["person_id", "cohort"])
    # C's index (2019-07-01) has its own 548 days by 2020-12-30, inside the courts' coverage, but its cohort
    # 2019Q3 could hold indexes up to 2019-09-30, whose window ends in 2021: the cohort is incomplete (it was
    # reported as a complete cohort of one offender). D's 2019Q2 ends 2019-06-30: complete.
    assert not off.loc[("C", "2019Q3"), "complete_follow_up"]
    assert off.loc[("D", "2019Q2"), "complete_follow_up"]
    res = proven_reoffending(rules, with_cif=False, by=None)
    assert "2019Q3" not in set(res["cohort"]) and "2019Q2" in set(res["cohort"])
    every = proven_reoffending(rules, with_cif=False, by=None, include_incomplete=True).set_index("cohort")
    assert not every.loc["2019Q3", "complete_follow_up"]


def test_rates_frequencies_and_intervals_by_age_group(rules):
    res = proven_reoffending(rules, with_cif=False).set_index(["cohort", "age_group"])
    adult, juvenile = res.loc[("2015Q1", "Adult")], res.loc[("2015Q1", "Juvenile")]
    # Adults B, A, U: 2 reoffenders, 3 offences (one undated); juvenile J: 1 of 1.
    assert (adult["n_offenders"], adult["n_reoffenders"], adult["reoffences"], adult["undated_reoffences"]) == (
        3,
        2,
        3,
        1,
    )
    assert (juvenile["n_offenders"], juvenile["n_reoffenders"], juvenile["reoffences"]) == (1, 1, 1)
    assert adult["rate"] == pytest.approx(2 / 3)
    # Known answers: statsmodels' Wilson interval; scipy's t interval on the per-offender counts (0, 2, 1) and the
    # per-reoffender counts (2, 1), the lower ends clipped at 0.
    assert (adult["rate_lower"], adult["rate_upper"]) == pytest.approx(proportion_confint(2, 3, method="wilson"))
    for col, counts in (("reoffences_per_offender", [0, 2, 1]), ("reoffences_per_reoffender", [2, 1])):
        x = np.array(counts, float)
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert adult[col] == pytest.approx(x.mean())
        assert (adult[f"{col}_lower"], adult[f"{col}_upper"]) == pytest.approx((max(lo, 0.0), hi))
    assert np.isnan(juvenile["reoffences_per_offender_lower"])  # one offender: no interval
