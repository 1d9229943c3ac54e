"""Recovery of the small dummy extract's planted truth from the files, through the estimated ids.

Two extracts of one realisation: the default `small` extract (seed 0) and the same with every linkage
error rate set to zero. The generator draws the same random numbers whatever the rates, so the two hold
the same people, careers and records and differ only in their estimated ids: what separates their fits
is exactly the injected linkage error (checked below).

Three references. (1) The planted log hazard ratios (truth/reentry_log_hr.csv). (2) The same Cox model
fitted to the error-free index events (truth/index_events) on whole days: it carries the sampling
variation of this realisation (re-entry times are whole days, but only about 5 % fall on day 1, so ties
no longer attenuate; truth/README.md). (3) The fit on the extract without linkage error: besides the
realisation, only what the data cannot repair remains there (truth/README.md, "What the files cannot
show"): case rows without any date (dropped by the spine), age known only in completed years at a
reference date (band edges), residents of Wales without an IMD decile (left out of the model), offences
first heard after the courts' coverage ends. The cohort definitions follow the generator's (cohort.py:
offence dates and disposals completed from the principal offence, breach and non-criminal cases of
unknown type not offences, one index per incident, appeals not an index, probation events without a
disposal and remand journeys not an index, age at index from the birth-date interval of the person's
records, family parties adult at 18, possession claims as defendant). Matching every cohort row of seed 0
to its true index event (truth/person_map, index_events), these disagree with the truth: age band 1.2 %
of rows (a year off: 13.5 %, measured before the planted pathways), IMD quintile 2.3 % (Wales), prior family
case 10 rows, prior possession claim 7, prior contacts 2; the outcome of 19 rows (offences first heard after
the courts' coverage ends: none in the files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, norm

from djs_toolkit import open_extract
from djs_toolkit.analyses import reentry_cohort
from djs_toolkit.survival import CoxResult, cox, km

pytestmark = pytest.mark.slow
PERIOD = ("2014-01-01", "2019-12-31")  # truth/README.md: index dates 2014-2019
WAITING = 183  # MoJ waiting period: offences up to 2020-06-30, so late offences have reached court
AGE_BANDS = ["age_10_17", "age_18_24", "age_35_49", "age_50_plus"]
# One realisation (seed 0) is tested, and any change to the generator's random draws redraws it: a per-coefficient
# 95% interval on each of 11 coefficients misses somewhere in about 43% of realisations. The assertions below are
# tests at a stated level instead. ALPHA is the familywise false-alarm rate of each: an unbiased estimate fails the
# Bonferroni bound (every |z| < Z_BONF, z from the cluster-robust SE) in at most 1 realisation in 100, whatever the
# correlation between the coefficients; the joint Wald test rejects 1 in 100.
ALPHA = 0.01
Z_BONF = float(norm.isf(ALPHA / (2 * 11)))  # 3.32 for the 11 re-entry coefficients
Z_BONF_COHORT = float(norm.isf(ALPHA / (2 * 10)))  # 3.29 for the 10 cohort coefficients
D_SE_BOUND = Z_BONF * 0.3  # 1.0 SE: the files' fit against the error-free fit (see its test)
KNOWN_LINKAGE_BIAS = ["log1p_prior_contacts_730d", "index_probation_start"]


@pytest.fixture(scope="module")
def dirs(small_extract_dir, small_nolink_extract_dir):
    return {"default": small_extract_dir, "no_linkage_error": small_nolink_extract_dir}


@pytest.fixture(scope="module")
def extracts(dirs):
    return {k: open_extract(v) for k, v in dirs.items()}


def _design(c: pd.DataFrame) -> pd.DataFrame:
    age = c["age"].astype(float)
    x = pd.DataFrame(
        {
            "female": (c["sex"] == "F"),
            "age_10_17": age.between(10, 17),
            "age_18_24": age.between(18, 24),
            "age_35_49": age.between(35, 49),
            "age_50_plus": age >= 50,
            "log1p_prior_contacts_730d": np.log1p(c["prior_contacts"]),
            "index_release": c["index_type"] == "release",
            "index_probation_start": c["index_type"] == "probation_start",
            "imd_most_deprived_quintile": c["imd_decile"].astype(float).isin([1, 2]),
            "prior_possession_claim_730d": c["prior_possession_claim"],
            "prior_family_case_730d": c["prior_family_case"],
        }
    ).astype(float)
    x["duration"], x["event"], x["person"] = c["duration"], (c["event"] == 1).astype(int), c["person_id"].astype(str)
    # Complete cases: a missing IMD decile is mostly Wales (Welsh LSOAs have no English decile, about 5% of
    # the cohort), not "less deprived": coding it 0 misclassified the Welsh most deprived and took 0.012
    # off the IMD coefficient on average (truth/README.md).
    return x[age.notna() & c["sex"].isin(["M", "F"]) & c["imd_decile"].notna()]


def _benchmark(root, names: list[str], end: pd.Timestamp) -> CoxResult:
    """The error-free daily fit: the same model on truth/index_events, same period and follow-up end."""
    ix = pd.read_parquet(root / "truth" / "index_events.parquet")
    start, nxt = pd.to_datetime(ix["index_date"]), pd.to_datetime(ix["next_offence_date"])
    ix = ix[(start >= PERIOD[0]) & (start <= PERIOD[1])]
    start, nxt = start[ix.index], nxt[ix.index]
    ev = nxt.notna() & (nxt <= end)
    ix = ix.assign(
        event=ev.astype(int),
        duration=np.where(ev, (nxt - start).dt.days, (end - start).dt.days),
        person=ix["true_person_id"].astype(str),
    )
    return cox(ix, "duration", "event", names, cluster="person")


def wald(res: CoxResult, value: pd.Series) -> dict[str, float]:
    """Joint Wald test of every coefficient of ``res`` against ``value``, with the covariance used for
    inference (cluster-robust here): chisq = d' V^-1 d, d = coef - value, on len(d) df."""
    d = (res.params["coef"] - value[res.params.index]).to_numpy()
    stat = float(d @ np.linalg.solve(res.covariance.to_numpy(), d))
    return {"chisq": stat, "df": len(d), "p": float(chi2.sf(stat, len(d)))}


