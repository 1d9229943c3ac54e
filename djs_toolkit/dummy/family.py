"""Step 2a: family court careers (FamilyMan, docs/data.md §7, §9.8, §13.4).

Cases are drawn case-first (volumes per year are configured), then their people are chosen from
the population with weights: mothers in care proceedings and Family Law Act respondents come from
people with high latent adversity, so family and criminal data overlap. Public-law mothers return
with new proceedings with probability ``p_public_law_return`` (the "recurrent care" pathway,
Broadhurst et al. 2015, docs/data.md §13.4); private-law couples return with the same children (Cafcass: about
30 % of private-law applications are returns, §13.4). Children are new persons.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> from djs_toolkit.dummy.population import make_persons
    >>> cfg = DummyConfig()
    >>> p = make_persons(np.random.default_rng(0), 2000, cfg, 0)
    >>> out = simulate_family(np.random.default_rng(1), p, cfg, scale=2000 / 1e7, first_child_id=2000)
    >>> int(out.cases["case_type"].size) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from djs_toolkit.dummy.codes import codes_of
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day, day_of
from djs_toolkit.dummy.population import Persons
from djs_toolkit.dummy.sampling import eligible_by_age, lognormal_days, pick_people, uniform_days
from djs_toolkit.schema import EXTRACT_END

__all__ = ["CASE_TYPES", "ROLES", "FamilyOut", "adult_party_keys", "simulate_family"]

CASE_TYPES = codes_of("family_cases", "case_type")
ROLES = codes_of("family_parties", "party_role")
APPLICANT, RESPONDENT, CHILD = (ROLES.index(r) for r in ("Applicant", "Respondent", "Child"))
END = day_of(EXTRACT_END)
FIRST_YEAR = 2009  # two years before the window, so look-back covariates exist from 2011
YEARS = list(range(FIRST_YEAR, EXTRACT_END.year + 1))

# Orders made at the end of a case, by case type [I] (FCS order types).
ORDERS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "Public law": (
        ("Care order", "Supervision order", "Placement order", "Special guardianship order", "No order"),
        (0.55, 0.15, 0.15, 0.10, 0.05),
    ),
    "Private law": (
        ("Child arrangements order", "Prohibited steps order", "Specific issue order", "No order"),
        (0.70, 0.10, 0.05, 0.15),
    ),
    "Matrimonial": (("Decree absolute", "Decree nisi only", "Dismissed"), (0.82, 0.13, 0.05)),
    "Financial remedy": (("Consent order", "Financial order"), (0.7, 0.3)),
    "Family Law Act": (("Non-molestation order", "Occupation order", "No order"), (0.7, 0.1, 0.2)),
    "Forced marriage protection": (("Forced marriage protection order",), (1.0,)),
    "FGM protection": (("FGM protection order",), (1.0,)),
    "Adoption": (("Adoption order",), (1.0,)),
}
MEDIAN_DAYS = {
    "Public law": 210,
    "Private law": 180,
    "Matrimonial": 300,
    "Financial remedy": 250,
    "Family Law Act": 45,
    "Forced marriage protection": 30,
    "FGM protection": 40,
    "Adoption": 200,
}
# Divorce moved to the digital service from 2019, so FamilyMan holds fewer [I] (docs/data.md §7 caveats).
MATRIMONIAL_ON_FAMILYMAN = {2019: 0.8, 2020: 0.5, 2021: 0.3, 2022: 0.15, 2023: 0.1}


@dataclass
class FamilyOut:
    """Simulated family cases, parties and the look-back keys for criminal hazards.

    Attributes:
        cases: ``case_type`` (index into CASE_TYPES), ``start``, ``end`` (NA if open), ``related``
            (local case index or -1), ``region``, ``order`` (order made, str).
        parties: ``case``, ``person`` (local index), ``role`` (index into ROLES).
    """

    cases: dict[str, np.ndarray] = field(default_factory=dict)
    parties: dict[str, np.ndarray] = field(default_factory=dict)


class _Builder:
    def __init__(self) -> None:
        self.c: dict[str, list[np.ndarray]] = {k: [] for k in ("case_type", "start", "related", "region")}
        self.p: dict[str, list[np.ndarray]] = {k: [] for k in ("case", "person", "role")}
        self.n = 0

    def cases(self, ctype: str, start: np.ndarray, region: np.ndarray, related: np.ndarray | None = None) -> np.ndarray:
        k = start.size
        idx = np.arange(self.n, self.n + k)
        self.n += k
        self.c["case_type"].append(np.full(k, CASE_TYPES.index(ctype), dtype=np.int8))
        self.c["start"].append(start.astype(np.int64))
        self.c["region"].append(region.astype(np.int8))
        self.c["related"].append(np.full(k, -1, dtype=np.int64) if related is None else related.astype(np.int64))
        return idx

    def parties(self, case: np.ndarray, person: np.ndarray, role: int) -> None:
        self.p["case"].append(case.astype(np.int64))
        self.p["person"].append(person.astype(np.int64))
        self.p["role"].append(np.full(case.size, role, dtype=np.int8))


def _chain(
    rng: np.random.Generator, start: np.ndarray, p: float, median_gap: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return cases after first cases: (index of the first case, start day) for each return."""
    src, day_ = [], []
    cur_i, cur_d = np.arange(start.size), start.copy()
    while cur_i.size:
        go = rng.random(cur_i.size) < p
        cur_i = cur_i[go]
        cur_d = cur_d[go] + lognormal_days(rng, median_gap, sigma, int(go.sum()), lo=60)
        keep = cur_d <= END
        cur_i, cur_d = cur_i[keep], cur_d[keep]
        src.append(cur_i)
        day_.append(cur_d)
    return np.concatenate(src), np.concatenate(day_)


