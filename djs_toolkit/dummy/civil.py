"""Step 2b: civil court claims (CaseMan + PCOL, docs/data.md §8, §13.5).

Claims are drawn case-first per quarter: landlord possession (about 24,000 a quarter nationally,
social / private / accelerated 36 / 31 / 34 %) and mortgage possession (about 5,000 a quarter) from
docs/data.md §13.5; money claims and the rest are configured assumptions. Claimants are mostly organisations
(repeat institutional claimants: a few landlords and lenders bring many claims); defendants are
people, chosen with weights on latent adversity, so possession claims fall on the same people as
crime does. Possession proceedings were stayed in 2020 (COVID-19), so volumes dip then.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> from djs_toolkit.dummy.population import make_persons
    >>> p = make_persons(np.random.default_rng(0), 3000, DummyConfig(), 0)
    >>> out = simulate_civil(np.random.default_rng(2), p, DummyConfig(), 3000 / 1e7)
    >>> set(np.unique(out.parties["party_type"]).tolist()) <= {0, 1}
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from djs_toolkit.dummy.codes import codes_of
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import day, day_of
from djs_toolkit.dummy.population import Persons
from djs_toolkit.dummy.sampling import eligible_by_age, lognormal_days, pick_people
from djs_toolkit.schema import EXTRACT_END

__all__ = ["CLAIM_TYPES", "EVENT_TYPES", "CivilOut", "add_possession_claims", "possession_keys", "simulate_civil"]

CLAIM_TYPES = codes_of("civil_cases", "claim_type")
LANDLORD_TYPES = codes_of("civil_cases", "landlord_type")
EVENT_TYPES = codes_of("civil_events", "event_type")
PARTY_TYPES = codes_of("civil_parties", "party_type")
PARTY_ROLES = codes_of("civil_parties", "party_role")
END = day_of(EXTRACT_END)
LANDLORD, MORTGAGE = CLAIM_TYPES.index("Landlord possession"), CLAIM_TYPES.index("Mortgage possession")
POSSESSION = (LANDLORD, MORTGAGE)
# Organisation pools (repeat claimants) by claimant kind [assumption].
ORG_POOL = {"social": 1_800, "lettings": 6_000, "lender": 150, "creditor": 2_500, "other": 800}
ORG_BASE = {k: i * 1_000_000 for i, k in enumerate(ORG_POOL)}
# Quarterly multiplier of possession claims: the 2020 stay and recovery [I].
COVID = {(2020, 2): 0.04, (2020, 3): 0.25, (2020, 4): 0.5, (2021, 1): 0.55, (2021, 2): 0.75, (2021, 3): 0.85}


@dataclass
class CivilOut:
    """Simulated civil claims.

    Attributes:
        cases: ``claim_type``, ``landlord_type`` (-1 if none), ``issue``, ``amount``, ``region``.
        parties: ``case``, ``party_type`` (0 individual, 1 organisation), ``role`` (0 claimant,
            1 defendant), ``person`` (local index or -1), ``org`` (organisation number or -1).
        events: ``case``, ``event_type``, ``date``.
    """

    cases: dict[str, np.ndarray] = field(default_factory=dict)
    parties: dict[str, np.ndarray] = field(default_factory=dict)
    events: dict[str, np.ndarray] = field(default_factory=dict)


def _orgs(rng: np.random.Generator, kind: str, k: int) -> np.ndarray:
    # Zipf-like: a few organisations bring most claims.
    n = ORG_POOL[kind]
    r = np.minimum(np.floor(n * rng.random(k) ** 2.5), n - 1).astype(np.int64)
    return ORG_BASE[kind] + r


def simulate_civil(rng: np.random.Generator, persons: Persons, cfg: DummyConfig, scale: float) -> CivilOut:
    """Simulate civil claims from 2010 to the extract end for one chunk.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(0), 1000, DummyConfig(), 0)
        >>> simulate_civil(np.random.default_rng(0), p, DummyConfig(), 1000 / 1e7).cases["issue"].dtype
        dtype('int64')
    """
    ctype, ltype, issue, amount, region = [], [], [], [], []
    pc, pt, pr, pp, po = [], [], [], [], []
    n_case = 0
    adult = ~persons.child
    adv = persons.adversity
    partner = persons.partner
    per_q = {
        LANDLORD: cfg.landlord_claims_per_quarter,
        MORTGAGE: cfg.mortgage_claims_per_quarter,
        CLAIM_TYPES.index("Money (specified)"): cfg.money_claims_per_year * 0.85 / 4,
        CLAIM_TYPES.index("Money (unspecified)"): cfg.money_claims_per_year * 0.15 / 4,
        CLAIM_TYPES.index("Return of goods"): cfg.other_claims_per_year * 0.4 / 4,
        CLAIM_TYPES.index("Insolvency"): cfg.other_claims_per_year * 0.6 / 4,
    }
    # Defendant weights: possession and money claims fall on people with adversity (deprivation,
    # debt); mortgage possession less so (owners) [assumption].
    w_exp = {LANDLORD: 1.1, MORTGAGE: 0.3}
    for y in range(2010, EXTRACT_END.year + 1):
        el = eligible_by_age(persons.dob, y, 18, 80)
        el = el[adult[el]]
        for q in range(1, 5):
            q0 = day(y, 3 * q - 2, 1)
            if q0 > END:
                break
            q1 = min(day(y + (q == 4), (3 * q) % 12 + 1, 1), END + 1)
            for t, rate in per_q.items():
                mult = COVID.get((y, q), 1.0) if t in POSSESSION else 1.0
                k = int(rng.poisson(rate * scale * mult * (q1 - q0) / 91.3))
                if k == 0:
                    continue
                defendant = pick_people(rng, k, el, np.exp(w_exp.get(t, 0.7) * adv[el]))
                cases = n_case + np.arange(k)
                n_case += k
                ctype.append(np.full(k, t, dtype=np.int8))
                issue.append(q0 + np.floor(rng.random(k) * (q1 - q0)).astype(np.int64))
                region.append(persons.region[defendant])
                lt = np.full(k, -1, dtype=np.int8)
                if t == LANDLORD:
                    lt = rng.choice(3, size=k, p=np.array(cfg.landlord_type_p) / sum(cfg.landlord_type_p)).astype(
                        np.int8
                    )
                ltype.append(lt)
                med, sig = {LANDLORD: (3000, 0.8), MORTGAGE: (40000, 0.9)}.get(t, (1500, 1.2))
                amount.append(np.round(med * np.exp(sig * rng.standard_normal(k)), 2))
                # Claimant: organisation, or an individual landlord / creditor.
                indiv = np.zeros(k, dtype=bool)
                if t == LANDLORD:
                    indiv = (lt != 0) & (rng.random(k) < 0.35)
                    kind = np.where(lt == 0, "social", "lettings")
                elif t == MORTGAGE:
                    kind = np.full(k, "lender")
                elif t in (CLAIM_TYPES.index("Money (specified)"), CLAIM_TYPES.index("Money (unspecified)")):
                    indiv = rng.random(k) < 0.08
                    kind = np.full(k, "creditor")
                else:
                    kind = np.full(k, "other")
                org = np.full(k, -1, dtype=np.int64)
                for kd in np.unique(kind):
                    s = (kind == kd) & ~indiv
                    org[s] = _orgs(rng, str(kd), int(s.sum()))
                claimant_person = np.full(k, -1, dtype=np.int64)
                claimant_person[indiv] = pick_people(rng, int(indiv.sum()), el, np.exp(-0.5 * adv[el]))
                pc.append(cases)
                pt.append(indiv.astype(np.int8) ^ 1)
                pr.append(np.zeros(k, np.int8))
                pp.append(claimant_person)
                po.append(np.where(indiv, -1, org))
                pc.append(cases)
                pt.append(np.zeros(k, np.int8))
                pr.append(np.ones(k, np.int8))
                pp.append(defendant)
                po.append(np.full(k, -1, dtype=np.int64))
                # Joint tenants / borrowers: a second defendant, the partner.
                if t in POSSESSION:
                    second = (partner[defendant] >= 0) & (rng.random(k) < 0.3)
                    m = int(second.sum())
                    pc.append(cases[second])
                    pt.append(np.zeros(m, np.int8))
                    pr.append(np.ones(m, np.int8))
                    pp.append(partner[defendant[second]])
                    po.append(np.full(m, -1, dtype=np.int64))
    out = CivilOut()
    out.cases = {
        "claim_type": np.concatenate(ctype),
        "landlord_type": np.concatenate(ltype),
        "issue": np.concatenate(issue),
        "amount": np.concatenate(amount),
        "region": np.concatenate(region),
    }
    out.parties = {
        "case": np.concatenate(pc),
        "party_type": np.concatenate(pt),
        "role": np.concatenate(pr),
        "person": np.concatenate(pp),
        "org": np.concatenate(po),
    }
    out.events = _events(rng, out.cases)
    return out


def _events(rng: np.random.Generator, cases: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hearings, judgments, possession orders and warrants (claims -> orders -> warrants, docs/data.md §8)."""
    t, iss = cases["claim_type"], cases["issue"]
    n = t.size
    poss = np.isin(t, POSSESSION)
    mort = t == MORTGAGE
    ev_c, ev_t, ev_d = [], [], []

    def add(sel: np.ndarray, etype: str, when: np.ndarray) -> None:
        ok = sel & (when <= END)
        ev_c.append(np.flatnonzero(ok))
        ev_t.append(np.full(int(ok.sum()), EVENT_TYPES.index(etype), dtype=np.int8))
        ev_d.append(when[ok])

    hearing = iss + np.where(mort, lognormal_days(rng, 90, 0.4, n, lo=14), lognormal_days(rng, 50, 0.4, n, lo=7))
    add(poss & (rng.random(n) < 0.85) | (~poss & (rng.random(n) < 0.1)), "Hearing", hearing)
    order = poss & (rng.random(n) < 0.65)
    add(order, "Possession order", hearing)
    judgment = ~poss & (rng.random(n) < 0.6)
    jday = iss + lognormal_days(rng, 35, 0.3, n, lo=14)
    add(judgment, "Judgment", jday)
    # Median claim-to-repossession: landlord 24.5 weeks, mortgage 43.9 weeks (docs/data.md §13.5).
    w_issue = np.where(
        order, hearing + lognormal_days(rng, 80, 0.5, n, lo=14), jday + lognormal_days(rng, 60, 0.5, n, lo=14)
    )
    warrant = (order & (rng.random(n) < 0.45)) | (judgment & (rng.random(n) < 0.1))
    add(warrant, "Warrant issued", w_issue)
    to_rep = np.where(mort, 307, 172) - (w_issue - iss)
    executed = warrant & poss & (rng.random(n) < 0.55)
    add(executed, "Warrant executed", w_issue + np.maximum(to_rep, 7) + rng.integers(-10, 10, n))
    return {"case": np.concatenate(ev_c), "event_type": np.concatenate(ev_t), "date": np.concatenate(ev_d)}


