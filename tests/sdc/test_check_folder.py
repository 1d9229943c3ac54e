"""End-of-process checking of a folder of outputs made elsewhere, and Session.table for numbers-only tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.cli import main
from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Ledger, Session, check_folder


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "from_r"
    d.mkdir()
    ok = pd.DataFrame({"court": ["A", "B"], "custody": [40, 33], "community": [51, 60]})
    ok.to_csv(d / "courts.csv", index=False)
    ok.to_csv(d / "courts.counts.csv", index=False)
    small = pd.DataFrame({"court": ["A", "B", "C"], "custody": [40, 3, 33], "community": [51, 60, 45]})
    small.to_csv(d / "small.csv", index=False)
    small.to_csv(d / "small.counts.csv", index=False)
    means = pd.DataFrame({"year": [2019, 2020, 2021], "mean_days": [41.5, 38.2, 40.0]})
    means.to_csv(d / "means.csv", index=False)
    pd.DataFrame({"year": [2019, 2020, 2021], "mean_days": [120, 150, 4]}).to_csv(d / "means.counts.csv", index=False)
    means.to_csv(d / "rates.csv", index=False)  # no sidecar
    (d / "courts.png").write_bytes(b"\x89PNG fake")  # beside its table
    (d / "lonely.png").write_bytes(b"\x89PNG fake")  # no table
    (d / "vector.svg").write_text("<svg/>")  # blocked type under srs
    (d / "notes.txt").write_text("model notes\n")
    return d


def test_every_kind_of_file_gets_the_right_status_and_reason(folder, tmp_path):
    res = check_folder(folder, out=tmp_path / "checked")
    status = {k: o.status for k, o in res.outputs.items()}
    assert status == {
        "courts": "pass",
        "courts_png": "review",
        "lonely": "review",
        "means": "review",
        "notes": "review",
        "rates": "fail",  # decimals and no sidecar: statistics that cannot be checked
        "small": "review",
        "vector": "fail",
    }
    rule = {k: sorted(set(o.reasons["rule"])) for k, o in res.outputs.items()}
    assert rule["rates"] == ["MissingCountsCheck"] and rule["means"] == ["CountsOnlyCheck", "MinimumThresholdCheck"]
    reason = {k: " ".join(o.reasons["summary"]) for k, o in res.outputs.items()}
    assert "add rates.counts.csv with the unweighted, unrounded counts" in reason["rates"]
    assert "add lonely.csv and lonely.counts.csv" in reason["lonely"]
    assert "underlying table courts.csv is checked beside it" in reason["courts_png"]
    release = res.path / "release"
    assert sorted(p.name for p in release.iterdir()) == [
        "courts.csv",
        "courts_png.png",
        "lonely.png",
        "means.csv",
        "notes.txt",
        "small.csv",
    ]
    assert (release / "small.csv").read_text().splitlines()[2] == "B,[suppressed],[suppressed]"
    lines = (release / "means.csv").read_text().splitlines()
    assert lines[3] == "2021,[suppressed]" and sum("[suppressed]" in x for x in lines) == 2  # + one complement
    doc = json.loads((res.path / "results.json").read_text())
    assert [f["name"] for f in doc["results"]["vector"]["files"]] == ["withheld/vector.txt"]  # a notice, no values
    assert doc["results"]["courts"]["status"] == "pass"
    assert (res.path / "CLEARANCE.md").is_file() and (res.path / "manifest-sha256.txt").is_file()
    evidence = res.path / "checker_only" / "DO-NOT-RELEASE_small_evidence.csv"
    assert evidence.is_file() and not list(release.glob("*.counts.csv"))


def test_folder_tables_are_recorded_and_a_later_total_off_by_one_is_caught(folder, tmp_path):
    led = tmp_path / "ledger"
    check_folder(folder, ledger=led, out=tmp_path / "c1")
    names = sorted(e.name for e in Ledger(led).entries())
    assert names == ["courts", "means", "small"] and all(e.keyset is None for e in Ledger(led).entries())
    later = tmp_path / "later"
    later.mkdir()
    t = pd.DataFrame({"court": ["A", "B"], "custody": [41, 33], "community": [51, 60]})  # one more record
    t.to_csv(later / "courts_v2.csv", index=False)
    t.to_csv(later / "courts_v2.counts.csv", index=False)
    res = check_folder(later, ledger=led, out=tmp_path / "c2")
    o = res.outputs["courts_v2"]
    assert o.status == "fail"
    assert (
        o.reasons["summary"]
        .iloc[-1]
        .startswith(
            "same table as earlier output 'courts' (same variables and "
            "categories) on a population that differs by fewer than 10"
        )
    )


def test_djs_check_command_prints_statuses_and_exits_1_on_a_fail(folder, tmp_path, capsys):
    code = main(["check", str(folder), "--out", str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert code == 1 and "vector: fail (FigureCheck)" in out and "courts: pass" in out
    assert "8 output(s): 1 pass, 5 review, 2 fail" in out
    assert main(["check", str(folder), "--out", str(tmp_path / "cli")]) == 2  # never overwritten


def test_session_table_checks_counts_directly_and_statistics_through_counts():
    s = Session("srs")
    counts = pd.DataFrame({"custody": [40, 3], "community": [55, 60]}, index=pd.Index(["A", "B"], name="court"))
    o = s.table(counts, name="counts", margins=True)
    assert o.status == "review" and o.table.loc["All"].tolist() == [43, 115, 158]  # true totals
    assert o.mask.to_numpy().sum() == 4 and o.released.counts
    means = counts * 1.5
    m = s.table(means, counts=counts, statistic="mean", name="means")
    assert m.mask.equals(o.mask.loc[["A", "B"], ["custody", "community"]])
    assert m.table.loc["A", "community"] == 82.5 or np.isnan(m.table.loc["A", "community"])
    assert "CountsOnlyCheck" in set(m.reasons["rule"]) and m.status == "review"
    bare = s.table(means, statistic="mean", name="bare")
    assert bare.status == "review" and bare.reasons["rule"].tolist() == ["MissingCountsCheck"]
    with pytest.raises(DJSUserError, match="counts must be unweighted, unsuppressed whole numbers"):
        s.table(means, counts=counts / 2, statistic="mean", name="halves")
    with pytest.raises(DJSUserError, match="same row labels and columns"):
        s.table(means, counts=counts.iloc[:1], statistic="mean", name="short")


# -- issue 16 family 7: `djs check` as strict as the notebook path ------------------------------------------------
def _write(folder, name, frame, counts=None):
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)
    if counts is not None:
        counts.to_csv(folder / f"{name}.counts.csv", index=False)


def test_whole_numbers_without_a_sidecar_are_checked_as_counts(tmp_path):
    d = tmp_path / "in"
    _write(d, "courts", pd.DataFrame({"court": ["A", "B", "C", "D"], "n": [40, 3, 33, 51]}))
    res = check_folder(d, out=tmp_path / "out")
    o = res.outputs["courts"]
    assert o.status == "review" and "MinimumThresholdCheck" in set(o.reasons["rule"])
    lines = (res.path / "release" / "courts.csv").read_text().splitlines()
    assert lines[2] == "B,[suppressed]" and sum("[suppressed]" in x for x in lines) == 2  # + a complement
    # before: `review`, "controls applied: none needed", the 3 printed
    assert "3" not in {x.split(",")[1] for x in lines[1:]}


def test_a_sidecar_of_denominators_does_not_clear_a_small_numerator(tmp_path):
    from .attack import attacker_range

    d = tmp_path / "in"
    values = pd.DataFrame({"court": ["A", "B", "C"], "reoffenders": [40, 3, 55]})
    counts = pd.DataFrame({"court": ["A", "B", "C"], "reoffenders": [150, 160, 170]})
    _write(d, "pr", values, counts)
    res = check_folder(d, out=tmp_path / "out")
    o = res.outputs["pr"]
    assert o.status == "review" and pd.isna(o.table.loc["B", "reoffenders"])
    printed = {c: o.table.loc[c, "reoffenders"] for c in "ABC"}
    assert sum(pd.isna(v) for v in printed.values()) >= 2  # a complement: the total of reoffenders may be public
    # independent LP: reoffenders per court (0-2), their total assumed public; printed cells exact
    rel = [({0: 1.0, 1: 1.0, 2: 1.0}, 98.0, 98.0)]
    rel += [({i: 1.0}, float(v), float(v)) for i, v in enumerate(printed.values()) if not pd.isna(v)]
    lo, hi = attacker_range(3, rel, 1)
    assert hi - lo >= 10


@pytest.mark.parametrize(
    ("counts", "why"),
    [
        ([150, 2, 170], "has a count smaller than the whole number it stands behind"),
        ([150, 160], "must have the same rows"),
    ],
    ids=["count-below-numerator", "shape"],
)
def test_a_sidecar_that_does_not_describe_its_table_fails(tmp_path, counts, why):
    d = tmp_path / "in"
    values = pd.DataFrame({"court": ["A", "B", "C"], "reoffenders": [40, 3, 55]})
    _write(d, "pr", values, pd.DataFrame({"court": list("ABC")[: len(counts)], "reoffenders": counts}))
    o = check_folder(d, out=tmp_path / "out").outputs["pr"]
    assert o.status == "fail" and why in " ".join(o.reasons["summary"])


def test_statistics_without_a_sidecar_fail_with_what_to_add(tmp_path):
    d = tmp_path / "in"
    _write(d, "means", pd.DataFrame({"year": [2019, 2020], "mean_days": [41.5, 38.2], "n": [120, 150]}))
    o = check_folder(d, out=tmp_path / "out").outputs["means"]
    assert o.status == "fail" and "add means.counts.csv" in o.reasons["summary"].iloc[0]


def test_the_folder_is_attacked_as_a_whole(tmp_path):
    d = tmp_path / "in"
    # a total that is not the sum of the rows it totals: the attacker's relations cannot all hold
    _write(d, "courts", pd.DataFrame({"court": ["A", "B", "All"], "n": [40, 33, 80]}))
    o = check_folder(d, out=tmp_path / "out").outputs["courts"]
    assert o.status == "fail" and "ReleaseAttackCheck" in set(o.reasons["rule"])


def test_session_table_checks_a_ratio_times_its_count_as_a_count():
    from .attack import attacker_range

    v = pd.DataFrame({"rate": [0.075, 0.5, 0.4, 0.3]}, index=pd.Index(list("abcd"), name="q"))
    n = pd.DataFrame({"rate": [40, 60, 50, 70]}, index=v.index)
    o = Session(ledger=False).table(v, n, statistic="rate", name="r")
    assert o.status == "review" and np.isnan(o.table.loc["a", "rate"]) and o.mask["rate"].sum() == 2
    # the published rates bound their numerators; a's numerator (3) stays unknown
    rel = [({i: 1.0}, 0.0, 1e9) for i in range(4)]
    for i, q in enumerate("abcd"):
        r = o.table.loc[q, "rate"]
        if not np.isnan(r):
            k = r * n.loc[q, "rate"]
            rel.append(({i: 1.0}, k, k))
    lo, hi = attacker_range(4, rel, 0)
    assert hi - lo >= 10


@pytest.mark.parametrize("stat", ["probability", "proportion"])
def test_a_probability_times_its_count_is_a_count_like_any_ratio(stat):
    # A state-occupation or any other probability beside its count: 0.075 x 40 = 3 people, withheld with a complement
    v = pd.DataFrame({"p": [0.075, 0.5, 0.4, 0.3]}, index=pd.Index(list("abcd"), name="q"))
    n = pd.DataFrame({"p": [40, 60, 50, 70]}, index=v.index)
    o = Session(ledger=False).table(v, n, statistic=stat, name="p")
    assert np.isnan(o.table.loc["a", "p"]) and o.mask["p"].sum() == 2
