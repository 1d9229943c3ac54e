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
# # 50 Journeys through the jurisdictions after a housing or family problem
#
# **Question.** After a first possession claim, a first Family Law Act case (non-molestation and occupation
# orders) or first care proceedings, where are people over the next three years: out of contact, or in the civil
# courts, the family courts, the criminal courts, custody or probation? How often do they move between these, in
# what order, and does that differ by sex, ethnicity or age?
#
# **Method.** A multi-state model (`djs_toolkit.journeys.multistate`, docs/methods.md §5.5). Time zero is the
# person's first start event. Each day a person is in the state of their active contact (a court case from its
# start to its result; a custodial journey from reception to release; a probation event from referral to
# termination; a family case from issue to disposal; a civil claim from issue to its last order or warrant); with
# several active, the most restrictive (custody, then probation, criminal court, family, civil); with none, no
# contact. A contact whose end is not recorded counts as active for 90 days after its last date. The probability
# of being in each state at each time is the Aalen-Johansen estimate with 95% intervals (infinitesimal jackknife,
# as R `survival::survfit`); moves between states are counted per year of follow-up with their cumulative
# intensities (Nelson-Aalen); the first three moves are drawn as a sequence figure.
#
# **Population.** People with a first start event of the chosen kind in the data: possession claims against the
# person (defendants); Family Law Act cases and public law (care) cases, every party (adults and children).
# Followed up to the horizon or to the last day every dataset involved observes (the Common Platform cliff ends the
# magistrates' data in 2020), whichever comes first (right censoring); a start event before the first day every
# dataset covers (probation data start in 2014) is followed from that day (left truncation).
#
# **What is released.** Three count tables, each protected with its margins: people in each state at each
# reporting time (rows stop once fewer than the threshold are followed), moves per transition and year, and the
# first three moves. Probabilities and intensities are published only where the counts behind them are; the
# figures are drawn only from these tables, and withheld parts are marked "c", never drawn as 0.
#
# **Caveats.** The state rule is a choice: a contact ends when the court or service closes it, not when the
# problem ends, and open contacts count for 90 days. Linkage error splits and merges journeys, and civil and
# family records link worse, so moves into and out of them are undercounted. A breakdown group is read at the start
# event (what the person's records up to then say). The probabilities need no Markov assumption under independent
# censoring; transition probabilities between two later times would, and are not shown.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
start: str = "possession"  # start event; choices: possession, family_law_act, care
group_by: str = ""  # breakdown at the start event, "" for none; choices: sex, ethnicity_group, age_band, ""
horizon_days: int = 1095  # follow-up from the start event, in days
step_days: int = 91  # spacing of the reporting times of the state counts and probabilities

# %%
import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt

from djs_toolkit import journeys, open_extract, outputs
from djs_toolkit.plotting import occupation_plot, sequence_plot

outputs.configure(profile=profile)
extract = open_extract(data_root)
STARTS = {  # the start events, as event selectors (docs/methods.md §7.1) or index types
    "possession": ("possession_claim", "a possession claim against them"),
    "family_law_act": ("family_case_start: case_type=Family Law Act", "a Family Law Act case"),
    "care": ("family_case_start: case_type=Public law", "care proceedings (a public law case)"),
}
selector, what = STARTS[start]
by = group_by or None

# %%
j = journeys.multistate(extract, selector, horizon_days=horizon_days, by=by, step_days=step_days,
                        session=outputs.session(), name="journeys")
population = (f"people with a first {what} in the data, followed for up to {horizon_days} days "
              f"(window {j.info['window'][0].date()} to {j.info['window'][1].date()})")
print(f"{j.info['people']:,} people; {j.info['late_entries']:,} followed from the window's start (late entry)")

# %% [markdown]
# ## Where people are at each time
# Counts of people in each state at each reporting time (the margins are the people followed then), and the
# probabilities of being in each state with their 95% intervals (three tables: estimate, lower and upper limit).

# %%
states = outputs.save_table(j.counts, "states", f"people in each state at each time since {what}", population)
keys = ([by] if by else []) + ["time"]


def wide(frame, column, across):
    """One statistic laid out like the protected count tables: rows by group and time, one column per state."""
    return frame.set_index(keys + [across])[column].unstack(across)