def add_possession_claims(
    rng: np.random.Generator,
    out: CivilOut,
    persons: Persons,
    cfg: DummyConfig,
    defendant: np.ndarray,
    issue: np.ndarray,
    claim_type: np.ndarray,
) -> None:
    """Append possession claims against ``defendant`` issued on ``issue`` (the planted pathways, `pathways`):
    organisation claimants (as most are), the configured landlord types, amounts and events as drawn claims have.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(0), 1000, DummyConfig(), 0)
        >>> out = simulate_civil(np.random.default_rng(0), p, DummyConfig(), 1e-4)
        >>> n = out.cases["issue"].size
        >>> add_possession_claims(np.random.default_rng(1), out, p, DummyConfig(), np.array([3]), np.array([16000]),
        ...                       np.array([LANDLORD]))
        >>> out.cases["issue"].size - n, int(possession_keys(out)[1][-1])
        (1, 16000)
    """
    k = defendant.size
    first = out.cases["issue"].size
    cases = first + np.arange(k)
    lt_p = np.array(cfg.landlord_type_p) / sum(cfg.landlord_type_p)
    lt = np.where(claim_type == LANDLORD, rng.choice(3, size=k, p=lt_p), -1).astype(np.int8)
    med = np.where(claim_type == MORTGAGE, 40000, 3000)
    sig = np.where(claim_type == MORTGAGE, 0.9, 0.8)
    new_cases = {
        "claim_type": claim_type.astype(np.int8),
        "landlord_type": lt,
        "issue": issue.astype(np.int64),
        "amount": np.round(med * np.exp(sig * rng.standard_normal(k)), 2),
        "region": persons.region[defendant],
    }
    lettings = np.where(lt == 0, _orgs(rng, "social", k), _orgs(rng, "lettings", k))
    org = np.where(claim_type == MORTGAGE, _orgs(rng, "lender", k), lettings)
    second = (persons.partner[defendant] >= 0) & (rng.random(k) < 0.3)
    m = int(second.sum())
    new_parties = {
        "case": np.r_[cases, cases, cases[second]],
        "party_type": np.r_[np.ones(k, np.int8), np.zeros(k + m, np.int8)],
        "role": np.r_[np.zeros(k, np.int8), np.ones(k + m, np.int8)],
        "person": np.r_[np.full(k, -1, np.int64), defendant, persons.partner[defendant[second]]],
        "org": np.r_[org, np.full(k + m, -1, np.int64)],
    }
    ev = _events(rng, new_cases)
    ev["case"] = ev["case"] + first
    for have, add in ((out.cases, new_cases), (out.parties, new_parties), (out.events, ev)):
        for key, v in add.items():
            have[key] = np.concatenate([have[key], v.astype(have[key].dtype)])


def possession_keys(out: CivilOut) -> tuple[np.ndarray, np.ndarray]:
    """(person, issue day) for individual defendants of possession claims: the look-back events.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(0), 1000, DummyConfig(), 0)
        >>> k = possession_keys(simulate_civil(np.random.default_rng(0), p, DummyConfig(), 1e-4))
        >>> k[0].shape == k[1].shape
        True
    """
    pa = out.parties
    c = pa["case"]
    sel = (pa["role"] == 1) & (pa["person"] >= 0) & np.isin(out.cases["claim_type"][c], POSSESSION)
    return pa["person"][sel], out.cases["issue"][c][sel]
