"""Step 3a: criminal careers as a self-exciting sequence of contacts.

Onset. A person's first offence comes from a piecewise-constant (quarterly) hazard: an age curve
(rising from 10, peak 16-21, then falling) times the latent class multiplier, times
``exp(first_log_hr . z)`` with z = female, most-deprived quintile, a possession claim against them
in the last 730 days, a family case as an adult party in the last 730 days (cross-jurisdiction
pathways, docs/data.md §13.6: assumptions).

Re-entry. After every contact the case runs its course (`casework.process`) and yields an index
event (court disposal, probation start, or release, after any remand, sentence and recall: time in
custody is not time at risk). The time to the next offence is then drawn on street time from a
proportional-hazards model whose baseline is a Weibull hazard delayed by c days,

    h(t | x) = (k / s) ((t + c) / s)^(k - 1) exp(beta' x),

highest at the index and decreasing, but finite there: a plain Weibull with k < 1 is infinite at
t = 0 and put a third of the re-entries on day 1 (see `DummyConfig`). x holds only covariates
observable in the data at the index date (see `covariates`): no unobserved frailty, so a Cox model
on a re-entry cohort recovers beta up to linkage error and other data defects. The
prior-contact count feeds back into x, producing the heavy tail of repeat defendants (docs/data.md
§13.2: 18 % return six or more times). The loop runs over contact number k for all persons at once.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> from djs_toolkit.dummy.population import make_persons
    >>> from djs_toolkit.dummy.lookback import EventIndex
    >>> cfg = DummyConfig()
    >>> p = make_persons(np.random.default_rng(0), 500, cfg, 0)
    >>> none = EventIndex(np.zeros(0, int), np.zeros(0, int))
    >>> c = simulate_careers(np.random.default_rng(0), p, cfg, none, none)
    >>> set(c.indexes) >= {"person", "index_date", "next_offence"}
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from djs_toolkit.dummy.casework import process
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day_of
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.population import Persons
from djs_toolkit.schema import EXTRACT_END

if TYPE_CHECKING:
    from djs_toolkit.dummy.pathways import Planter

__all__ = ["COVARIATES", "Careers", "covariates", "simulate_careers"]

END = day_of(EXTRACT_END)
RING = 48  # offences remembered per person: more than 48 in 730 days does not happen here
COVARIATES = (
    "female",
    "age_10_17",
    "age_18_24",
    "age_35_49",
    "age_50_plus",
    "log1p_prior_contacts_730d",
    "index_release",
    "index_probation_start",
    "imd_most_deprived_quintile",
    "prior_possession_claim_730d",
    "prior_family_case_730d",
)


@dataclass
class Careers:
    """All contacts (one per offence, i.e. per magistrates' case) and all index events.

    Attributes:
        contacts: column arrays from `casework.process`, one element per contact.
        indexes: one element per index event: ``person``, ``index_date``, ``index_type``,
            the covariates in COVARIATES, ``sentence_days`` of the contact, ``next_offence``
            (day, or NA if beyond the extract end).
    """

    contacts: dict[str, np.ndarray]
    indexes: dict[str, np.ndarray]


def covariates(
    persons: Persons,
    p: np.ndarray,
    at: np.ndarray,
    index_type: np.ndarray,
    prior: np.ndarray,
    poss: EventIndex,
    fam: EventIndex,
    window: int,
) -> dict[str, np.ndarray]:
    """The re-entry covariates at index date ``at`` (definitions in truth/README.md).

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> ps = make_persons(np.random.default_rng(0), 3, DummyConfig(), 0)
        >>> e = EventIndex(np.zeros(0, int), np.zeros(0, int))
        >>> x = covariates(ps, np.arange(3), np.full(3, 16000), np.zeros(3, int), np.ones(3, int), e, e, 730)
        >>> float(x["log1p_prior_contacts_730d"][0]) > 0.69
        True
    """
    age = age_years(persons.dob[p], at)
    return {
        "female": (persons.sex[p] == 1).astype(np.float64),
        "age_10_17": (age < 18).astype(np.float64),
        "age_18_24": ((age >= 18) & (age < 25)).astype(np.float64),
        "age_35_49": ((age >= 35) & (age < 50)).astype(np.float64),
        "age_50_plus": (age >= 50).astype(np.float64),
        "log1p_prior_contacts_730d": np.log1p(prior).astype(np.float64),
        "index_release": (index_type == 1).astype(np.float64),
        "index_probation_start": (index_type == 2).astype(np.float64),
        "imd_most_deprived_quintile": (persons.imd[p] <= 2).astype(np.float64),
        "prior_possession_claim_730d": (poss.count(p, at, window) > 0).astype(np.float64),
        "prior_family_case_730d": (fam.count(p, at, window) > 0).astype(np.float64),
    }


def _onset(
    rng: np.random.Generator, persons: Persons, cfg: DummyConfig, poss: EventIndex, fam: EventIndex
) -> tuple[np.ndarray, np.ndarray]:
    """First-offence days (people with an onset before the extract end only)."""
    mult = np.array(cfg.crim_class_mult)[persons.crim_class]
    cand = np.flatnonzero(mult > 0)
    start = day_of(cfg.sim_start)
    steps = np.arange(start, END + 1, 91, dtype=np.int64)
    g = cfg.first_log_hr
    base_lp = g["female"] * (persons.sex[cand] == 1) + g["imd_most_deprived_quintile"] * (persons.imd[cand] <= 2)
    rate = cfg.first_rate_per_year / 365.25 * mult[cand] * np.exp(base_lp)
    e = rng.exponential(1.0, cand.size)
    onset = np.full(cand.size, NA, dtype=np.int64)
    cum = np.zeros(cand.size)
    touched = np.isin(cand, poss.people) | np.isin(cand, fam.people)
    for s in steps:
        age = (s - persons.dob[cand]) / 365.25
        curve = np.where(
            age < 10, 0.0, np.where(age < 16, (age - 10) / 6, np.where(age < 21, 1.0, np.exp(-(age - 21) / 9)))
        )
        h = rate * curve
        if touched.any():
            t = np.flatnonzero(touched)
            lp = g["prior_possession_claim_730d"] * (
                poss.count(cand[t], np.full(t.size, s), cfg.lookback_days) > 0
            ) + g["prior_family_case_730d"] * (fam.count(cand[t], np.full(t.size, s), cfg.lookback_days) > 0)
            h[t] *= np.exp(lp)
        width = min(91, END + 1 - s)
        new_cum = cum + h * width
        hit = (onset == NA) & (new_cum >= e)
        frac = (e[hit] - cum[hit]) / np.maximum(h[hit], 1e-12)
        onset[hit] = s + np.minimum(np.floor(frac).astype(np.int64), width - 1)
        cum = new_cum
    ok = onset != NA
    return cand[ok], onset[ok]


def simulate_careers(
    rng: np.random.Generator,
    persons: Persons,
    cfg: DummyConfig,
    poss: EventIndex,
    fam: EventIndex,
    planter: Planter | None = None,
    starts: tuple[np.ndarray, np.ndarray] | None = None,
    history: tuple[np.ndarray, np.ndarray] | None = None,
) -> Careers:
    """Simulate every criminal contact from ``cfg.sim_start`` to the extract end.

    Args:
        rng: the chunk's career generator.
        persons: the population (children included).
        cfg: configuration.
        poss: possession claims against each person (look-back events).
        fam: family cases with the person as an adult party (look-back events).
        starts: (person, day) offences to continue careers from instead of onsets (a planted outcome,
            `dummy.family_effect`), after the ``history`` (person, day) of their earlier offences.
        planter: the planted pathways (`pathways.Planter`): triggered onsets, and possession claims after
            fines that join ``poss`` as they happen.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(3), 300, DummyConfig(), 0)
        >>> e = EventIndex(np.zeros(0, int), np.zeros(0, int))
        >>> c = simulate_careers(np.random.default_rng(3), p, DummyConfig(), e, e)
        >>> bool((c.contacts["offence_date"] <= END).all())
        True
    """
    beta = cfg.reentry_log_hr
    k_shape, scale, delay = cfg.weibull_shape, cfg.weibull_scale_days, cfg.weibull_delay_days
    W = cfg.lookback_days
    hist = np.full((persons.n, RING), -(10**9), dtype=np.int64)
    ptr = np.zeros(persons.n, dtype=np.int64)
    if starts is None:
        p, off = _onset(rng, persons, cfg, poss, fam)
    else:
        p, off = starts
        if history is not None and history[0].size:  # earlier offences count as prior contacts
            o = np.lexsort((history[1], history[0]))
            hp, hd = np.asarray(history[0])[o], np.asarray(history[1])[o]
            k = np.arange(hp.size) - np.searchsorted(hp, hp, side="left")
            hist[hp, k % RING] = hd
            np.add.at(ptr, hp, 1)
    if planter is not None:
        p, off = planter.onset(p, off)
    contacts: list[dict[str, np.ndarray]] = []
    indexes: list[dict[str, np.ndarray]] = []
    while p.size:
        hist[p, ptr[p] % RING] = off
        ptr[p] += 1
        prior = ((hist[p] > (off - W)[:, None]) & (hist[p] <= off[:, None])).sum(axis=1)
        c = process(rng, cfg, persons, p, off, prior)
        contacts.append(c)
        planted = planter.after_contacts(c) if planter is not None else None
        if planted is not None:  # later indexes look back on them (none precedes its own contact's index)
            poss = poss.extended(*planted)
        go = c["index_type"] >= 0
        q, at, it = p[go], c["index_date"][go], c["index_type"][go]
        prior_at = ((hist[q] > (at - W)[:, None]) & (hist[q] <= at[:, None])).sum(axis=1)
        x = covariates(persons, q, at, it, prior_at, poss, fam, W)
        lp = sum(beta[name] * x[name] for name in COVARIATES)
        # Inverse of the PH survivor function S(t) = exp(-(((t + c)/s)^k - (c/s)^k) e^lp).
        e = rng.exponential(1.0, q.size) / np.exp(lp)
        t = scale * (e + (delay / scale) ** k_shape) ** (1.0 / k_shape) - delay
        nxt = at + np.maximum(np.ceil(t), 1).astype(np.int64)
        more = nxt <= END
        indexes.append(
            {
                "person": q,
                "index_date": at,
                "index_type": it,
                "sentence_days": c["sentence_days"][go],
                **x,
                "next_offence": np.where(more, nxt, NA),
            }
        )
        p, off = q[more], nxt[more]
    cat = {k: np.concatenate([c[k] for c in contacts]) for k in contacts[0]} if contacts else {}
    icat = {k: np.concatenate([c[k] for c in indexes]) for k in indexes[0]} if indexes else {}
    return Careers(contacts=cat, indexes=icat)
