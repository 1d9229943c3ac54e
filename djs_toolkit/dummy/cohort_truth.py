"""Truth for the possession-claim and family-case re-entry cohorts: what the records say at each index.

Which attributes each dataset records (`RECORDED_ATTRIBUTES`, written as ``truth/recorded_attributes.csv``), and,
for every possession claim against an individual defendant and every adult applicant or respondent in a family
case that the files hold, the covariates as the person's **written** records dated on or before the index say them,
under the true person ids (no linkage error), with the next offence (``truth/cohort_index_events``). A cohort built
from the files with covariates at index (`analyses.reentry_cohort`) reproduces these up to linkage error and the
age estimate; one that reads later records does not (sex "missing" would then mean "never came back").

No proportional-hazards model generates these outcomes: the next offence after a claim comes from the onset process
(with a latent propensity class) or from the re-entry process of an earlier index. So the truth for these cohorts
is this error-free cohort, and a Cox model fitted to it is the benchmark a fit from the files must reproduce.

Example:
    >>> [r[0] for r in RECORDED_ATTRIBUTES if r[2] == ""]
    ['civil_caseman_pcol']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from djs_toolkit.dummy.careers import Careers
from djs_toolkit.dummy.dates import NA, age_years
from djs_toolkit.dummy.family import APPLICANT, RESPONDENT
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.schema import MISSING_LABEL

__all__ = ["RECORDED_ATTRIBUTES", "cohort_index_events"]

# (dataset, table, sex column, ethnicity column, IMD column, age column, the date a record is known from,
# the date its age refers to): what each person table records; "" where it records nothing.
RECORDED_ATTRIBUTES = (
    (
        "mags_hocas",
        "mags_defendant_case",
        "gender",
        "ethnicity",
        "imd_decile",
        "age_at_offence",
        "first_hearing_date",
        "offence_date",
    ),
    (
        "crown_xhibit",
        "crown_defendant_case",
        "gender",
        "ethnicity",
        "imd_decile",
        "age_at_offence",
        "receipt_date",
        "offence_date",
    ),
    ("prison_nomis", "prison_journey", "gender", "ethnicity", "", "age_at_reception", "journey_start_date", "same"),
    (
        "probation_delius",
        "probation_flatfile",
        "gender",
        "ethnicity_desc",
        "imd_decile",
        "age_at_offence",
        "referral_date",
        "main_offence_date",
    ),
    ("familyman", "family_parties", "gender", "", "", "age_at_case_start", "case_start_date", "same"),
    ("civil_caseman_pcol", "civil_parties", "", "", "", "", "issue_date", ""),
)
RECORDED_HEADER = ("dataset", "table", "sex", "ethnicity", "imd_decile", "age", "known_from", "age_refers_to")
_EVER = 1 << 20  # a look-back longer than any history: "on or before"
_FRAME_DATE = {  # the generator's frame column for each table's known-from date
    "mags_defendant_case": "first_hearing_date",
    "crown_defendant_case": "receipt_date",
    "prison_journey": "journey_start_date",
    "probation_flatfile": "referral_date",
    "family_parties": "_date",
}
_AGE_REF = {
    "mags_defendant_case": "offence_date",
    "crown_defendant_case": "offence_date",
    "prison_journey": "journey_start_date",
    "probation_flatfile": "main_offence_date",
}


def _written(written: dict[str, pa.Table], table: str, col: str) -> np.ndarray:
    """A written string column (None where missing)."""
    return np.asarray(written[table].column(col).to_numpy(zero_copy_only=False), dtype=object)


def _written_int(written: dict[str, pa.Table], table: str, col: str) -> np.ndarray:
    """A written integer column, -1 where missing."""
    return np.asarray(written[table].column(col).fill_null(-1).to_numpy(), np.int64)


def _known_from(tables: dict, table: str) -> np.ndarray:
    f = tables[table]
    d = np.asarray(f[_FRAME_DATE[table]], np.int64)
    if table == "mags_defendant_case":  # the spine dates a case without a first hearing by its result
        d = np.where(d == NA, np.asarray(f["final_result_date"], np.int64), d)
    return d


def _latest(person: np.ndarray, day: np.ndarray, value: np.ndarray, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The value of each query's latest record on or before ``d`` (same day: the smallest), or -1."""
    shift = np.int64(1 << 21)
    order = np.lexsort((-value, person * shift + day))
    keys, vals = (person * shift + day)[order], value[order]
    i = np.searchsorted(keys, p * shift + d, side="right") - 1
    ok = (i >= 0) & (keys[np.maximum(i, 0)] // shift == p) if keys.size else np.zeros(p.size, bool)
    return np.where(ok, vals[np.maximum(i, 0)] if keys.size else -1, -1)


def _index_events(tables: dict, dob: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(person, day, written row of the index's own record) of each cohort type the files hold."""
    civ = tables["civil_parties"]
    cp = np.asarray(civ["_person"], np.int64)
    poss = np.flatnonzero((cp >= 0) & (np.asarray(civ["_role"]) == 1) & np.asarray(civ["_possession"], bool))
    fam = tables["family_parties"]
    fp, fd = np.asarray(fam["_person"], np.int64), np.asarray(fam["_date"], np.int64)
    role = np.asarray(fam["_role"])
    adult = np.flatnonzero(((role == APPLICANT) | (role == RESPONDENT)) & (age_years(dob[fp], fd) >= 18))
    return {
        "possession_claim": (cp[poss], np.asarray(civ["_date"], np.int64)[poss], poss),
        "family_case": (fp[adult], fd[adult], adult),
    }


def cohort_index_events(
    written: dict[str, pa.Table], tables: dict, careers: Careers, dob: np.ndarray
) -> dict[str, np.ndarray] | None:
    """Column arrays of ``truth/cohort_index_events`` for one chunk (local person numbers in ``person``).

    Columns: ``person``, ``index_type``, ``index_date``, ``sex_at_index`` (``F``, ``M`` or ``Missing``: the most
    frequent valid sex on the person's written records known on or before the index, ties ``F``),
    ``imd_decile_at_index`` (-1 if none: the latest written decile), ``age_at_index`` (true completed years; -1 when
    no written record holds an age in 10-100 referring to a date up to the index and, for a family case, the
    party's own row has no age), ``prior_contacts_730d`` (distinct offence days in (index - 730, index]),
    ``prior_possession_claim_730d``, ``prior_family_case_730d`` (another such index event in the 730 days up to the
    index), ``next_offence`` (day of the next offence, or NA).
    """
    ix = _index_events(tables, dob)
    p = np.concatenate([v[0] for v in ix.values()])
    if not p.size:
        return None
    d = np.concatenate([v[1] for v in ix.values()])
    kind = np.concatenate([np.full(v[0].size, k, dtype=object) for k, v in ix.items()])
    sexes: dict[str, list[np.ndarray]] = {"F": [], "M": []}
    imd_rec: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    age_rec: list[tuple[np.ndarray, np.ndarray]] = []
    for _, table, sex, _, imd, age, _, _ in RECORDED_ATTRIBUTES:
        if not sex:
            continue
        person, day = np.asarray(tables[table]["_person"], np.int64), _known_from(tables, table)
        dated = day != NA
        g = _written(written, table, sex)
        for v in sexes:
            sel = dated & (g == v)
            sexes[v].append(np.stack([person[sel], day[sel]]))
        if imd:
            dec = _written_int(written, table, imd)
            sel = dated & (dec >= 1)
            imd_rec.append((person[sel], day[sel], dec[sel]))
        if table in _AGE_REF:
            a = _written_int(written, table, age)
            ref = np.asarray(tables[table][_AGE_REF[table]], np.int64)
            ok = (ref != NA) & (a >= 10) & (a <= 100)
            age_rec.append((person[ok], ref[ok]))
    n_sex = {}
    for v, parts in sexes.items():
        both = np.concatenate(parts, axis=1)
        n_sex[v] = EventIndex(both[0], both[1]).count(p, d, _EVER)
    sex_at = np.where(n_sex["F"] + n_sex["M"] == 0, MISSING_LABEL, np.where(n_sex["F"] >= n_sex["M"], "F", "M"))
    imd_person, imd_day, imd_value = (np.concatenate(x) for x in zip(*imd_rec, strict=True))
    imd_at = _latest(imd_person, imd_day, imd_value, p, d)
    ages = EventIndex(np.concatenate([a for a, _ in age_rec]), np.concatenate([r for _, r in age_rec]))
    known = ages.count(p, d, _EVER) > 0
    own = np.zeros(p.size, bool)  # a family party's own row holds an age
    fam_rows = ix["family_case"][2]
    own[kind == "family_case"] = _written_int(written, "family_parties", "age_at_case_start")[fam_rows] >= 0
    age_at = np.where(known | own, age_years(dob[p], d), -1)
    c = careers.contacts
    days = np.unique(np.asarray(c["person"], np.int64) * (1 << 21) + np.asarray(c["offence_date"], np.int64))
    offences = EventIndex(days >> 21, days & ((1 << 21) - 1))
    nxt = offences.next_after(p, d)
    out = {
        "person": p,
        "index_type": kind,
        "index_date": d,
        "sex_at_index": sex_at.astype(object),
        "imd_decile_at_index": imd_at,
        "age_at_index": age_at,
        "prior_contacts_730d": offences.count(p, d, 730),
        "next_offence": np.where(nxt > 0, nxt, NA),
    }
    for name, key in (("prior_possession_claim_730d", "possession_claim"), ("prior_family_case_730d", "family_case")):
        other = EventIndex(ix[key][0], ix[key][1])
        n = other.count(p, d, 730)
        out[name] = (n - (kind == key)) > 0  # the index itself is not a prior one
    return out
