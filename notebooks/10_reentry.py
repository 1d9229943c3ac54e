# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10 Re-entry after release, court disposal or probation start
#
# **Question.** How soon, and how often, do people come back to the criminal courts after an index event,
# and which characteristics go with faster re-entry? How does this compare with the MoJ's proven
# reoffending measure?
#
# **Method.** `reentry_cohort` builds one row per index event from the spine: follow-up on street time
# (days in custody are not at risk), censored where the courts stop being observed, outcome dated by the
# new offence. Kaplan-Meier and Aalen-Johansen curves with KMunicate tables; Cox (Efron, person-clustered
# robust SE) and Fine-Gray regressions; MoJ-style court-proven reoffending in 3-month cohorts beside the
# survival-based cumulative incidence at 365 days.
#
# **Covariates at index.** Sex, ethnicity, IMD decile, age and the prior flags are what the person's records dated
# on or before the index say, never a later record (whether a later record exists depends on the outcome: a
# possession-claim defendant used to get a sex only by coming back to court). Civil records hold no sex, age,
# ethnicity or IMD, so many possession-claim defendants have none at the claim: "Missing" is a level of its own in
# the tables and in the models, never a dropped row (docs/measures.md §1).
#
# **Population.** Index events of the chosen type inside the index dataset's coverage window.
#
# **Caveats.** Court-proven only: Data First has no cautions or police records, so the proven-reoffending rates
# undercount the official measure (a share c of proven reoffences disposed of by caution makes the frequency (1 - c)
# of the official one and the binary rate between c^k and c lower: about 6% lower at c = 0.15, docs/measures.md §2.3).
# What the measure counts, as the MoJ does: new offences only (no breaches, non-criminal matters or Crown appeals; a
# committal for sentence is its offence), each proven offence once (person and offence date), convictions without
# an offence date dated by their first hearing and counted, a cohort complete only when every index it can hold has
# its 365 + 183 days, adults and juveniles apart, rates and frequencies with 95% intervals. Linkage error moves
# people's histories between identities. Offences in the last six months before coverage ends are not yet proven
# and are outside follow-up.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
index_type: str = "release"  # the index event; choices: release, court_disposal, case_end, probation_start,
#   possession_claim, family_case
outcome: str = "any_criminal_court"  # choices: any_criminal_court, magistrates, custody, any_justice_contact
competing: str = "custody_start"  # event type ending follow-up first, "" for none; choices: "",
#   mags_case, mags_conviction, crown_case, crown_conviction, custody_start, release, recall, probation_start,
#   probation_end, family_case_start, family_order, civil_claim, possession_order, warrant_executed
kmunicate_times: str = "0,90,180,365,730"  # days at which the KMunicate table is reported
pr_measures: bool = True  # also the MoJ proven-reoffending measures (the same for every index type: one run per pipeline)

# %%
import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from djs_toolkit import open_extract, outputs
from djs_toolkit.analyses import proven_reoffending, reentry_cohort
from djs_toolkit.plotting import MISSING_LABEL, km_grid, km_plot
from djs_toolkit.survival import cox, finegray

outputs.configure(profile=profile)
extract = open_extract(data_root)

# %%
cohort = reentry_cohort(extract, index_type, outcome=outcome, competing=[competing] if competing else None)
cohort["reentered"] = (cohort["event"] == 1).astype(int)
times = [int(t) for t in kmunicate_times.split(",")]
summary = cohort.groupby(["event", "censor_reason"], observed=True).size().rename("index_events")
# Only a censored index (event 0) has a censoring reason, an outcome (1) has none and a competing event (2) is its
# own reason: the other pairs cannot occur, so their zeros are structural, not zeros for the checker to judge.
reasons = summary.index.get_level_values("censor_reason").unique()
impossible = [(e, r) for e in summary.index.get_level_values("event").unique() for r in reasons
              if (r == "") != (e == 1) or (r == "competing") != (e == 2)]
outputs.save_table(summary, "cohort", f"{index_type} index events by outcome and censoring reason",
                   f"{index_type} index events, outcome {outcome}", structural_zeros=impossible).table

# %% [markdown]
# ## Kaplan-Meier and cumulative incidence by sex, with the KMunicate table
#
# People whose sex is not recorded form a group of their own ("Missing"), unless they are too few to publish: then
# they are counted with the largest group, labelled "... or not recorded" (a small group withheld would take a large
# one with it as its complement). The curves go through the checker's safe
# Kaplan-Meier path as one output: steps hold at least the threshold of events, the curve stops before the number
# at risk falls below it, cumulative censored and competing counts are rounded, and both the cumulative incidence
# (Aalen-Johansen, `estimate`) and the Kaplan-Meier curve (competing events censored, `survival`) are recomputed
# from the released counts, so the figure and its table never show a count another output withholds. A group with
# too few events is left out (with a second group when its size could otherwise be worked out from the total).
# One output for both curves: two tables on their own steps, or the overall curve beside the groups, would give
# the events of a small group or a short interval by subtraction. The index events' record ids key the output in
# the differencing ledger.

