"""Write the research notebooks (output-stripped, kernel python3) from the cell sources below.

The notebooks in notebooks/ are the source researchers edit; this script wrote their first version
and re-writes them when the toolkit's notebook template changes: `python tools/build_notebooks.py`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NB = Path(__file__).resolve().parents[1] / "notebooks"

SETUP = """import matplotlib
matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from djs_toolkit import flows, journeys, open_extract, outputs, overlap, spine
from djs_toolkit.plotting import flows_plot, km_plot, upset_plot
from djs_toolkit.analyses import proven_reoffending, proven_reoffending_offenders, reentry_cohort
from djs_toolkit.survival import cif, cox, finegray, km, kmunicate_table

outputs.configure(profile=profile)
extract = open_extract(data_root)"""

PARAMS = """data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)"""


def notebook(cells: list[tuple[str, str]], params: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = []
    first_md = cells[0]
    out.append(nbformat.v4.new_markdown_cell(first_md[1]))
    p = nbformat.v4.new_code_cell(PARAMS + ("\n" + params if params else ""))
    p.metadata["tags"] = ["parameters"]
    out.append(p)
    out.append(nbformat.v4.new_code_cell(SETUP))
    for kind, src in cells[1:]:
        out.append(nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src))
    for i, c in enumerate(out):
        c["id"] = f"c{i:02d}"
    nb.cells = out
    return nb


OVERVIEW = [
    (
        "md",
        """# 00 Extract overview

**Question.** What does this extract hold: is it valid, how many records and people per dataset and
year, and over which dates is each dataset complete?

**Method.** `open_extract` + `validate()` (every problem with its fix, counts only); the person-event
spine (`djs_toolkit.spine`) counts events and people per dataset and year inside DuckDB; coverage
windows come from the schema.

**Population.** Every record in the extract linked to a person through `xjs_link`.

**Caveats.** Magistrates' and Crown Court coverage falls from 2021 (Common Platform); probation covers
referrals 2014-2020 only; prison journeys begun before 2011 are left-censored; linkage error (false
merges and splits) is expected, worse in family and civil data.""",
    ),
    (
        "code",
        """report = extract.validate()
# Totals only: the full report stays in the secure environment (it may hold small counts).
print(f"validation: {'OK' if report.ok else 'FAILED'}; {report.n_errors} error(s), {report.n_warnings} warning(s)")
print("problem kinds:", ", ".join(sorted(set(report.problems["kind"]))) or "none")""",
    ),
    ("md", "## Volumes by dataset and year"),
    (
        "code",
        """volumes = spine.event_counts(extract, by=["dataset", "year"])
vol = outputs.save_table(volumes[["dataset", "year", "events"]], "volumes",
                         "events per dataset and calendar year", "all linked person-events in the extract",
                         index="year")
people = outputs.save_table(volumes[["dataset", "year", "persons"]], "people",
                            "distinct people with an event per dataset and calendar year",
                            "all linked persons in the extract", index="year")
vol.table.reset_index().head(12)""",
    ),
    (
        "code",
        """fig, ax = plt.subplots(figsize=(9, 5))
styles = ["-", "--", ":", "-.", (0, (3, 1, 1, 1)), (0, (5, 2))]
for (name, g), ls in zip(vol.table.reset_index().groupby("dataset", observed=True), styles * 3):
    ax.plot(g["year"], g["events"], linestyle=ls, marker="o", label=name)
ax.set_xlabel("Year"); ax.set_ylabel("Events (protected)"); ax.legend(frameon=False, fontsize=8)
outputs.save_figure(fig, "volumes_fig", underlying=vol)
plt.close(fig)""",
    ),
    (
        "md",
        "## Coverage windows\nEvery later analysis censors at `observed_until` (window end, the day before a coverage cliff, or the data cut-off).",
    ),
    ("code", """spine.coverage(extract)[["dataset", "start", "end", "cliff", "observed_until", "present"]]"""),
]

REENTRY = [
    (
        "md",
        """# 10 Re-entry after release, court disposal or probation start

**Question.** How soon, and how often, do people come back to the criminal courts after an index event,
and which characteristics go with faster re-entry? How does this compare with the MoJ's proven
reoffending measure?

**Method.** `reentry_cohort` builds one row per index event from the spine: follow-up on street time
(days in custody are not at risk), censored where the courts stop being observed, outcome dated by the
new offence. Kaplan-Meier and Aalen-Johansen curves with KMunicate tables; Cox (Efron, person-clustered
robust SE) and Fine-Gray regressions; MoJ-style court-proven reoffending in 3-month cohorts beside the
survival-based cumulative incidence at 365 days.