@pytest.fixture(scope="module")
def truth(dirs) -> pd.Series:
    return pd.read_csv(dirs["default"] / "truth" / "reentry_log_hr.csv").set_index("covariate")["log_hr"]


@pytest.fixture(scope="module")
def models(dirs, extracts, truth):
    """Per extract: the Cox fits ``got`` (from the files) and ``bench`` (error-free daily fit)."""
    out = {}
    for name, ex in extracts.items():
        c = reentry_cohort(
            ex, ["case_end", "release", "probation_start"], outcome="magistrates", period=PERIOD, waiting_days=WAITING
        )
        out[name] = {
            "got": cox(_design(c), "duration", "event", list(truth.index), cluster="person"),
            "bench": _benchmark(dirs[name], list(truth.index), c.attrs["follow_up_end"]),
        }
    return out


@pytest.fixture(scope="module")
def fits(models, truth):
    """Per extract: true, bench (error-free daily fit) and got (from the files) with 95% CI and distance
    ``outside`` from the CI to the truth (0 when covered)."""
    out = {}
    for name, m in models.items():
        fit, bench = m["got"].params, m["bench"].params
        half = 1.96 * fit["robust_se"]
        t = pd.DataFrame(
            {
                "true": truth,
                "bench": bench["coef"],
                "bench_se": bench["robust_se"],
                "got": fit["coef"],
                "lo": fit["coef"] - half,
                "hi": fit["coef"] + half,
            }
        )
        t["outside"] = np.maximum(t["lo"] - t["true"], t["true"] - t["hi"]).clip(lower=0)
        out[name] = t
    return out


def test_the_extract_without_linkage_error_is_the_same_realisation(dirs):
    a, b = (pd.read_parquet(dirs[k] / "truth" / "index_events.parquet") for k in ("default", "no_linkage_error"))
    assert a.equals(b)
    a, b = (pd.read_parquet(dirs[k] / "mags_defendant_case.parquet") for k in ("default", "no_linkage_error"))
    same = [c for c in a.columns if not c.startswith("estimated_")]
    assert a[same].equals(b[same]) and not a["estimated_defendant_id"].equals(b["estimated_defendant_id"])


