"""A planted, confounded effect of a family-court order on children's later criminal court entry (target trial).

Population: children (party role Child) in a public-law case that ends with a care order or a supervision order
between 2013-01-01 and the extract end, aged 10-17 at the case end (time zero; the look-back of prior contacts
then lies inside the magistrates' window) as the records give the age (age at the case start plus whole years
since, as the spine's ``family_order`` events carry it), so an analysis can select the same children. For them
the generator replaces what the careers simulation drew after time zero:

- Treatment. The case's order is drawn again between ``Supervision order`` (treated) and ``Care order``
  (control) from a logistic propensity in the case's eldest eligible child's covariates at time zero:
  ``logit P(supervision) = family_effect_propensity . x``, with x = 1, age at time zero minus 13 (as recorded),
  female, one prior contact, two or more prior contacts (distinct offence dates in the 730 days up to time zero).
  Riskier children (older, boys, with prior contacts) get care orders more often: confounding.
- Outcome. The first offence after time zero comes from a constant hazard
  ``family_effect_rate_per_year * exp(family_effect_log_hr * supervision + family_effect_outcome_log_hr . x)``
  (no latent class, no frailty: the covariates above are the only confounders, all recorded at time zero); the
  child's career then continues as any other from that offence (`careers.simulate_careers` with ``starts``).
  Offences the careers simulation had drawn after time zero are dropped. A child's index still waiting for its next
  offence at time zero leads to the planted one, so that re-entry follows this hazard, not ``reentry_log_hr``: about
  50 of the 40,000 indexes of 2014-2019 in ``small``, all aged 10-17 (seed 0: the error-free fit's age 10-17
  coefficient moves by 0.05 SE), too few to matter for the re-entry truth, which does not exclude them.

IMD is not a confounder here on purpose: children's records (family parties) hold no address, so the spine knows
an IMD decile only for children with an earlier criminal record; a confounder that is unrecorded for most of the
population would make the planted effect unrecoverable (the analysis should say so, as an E-value does).

Truth (``truth/family_effect.csv``, ``truth/family_effect_children.parquet``): the planted conditional hazard ratio,
and the marginal risks at 1, 2 and 3 years under each strategy, their difference and ratio, and the marginal hazard
ratio over the follow-up an analysis has (censored at 2020-07-01, the magistrates' Common Platform cliff less the
183-day waiting period), for the whole eligible population (``ate``: inverse-probability weights) and for the
overlap population (``ato``: overlap weights, p(1 - p)). They come from each child's two potential outcomes (the
same exponential draw under either order), not from the observed arms.

Example:
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> sorted(DummyConfig().family_effect_propensity)
    ['age_minus_13', 'female', 'intercept', 'prior_1', 'prior_2_plus']
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from djs_toolkit.dummy.careers import Careers, simulate_careers
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day_of
from djs_toolkit.dummy.family import CASE_TYPES, CHILD, FamilyOut
from djs_toolkit.dummy.frames import Ctx
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.population import Persons
from djs_toolkit.dummy.writer import part_name, write_table
from djs_toolkit.schema import EXTRACT_END

__all__ = ["FOLLOW_UP_END", "TIME_ZERO_FROM", "family_effect_truth", "plant_family_effect"]

TREATED, CONTROL = "Supervision order", "Care order"
TIME_ZERO_FROM = dt.date(2013, 1, 1)
FOLLOW_UP_END = dt.date(2020, 7, 1)  # magistrates' observed_until (2020-12-31) less the 183-day waiting period
TIMES = (365, 730, 1095)
_TERMS = ("age_minus_13", "female", "prior_1", "prior_2_plus")
_STREAM = 1021  # this module's random stream, apart from the generator's own (generate._STREAMS)


def _design(age: np.ndarray, female: np.ndarray, prior: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "age_minus_13": (age - 13).astype(np.float64),
        "female": female.astype(np.float64),
        "prior_1": (prior == 1).astype(np.float64),
        "prior_2_plus": (prior >= 2).astype(np.float64),
    }


def _eligible(persons: Persons, fam: FamilyOut) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(party row, case, time zero) of the eligible children."""
    cs, pa_ = fam.cases, fam.parties
    case = pa_["case"]
    end = cs["end"][case]
    order = cs["order"][case]
    ok = (
        (pa_["role"] == CHILD)
        & (cs["case_type"][case] == CASE_TYPES.index("Public law"))
        & ((order == TREATED) | (order == CONTROL))
        & (end != NA)
        & (end >= day_of(TIME_ZERO_FROM))
    )
    rows = np.flatnonzero(ok)
    age = _recorded_age(persons, fam, rows)
    rows = rows[(age >= 10) & (age <= 17)]
    return rows, case[rows], cs["end"][case[rows]]


