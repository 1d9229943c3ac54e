"""A saved spine gives exactly the spine a fresh build gives, and is ignored when the data changed."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from djs_toolkit import open_extract, spine
from djs_toolkit.spine.build import save_spine
from djs_toolkit.spine.cache import ENV_SPINE_CACHE, cache_key, load_spine


@pytest.mark.slow
def test_saved_spine_reads_back_identical_events_and_diagnostics(tiny_extract_dir, tmp_path, monkeypatch):
    built = open_extract(tiny_extract_dir)
    events, diag = spine.person_events(built, return_diagnostics=True)
    save_spine(built, tmp_path / "spine")
    assert sorted(p.name for p in (tmp_path / "spine").iterdir()) == [
        "key.json",
        "person.parquet",
        "spine.parquet",
        "spine_diag.parquet",
    ]  # _link is a view: unique keys
    monkeypatch.setenv(ENV_SPINE_CACHE, str(tmp_path / "spine"))
    cached = open_extract(tiny_extract_dir)
    again, diag_again = spine.person_events(cached, return_diagnostics=True)
    assert cached.engine.con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = '_spine'"
    ).fetchall() == [("VIEW",)]
    pd.testing.assert_frame_equal(again, events)
    pd.testing.assert_frame_equal(diag_again, diag)
    sub = spine.person_events(cached, ["prison_nomis", "familyman"])
    assert set(sub["dataset"].unique()) == {"prison_nomis", "familyman"}
    assert len(sub) == int(events["dataset"].isin(["prison_nomis", "familyman"]).sum())
    assert sub["person_id"].is_monotonic_increasing


def test_a_cache_for_other_files_is_not_used(tiny_extract_dir, tmp_path):
    copy = tmp_path / "extract"
    shutil.copytree(tiny_extract_dir, copy)
    save_spine(open_extract(copy), tmp_path / "spine")
    assert load_spine(open_extract(copy), tmp_path / "spine") is True
    target = sorted(copy.glob("prison_journey*"))[0]
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, touched: may have changed
    fresh = open_extract(copy)
    assert load_spine(fresh, tmp_path / "spine") is False
    assert load_spine(fresh, tmp_path / "missing") is False
    (tmp_path / "spine" / "key.json").write_text("not json")
    assert load_spine(open_extract(tiny_extract_dir), tmp_path / "spine") is False


def test_cache_key_names_every_file_of_the_extract(tiny_extract):
    key = cache_key(tiny_extract)
    assert {f[0] for f in key["files"]} == set(tiny_extract.engine.sources)
    assert all(size > 0 for _, _, size, _ in key["files"])