**Population.** Index events of the chosen type inside the index dataset's coverage window.

**Caveats.** Court-proven only: Data First has no cautions or police records, so rates undercount the
official measure. Linkage error moves people's histories between identities. Offences in the last six
months before coverage ends are not yet proven and are outside follow-up.""",
    ),
    (
        "code",
        """cohort = reentry_cohort(extract, index_type, outcome=outcome, competing=[competing] if competing else None)
cohort["reentered"] = (cohort["event"] == 1).astype(int)
times = [int(t) for t in kmunicate_times.split(",")]
summary = cohort.groupby(["event", "censor_reason"], observed=True).size().rename("index_events")
outputs.save_table(summary, "cohort", f"{index_type} index events by outcome and censoring reason",
                   f"{index_type} index events, outcome {outcome}").table""",
    ),
    (
        "md",
        """## Kaplan-Meier by sex, with the KMunicate table

People whose sex is not recorded form a group of their own ("Missing"). When that group is small, its cells
are withheld, and secondary suppression may withhold another group's rows with them, because the totals
are published; the figure then leaves that curve out rather than let the small group be worked out.""",
    ),
    (
        "code",
        """sex = cohort["sex"].astype("object").fillna("Missing").astype(str)
curve = km(cohort.assign(sex=sex), "duration", "reentered", by="sex")
table = kmunicate_table(curve, times, by="sex")
# The KMunicate table: at risk, cumulative events and censored are counts, checked as counts; the
# estimates and intervals at those times are released only where their counts are.
risk = outputs.save_table(table[["sex", "time", "n_at_risk", "cum_events", "cum_censored"]], "km_counts",
                          f"KMunicate table: at risk, events and censored by time since {index_type}, by sex",
                          f"{index_type} index events", index="time")
km_saved = outputs.save_table(table[["sex", "time", "estimate", "ci_lower", "ci_upper", "n_at_risk"]], "km",
                              f"Kaplan-Meier: proportion not yet back ({outcome}) by days since {index_type}, by sex",
                              f"{index_type} index events", statistic="survival", counts="n_at_risk", index="time")
km_saved.table.reset_index().head(10)""",
    ),
    (
        "code",
        """shown = km_saved.table.reset_index()
fig = km_plot(shown, risk.table.reset_index(), by="sex", ylabel="Not yet back in court")
outputs.save_figure(fig, "km_fig", underlying=km_saved)
plt.close(fig)""",
    ),
    ("md", "## Cumulative incidence with a competing event"),
    (
        "code",
        """ci = cif(cohort, "duration", "event", cause=1)
ci_table = kmunicate_table(ci, times)
outputs.save_table(ci_table[["time", "estimate", "ci_lower", "ci_upper", "n_at_risk"]], "cif",
                   f"Aalen-Johansen cumulative incidence of {outcome} after {index_type} (competing: {competing or 'none'})",
                   f"{index_type} index events", statistic="cumulative_incidence", counts="n_at_risk",
                   index="time").table""",
    ),
    ("md", "## Cox and Fine-Gray regression"),
    (
        "code",
        """model = cohort[cohort["sex"].isin(["M", "F"])].copy()
# Civil and family records carry no age: unknown age is its own band rather than a dropped row.
model["age_band"] = model["age_band"].astype("object").fillna("unknown")
model["female"] = (model["sex"] == "F").astype(int)
model["log1p_priors"] = np.log1p(model["prior_contacts"])
model["imd_q1"] = model["imd_decile"].astype("float").isin([1, 2]).astype(int)
covariates = ["female", "age_band", "log1p_priors", "imd_q1", "prior_possession_claim", "prior_family_case"]
model[["prior_possession_claim", "prior_family_case"]] = model[["prior_possession_claim", "prior_family_case"]].astype(int)
covariates = [c for c in covariates if model[c].nunique() > 1]
if covariates and model["reentered"].sum() >= 10:
    cox_fit = cox(model, "duration", "reentered", covariates, cluster="person_id")
    cox_out = outputs.save_table(sdc.regression(cox_fit, name="cox", description="Cox model of re-entry",
                                                population=f"{index_type} index events with known sex"),
                                 "cox", f"Cox: hazard of {outcome} after {index_type}",
                                 f"{index_type} index events with known sex")
    display(cox_out.table)