def _recorded_age(persons: Persons, fam: FamilyOut, rows: np.ndarray) -> np.ndarray:
    """Age at the order as the records give it: age at the case start plus whole years since (spine.sql._age).

    Eligibility and the age covariate use it, so the generator's population is the one an analysis can select."""
    case = fam.parties["case"][rows]
    start, end = fam.cases["start"][case], fam.cases["end"][case]
    return age_years(persons.dob[fam.parties["person"][rows]], start) + np.floor((end - start) / 365.25).astype(
        np.int64
    )


def plant_family_effect(
    seed: int, chunk: int, ctx: Ctx, fam: FamilyOut, careers: Careers, truth_dir: Path, multipart: bool
) -> Careers:
    """Draw the eligible children's orders and first offences after time zero; returns the careers to write.

    ``fam.cases["order"]`` is changed in place; the truth rows of this chunk are written to ``truth_dir``.

    Example:
        >>> # plant_family_effect(seed, ch, ctx, fam, careers, out / "truth", multipart)  (dummy.generate)
    """
    cfg, persons = ctx.cfg, ctx.persons
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, _STREAM]))
    rows, case, t0 = _eligible(persons, fam)
    kid = fam.parties["person"][rows]
    c, ix = careers.contacts, careers.indexes
    if kid.size == 0 or not c:
        return careers
    prior = EventIndex(c["person"], c["offence_date"]).count(kid, t0, cfg.lookback_days)
    x = _design(_recorded_age(persons, fam, rows), persons.sex[kid] == 1, prior)
    ps_coef = cfg.family_effect_propensity
    lin = ps_coef["intercept"] + np.sum([ps_coef[k] * x[k] for k in _TERMS], axis=0)
    # One order per case: the propensity of the case's eldest eligible child (younger siblings are as ignorable
    # given their own covariates: their outcome does not depend on the sibling's).
    order = np.lexsort((-x["age_minus_13"], case))
    first = order[np.r_[True, case[order][1:] != case[order][:-1]]]
    cases_u, p_case = case[first], 1.0 / (1.0 + np.exp(-lin[first]))
    treated_case = rng.random(cases_u.size) < p_case
    fam.cases["order"][cases_u] = np.where(treated_case, TREATED, CONTROL)
    pos = np.searchsorted(cases_u, case)  # lexsort by case: cases_u is sorted
    arm, ps = treated_case[pos].astype(np.int64), p_case[pos]
    out_coef = cfg.family_effect_outcome_log_hr
    lp0 = np.sum([out_coef[k] * x[k] for k in _TERMS], axis=0)
    rate0 = cfg.family_effect_rate_per_year / 365.25 * np.exp(lp0)  # per day, under a care order
    rate1 = rate0 * np.exp(cfg.family_effect_log_hr)
    e = rng.exponential(1.0, kid.size)
    t_obs = e / np.where(arm == 1, rate1, rate0)
    nxt = t0 + np.maximum(np.ceil(t_obs), 1).astype(np.int64)
    # Drop what the careers simulation drew after time zero (offences, and the indexes of their contacts).
    kid_t0 = np.full(persons.n, NA, dtype=np.int64)
    kid_t0[kid] = t0
    late = (kid_t0[c["person"]] != NA) & (c["offence_date"] > kid_t0[c["person"]])
    keep_ix = ~late[c["index_type"] >= 0]
    c = {k: v[~late] for k, v in c.items()}
    ix = {k: v[keep_ix] for k, v in ix.items()}
    # Indexes still waiting at time zero (next offence after it, or none drawn before the extract end) lead to the
    # child's first offence after their index date among those drawn here, set once the careers are continued:
    # the planted one, or a later one for an index dated after it (a contact before time zero whose case ends
    # after). Left as they were, an index with none drawn kept none, and one dated after the planted offence lost
    # its next offence, while the files hold both (truth/index_events said "no re-entry" where there was one).
    p_ix = ix["person"]
    waiting = (kid_t0[p_ix] != NA) & ((ix["next_offence"] == NA) | (ix["next_offence"] > kid_t0[p_ix]))
    go = nxt <= day_of(EXTRACT_END)
    earlier = np.isin(c["person"], kid[go])  # their offences up to time zero: prior contacts of later indexes
    cont = simulate_careers(
        rng,
        persons,
        cfg,
        EventIndex(np.zeros(0, np.int64), np.zeros(0, np.int64)),
        EventIndex(np.zeros(0, np.int64), np.zeros(0, np.int64)),
        starts=(kid[go], nxt[go]),
        history=(c["person"][earlier], c["offence_date"][earlier]),
    )
    drawn = cont.contacts or {"person": np.zeros(0, np.int64), "offence_date": np.zeros(0, np.int64)}
    first = EventIndex(drawn["person"], drawn["offence_date"]).next_after(p_ix[waiting], ix["index_date"][waiting])
    ix["next_offence"][waiting] = np.where(first >= 0, first, NA)
    if cont.contacts:
        c = {k: np.concatenate([c[k], cont.contacts[k]]) for k in c}
        ix = {k: np.concatenate([ix[k], cont.indexes[k]]) for k in ix}
    rows_tbl = pa.table(
        {
            "true_person_id": ctx.ids("person", persons.pid[kid]),
            "time_zero": pa.array(t0.astype(np.int32)).cast(pa.date32()),
            "age_at_time_zero": (x["age_minus_13"] + 13).astype(np.int64),
            "female": x["female"].astype(bool),
            "prior_contacts_730d": prior.astype(np.int64),
            "supervision": arm.astype(bool),
            "propensity": ps,
            "rate_care": rate0,
            "rate_supervision": rate1,
            "days_to_offence": t_obs,
        }
    )
    write_table(
        rows_tbl,
        truth_dir / part_name("family_effect_children", chunk + 1 if multipart else None, "parquet"),
        "parquet",
    )
    return Careers(contacts=c, indexes=ix)


