"""Step 3b: what happens to one offence (a "contact"): court, disposal, custody, probation.

An offence goes to the magistrates' court; indictable-only and some either-way cases are sent to
the Crown Court, and some convictions are committed there for sentence (docs/data.md §3, §4). The
disposal depends on the offence and on recent prior contacts (prior-offence count is the dominant
covariate of reoffending, docs/data.md §13.3, and of sentencing). Custody produces one prisoner journey merging
remand, sentence and any recall (§5); community orders and suspended sentences, and licences after
release, produce probation events (docs/data.md §6). Finally the contact yields the *index event* from which the
next offence is drawn: the release date after custody, the probation start after a community order
or suspended sentence, otherwise the court disposal date.

Example:
    >>> import numpy as np
    >>> from djs_toolkit.dummy.config import DummyConfig
    >>> from djs_toolkit.dummy.population import make_persons
    >>> from djs_toolkit.dummy.dates import day
    >>> p = make_persons(np.random.default_rng(0), 50, DummyConfig(), 0)
    >>> rng = np.random.default_rng(0)
    >>> c = process(rng, DummyConfig(), p, np.arange(50), np.full(50, day(2015, 1, 1)), np.ones(50, int))
    >>> set(c["index_type"].tolist()) <= {-1, 0, 1, 2}
    True
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.dummy import codes
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, age_years, day, day_of
from djs_toolkit.dummy.population import Persons
from djs_toolkit.dummy.sampling import lognormal_days
from djs_toolkit.schema import EXTRACT_END

__all__ = ["DISPOSALS", "INDEX_TYPES", "D", "process"]

END = day_of(EXTRACT_END)
DISPOSALS = codes.codes_of("mags_defendant_case", "disposal_type")
D = {name: DISPOSALS.index(name) for name in DISPOSALS}
INDEX_TYPES = ("court_disposal", "release", "probation_start")
ORA = day(2015, 2, 1)  # Offender Rehabilitation Act: licence for every custodial sentence from here

_CONVICTED = (
    "Immediate custody",
    "Suspended sentence order",
    "Community sentence",
    "Fine",
    "Conditional discharge",
    "Absolute discharge",
    "Otherwise dealt with",
)
_CONV_IDX = np.array([D[n] for n in _CONVICTED])
# Base disposal shares among convictions [I] (MoJ CJS outcome mixes, rough): mags non-motoring,
# mags motoring, Crown.
_MAGS_P = np.array([0.035, 0.045, 0.13, 0.52, 0.16, 0.02, 0.09])
_MOTOR_P = np.array([0.008, 0.01, 0.03, 0.85, 0.04, 0.012, 0.05])
_CROWN_P = np.array([0.50, 0.20, 0.13, 0.03, 0.03, 0.005, 0.105])
_MOTORING = codes._GROUPS.index("Summary motoring")
_MAGS_CUSTODY_DAYS = np.array([14, 28, 42, 56, 84, 112, 126, 182])
_MAGS_CUSTODY_P = np.array([0.12, 0.2, 0.12, 0.14, 0.16, 0.08, 0.08, 0.1])


def _code_weights(prior_high: bool) -> np.ndarray:
    g = codes.GROUP_OF
    gp = np.array([codes.MAGS_GROUP_P.get(name, 0.0) for name in codes._GROUPS])
    if prior_high:  # repeat offenders: more theft, fewer motoring cases [assumption]
        gp = gp * np.where(np.array(codes._GROUPS) == "Theft offences", 1.8, 1.0)
        gp = gp * np.where(np.array(codes._GROUPS) == "Summary motoring", 0.6, 1.0)
    n_in = np.bincount(g, minlength=len(codes._GROUPS))
    w = gp[g] / n_in[g]
    w = w * np.where(np.array([c for c, _, _ in codes.OFFENCES]) == "00101", 0.02, 1.0)
    return np.cumsum(w / w.sum())


_CUM_LOW, _CUM_HIGH = _code_weights(False), _code_weights(True)


def _choose(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """Row-wise categorical draws from a (n, k) probability matrix."""
    c = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random((p.shape[0], 1)) > c).sum(axis=1), p.shape[1] - 1)


def process(
    rng: np.random.Generator, cfg: DummyConfig, persons: Persons, p: np.ndarray, off: np.ndarray, prior: np.ndarray
) -> dict[str, np.ndarray]:
    """Court case, disposal, custody and probation for offences ``off`` of local persons ``p``.

    Args:
        rng: the chunk's career generator.
        cfg: configuration.
        persons: the population.
        p: local person index of each contact.
        off: offence day.
        prior: offences of the person in the 730 days up to and including this one.

    Returns:
        Column arrays, one element per contact (day numbers; NA where not applicable), with
        ``index_type`` (-1 none, else an index into INDEX_TYPES) and ``index_date``.

    Example:
        >>> import numpy as np
        >>> from djs_toolkit.dummy.config import DummyConfig
        >>> from djs_toolkit.dummy.population import make_persons
        >>> ps = make_persons(np.random.default_rng(0), 5, DummyConfig(), 0)
        >>> c = process(np.random.default_rng(0), DummyConfig(), ps, np.arange(5), np.full(5, 16000), np.ones(5, int))
        >>> c["first_hearing"].shape
        (5,)
    """
    m = p.size
    age = age_years(persons.dob[p], off)
    high = prior >= 3
    u = rng.random(m)
    code = np.where(high, np.searchsorted(_CUM_HIGH, u, side="right"), np.searchsorted(_CUM_LOW, u, side="right"))
    code = np.minimum(code, len(codes.OFFENCES) - 1)
    mode = codes.MODE_OF[code]
    group = codes.GROUP_OF[code]
    crown = (mode == codes.IO) | ((mode == codes.TEW) & (rng.random(m) < cfg.p_sent_crown_tew))
    remand = rng.random(m) < np.where(crown, cfg.p_remand_crown, cfg.p_remand_mags)
    first_hearing = off + np.where(remand, rng.integers(1, 3, m), lognormal_days(rng, 35, 1.0, m, lo=1, hi=700))

    # ---- magistrates
    conv_m = rng.random(m) < cfg.p_convicted_mags
    committal = ~crown & conv_m & (mode == codes.TEW) & (rng.random(m) < cfg.p_committal_for_sentence)
    plea_g = conv_m & (rng.random(m) < 0.8)
    mags_result = first_hearing + np.where(
        crown, 0, np.where(plea_g & (rng.random(m) < 0.55), 0, lognormal_days(rng, 45, 0.9, m, lo=7))
    )
    to_crown = crown | committal
    motoring = group == _MOTORING
    base = np.where(motoring[:, None], _MOTOR_P[None, :], _MAGS_P[None, :]).copy()
    pr = np.minimum(prior - 1, 8)
    base[:, 0] *= np.exp(0.28 * pr)  # custody more likely with recent priors
    base[:, 2] *= np.exp(0.10 * pr)
    base[:, 4] *= np.exp(-0.15 * pr)
    mags_disp_conv = _CONV_IDX[_choose(rng, base)]
    not_conv = np.where(rng.random(m) < 0.45, D["Dismissed or acquitted"], D["Proceedings terminated early"])
    mags_disposal = np.where(to_crown, D["Committed to Crown Court"], np.where(conv_m, mags_disp_conv, not_conv))

    # ---- Crown Court
    receipt = np.where(to_crown, mags_result + rng.integers(0, 29, m), NA)
    backlog = np.where((receipt >= day(2020, 4, 1)) & (receipt < day(2022, 7, 1)), 1.6, 1.0)
    crown_len = np.where(
        committal,
        lognormal_days(rng, 35, 0.5, m, lo=7),
        np.round(lognormal_days(rng, 150, 0.7, m, lo=14) * backlog).astype(np.int64),
    )
    crown_disposal_date = np.where(to_crown, receipt + crown_len, NA)
    conv_c = committal | (rng.random(m) < cfg.p_convicted_crown)
    cbase = np.repeat(_CROWN_P[None, :], m, axis=0)
    cbase[:, 0] *= np.exp(0.15 * pr) * np.where(committal, 0.7, 1.0)
    crown_disp_conv = _CONV_IDX[_choose(rng, cbase)]
    crown_not = np.where(rng.random(m) < 0.7, D["Dismissed or acquitted"], D["Proceedings terminated early"])
    crown_disposal = np.where(conv_c, crown_disp_conv, crown_not)

    final_disposal = np.where(to_crown, crown_disposal, mags_disposal)
    final_date = np.where(to_crown, crown_disposal_date, mags_result)
    convicted = np.where(to_crown, conv_c, conv_m)

    # ---- sentence length
    custody = final_disposal == D["Immediate custody"]
    serious = np.isin(group, [codes._GROUPS.index(g) for g in ("Robbery", "Sexual offences")])
    crown_days = lognormal_days(rng, 420, 0.9, m, lo=60, hi=20 * 365) * np.where(serious, 2, 1)
    mags_days = rng.choice(_MAGS_CUSTODY_DAYS, size=m, p=_MAGS_CUSTODY_P)
    sent_days = np.where(to_crown, crown_days, mags_days)
    life = custody & (code == [c for c, _, _ in codes.OFFENCES].index("00101"))
    sent_days = np.where(life, 25 * 365, sent_days)
    sent_days = np.where(custody, sent_days, 0)

    # ---- custody journey: remand, sentence, conditional release, recall, final release
    remand_days = np.where(remand, final_date - first_hearing, 0)
    crd = np.maximum(final_date + (sent_days + 1) // 2 - remand_days, final_date + 1)
    crd = np.where(life, final_date + (15 * 365), crd)
    licence = custody & ((sent_days >= 365) | (final_date >= ORA))
    recalled = licence & (rng.random(m) < cfg.p_recall)
    lic_len = np.maximum(sent_days - (sent_days + 1) // 2, 0) + np.where(sent_days < 730, 365, 0)
    recall_date = crd + np.minimum(np.ceil(rng.exponential(110, m)).astype(np.int64) + 1, np.maximum(lic_len, 1))
    spell = np.where(sent_days < 365, 14, lognormal_days(rng, 120, 0.5, m, lo=28))
    release = np.where(recalled, recall_date + spell, crd)
    remand_only = remand & ~custody
    in_prison = custody | remand_only
    journey_start = np.where(remand, first_hearing, final_date)
    release = np.where(remand_only, final_date, release)
    release = np.where(in_prison & (release <= END), release, NA)
    recall_date = np.where(recalled & (recall_date <= END), recall_date, NA)

    # ---- probation: community orders and suspended sentences (licences are added by records)
    community = np.isin(final_disposal, [D["Community sentence"], D["Suspended sentence order"]])
    referral = np.where(community, final_date + rng.integers(0, 11, m), NA)
    order_months = np.where(
        final_disposal == D["Suspended sentence order"],
        rng.choice([12, 18, 24], m, p=[0.5, 0.2, 0.3]),
        rng.choice([6, 12, 18, 24], m, p=[0.2, 0.5, 0.15, 0.15]),
    )
    breach = community & (rng.random(m) < cfg.p_breach)
    breach_date = np.where(breach, referral + (rng.random(m) * order_months * 25).astype(np.int64) + 14, NA)

    # ---- index event for the next offence draw
    index_type = np.where(custody, 1, np.where(community, 2, 0))
    index_date = np.where(custody, release, np.where(community, referral, final_date))
    unfinished = (final_date > END) | (index_date == NA) | (index_date > END)
    index_type = np.where(unfinished, -1, index_type)
    index_date = np.where(unfinished, NA, index_date)

    return {
        "person": p,
        "offence_date": off,
        "age": age,
        "code": code,
        "group": group,
        "mode": mode,
        "prior": prior,
        "n_offences": 1 + rng.poisson(0.45, m),
        "first_hearing": first_hearing,
        "remand": remand,
        "crown": crown,
        "committal": committal,
        "to_crown": to_crown,
        "mags_result": np.where(mags_result <= END, mags_result, NA),
        "mags_disposal": mags_disposal,
        "convicted_mags": conv_m,
        "plea_guilty": plea_g,
        "receipt": receipt,
        "crown_disposal_date": np.where(crown_disposal_date <= END, crown_disposal_date, NA),
        "crown_disposal": crown_disposal,
        "convicted": convicted,
        "final_disposal": final_disposal,
        "final_date": np.where(final_date <= END, final_date, NA),
        "sentence_days": sent_days,
        "life": life,
        "custody": custody,
        "in_prison": in_prison,
        "remand_only": remand_only,
        "journey_start": np.where(in_prison, journey_start, NA),
        "crd": np.where(custody, crd, NA),
        "licence": licence,
        "recalled": recalled,
        "recall_date": recall_date,
        "release": release,
        "community": community,
        "referral": referral,
        "order_months": order_months,
        "breach_date": breach_date,
        "index_type": index_type,
        "index_date": index_date,
    }