# %%
checker = outputs.session()
threshold = checker.profile.min_safe_count
sex = cohort["sex"].astype("object").fillna(MISSING_LABEL).astype(str)
# A group with fewer people or events than the threshold is withheld whole, and with it a large group as its
# complement (the cohort total is public): a handful of people without a recorded sex would withhold every woman's
# curve. Such a group is recoded into the largest group instead (global recoding), and the label says so.
few = sex.eq(MISSING_LABEL)
if few.any() and (few.sum() < threshold or cohort.loc[few, "reentered"].sum() < threshold):
    largest = sex[~few].value_counts().idxmax()
    sex = sex.where(~few, largest).replace(largest, f"{largest} or not recorded")
    print(f"people without a recorded sex are too few to show apart: counted with {largest}")
grid = km_grid(times)  # the KMunicate times and a point every 30 days: the curve is drawn as the steps it releases
curves = checker.cif("duration", "event", cause=1, by="sex", times=grid, data=cohort.assign(sex=sex),
                     record_id="record_id")
km_saved = outputs.save_table(curves, "km",
                              f"Kaplan-Meier (proportion not yet back, {outcome}) and cumulative incidence "
                              f"(competing: {competing or 'none'}) by days since {index_type}, by sex, with at risk, "
                              "events, competing events and censored per step (KMunicate times on the grid)",
                              f"{index_type} index events")
km_saved.table.reset_index().head(10)

# %%
# Drawn from the saved, protected step table only: every released step, the KMunicate table beneath read from the
# same steps at the KMunicate times ("c" where withheld, "-" where steps were merged across a time), and a group the
# checker withheld named under the figure, never drawn.
index_text = {"release": "release from custody", "court_disposal": "a non-custodial conviction",
              "case_end": "a case end", "probation_start": "a probation start",
              "possession_claim": "a possession claim (defendant)", "family_case": "a family case (adult party)"}
outcome_text = {"any_criminal_court": "a new criminal court case", "magistrates": "a new magistrates' court case",
                "custody": "custody", "any_justice_contact": "a new justice contact"}
fig = km_plot(km_saved, estimate="survival", times=times, by="sex", legend_title="Sex",
              ylabel="Proportion without the outcome", xlabel="Days since index (street time)",
              title=f"Time to {outcome_text[outcome]} after {index_text[index_type]}, by sex")
outputs.save_figure(fig, "km_fig", underlying=km_saved, source=km_saved)  # drawn from the released steps only
plt.close(fig)

# %% [markdown]
# ## Cox and Fine-Gray regression

# %%
model = cohort.copy()
# Every index event stays in: a sex, age or IMD decile no record up to the index holds is a level of its own
# (sex "Missing", age band "Missing", an IMD-missing indicator), never a dropped row. Fitting on known sex only
# selected on the outcome while sex could come from later records; now it would select on earlier records.
model["female"] = (model["sex"] == "F").astype(int)
model["sex_missing"] = (model["sex"] == MISSING_LABEL).astype(int)
model["age_band"] = model["age_band"].astype(str)
model["log1p_priors"] = np.log1p(model["prior_contacts"])
imd = model["imd_decile"].astype("float")
model["imd_q1"] = imd.isin([1, 2]).astype(int)
model["imd_missing"] = imd.isna().astype(int)
covariates = ["female", "sex_missing", "age_band", "log1p_priors", "imd_q1", "imd_missing", "prior_possession_claim",
              "prior_family_case"]
model[["prior_possession_claim", "prior_family_case"]] = model[["prior_possession_claim", "prior_family_case"]].astype(int)
# A level with fewer index events or outcome events than the threshold would give them away (the checker fails such
# a model): a rare age band is counted with the largest band (the label says so) and a rare indicator is left out
# (its records join the reference level), each with a note.
def rare(level):
    return level.sum() < threshold or model.loc[level, "reentered"].sum() < threshold
bands = model["age_band"].value_counts()
few_bands = [b for b in bands.index if rare(model["age_band"] == b)]
if few_bands and len(few_bands) < len(bands):
    largest = next(b for b in bands.index if b not in few_bands)
    merged = f"{largest} or {', '.join(map(str, few_bands))}"
    model["age_band"] = model["age_band"].replace({b: merged for b in [largest, *few_bands]})
    print(f"age bands with too few index or outcome events counted with {largest}: {', '.join(map(str, few_bands))}")