def test_the_error_free_daily_fit_covers_the_truth(fits):
    """The error-free daily fit holds only the realisation's sampling variation, so every coefficient lies within the
    Bonferroni bound of the planted value (|z| < 3.32: familywise 1%; the joint Wald test is below).

    Seeds 0-4 (scratch run, this generator): largest |z| 2.56 (prior contacts, seed 0; 1.49, 1.03, 1.76, 1.27 on seeds
    1-4), joint Wald p 0.14-0.94. A planted bias of 3 SE on every coefficient fails every seed; on one coefficient
    alone the bound catches it about a third of the time (a single-seed test cannot see a 1-SE bias without false
    alarms: bench/truth_coverage.py averages over seeds for that)."""
    t = fits["default"]
    assert t["bench"].equals(fits["no_linkage_error"]["bench"])
    z = (t["bench"] - t["true"]) / t["bench_se"]
    assert (z.abs() < Z_BONF).all(), t.assign(z=z).round(3)


def test_without_linkage_error_the_fit_covers_the_truth_and_sits_on_the_error_free_fit(fits):
    """Without linkage error the files' fit covers the truth within the Bonferroni bound (familywise 1%), and sits on
    the error-free fit: its difference d from it, in the fit's SE, is what the files change (3 % of the rows: age a
    year off, Wales without IMD, offences heard after coverage ends). d is far narrower than the sampling variation,
    since both fits share the realisation: over seeds 0-4 its root mean square is 0.28 SE (55 coefficient draws,
    largest 0.83, prior contacts on seed 0; 0.49, 0.66, 0.42, 0.40 on seeds 1-4), so |d| < Z_BONF x 0.3 = 1.0 SE
    holds for an unbiased file reading at about familywise 1% (approximately: d is heavier-tailed than normal, a few
    prolific re-offenders' rows make most of it), while a definition that moves a coefficient by 1.5 SE or more
    fails (the ones fixed before moved them by 1-1.4 SE, bench/truth_coverage.py: one seed sees those only half the
    time). Seed 0: largest |z| 3.26 (prior contacts: the realisation's -2.56 and the files' -0.83; seeds 1-4 at most
    1.40), largest |d| 0.83 SE."""
    t = fits["no_linkage_error"]
    se = (t["hi"] - t["got"]) / 1.96
    table = t.assign(z=(t["got"] - t["true"]) / se, d_se=(t["got"] - t["bench"]) / se).round(3)
    assert (table["z"].abs() < Z_BONF).all(), table
    assert (table["d_se"].abs() < D_SE_BOUND).all(), table


def test_without_linkage_error_the_joint_wald_test_does_not_reject_the_truth(models, truth):
    # All 11 coefficients at once against the true vector, with the full cluster-robust covariance (the four age
    # bands share the reference band: correlations 0.14-0.69), so a deviation common to correlated coefficients is
    # weighed as such rather than counted once per band. Seed 0: chi-square 21.36 on 11 df, p = 0.030; the
    # error-free fit 16.13, p = 0.137 (with linkage error, not asserted: 34.64, p = 0.0003); seeds 1-4: p = 0.72-0.94
    # and 0.58-0.94. Threshold p > 0.01: the realisation is fixed, so an unbiased estimator fails this only when a
    # generator change redraws it, 1 time in 100. Power is modest: 80% against a bias of 4.8 SE in the covariance
    # metric (age 10-17 alone off by 0.07, or prior family case alone by 0.16); a planted bias of 3 SE on every
    # coefficient gives p < 1e-15 on every seed 0-4. Over seeds 0-7 this fit's mean deviation gave chi-square 17.2
    # on 11 df (p = 0.10; 52.6, p < 0.001, before the cohort's definitions were aligned with the truth's), the
    # error-free fit's 12.6 (p = 0.32), and 87 of the 88 CIs covered (bench/truth_coverage.py, before the family
    # effect and the planted pathways); over seeds 0-4 of this generator the error-free fit's mean deviation gives
    # 6.24 (p = 0.86): the pathways redrew the realisation, they did not bias the re-entry truth.
    got, bench = (wald(models["no_linkage_error"][k], truth) for k in ("got", "bench"))
    assert got["df"] == bench["df"] == 11
    assert got["p"] > 0.01, got
    assert bench["p"] > 0.01, bench


