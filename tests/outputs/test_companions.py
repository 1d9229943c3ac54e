"""Issue 16 family 8: derived values are published only from protected counts, so a companion table never gives
away what another withholds. One hand-built pair of tables per way the pipeline's own release leaked (and their
siblings), saved through `save_table` as a notebook would; each test asserts the statuses and that an independent
LP over the released numbers (`tests/sdc/attack.py`, scipy's linprog) cannot pin the small count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from djs_toolkit import outputs
from djs_toolkit.outputs import stage as runner_stage
from djs_toolkit.sdc.survival_tables import default_grid
from djs_toolkit.survival import km, kmunicate_table

from ..sdc.attack import attacker_range, released_value


@pytest.fixture()
def opensafely(stage, monkeypatch) -> Path:
    monkeypatch.setenv(runner_stage.ENV_PROFILE, "opensafely")
    return stage


BIG = 1e9  # an open end for the LP (linprog takes no infinite bounds)


def recovered(rng: tuple[float, float], threshold: int = 10) -> bool:
    """The attacker knows the count exactly, or knows it is a small non-zero count."""
    lo, hi = rng
    return hi - lo < 0.5 or (lo >= 0.5 and hi < threshold - 0.5)


def _cohort() -> pd.DataFrame:
    """300 F, 600 M and 30 of unknown sex with 6 events; 3 F censored between days 90 and 180 (a small count)."""
    rng = np.random.default_rng(3)
    rows = []
    for sex, n in (("F", 300), ("M", 600), ("Missing", 30)):
        days = rng.exponential(400, n).round() + 1
        back = (rng.random(n) < 0.7).astype(int)
        if sex == "Missing":
            back[:] = 0
            back[:6] = 1
        if sex == "F":
            back[:3], days[:3] = 0, [100.0, 120.0, 150.0]
            back[3:], days[3:] = 1, np.where((days[3:] > 90) & (days[3:] <= 180), 200.0, days[3:])
        rows.append(pd.DataFrame({"sex": sex, "days": days, "back": back}))
    return pd.concat(rows, ignore_index=True)


def _cum_censored_ranges(out, group: str) -> list[tuple[float, float]]:
    """Independent attacker: the true censored count of each released step of `group`, from the released
    cumulative censored counts (each one the truth rounded to 10: true within -5..+4)."""
    t = out.table.loc[group]
    cum = np.cumsum(t["censored"].to_numpy(float))[1:]  # the first row is time 0
    k = len(cum)
    rel = [(dict.fromkeys(range(i + 1), 1.0), cum[i] - 5, cum[i] + 4) for i in range(k)]
    return [attacker_range(k, rel, i) for i in range(k)]


# -- km.csv printed at-risk counts km_counts.csv withheld; at-risk numbers gave censored counts ----------------------
def test_kmunicate_counts_and_estimates_take_the_safe_km_path_and_agree(stage):
    cohort = _cohort()
    table = kmunicate_table(km(cohort, "days", "back", by="sex"), [0, 90, 180, 365, 730], by="sex")
    counts = outputs.save_table(
        table[["sex", "time", "n_at_risk", "cum_events", "cum_censored"]],
        "km_counts",
        "KMunicate counts",
        "cohort",
        index="time",
    )
    est = outputs.save_table(table, "km", "survival", "cohort", statistic="survival")
    for o in (counts, est):
        assert o.method == "km" and o.status == "review" and "SurvivalTableCheck" in set(o.reasons["rule"])
        # censored counts between rows are 0 or multiples of 10, never a small non-zero number
        assert set(o.table["censored"].astype(int) % 10) == {0}
    # the two tables print the same numbers at risk: none is withheld in one and printed in the other
    assert counts.table["n_at_risk"].equals(est.table["n_at_risk"])
    # estimates beside at-risk numbers, without the counts the safe path needs: not released at all
    bare = outputs.save_table(
        table[["sex", "time", "estimate", "ci_lower", "ci_upper", "n_at_risk"]],
        "km_bare",
        "survival",
        "cohort",
        statistic="survival",
        counts="n_at_risk",
        index="time",
    )
    assert bare.status == "fail" and set(bare.reasons["rule"]) == {"SurvivalTableCheck"}
    # the F group's 3 people censored between days 90 and 180 cannot be pinned from the released numbers
    truth = cohort[(cohort.sex == "F") & (cohort.back == 0)]
    assert ((truth.days > 90) & (truth.days <= 180)).sum() == 3
    for rng in _cum_censored_ranges(est, "F"):
        assert not recovered(rng)
    # the small group is left out whole
    assert "Missing" not in est.table.index.get_level_values("sex")


def test_a_curve_saved_as_survival_uses_the_safe_path_with_a_round_grid(stage):
    cohort = _cohort()
    o = outputs.save_table(km(cohort, "days", "back", by="sex"), "km", "survival", "cohort", statistic="survival")
    times = o.table.loc["F"].index.to_numpy(float)
    grid = default_grid(cohort["days"].to_numpy(float))
    assert o.method == "km" and times[0] == 0 and set(times) <= set(grid)  # round steps, never a record's time
    steps = o.table[o.table.index.get_level_values("time") > 0]
    assert (steps["events"] >= 10).all()  # every step holds at least the threshold of events


# -- ordered.csv: n_index x cumulative incidence gave an events_within that ordered_n.csv withholds ---------------
def test_a_ratio_is_withheld_wherever_its_companion_withholds_counts(stage):
    pairs = pd.DataFrame({"sex": ["F", "M", "Unknown"], "n_index": [3468, 5037, 200], "events_within": [201, 550, 1]})
    counts = outputs.save_table(pairs, "ordered_n", "people and events", "index events")
    p = (pairs["events_within"] / pairs["n_index"]).round(6)
    ratio = pairs.assign(cumulative_incidence=p, naive_proportion=p)
    inc = outputs.save_table(
        ratio[["sex", "cumulative_incidence", "naive_proportion", "n_index"]],
        "ordered",
        "incidence",
        "index events",
        statistic="proportion",
        counts="n_index",
    )
    assert counts.status == inc.status == "review"
    withheld = counts.mask.any(axis=1)
    assert withheld["Unknown"] and (inc.mask.loc[withheld[withheld].index, "cumulative_incidence"]).all()
    # the counts column of the ratio table is the companion's, cell for cell
    assert inc.mask["n_index"].equals(counts.mask["n_index"])
    # independent LP: events e_F, e_M, e_U (0-2), n_F, n_M, n_U (3-5); released counts exact, released ratios bound
    # e between (v -+ h) x n
    rel = []
    for i, g in enumerate(["F", "M", "Unknown"]):
        for var, out, col in ((i, counts, "events_within"), (3 + i, counts, "n_index"), (3 + i, inc, "n_index")):
            v = released_value(out, g, col)
            if v is not None:
                rel.append(({var: 1.0}, v, v))
        for col in ("cumulative_incidence", "naive_proportion"):
            p = released_value(inc, g, col)
            if p is not None:
                rel += [({i: 1.0, 3 + i: -(p - 5e-7)}, 0.0, BIG), ({i: 1.0, 3 + i: -(p + 5e-7)}, -BIG, 0.0)]
    assert not recovered(attacker_range(6, rel, 2))


# -- a table saved with counts= restated its counts raw, with only its own suppression ----------------------------
def test_counts_column_is_restated_as_its_companion_prints_it(stage):
    people = pd.DataFrame({"court": ["a", "b", "c", "d"], "n": [4, 120, 95, 130]})
    counts = outputs.save_table(people, "people", "people by court", "defendants")
    days = people.assign(median_days=[30.0, 41.0, 38.0, 35.0])
    med = outputs.save_table(
        days[["court", "median_days", "n"]], "days", "median days", "defendants", statistic="median", counts="n"
    )
    assert counts.mask["n"].tolist() == med.mask["n"].tolist() == med.mask["median_days"].tolist()
    shown = [released_value(counts, c, "n") for c in "abcd"]
    assert shown == [released_value(med, c, "n") for c in "abcd"] and shown[0] is None
    # n_a from the two tables: only the printed cells are known (no total is printed)
    rel = [({i: 1.0}, v, v) for i, v in enumerate(shown) if v is not None]
    assert not recovered(attacker_range(4, rel, 0))


# -- rates were checked through their denominators only: rate x n gave the numerator ---------------------------
@pytest.mark.parametrize("rate", [0.075, 0.925], ids=["numerator-3", "complement-3"])
def test_rate_times_its_count_is_checked_as_a_count(stage, rate):
    t = pd.DataFrame({"cohort": ["q1", "q2", "q3", "q4"], "rate": [rate, 0.5, 0.4, 0.3], "n": [40, 60, 50, 70]})
    o = outputs.save_table(t, "rates", "reoffending rate", "offenders", statistic="rate", counts="n")
    assert o.status == "review" and "DerivedCountCheck" in set(o.reasons["rule"])
    assert released_value(o, "q1", "rate") is None and o.mask["rate"].sum() >= 2  # with a complement
    # independent LP over k_q (numerators 0-3) and n_q (4-7): the published total of n is assumed known
    rel = [({4 + i: 1.0 for i in range(4)}, 220.0, 220.0)]
    for i, q in enumerate(["q1", "q2", "q3", "q4"]):
        n, r = released_value(o, q, "n"), released_value(o, q, "rate")
        if n is not None:
            rel.append(({4 + i: 1.0}, n, n))
        if r is not None:
            rel += [({i: 1.0, 4 + i: -(r - 5e-7)}, 0.0, BIG), ({i: 1.0, 4 + i: -(r + 5e-7)}, -BIG, 0.0)]
        rel.append(({4 + i: 1.0, i: -1.0}, 0.0, BIG))  # k <= n
    k_q1 = attacker_range(8, rel, 0)
    rel_c = [*rel, ({8: 1.0, 4: -1.0, 0: 1.0}, 0.0, 0.0)]  # the complement n - k of q1
    assert not recovered(k_q1) and not recovered(attacker_range(9, rel_c, 8))


# -- under opensafely the counts column was published unrounded ---------------------------------------------------
def test_opensafely_rounds_the_counts_and_recomputes_ratios_from_them(opensafely):
    t = pd.DataFrame(
        {
            "cohort": ["q1", "q2", "q3"],
            "rate": [0.361569, 0.354325, 0.5],
            "ci_lower": [0.33, 0.32, 0.45],
            "n": [1275, 1318, 64],
        }
    )
    o = outputs.save_table(t, "rates", "reoffending rate", "offenders", statistic="rate", counts="n")
    n = o.table["n"].dropna().astype(int)
    assert len(n) and (n % 5 == 0).all() and not (n.to_numpy() == t["n"].to_numpy()[: len(n)]).all()
    k = (o.table["rate"] * o.table["n"]).dropna().round(6)
    assert ((k % 6 == 3) | (k == 0)).all()  # midpoint-6 numerators
    assert o.mask["ci_lower"].all() and o.properties["ratio_rounding"] == "midpoint6"


# -- siblings: a relative change, nested count columns, an overlap count restated -----------------------------------
def test_a_relative_change_times_its_count_is_checked_as_a_count(stage):
    t = pd.DataFrame(
        {
            "combination": ["a", "b", "c", "d"],
            "exclusive": [13, 141, 160, 210],
            "change_low_pct": [-69.230769, -24.1, -10.0, -5.0],
        }
    )
    o = outputs.save_table(
        t, "sens", "change under relinking", "people", statistic="percent_change", counts="exclusive"
    )
    assert released_value(o, "a", "change_low_pct") is None  # 13 x (1 - 0.69) = 4 people
    assert o.status == "review" and "DerivedCountCheck" in set(o.reasons["rule"])


def test_nested_count_columns_differ_by_a_count(stage):
    t = pd.DataFrame({"cohort": ["q1", "q2", "q3"], "n_offenders": [17, 1275, 1318], "n_reoffenders": [10, 461, 467]})
    o = outputs.save_table(t, "pr", "reoffending", "offenders")
    assert o.status == "review" and released_value(o, "q1", "n_reoffenders") is None
    # q1's 7 non-reoffenders: k (0), n (1) and n - k (2) from every printed cell of q1
    rel = [({0: 1.0, 1: -1.0}, -BIG, 0.0), ({2: 1.0, 1: -1.0, 0: 1.0}, 0.0, 0.0)]
    for var, col in ((0, "n_reoffenders"), (1, "n_offenders")):
        v = released_value(o, "q1", col)
        if v is not None:
            rel.append(({var: 1.0}, v, v))
    assert not recovered(attacker_range(3, rel, 2))


def test_a_table_restating_overlap_counts_follows_the_overlap_tables_suppression(stage):
    from djs_toolkit.analyses.overlap import overlap_sets

    rng = np.random.default_rng(1)
    m = pd.DataFrame(
        {"person_id": range(600), "a": rng.random(600) < 0.5, "b": rng.random(600) < 0.3, "c": rng.random(600) < 0.03}
    )
    sets = overlap_sets(m)
    ov = outputs.save_table(sets, "overlap_sets", "overlaps", "people", statistic="overlap")
    rel = pd.DataFrame(
        {
            "combination": sets["combination"],
            "exclusive": sets["exclusive"],
            "change_pct": np.linspace(1.0, 2.0, len(sets)),
        }
    )
    sens = outputs.save_table(rel, "sens", "change", "people", statistic="percent_change", counts="exclusive")
    by = ov.table.set_index("combination")
    for combo in sets["combination"]:
        assert pd.isna(by.loc[combo, "exclusive"]) == (released_value(sens, combo, "exclusive") is None)
        if by.loc[combo, ["exclusive", "inclusive"]].isna().any():
            assert released_value(sens, combo, "change_pct") is None
