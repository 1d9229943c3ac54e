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