else:
    print("Cox model not fitted: fewer than 10 outcome events or no varying covariate")""",
    ),
    (
        "code",
        """if covariates and (model["event"] == 2).sum() >= 10 and model["reentered"].sum() >= 10:
    fg_fit = finegray(model, "duration", "event", cause=1, covariates=covariates)
    fg_out = outputs.save_table(sdc.regression(fg_fit, name="finegray", description="Fine-Gray model",
                                               population=f"{index_type} index events"),
                                "finegray", f"Fine-Gray: subdistribution hazard of {outcome} (competing: {competing})",
                                f"{index_type} index events with known age and sex")
    display(fg_out.table)
else:
    print("Fine-Gray not fitted: fewer than 10 competing events")""",
    ),
    (
        "md",
        """## MoJ-style court-proven reoffending, beside the survival estimate

These measures cover every index type at once, so a pipeline computes them in one run only
(`pr_measures`); the other runs skip them.""",
    ),
    (
        "code",
        """if pr_measures:
    pr = proven_reoffending(extract)
    counts = pr[["cohort", "n_offenders", "n_reoffenders", "reoffences"]]
    outputs.save_table(counts, "pr_counts", "court-proven reoffending: offenders, reoffenders, reoffences per 3-month cohort",
                       "first eligible index per person per cohort (release, non-custodial conviction, probation start)")
    rates = pr[["cohort", "rate", "adjusted_rate", "cif_365", "n_offenders"]]
    outputs.save_table(rates, "pr_rates", "court-proven reoffending rate, adjusted rate and survival-based CIF at 365 days",
                       "first eligible index per person per cohort", statistic="rate", counts="n_offenders").status""",
    ),
    (
        "code",
        """if pr_measures:
    # By index type over every cohort with complete follow-up (quarterly cells by type are mostly small).
    # Summed from the per-cohort counts: no offender-level rows leave the engine (about 6 million nationally).
    per_cohort = proven_reoffending(extract, by="index_type", with_cif=False)
    by_type = per_cohort.groupby("index_type")[["n_offenders", "n_reoffenders", "reoffences"]].sum()
    outputs.save_table(by_type, "pr_by_type", "court-proven reoffending by index type, all complete cohorts",
                       "first eligible index per person per cohort").status""",
    ),
]

OVERLAPS = [
    (
        "md",
        """# 20 Overlaps between civil, family and criminal justice users

**Question.** How many people appear in more than one jurisdiction, and how often does a civil or family
court event come before a criminal justice contact (e.g. a possession claim then a criminal case within a
year; a Family Law Act case then a criminal case or probation; care proceedings then custody)?

**Method.** Memberships from the spine restricted to the window all compared datasets cover (so
overlaps are not deflated by different coverage); exclusive and inclusive counts protected as one linked
table (an LP attacker audit proves no withheld intersection can be recovered from published set sizes);
ordered overlaps as cumulative incidence with censoring at coverage end, plus the naive proportion among
those with complete follow-up; linkage sensitivity by perturbing links.

**Population.** People with an event in the common coverage window of the datasets compared.

**Caveats.** Linkage error (worse in family and civil data) changes overlaps; organisations are never
persons; magistrates' fines and possession claims are approximated by event types available in the
spine (see parameters).""",
    ),
    (
        "md",
        """## Overlaps of all datasets

The same for every pair of datasets, so a pipeline computes it in one run only (`all_sets`).""",
    ),
    (
        "code",
        """if all_sets:
    sets = overlap.overlap_sets(extract)
    sets_out = overlap.protect_overlap(sets, sdc, name="overlap_sets")
    saved = outputs.save_table(sets_out, "overlap_sets", "people by exact combination of datasets (exclusive) and at least these (inclusive)",
                               f"people with an event {sets.attrs['window'][0].date()} to {sets.attrs['window'][1].date()}")
    print(f"{len(saved.table)} combinations: {saved.status}")""",
    ),
    (
        "code",
        """if all_sets:
    fig = upset_plot(saved, max_combinations=20, title="People across jurisdictions (protected counts)")
    outputs.save_figure(fig, "upset_fig", underlying=saved)
    plt.close(fig)""",
    ),
    ("md", "## Ordered overlap"),
    (
        "code",
        """oo = overlap.ordered_overlap(extract, first, then, within_days, by=by or None)
cols = [c for c in ["sex", "ethnicity_group", "age_band"] if c in oo.columns]
counts = outputs.save_table(oo[cols + ["n_index", "events_within"]], "ordered_n",
                            f"people with a first {first}, and with {then} within {within_days} days",
                            f"people with a first {first} in the common window")
