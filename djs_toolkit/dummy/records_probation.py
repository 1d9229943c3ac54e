"""Step 4c: probation (nDelius) events and requirements.

Community orders and suspended sentences give an event with requirements; releases on licence
give a licence event. Only referrals inside the probation window (2014-2020, docs/data.md §6)
are written. Real defects reproduced (§14): duplicate `event_id_hash` rows, ethnicity strings with
inconsistent colon spacing and `Refusal` / `Z_Dummy Ethnicity 0x` / empty values, age outliers,
requirement lengths in mixed units, an often-missing commencement date, and a messy
`probation_area_desc` mixing trusts, CRCs, NPS regions, prisons and placeholders.

Example:
    >>> from djs_toolkit.dummy.records_probation import ethnicity_strings
    >>> import numpy as np
    >>> ethnicity_strings(np.random.default_rng(0), np.array([1]), 0.0).tolist()
    ['White : Irish']
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.casework import ORA, D
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.frames import MISSING, Ctx, Frame
from djs_toolkit.dummy.records_courts import group_strings
from djs_toolkit.schema import DATASETS, TABLES

__all__ = ["ethnicity_strings", "probation_records"]

_W = DATASETS["probation_delius"]
W0, W1 = day(_W.start.year, _W.start.month, _W.start.day), day(_W.end.year, _W.end.month, _W.end.day)
_MISSING = TABLES["probation_flatfile"].column("ethnicity_desc").missing_codes
_AREAS = np.array(codes.PROBATION_AREAS, dtype=object)
_PLACEHOLDERS = np.array([19, 20, 21, 22, 23, 24, 25, 26, 27, 28])


def ethnicity_strings(rng: np.random.Generator, eth: np.ndarray, p_missing: float) -> np.ndarray:
    """Probation ethnicity strings (exactly as seen, docs/data.md §9.2), some replaced by missing-type codes.

    Example:
        >>> import numpy as np
        >>> got = ethnicity_strings(np.random.default_rng(0), np.array([0]), 1.0)[0]
        >>> got in ("Refusal", "Z_Dummy Ethnicity 04", "Z_Dummy Ethnicity 05", "")
        True
    """
    s = np.array(codes.ETHNICITY_TRUE, dtype=object)[eth]
    miss = rng.random(eth.size) < p_missing
    s[miss] = np.array(_MISSING, dtype=object)[rng.choice(len(_MISSING), int(miss.sum()), p=[0.35, 0.3, 0.1, 0.25])]
    return s


def probation_records(ctx: Ctx, c: dict[str, np.ndarray]) -> dict[str, Frame]:
    """Probation flatfile and requirements for one chunk's contacts ``c``.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.casework import process
        >>> ps = make_persons(np.random.default_rng(0), 300, DummyConfig(), 0)
        >>> rng = np.random.default_rng(0)
        >>> c = process(rng, DummyConfig(), ps, np.arange(300), np.full(300, day(2015, 1, 1)), np.full(300, 3))
        >>> sorted(probation_records(Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)), c))
        ['probation_flatfile', 'probation_rqmnts']
    """
    rng, cfg, ps = ctx.rng, ctx.cfg, ctx.persons
    comm = np.flatnonzero((c["referral"] != NA) & (c["referral"] >= W0) & (c["referral"] <= W1))
    lic = np.flatnonzero(c["licence"] & (c["crd"] != NA) & (c["crd"] >= W0) & (c["crd"] <= W1))
    src = np.r_[comm, lic]
    is_lic = np.r_[np.zeros(comm.size, bool), np.ones(lic.size, bool)]
    n = src.size
    p = c["person"][src]
    referral = np.where(is_lic, c["crd"][src], c["referral"][src])
    sso = c["final_disposal"][src] == D["Suspended sentence order"]
    post = c["final_date"][src] >= ORA
    desc = np.where(
        is_lic,
        np.where(post, "ORA Adult Custody (inc PSS)", "CJA - Std Determinate Custody"),
        np.where(
            sso,
            np.where(post, "ORA Suspended Sentence Order", "CJA - Suspended Sentence Order"),
            np.where(post, "ORA Community Order", "CJA - Community Order"),
        ),
    ).astype(object)
    sd = c["sentence_days"][src]
    lic_days = np.maximum(sd - (sd + 1) // 2, 1) + np.where(post & (sd < 730), 365, 0)
    length_days = np.where(is_lic, lic_days, np.round(c["order_months"][src] * 30.44).astype(np.int64))
    early = ~is_lic & (c["breach_date"][src] != NA) & (rng.random(n) < 0.5)
    term = np.where(early, c["breach_date"][src] + 30, referral + length_days)
    term = np.where(term > day(2023, 3, 31), NA, term)
    pc = ctx.person_cols(p, c["offence_date"][src], codes.codes_of("probation_flatfile", "gender"))
    age = pc["age"].copy()
    out_ = rng.random(n) < cfg.p_age_outlier * 4  # a researcher capped a high value (docs/data.md §14.4)
    age[out_] = age[out_] + 90
    region = ps.region[p]
    area_choice = (
        np.array(
            [
                codes.REGION_AREAS[r][i % len(codes.REGION_AREAS[r])]
                for r, i in zip(region.tolist(), rng.integers(0, 6, n).tolist(), strict=True)
            ],
            dtype=np.int64,
        )
        if n
        else np.zeros(0, np.int64)
    )
    odd = rng.random(n) < 0.06
    area_choice[odd] = rng.choice(_PLACEHOLDERS, int(odd.sum()))
    code = c["code"][src]
    recalls = np.where(is_lic & c["recalled"][src], 1, 0)
    ev_keys = ctx.keys("event", n)
    flat: Frame = {
        "row_id_hash": None,  # set after duplication below
        "estimated_offender_id": None,
        "event_id_hash": ctx.ids("event", ev_keys),
        "referral_date": referral,
        "gender": pc["gender"],
        "age_at_offence": age,
        "ethnicity_desc": ethnicity_strings(rng, ps.eth[p], cfg.p_ethnicity_missing_code),
        "lsoa_residence": pc["lsoa"],
        "imd_decile": pc["imd"],
        "mo_code": np.array([k for k, _, _ in codes.OFFENCES], dtype=object)[code],
        "mo_category_description": group_strings(rng, codes.GROUP_OF[code]),
        "main_offence_date": c["offence_date"][src],
        "disposal_type_description": desc,
        "disposal_date": c["final_date"][src],
        "disposal_termination_date": term,
        "length": np.round(length_days / 30.44, 1),
        "length_in_days": length_days,
        "recall_count": recalls,
        "probation_area_desc": _AREAS[area_choice],
        "_person": p,
        "_event": np.arange(n),
    }
    # Duplicate event rows (docs/data.md §14.1): same event id, own row id, sometimes another area label.
    dup = np.flatnonzero(rng.random(n) < cfg.p_duplicate_event)
    rows = np.r_[np.arange(n), dup]
    out: Frame = {}
    for k, v in flat.items():
        if v is None:
            out[k] = None
        elif hasattr(v, "take") and not isinstance(v, np.ndarray):
            out[k] = v.take(rows)
        else:
            out[k] = np.asarray(v)[rows]
    moved = np.r_[np.zeros(n, bool), rng.random(dup.size) < 0.5]
    out["probation_area_desc"] = np.where(
        moved, _AREAS[rng.choice(_PLACEHOLDERS, rows.size)], out["probation_area_desc"]
    )
    out["row_id_hash"] = ctx.new_ids("probation_row", rows.size)
    rq = _requirements(ctx, flat, np.flatnonzero(~is_lic), c["final_date"][src])
    return {"probation_flatfile": out, "probation_rqmnts": rq}


def _requirements(ctx: Ctx, flat: Frame, ev: np.ndarray, disposal: np.ndarray) -> Frame:
    rng = ctx.rng
    k = 1 + rng.binomial(2, 0.35, ev.size)
    ei = np.repeat(ev, k)
    m = ei.size
    t = rng.choice(len(codes.RQMNTS), m, p=codes.RQMNT_P / codes.RQMNT_P.sum())
    desc = np.array([r[0] for r in codes.RQMNTS], dtype=object)[t]
    code = np.array([r[1] for r in codes.RQMNTS], dtype=object)[t]
    unit = np.array([r[2] for r in codes.RQMNTS], dtype=object)[t]
    lo = np.array([r[3] for r in codes.RQMNTS])[t]
    hi = np.array([r[4] for r in codes.RQMNTS])[t]
    length = np.round(lo + rng.random(m) * (hi - lo))
    # Mixed units (docs/data.md §14.7): some day-measured requirements are recorded in months.
    in_months = (unit == "Days") & (rng.random(m) < 0.12)
    length = np.where(in_months, np.maximum(np.round(length / 30.44), 1), length)
    unit = np.where(in_months, "Months", unit).astype(object)
    days = np.where(unit == "Months", length * 30.44, np.where(unit == "Hours", length * 1.5, length)).astype(np.int64)
    start = disposal[ei]
    commence = start + rng.integers(0, 30, m)
    term = start + days + rng.integers(0, 60, m)
    term = np.where(term > day(2023, 3, 31), NA, term)
    reason = np.array(codes.TERMINATION_REASONS, dtype=object)[
        rng.choice(len(codes.TERMINATION_REASONS), m, p=codes.TERMINATION_P)
    ]
    return {
        "rqmnt_id_hash": ctx.new_ids("rqmnt", m),
        "estimated_offender_id": None,
        "event_id_hash": flat["event_id_hash"].take(ei),
        "rqmnt_type_main_category_desc": desc,
        "rqmnt_type_main_category_code": code,
        "rqmnt_type_main_units_desc": unit,
        "rqmnt_start_date": start,
        "rqmnt_commencement_date": commence,
        "rqmnt_termination_date": term,
        "rqmnt_termination_reason_desc": np.where(term == NA, MISSING, reason),
        "length": length.astype(np.float64),
        "_event": ei,
    }
