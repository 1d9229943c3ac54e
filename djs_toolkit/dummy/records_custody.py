"""Step 4b: prisoner custodial journeys, OASys assessments and safety-in-custody incidents.

A journey merges remand, sentence and recall spells into one record (docs/data.md §5, §14.14);
journeys begun before 2011 appear when the release is from 2011 (left-censoring, §14.12); people
still inside at the extract end have no release date. Children under 15 are held in Secure
Training Centres and Secure Schools, which P-NOMIS does not cover (docs/data.md §5), so they have no journey.

Example:
    >>> from djs_toolkit.dummy.records_custody import STATUS
    >>> STATUS
    ('Remand', 'Sentenced', 'Recall')
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.dates import NA, age_years, day
from djs_toolkit.dummy.frames import MISSING, Ctx, Frame
from djs_toolkit.dummy.records_courts import group_strings
from djs_toolkit.schema import DATASETS, EXTRACT_END

__all__ = ["STATUS", "custody_records"]

STATUS = codes.codes_of("prison_journey", "custody_status")
INCIDENTS = codes.codes_of("prison_incident", "incident_type")
_START = DATASETS["prison_nomis"].start
END = day(EXTRACT_END.year, EXTRACT_END.month, EXTRACT_END.day)


def custody_records(ctx: Ctx, c: dict[str, np.ndarray]) -> dict[str, Frame]:
    """Prison tables for one chunk's contacts ``c``.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.casework import process
        >>> ps = make_persons(np.random.default_rng(0), 200, DummyConfig(), 0)
        >>> rng = np.random.default_rng(0)
        >>> c = process(rng, DummyConfig(), ps, np.arange(200), np.full(200, day(2015, 1, 1)), np.full(200, 5))
        >>> sorted(custody_records(Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)), c))
        ['prison_incident', 'prison_journey', 'prison_oasys']
    """
    rng = ctx.rng
    ps = ctx.persons
    start = c["journey_start"]
    rel = c["release"]
    age_rec = np.where(start == NA, 0, age_years(ps.dob[c["person"]], np.where(start == NA, 0, start)))
    sel = np.flatnonzero(
        c["in_prison"]
        & (start != NA)
        & (start <= END)
        & (age_rec >= 15)
        & ((rel == NA) | (rel >= day(_START.year, _START.month, _START.day)))
    )
    n = sel.size
    p = c["person"][sel]
    recalled = c["recalled"][sel] & (c["recall_date"][sel] != NA)
    custody = c["custody"][sel]
    status = np.where(recalled, 2, np.where(custody, 1, 0))
    sdays = c["sentence_days"][sel]
    stype = np.where(
        c["life"][sel],
        "Life",
        np.where(sdays > 4 * 365, np.where(rng.random(n) < 0.15, "Extended determinate", "Determinate"), "Determinate"),
    ).astype(object)
    stype = np.where(custody, stype, MISSING)
    code = c["code"][sel]
    age = age_rec[sel].copy()
    out_ = rng.random(n) < ctx.cfg.p_age_outlier
    age[out_] = age[out_] + 100
    journey_keys = ctx.keys("journey", n)
    # NOMIS offender ids are "unreliable" across terms (docs/data.md §5): a third of journeys get a new one.
    fresh = rng.random(n) < 0.35
    off_key = np.where(fresh, np.uint64(1 << 62) | journey_keys, ps.pid[p])
    journey: Frame = {
        "row_id_hash": ctx.new_ids("prison_row", n),
        "custodial_journey_id_hash": ctx.ids("journey", journey_keys),
        "estimated_offender_id": None,
        "offender_id_hash": ctx.ids("nomis_offender", off_key),
        "journey_start_date": start[sel],
        "sentence_date": np.where(custody, c["final_date"][sel], NA),
        "release_date": rel[sel],
        "conditional_release_date": np.where(custody, c["crd"][sel], NA),
        "custody_status": np.array(STATUS, dtype=object)[status],
        "sentence_type": stype,
        "sentence_length_days": np.where(custody, sdays, NA),
        "recall_count": np.where(recalled, 1 + (rng.random(n) < 0.12), 0),
        "first_recall_date": np.where(recalled, c["recall_date"][sel], NA),
        "main_offence_code": np.array([k for k, _, _ in codes.OFFENCES], dtype=object)[code],
        "offence_group": group_strings(rng, codes.GROUP_OF[code]),
        "age_at_reception": age,
        "gender": np.array(["M", "F"], dtype=object)[ps.sex[p]],
        "ethnicity": np.array(codes.NOMIS_ETH, dtype=object)[ps.eth[p]],
        "_person": p,
    }
    stay_end = np.where(rel[sel] == NA, END, rel[sel])
    stay = np.maximum(stay_end - start[sel], 1)

    # OASys: sentenced journeys of six months or more; a second assessment for long sentences.
    k = np.where(custody & (sdays >= 180), 1 + (sdays > 730), 0)
    oi = np.repeat(np.arange(n), k)
    a_date = start[sel][oi] + np.minimum(rng.integers(20, 90, oi.size), stay[oi] - 1)
    a_date = a_date + np.where(
        np.r_[False, oi[1:] == oi[:-1]] if oi.size else np.zeros(0, bool), np.minimum(365, stay[oi] // 2), 0
    )
    ok = a_date <= END
    oi, a_date = oi[ok], a_date[ok]
    adv = ps.adversity[p[oi]]
    prior = c["prior"][sel][oi]
    z = -1.2 + 0.9 * np.log1p(prior) - 0.03 * (age_rec[sel][oi] - 25)
    oasys: Frame = {
        "assessment_id_hash": ctx.new_ids("oasys", oi.size),
        "custodial_journey_id_hash": journey["custodial_journey_id_hash"].take(oi),
        "estimated_offender_id": None,
        "assessment_date": a_date,
        "accommodation_need": rng.random(oi.size) < 1 / (1 + np.exp(-(adv - 0.3))),
        "finance_need": rng.random(oi.size) < 1 / (1 + np.exp(-(0.8 * adv))),
        "relationships_need": rng.random(oi.size) < 0.35,
        "ogrs_score": np.round(1 / (1 + np.exp(-z)), 3),
        "_row": oi,
    }

    # Safety in custody: about 0.4 incidents per person-year inside [assumption].
    ki = rng.poisson(0.4 * stay / 365.25)
    ii = np.repeat(np.arange(n), ki)
    i_date = start[sel][ii] + np.floor(rng.random(ii.size) * stay[ii]).astype(np.int64)
    incident: Frame = {
        "incident_id_hash": ctx.new_ids("incident", ii.size),
        "custodial_journey_id_hash": journey["custodial_journey_id_hash"].take(ii),
        "estimated_offender_id": None,
        "incident_date": i_date,
        "incident_type": np.array(INCIDENTS, dtype=object)[rng.choice(len(INCIDENTS), ii.size, p=[0.45, 0.35, 0.2])],
        "_row": ii,
    }
    return {"prison_journey": journey, "prison_oasys": oasys, "prison_incident": incident}
