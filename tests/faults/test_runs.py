"""Fault suite, runs (issue 20 cases 3-7): a failing notebook's own message in the console and summary.csv; one run
at a time per run folder; damaged run and ledger files named; the spine cache removed or named on every way out;
kernels retried and quiet; Ctrl-C says how to resume. Each asserts exit status, one clear message, no traceback, no
id or row value printed or written, and nothing half-written."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djs_toolkit.fileio import FileLock
from djs_toolkit.runner.bundle import verify_bundle
from tests.faults.tools import (
    COUNTS,
    assert_no_leak,
    assert_one_clear_error,
    cli,
    djs,
    djs_popen,
    plant_latin1,
    write_notebook,
    written_text,
)

pytestmark = pytest.mark.slow
SECRET = "ZQXSECRET9"
READS_LINK = (
    "",
    "from djs_toolkit import open_extract, outputs\n\noutputs.configure(profile=profile)\n"
    "counts = open_extract(data_root).sql('SELECT source_dataset, COUNT(*) AS n FROM xjs_link GROUP BY 1 ORDER BY 1')\n"
    "outputs.save_table(counts, 'link_records', 'linked records per dataset', 'every record in xjs_link')",
)


def _project(tmp_path: Path, notebooks: dict[str, tuple[str, ...]], sets: str = "") -> Path:
    for name, cells in notebooks.items():
        write_notebook(tmp_path / "nb" / f"{name}.ipynb", *cells)
    lines = [f"  - notebook: nb/{name}.ipynb" for name in notebooks]
    (tmp_path / "pipeline.yaml").write_text("notebooks:\n" + "\n".join(lines) + "\n" + sets)
    (tmp_path / "data").mkdir(exist_ok=True)
    return tmp_path / "pipeline.yaml"


def _run_dir(tmp_path: Path) -> Path:
    (run,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    return run


def _summary(run: Path) -> list[dict[str, str]]:
    with (run / "summary.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_failing_notebooks_own_message_is_printed_and_in_summary_csv(tmp_path, capsys):
    pipeline = _project(
        tmp_path,
        {
            "usererr": (
                "",
                "from djs_toolkit import DJSUserError\n\nraise DJSUserError('Table `t` has 2 problem(s):\\n- "
                "[bad_code] sex: 3 value(s) outside the code list. Fix: recode')",
            ),
            "valueerr": ("", "import pandas as pd\n\npd.DataFrame({'a': [1]})['" + SECRET + "']"),
        },
    )
    code, out, err = cli("run", pipeline, "--data", tmp_path / "data", capsys=capsys)
    assert code == 1 and "Traceback" not in out + err
    run = _run_dir(tmp_path)
    assert "usererr failed: DJSUserError in cell 2 of the executed notebook: Table `t` has 2 problem(s):" in out
    assert "    - [bad_code] sex: 3 value(s) outside the code list. Fix: recode" in out
    assert f"executed notebook: {run / 'nb' / 'usererr.ipynb'}" in out
    assert "valueerr failed: KeyError in cell 2 of the executed notebook, raised at pandas/" in out
    assert "(message withheld: it may hold data)" in out
    rows = {r["run"]: r for r in _summary(run)}
    assert rows["usererr"]["error"].startswith("DJSUserError in cell 2 of the executed notebook: Table `t` has 2")
    assert rows["usererr"]["executed_notebook"] == str(run / "nb" / "usererr.ipynb")
    assert rows["valueerr"]["error"].startswith("KeyError in cell 2")
    assert_no_leak([out, err, (run / "summary.csv").read_text()], frozenset(), (SECRET,))
    assert SECRET in (run / "nb" / "valueerr.ipynb").read_text()  # the full traceback stays in the log
    assert not (run / "run.lock").exists() and not (tmp_path / "outputs").exists()


def test_allow_invalid_runs_and_the_clearance_pack_says_so(extract, tmp_path, capsys, extract_ids):
    row = plant_latin1(extract / "mags_defendant_case.csv")
    pipeline = _project(tmp_path, {"links": READS_LINK})
    code, out, err = cli("run", pipeline, "--data", extract, "--allow-invalid", capsys=capsys)
    assert code == 0 and "Traceback" not in err, out + err
    assert "--allow-invalid: running despite 1 validation error(s)" in out
    (bundle,) = (tmp_path / "outputs").iterdir()
    clearance = (bundle / "CLEARANCE.md").read_text()
    assert "Validation: run with `--allow-invalid`: the extract had 1 validation error(s)" in clearance
    assert "- [encoding] mags_defendant_case: `mags_defendant_case.csv` is not UTF-8 at line" in clearance
    results = json.loads((bundle / "results.json").read_text())
    assert results["djs_toolkit"]["validation"]["errors"][0]["kind"] == "encoding"
    assert verify_bundle(bundle) == []
    # One permission mode for every file of the bundle, however it was written.
    assert len({os.stat(p).st_mode & 0o777 for p in bundle.rglob("*") if p.is_file()}) == 1
    run = _run_dir(tmp_path)
    assert not (run / "spine").exists() and not (run / "run.lock").exists()
    assert_no_leak({"stdout": out, "stderr": err, **written_text(bundle, run)}, extract_ids, tuple(row))


def test_a_second_run_of_the_same_run_folder_is_refused_naming_the_holder(tmp_path, capsys):
    pipeline = _project(tmp_path, {"c": COUNTS, "dies": ("", "import os\n\nos._exit(1)")})
    code, _, _ = cli("run", pipeline, "--data", tmp_path / "data", capsys=capsys)
    assert code == 1
    run = _run_dir(tmp_path)
    with FileLock(run / "run.lock", "djs run (another terminal)") as held:
        before = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
        code, _, err = cli("run", pipeline, "--resume", capsys=capsys)
        assert_one_clear_error(code, err)
        assert f"run {run.name} is in use by another `djs run`: process {os.getpid()} on {socket.gethostname()}" in err
        assert f"delete {run / 'run.lock'}" in err and held.path.is_file()
        assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == before  # nothing touched


def test_a_dead_runs_lock_is_taken_over(tmp_path, capsys):
    pipeline = _project(tmp_path, {"c": COUNTS, "dies": ("", "import os\n\nos._exit(1)")})
    cli("run", pipeline, "--data", tmp_path / "data", capsys=capsys)
    run = _run_dir(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    holder = {"pid": gone.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "token": "x"}
    (run / "run.lock").write_text(json.dumps(holder))
    (tmp_path / "pipeline.yaml").write_text(pipeline.read_text().replace("  - notebook: nb/dies.ipynb\n", ""))
    code, out, err = cli("run", pipeline, "--resume", capsys=capsys)
    assert f"took over the run lock of process {gone.pid} on {socket.gethostname()}" in out
    assert code == 0 and "Traceback" not in err and not (run / "run.lock").exists()


def test_two_resumes_at_once_run_it_once(tmp_path):
    flag = tmp_path / "fail-now"
    flag.write_text("")
    gate = ("", f"import pathlib, time\n\nassert not pathlib.Path({str(flag)!r}).exists()\ntime.sleep(3)")
    pipeline = _project(tmp_path, {"c": COUNTS, "gate": gate})
    assert djs("run", pipeline, "--data", tmp_path / "data").returncode == 1
    flag.unlink()
    run = _run_dir(tmp_path)
    procs = [djs_popen("run", pipeline, "--resume", "--run-id", run.name) for _ in range(2)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    done = [r for r in results if r[2] == 0]
    refused = [r for r in results if r[2] == 2]
    assert len(done) == 1 and len(refused) == 1, results
    assert "is in use by another `djs run`" in refused[0][1] and "Traceback" not in refused[0][1]
    # stdout holds at most the project-fields warning printed before any work (no run output, no second error)
    assert refused[0][1].count("error:") == 1 and all(
        line.startswith("warning: CLEARANCE.md") for line in refused[0][0].splitlines()
    )
    assert "1 already complete" in done[0][0] and not (run / "run.lock").exists()
    assert verify_bundle(tmp_path / "outputs" / run.name) == []


def test_damaged_run_files_are_named_and_a_damaged_done_marker_is_redone(tmp_path, capsys):
    pipeline = _project(tmp_path, {"c": COUNTS, "dies": ("", "import os\n\nos._exit(1)")})
    cli("run", pipeline, "--data", tmp_path / "data", capsys=capsys)
    run = _run_dir(tmp_path)
    (run / "done" / "c.json").write_text("")
    (tmp_path / "pipeline.yaml").write_text(pipeline.read_text().replace("  - notebook: nb/dies.ipynb\n", ""))
    # the ledger first: refused before any kernel, the file named
    ledger_json = run / "ledger" / "ledger.json"
    saved = ledger_json.read_text()
    ledger_json.write_text('{"format": ')
    code, _, err = cli("run", pipeline, "--resume", capsys=capsys)
    assert_one_clear_error(code, err)
    assert f"the differencing ledger has 1 damaged file(s): {ledger_json}" in err and "Nothing was run" in err
    ledger_json.write_text(saved)
    entry = next((run / "ledger" / "entries").glob("*.json"))
    entry.write_text("{")
    code, _, err = cli("run", pipeline, "--resume", capsys=capsys)
    assert_one_clear_error(code, err)
    assert str(entry) in err
    entry.unlink()
    code, out, err = cli("run", pipeline, "--resume", capsys=capsys)
    assert f"{run / 'done' / 'c.json'} is damaged (not valid JSON): c runs again" in out
    assert code == 0 and "Traceback" not in err and verify_bundle(tmp_path / "outputs" / run.name) == []


def test_the_spine_cache_is_kept_and_named_while_a_run_may_resume_and_removed_at_the_end(
    extract, tmp_path, capsys, monkeypatch
):
    pipeline = _project(tmp_path, {"links": READS_LINK, "dies": ("", "import os\n\nos._exit(1)")})
    code, out, _ = cli("run", pipeline, "--data", extract, capsys=capsys)
    run = _run_dir(tmp_path)
    assert code == 1 and f"The row-level spine cache is kept for `--resume` in {run / 'spine'}" in out
    (tmp_path / "pipeline.yaml").write_text(pipeline.read_text().replace("  - notebook: nb/dies.ipynb\n", ""))
    import djs_toolkit.runner.run as runner_run

    def unwritable(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runner_run, "assemble", unwritable)
    code, out, err = cli("run", pipeline, "--resume", capsys=capsys)
    assert_one_clear_error(code, err)
    assert f"the bundle could not be written to {tmp_path / 'outputs' / run.name} (PermissionError)" in err
    assert f"kept for `--resume` in {run / 'spine'}" in out and not (run / "bundle.tmp").exists()
    monkeypatch.undo()
    code, out, _ = cli("run", pipeline, "--resume", capsys=capsys)
    assert code == 0 and not (run / "spine").exists() and not (run / "spine.tmp").exists()


def _flaky_kernels(tmp_path: Path, fails: int) -> dict[str, str]:
    """A `python3` kernelspec whose first `fails` starts die before the kernel answers (JUPYTER_PATH comes first)."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (tmp_path / "jupyter" / "flaky.py").write_text(
        "import os, sys\nfrom pathlib import Path\n\ncounter = Path(os.environ['FLAKY_COUNTER'])\n"
        "n = int(counter.read_text()) if counter.exists() else 0\ncounter.write_text(str(n + 1))\n"
        "if n < int(os.environ['FLAKY_FAILS']):\n    sys.exit('flaky kernel: exits before its first cell')\n"
        "from ipykernel import kernelapp\n\nkernelapp.launch_new_instance()\n"
    )
    argv = [sys.executable, str(tmp_path / "jupyter" / "flaky.py"), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    return {"JUPYTER_PATH": str(tmp_path / "jupyter"), "FLAKY_COUNTER": str(tmp_path / "n"), "FLAKY_FAILS": str(fails)}


@pytest.mark.parametrize("fails", [2, 9])
def test_a_kernel_that_dies_before_its_first_cell_is_started_again(tmp_path, fails):
    pipeline = _project(tmp_path, {"c": COUNTS})
    res = djs("run", pipeline, "--data", tmp_path / "data", env=_flaky_kernels(tmp_path, fails))
    assert "Traceback" not in res.stderr and "flaky kernel" not in res.stdout + res.stderr  # its log is in runs/
    assert "without encryption" not in res.stdout + res.stderr  # IPC on Linux; on TCP the warning goes to the log
    assert res.stdout.count("note: kernel died before its first cell (RuntimeError): started again") == 2
    run = _run_dir(tmp_path)
    assert (run / "logs" / "c.kernel.log").read_text().count("flaky kernel: exits before its first cell") == min(
        3, fails
    )
    if fails == 2:
        assert res.returncode == 0 and "[1/1] c: ok" in res.stdout
    else:
        assert res.returncode == 1
        assert f"c failed: RuntimeError: the kernel did not start (3 attempt(s)); its log: {run / 'logs'}" in res.stdout
        assert "executed notebook: none: it failed before its first cell" in res.stdout


def test_ctrl_c_stops_the_run_prints_the_resume_command_and_the_resume_completes(extract, tmp_path):
    gate = tmp_path / "gate"
    waits = ("", f"import pathlib, time\n\npathlib.Path({str(gate)!r}).write_text('x')\ntime.sleep(120)")
    pipeline = _project(tmp_path, {"links": READS_LINK, "waits": waits})
    proc = djs_popen("run", pipeline, "--data", extract, "--jobs", "2")  # workers get the Ctrl-C too
    deadline = time.monotonic() + 120
    while not gate.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gate.exists(), proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    run = _run_dir(tmp_path)
    command = f"djs run --resume --run-id {run.name}"
    assert err.strip() == f"interrupted: resume with `{command}` (completed notebooks are skipped)"
    assert f"kept for `--resume` in {run / 'spine'}" in out and not (run / "run.lock").exists()
    gate.write_text("")
    (tmp_path / "nb" / "waits.ipynb").write_text(
        (tmp_path / "nb" / "waits.ipynb").read_text().replace("time.sleep(120)", "time.sleep(0)")
    )
    res = subprocess.run(
        [sys.executable, "-m", "djs_toolkit.cli", *command.split()[1:]], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0 and "already complete" in res.stdout, res.stdout + res.stderr
    assert not (run / "spine").exists() and verify_bundle(tmp_path / "outputs" / run.name) == []
