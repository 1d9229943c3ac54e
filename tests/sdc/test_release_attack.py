"""The whole-release attack (issue 16 item 8): every released table read as printed, every linear relation between
them in one LP. Each family of the pipeline's own leaks is written as the CSVs it released; the attack must recover
the withheld or small count and withhold the output, and must find nothing in what the safe paths print."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.sdc import Session, load_profile
from djs_toolkit.sdc.release_attack import attack_release, companion_findings
from djs_toolkit.sdc.release_model import build_model
from djs_toolkit.sdc.release_tables import is_interval_column, read_published, table_kind

SRS = load_profile("srs")


def table(text: str, uid: str, statistic: str = "count", keys: int = 1, run: str = "r", profile=SRS, **props):
    entry = {"type": props.pop("type", "table"), "properties": {"statistic": statistic, "index_levels": keys, **props}}
    t = read_published(text, entry, uid, run, profile)
    assert t is not None
    return t


def test_reading_a_release_tells_labels_counts_and_ratios_apart():
    t = table("sex,rate,ci_lower,n\nF,0.250000,0.2,40\nM,[suppressed],[suppressed],[suppressed]\n", "r.p", "rate")
    assert t.keys == ["sex"] and t.kind == "ratio" and t.counts == 2 and t.count_columns == {2}
    assert t.withheld[1].all() and t.decimals[0, 0] == 6
    assert table_kind("survival", "km", "survival") == "curve" and table_kind("coefficient", "x", "table") == "skip"
    assert is_interval_column("change_high_pct") is False and is_interval_column("robust_se")


# -- family 8: a count one table withholds, printed by its companion -----------------------------------------------
def test_a_count_withheld_in_one_table_and_printed_in_its_companion_is_recovered():
    counts = table("time,sex,n_at_risk,cum_events\n0,F,[suppressed],0\n0,M,4519,0\n", "r.km_counts", keys=2)
    est = table("time,sex,estimate,n_at_risk\n0,F,1.000000,431\n0,M,1.000000,4519\n", "r.km", "survival", keys=2)
    res = attack_release([counts, est], SRS)
    # km_counts withholds a count km prints; km prints an estimate in the row whose counts km_counts withholds
    assert set(res.failed) == {"r.km_counts", "r.km"} and res.findings[0].what == "withheld count recovered"
    assert (res.findings[0].lower, res.findings[0].upper) == (431.0, 431.0) and res.rounds == 2
    # the same column in another notebook run is another population: not linked
    assert not attack_release([counts, table(est_text(), "s.km", "survival", keys=2, run="s")], SRS).failed


def est_text() -> str:
    return "time,sex,estimate,n_at_risk\n0,F,1.000000,431\n0,M,1.000000,4519\n"


def test_adjacent_rows_of_a_raw_survival_table_give_small_counts():
    raw = table(
        "sex,time,n_at_risk,cum_events,cum_censored\nF,0,300,0,0\nF,90,260,37,3\nF,180,200,90,10\n",
        "r.kmc",
        keys=2,
    )
    res = attack_release([raw], SRS)
    small = {f.where for f in res.findings if f.what == "small count pinned"}
    assert "sex=F, time=90, cum_censored change" in small and res.failed == {"r.kmc": res.failed["r.kmc"]}


def test_a_ratio_times_its_count_recovers_the_numerator_its_companion_withholds():
    counts = table("sex,n_index,events_within\nF,3468,201\nM,5037,550\nU,151,[suppressed]\n", "r.ordered_n")
    ratio = table(
        "sex,proportion,n_index\nF,0.057958,3468\nM,0.109192,5037\nU,0.019868,151\n",
        "r.ordered",
        "proportion",
        counts="n_index",
        count_columns=["n_index"],
    )
    res = attack_release([counts, ratio], SRS)
    rec = [f for f in res.findings if f.what == "withheld count recovered"]
    assert rec and rec[0].output == "r.ordered_n" and rec[0].lower == pytest.approx(3.0, abs=1e-3)
    assert [f.output for f in companion_findings([counts, ratio])] == ["r.ordered"]


def test_a_small_implied_numerator_or_complement_is_a_small_count():
    t = "q,rate,n\na,0.075000,40\nb,0.925000,40\nc,0.500000,60\n"
    res = attack_release([table(t, "r.rates", "rate", counts="n", count_columns=["n"])], SRS)
    assert {f.where for f in res.findings} == {"q=a, rate x n", "q=b, n - rate x n"}
    assert "r.rates" in res.failed


def test_margins_and_overlap_identities_recover_a_withheld_cell():
    tab = table("g,n\nx,[suppressed]\ny,40\nAll,43\n", "r.t")
    assert attack_release([tab], SRS).findings[0].upper == 3.0
    ov = table(
        ",a,b,combination,degree,exclusive,inclusive\n0,True,False,a,1,40,[suppressed]\n"
        "1,False,True,b,1,50,55\n2,True,True,a & b,2,[suppressed],[suppressed]\n",
        "r.ov",
        "overlap",
    )
    res = attack_release([ov], SRS)
    assert {f.where.split(", ")[-1] for f in res.findings} >= {"exclusive"} and "r.ov" in res.failed


def test_protected_outputs_give_nothing_away_together():
    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "days": rng.exponential(300, 900).round() + 1,
            "back": (rng.random(900) < 0.6).astype(int),
            "sex": rng.choice(["F", "M", "X"], 900, p=[0.4, 0.59, 0.01]),
        }
    )
    for prof in ("srs", "opensafely"):
        s = Session(prof, ledger=False)
        curve = s.km("days", "back", by="sex", times=[0, 90, 180, 365, 730], data=d, name="km")
        ct = s.crosstab(d.sex, d.back, name="ct", margins=True)
        texts = {o.name: o for o in (curve, ct)}
        tables = []
        for name, o in texts.items():
            o.properties["index_levels"] = o.table.index.nlevels
            o.properties["csv_header_rows"] = 1 if o.table.columns.nlevels == 1 else o.table.columns.nlevels + 1
            out = o.table.astype(object).where(~o.mask.to_numpy(bool), "[suppressed]")
            entry = {"type": o.type, "properties": {**o.properties, "statistic": o.statistic, "method": o.method}}
            tables.append(read_published(out.to_csv(float_format="%.6f"), entry, name, "", load_profile(prof)))
        res = attack_release(tables, load_profile(prof))
        assert not res.findings, (prof, res.findings_frame())
        assert res.variables > 20 and res.equations > 10


def test_contradictory_printed_numbers_fail_closed():
    res = attack_release([table("g,n\nx,30\ny,40\nAll,43\n", "r.t")], SRS)
    assert res.failed and res.findings[0].what == "not solved"


def test_the_model_links_only_what_agrees():
    a = table("g,n\nx,30\ny,40\n", "r.a")
    b = table("g,n\nx,31\ny,40\n", "r.b")  # another population with the same column name
    m = build_model([a, b], SRS)
    assert len({m.find(v) for v in range(len(m.kind))}) == 4


def test_a_rate_per_thousand_is_scaled_before_its_count_is_read():
    from djs_toolkit.sdc.release_tables import ratio_scale

    assert ratio_scale("rate", "offences_per_1000") == 1000.0 and ratio_scale("rate_per_100k") == 100000.0
    t = table(
        "g,offences_per_1000,n\na,75.000000,40\nb,500.000000,60\n", "r.r", "rate", counts="n", count_columns=["n"]
    )
    assert {f.where for f in attack_release([t], SRS).findings} == {"g=a, offences_per_1000 x n"}
