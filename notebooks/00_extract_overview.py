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
# # 00 Extract overview
#
# **Question.** What does this extract hold: is it valid, how many records per dataset and year and people per dataset,
# and over which dates is each dataset complete?
#
# **Method.** `open_extract` + `validate()` (every problem with its fix, counts only); the person-event
# spine (`djs_toolkit.spine`) counts events and people per dataset and year inside DuckDB; coverage
# windows come from the schema.
#
# **Population.** Every record in the extract linked to a person through `xjs_link`.
#
# **Caveats.** Magistrates' and Crown Court coverage falls from 2021 (Common Platform); probation covers
# referrals 2014-2020 only; prison journeys begun before 2011 are left-censored; linkage error (false
# merges and splits) is expected, worse in family and civil data.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)

# %%
import pandas as pd

from djs_toolkit import open_extract, outputs, spine
from djs_toolkit.plotting import trend_plot

outputs.configure(profile=profile)
extract = open_extract(data_root)

# %%
report = extract.validate()
# Totals only: the full report stays in the secure environment (it may hold small counts).
print(f"validation: {'OK' if report.ok else 'FAILED'}; {report.n_errors} error(s), {report.n_warnings} warning(s)")
print("problem kinds:", ", ".join(sorted(set(report.problems["kind"]))) or "none")

# %% [markdown]
# ## Volumes by dataset and year

# %%
volumes = spine.event_counts(extract, by=["dataset", "year"])
# A year before a dataset's coverage starts or after it ends cannot hold its records: those zeros are structural
# (declared, not zeros for the checker to judge), except before the start of a left-censored dataset (prison keeps
# journeys begun earlier) and after the end of probation, whose window is one of referral dates (supervision of a
# referral made in it ends later). Years after observed_until but inside the window hold records (a coverage cliff).
cov = spine.coverage(extract).set_index("dataset")
outside = [(year, d) for d in volumes["dataset"].unique() for year in volumes["year"].unique()
           if (year < cov.at[d, "start"].year and not cov.at[d, "left_censored"])
           or (year > cov.at[d, "end"].year and d != "probation_delius")]
vol = outputs.save_table(volumes[["dataset", "year", "events"]], "volumes",
                         "events per dataset and calendar year", "all linked person-events in the extract",
                         index="year", structural_zeros=outside)
# People per dataset over the whole extract, not per year: beside events per dataset-year, people per dataset-year
# would give by subtraction how few people had a second event in a year (the output checker fails that pair).
per_dataset = spine.event_counts(extract, by=["dataset"])
people = outputs.save_table(per_dataset[["dataset", "persons"]], "people",
                            "distinct people with an event per dataset over the whole extract",
                            "all linked persons in the extract", index="dataset")
vol.table.reset_index().head(12)

# %%
# Drawn from the released table only: whole-year ticks, datasets by name in the schema's order, withheld years
# left as gaps marked "c" (never drawn as 0), so the figure takes the table's status and names it. The table holds
# a 0 for every year a dataset has no record; the years before a dataset's first and after its last record are not
# drawn (no records there is not a measured 0). A rounding profile names the released column for its rounding
# (opensafely: `events_rounded5`): read it by that name.
events = "events" + vol.properties.get("rounding_label", "")
end = pd.Timestamp(extract.extract_end)
partial = f" ({end.year}: to {end:%-d %B})" if (end.month, end.day) != (12, 31) else ""
fig = trend_plot(vol, "year", events, by="dataset", title="Linked person-events per dataset and calendar year",
                 xlabel=f"Calendar year{partial}", ylabel="Events", legend_title="Dataset", trim_zeros=True)
outputs.save_figure(fig, "volumes_fig", underlying=vol, source=vol)

# %% [markdown]
# ## Coverage windows
# Every later analysis censors at `observed_until` (window end, the day before a coverage cliff, or the data cut-off).

# %%
spine.coverage(extract)[["dataset", "start", "end", "cliff", "observed_until", "present"]]

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
from djs_toolkit.brief.words import count, source

shown = vol.table.reset_index().dropna(subset=[events])
full = shown[shown["year"] < end.year] if partial else shown  # a part year is not compared with whole ones
if len(full):
    year = int(full["year"].max())
    top = full[full["year"] == year].sort_values(events).iloc[-1]
    outputs.save_text("finding", f"In {year}, more linked events came from {source(str(top['dataset']))} than from any "
                      f"other part of the justice system: {count(top[events])} events.",
                      "the dataset with the most linked events in the last whole year", sources=["volumes"])
