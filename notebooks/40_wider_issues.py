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
# # 40 Journeys of people with housing or family problems through the jurisdictions
#
# **Question.** People with housing or family problems (a possession claim against them, or a family court case
# as an adult party): how do they move between the jurisdictions? Which transitions between courts, prison and
# probation are common among them, how long do they take, and do they differ by sex, ethnicity or age?
#
# **Method.** The population is named by event selectors (`population`, docs/methods.md §7.1): people with one of
# those events in the window all datasets cover. Each such person's contacts (a new court case, custody, probation
# start, family or civil case) in that window, in time order; a transition is a contact followed, as the next
# contact, by one in another jurisdiction (`djs_toolkit.analyses.journeys.transitions`), counted over their whole
# journey in the window, or only from their first population event on (`from_population_event`). Counts protected
# as a table with true totals over the groups (`save_table(..., margins=...)`: computed from the unprotected counts
# and protected with the table, never a sum of protected cells); the heatmap draws those totals, a withheld total as
# "c", never as 0. Median days between contacts released only where enough transitions lie behind them.
#
# **Population.** As the selectors say (their descriptions are printed below and are each table's population line):
# by default people with a landlord or mortgage possession claim against them, or a family court case (any type)
# as an applicant or respondent, in the common window, with at least two contacts in different jurisdictions.
#
# **Caveats.** Linkage error splits and merges journeys; civil and family data link worse, so transitions
# into and out of them are undercounted; organisations are never persons; an event whose filtered column is not
# recorded is never selected (a civil party without a recorded role is not a defendant); the selectors' own caveats
# are printed below and go to the output checker.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
group_by: str = "sex"  # breakdown, "" for none; choices: sex, ethnicity_group, age_band, ""
within_days: int = 365  # count a transition only within this many days, 0 for any gap
population: list = ["civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant", "family_case_start: party_role=Applicant,Respondent"]  # who is studied: event selectors (docs/methods.md §7.1), people with any of them
from_population_event: bool = False  # count only transitions from the person's first population event on

# %%
import textwrap

import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from djs_toolkit import flows, journeys, open_extract, outputs, overlap, spine
from djs_toolkit.plotting import flows_plot, heatmap_plot, km_plot, upset_plot
from djs_toolkit.analyses import proven_reoffending, proven_reoffending_offenders, reentry_cohort
from djs_toolkit.survival import cif, cox, finegray, km, kmunicate_table

outputs.configure(profile=profile)
extract = open_extract(data_root)

# %%
tr = journeys.transitions(extract, within_days=within_days or None, by=group_by or None, population=population,
                          from_population_event=from_population_event)
start, end = (t.date() for t in tr.attrs["window"])
who = tr.attrs["population"]
since = ", from their first such event on" if from_population_event else ""
pop_line = f"people with {who}, dated {start} to {end}; their transitions in that window{since}"
gap = f" within {within_days} days" if within_days else ""
caveats = list(tr.attrs["caveats"])
print(f"Population: {pop_line}\nSelected: {population!r}")
for c in caveats:
    print("Caveat:", c)

# %% [markdown]
# Transitions with their true totals over the groups (the "All" column: computed from the unprotected counts and
# protected with the table, never added up from protected cells).

# %%
keys = ["from_dataset", "to_dataset"] + ([group_by] if group_by else [])
# A move from a jurisdiction to itself is not a transition: those zeros are structural, in the counts and in the
# counts behind the median days (declared for the jurisdictions that are both a from and a to in the table).
same = sorted(set(tr["from_dataset"]) & set(tr["to_dataset"]))
itself = [(d, d, *g) for d in same for g in ([(v,) for v in tr[group_by].unique()] if group_by else [()])]
counts = outputs.save_table(tr[keys + ["transitions"]], "transitions",
                            f"transitions between jurisdictions{gap}" + (f", by {group_by} with totals" if group_by else ""),
                            pop_line, margins=group_by or False, comments=caveats,
                            structural_zeros=[(d, d) for d in same])
counts.table.head(12)

# %%
medians = outputs.save_table(tr[keys + ["median_days", "transitions"]], "transition_days",
                             f"median days from one contact to the next in another jurisdiction{gap}",
                             f"transitions of {pop_line}", statistic="median", counts="transitions", comments=caveats,
                             structural_zeros=itself)
medians.table.reset_index().head(12)

# %%
# The heatmap draws the published totals ("All" of the margins, or the counts themselves without a breakdown): a
# withheld total is marked "c", never drawn as 0, and no total is a sum of protected cells. Drawn from the released
# table only, the figure takes its status and names it. A rounding profile names the released columns for their
# rounding (opensafely: `All_rounded5`): read them by that name.
total = ("All" if group_by else "transitions") + counts.properties.get("rounding_label", "")
title = textwrap.fill(f"Transitions between jurisdictions{gap}: people with {who}", 60)
fig = heatmap_plot(counts, "from_dataset", "to_dataset", total, title=title,
                   xlabel="To", ylabel="From", colorbar_label="Transitions")
# heatmap_plot leaves room for one title line: add the height of the others above the plot, everything else
# staying where it is in inches.
w, h = fig.get_size_inches()
extra = 0.3 * title.count("\n")
for a in fig.axes:
    x0, y0, aw, ah = a.get_position().bounds
    a.set_position((x0, y0 * h / (h + extra), aw, ah * h / (h + extra)))
for t in fig.texts:
    t.set_y(t.get_position()[1] * h / (h + extra) + (extra / (h + extra) if t.get_position()[1] > 0.5 else 0))
fig.set_size_inches(w, h + extra)
outputs.save_figure(fig, "transitions_fig", underlying=counts, source=counts)
plt.close(fig)

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
from djs_toolkit.brief.words import SOURCES, count, source

moves = counts.table.reset_index()  # `total`: the released totals' column, as the heatmap draws it
if total in moves.columns:
    # one part of the justice system to another: not the margins' "All" row, not a move within one
    moves = moves[moves["from_dataset"].isin(list(SOURCES)) & moves["to_dataset"].isin(list(SOURCES))]
    moves = moves[moves["from_dataset"] != moves["to_dataset"]].dropna(subset=[total])
if total in moves.columns and len(moves):
    top = moves.sort_values(total).iloc[-1]
    outputs.save_text("finding", f"Among the people studied, the most common move from one part of the justice system "
                      f"to another was from {source(str(top['from_dataset']))} to {source(str(top['to_dataset']))}: "
                      f"{count(top[total])} moves.", "the most common transition between jurisdictions", pop_line,
                      sources=["transitions"])
