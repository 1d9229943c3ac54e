"""After every `djs run`, the bundle is attacked as a whole (issue 16 item 8): an output whose cells the attack
recovers is withheld (`fail`), and the result is in the clearance pack (CLEARANCE.md section, results.json,
checker-only file). Records are staged here as a notebook would stage them, without kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from djs_toolkit.outputs.stage import RunContext, write_record
from djs_toolkit.runner.bundle import assemble, verify_bundle
from djs_toolkit.sdc import Output


def _stage(tmp_path: Path, label: str, outputs: list[Output]) -> dict:
    ctx = RunContext(tmp_path / "stage" / label, "srs", None, label, True)
    for o in outputs:
        o.properties.update({"index_levels": o.table.index.nlevels, "csv_header_rows": 1})
        write_record(ctx, o.name.split(".", 1)[1], o)
    return {"label": label, "notebook": "nb.ipynb", "notebook_sha256": "0", "parameters": {}, "stage": ctx.stage_dir}


def _counts(name: str, values: list, withheld: list) -> Output:
    t = pd.DataFrame({"n_at_risk": pd.array(values, dtype="Int64")}, index=pd.Index(["F", "M", "X"], name="sex"))
    mask = pd.DataFrame({"n_at_risk": withheld}, index=t.index)
    return Output(
        name, "review", "table", "save_table", "count", t.mask(mask), mask=mask, description="d", population="p"
    )


def test_the_bundle_withholds_what_the_release_gives_away_together(tmp_path):
    leak = _stage(
        tmp_path,
        "a",
        [
            _counts("a.km_counts", [300, 600, 40], [True, False, True]),
            _counts("a.km", [300, 600, 40], [False, False, False]),  # prints what km_counts withholds
        ],
    )
    other = _stage(tmp_path, "b", [_counts("b.km", [300, 600, 40], [False, False, False])])  # another run: unlinked
    lines: list[str] = []
    assemble([leak, other], "srs", tmp_path / "build", tmp_path / "bundle", echo=lines.append)
    bundle = tmp_path / "bundle"
    doc = json.loads((bundle / "results.json").read_text())
    status = {k: v["status"] for k, v in doc["results"].items()}
    assert status == {"a.km": "review", "a.km_counts": "fail", "b.km": "review"}
    assert not (bundle / "release" / "a.km_counts.csv").exists() and (bundle / "release" / "a.km.csv").exists()
    flags = [f["rule"] for f in doc["results"]["a.km_counts"]["djs_toolkit"]["output_flags"]]
    assert "ReleaseAttackCheck" in flags
    summary = doc["djs_toolkit"]["release_attack"]
    assert summary["findings"] == 2 and summary["outputs_withheld"] == 1 and summary["tables"] == 3
    text = (bundle / "CLEARANCE.md").read_text()
    assert "## Whole-release attack" in text and "1 output(s) withheld" in text
    assert "Whole-release attack (runner, withheld): 2 count(s): withheld count recovered" in text
    evidence = pd.read_csv(bundle / "checker_only" / "DO-NOT-RELEASE_release_attack.csv")
    assert set(evidence["output"]) == {"a.km_counts"} and set(evidence["lower"]) == {300.0, 40.0}
    assert verify_bundle(bundle) == [] and lines and lines[0].startswith("whole-release attack: 3 table(s)")


def test_a_clean_release_says_so_and_rebuilds_to_the_same_bytes(tmp_path):
    runs = [_stage(tmp_path, "a", [_counts("a.t", [300, 600, 40], [False, False, False])])]
    for k in (1, 2):
        assemble(runs, "srs", tmp_path / f"build{k}", tmp_path / f"bundle{k}")
    text = (tmp_path / "bundle1" / "CLEARANCE.md").read_text()
    assert "no withheld or small count can be recovered" in text
    for name in ("CLEARANCE.md", "results.json", "checker_only/DO-NOT-RELEASE_release_attack.csv"):
        assert (tmp_path / "bundle1" / name).read_bytes() == (tmp_path / "bundle2" / name).read_bytes()