for c in [c for c in covariates if c not in ("age_band", "log1p_priors")]:
    if model[c].nunique() > 1 and (rare(model[c] == 1) or rare(model[c] == 0)):
        covariates.remove(c)
        print(f"{c} left out of the models: one of its levels has too few index or outcome events")
covariates = [c for c in covariates if model[c].nunique() > 1]
if covariates and model["reentered"].sum() >= 10:
    cox_fit = cox(model, "duration", "reentered", covariates, cluster="person_id")
    cox_out = outputs.save_table(cox_fit, "cox", f"Cox: hazard of {outcome} after {index_type}",
                                 f"{index_type} index events (missing covariates as levels)",
                                 data=model, event="reentered")  # the rows fitted: events per indicator level checked
    display(cox_out.table)
else:
    print("Cox model not fitted: fewer than 10 outcome events or no varying covariate")

# %%
if covariates and (model["event"] == 2).sum() >= 10 and model["reentered"].sum() >= 10:
    fg_fit = finegray(model, "duration", "event", cause=1, covariates=covariates)
    fg_out = outputs.save_table(fg_fit, "finegray", f"Fine-Gray: subdistribution hazard of {outcome} (competing: {competing})",
                                f"{index_type} index events (missing covariates as levels)",
                                data=model, event="event")  # cause 1 is the outcome; 2 competing, 0 censored
    display(fg_out.table)
else:
    print("Fine-Gray not fitted: fewer than 10 competing events")

# %% [markdown]
# ## MoJ-style court-proven reoffending, beside the survival estimate
#
# These measures cover every index type at once, so a pipeline computes them in one run only
# (`pr_measures`); the other runs skip them.
#
# As the MoJ publishes them, adults (18 or over at the index) and juveniles (10-17) are reported apart (`age_group`),
# with Wilson intervals for the rate and t intervals for reoffences per offender; `reoffences` counts proven
# offences (distinct person and offence date) and `undated_reoffences` those dated by their first hearing. Only
# complete cohorts are reported.

# %%
if pr_measures:
    pr = proven_reoffending(extract)  # adults and juveniles apart (age_group), complete cohorts only
    counts = pr[["cohort", "age_group", "n_offenders", "n_reoffenders", "reoffences", "undated_reoffences"]]
    outputs.save_table(counts, "pr_counts",
                       "court-proven reoffending: offenders, reoffenders and proven reoffences per 3-month cohort, "
                       "adults and juveniles",
                       "first eligible index per person per cohort (release, non-custodial conviction, probation start)")
    rates = pr[["cohort", "age_group", "rate", "rate_lower", "rate_upper", "reoffences_per_offender",
                "reoffences_per_offender_lower", "reoffences_per_offender_upper", "adjusted_rate", "cif_365",
                "n_offenders"]]
    outputs.save_table(rates, "pr_rates",
                       "court-proven reoffending rate and reoffences per offender (95% intervals), adjusted rate and "
                       "survival-based CIF at 365 days, adults and juveniles",
                       "first eligible index per person per cohort", statistic="rate", counts="n_offenders").status

# %%
if pr_measures:
    # By index type over every cohort with complete follow-up (quarterly cells by type are mostly small).
    # Summed from the per-cohort counts: no offender-level rows leave the engine (about 6 million nationally).
    per_cohort = proven_reoffending(extract, by=["age_group", "index_type"], with_cif=False)
    by_type = per_cohort.groupby(["age_group", "index_type"])[["n_offenders", "n_reoffenders", "reoffences"]].sum()
    outputs.save_table(by_type, "pr_by_type", "court-proven reoffending by age group and index type, all complete cohorts",
                       "first eligible index per person per cohort").status

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
from djs_toolkit.brief.words import days, share

steps = km_saved.table.reset_index()
steps = steps[(steps["time"] > 0) & (steps["time"] <= 365)].dropna(subset=["estimate", "ci_lower", "ci_upper"])
who = {"M": "men", "F": "women", "M or not recorded": "men (or sex not recorded)",
       "F or not recorded": "women (or sex not recorded)"}
lines = [f"Within {days(r['time'])} of {index_text[index_type]}, {share(r['estimate'], r['ci_lower'], r['ci_upper'])} "
         f"of {who.get(str(g), f'people in group {g}')} had {outcome_text[outcome]}."
         for g, r in ((g, s.iloc[-1]) for g, s in steps.groupby("sex", sort=False))]
if lines:
    outputs.save_text("finding", " ".join(lines), f"the share with {outcome_text[outcome]} within a year, by sex",
                      f"{index_type} index events", sources=["km"])
