"""Tests for djs_toolkit.dummy.pathways: planted pathways and truth (recovery: tests/analyses/test_pathways.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.dummy.casework import D
from djs_toolkit.dummy.civil import LANDLORD, MORTGAGE, possession_keys, simulate_civil
from djs_toolkit.dummy.config import DummyConfig
from djs_toolkit.dummy.dates import NA, day
from djs_toolkit.dummy.family import simulate_family
from djs_toolkit.dummy.pathways import PATHWAYS, Planter, pathway_counts
from djs_toolkit.dummy.population import make_persons
from djs_toolkit.spine import parse_selector

RATES = ("fine_possession", "possession_crime", "family_crime", "care_custody")


def _planter(rates: dict[str, float], n: int = 2000) -> Planter:
    cfg = dataclasses.replace(DummyConfig(), pathway_rates=rates)
    ps = make_persons(np.random.default_rng(0), n, cfg, 0)
    fam = simulate_family(np.random.default_rng(1), ps, cfg, n / 1e7 * 20, n)
    civ = simulate_civil(np.random.default_rng(2), ps, cfg, n / 1e7 * 20)
    return Planter(np.random.default_rng(3), cfg, ps, possession_keys(civ), fam)


def test_every_rate_is_configured_and_every_selector_is_canonical() -> None:
    assert set(DummyConfig().pathway_rates) == set(RATES)
    assert {p.rate for p in PATHWAYS} == set(RATES)
    for p in PATHWAYS:
        assert str(parse_selector(p.first)) == p.first and str(parse_selector(p.then)) == p.then
        assert p.window[0] < p.window[1]


def test_rates_of_zero_plant_nothing() -> None:
    pl = _planter(dict.fromkeys(RATES, 0.0))
    p, off = np.array([4, 9]), np.array([day(2015, 1, 1), day(2016, 1, 1)])
    q, got = pl.onset(p, off)
    assert q.tolist() == [4, 9] and got.tolist() == off.tolist()
    c = {
        "person": np.array([1, 2]),
        "mags_disposal": np.full(2, D["Fine"]),
        "mags_result": np.array([day(2015, 1, 1), day(2015, 6, 1)]),
        "age": np.array([30, 40]),
    }
    assert pl.after_contacts(c) is None


def test_a_rate_of_one_triggers_every_onset_it_can() -> None:
    pl = _planter({"fine_possession": 0.0, "possession_crime": 1.0, "family_crime": 1.0, "care_custody": 1.0})
    q, off = pl.onset(np.zeros(0, np.int64), np.zeros(0, np.int64))
    # Every trigger of a person who has not offended starts offending after it, within its delay.
    onset = dict(zip(q.tolist(), off.tolist(), strict=True))
    first = min(int(w.min()) for _, _, w, _, _ in pl.triggers if w.size)
    assert min(onset.values()) > first
    for key, who, when, _, hi in pl.triggers:
        ok = when + hi <= day(2023, 3, 31)
        assert who[ok].size and all(onset[w] <= d + hi for w, d in zip(who[ok], when[ok], strict=True)), key
    # A person already offending before the trigger keeps their onset.
    who, when = pl.triggers[0][1][:1], pl.triggers[0][2][:1]
    q2, off2 = pl.onset(who, when - 10)
    assert off2[q2 == who[0]][0] == when[0] - 10


def test_possession_claims_follow_adult_fines_only() -> None:
    pl = _planter({"fine_possession": 1.0, "possession_crime": 0.0, "family_crime": 0.0, "care_custody": 0.0})
    c = {
        "person": np.array([1, 2, 3, 4]),
        "mags_disposal": np.array([D["Fine"], D["Fine"], D["Community sentence"], D["Fine"]]),
        "mags_result": np.array([day(2015, 1, 1), day(2015, 1, 1), day(2015, 1, 1), NA]),
        "age": np.array([30, 16, 30, 30]),
    }
    person, issue = pl.after_contacts(c)
    assert person.tolist() == [1]
    assert day(2015, 1, 15) <= issue[0] <= day(2016, 1, 1)
    civ = simulate_civil(np.random.default_rng(2), pl.persons, pl.cfg, 1e-5)
    n = civ.cases["issue"].size
    pl.add_claims(civ)
    assert civ.cases["issue"].size == n + 1 and civ.cases["claim_type"][-1] in (LANDLORD, MORTGAGE)
    p, d = possession_keys(civ)
    assert (1, issue[0]) in set(zip(p.tolist(), d.tolist(), strict=True))


def test_truth_counts_the_first_index_per_person_and_outcomes_strictly_after(tiny_extract_dir: Path) -> None:
    t = pd.read_csv(tiny_extract_dir / "truth" / "pathways.csv")
    assert list(t.columns) == [
        "name",
        "first",
        "then",
        "within_days",
        "window_start",
        "window_end",
        "rate",
        "planted_rate",
        "numerator",
        "denominator",
        "share",
    ]
    assert list(t["name"]) == [p.name for p in PATHWAYS]
    # A hand-built chunk: person 0 fined twice in the window (the first fine is the index), a claim 100 days after
    # the first; person 1 fined with a claim the same day (not after) and one 400 days later (too late).
    f, pd0 = day(2015, 1, 1), day(2015, 4, 11)
    none = np.zeros(0, np.int64)
    tables = {
        "mags_defendant_case": {
            "_person": np.array([0, 0, 1]),
            "disposal_type": np.array(["Fine", "Fine", "Fine"], dtype=object),
            "final_result_date": np.array([f, f + 200, f]),
            "first_hearing_date": np.array([f, f + 200, f]),
            "proceedings_type_desc": np.array(["Criminal"] * 3, dtype=object),
        },
        "civil_parties": {
            "_person": np.array([0, 1, 1]),
            "_role": np.array([1, 1, 1]),
            "_possession": np.array([True, True, True]),
            "_date": np.array([pd0, f, f + 400]),
        },
        "family_parties": {
            "_person": none,
            "_date": none,
            "_role": none,
            "case_number_hash": np.zeros(0, object),
        },
        "family_cases": {"case_number_hash": np.zeros(0, object), "case_type": np.zeros(0, object)},
        "prison_journey": {"_person": none, "journey_start_date": none},
        "probation_flatfile": {"_person": none, "referral_date": none},
    }
    got = pathway_counts(tables, np.full(2, day(1980, 1, 1)))
    assert got[0].tolist() == [1, 2]
    # Possession claims as the index: person 0's second case is first heard 100 days after the claim; person 1's
    # only case is heard on the day of the claim, not after it.
    assert got[1].tolist() == [1, 2]
