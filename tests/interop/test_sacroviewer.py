"""SACRO-Viewer (run from .venv-interop on 127.0.0.1) opens every bundle, lists every output with its status and its
files (checksums valid, contents served), and records a review: approve and reject, the approved outputs' zip and
the review summary. The viewer writes the review into the results.json it opened, so it opens a copy."""

from __future__ import annotations

import io
import json
import re
import shutil
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from tests.interop.conftest import BUNDLES
from tests.interop.viewer import running_viewer


@pytest.mark.parametrize("which", BUNDLES)
def test_sacro_viewer_lists_every_output_and_approve_reject_works(which, request, interop_python, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(request.getfixturevalue(which), copy)
    results = json.loads((copy / "results.json").read_text(encoding="utf-8"))["results"]
    with running_viewer(interop_python, tmp_path) as v:
        status, url, page = v.request("/load/?" + urllib.parse.urlencode({"dirpath": str(copy)}))
        assert status == 200 and "/checker/" in url, v.log_tail()
        text = page.decode("utf-8")
        assert "Unsupported ACRO output" not in text and "not a valid ACRO json file" not in text
        listed = v.outputs(page)
        assert list(listed) == list(results)  # every output, in the bundle's order
        for uid, entry in results.items():
            assert f'aria-label="Output: {uid}"' in text
            shown = listed[uid]
            assert shown["status"] == entry["status"]
            assert [f["name"] for f in shown["files"]] == [f["name"] for f in entry["files"]]
            for f in shown["files"]:
                assert f["checksum_valid"], (uid, f["name"])  # checksums/ as ACRO writes it
                got, _, body = v.request(f["url"])
                assert got == 200 and body == (copy / f["name"]).read_bytes(), (uid, f["name"])

        # The checker approves what passed or is for review and rejects what the toolkit withheld.
        decisions = {u: {"state": e["status"] != "fail", "comment": f"checked {u}"} for u, e in results.items()}
        path = urllib.parse.urlencode({"path": str(copy / "results.json")})
        status, url, page = v.request(f"/review/?{path}", {"comment": "whole request", "review": json.dumps(decisions)})
        approved = [u for u, d in decisions.items() if d["state"]]
        assert status == 200 and url.endswith("/review/current/"), v.log_tail()
        counts = [int(x) for x in re.findall(r"text-3xl[^>]*>(\d+)<", page.decode("utf-8"))]
        assert counts == [len(results), len(approved), len(results) - len(approved)]

        status, _, body = v.request("/review/current/approved-outputs/", {})
        assert status == 200
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            names = set(zf.namelist())
            released = json.loads(zf.read("results.json"))["results"]
        files = {Path(f["name"]).name for u in approved for f in results[u]["files"]}
        assert names == files | {"results.json", "summary.txt"}  # the rejected (withheld) outputs are not in it
        assert sorted(released) == sorted(approved) and all(r["status"] == "approved" for r in released.values())

        status, _, summary = v.request("/review/current/summary/", {})
        text = summary.decode("utf-8")
        assert status == 200
        for u, e in results.items():
            verdict = "approved" if decisions[u]["state"] else "rejected"
            assert f"## {u}\nACRO status: {e['status']}\nReviewer status: {verdict}" in text