def test_with_linkage_error_prior_contacts_and_probation_start_move_off_the_truth(fits):
    """Linkage error takes two coefficients off the truth and leaves the rest within the Bonferroni bound.

    Measured by switching kinds of error off one at a time: the false cross-justice splits of estimated_xjs_id do
    it; merges and within-dataset ids barely matter. Prior contacts: a split-off record loses the person's other
    offences and outcomes, so the coefficient falls. Probation start rises, the splits losing more outcomes after a
    case end, the reference, than after a probation start. Seeds 0-4: prior contacts moved by -0.058 to -0.089,
    probation start by +0.040 to +0.066 (the same realisation without linkage error against with it); the other nine
    within the bound (largest |z| 2.62), the two at z -1.8 to -4.7 and +0.5 to +2.8. The direction of the
    two is the assertion: its size depends on which records the draw splits (seed 0 of the generator before the
    planted pathways: -0.053 and +0.052; with them: -0.062 and +0.049; with the family effect alone: -0.079)."""
    t, clean = fits["default"], fits["no_linkage_error"]
    se = (t["hi"] - t["got"]) / 1.96
    shift = t["got"] - clean["got"]
    table = t.assign(no_linkage=clean["got"], shift=shift, z=(t["got"] - t["true"]) / se).round(3)
    assert (np.sign(t["got"]) == np.sign(t["true"])).all(), table
    assert (table["z"].drop(KNOWN_LINKAGE_BIAS).abs() < Z_BONF).all(), table
    assert shift["log1p_prior_contacts_730d"] < 0 < shift["index_probation_start"], table


@pytest.mark.parametrize("linkage", ["no_linkage_error", "default"])
@pytest.mark.parametrize(
    "index,truth_type,tol",
    [
        # tol 0 = the truth lies inside the 95% CI of the estimate.
        ("release", "release_nomis", 0.0),
        ("probation_start", "probation_start", 0.0),
        # With linkage error only (without it these are inside): civil records are falsely split off their
        # person at 9% x 1.6 for defendants (linkage error): a split-off claim has no criminal record to
        # follow, so the CIF is diluted by 14% (0.0668 against 0.0779 with the planted pathways of
        # dummy.pathways, 0.0054 short of the CI; 0.0395 against 0.0453 before them).
        ("possession_claim", "possession_claim", 0.008),
        # Family records the same at 7% x 1.6 for respondents: 0.0317 against 0.0345 without linkage error
        # (truth 0.0342, 0.0001 short of the CI). Inside before family parties under 18 were left out (the
        # truth's adult parties): their higher re-entry offset the dilution.
        ("family_case", "family_case", 0.002),
        # Outcomes on a split-off id are missed (about 3%: 0.432 against 0.446, 0.008 short of the CI).
        ("case_end", "court_disposal", 0.01),
    ],
)
def test_cif_365_near_truth(dirs, extracts, linkage, index, truth_type, tol):
    truth = pd.read_csv(dirs[linkage] / "truth" / "reentry_cif_1y.csv")
    want = truth.query("population == 'all_indexes' and cohort_type == @truth_type")["cif_365"].iloc[0]
    c = reentry_cohort(extracts[linkage], index, outcome="magistrates", period=PERIOD, waiting_days=WAITING)
    curve = km(c.assign(e=(c["event"] == 1).astype(int)), "duration", "e")
    row = curve.loc[curve["time"] <= 365].iloc[-1]
    got, lo, hi = 1 - row["estimate"], 1 - row["ci_upper"], 1 - row["ci_lower"]
    if linkage == "no_linkage_error":
        tol = 0.0
    assert lo - tol <= want <= hi + tol, (got, lo, hi, want)


# -- possession-claim and family-case cohorts (issue 17) ----------------------------------------------------------
# No proportional-hazards model generates their outcomes (truth/README.md: onset with a latent propensity class, or
# the re-entry of an earlier index), so the truth is the error-free cohort truth/cohort_index_events: every such
# index the files hold, with covariates as the person's written records dated up to the index say them, under the
# true ids, and the next offence. The benchmark is the same Cox model fitted to it; the files must reproduce it.
COHORT_COVARIATES = [
    "female",
    "sex_missing",
    "age_under_25",
    "age_35_49",
    "age_50_plus",
    "age_missing",
    "imd_most_deprived_quintile",
    "imd_missing",
    "log1p_prior_contacts_730d",
    "prior_other",
]
COHORTS = {"possession_claim": "prior_family_case", "family_case": "prior_possession_claim"}


