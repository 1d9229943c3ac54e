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
# # 60 Family court outcomes: a fair comparison of similar public-law cases
#
# **Question.** The MoJ asked how "processes or policies in family law might divert young people away from
# entering or re-entering the criminal justice system, by reviewing a range of outcomes in similar public law
# cases". Here: for children aged 10-17 when public-law proceedings end, is a **supervision order** (the child
# usually stays at home under a local authority's supervision) followed by less or more criminal court contact
# than a **care order**, among children similar at the time of the order?
#
# **Why not simply compare the two groups.** Courts make care orders for children at greater risk: older
# children, boys, children already known to the criminal courts. A naive comparison mixes the effect of the order
# with those differences (confounding). We emulate the randomised trial we cannot run (a *target trial*) and
# weight the children so that the two groups are alike on what was known at the order.
#
# **Protocol** (the target trial and its emulation; printed again below from the code that ran):
#
# | element | target trial | emulation in Data First |
# |---|---|---|
# | eligibility | children 10-17 at the end of public-law proceedings with a care or supervision order | a child party's public-law family order, age recorded 10-17 (`eligibility` selector), from 2013 (prior contacts need two years of magistrates' data) |
# | treatment strategies | supervision order vs care order | the order made (`treated`, `control` selectors) |
# | assignment | random | the order the court made; confounding removed by weighting on the covariates below |
# | time zero | the order | the order's date (`grace_days` = 0: the order is the strategy) |
# | follow-up | to the outcome or end of study | to the first offence, or the magistrates' coverage end less the 6-month waiting period |
# | outcome | first criminal offence | first criminal court case after the order, dated by its offence |
# | estimand | average effect in all eligible children | `ipw`: all eligible children; `overlap`: children for whom both orders are common |
# | covariates | (none needed) | age at the order, sex, prior criminal contacts in 2 years, all measured on or before the order |
#
# **Outputs.** The flow from eligibility to analysis and the arm sizes with events (counts, protected); the balance
# table (standardised mean differences before and after weighting); weighted risks by 1, 2 and 3 years with their
# difference and ratio; the naive comparison beside them; a weighted hazard ratio with a cluster-robust interval;
# E-values (how strong an unmeasured confounder would have to be to explain the result away). Every weighted
# estimate is checked with the unweighted counts behind it and is withheld where those counts are.
#
# **Caveats.** Only what the records hold at the order can be adjusted for: family records hold no address, so
# IMD is known only for children with an earlier criminal record and is left out; care history, school exclusion
# and the reasons for proceedings are not in Data First (the E-value says how strong such a confounder would need
# to be). Linkage between family and criminal records is weaker for children (missed prior contacts and outcomes).
# Orders are a case's: siblings share theirs. On the dummy extract the numbers mean nothing about real children;
# the dummy plants a known effect (`truth/family_effect.csv`) that the weighted comparison recovers and the naive
# one misses.

# %% tags=["parameters"]
data_root: str = "../dummy/small"  # extract folder (djs run injects it)
profile: str = "srs"  # output-checking profile: srs | opensafely | acro (djs run injects it)
eligibility: str = "family_order: case_type=Public law; party_role=Child; age=10-17"  # time-zero events (docs/methods.md §7.1)
treated: str = "family_order: disposal=Supervision order"  # the strategy compared (its event starts it)
control: str = "family_order: disposal=Care order"  # the comparator strategy
outcome: str = "any_criminal_court"  # choices: any_criminal_court, magistrates, custody, any_justice_contact
method: str = "ipw"  # weighting; choices: ipw, overlap
grace_days: int = 0  # days after time zero within which a strategy may start
times: list = [365, 730, 1095]  # days at which risks are compared
covariates: list = ["age", "sex", "prior_contacts_band"]  # measured on or before time zero

# %%
import matplotlib

matplotlib.use("Agg")  # batch runs draw off-screen
import matplotlib.pyplot as plt
import pandas as pd

from djs_toolkit import compare, open_extract, outputs, spine

outputs.configure(profile=profile)
extract = open_extract(data_root)


def arm_label(selector: str) -> str:
    """An arm's name: the order (disposal) its selector names, else the selector itself."""
    disposal = dict(spine.as_selector(selector).filters).get("disposal", ())
    return disposal[0] if len(disposal) == 1 else selector


arm_names = {arm_label(treated): treated, arm_label(control): control}

# %%
result = compare.target_trial(extract, eligibility, arm_names, outcome=outcome, covariates=covariates,
                              grace_days=grace_days, method=method, times=times)