incidence = outputs.save_table(oo[cols + ["cumulative_incidence", "ci_lower", "ci_upper", "naive_proportion", "n_index"]],
                               "ordered", f"{then} within {within_days} days of a first {first}: cumulative incidence "
                               "(1 - KM, censored at coverage end) and naive proportion (complete follow-up)",
                               f"people with a first {first} in the common window", statistic="proportion",
                               counts="n_index")
incidence.table""",
    ),
    ("md", "## Linkage sensitivity"),
    (
        "code",
        """if all_sets:
    sens = linkage.sets_sensitivity(extract, drop_rate=drop_rate, merge_rate=merge_rate, reps=3, seed=0)
    # Relative change of each exclusive count under perturbed linkage; the counts behind it are checked.
    rel = pd.DataFrame({"combination": sens["combination"], "exclusive": sens["exclusive"],
                        "change_low_pct": 100 * (sens["exclusive_min"] - sens["exclusive"]) / sens["exclusive"].where(sens["exclusive"] > 0),
                        "change_high_pct": 100 * (sens["exclusive_max"] - sens["exclusive"]) / sens["exclusive"].where(sens["exclusive"] > 0)})
    outputs.save_table(rel, "linkage_sensitivity",
                       f"change in overlap counts under perturbed linkage (drop {drop_rate:.0%} of links, merge {merge_rate:.0%})",
                       "people with an event in the common window", statistic="percent_change", counts="exclusive").status""",
    ),
]

FLOWS = [
    (
        "md",
        """# 30 Flows into the justice system over time

**Question.** How many people enter the justice system for the first time each month, how many come
back, and how many move from one jurisdiction to another? Did court closures (March 2020), the evictions
ban (March 2020 - May 2021) and the cost-of-living crisis (from 2022) change these flows?

**Method.** Monthly counts from the spine (`flows.monthly_flows`) with a wash-out look-back so that left
truncation at data start does not inflate first entries; segmented Poisson regression (`flows.its`) with
level and slope changes, Fourier seasonality, HAC errors and the counterfactual.

**Population.** People with a contact in the chosen datasets.

**Caveats.** Recent months are incomplete (flagged); coverage cliffs (Common Platform from 2021) move
flows out of the data, which an ITS reads as a change unless the series ends before the cliff.""",
    ),
    (
        "code",
        """monthly = flows.monthly_flows(extract, kind=kind, first=first or None, then=then or None)
series_name = series_dataset if kind != "transition" else monthly["dataset"].iloc[0]
series = monthly[(monthly["dataset"] == series_name) & ~monthly["incomplete"]].reset_index(drop=True)
saved = outputs.save_table(series[["month", "count"]].assign(month=series["month"].dt.strftime("%Y-%m")),
                           "flows", f"people per month: {kind} ({series_name})", "people with a contact in the datasets")
protected = saved.table.reset_index()
protected.tail()""",
    ),
    (
        "code",
        """ok = protected.dropna(subset=["count"])
s = ok.set_index(pd.PeriodIndex(ok["month"], freq="M").to_timestamp())["count"]
s = s[s.index < end_month]
# Only breaks with at least six observed months after them can be estimated.
inside = lambda months: [m for m in months.split(",") if m and pd.Timestamp(m) + pd.DateOffset(months=6) <= s.index.max()]
fit = None
if len(s) >= 36 and (s > 0).sum() >= 24:  # enough observed months with flows to model
    fit = flows.its(s, interruptions=inside(interruptions), ramps=inside(ramps))
    display(outputs.save_table(fit.params.reset_index(), "its", f"interrupted time series of {kind} flows (log rate ratios)",
                               "monthly counts (protected)", statistic="coefficient").table)
else:
    print("ITS not fitted: fewer than 24 months with flows in the protected series")""",
    ),
    (
        "code",
        """shown = protected.assign(month=pd.PeriodIndex(protected["month"], freq="M").to_timestamp())
fig = flows_plot(shown, fit, title=f"{kind} per month, with counterfactual")
outputs.save_figure(fig, "flows_fig", underlying=saved)
plt.close(fig)""",
    ),
]


WIDER = [
    (
        "md",
        """# 40 Journeys of people with housing or family problems through the jurisdictions

**Question.** Do wider problems (housing: possession claims; family: family court cases) move people
between jurisdictions? Which transitions between courts, prison and probation are common, how long do
they take, and do they differ by sex, ethnicity or age?