def _cox_binary(time: np.ndarray, event: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """Log hazard ratio of a weighted Cox model with one 0/1 covariate (continuous times: no ties)."""
    o = np.argsort(-time, kind="stable")
    d_, x_, w_ = event[o], x[o], w[o]
    b = 0.0
    for _ in range(50):
        r = np.exp(b * x_) * w_
        s0, s1 = np.cumsum(r), np.cumsum(r * x_)
        m = s1 / s0
        score = float((w_ * d_ * (x_ - m)).sum())
        info = float((w_ * d_ * (m - m**2)).sum())
        step = score / info
        b += step
        if abs(step) < 1e-12:
            break
    return b


def family_effect_truth(truth_dir: Path, cfg: DummyConfig) -> None:
    """Write ``truth/family_effect.csv`` from the chunks' ``family_effect_children`` parts.

    Example:
        >>> # family_effect_truth(out / "truth", cfg)  (dummy.generate, after every chunk)
    """
    parts = sorted(truth_dir.glob("family_effect_children*.parquet"))
    lines = ["estimand,quantity,time_days,value,definition"]
    lines.append(f"conditional,log_hr,,{cfg.family_effect_log_hr!r},planted log hazard ratio supervision vs care order")
    if parts:
        t = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
        fu = (np.datetime64(FOLLOW_UP_END) - t["time_zero"].to_numpy(dtype="datetime64[D]")).astype(np.int64)
        t = t[fu > 0]
        fu = fu[fu > 0]
        ps = t["propensity"].to_numpy()
        r0, r1 = t["rate_care"].to_numpy(), t["rate_supervision"].to_numpy()
        e = t["days_to_offence"].to_numpy() * np.where(t["supervision"], r1, r0)  # the child's exponential draw
        n = len(t)
        lines.append(f"population,n_children,,{n},eligible children with time zero before {FOLLOW_UP_END}")
        lines.append(f"population,n_supervision,,{int(t['supervision'].sum())},of them with a supervision order")
        for name, w in (("ate", np.ones(n)), ("ato", ps * (1 - ps))):
            for tau in TIMES:
                f0 = float(np.average(1 - np.exp(-r0 * tau), weights=w))
                f1 = float(np.average(1 - np.exp(-r1 * tau), weights=w))
                lines.append(f"{name},risk_care,{tau},{f0!r},marginal risk of a criminal offence by then")
                lines.append(f"{name},risk_supervision,{tau},{f1!r},marginal risk of a criminal offence by then")
                lines.append(f"{name},risk_difference,{tau},{f1 - f0!r},supervision minus care")
                lines.append(f"{name},risk_ratio,{tau},{f1 / f0!r},supervision over care")
            tt = np.r_[np.minimum(e / r0, fu), np.minimum(e / r1, fu)]
            ev = np.r_[e / r0 <= fu, e / r1 <= fu].astype(np.float64)
            b = _cox_binary(tt, ev, np.r_[np.zeros(n), np.ones(n)], np.r_[w, w])
            lines.append(f"{name},marginal_log_hr,,{b!r},Cox on both potential outcomes over the analysable follow-up")
    (truth_dir / "family_effect.csv").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
