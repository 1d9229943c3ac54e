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
# # 30 Flows into the justice system over time
#
# **Question.** How many people enter the justice system for the first time each month, how many come
# back, and how many move from one named event to another (e.g. a possession claim against them, then a criminal
# case within a year)? Did court closures (March 2020), the evictions ban (March 2020 - May 2021) and the
# cost-of-living crisis (from 2022) change these flows? A transition names its two events with event selectors
# (`first`, `then`; docs/methods.md §7.1), and the table's title and population line are their descriptions.
#
# **Method.** Monthly counts from the spine (`flows.monthly_flows`) with a wash-out look-back so that left
# truncation at data start does not inflate first entries; segmented Poisson regression (`flows.its`, Lopez Bernal
# et al. 2017) with level and slope changes, Fourier seasonality and the counterfactual. Its standard errors allow
# for months that are correlated (an AR(1) part plus independent noise, fitted with the regression's own bias
# removed), which keeps 95% intervals at about 95% coverage where Newey-West errors fell to 83-87% (docs/measures.md
# §3). Groups are read at the counted event, from the person's records up to it (docs/measures.md §1.4).
#
# **The Covid-19 months.** By default the months from the court closures to the end of the evictions ban
# (2020-03 to 2021-05, `flows.COVID_MONTHS`) are left out of the fit, unless an interruption starts inside them
# (the court closures themselves: then the interruption models them); the fit's notes say which, and they are
# printed under the figure. Set `covid` to "" to keep them in.
#
# **Population.** First entries and re-entries: people with a contact in the chosen datasets. Transitions: people
# with a `then` event preceded by a `first` event within `within_days` (as the selectors say, printed below),
# counted in the month of the `then` event.
#
# **Caveats.** Recent months are incomplete (flagged) and left out of the fit; coverage cliffs (Common Platform
# from 2021) move flows out of the data, which an ITS reads as a change unless the series ends before the cliff.
# An interruption or ramp needs at least 6 fitted months on each side: one the series cannot support (for example
# because disclosure control withheld its last months) is not estimated, and a note under the figure and beside
# the table says so; the figure shows a counterfactual only when an interruption or ramp was fitted. An event whose
# filtered column is not recorded is never selected (the selectors' caveats are printed and go to the output checker).

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
kind: str = "first_entry"  # choices: first_entry, re_entry, transition
series_dataset: str = "any"  # dataset whose series is modelled, any for all; choices: any,
#   mags_hocas, crown_xhibit, prison_nomis, probation_delius, familyman, civil_caseman_pcol
first: str = ""  # for transitions: what comes first, an event selector (docs/methods.md §7.1), e.g. "civil_claim: party_role=Defendant"
then: str = ""  # for transitions: what follows, an event selector, e.g. "mags_case: case_type=Criminal"
within_days: int = 365  # for transitions: the most days from `first` to `then`
interruptions: str = "2020-03"  # comma-separated months of level/slope changes
ramps: str = "2022-01"  # comma-separated months where a ramp starts (cost of living); noted, not fitted, if too late
end_month: str = "2021-01-01"  # fit the series before this date (Common Platform cliff)
covid: str = "2020-03,2021-05"  # Covid-19 months left out of the fit unless an interruption models them; "" keeps them

# %%
import textwrap

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
monthly = flows.monthly_flows(extract, kind=kind, first=first or None, then=then or None, within_days=within_days)
series_name = series_dataset if kind != "transition" else monthly["dataset"].iloc[0]
series = monthly[(monthly["dataset"] == series_name) & ~monthly["incomplete"]].reset_index(drop=True)
caveats = list(monthly.attrs.get("caveats", ()))
if kind == "transition":
    first_is, then_is = monthly.attrs["first"], monthly.attrs["then"]
    described = f"people per month with a {then_is} within {within_days} days after a {first_is}"
    population = f"people with a {then_is} preceded by a {first_is} within {within_days} days, in the month of the former"
    print(f"{described}\nSelected: first = {first!r}; then = {then!r}")
else:
    described, population = f"people per month: {kind} ({series_name})", "people with a contact in the datasets"
for c in caveats:
    print("Caveat:", c)
saved = outputs.save_table(series[["month", "count"]].assign(month=series["month"].dt.strftime("%Y-%m")),
                           "flows", described, population, comments=caveats)
# The released series under its plain name: a rounding profile names the column for its rounding (opensafely:
# `count_rounded5`).
protected = saved.table.reset_index().rename(columns={"count" + saved.properties.get("rounding_label", ""): "count"})
protected.tail()

# %%
ok = protected.dropna(subset=["count"])
s = ok.set_index(pd.PeriodIndex(ok["month"], freq="M").to_timestamp())["count"]
s = s[s.index < end_month]
interruption_months = [m for m in interruptions.split(",") if m]
ramp_months = [m for m in ramps.split(",") if m]
covid_span = tuple(covid.split(",")) if covid else None
fit = None
if len(s) >= 36 and (s > 0).sum() >= 24:  # enough observed months with flows to model
    # An interruption or ramp the series cannot support (fewer than 6 fitted months on a side) is left out with a
    # note, never silently: the notes go beside the table and under the figure.
    fit = flows.its(s, interruptions=interruption_months, ramps=ramp_months, covid=covid_span, unsupported="note")
    notes = "; ".join(fit.notes)
    # Judged by the series it was fitted on (the protected counts above): counts per coefficient, points left over.
    its_saved = outputs.save_table(fit.params.reset_index(), "its", f"interrupted time series of {described} (log rate ratios)",
                                   "monthly counts (protected)" + (f"; {notes}" if notes else ""),
                                   statistic="coefficient", counts=s)
    display(its_saved.table)
    for note in fit.notes:
        print("ITS:", note)
else:
    print("ITS not fitted: fewer than 24 months with flows in the protected series")

# %%
shown = protected.assign(month=pd.PeriodIndex(protected["month"], freq="M").to_timestamp())
effects = [] if fit is None else [t for t in fit.params.index if t.startswith(("level_change_", "ramp_"))]
title = textwrap.fill((f"People per month with a {then_is} after a {first_is}" if kind == "transition"
                       else f"{kind} per month") + (", with counterfactual" if effects else ""), 95)
fig = flows_plot(shown, fit, title=title)  # the fit's notes go under the plot; no counterfactual without effects
fig.subplots_adjust(top=0.9 - 0.045 * title.count("\n"))  # room for a selector's long title, line by line
# Drawn only from the released series and the ITS fitted on it: the figure takes their status and names them.
outputs.save_figure(fig, "flows_fig", underlying=saved, source=[saved] + ([its_saved] if fit is not None else []))
plt.close(fig)

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
parts = []
if fit is not None:
    for _, r in fit.params.reset_index().iterrows():
        term = str(r.iloc[0])
        if term.startswith("level_change_") and pd.notna(r["ratio"]):
            when = pd.Timestamp(term.removeprefix("level_change_") + "-01").strftime("%B %Y")
            chance = "this could be chance" if r["ci_lower"] < 0 < r["ci_upper"] else "this is unlikely to be chance"
            parts.append(f"from {when} the monthly number was {r['ratio']:.2f} times what the trend before would "
                         f"give ({chance})")
if parts:
    outputs.save_text("finding", "Allowing for the trend and the time of year, " + "; ".join(parts) + ".",
                      f"the change in {kind} flows at each interruption", "monthly counts (protected)",
                      sources=["its"])
