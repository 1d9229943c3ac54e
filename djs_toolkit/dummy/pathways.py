"""Planted cross-jurisdiction pathways, and their truth (``truth/pathways.csv``).

The pipeline's named questions (issue 18) get a pathway each, with its strength in
`DummyConfig.pathway_rates` ([assumption]: no published figure gives them, docs/data.md §13.7):

* ``fine_possession``: an adult fined in a magistrates' court (disposal Fine) becomes the defendant of a landlord or
  mortgage possession claim 14-365 days after the result with this probability, on top of the claims drawn
  case-first (`civil`). The claims join the possession look-back of the careers as they are planted, so a later
  index's ``prior_possession_claim_730d`` sees them (`Planter.after_contacts`).
* ``possession_crime``: a possession-claim defendant who has not offended yet starts offending 1-300 days after the
  claim is issued with this probability (a triggered onset, `Planter.onset`: whatever their latent class, which
  decides only the onset the careers draw).
* ``family_crime``: the same after a Family Law Act or private law case as an adult applicant or respondent.
* ``care_custody``: a child in public law (care) proceedings not yet offending starts offending 30-1,095 days after
  the later of the case start and their 15th birthday (younger children's custody is outside P-NOMIS). Custody
  and probation then follow from the court process (`casework`), so the planted rate is of offending, not of
  custody; `dummy.family_effect` redraws what follows the end of proceedings for children with a care or
  supervision order from 2013, so the share is partly theirs.

Only onsets are triggered: a person already offending is on the re-entry process, whose hazard depends on the
covariates at each index alone (`careers`), and no pathway changes it, so the re-entry truth
(``reentry_log_hr.csv``) holds as before.

The truth is the share each pathway's ordered overlap measures (`PATHWAYS`: the selectors of
`djs_toolkit.spine.select`, the window and the days), computed from the generator's records under the true person
ids before linkage error: per person, the first ``first`` event dated in the window, and whether a ``then`` event
follows it strictly later within ``within_days``. Every window ends ``within_days`` before the ``then`` dataset stops
being observed, so follow-up is complete and the share is what ``analyses.ordered_overlap`` estimates (1 - KM equals
the proportion when nobody is censored). The share includes the pathways the generator has without planting
(adversity shared between jurisdictions, the onset and re-entry hazard ratios of possession claims and family
cases, care children's offending classes): the planted rates add to it.

Example:
    >>> [p.name for p in PATHWAYS][:2]
    ['fine_possession', 'possession_crime']
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from djs_toolkit.dummy.casework import D
from djs_toolkit.dummy.civil import LANDLORD, MORTGAGE, CivilOut, add_possession_claims
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day_of
from djs_toolkit.dummy.family import APPLICANT, CASE_TYPES, CHILD, RESPONDENT, FamilyOut
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.population import Persons
from djs_toolkit.schema import EXTRACT_END

__all__ = ["PATHWAYS", "Pathway", "Planter", "pathway_counts", "pathway_rows"]

END = day_of(EXTRACT_END)
_NONE = np.int64(1 << 40)  # "no onset": later than any day
_POSSESSION = "civil_claim: case_type=Landlord possession,Mortgage possession; party_role=Defendant"
_CRIMINAL = "mags_case: case_type=Criminal"
_CARE_CHILD = "family_case_start: case_type=Public law; party_role=Child; age=10-17"
_FAMILY_ADULT = "family_case_start: case_type=Private law,Family Law Act; party_role=Applicant,Respondent; age=18+"


@dataclass(frozen=True)
class Pathway:
    """One planted pathway: what the truth measures and which rate plants it.

    Attributes:
        name: row name in ``truth/pathways.csv``.
        rate: key of `DummyConfig.pathway_rates`.
        first: index events (a `spine.select` string); the person's first one in ``window`` is the index.
        then: outcome events (a `spine.select` string).
        within_days: the outcome counts within this many days after the index.
        window: index dates (first, last), so that follow-up of ``then`` is complete.

    Example:
        >>> PATHWAYS[0].then.startswith("civil_claim")
        True
    """

    name: str
    rate: str
    first: str
    then: str
    within_days: int
    window: tuple[dt.date, dt.date]


PATHWAYS = (
    Pathway(
        "fine_possession",
        "fine_possession",
        "mags_conviction: disposal=Fine",
        _POSSESSION,
        365,
        (dt.date(2012, 1, 1), dt.date(2020, 12, 31)),
    ),
    Pathway(
        "possession_crime",
        "possession_crime",
        _POSSESSION,
        _CRIMINAL,
        365,
        (dt.date(2012, 1, 1), dt.date(2019, 12, 31)),
    ),
    Pathway(
        "care_custody_5y",
        "care_custody",
        _CARE_CHILD,
        "custody_start",
        1826,
        (dt.date(2011, 1, 1), dt.date(2017, 12, 31)),
    ),
    Pathway(
        "care_probation_3y",
        "care_custody",
        _CARE_CHILD,
        "probation_start",
        1095,
        (dt.date(2014, 1, 1), dt.date(2017, 12, 31)),
    ),
    Pathway(
        "family_crime", "family_crime", _FAMILY_ADULT, _CRIMINAL, 365, (dt.date(2011, 1, 1), dt.date(2019, 12, 31))
    ),
    Pathway(
        "family_probation",
        "family_crime",
        _FAMILY_ADULT,
        "probation_start",
        365,
        (dt.date(2014, 1, 1), dt.date(2019, 12, 31)),
    ),
)
_PL, _FLA, _PRIVATE = (CASE_TYPES.index(t) for t in ("Public law", "Family Law Act", "Private law"))


class Planter:
    """Plants the pathways of one chunk with its own random stream (so other streams draw as before).

    Args:
        rng: the chunk's pathway generator.
        cfg: configuration (``pathway_rates``).
        persons: the chunk's population, children included.
        poss: (person, issue day) of possession claims against individual defendants (`civil.possession_keys`).
        fam: the chunk's family cases.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.family import simulate_family
        >>> ps = make_persons(np.random.default_rng(0), 500, DummyConfig(), 0)
        >>> f = simulate_family(np.random.default_rng(0), ps, DummyConfig(), 500 / 1e7, 500)
        >>> pl = Planter(np.random.default_rng(0), DummyConfig(), ps, (np.zeros(0, int), np.zeros(0, int)), f)
        >>> p, off = pl.onset(np.array([1]), np.array([16000]))
        >>> int(off[p == 1][0]) <= 16000
        True
    """

    def __init__(
        self,
        rng: np.random.Generator,
        cfg: DummyConfig,
        persons: Persons,
        poss: tuple[np.ndarray, np.ndarray],
        fam: FamilyOut,
    ) -> None:
        self.rng, self.cfg, self.persons = rng, cfg, persons
        self.rates = cfg.pathway_rates
        pa = fam.parties
        ctype, start = fam.cases["case_type"][pa["case"]], fam.cases["start"][pa["case"]]
        person, role = pa["person"], pa["role"]
        adult = ((role == APPLICANT) | (role == RESPONDENT)) & (age_years(persons.dob[person], start) >= 18)
        fam_sel = adult & ((ctype == _FLA) | (ctype == _PRIVATE))
        care = (role == CHILD) & (ctype == _PL)
        # From about the 15th birthday: younger children's custody is outside P-NOMIS (records_custody), so
        # earlier careers would add releases the files cannot hold (truth/README.md) to the re-entry truth.
        fifteen = persons.dob[person[care]] + 5479
        self.triggers = [
            ("possession_crime", poss[0], poss[1], 1, 300),
            ("family_crime", person[fam_sel], start[fam_sel], 1, 300),
            ("care_custody", person[care], np.maximum(start[care], fifteen), 30, 1095),
        ]
        self.claims: list[tuple[np.ndarray, np.ndarray]] = []

    def onset(self, p: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First-offence days with the triggered onsets: ``(p, off)`` from the onset process in, sorted out."""
        cur = np.full(self.persons.n, _NONE, dtype=np.int64)
        cur[p] = off
        before = cur.copy()
        for key, who, when, lo, hi in self.triggers:
            u = self.rng.random(who.size)
            new = when + self.rng.integers(lo, hi + 1, who.size)
            ok = (u < self.rates[key]) & (new <= END) & (before[who] > when)
            np.minimum.at(cur, who[ok], new[ok])
        q = np.flatnonzero(cur < _NONE)
        return q, cur[q]

    def after_contacts(self, c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """Possession claims planted after this generation's fines (person, issue day), or None."""
        fine = (c["mags_disposal"] == D["Fine"]) & (c["mags_result"] != NA) & (c["age"] >= 18)
        u = self.rng.random(fine.size)
        issue = c["mags_result"] + self.rng.integers(14, 366, fine.size)
        ok = fine & (u < self.rates["fine_possession"]) & (issue <= END)
        if not ok.any():
            return None
        got = (c["person"][ok], issue[ok])
        self.claims.append(got)
        return got

    def add_claims(self, civ: CivilOut) -> None:
        """Append the planted claims to ``civ`` (landlord and mortgage in the configured volumes' proportion)."""
        if not self.claims:
            return
        person = np.concatenate([c[0] for c in self.claims])
        issue = np.concatenate([c[1] for c in self.claims])
        cfg = self.cfg
        p_mortgage = cfg.mortgage_claims_per_quarter / (
            cfg.mortgage_claims_per_quarter + cfg.landlord_claims_per_quarter
        )
        ctype = np.where(self.rng.random(person.size) < p_mortgage, MORTGAGE, LANDLORD)
        add_possession_claims(self.rng, civ, self.persons, cfg, person, issue, ctype)


def _first(p: np.ndarray, d: np.ndarray, window: tuple[dt.date, dt.date]) -> tuple[np.ndarray, np.ndarray]:
    """Each person's first event day within the window."""
    ok = (d >= day_of(window[0])) & (d <= day_of(window[1]))
    p, d = p[ok], d[ok]
    o = np.lexsort((d, p))
    p, d = p[o], d[o]
    head = np.r_[True, p[1:] != p[:-1]] if p.size else np.zeros(0, bool)
    return p[head], d[head]


def _events(tables: dict, dob: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(person, day) of every event a pathway selector names, from the chunk's records (true persons)."""
    i64 = np.int64
    m = tables["mags_defendant_case"]
    mp, disp = np.asarray(m["_person"], i64), np.asarray(m["disposal_type"], object)
    res, hear = np.asarray(m["final_result_date"], i64), np.asarray(m["first_hearing_date"], i64)
    case_day = np.where(hear == NA, res, hear)  # the spine's mags_case date
    fine = (disp == "Fine") & (res != NA)
    crim = (np.asarray(m["proceedings_type_desc"], object) == "Criminal") & (case_day != NA)
    cv = tables["civil_parties"]
    cp = np.asarray(cv["_person"], i64)
    poss = (cp >= 0) & (np.asarray(cv["_role"]) == 1) & np.asarray(cv["_possession"], bool)
    fp = tables["family_parties"]
    fper, fday, frole = np.asarray(fp["_person"], i64), np.asarray(fp["_date"], i64), np.asarray(fp["_role"])
    fc = tables["family_cases"]
    case_type = pd.Series(np.asarray(fc["case_type"], object), index=np.asarray(fc["case_number_hash"], object))
    ftype = case_type.reindex(np.asarray(fp["case_number_hash"], object)).to_numpy()
    age = age_years(dob[fper], fday)
    care = (frole == CHILD) & (ftype == "Public law") & (age >= 10) & (age <= 17)
    adult = (
        ((frole == APPLICANT) | (frole == RESPONDENT)) & np.isin(ftype, ["Private law", "Family Law Act"]) & (age >= 18)
    )
    pj, pr = tables["prison_journey"], tables["probation_flatfile"]
    return {
        "mags_conviction: disposal=Fine": (mp[fine], res[fine]),
        _CRIMINAL: (mp[crim], case_day[crim]),
        _POSSESSION: (cp[poss], np.asarray(cv["_date"], i64)[poss]),
        _CARE_CHILD: (fper[care], fday[care]),
        _FAMILY_ADULT: (fper[adult], fday[adult]),
        "custody_start": (np.asarray(pj["_person"], i64), np.asarray(pj["journey_start_date"], i64)),
        "probation_start": (np.asarray(pr["_person"], i64), np.asarray(pr["referral_date"], i64)),
    }


def pathway_counts(tables: dict, dob: np.ndarray) -> np.ndarray:
    """(numerator, denominator) of every pathway in `PATHWAYS` for one chunk's records.

    Example:
        >>> e, o = np.zeros(0, np.int64), np.zeros(0, object)
        >>> mags = {"_person": np.array([0, 0]), "disposal_type": np.array(["Fine", "Fine"], dtype=object),
        ...         "final_result_date": np.array([16500, 16600]), "first_hearing_date": np.array([16500, 16600]),
        ...         "proceedings_type_desc": np.array(["Criminal", "Criminal"], dtype=object)}
        >>> civil = {"_person": np.array([0]), "_role": np.array([1]), "_possession": np.array([True]),
        ...          "_date": np.array([16550])}
        >>> t = {"mags_defendant_case": mags, "civil_parties": civil,
        ...      "family_parties": {"_person": e, "_date": e, "_role": e, "case_number_hash": o},
        ...      "family_cases": {"case_number_hash": o, "case_type": o},
        ...      "prison_journey": {"_person": e, "journey_start_date": e},
        ...      "probation_flatfile": {"_person": e, "referral_date": e}}
        >>> pathway_counts(t, np.array([3000]))[:2].tolist()  # fine then claim; claim then criminal case
        [[1, 1], [1, 1]]
    """
    ev = _events(tables, dob)
    out = np.zeros((len(PATHWAYS), 2), dtype=np.int64)
    for i, pw in enumerate(PATHWAYS):
        p, t0 = _first(*ev[pw.first], pw.window)
        tp, td = ev[pw.then]
        nxt = EventIndex(tp[td != NA], td[td != NA]).next_after(p, t0)
        out[i] = [int(((nxt > 0) & (nxt - t0 <= pw.within_days)).sum()), p.size]
    return out


def pathway_rows(counts: np.ndarray, cfg: DummyConfig) -> list[list]:
    """Rows of ``truth/pathways.csv`` (header first) from summed counts.

    Example:
        >>> rows = pathway_rows(np.array([[1, 4]] * len(PATHWAYS)), DummyConfig())
        >>> rows[0][:3], rows[1][-3:]
        (['name', 'first', 'then'], [1, 4, '0.250000'])
    """
    head = ["name", "first", "then", "within_days", "window_start", "window_end", "rate", "planted_rate"]
    rows: list[list] = [[*head, "numerator", "denominator", "share"]]
    for pw, (num, den) in zip(PATHWAYS, counts.tolist(), strict=True):
        share = f"{num / den:.6f}" if den else ""
        start, end = (w.isoformat() for w in pw.window)
        rate = repr(float(cfg.pathway_rates[pw.rate]))
        rows.append([pw.name, pw.first, pw.then, pw.within_days, start, end, pw.rate, rate, num, den, share])
    return rows
