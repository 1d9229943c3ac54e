"""Style, protected-table inputs and deterministic PNG bytes."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from djs_toolkit import DJSUserError
from djs_toolkit.plotting import PALETTE, STYLE, new_figure, save_png, style
from djs_toolkit.plotting._base import protected


def test_style_file_is_the_analysis_function_style():
    before = matplotlib.rcParams["axes.spines.top"]
    with style():
        rc = matplotlib.rcParams
        colours = [c.upper() for c in rc["axes.prop_cycle"].by_key()["color"]]
        assert colours == ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"] == list(PALETTE)
        assert len(set(map(str, rc["axes.prop_cycle"].by_key()["linestyle"]))) == 6  # not colour alone
        assert not rc["axes.spines.top"] and not rc["axes.spines.right"]
        assert rc["axes.grid"] and rc["axes.grid.axis"] == "y" and not rc["legend.frameon"]
    assert matplotlib.rcParams["axes.spines.top"] == before  # no global change
    assert STYLE.name == "djs.mplstyle" and STYLE.is_file()


def test_save_png_is_deterministic_and_atomic(tmp_path):
    def draw():
        with style():
            fig = new_figure(4, 3)
            ax = fig.add_subplot(1, 1, 1)
            ax.plot([0, 1, 2], [3, 1, 2], label="x")
            ax.legend()
        return fig

    a, b = save_png(draw(), tmp_path / "a.png"), save_png(draw(), tmp_path / "sub" / "b.png")
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in a.read_bytes() and b"matplotlib" not in a.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.png", "b.png", "sub"]  # no temp files left


def test_protected_refuses_records_and_reads_masks():
    with pytest.raises(DJSUserError, match="never records"):
        protected(pd.DataFrame({"person_id": ["x"], "count": [1]}))
    with pytest.raises(DJSUserError, match="DataFrame"):
        protected([1, 2, 3])

    class Out:
        table = pd.DataFrame({"count": [12, 40]})
        mask = pd.DataFrame({"count": [False, True]})

    t, m = protected(Out())
    assert m["count"].tolist() == [False, True] and t["count"].tolist() == [12, 40]


def test_group_labels_name_every_form_of_missing_once():
    import numpy as np

    from djs_toolkit.plotting._base import MISSING_LABEL, group_label, group_levels

    forms = [np.nan, None, pd.NA, pd.NaT, "nan", "NaN", "None", "<NA>", "NaT", ""]
    assert [group_label(v) for v in forms] == [MISSING_LABEL] * 10 == ["Missing"] * 10
    assert [group_label(v) for v in ("F", "Nancy", 0, 1.5, False)] == ["F", "Nancy", "0", "1.5", "False"]
    assert group_levels(pd.Series(["nan", "M", "F"]), pd.Series([None, "X"])) == ["F", "M", "X", "Missing"]


def test_natural_order_display_names_and_ten_distinct_styles():
    from djs_toolkit.plotting._base import display_name, natural_key, series_style

    assert sorted(["10", "2", "1"], key=natural_key) == ["1", "2", "10"]  # not 1, 10, 2
    bands = ["Missing", "50+", "25-29", "Under 10", "18-20", "10-17", "30-39", "21-24", "40-49"]  # schema.AGE_BANDS
    assert sorted(bands, key=natural_key) == ["Under 10", "10-17", "18-20", "21-24", "25-29", "30-39", "40-49", "50+",
                                              "Missing"]  # fmt: skip
    datasets = ["civil_caseman_pcol", "mags_hocas", "probation_delius"]
    assert sorted(datasets, key=natural_key) == ["mags_hocas", "probation_delius", "civil_caseman_pcol"]
    assert [display_name(d) for d in datasets] == ["Civil court", "Magistrates' courts", "Probation"]
    looks = {(s["color"], str(s["linestyle"]), s["marker"]) for s in map(series_style, range(10))}
    assert len(looks) == 10 and len({s["marker"] for s in map(series_style, range(10))}) == 10
    # colour and line alone tell the ten apart (markers sit only at some points of a curve)
    assert len({(s["color"], str(s["linestyle"])) for s in map(series_style, range(10))}) == 10
    with pytest.raises(DJSUserError, match="at most 10 groups"):
        series_style(10)


def test_one_group_treats_a_missing_group_as_its_own_group():
    import numpy as np

    from djs_toolkit.plotting._base import one_group

    t = pd.DataFrame(
        {"sex": ["F", np.nan, "F", np.nan], "a": [True, True, False, False], "exclusive": [10, 20, 30, 40]}
    )
    with pytest.raises(DJSUserError, match="group="):  # two groups, not one (nunique ignored the NaN)
        one_group(t, t.isna(), ["a"], None)
    for g in (np.nan, "Missing", "nan"):
        assert one_group(t, t.isna(), ["a"], g)[0]["exclusive"].tolist() == [20, 40]
    assert one_group(t, t.isna(), ["a"], "F")[0]["exclusive"].tolist() == [10, 30]