def simulate_family(
    rng: np.random.Generator, persons: Persons, cfg: DummyConfig, scale: float, first_child_id: int
) -> FamilyOut:
    """Simulate family cases 2009 to the extract end for one chunk; children are appended to ``persons``.

    Args:
        rng: the chunk's random generator for family cases.
        persons: the chunk's population (children are appended in place).
        cfg: the configuration.
        scale: persons in this chunk divided by 10 M (volumes are per 10 M persons).
        first_child_id: global person number of the first child created.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(0), 500, DummyConfig(), 0)
        >>> simulate_family(np.random.default_rng(0), p, DummyConfig(), 500 / 1e7, 500).parties["role"].dtype
        dtype('int8')
    """
    b = _Builder()
    kids_dob: list[np.ndarray] = []
    kids_parent: list[np.ndarray] = []
    kids_care: list[np.ndarray] = []
    kid_case: list[np.ndarray] = []
    n0 = persons.n
    n_kids = 0

    def new_children(case: np.ndarray, parent: np.ndarray, dob: np.ndarray, care: bool) -> np.ndarray:
        nonlocal n_kids
        idx = n0 + n_kids + np.arange(case.size)
        n_kids += case.size
        kids_dob.append(dob)
        kids_parent.append(parent)
        kids_care.append(np.full(case.size, care))
        kid_case.append(case)
        b.parties(case, idx, CHILD)
        return idx

    rate = {k: v * scale for k, v in cfg.family_cases_per_year.items()}
    adult = ~persons.child
    partner = persons.partner
    frac_last = (END - day(EXTRACT_END.year, 1, 1) + 1) / 365.25

    def per_year(ctype: str, share: float = 1.0) -> list[tuple[int, int]]:
        out = []
        for y in YEARS:
            f = frac_last if y == EXTRACT_END.year else 1.0
            if ctype == "Matrimonial":
                f *= MATRIMONIAL_ON_FAMILYMAN.get(y, 1.0)
            out.append((y, int(rng.poisson(rate[ctype] * share * f))))
        return out

    # ---- public law: mother (+ father) respondents, children; recurrent proceedings
    p_ret = cfg.p_public_law_return
    mothers, starts = [], []
    for y, k in per_year("Public law", 1 - p_ret):
        el = eligible_by_age(persons.dob, y, 16, 45)
        el = el[(persons.sex[el] == 1) & adult[el]]
        m = pick_people(rng, k, el, np.exp(1.3 * persons.adversity[el]))
        mothers.append(m)
        starts.append(uniform_days(rng, y, k, END))
    m1, s1 = np.concatenate(mothers), np.concatenate(starts)
    src, s2 = _chain(rng, s1, p_ret, median_gap=800, sigma=0.55)
    pl_mother = np.concatenate([m1, m1[src]])
    pl_start = np.concatenate([s1, s2])
    first = np.r_[np.ones(m1.size, bool), np.zeros(src.size, bool)]
    pl_case = b.cases("Public law", pl_start, persons.region[pl_mother])
    b.parties(pl_case, pl_mother, RESPONDENT)
    fa = partner[pl_mother]
    has_fa = (fa >= 0) & (rng.random(fa.size) < 0.65)
    b.parties(pl_case[has_fa], fa[has_fa], RESPONDENT)
    nk = np.where(first, 1 + rng.poisson(0.5, first.size), 1)
    ci = np.repeat(np.arange(pl_case.size), nk)
    infant = rng.random(ci.size) < np.where(first[ci], 0.45, 0.75)
    age_d = np.where(infant, rng.integers(0, 365, ci.size), rng.integers(365, 17 * 365, ci.size))
    pl_kids = new_children(pl_case[ci], pl_mother[ci], pl_start[ci] - age_d, care=True)

    # ---- adoption: children placed for adoption after care proceedings
    pl_end = pl_start + lognormal_days(rng, MEDIAN_DAYS["Public law"], 0.45, pl_start.size, lo=20)
    ad = (rng.random(ci.size) < 0.22) & (age_d < 6 * 365)
    ad_start = pl_end[ci[ad]] + lognormal_days(rng, 240, 0.4, int(ad.sum()), lo=30)
    ok = ad_start <= END
    ad_child, ad_start, ad_from = pl_kids[ad][ok], ad_start[ok], pl_case[ci[ad]][ok]
    ad_case = b.cases("Adoption", ad_start, persons.region[pl_mother[ci[ad]][ok]], related=ad_from)
    b.parties(ad_case, ad_child, CHILD)
    el = np.flatnonzero(adult & (partner >= 0) & (persons.sex == 1))
    adopter = pick_people(rng, ad_case.size, el, np.exp(-0.6 * persons.adversity[el]))
    b.parties(ad_case, adopter, APPLICANT)
    two = rng.random(ad_case.size) < 0.7
    b.parties(ad_case[two], partner[adopter[two]], APPLICANT)
    bm = rng.random(ad_case.size) < 0.5
    b.parties(ad_case[bm], pl_mother[ci[ad]][ok][bm], RESPONDENT)

    # ---- couples: private law (with returns), divorce, financial remedy, Family Law Act
    def couples(
        ctype: str, lo: int, hi: int, w_fn: Callable[[np.ndarray], np.ndarray], share: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        ws, ss = [], []
        for y, k in per_year(ctype, share):
            el = eligible_by_age(persons.dob, y, lo, hi)
            el = el[(persons.sex[el] == 1) & (partner[el] >= 0) & adult[el]]
            ws.append(pick_people(rng, k, el, w_fn(el)))
            ss.append(uniform_days(rng, y, k, END))
        return np.concatenate(ws), np.concatenate(ss)

    def two_parties(case: np.ndarray, woman: np.ndarray, p_woman_applies: float) -> None:
        wa = rng.random(case.size) < p_woman_applies
        man = partner[woman]
        b.parties(case, np.where(wa, woman, man), APPLICANT)
        b.parties(case, np.where(wa, man, woman), RESPONDENT)

    adv, cc = persons.adversity, persons.crim_class
    w1, s1 = couples("Private law", 20, 50, lambda e: np.exp(0.5 * adv[e]), share=0.7)
    src, s2 = _chain(rng, s1, 0.3, median_gap=600, sigma=0.8)
    pr_w = np.concatenate([w1, w1[src]])
    related = np.r_[np.full(w1.size, -1, dtype=np.int64), b.n + src]
    pr_case = b.cases("Private law", np.concatenate([s1, s2]), persons.region[pr_w], related=related)
    two_parties(pr_case, pr_w, 0.45)
    nk = 1 + rng.poisson(0.4, w1.size)
    ci = np.repeat(np.arange(w1.size), nk)
    kids = new_children(pr_case[ci], w1[ci], s1[ci] - rng.integers(0, 14 * 365, ci.size), care=False)
    # Returns bring back the same children (joined through the first case).
    ret_pos = np.arange(w1.size, pr_case.size)
    order = np.argsort(ci, kind="stable")
    first_of_kid = ci[order]
    lo_ = np.searchsorted(first_of_kid, src, side="left")
    hi_ = np.searchsorted(first_of_kid, src, side="right")
    cnt = hi_ - lo_
    rep_case = np.repeat(pr_case[ret_pos], cnt)
    rep_kid = kids[order][
        np.concatenate([np.arange(a, z) for a, z in zip(lo_, hi_, strict=True)]) if cnt.sum() else np.zeros(0, np.int64)
    ]
    b.parties(rep_case, rep_kid, CHILD)

    w, s = couples("Matrimonial", 22, 70, lambda e: np.exp(0.15 * adv[e]))
    mat_case = b.cases("Matrimonial", s, persons.region[w])
    two_parties(mat_case, w, 0.62)
    fr = rng.random(w.size) * cfg.family_cases_per_year["Matrimonial"] < cfg.family_cases_per_year["Financial remedy"]
    fr_start = s[fr] + rng.integers(60, 540, int(fr.sum()))
    ok = fr_start <= END
    fr_case = b.cases("Financial remedy", fr_start[ok], persons.region[w[fr][ok]], related=mat_case[fr][ok])
    two_parties(fr_case, w[fr][ok], 0.6)

    w, s = couples("Family Law Act", 18, 60, lambda e: np.exp(0.6 * adv[partner[e]] + 0.5 * cc[partner[e]]))
    fla_case = b.cases("Family Law Act", s, persons.region[w])
    two_parties(fla_case, w, 0.88)

    # ---- rare protection orders
    for ctype in ("Forced marriage protection", "FGM protection"):
        for y, k in per_year(ctype):
            el = eligible_by_age(persons.dob, y, 18, 65)
            resp = pick_people(rng, k, el, np.ones(el.size))
            case = b.cases(ctype, uniform_days(rng, y, k, END), persons.region[resp])
            b.parties(case, resp, RESPONDENT)
            if ctype == "FGM protection":
                new_children(case, resp, day(y, 1, 1) - rng.integers(2 * 365, 15 * 365, k), care=False)
            else:
                el2 = eligible_by_age(persons.dob, y, 16, 25)
                el2 = el2[persons.sex[el2] == 1]
                b.parties(case, pick_people(rng, k, el2, np.ones(el2.size)), APPLICANT)

    if kids_dob:
        persons.append_children(
            rng, np.concatenate(kids_dob), np.concatenate(kids_parent), cfg, first_child_id, np.concatenate(kids_care)
        )
    out = FamilyOut()
    out.cases = {k: np.concatenate(v) for k, v in b.c.items()}
    out.parties = {k: np.concatenate(v) for k, v in b.p.items()}
    ct = out.cases["case_type"]
    dur = np.zeros(ct.size, dtype=np.int64)
    order_made = np.empty(ct.size, dtype=object)
    for i, name in enumerate(CASE_TYPES):
        sel = ct == i
        dur[sel] = lognormal_days(rng, MEDIAN_DAYS[name], 0.5, int(sel.sum()), lo=1)
        kinds, probs = ORDERS[name]
        order_made[sel] = np.array(kinds, dtype=object)[rng.choice(len(kinds), int(sel.sum()), p=probs)]
    is_pl = ct == CASE_TYPES.index("Public law")
    dur[np.flatnonzero(is_pl)] = pl_end - pl_start  # public-law cases are the first block
    end = out.cases["start"] + dur
    out.cases["end"] = np.where(end <= END, end, NA)
    out.cases["order"] = order_made
    # Children who have come of age by a returning case are no longer child parties.
    pa = out.parties
    grown = (pa["role"] == CHILD) & (age_years(persons.dob[pa["person"]], out.cases["start"][pa["case"]]) >= 18)
    out.parties = {k: v[~grown] for k, v in pa.items()}
    return out


def adult_party_keys(out: FamilyOut, persons: Persons) -> tuple[np.ndarray, np.ndarray]:
    """(person, case start) for adult applicants and respondents: the family look-back events.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> p = make_persons(np.random.default_rng(0), 500, DummyConfig(), 0)
        >>> o = simulate_family(np.random.default_rng(0), p, DummyConfig(), 500 / 1e7, 500)
        >>> len(adult_party_keys(o, p)) == 2
        True
    """
    pa = out.parties
    start = out.cases["start"][pa["case"]]
    adult_role = (pa["role"] == APPLICANT) | (pa["role"] == RESPONDENT)
    grown = age_years(persons.dob[pa["person"]], start) >= 18
    sel = adult_role & grown
    return pa["person"][sel], start[sel]
