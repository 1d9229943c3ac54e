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
# **Question.** Do wider problems (housing: possession claims; family: family court cases) move people
# between jurisdictions? Which transitions between courts, prison and probation are common, how long do
# they take, and do they differ by sex, ethnicity or age?
#
# **Method.** Each person's contacts (a new court case, custody, probation start, family or civil case) in
# the window all datasets cover, in time order; a transition is a contact followed, as the next contact,
# by one in another jurisdiction (`djs_toolkit.analyses.journeys.transitions`). Counts protected as a table;
# median days between contacts released only where enough transitions lie behind them.
#
# **Population.** People with at least two contacts in different datasets in the common window.
#
# **Caveats.** Linkage error splits and merges journeys; civil and family data link worse, so transitions
# into and out of them are undercounted; organisations are never persons.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
group_by: str = "sex"  # breakdown, "" for none; choices: sex, ethnicity_group, age_band, ""
within_days: int = 365  # count a transition only within this many days, 0 for any gap

# %%
import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from djs_toolkit import flows, journeys, open_extract, outputs, overlap, spine
from djs_toolkit.plotting import flows_plot, km_plot, upset_plot
from djs_toolkit.analyses import proven_reoffending, proven_reoffending_offenders, reentry_cohort
from djs_toolkit.survival import cif, cox, finegray, km, kmunicate_table

outputs.configure(profile=profile)
extract = open_extract(data_root)

# %%
tr = journeys.transitions(extract, within_days=within_days or None, by=group_by or None)
keys = ["from_dataset", "to_dataset"] + ([group_by] if group_by else [])
counts = outputs.save_table(tr[keys + ["transitions"]], "transitions",
                            f"transitions between jurisdictions{' within ' + str(within_days) + ' days' if within_days else ''}",
                            "people with contacts in two jurisdictions in the common window")
counts.table.reset_index().head(12)

# %%
medians = outputs.save_table(tr[keys + ["median_days", "transitions"]], "transition_days",
                             "median days from one contact to the next in another jurisdiction",
                             "transitions in the common window", statistic="median", counts="transitions")
medians.table.reset_index().head(12)

# %%
overall = counts.table.reset_index().groupby(["from_dataset", "to_dataset"], observed=True)["transitions"].sum(min_count=1)
grid = overall.unstack("to_dataset")
fig, ax = plt.subplots(figsize=(8, 6))
im = ax.imshow(grid.to_numpy(dtype=float), cmap="Blues")
ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right"); ax.set_yticks(range(grid.shape[0]), grid.index)
for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
    ax.text(j, i, "c" if np.isnan(v) else f"{v:,.0f}", ha="center", va="center", fontsize=8)
ax.set_xlabel("to"); ax.set_ylabel("from"); ax.set_title("Transitions (protected; c = withheld)")
outputs.save_figure(fig, "transitions_fig", underlying=counts)
plt.close(fig)
