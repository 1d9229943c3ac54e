"""Differencing across outputs: each attack pattern is caught with the outputs named; independent outputs pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.sdc import Session
from djs_toolkit.sdc.differencing import NewOutput
from djs_toolkit.sdc.ledger import Ledger

from .conftest import planted_counts

RULE = "DifferencingCheck"


def _diff(o):
    return o.reasons[o.reasons["rule"] == RULE]


def _courts(extra: dict[tuple[str, str], int] | None = None) -> pd.DataFrame:
    counts = {
        ("A", "custody"): 40,
        ("A", "community"): 55,
        ("B", "custody"): 35,
        ("B", "community"): 48,
        ("C", "custody"): 61,
        ("C", "community"): 30,
    }
    df = planted_counts(counts).rename(columns={"r": "court", "c": "outcome"})
    df["youth"] = False
    if extra:
        add = planted_counts(extra).rename(columns={"r": "court", "c": "outcome"})
        add["youth"] = True
        df = pd.concat([df, add], ignore_index=True)
    df["pid"] = np.random.default_rng(3).permutation(len(df)) + 10_000
    return df


def test_same_table_on_a_nested_population_is_caught_and_both_outputs_named():
    df = _courts({("A", "custody"): 7, ("B", "community"): 12, ("C", "custody"): 15, ("C", "community"): 11})
    s = Session("srs")
    t = s.crosstab(df.court, df.outcome, margins=True, name="all_cases", record_id=df.pid)
    adults = df[~df.youth]
    u = s.crosstab(adults.court, adults.outcome, margins=True, name="adults", record_id=adults.pid)
    assert t.status == "pass" and u.status == "fail"
    (summary,) = _diff(u)["summary"]
    assert summary.startswith(
        "combined with earlier output 'all_cases' (population contained in that of "
        "'all_cases' (which has further records)), 1 group(s) of fewer than 10 records can "
        "be recovered exactly by differencing: records in cell [court=A, outcome=custody] of "
        "'all_cases' outside this output's population"
    )
    assert "7" not in summary  # the recovered count is for the checker only
    f = u.differencing
    assert f[
        ["earlier_output", "earlier_cell", "this_cell", "true_count", "attacker_lower", "attacker_upper"]
    ].values.tolist() == [["all_cases", "court=A, outcome=custody", "outside this population", 7, 7.0, 7.0]]
    assert any("'all_cases': population contained in that of 'all_cases'" in r for r in u.relations)
    # the same two tables with a removed subgroup of >= 10 in every cell: nothing to recover
    big = _courts(
        {
            k: 10 + i
            for i, k in enumerate(
                [
                    ("A", "custody"),
                    ("A", "community"),
                    ("B", "custody"),
                    ("B", "community"),
                    ("C", "custody"),
                    ("C", "community"),
                ]
            )
        }
    )
    s2 = Session("srs")
    s2.crosstab(big.court, big.outcome, margins=True, name="all_cases", record_id=big.pid)
    ok = big[~big.youth]
    assert s2.crosstab(ok.court, ok.outcome, margins=True, name="adults", record_id=ok.pid).status == "pass"


def test_acro_leak_suppressed_cell_then_a_later_one_way_table_is_caught(court_df):
    # docs/disclosure.md §2.4: court x outcome with fine = 2/1/1, suppressed; then a table that differs from
    # the first one's margins exactly by the suppressed cells.
    s = Session("srs")
    t = s.crosstab(court_df.court, court_df.outcome, margins=True, name="court_outcome")
    assert t.status == "review" and t.mask["fine"].all()
    same = s.crosstab(court_df.court, court_df.outcome.map(lambda _: "all"), name="one_way_all")
    assert same.status == "pass" and _diff(same).empty  # true margins: the same population tells nothing new
    kept = court_df[court_df.outcome != "fine"]
    later = s.crosstab(kept.court, kept.outcome.map(lambda _: "all"), name="one_way_no_fines")
    assert later.status == "fail"
    # both earlier outputs give the fines away: the two-way table's true margins and the one-way table
    first, second = _diff(later)["summary"]
    assert first.startswith(
        "combined with earlier output 'one_way_all' (population contained in that of "
        "'one_way_all' (which has further records)), 3 group(s) of fewer than 10"
    )
    assert second.startswith(
        "combined with earlier output 'court_outcome' (population contained in that of "
        "'court_outcome' (which has further records)), 3 group(s) of fewer than 10 records can "
        "be recovered exactly by differencing: records in cell [court=A, outcome=fine] of "
        "'court_outcome' outside this output's population"
    )
    f = later.differencing[later.differencing["earlier_output"] == "court_outcome"]
    assert f[["earlier_cell", "true_count"]].values.tolist() == [
        ["court=A, outcome=fine", 2],
        ["court=B, outcome=fine", 1],
        ["court=C, outcome=fine", 1],
    ]


def test_rerun_on_n_plus_one_records_is_caught_across_sessions_with_default_index_keys(tmp_path):
    df = _courts()
    Session("srs", ledger=tmp_path / "led").crosstab(df.court, df.outcome, name="by_court")
    df2 = pd.concat(
        [df, pd.DataFrame({"court": ["B"], "outcome": ["custody"], "youth": [False], "pid": [1]})], ignore_index=True
    )  # the extract gained one record (appended: the RangeIndex keys still match)
    again = Session("srs", ledger=tmp_path / "led").crosstab(df2.court, df2.outcome, name="by_court_rerun")
    assert again.status == "fail"
    (summary,) = _diff(again)["summary"]
    assert (
        "earlier output 'by_court' (population contains that of 'by_court' (and has further records)), 1 "
        "group(s) of fewer than 10 records can be recovered exactly by differencing: records in this output's "
        "cell [court=B, outcome=custody] outside the population of 'by_court'"
    ) in summary
    # an identical rerun is recorded once and passes
    same = Session("srs", ledger=tmp_path / "led").crosstab(df.court, df.outcome, name="by_court")
    assert same.status == "pass" and [e.name for e in Ledger(tmp_path / "led").entries()] == ["by_court"]


def test_overlapping_tables_sharing_a_margin_are_caught_through_a_recoded_variable():
    counts = {
        ("A", "custody"): 11,
        ("A", "community"): 60,
        ("A", "fine"): 2,
        ("B", "custody"): 40,
        ("B", "community"): 45,
        ("B", "fine"): 15,
        ("C", "custody"): 38,
        ("C", "community"): 50,
        ("C", "fine"): 14,
    }
    df = planted_counts(counts).rename(columns={"r": "court", "c": "outcome"})
    s = Session("srs")
    t1 = s.crosstab(df.court, df.outcome, margins=True, name="court_outcome")
    assert t1.mask.loc["A", ["custody", "fine"]].all()  # A/fine = 2 and its complement A/custody withheld
    custody = df.outcome.map({"custody": "custody"}).fillna("other").rename("custody_or_not")
    t2 = s.crosstab(df.court, custody, margins=True, name="custody_by_court")  # shares the court margin
    assert t2.status == "fail"
    (summary,) = _diff(t2)["summary"]
    assert summary == (
        "combined with earlier output 'court_outcome' (same population as 'court_outcome'), 1 "
        "group(s) of fewer than 10 records can be recovered exactly by differencing: records in "
        "this output's cell [court=A, custody_or_not=other] and in cell [court=A, outcome=fine] of "
        "'court_outcome'"
    )
    assert t2.differencing["method"].tolist() == ["linear algebra"]
    # a table on an unrelated variable sharing the same margin recovers nothing
    sex = pd.Series(np.resize(["F", "M", "M"], len(df)), name="sex")
    assert s.crosstab(df.court, sex, margins=True, name="court_sex").status == "pass"


def test_rounded_releases_are_intervals_and_the_time_box_gives_review():
    df = _courts({("A", "custody"): 1})
    s = Session("opensafely")
    s.crosstab(df.court, df.outcome, name="all", record_id=df.pid)
    adults = df[~df.youth]
    o = s.crosstab(adults.court, adults.outcome, name="adults", record_id=adults.pid)
    # 41 and 40 both publish as 40 (base 5: each true value in [38, 42]): the one record is known to lie in
    # [0, 4], as wide as any rounded value: rounding is the protection (OpenSAFELY, N -> N+1)
    assert o.status == "review" and _diff(o).empty
    # the same pair of tables unrounded gives the record away
    exact = Session("srs", ledger=False)
    exact.crosstab(df.court, df.outcome, name="all", record_id=df.pid)
    assert exact.crosstab(adults.court, adults.outcome, name="adults", record_id=adults.pid).status == "fail"
    df = _courts({("A", "custody"): 1})
    adults = df[~df.youth]
    slow = Session("srs", differencing_lp_budget=0, ledger=False)
    slow.crosstab(df.court, df.outcome, name="first", record_id=df.pid)
    late = slow.crosstab(adults.court, adults.outcome, name="second", record_id=adults.pid)
    assert late.status == "review"
    assert _diff(late)["summary"].tolist() == [
        "differencing check spent its work budget (0 LPs) before comparing with 1 earlier output(s): 'first'"
    ]


def test_the_same_table_on_populations_that_together_miss_a_small_group_is_caught():
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame(
        {
            "court": rng.choice(list("ABC"), n),
            "outcome": rng.choice(["x", "y"], n),
            "region": np.where(np.arange(n) < 2, "west", rng.choice(["north", "south"], n)),
            "pid": np.arange(n),
        }
    )
    s = Session("srs")
    s.crosstab(df.court, df.outcome, name="all", record_id=df.pid)
    north, south = df[df.region == "north"], df[df.region == "south"]
    assert s.crosstab(north.court, north.outcome, name="north", record_id=north.pid).status == "pass"
    o = s.crosstab(south.court, south.outcome, name="south", record_id=south.pid)  # every pair differs a lot
    assert o.status == "fail"
    assert _diff(o)["summary"].tolist() == [
        "combined with earlier outputs 'all', 'north' (the same table on other populations), 2 group(s) of fewer "
        "than 10 records can be recovered by differencing across the outputs together"
    ]
    assert o.differencing["true_count"].sum() == 2  # the two western records
    assert o.differencing["earlier_cell"].str.startswith("not in this output; in 'all' [").all()


def test_default_index_keys_of_unrelated_frames_are_not_linked(tmp_path):
    # two notebook runs on different synthetic data, both with a RangeIndex: row 5 is not the same person
    a = _courts()
    b = _courts({("A", "custody"): 14, ("C", "community"): 20}).sample(frac=1.0, random_state=1)
    b = b.reset_index(drop=True)
    Session("srs", ledger=tmp_path / "l").crosstab(a.court, a.outcome, name="run_a")
    o = Session("srs", ledger=tmp_path / "l").crosstab(b.court, b.outcome, name="run_b")
    assert o.status == "pass" and _diff(o).empty
    assert o.relations == [
        "'run_a': shares variables court, outcome; records not linked (DataFrame-index keys "
        "disagree on shared variables; pass record_id=)"
    ]
    # unlinkable records fall back to the table-level rule: the same table, 3 fewer records in total
    c = a.sample(frac=1.0, random_state=2).reset_index(drop=True).iloc[:-3]
    late = Session("srs", ledger=tmp_path / "l").crosstab(c.court, c.outcome, name="run_c")
    assert late.status == "fail"
    assert _diff(late)["summary"].str.contains("(records could not be linked, table-level rule)", regex=False).any()


def _synthetic(n: int = 100_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "court": rng.choice([f"c{i}" for i in range(12)], n),
            "outcome": rng.choice(
                ["custody", "community", "fine", "discharge", "other"], n, p=[0.3, 0.35, 0.2, 0.1, 0.05]
            ),
            "sex": rng.choice(["F", "M"], n, p=[0.2, 0.8]),
            "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"], n),
            "region": rng.choice([f"r{i}" for i in range(9)], n),
            "offence": rng.choice([f"o{i}" for i in range(10)], n),
            "year": rng.choice([2019, 2020, 2021, 2022], n),
            "ethnicity": rng.choice(list("ABCDE"), n, p=[0.7, 0.1, 0.1, 0.05, 0.05]),
            "prior": rng.choice(["0", "1-2", "3-5", "6+"], n),
            "person_id": rng.permutation(n) + 10_000,
        }
    )


@pytest.mark.slow
def test_false_positive_rate_on_33_independent_outputs_of_a_100k_frame_is_zero():
    df = _synthetic()
    names = ["court", "outcome", "sex", "age_band", "region", "offence", "year", "ethnicity", "prior"]
    s = Session("srs")
    outs = []
    for k, (a, b) in enumerate([(a, b) for i, a in enumerate(names) for b in names[i + 1 :]][:24]):
        outs.append(s.crosstab(df[a], df[b], margins=True, name=f"t{k}", record_id=df.person_id))
    for y in (2019, 2020, 2021, 2022):  # disjoint populations (one per year)
        d = df[df.year == y]
        outs.append(s.crosstab(d.court, d.outcome, margins=True, name=f"year{y}", record_id=d.person_id))
    for sx in ("F", "M"):
        d = df[df.sex == sx]
        outs.append(s.crosstab(d.region, d.offence, name=f"sex{sx}", record_id=d.person_id))
    for reg in ("r0", "r1", "r2"):
        d = df[df.region == reg]
        outs.append(s.crosstab(d.age_band, d.prior, margins=True, name=f"region{reg}", record_id=d.person_id))
    flagged = [o.name for o in outs if not _diff(o).empty]
    rate = len(flagged) / len(outs)
    print(f"differencing false-positive rate: {len(flagged)}/{len(outs)} = {rate:.1%}")
    assert len(outs) == 33 and flagged == []
    # related outputs are reported as such (CLEARANCE.md's relationship section)
    assert "'t0': same population as 't0'; shares variables court" in outs[1].relations
    assert any(r.startswith("'year2019': no records in common") or "year2019" in r for r in outs[-7].relations)


def test_reasons_carry_no_counts_and_the_output_is_not_recorded():
    df = _courts({("A", "custody"): 3, ("B", "custody"): 4})
    s = Session("srs")
    s.crosstab(df.court, df.outcome, margins=True, name="t1", record_id=df.pid)
    d = df[~df.youth]
    o = s.crosstab(d.court, d.outcome, margins=True, name="t2", record_id=d.pid)
    assert o.status == "fail"
    text = " ".join(o.reasons["summary"])
    assert not any(f" {v} " in f" {text} " for v in ("3", "4")) and "'t1'" in text
    assert [e.name for e in s.ledger_store().entries()] == ["t1"]


def test_family_atoms_include_the_empty_combinations_the_attacker_cannot_rule_out():
    from djs_toolkit.sdc.family import _possible
    from djs_toolkit.sdc.released import from_sets

    one = from_sets(("g",), (("a",),), [[0]], [0.0], [0.0])
    ids = np.arange(130)
    # three populations overlapping pairwise, never all three: A & N, B & N, A & B, and 6 records in N only
    in_a = (ids < 40) | ((ids >= 80) & (ids < 120))
    in_b = (ids >= 40) & (ids < 120)
    in_n = (ids < 80) | (ids >= 120)
    per_record = [np.where(m, 0, -1) for m in (in_n, in_a, in_b)]
    occurring = np.array([[0, 0, -1], [0, -1, 0], [-1, 0, 0], [0, -1, -1]])
    atoms, counts = _possible(occurring, np.array([40, 40, 40, 10]), per_record, [one, one, one])
    # the partial overlaps say nothing about who is in all three, or in A or B only: those are open to the attacker
    assert sorted(map(tuple, atoms[4:].tolist())) == [(-1, -1, 0), (-1, 0, -1), (0, 0, 0)]
    assert counts.tolist() == [40, 40, 40, 10, 0, 0, 0]
    # a population nested in another (A within N) rules out "in A, not in N" (knowledge.support: nesting is known)
    in_a = ids < 40
    per_record = [np.where(m, 0, -1) for m in (in_n, in_a, in_b)]
    atoms, _ = _possible(occurring, np.array([40, 40, 40, 10]), per_record, [one, one, one])
    assert not any(a[1] == 0 and a[0] == -1 for a in atoms[4:].tolist())


@pytest.mark.parametrize("n_new, n_old", [(20, 30), (30, 20), (25, 25)])
def test_joint_of_frames_numbered_alike_is_the_joint_by_key_lookup(n_new, n_old):
    # DataFrame-index keys of two frames share their first rows (Ledger.common_prefix): the joint taken row by row
    # must equal the one from looking every key up (the same records, by hand).
    from djs_toolkit.sdc.differencing import _joint
    from djs_toolkit.sdc.released import from_sets

    rng = np.random.default_rng(n_new)
    led = Ledger()
    keys = led.hash_ids(np.arange(40), "index")
    old_lab, new_lab = rng.integers(-1, 3, n_old).astype(np.int32), rng.integers(-1, 2, n_new).astype(np.int32)
    rel = lambda k: from_sets(("g",), (tuple("abc"[:k]),), [[i] for i in range(k)], [5.0] * k, [5.0] * k)
    e = led.add("old", "table", "count", "pass", ("g",), rel(3), old_lab, keys[:n_old], "index", None)
    new = NewOutput("new", rel(2), new_lab, led.store_keyset(keys[:n_new]), "index", ("g",))
    assert led.common_prefix(new.keyset, e.keyset) == min(n_new, n_old)
    J = np.zeros((4, 3), np.int64)
    where = {k: i for i, k in enumerate(keys[:n_old].tolist())}
    for j, k in enumerate(keys[:n_new].tolist()):
        J[old_lab[where[k]] + 1 if k in where else 0, new_lab[j] + 1] += 1
    for i in range(n_new, n_old):  # the old output's records outside the new one's rows
        J[old_lab[i] + 1, 0] += 1
    J[0, 0] = 0
    assert _joint(led, e, led.released(e), new).tolist() == J.tolist()