population = (f"{spine.as_selector(eligibility).describe()}, first such event per person, "
              f"followed by one of the two strategies (dates: see the protocol)")
pd.set_option("display.max_colwidth", 200)
result.protocol

# %% [markdown]
# Who was compared, and the weighting's diagnostics (not outputs: the notes say where to look harder).

# %%
for note in result.notes:
    print("Note:", note)
saved = {}
for kw in result.releasable():
    saved[kw["name"]] = outputs.save_table(**kw, population=population)
saved["flow"].table

# %%
saved["arms"].table

# %% [markdown]
# **Balance.** Standardised mean differences of each covariate (and level) between the arms: before weighting they
# show who gets which order; after weighting they should all be near 0 (under 0.1 is the usual rule).

# %%
saved["balance"].table

# %% [markdown]
# **Risks by time.** The weighted risk of a first criminal offence in each arm, their difference (supervision minus
# care) and ratio, with 95% intervals that count each child once (cluster-robust); the naive ones below for
# comparison.

# %%
saved["risks"].table

# %%
saved["risks_naive"].table

# %% [markdown]
# **Hazard ratio and E-values.** The weighted Cox hazard ratio with a cluster-robust interval, the naive one
# beside it. The E-value is the strength of association (risk-ratio scale) an unmeasured confounder would need with
# both the order and the outcome to explain the estimate away; `evalue_ci` does the same for the interval's limit
# nearer 1 (1 when the interval already includes 1).

# %%
saved["hazard_ratio"].table

# %%
# The figure is drawn only from the released cumulative-incidence table (a withheld point is a gap), so it takes the
# table's status and names it. A rounding profile names the released columns for their rounding (opensafely:
# `cif_rounded5`): read them by those names.
tag = saved["cif"].properties.get("rounding_label", "")
cif, lower, upper = (f"{c}{tag}" for c in ("cif", "cif_lower", "cif_upper"))
cif_tab = saved["cif"].table.reset_index()
fig, ax = plt.subplots(figsize=(7, 4.5))
for arm, g in cif_tab.groupby("arm"):
    ax.step(g["time"], g[cif], where="post", label=arm)
    ax.fill_between(g["time"], g[lower], g[upper], step="post", alpha=0.2)
ax.set_xlim(0, max(times))
ax.set_ylim(bottom=0)
withheld = cif_tab[cif].isna().sum()
if withheld:  # say so on the figure: a gap is withheld, not zero
    fig.subplots_adjust(bottom=0.18)
    fig.text(0.01, 0.01, f"{withheld} point(s) withheld (too few children behind them): gaps, not zeros.", fontsize=8)
ax.set_xlabel("Days since the order")
ax.set_ylabel("Weighted risk of a criminal offence")
ax.set_title(f"First criminal offence after the order, {method}-weighted")
ax.legend(title="Order")
outputs.save_figure(fig, "cif_fig", underlying=saved["cif"], source=saved["cif"])
plt.close(fig)

# %% [markdown]
# **Reading the result.** If the naive and weighted estimates differ, the difference is what confounding by age,
# sex and prior contacts did to the naive one. A weighted estimate is only as good as the covariates: read the
# E-value against what is known about unrecorded factors (care history, reasons for proceedings), and compare
# `method="overlap"` when some children's propensities are near 0 or 1.

# %%
# Finding: the headline in words, from the protected table only. outputs.save_text releases it only if every
# number in it is a released value of this run (or derived from one: a percentage, "1 in N", a difference); `djs
# brief` puts it first in the run's brief, word for word.
hr = saved["hazard_ratio"].table.reset_index() if "hazard_ratio" in saved else pd.DataFrame()
cols_needed = ["hr", "ci_lower", "ci_upper"]
if set(cols_needed) <= set(hr.columns):
    weighted = hr[hr.iloc[:, 0].astype(str) == "weighted"].dropna(subset=cols_needed)
    if len(weighted):
        r = weighted.iloc[0]
        outputs.save_text("finding", f"Weighted so that the two groups of children were alike at the order, children "
                          f"with a {str(result.treated).lower()} had a first criminal offence at {r['hr']:.2f} times the rate of "
                          f"children with a {str(result.control).lower()} (95% confidence interval {r['ci_lower']:.2f} to "
                          f"{r['ci_upper']:.2f}).", "the weighted hazard ratio in words", population,
                          sources=["hazard_ratio"])
