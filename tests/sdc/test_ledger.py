"""The on-disk differencing ledger: keyed hashes only, atomic entries, persistence across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc import Session
from djs_toolkit.sdc.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pid": [f"P{100000 + i}X" for i in range(n)],
            "court": rng.choice(list("AB"), n),
            "sex": rng.choice(list("FM"), n),
        }
    )


def test_keys_are_keyed_hashes_stable_per_ledger_and_never_raw_ids(tmp_path):
    led = Ledger(tmp_path / "l")
    ids = pd.Series(["P100001X", "P100002X", 7], dtype=object)
    k1 = led.hash_ids(ids)
    assert Ledger(tmp_path / "l").hash_ids(ids).tolist() == k1.tolist()  # same folder, same salt
    assert Ledger(tmp_path / "other").hash_ids(ids).tolist() != k1.tolist()  # another ledger, another salt
    # in a column of text a number is text; integers are the same ids in any container; text "7" is not 7
    assert led.hash_ids(["7"])[0] == k1[2] and led.hash_ids([7])[0] != k1[2]
    assert led.hash_ids(pd.Series([7, 8], dtype=object)).tolist() == led.hash_ids(np.array([7, 8])).tolist()
    # the default-index space never meets the record_id space
    assert led.hash_ids([7], "index")[0] != led.hash_ids([7])[0]
    df = _frame()
    s = Session("srs", ledger=tmp_path / "l")
    s.crosstab(df.court, df.sex, name="t1", record_id=df.pid)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "l").rglob("*") if p.is_file())
    assert b"P100001X" not in blob and "P100001X".encode("utf-16-le") not in blob
    assert all(f"P1{i:05d}X".encode() not in blob for i in range(0, 200, 7))


def test_entries_are_one_file_set_each_and_identical_reruns_are_recorded_once(tmp_path):
    df = _frame()
    for _ in range(2):
        Session("srs", ledger=tmp_path / "l").crosstab(df.court, df.sex, name="t1", record_id=df.pid)
    led = Ledger(tmp_path / "l")
    (e,) = led.entries()
    assert (e.name, e.kind, e.statistic, e.variables, e.key_space) == (
        "t1",
        "table",
        "count",
        ("court", "sex"),
        "record_id",
    )
    files = sorted(p.name for p in (tmp_path / "l" / "entries").iterdir())
    assert files == [f"{e.id}.cells.npz", f"{e.id}.json", f"{e.id}.labels.npy"]
    assert len(list((tmp_path / "l" / "keysets").iterdir())) == 1 and not list((tmp_path / "l").rglob(".*tmp*"))
    labels = np.asarray(led.labels(e))
    expected = pd.crosstab(df.court, df.sex).to_numpy().ravel()
    assert np.bincount(labels, minlength=4).tolist() == expected.tolist()
    rel = led.released(e)
    assert rel.names == ("court=A, sex=F", "court=A, sex=M", "court=B, sex=F", "court=B, sex=M")
    assert rel.lo.tolist() == expected.astype(float).tolist() and rel.exact().all()


def test_failing_outputs_are_not_recorded_and_an_incompatible_ledger_fails_closed(tmp_path):
    df = _frame()
    s = Session("srs", ledger=tmp_path / "l")
    s.crosstab(df.court, df.sex, name="ok", record_id=df.pid)
    o = s.pivot_table(df.assign(v=1.0), values="v", index="court", aggfunc="max", name="mx", record_id="pid")
    assert o.status == "fail" and [e.name for e in Ledger(tmp_path / "l").entries()] == ["ok"]
    info = json.loads((tmp_path / "l" / "ledger.json").read_text())
    (tmp_path / "l" / "ledger.json").write_text(json.dumps({**info, "check": "0"}))
    with pytest.raises(DJSUserError, match="incompatible"):
        Ledger(tmp_path / "l").hash_ids([1])


def test_missing_and_repeated_record_ids_are_review(tmp_path):
    df = _frame(60)
    ids = df.pid.copy()
    ids.iloc[3] = None
    o = Session("srs", ledger=tmp_path / "l").crosstab(df.court, df.sex, record_id=ids)
    assert o.status == "review" and "missing for 1 record(s)" in o.reasons["summary"].iloc[-1]
    ids = df.pid.copy()
    ids.iloc[:2] = "P100009X"
    o = Session("srs", ledger=tmp_path / "l2").crosstab(df.court, df.sex, record_id=ids)
    assert o.status == "review" and "repeats for 2 record(s)" in o.reasons["summary"].iloc[-1]
    assert "P100009X" not in " ".join(o.reasons["summary"])


_CHILD = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    from djs_toolkit.sdc import Session
    ledger, n, name, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"pid": np.arange(start, start + n), "court": rng.choice(list("ABC"), n),
                       "outcome": rng.choice(["custody", "community"], n)})
    o = Session("srs", ledger=ledger).crosstab(df.court, df.outcome, name=name, record_id=df.pid, margins=True)
    print(o.status)
    print(" | ".join(o.reasons["summary"]))
""")


def _child(ledger: Path, n: int, name: str, start: int = 1000) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ledger), str(n), name, str(start)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_ledger_persists_across_processes_and_catches_a_rerun_with_one_more_record(tmp_path):
    led = tmp_path / "ledger"
    first = _child(led, 300, "by_court")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.splitlines()[0] == "pass"
    second = _child(led, 301, "by_court_v2")  # the same table rerun on N + 1 records, in a new process
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    status, reasons = out.splitlines()[:2]
    assert status == "fail"
    assert "earlier output 'by_court'" in reasons and "population contains that of 'by_court'" in reasons
    assert [e.name for e in Ledger(led).entries()] == ["by_court"]  # the failing rerun is not recorded


@pytest.mark.slow
def test_two_processes_appending_at_once_leave_both_entries_intact(tmp_path):
    led = tmp_path / "ledger"
    procs = [_child(led, 200 + 40 * k, f"t{k}", start=1000 + 5000 * k) for k in range(2)]  # disjoint people
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    entries = Ledger(led).entries()
    assert sorted(e.name for e in entries) == ["t0", "t1"]
    for e in entries:
        assert len(np.asarray(Ledger(led).labels(e))) == e.n_records
    assert not [p for p in led.rglob("*") if p.name.startswith(".")]


def test_a_damaged_ledger_entry_gives_review_not_pass(tmp_path):
    df = _frame()
    Session("srs", ledger=tmp_path / "l").crosstab(df.court, df.sex, name="t1", record_id=df.pid)
    for f in (tmp_path / "l" / "keysets").iterdir():
        f.unlink()  # e.g. a half-copied project folder
    o = Session("srs", ledger=tmp_path / "l").crosstab(df.court, df.sex, name="t2", record_id=df.pid.iloc[::-1])
    assert o.status == "review"
    assert o.reasons["summary"].iloc[-1] == (
        "the ledger's record of 't1' could not be read: a checker must compare the two outputs"
    )