def _cohort_design(sex, age, imd, priors, other, duration, event, person) -> pd.DataFrame:
    """Missing sex, age and IMD are levels of their own (never a dropped row); reference: male, 25-34, IMD 3-10."""
    age, imd = pd.Series(age).astype(float), pd.Series(imd).astype(float)
    sex = pd.Series(sex).astype(str)
    x = pd.DataFrame(
        {
            "female": sex == "F",
            "sex_missing": sex == "Missing",
            "age_under_25": age < 25,
            "age_35_49": (age >= 35) & (age < 50),
            "age_50_plus": age >= 50,
            "age_missing": age.isna(),
            "imd_most_deprived_quintile": imd.isin([1, 2]),
            "imd_missing": imd.isna(),
            "log1p_prior_contacts_730d": np.log1p(pd.Series(priors).astype(float)),
            "prior_other": pd.Series(other).astype(bool),
        }
    ).astype(float)
    x["duration"], x["event"] = np.asarray(duration), np.asarray(event).astype(int)
    x["person"] = np.asarray(person).astype(str)
    return x


def _cohort_truth(root, index: str, end: pd.Timestamp) -> pd.DataFrame:
    t = pd.read_parquet(root / "truth" / "cohort_index_events.parquet")
    t = t[t["index_type"] == index].assign(index_date=lambda d: pd.to_datetime(d["index_date"]))
    t = t[(t["index_date"] >= PERIOD[0]) & (t["index_date"] <= PERIOD[1])]
    nxt = pd.to_datetime(t["next_offence_date"])
    ev = nxt.notna() & (nxt <= end)
    dur = np.where(ev, (nxt - t["index_date"]).dt.days, (end - t["index_date"]).dt.days)
    other = t[f"{COHORTS[index]}_730d"]
    return _cohort_design(
        t["sex_at_index"], t["age_at_index"], t["imd_decile_at_index"], t["prior_contacts_730d"], other, dur, ev,
        t["true_person_id"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def cohort_fits(dirs, extracts):
    """Per extract and cohort: the files' cohort, its Cox fit ``got``, the benchmark ``bench`` on the truth cohort."""
    out = {}
    for name, ex in extracts.items():
        for index, other in COHORTS.items():
            # Calendar time, as the truth's next offence is (street time would take the custody days out of the
            # files' follow-up only: +1 to +1.6 SE on prior contacts over seeds 0-3).
            c = reentry_cohort(ex, index, outcome="magistrates", period=PERIOD, waiting_days=WAITING, street_time=False)
            x = _cohort_design(
                c["sex"], c["age"], c["imd_decile"], c["prior_contacts"], c[other], c["duration"], c["event"] == 1,
                c["person_id"],
            )  # fmt: skip
            got = cox(x, "duration", "event", COHORT_COVARIATES, cluster="person")
            bench = cox(_cohort_truth(dirs[name], index, c.attrs["follow_up_end"]), "duration", "event",
                        COHORT_COVARIATES, cluster="person")  # fmt: skip
            t = pd.DataFrame({"bench": bench.params["coef"], "got": got.params["coef"], "se": got.params["robust_se"]})
            t["z"] = (t["got"] - t["bench"]) / t["se"]
            out[name, index] = {"cohort": c, "table": t}
    return out


def test_cohort_covariates_at_index_are_the_truths_row_by_row(dirs, cohort_fits):
    """Without linkage error every covariate of every cohort row is the truth's (age: whether it is known)."""
    pm = pd.read_parquet(dirs["no_linkage_error"] / "truth" / "person_map.parquet")
    tr = pd.read_parquet(dirs["no_linkage_error"] / "truth" / "cohort_index_events.parquet")
    tr["index_date"] = pd.to_datetime(tr["index_date"])
    for index, ds in (("possession_claim", "civil_caseman_pcol"), ("family_case", "familyman")):
        c = cohort_fits["no_linkage_error", index]["cohort"]
        c = c.merge(pm[pm["source_dataset"] == ds], left_on="record_id", right_on="row_id_hash")
        m = c.merge(tr[tr["index_type"] == index].drop_duplicates(["true_person_id", "index_date"]),
                    on=["true_person_id", "index_date"])  # fmt: skip
        assert len(m) > 0.99 * len(c)
        imd_a, imd_b = m["imd_decile"].astype("Float64"), m["imd_decile_at_index"].astype("Float64")
        agree = {
            "sex": (m["sex"].astype(str) == m["sex_at_index"]).mean(),
            "imd": ((imd_a == imd_b) | (imd_a.isna() & imd_b.isna())).mean(),
            "age known": (m["age"].isna() == m["age_at_index"].isna()).mean(),
            "prior contacts": (m["prior_contacts"] == m["prior_contacts_730d"]).mean(),
        }
        assert min(agree.values()) > 0.999, (index, agree)


def test_cohorts_without_linkage_error_reproduce_the_error_free_fit(cohort_fits):
    # Every coefficient within D_SE_BOUND (1.0 SE, as the re-entry fit's) of the benchmark: over seeds 0-4 the
    # distance's root mean square is 0.12 SE (100 coefficient draws), its largest 0.72 (seed 4; seed 0: 0.17; the
    # 0.5 SE asserted before failed seed 4). The files' age is an estimate, a year off for 19% and 4% of the rows.
    for index in COHORTS:
        t = cohort_fits["no_linkage_error", index]["table"]
        assert (t["z"].abs() < D_SE_BOUND).all(), (index, t.round(3))
    # The planted pattern shows: women and the over-50s re-enter less, recent offending and deprivation more.
    t = cohort_fits["no_linkage_error", "family_case"]["table"]
    assert t.loc["female", "got"] < -0.3 and t.loc["log1p_prior_contacts_730d", "got"] > 1


def test_cohorts_with_linkage_error(cohort_fits):
    """With linkage error every coefficient stays within the Bonferroni bound of the benchmark (|z| < 3.29, 10
    coefficients, familywise 1%) but missing sex after a possession claim, which linkage error pushes down: civil
    records falsely split off their person (9% x 1.6 for defendants) lose the person's earlier records, so their sex
    is missing, and their outcomes, so they seem not to come back. Its size is the draw's (seed 0: z = -2.6 before the
    planted pathways, -1.96 with them; seeds 0-4: -1.96, -3.02, -1.14, -2.16, -2.39; the look-ahead reading below
    gives about -9); the others' largest |z| over seeds 0-4: possession claim 1.09, family case 1.78."""
    t = cohort_fits["default", "possession_claim"]["table"]
    assert (t["z"].drop("sex_missing").abs() < Z_BONF_COHORT).all(), t.round(3)
    assert -Z_BONF_COHORT * 2 < t.loc["sex_missing", "z"] < 0, t.round(3)
    t = cohort_fits["default", "family_case"]["table"]
    assert (t["z"].abs() < Z_BONF_COHORT).all(), t.round(3)


def test_a_covariate_read_from_later_records_fails_the_truth(extracts, cohort_fits):
    """The look-ahead the cohorts no longer have: sex as the person's records over their whole history say it
    (the spine's attribute at their last event). Missing sex then means "never came back" and its coefficient
    runs off (possession claims, seed 0: -6.3, SE 0.7, against 0.04 in the truth)."""
    ex = extracts["no_linkage_error"]
    last = ex.sql(
        "SELECT person_id, sex FROM (SELECT person_id, sex, ROW_NUMBER() OVER (PARTITION BY person_id "
        "ORDER BY event_date DESC) AS rn FROM _spine) AS s WHERE rn = 1"
    ).astype({"person_id": str})
    c = cohort_fits["no_linkage_error", "possession_claim"]["cohort"]
    sex = c[["person_id"]].astype(str).merge(last, on="person_id", how="left")["sex"].fillna("Missing")
    x = _cohort_design(
        sex, c["age"], c["imd_decile"], c["prior_contacts"], c["prior_family_case"], c["duration"], c["event"] == 1,
        c["person_id"],
    )  # fmt: skip
    p = cox(x, "duration", "event", COHORT_COVARIATES, cluster="person").params
    bench = cohort_fits["no_linkage_error", "possession_claim"]["table"].loc["sex_missing", "bench"]
    assert p.loc["sex_missing", "coef"] + 1.96 * p.loc["sex_missing", "robust_se"] < bench - 3