occ, behind = j.occupation, j.counts_behind["occupation"]
order = list(j.states)
people = wide(behind, "estimate", "state")[order]  # unprotected counts: given to the checker, never printed
# At time zero the start event's own contact is active, so nobody followed from then is in a state the rule ranks
# below it (no contact; civil too after a family case): those zeros are structural, declared cell by cell.
below = ["no contact"] + (["civil"] if start != "possession" else [])
at_start = people.index.get_level_values("time") == 0
impossible = people.assign(**{s: at_start & (s in below) for s in people.columns})  # True: cannot occur
occupation = outputs.save_table(
    wide(occ, "estimate", "state")[order], "occupation",
    f"probability of being in each state at each time since {what} (Aalen-Johansen)",
    population, statistic="probability", counts=people, structural_zeros=impossible)
bounds = {b: outputs.save_table(
    wide(occ, f"ci_{b}", "state")[order], f"occupation_{b}",
    f"{b} 95% limit of the probability of being in each state at each time since {what}",
    population, statistic="probability", counts=people, structural_zeros=impossible) for b in ("lower", "upper")}
occupation.table.reset_index().head(12)

# %%
# Drawn from the released probabilities only, cell for cell (withheld where the release withholds them, which may be
# more than j.occupation withholds): the figure takes their status and names them.
fig = occupation_plot(occupation, by=by, title=f"Where people are after {what}")
outputs.save_figure(fig, "occupation_fig", underlying=occupation, source=occupation)
plt.close(fig)

# %% [markdown]
# ## Moves between states
# Moves per transition and year of follow-up, and the cumulative intensity of each move (expected number of such
# moves per person in the from-state) at the end of each year, published where every year's count up to then is
# (its 95% interval is in `j.intensities`, for the researcher).

# %%
moves = outputs.save_table(j.transitions, "moves", f"moves between states per year since {what}", population)
keys = ([by] if by else []) + ["transition"]
intensities = outputs.save_table(
    j.intensities.set_index(keys + ["time"])["cumhaz"].unstack("time"), "intensities",
    f"cumulative intensity of each move at the end of each year since {what} (Nelson-Aalen)",
    population, statistic="cumulative_hazard",
    counts=j.counts_behind["intensities"].set_index(keys + ["time"])["estimate"].unstack("time"))
intensities.table.reset_index().head(12)

# %% [markdown]
# ## The first three moves
# From the state at time zero, the next state after each of the first three moves (or the end of follow-up), for
# people followed from time zero; the figure draws only the released flows.

# %%
sequences = outputs.save_table(j.sequences, "sequences", f"first three moves after {what}",
                               population + "; people followed from time zero")
fig = sequence_plot(sequences, title=f"First moves after {what}")
outputs.save_figure(fig, "sequences_fig", underlying=sequences, source=sequences)  # drawn from the released flows only
plt.close(fig)

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
import pandas as pd

from djs_toolkit.brief.words import days, share

where = {"civil": "in a civil court case", "family": "in a family court case",
         "criminal court": "in a criminal court case", "custody": "in prison custody", "probation": "on probation"}
tables = [t.table.reset_index() for t in (occupation, bounds["lower"], bounds["upper"])]
lines = []
if len(tables[0]) and "time" in tables[0].columns:
    last = tables[0][tables[0]["time"] == tables[0]["time"].max()].iloc[0]  # last reporting time, first group
    e, lo, hi = (t[(t["time"] == last["time"]) & ((t[by] == last[by]) if by else True)].iloc[0] for t in tables)
    group = f" ({by.replace('_', ' ')}: {last[by]})" if by else ""
    found = [(e[s], lo[s], hi[s], s) for s in where if s in e.index and pd.notna([e[s], lo[s], hi[s]]).all()]
    lines = [f"{days(last['time']).capitalize()} after {what}, {share(p, p_lo, p_hi)} of people{group} were "
             f"{where[s]}." for p, p_lo, p_hi, s in sorted(found, reverse=True)[:2]]
if lines:
    outputs.save_text("finding", " ".join(lines), f"where people are at the end of follow-up after {what}",
                      population, sources=["occupation", "occupation_lower", "occupation_upper"])
