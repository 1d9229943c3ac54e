"""Issue 16: the side doors around the count-table checks, one scenario per family, written from the issue.

Each test asserts the output's status and that an independent LP over the released numbers (`attack.py`) cannot
pin the small group (or the one person's value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.sdc import Session

from .attack import attacker_range, pinned, released_value


def _people(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pid": np.arange(n) + 5000,
            "region": rng.choice(["north", "south"], n),
            "sex": rng.choice(["F", "M"], n),
            "days": rng.gamma(2.0, 50.0, n).round(1),
        }
    )


# -- family 3: extremes under another name ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "func", [np.nanmax, lambda s: s.max(), "last", "first", np.nanmin, "nunique"], ids=lambda f: str(f)[:12]
)
def test_extremes_and_unknown_statistics_fail_closed(func, tmp_path):
    df = _people().sort_values("days")
    out = Session("srs", ledger=tmp_path / "l").pivot_table(df, values="days", index="region", aggfunc=func)
    assert out.status == "fail"  # never `review` published unchanged
    assert {"UnknownStatisticCheck", "ExtremeValueCheck"} & set(out.reasons["rule"])
    # nothing released, so no released number equals the largest record's value
    top = df.groupby("region")["days"].max()
    assert all(released_value(out, r) is None for r in top.index)


def test_declared_statistic_is_verified(tmp_path):
    df = _people()
    s = Session("srs", ledger=tmp_path / "l")
    ok = s.pivot_table(df, values="days", index="region", aggfunc=lambda v: v.mean(), statistic="mean")
    assert ok.status == "pass"
    assert released_value(ok, "north") == pytest.approx(df[df.region == "north"].days.mean())
    lie = s.pivot_table(df, values="days", index="region", aggfunc=lambda v: v.max(), statistic="mean")
    assert lie.status == "fail" and "DeclaredStatisticCheck" in set(lie.reasons["rule"])
    with pytest.raises(Exception, match="statistic="):
        s.pivot_table(df, values="days", index="region", aggfunc=lambda v: v.max(), statistic="mode")


# -- family 6: records the ledger cannot link (the default ledger) ------------------------------------------------
def test_two_sessions_share_the_projects_ledger_and_reruns_add_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("DJS_LEDGER", raising=False)
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    df = _people()
    first = Session("srs").crosstab(df.region, df.sex, name="all")
    assert first.status == "pass" and (tmp_path / ".djs" / "ledger" / "ledger.json").is_file()
    again = Session("srs").crosstab(df.region, df.sex, name="all")  # a rerun: same values, same records
    assert again.status == "pass" and again.relations == []
    from djs_toolkit.sdc.ledger import Ledger

    assert len(Ledger(tmp_path / ".djs" / "ledger").entries()) == 1
    drop = df.index[(df.region == "north") & (df.sex == "F")][:3]
    rest = df.drop(drop)
    late = Session("srs").crosstab(rest.region, rest.sex, name="all_but_three")
    assert late.status == "fail"  # the N vs N-3 difference, across Session objects
    # what was released (the first table only) cannot pin the three: nothing of the second is published
    assert released_value(late, "north", "F") is None
    # switched off explicitly: checked alone, and the clearance pack says so
    off = Session("srs", ledger=False)
    o = off.crosstab(rest.region, rest.sex, name="alone")
    assert o.status == "pass" and o.properties["ledger"] == "off"
    import json

    pack = off.finalise(tmp_path / "pack")
    note = json.loads((pack / "results.json").read_text(encoding="utf-8"))["djs_toolkit"]["ledger"]
    assert "SWITCHED OFF" in note


# -- family 1: sums and means as counts in disguise ---------------------------------------------------------------
def _indicator_frame(seed: int = 3) -> pd.DataFrame:
    """2 x 2 cells of 150+ records; an indicator held by 3 records in north/F and by 40+ elsewhere."""
    df = _people(800, seed)
    df["flag"] = 0.0
    for (r, s), k in {("north", "F"): 3, ("north", "M"): 45, ("south", "F"): 50, ("south", "M"): 41}.items():
        df.loc[df.index[(df.region == r) & (df.sex == s)][:k], "flag"] = 1.0
    return df


def _count_lp(out, cells, width: float = 10.0) -> bool:
    """Whether an LP over the released cells and margins (values x n, i.e. counts of the flag) pins north/F."""
    idx = {c: i for i, c in enumerate(cells)}
    rel = []
    for r in ("north", "south", "All"):
        for s in ("F", "M", "All"):
            v = released_value(out, r, s)
            if v is None:
                continue
            coef = {idx[(a, b)]: 1.0 for (a, b) in cells if r in (a, "All") and s in (b, "All")}
            rel.append((coef, v, v))
    return pinned(attacker_range(len(cells), rel, idx[("north", "F")]), width)


@pytest.mark.parametrize("profile", ["srs", "opensafely"])
def test_sum_of_an_indicator_is_a_count(profile, tmp_path):
    df = _indicator_frame()
    s = Session(profile, ledger=tmp_path / "l")
    out = s.crosstab(df.region, df.sex, values=df.flag, aggfunc="sum", margins=True)
    assert out.status in ("review", "fail") and "MinimumThresholdCheck" in set(out.reasons["rule"])
    assert released_value(out, "north", "F") is None  # the exact 3 is withheld, under opensafely too
    cells = [(r, x) for r in ("north", "south") for x in ("F", "M")]
    assert not _count_lp(out, cells)


def test_mean_of_an_indicator_times_a_published_count(tmp_path):
    df = _indicator_frame()
    s = Session("srs", ledger=tmp_path / "l")
    n = s.crosstab(df.region, df.sex, margins=True, record_id=df.pid)
    assert n.status == "pass"
    mean = s.crosstab(df.region, df.sex, values=df.flag, aggfunc="mean", margins=True, record_id=df.pid)
    assert mean.status in ("review", "fail")
    # mean x n from the count table: the flag's counts; the attacker cannot pin north/F's 3
    cells = [(r, x) for r in ("north", "south") for x in ("F", "M")]
    idx = {c: i for i, c in enumerate(cells)}
    rel = []
    for r in ("north", "south", "All"):
        for x in ("F", "M", "All"):
            m, k = released_value(mean, r, x), released_value(n, r, x)
            if m is None or k is None:
                continue
            coef = {idx[(a, b)]: 1.0 for (a, b) in cells if r in (a, "All") and x in (b, "All")}
            rel.append((coef, m * k - 1e-6, m * k + 1e-6))
    assert not pinned(attacker_range(len(cells), rel, idx[("north", "F")]), 10.0)


def test_sums_and_means_on_n_and_n_minus_one_records(tmp_path):
    df = _people()
    s = Session("srs", ledger=tmp_path / "l")
    first = s.pivot_table(df, values="days", index="region", aggfunc="sum", record_id="pid")
    assert first.status == "pass"
    rest = df.drop(df.index[5])
    second = s.pivot_table(rest, values="days", index="region", aggfunc="sum", record_id="pid")
    assert second.status == "fail" and "DifferencingCheck" in set(second.reasons["rule"])
    # nested populations, a mean this time (its n is derivable): the difference of 4 people
    sub = df.drop(df.index[10:14])
    nested = s.pivot_table(sub, values="days", index="region", aggfunc="mean", record_id="pid")
    assert nested.status == "fail"
    # only the first was released: one number per region cannot give a person's value
    assert released_value(second, "north") is None and released_value(nested, "north") is None


# -- family 2: weights --------------------------------------------------------------------------------------------
def test_weights_of_ones_are_a_count_table_in_the_ledger(tmp_path):
    df = _people()
    s = Session("srs", ledger=tmp_path / "l")
    w = pd.Series(np.ones(len(df)), index=df.index)
    first = s.crosstab(df.region, df.sex, weights=w, record_id=df.pid)
    assert first.status == "pass" and first.released.counts
    rest = df.drop(df.index[:2])
    second = s.crosstab(rest.region, rest.sex, record_id=rest.pid)
    assert second.status == "fail"  # differenced against the weighted table


def test_varying_weights_are_a_magnitude_table(tmp_path):
    df = _people()
    w = pd.Series(np.ones(len(df)), index=df.index)
    w.iloc[0] = 5000.0  # one person dominates their cell
    out = Session("srs", ledger=tmp_path / "l").crosstab(df.region, df.sex, weights=w)
    assert {"NKCheck", "PPercentCheck"} <= set(out.reasons["rule"])
    r, x = df.region.iloc[0], df.sex.iloc[0]
    assert released_value(out, r, x) is None  # the dominated cell is withheld


# -- family 4: regressions ----------------------------------------------------------------------------------------
def _design(n: int = 300, seed: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"y": rng.normal(50, 10, n), "x": rng.normal(size=n)})
    one = np.zeros(n)
    one[17] = 1.0  # one person
    return df, one


@pytest.mark.parametrize("coding", ["zscore", "zero_two"])
def test_a_one_person_dummy_in_any_coding_fails(coding, tmp_path):
    import statsmodels.api as sm

    df, one = _design()
    col = (one - one.mean()) / one.std() if coding == "zscore" else 2.0 * one
    res = sm.OLS(df.y, sm.add_constant(np.column_stack([df.x, col]))).fit()
    out = Session("srs", ledger=tmp_path / "l").regression(res)
    assert out.status == "fail" and {"IndicatorCountCheck", "LeverageCheck"} <= set(out.reasons["rule"])
    # the fitted person's outcome is what the dummy's coefficient gives away: nothing is released
    assert out.status == "fail"


def test_two_dummies_differing_by_one_person_fail(tmp_path):
    import statsmodels.api as sm

    df, _ = _design()
    d1 = (np.arange(len(df)) % 2).astype(float)
    d2 = d1.copy()
    d2[5] = 1.0 - d2[5]
    res = sm.OLS(df.y, sm.add_constant(np.column_stack([df.x, d1, d2]))).fit()
    out = Session("srs", ledger=tmp_path / "l").regression(res)
    assert out.status == "fail" and "IndicatorCountCheck" in set(out.reasons["rule"])


def test_intercept_only_models_on_n_and_n_minus_one(tmp_path):
    import statsmodels.formula.api as smf

    df, _ = _design()
    s = Session("srs", ledger=tmp_path / "l")
    first = s.regression(smf.ols("y ~ 1", df).fit())
    assert first.status == "pass"
    second = s.regression(smf.ols("y ~ 1", df.drop(df.index[9])).fit())
    assert second.status == "fail" and "DifferencingCheck" in set(second.reasons["rule"])
    # and against a released sum of the same outcome on N-1 records
    third = s.pivot_table(df.drop(df.index[9]).assign(g="all"), values="y", index="g", aggfunc="sum")
    assert third.status == "fail"
    # released: one mean (first) -> the attacker has one equation in the 300 outcomes, nothing about one person
    rel = [
        (
            dict.fromkeys(range(len(df)), 1.0),
            first.table.loc["Intercept", "coef"] * len(df) - 1e-6,
            first.table.loc["Intercept", "coef"] * len(df) + 1e-6,
        )
    ]
    assert not pinned(attacker_range(len(df), rel, 9, lower=-1e6), 1.0)


# -- family 5: three or more populations, whatever the variables are called ---------------------------------------
def test_a_total_and_two_subgroup_tables_recover_the_rest(tmp_path):
    df = _people(900, 5)
    df["region"] = np.random.default_rng(5).choice(["north", "south", "west"], len(df))
    s = Session("srs", ledger=tmp_path / "l")
    one = pd.Series("all", index=df.index, name="scope")
    total = s.crosstab(df.sex, one, record_id=df.pid, name="total")
    north = df[df.region == "north"]
    nor = s.crosstab(north.sex, pd.Series("all", index=north.index, name="scope"), record_id=north.pid, name="north")
    small = df.index[(df.region == "west") & (df.sex == "F")][:4]
    rest = df[df.region != "north"].drop(small)
    # the same table with the variable renamed: still the same table
    late = s.crosstab(
        rest.sex.rename("gender"), pd.Series("all", index=rest.index, name="scope"), record_id=rest.pid, name="rest"
    )
    assert total.status == "pass" and nor.status == "pass" and late.status == "fail"
    # released: total and north. Unknowns: F in north (0), F elsewhere but the 4 (1), the 4 (2)
    rel = [({0: 1.0, 1: 1.0, 2: 1.0}, released_value(total, "F", "all"), released_value(total, "F", "all"))]
    rel.append(({0: 1.0}, released_value(nor, "F", "all"), released_value(nor, "F", "all")))
    assert released_value(late, "F", "all") is None
    assert not pinned(attacker_range(3, rel, 2), 10.0)


# -- family 6: records the ledger cannot link ---------------------------------------------------------------------
def test_reset_index_and_a_transposed_table_are_compared_by_content(tmp_path):
    df = _people()
    s = Session("srs", ledger=tmp_path / "l")
    assert s.crosstab(df.region, df.sex, name="first").status == "pass"
    drop = df.index[(df.region == "south") & (df.sex == "M")][:2]
    later = df.drop(drop).reset_index(drop=True)  # renumbered: index keys no longer name the same records
    out = s.crosstab(later.sex, later.region, name="second")  # and transposed
    assert out.status == "fail" and "could not be linked" in " ".join(out.reasons["summary"])
    # ids on one output and the index on another
    s2 = Session("srs", ledger=tmp_path / "l2")
    s2.crosstab(df.region, df.sex, record_id=df.pid, name="ids")
    assert s2.crosstab(later.region, later.sex, name="index").status == "fail"
    # what was released (the first table) pins nothing about the two: one exact table, no second
    cells = [(r, x) for r in ("north", "south") for x in ("F", "M")]
    idx = {c: i for i, c in enumerate(cells)}
    rel = [({idx[c]: 1.0}, v, v) for c in cells if (v := released_value(out, *c)) is not None]
    assert rel == []


def _per_year(values: list[int]) -> pd.DataFrame:
    idx = pd.Index(["2021", "2022", "2023"], name="year")
    return pd.DataFrame({"probation": values[:3], "crown": values[3:]}, index=idx)


def test_events_and_people_per_year_differing_by_a_few_fail_and_by_many_pass(tmp_path):
    # Events and the people they belong to, per dataset and year, from aggregates: unlinked, compared by content.
    events = [400, 461, 120, 300, 774, 155]
    s = Session("srs", ledger=tmp_path / "a")
    assert s.table(_per_year(events), name="events").status == "pass"
    # 2 more events than people in one cell: one or two people had a second event (a difference below 10 that
    # combining the tables gives: ABS's rule), so the second table fails
    few = s.table(_per_year([350, 459, 100, 250, 634, 146]), name="people")
    assert few.status == "fail" and "could not be linked" in " ".join(few.reasons["summary"])
    assert "events and the people they belong to" in " ".join(few.reasons["summary"])
    # every difference 10 or more: nothing below the threshold can be computed, both released
    s2 = Session("srs", ledger=tmp_path / "b")
    assert s2.table(_per_year(events), name="events").status == "pass"
    assert s2.table(_per_year([350, 440, 100, 250, 634, 140]), name="people").status == "pass"
