"""Step 4a: magistrates' and Crown Court records from the simulated contacts.

One contact (an offence) gives one magistrates' defendant-case row, plus further case rows for
offences of the same incident charged separately; breach proceedings and non-criminal matters add
rows that are not offences (docs/data.md §3 caveats, §14.9). Cases sent or committed to the Crown
Court also give a Crown defendant-case row (from 2013, §4) and a `mags_crown_journey` pair. Coverage
falls from 2021 (Common Platform) by thinning rows with the configured keep shares, and there are
no Single Justice Procedure cases at all (docs/data.md §3).

Example:
    >>> from djs_toolkit.dummy.records_courts import JSAS
    >>> JSAS["Fine"]
    'Fines'
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.casework import DISPOSALS, D
from djs_toolkit.dummy.dates import NA, day, half_of
from djs_toolkit.dummy.frames import MISSING, Ctx, Frame, court_codes
from djs_toolkit.schema import DATASETS

__all__ = ["JSAS", "court_records", "keep_after_cliff"]

JSAS = {
    "Immediate custody": "Immediate custody",
    "Suspended sentence order": "Suspended sentence",
    "Community sentence": "Community sentence",
    "Fine": "Fines",
    "Conditional discharge": "Discharges",
    "Absolute discharge": "Discharges",
    "Otherwise dealt with": "Otherwise dealt with",
    "Committed to Crown Court": "Committed for trial or sentence",
    "Dismissed or acquitted": "Not convicted",
    "Proceedings terminated early": "Proceedings terminated early",
}
_JSAS_ARR = np.array([JSAS[d] for d in DISPOSALS], dtype=object)
_DISP_ARR = np.array(DISPOSALS, dtype=object)
_CODES = np.array([c for c, _, _ in codes.OFFENCES], dtype=object)
_GROUPS = np.array(codes._GROUPS, dtype=object)
_TYPES = np.array(codes._TYPES, dtype=object)
_MINOR = np.flatnonzero(codes.MODE_OF != codes.IO)
_MAGS_START = DATASETS["mags_hocas"].start
_CROWN_START = DATASETS["crown_xhibit"].start


def keep_after_cliff(rng: np.random.Generator, when: np.ndarray, keep: dict[str, float]) -> np.ndarray:
    """Rows kept given the Common Platform coverage loss by half year (missing halves keep all).

    Example:
        >>> import numpy as np
        >>> keep_after_cliff(np.random.default_rng(0), np.array([day(2015, 1, 1)]), {"2021H1": 0.0}).tolist()
        [True]
    """
    out = np.ones(when.size, dtype=bool)
    late = np.flatnonzero(when >= day(2021, 1, 1))
    if late.size:
        share = np.array([keep.get(h, 1.0) for h in half_of(when[late])])
        out[late] = rng.random(late.size) < share
    return out


def group_strings(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """Offence group labels with the real defects: a leading-space variant and `Not known` (docs/data.md §9.4)."""
    s = np.where(group < 0, "Not known", _GROUPS[np.maximum(group, 0)]).astype(object)
    sex = s == "Sexual offences"
    s[sex & (rng.random(s.size) < 0.08)] = " Sexual offences"
    return s


def court_records(ctx: Ctx, c: dict[str, np.ndarray]) -> dict[str, Frame]:
    """Magistrates', Crown and journey tables for one chunk's contacts ``c``.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> from djs_toolkit.dummy.casework import process
        >>> ps = make_persons(np.random.default_rng(0), 20, DummyConfig(), 0)
        >>> rng = np.random.default_rng(0)
        >>> c = process(rng, DummyConfig(), ps, np.arange(20), np.full(20, day(2015, 1, 1)), np.ones(20, int))
        >>> out = court_records(Ctx(0, 0, ps, DummyConfig(), np.random.default_rng(0)), c)
        >>> sorted(out)
        ['crown_defendant_case', 'crown_offence', 'mags_crown_journey', 'mags_defendant_case', 'mags_offence']
    """
    rng, cfg = ctx.rng, ctx.cfg
    m = c["person"].size
    # ---- main rows, extra same-incident rows, breach rows, non-criminal rows
    n_extra = rng.poisson(cfg.extra_cases_mean, m)
    src = np.r_[np.arange(m), np.repeat(np.arange(m), n_extra)]
    kind = np.r_[np.zeros(m, np.int8), np.ones(n_extra.sum(), np.int8)]
    br = np.flatnonzero(c["breach_date"] != NA)
    nc_n = rng.binomial(m, cfg.p_non_criminal)
    nc = rng.integers(0, max(m, 1), nc_n) if m else np.zeros(0, np.int64)
    src = np.r_[src, br, nc].astype(np.int64)
    kind = np.r_[kind, np.full(br.size, 2, np.int8), np.full(nc.size, 3, np.int8)]
    n = src.size
    person = c["person"][src]
    nc_day = day(2011, 1, 1) + rng.integers(0, day(2023, 3, 31) - day(2011, 1, 1), n)
    off = np.where(kind <= 1, c["offence_date"][src], np.where(kind == 2, c["breach_date"][src], NA))
    # Further cases of the same incident (incl. bail offences) are often listed on later dates:
    # they are returns to court in the data without being new offences.
    later = np.where((kind == 1) & (rng.random(n) < cfg.p_extra_case_later), rng.integers(7, 120, n), 0)
    hearing = np.where(
        kind <= 1, c["first_hearing"][src] + later, np.where(kind == 2, off + rng.integers(7, 60, n), nc_day)
    )
    code = np.where(kind == 0, c["code"][src], np.where(kind == 1, rng.choice(_MINOR, n), -1))
    result = np.where(kind == 0, c["mags_result"][src], hearing + np.where(rng.random(n) < 0.6, 0, 21))
    result = np.where((kind == 1) & (c["mags_result"][src] != NA), np.maximum(result, c["mags_result"][src]), result)
    result = np.where(result > day(2023, 3, 31), NA, result)
    disp = c["mags_disposal"][src].copy()
    extra_conv = rng.random(n) < 0.85
    disp[kind == 1] = np.where(
        extra_conv,
        np.where(rng.random(n) < 0.5, D["Otherwise dealt with"], D["Fine"]),
        D["Proceedings terminated early"],
    )[kind == 1]
    disp[kind == 2] = rng.choice(
        [D["Fine"], D["Otherwise dealt with"], D["Community sentence"], D["Immediate custody"]],
        size=n,
        p=[0.35, 0.4, 0.2, 0.05],
    )[kind == 2]
    disp[kind == 3] = D["Otherwise dealt with"]
    convicted = np.where(
        kind == 0,
        np.where(c["to_crown"][src], c["committal"][src], c["convicted_mags"][src]),
        np.where(kind == 1, extra_conv, kind == 2),
    )
    keep = (hearing >= day(_MAGS_START.year, _MAGS_START.month, _MAGS_START.day)) & (hearing <= day(2023, 3, 31))
    keep &= keep_after_cliff(rng, hearing, cfg.mags_coverage)
    rows = np.flatnonzero(keep)
    mags = _mags_frame(ctx, c, rows, src, kind, person, off, hearing, code, result, disp, convicted)
    moff = _offence_rows(ctx, mags, code[rows], disp[rows], off[rows], "mags")

    # ---- Crown Court: trials and committals for sentence (main rows), plus appeals
    main_written = np.zeros(m, dtype=bool)
    main_row_of = np.full(m, -1, dtype=np.int64)
    mrow = np.flatnonzero(kind[rows] == 0)
    main_written[src[rows][mrow]] = True
    main_row_of[src[rows][mrow]] = mrow
    crown_start = day(_CROWN_START.year, _CROWN_START.month, _CROWN_START.day)
    cc = np.flatnonzero(c["to_crown"] & (c["receipt"] >= crown_start) & (c["receipt"] <= day(2023, 3, 31)))
    appeal = np.flatnonzero(
        ~c["to_crown"]
        & c["convicted_mags"]
        & (rng.random(m) < 0.01)
        & (c["mags_result"] >= crown_start)
        & (c["mags_result"] != NA)
    )
    csrc = np.r_[cc, appeal]
    ctype = np.r_[np.where(c["committal"][cc], 1, 0), np.full(appeal.size, 2)].astype(np.int8)
    receipt = np.r_[c["receipt"][cc], c["mags_result"][appeal] + rng.integers(10, 40, appeal.size)]
    ck = keep_after_cliff(rng, receipt, cfg.crown_coverage) & (receipt <= day(2023, 3, 31))
    csrc, ctype, receipt = csrc[ck], ctype[ck], receipt[ck]
    crown = _crown_frame(ctx, c, csrc, ctype, receipt)
    coff = _offence_rows(
        ctx,
        crown,
        c["code"][csrc],
        crown["_disposal"],
        c["offence_date"][csrc],
        "crown",
    )

    # ---- mags_crown_journey: sent/committed cases whose magistrates' row exists; a few unlinked
    j = np.flatnonzero((ctype != 2) & main_written[csrc] & (rng.random(csrc.size) < 0.97))
    mr = main_row_of[csrc[j]]
    journey: Frame = {
        "mc_case_id_hash": mags["case_id_hash"].take(mr),
        "mc_defendant_id_hash": mags["defendant_id_hash"].take(mr),
        "cc_defendant_on_case_id_hash": crown["defendant_on_case_id_hash"].take(j),
        "estimated_match_score": np.round(1 - rng.beta(1, 25, j.size), 4),
    }
    return {
        "mags_defendant_case": mags,
        "mags_offence": moff,
        "crown_defendant_case": crown,
        "crown_offence": coff,
        "mags_crown_journey": journey,
    }


def _mags_frame(
    ctx: Ctx,
    c: dict[str, np.ndarray],
    rows: np.ndarray,
    src: np.ndarray,
    kind: np.ndarray,
    person: np.ndarray,
    off: np.ndarray,
    hearing: np.ndarray,
    code: np.ndarray,
    result: np.ndarray,
    disp: np.ndarray,
    convicted: np.ndarray,
) -> Frame:
    rng = ctx.rng
    n = rows.size
    s, k, p = src[rows], kind[rows], person[rows]
    pc = ctx.person_cols(
        p, np.where(off[rows] == NA, hearing[rows], off[rows]), codes.codes_of("mags_defendant_case", "gender")
    )
    cd = code[rows]
    group = np.where(cd >= 0, codes.GROUP_OF[np.maximum(cd, 0)], -1)
    d = disp[rows]
    sent = np.where((k == 0) & (d == D["Immediate custody"]), c["sentence_days"][s], NA)
    sent = np.where((k == 2) & (d == D["Immediate custody"]), 28, sent)
    plea = np.where(
        c["to_crown"][s] & (k == 0),
        np.where(c["committal"][s], 0, 2),
        np.where(convicted[rows], np.where(c["plea_guilty"][s] | (k != 0), 0, 1), 1),
    )
    plea = np.where(k == 3, 2, plea)
    age = pc["age"].copy()
    out_ = rng.random(n) < ctx.cfg.p_age_outlier
    age[out_] = age[out_] + 130
    fine = np.where(d == D["Fine"], np.round(np.exp(5.0 + 0.7 * rng.standard_normal(n)), 0), np.nan)
    return {
        "row_id_hash": ctx.new_ids("mags_row", n),
        "case_id_hash": ctx.new_ids("mags_case", n),
        "defendant_id_hash": ctx.new_ids("mags_defendant", n),
        "estimated_defendant_id": None,  # filled by linkage
        "offence_date": off[rows],
        "first_hearing_date": hearing[rows],
        "final_result_date": result[rows],
        "age_at_offence": age,
        "gender": pc["gender"],
        "ethnicity": np.array(codes.ETH_GROUP, dtype=object)[ctx.persons.eth[p]],
        "lsoa_residence": pc["lsoa"],
        "imd_decile": pc["imd"],
        "ho_offence_code": np.where(cd >= 0, _CODES[np.maximum(cd, 0)], MISSING),
        "offence_group": group_strings(rng, group),
        "offence_type": np.where(cd >= 0, _TYPES[codes.MODE_OF[np.maximum(cd, 0)]], "Summary"),
        "proceedings_type_desc": np.array(["Criminal", "Criminal", "Breach", "Non-criminal"], dtype=object)[k],
        "breach_marker": k == 2,
        "plea": np.array(["Guilty", "Not guilty", "No plea"], dtype=object)[plea],
        "convicted_flag": convicted[rows].astype(bool),
        "disposal_type": _DISP_ARR[d],
        "jsas_result_group_desc": _JSAS_ARR[d],
        "sentence_length_days": sent,
        "fine_amount": fine,
        "committed_to_crown_flag": d == D["Committed to Crown Court"],
        "n_hearings": np.where(result[rows] == hearing[rows], 1, 2 + rng.poisson(1.2, n)),
        "court_code": court_codes(rng, ctx.persons.region[p], "MC", 30),
        "_person": p,
        "_n_off": np.where(k == 0, c["n_offences"][s], 1),
    }


def _crown_frame(ctx: Ctx, c: dict[str, np.ndarray], csrc: np.ndarray, ctype: np.ndarray, receipt: np.ndarray) -> Frame:
    rng = ctx.rng
    n = csrc.size
    p = c["person"][csrc]
    pc = ctx.person_cols(p, c["offence_date"][csrc], codes.codes_of("crown_defendant_case", "gender"))
    appeal = ctype == 2
    disp = np.where(
        appeal,
        np.where(rng.random(n) < 0.35, D["Dismissed or acquitted"], c["mags_disposal"][csrc]),
        c["crown_disposal"][csrc],
    )
    ddate = np.where(appeal, receipt + rng.integers(30, 120, n), c["crown_disposal_date"][csrc])
    ddate = np.where(ddate > day(2023, 3, 31), NA, ddate)
    conv = ~np.isin(disp, [D["Dismissed or acquitted"], D["Proceedings terminated early"]])
    sentence = np.where(conv & (ddate != NA), ddate + np.where(rng.random(n) < 0.3, rng.integers(14, 45, n), 0), NA)
    sentence = np.where(sentence > day(2023, 3, 31), NA, sentence)
    plea_g = conv & (rng.random(n) < 0.7)
    verdict = np.where(
        conv,
        np.where(plea_g, "Guilty plea", "Found guilty"),
        np.where(disp == D["Dismissed or acquitted"], "Acquitted", "Discontinued"),
    ).astype(object)
    verdict = np.where(ddate == NA, MISSING, verdict)
    code = c["code"][csrc]
    cust = np.where(disp == D["Immediate custody"], c["sentence_days"][csrc], NA)
    return {
        "row_id_hash": ctx.new_ids("crown_row", n),
        "defendant_on_case_id_hash": ctx.new_ids("crown_doc", n),
        "estimated_defendant_id": None,
        "receipt_date": receipt,
        "disposal_date": ddate,
        "sentence_date": sentence,
        "case_type": np.array(codes.codes_of("crown_defendant_case", "case_type"), dtype=object)[ctype],
        "final_offence_ho_code": _CODES[code],
        "offence_date": c["offence_date"][csrc],
        "offence_group": group_strings(rng, codes.GROUP_OF[code]),
        "plea_desc": np.where(plea_g, "Guilty", np.where(ctype == 1, "Guilty", "Not guilty")).astype(object),
        "verdict_desc": verdict,
        "disposal_type": _DISP_ARR[disp],
        "custodial_period_days": cust,
        "age_at_offence": pc["age"],
        "gender": pc["gender"],
        "ethnicity": np.array(codes.ETH_GROUP, dtype=object)[ctx.persons.eth[p]],
        "lsoa_residence": pc["lsoa"],
        "imd_decile": pc["imd"],
        "court_code": court_codes(rng, ctx.persons.region[p], "CC", 8),
        "_person": p,
        "_disposal": disp,
        "_n_off": c["n_offences"][csrc],
    }


def _offence_rows(
    ctx: Ctx,
    case: Frame,
    code: np.ndarray,
    disp: np.ndarray,
    off: np.ndarray,
    court: str,
) -> Frame:
    """One row per offence of each case; the first is the principal offence (docs/data.md §3)."""
    rng = ctx.rng
    n_off = np.asarray(case["_n_off"])
    ci = np.repeat(np.arange(n_off.size), n_off)
    first = np.r_[True, ci[1:] != ci[:-1]] if ci.size else np.zeros(0, bool)
    oc = np.where(first, code[ci], rng.choice(_MINOR, ci.size))
    disp_o = np.where(first, disp[ci], np.where(rng.random(ci.size) < 0.6, disp[ci], D["Otherwise dealt with"]))
    od = np.where(first | (off[ci] == NA), off[ci], off[ci] - rng.integers(0, 3, ci.size))
    grp = np.where(oc >= 0, codes.GROUP_OF[np.maximum(oc, 0)], -1)
    ho = np.where(oc >= 0, _CODES[np.maximum(oc, 0)], MISSING)
    if court == "mags":
        return {
            "offence_id_hash": ctx.new_ids("mags_offence", ci.size),
            "case_id_hash": case["case_id_hash"].take(ci),
            "defendant_id_hash": case["defendant_id_hash"].take(ci),
            "ho_offence_code": ho,
            "offence_date": od,
            "offence_group": group_strings(rng, grp),
            "principal_offence_flag": first,
            "disposal_type": _DISP_ARR[disp_o],
        }
    return {
        "defendant_on_offence_id_hash": ctx.new_ids("crown_offence", ci.size),
        "defendant_on_case_id_hash": case["defendant_on_case_id_hash"].take(ci),
        "final_offence_ho_code": ho,
        "offence_date": od,
        "offence_group": group_strings(rng, grp),
        "disposal_type": _DISP_ARR[disp_o],
    }
