"""Step 4d: family court (cases, events, parties) and civil court (cases, parties, events) records.

Family cases are written when they start inside the FamilyMan window, civil claims when issued
inside 1 Jan 2012 - 31 Jan 2022 (docs/data.md §7, §8); events after a dataset's end are not in
the extract. Civil parties include organisations (claimant landlords, lenders, creditors): they
carry no person id and never get an `xjs_link` row (docs/data.md §14.10).

Example:
    >>> from djs_toolkit.dummy.records_family_civil import FAMILY_EVENT_TYPES
    >>> FAMILY_EVENT_TYPES[0]
    'Application'
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.civil import (
    CLAIM_TYPES,
    EVENT_TYPES,
    LANDLORD_TYPES,
    PARTY_ROLES,
    PARTY_TYPES,
    POSSESSION,
    CivilOut,
)
from djs_toolkit.dummy.dates import NA, age_years, day_of
from djs_toolkit.dummy.family import CASE_TYPES, CHILD, ROLES, FamilyOut
from djs_toolkit.dummy.frames import MISSING, Ctx, Frame, court_codes
from djs_toolkit.schema import DATASETS

__all__ = ["FAMILY_EVENT_TYPES", "civil_records", "family_records"]

FAMILY_EVENT_TYPES = codes.codes_of("family_events", "event_type")
_FW = DATASETS["familyman"]
_CW = DATASETS["civil_caseman_pcol"]


def family_records(ctx: Ctx, fam: FamilyOut) -> dict[str, Frame]:
    """Family tables for one chunk.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.family import simulate_family
        >>> ps = make_persons(np.random.default_rng(0), 3000, DummyConfig(), 0)
        >>> f = simulate_family(np.random.default_rng(0), ps, DummyConfig(), 3e-4, 3000)
        >>> sorted(family_records(Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)), f))
        ['family_cases', 'family_events', 'family_parties']
    """
    rng, ps = ctx.rng, ctx.persons
    cs = fam.cases
    n_all = cs["start"].size
    keys = ctx.keys("fam_case", n_all)
    w0, w1 = day_of(_FW.start), day_of(_FW.end)
    sel = np.flatnonzero((cs["start"] >= w0) & (cs["start"] <= w1))
    rel = cs["related"][sel]
    cases: Frame = {
        "case_number_hash": ctx.ids("fam_case", keys[sel]),
        "case_type": np.array(CASE_TYPES, dtype=object)[cs["case_type"][sel]],
        "case_start_date": cs["start"][sel],
        "case_end_date": cs["end"][sel],
        "court_code": court_codes(rng, cs["region"][sel], "FC", 12),
        "related_case_number_hash": _optional_ids(ctx, "fam_case", keys, rel),
    }
    # Events: application at the start, hearings in between, an order at the end, admin steps.
    start, end = cs["start"][sel], cs["end"][sel]
    span = np.where(end == NA, np.minimum(w1 - start, 365), end - start)
    nh = 1 + rng.poisson(1.5, sel.size)
    na = rng.poisson(0.7, sel.size)
    ci = np.r_[
        np.arange(sel.size),
        np.repeat(np.arange(sel.size), nh),
        np.repeat(np.arange(sel.size), na),
        np.flatnonzero(end != NA),
    ]
    et = np.r_[np.zeros(sel.size), np.ones(nh.sum()), np.full(na.sum(), 3), np.full(int((end != NA).sum()), 2)]
    ed = start[ci] + np.floor(rng.random(ci.size) * np.maximum(span[ci], 1)).astype(np.int64)
    ed = np.where(et == 0, start[ci], np.where(et == 2, end[ci], ed))
    order = np.where(et == 2, fam.cases["order"][sel][ci], MISSING)
    ok = ed <= w1
    events: Frame = {
        "event_id_hash": ctx.new_ids("fam_event", int(ok.sum())),
        "case_number_hash": cases["case_number_hash"].take(ci[ok]),
        "event_type": np.array(FAMILY_EVENT_TYPES, dtype=object)[et[ok].astype(np.int64)],
        "event_date": ed[ok],
        "order_type": order[ok],
    }
    # Parties of written cases.
    pa = fam.parties
    pos = np.full(n_all, -1, dtype=np.int64)
    pos[sel] = np.arange(sel.size)
    keep = np.flatnonzero(pos[pa["case"]] >= 0)
    cpos = pos[pa["case"][keep]]
    p = pa["person"][keep]
    role = pa["role"][keep]
    at = start[cpos]
    age = age_years(ps.dob[p], at)
    sex = np.array(["M", "F"], dtype=object)[ps.sex[p]]
    sex = np.where(rng.random(p.size) < 0.01, "Not known", sex)
    rep_p = np.array([0.75, 0.55, 0.9, 0.5])[role]
    parties: Frame = {
        "row_id_hash": ctx.new_ids("fam_row", p.size),
        "case_number_hash": cases["case_number_hash"].take(cpos),
        "person_id_hash": ctx.new_ids("fam_party", p.size),
        "estimated_person_id": None,
        "party_role": np.array(ROLES, dtype=object)[role],
        "gender": sex,
        "age_at_case_start": np.maximum(age, 0),
        "legal_rep_flag": rng.random(p.size) < rep_p,
        "fee_exempt_flag": (role != CHILD) & (rng.random(p.size) < np.where(ps.imd[p] <= 3, 0.5, 0.15)),
        "_person": p,
        "_role": role,
        "_date": at,
    }
    return {"family_cases": cases, "family_events": events, "family_parties": parties}


def civil_records(ctx: Ctx, civ: CivilOut) -> dict[str, Frame]:
    """Civil tables for one chunk.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.civil import simulate_civil
        >>> ps = make_persons(np.random.default_rng(0), 3000, DummyConfig(), 0)
        >>> cv = simulate_civil(np.random.default_rng(0), ps, DummyConfig(), 3e-4)
        >>> sorted(civil_records(Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)), cv))
        ['civil_cases', 'civil_events', 'civil_parties']
    """
    rng = ctx.rng
    cs = civ.cases
    n_all = cs["issue"].size
    w0, w1 = day_of(_CW.start), day_of(_CW.end)
    sel = np.flatnonzero((cs["issue"] >= w0) & (cs["issue"] <= w1))
    case_ids = ctx.new_ids("civil_case", sel.size)
    lt = cs["landlord_type"][sel]
    cases: Frame = {
        "case_number_hash": case_ids,
        "claim_type": np.array(CLAIM_TYPES, dtype=object)[cs["claim_type"][sel]],
        "landlord_type": np.where(lt >= 0, np.array(LANDLORD_TYPES, dtype=object)[np.maximum(lt, 0)], MISSING),
        "issue_date": cs["issue"][sel],
        "claim_amount": cs["amount"][sel],
        "court_code": court_codes(rng, cs["region"][sel], "CV", 15),
    }
    pos = np.full(n_all, -1, dtype=np.int64)
    pos[sel] = np.arange(sel.size)
    pa = civ.parties
    keep = np.flatnonzero(pos[pa["case"]] >= 0)
    cpos = pos[pa["case"][keep]]
    person = pa["person"][keep]
    indiv = person >= 0
    n = keep.size
    pid = ctx.new_ids("civil_party", n)
    parties: Frame = {
        "row_id_hash": ctx.new_ids("civil_row", n),
        "case_number_hash": case_ids.take(cpos),
        "party_type": np.array(PARTY_TYPES, dtype=object)[pa["party_type"][keep]],
        "party_role": np.array(PARTY_ROLES, dtype=object)[pa["role"][keep]],
        "person_id_hash": np.where(indiv, np.asarray(pid.to_numpy(zero_copy_only=False), dtype=object), MISSING),
        "estimated_person_id": None,
        "_person": person,
        "_role": np.where(pa["role"][keep] == 1, 1, 0),
        "_date": cs["issue"][sel][cpos],
        "_possession": np.isin(cs["claim_type"][sel][cpos], POSSESSION),  # for the cohort truth
    }
    ev = civ.events
    ek = np.flatnonzero((pos[ev["case"]] >= 0) & (ev["date"] <= w1))
    events: Frame = {
        "event_id_hash": ctx.new_ids("civil_event", ek.size),
        "case_number_hash": case_ids.take(pos[ev["case"][ek]]),
        "event_type": np.array(EVENT_TYPES, dtype=object)[ev["event_type"][ek]],
        "event_date": ev["date"][ek],
    }
    return {"civil_cases": cases, "civil_parties": parties, "civil_events": events}


def _optional_ids(ctx: Ctx, tag: str, keys: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Ids of ``keys[idx]`` where ``idx >= 0``, else None (object array)."""
    out = np.full(idx.size, None, dtype=object)
    has = idx >= 0
    if has.any():
        out[has] = np.asarray(ctx.ids(tag, keys[idx[has]]).to_numpy(zero_copy_only=False), dtype=object)
    return out
