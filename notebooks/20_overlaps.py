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
# # 20 Overlaps between civil, family and criminal justice users
#
# **Question.** How many people appear in more than one jurisdiction, and how often does one named event come
# before another: a fine in the magistrates' courts then a possession claim against the person; a possession claim
# against the person (as tenant or mortgagor) then a criminal case; care proceedings about the person as a child
# then custody or probation; a Family Law Act or private law case as an adult party then a criminal case or
# probation? Each run names its two events with event selectors (`first`, `then`; docs/methods.md §7.1); the
# tables' titles and population lines are the selectors' own descriptions, printed below.
#
# **Method.** Memberships from the spine restricted to the window all compared datasets cover (so
# overlaps are not deflated by different coverage); exclusive and inclusive counts protected as one linked
# table (an LP attacker audit proves no withheld intersection can be recovered from published set sizes);
# ordered overlaps as cumulative incidence with censoring at coverage end, plus the naive proportion among
# those with complete follow-up; linkage sensitivity by perturbing links.
#
# **Population.** Overlaps of all datasets: people with an event in the common coverage window of the datasets
# compared. Ordered overlap: people whose first `first` event (as its selector says) is dated in `window`, followed
# up for `then` events until the `then` dataset stops being observed.
#
# **Caveats.** Linkage error (worse in family and civil data) changes overlaps; organisations are never
# persons; an event whose filtered column is not recorded is never selected (the selectors' caveats are printed
# with the results and go to the output checker). For children in care proceedings the selector keeps ages 10-17
# at the case start (the age of criminal responsibility is 10) and the follow-up runs for years: a
# censoring-aware estimate (1 - Kaplan-Meier) with the window chosen so every index has full follow-up.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
first: str = "civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant"  # what comes first: an event selector (docs/methods.md §7.1)
then: str = "mags_case: case_type=Criminal"  # what follows: an event selector
within_days: int = 365  # how soon after `first`
window: str = ""  # dates of the index events, "start,end" (e.g. "2012-01-01,2019-12-31"); "" = the window both datasets cover
by: str = "sex"  # breakdown, "" for none; choices: sex, ethnicity_group, age_band, ""
drop_rate: float = 0.02  # linkage sensitivity: share of cross-dataset links dropped
merge_rate: float = 0.01  # linkage sensitivity: share of clusters merged
all_sets: bool = True  # also the overlaps of all datasets (UpSet) and their linkage sensitivity (the same for every pair: one run per pipeline)

# %%
import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from djs_toolkit import flows, journeys, open_extract, outputs, overlap, spine
from djs_toolkit.plotting import flows_plot, km_plot, upset_plot
from djs_toolkit.analyses import linkage, proven_reoffending, proven_reoffending_offenders, reentry_cohort
from djs_toolkit.survival import cif, cox, finegray, km, kmunicate_table

outputs.configure(profile=profile)
extract = open_extract(data_root)

# %% [markdown]
# ## Overlaps of all datasets
#
# The same for every pair of datasets, so a pipeline computes it in one run only (`all_sets`).

# %%
if all_sets:
    sets = overlap.overlap_sets(extract)
    saved = outputs.save_table(sets, "overlap_sets", "people by exact combination of datasets (exclusive) and at least these (inclusive)",
                               f"people with an event {sets.attrs['window'][0].date()} to {sets.attrs['window'][1].date()}",
                               statistic="overlap")
    print(f"{len(saved.table)} combinations: {saved.status}")

# %%
if all_sets:
    fig = upset_plot(saved, max_combinations=20, title="People across jurisdictions (protected counts)")
    outputs.save_figure(fig, "upset_fig", underlying=saved, source=saved)  # drawn from the released counts only
    plt.close(fig)

# %% [markdown]
# ## Ordered overlap

# %%
oo = overlap.ordered_overlap(extract, first, then, within_days, window=tuple(window.split(",")) if window else None,
                             by=by or None)
first_is, then_is, caveats = oo.attrs["first"], oo.attrs["then"], list(oo.attrs["caveats"])
start, end = (t.date() for t in oo.attrs["window"])
title = f"a {then_is} within {within_days} days of a first {first_is}"
population = (f"people whose first {first_is} is dated {start} to {end}; followed up for a {then_is} until "
              f"{oo.attrs['censor_date'].date()}")
print(f"{title}\nPopulation: {population}\nSelected: first = {first!r}; then = {then!r}")
for c in caveats:
    print("Caveat:", c)
cols = [c for c in ["sex", "ethnicity_group", "age_band"] if c in oo.columns]
counts = outputs.save_table(oo[cols + ["n_index", "events_within"]], "ordered_n",
                            f"people with a first {first_is}, and with a {then_is} within {within_days} days",
                            population, comments=caveats)
incidence = outputs.save_table(oo[cols + ["cumulative_incidence", "ci_lower", "ci_upper", "naive_proportion", "n_index"]],
                               "ordered", f"{title}: cumulative incidence (1 - KM, censored on {oo.attrs['censor_date'].date()} "
                               "when the data of the second event stop being observed) and naive proportion (complete "
                               "follow-up)",
                               population, statistic="proportion", counts="n_index", comments=caveats)
incidence.table

# %% [markdown]
# ## Linkage sensitivity

# %%
if all_sets:
    sens = linkage.sets_sensitivity(extract, drop_rate=drop_rate, merge_rate=merge_rate, reps=3, seed=0)
    # Relative change of each exclusive count under perturbed linkage; the counts behind it are checked.
    rel = pd.DataFrame({"combination": sens["combination"], "exclusive": sens["exclusive"],
                        "change_low_pct": 100 * (sens["exclusive_min"] - sens["exclusive"]) / sens["exclusive"].where(sens["exclusive"] > 0),
                        "change_high_pct": 100 * (sens["exclusive_max"] - sens["exclusive"]) / sens["exclusive"].where(sens["exclusive"] > 0)})
    outputs.save_table(rel, "linkage_sensitivity",
                       f"change in overlap counts under perturbed linkage (drop {drop_rate:.0%} of links, merge {merge_rate:.0%})",
                       "people with an event in the common window", statistic="percent_change", counts="exclusive").status

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
from djs_toolkit.brief.words import count, dataset, share, years

rows = incidence.table.reset_index().dropna(subset=["cumulative_incidence", "ci_lower", "ci_upper", "n_index"])
who = {"M": "men", "F": "women"}
lines = [f"Of {count(r['n_index'])} {who.get(str(r[cols[0]]), f'people ({r[cols[0]]})') if cols else 'people'} with "
         f"{dataset(first)}, {share(r['cumulative_incidence'], r['ci_lower'], r['ci_upper'])} had "
         f"{dataset(then)} within {years(within_days)}."
         for _, r in rows.sort_values("n_index", ascending=False).head(3).iterrows()]
if lines:
    outputs.save_text("finding", " ".join(lines), f"how often {dataset(then)} follows {dataset(first)}", population,
                      sources=["ordered"])