**Method.** Each person's contacts (a new court case, custody, probation start, family or civil case) in
the window all datasets cover, in time order; a transition is a contact followed, as the next contact,
by one in another jurisdiction (`djs_toolkit.analyses.journeys.transitions`). Counts protected as a table;
median days between contacts released only where enough transitions lie behind them.

**Population.** People with at least two contacts in different datasets in the common window.

**Caveats.** Linkage error splits and merges journeys; civil and family data link worse, so transitions
into and out of them are undercounted; organisations are never persons.""",
    ),
    (
        "code",
        """tr = journeys.transitions(extract, within_days=within_days or None, by=group_by or None)
keys = ["from_dataset", "to_dataset"] + ([group_by] if group_by else [])
counts = outputs.save_table(tr[keys + ["transitions"]], "transitions",
                            f"transitions between jurisdictions{' within ' + str(within_days) + ' days' if within_days else ''}",
                            "people with contacts in two jurisdictions in the common window")
counts.table.reset_index().head(12)""",
    ),
    (
        "code",
        """medians = outputs.save_table(tr[keys + ["median_days", "transitions"]], "transition_days",
                             "median days from one contact to the next in another jurisdiction",
                             "transitions in the common window", statistic="median", counts="transitions")
medians.table.reset_index().head(12)""",
    ),
    (
        "code",
        """overall = counts.table.reset_index().groupby(["from_dataset", "to_dataset"], observed=True)["transitions"].sum(min_count=1)
grid = overall.unstack("to_dataset")
fig, ax = plt.subplots(figsize=(8, 6))
im = ax.imshow(grid.to_numpy(dtype=float), cmap="Blues")
ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right"); ax.set_yticks(range(grid.shape[0]), grid.index)
for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
    ax.text(j, i, "c" if np.isnan(v) else f"{v:,.0f}", ha="center", va="center", fontsize=8)
ax.set_xlabel("to"); ax.set_ylabel("from"); ax.set_title("Transitions (protected; c = withheld)")
outputs.save_figure(fig, "transitions_fig", underlying=counts)
plt.close(fig)""",
    ),
]


def main() -> None:
    NB.mkdir(exist_ok=True)
    specs = {
        "00_extract_overview.ipynb": (OVERVIEW, ""),
        "10_reentry.ipynb": (
            REENTRY,
            """index_type: str = "release"  # release | court_disposal | probation_start | possession_claim | family_case
outcome: str = "any_criminal_court"  # any_criminal_court | magistrates | custody | any_justice_contact
competing: str = "custody_start"  # event type ending follow-up as a competing event, empty for none
kmunicate_times: str = "0,90,180,365,730"  # days at which the KMunicate table is reported
pr_measures: bool = True  # also the MoJ proven-reoffending measures (the same for every index type: one run per pipeline)""",
        ),
        "20_overlaps.ipynb": (
            OVERLAPS,
            """first: str = "civil_claim"  # dataset label or event type that comes first
then: str = "mags_hocas"  # dataset label or event type that follows
within_days: int = 365  # how soon after `first`
by: str = "sex"  # sex | ethnicity_group | age_band | empty for no breakdown
drop_rate: float = 0.02  # linkage sensitivity: share of cross-dataset links dropped
merge_rate: float = 0.01  # linkage sensitivity: share of clusters merged
all_sets: bool = True  # also the overlaps of all datasets (UpSet) and their linkage sensitivity (the same for every pair: one run per pipeline)""",
        ),
        "40_wider_issues.ipynb": (
            WIDER,
            """group_by: str = "sex"  # sex | ethnicity_group | age_band | empty for no breakdown
within_days: int = 365  # count a transition only within this many days, 0 for any gap""",
        ),
        "30_flows.ipynb": (
            FLOWS,
            """kind: str = "first_entry"  # first_entry | re_entry | transition
series_dataset: str = "any"  # dataset label whose series is modelled, any for all datasets
first: str = ""  # for transitions: dataset label or event type first
then: str = ""  # for transitions: dataset label or event type after
interruptions: str = "2020-03"  # comma-separated months of level/slope changes
ramps: str = "2022-01"  # comma-separated months where a ramp starts (cost of living); ignored if too late
end_month: str = "2021-01-01"  # fit the series before this date (Common Platform cliff)""",
        ),
    }
    for name, (cells, params) in specs.items():
        nbformat.write(notebook(cells, params), NB / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
