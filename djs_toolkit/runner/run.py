"""Batch runner: every notebook run of pipeline.yaml in a fresh kernel, outputs assembled into one bundle.

`run_pipeline` (behind `djs run`):
1. loads pipeline.yaml and checks every run's parameters against its notebook before anything runs
   (`runner.pipeline`);
2. resolves the data (`dummy` = the `small` dummy extract under `dummy/small`, generated if absent) and profile;
3. runs each notebook once per parameter set with papermill (`runner.execute`), one after the other or in `--jobs N`
   separate processes, after the person-event spine is built once for all of them (`spine.cache`); executed
   notebooks go to `runs/<run_id>/nb/` (logs, never released), outputs are staged
   as complete records under `runs/<run_id>/stage/<label>/`;
4. when every run succeeded, compares outputs across notebook runs in pipeline order (`runner.differencing`: each
   notebook compared only with its own run's outputs, so the findings never depend on which process was faster)
   and assembles `outputs/<run_id>/` (`runner.bundle`) after the safety scan (`outputs.scan`);
5. prints a summary table (also `runs/<run_id>/summary.csv`).
`--resume` continues the latest (or a named) run: runs whose staged records and done-marker are complete and valid
are skipped, the rest rerun from a clean stage; a killed run therefore completes to the same bytes.
Progress lines carry labels, counts and durations only (docs/workflow.md §5.1).
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import atomic_write_json, atomic_write_text, sha256_file
from djs_toolkit.outputs.stage import ENV_DATA_ROOT, ENV_LEDGER, ENV_PROFILE, ENV_RUN_NAME, ENV_STAGE
from djs_toolkit.runner.bundle import assemble, verify_bundle
from djs_toolkit.runner.differencing import CrossRunResult, cross_run_check, purge_run
from djs_toolkit.runner.execute import execute_run, marker_valid, staged_records
from djs_toolkit.runner.pipeline import Pipeline, RunSpec, fingerprint, load_pipeline
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.spine.cache import ENV_SPINE_CACHE

__all__ = ["DUMMY_SCALE", "RunReport", "new_run_id", "resolve_data", "run_pipeline", "select_runs"]

DUMMY_SCALE = "small"
SUMMARY_COLUMNS = ["run", "notebook", "parameters", "status", "seconds", "pass", "review", "fail"]


@dataclass
class RunReport:
    """What a pipeline run did.

    Example:
        >>> RunReport("20261125T1943Z-ab12cd").exit_code
        1
    """

    run_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    bundle: Path | None = None
    withheld: dict[str, list[str]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when the bundle was written and the safety scan withheld nothing; 1 otherwise.

        Example:
            >>> RunReport("x", bundle=Path("outputs/x")).exit_code
            0
        """
        return 0 if self.bundle is not None and not self.withheld else 1


def new_run_id() -> str:
    """A run id: compact UTC minute + 6 random hex digits; no `:` or other characters Windows forbids.

    Example:
        >>> import re
        >>> bool(re.fullmatch(r"\\d{8}T\\d{4}Z-[0-9a-f]{6}", new_run_id()))
        True
    """
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%MZ") + "-" + secrets.token_hex(3)


def select_runs(pipeline: Pipeline, only: str | None) -> list[RunSpec]:
    """The runs `--only NAME` picks: a run label, a label prefix (`reentry` picks `reentry-*`) or a notebook stem.

    Example:
        >>> p = Pipeline(Path("p"), Path("."), [RunSpec("a-x", Path("a.ipynb"), "a.ipynb"),
        ...                                     RunSpec("b", Path("b.ipynb"), "b.ipynb")])
        >>> [r.label for r in select_runs(p, "a")]
        ['a-x']
    """
    if not only:
        return list(pipeline.runs)
    picked = [r for r in pipeline.runs if r.label == only or r.label.startswith(only + "-") or r.notebook.stem == only]
    if not picked:
        raise DJSUserError(f"--only {only!r} matches no run: use one of {pipeline.labels()} (or a notebook name).")
    return picked


def resolve_data(data: str | None, root: Path, echo: Callable[[str], None] = print) -> Path:
    """The extract folder: `dummy` (default) = `<root>/dummy/small`, generated if absent; else an existing path.

    Example:
        >>> resolve_data("no-such-extract", Path("."))
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: --data no-such-extract: folder not found; pass an extract folder or `dummy`.
    """
    if data in (None, "dummy"):
        path = root / "dummy" / DUMMY_SCALE
        if not (path / "truth").is_dir():
            try:
                from djs_toolkit import dummy
            except ImportError:
                raise DJSUserError("--data dummy: the dummy generator is not available; pass --data PATH.") from None
            t0 = time.perf_counter()
            dummy.generate(path, scale=DUMMY_SCALE, seed=0)
            echo(f"generated the {DUMMY_SCALE} dummy extract in {time.perf_counter() - t0:.0f} s")
        return path.resolve()
    path = Path(data).expanduser()
    if not path.is_dir():
        raise DJSUserError(f"--data {data}: folder not found; pass an extract folder or `dummy`.")
    return path.resolve()


def _latest_incomplete(runs_dir: Path, outputs_dir: Path) -> str:
    cands = (
        [
            (json.loads((d / "run.json").read_text(encoding="utf-8")).get("started_ns", 0), d.name)
            for d in runs_dir.iterdir()
            if (d / "run.json").is_file()
        ]
        if runs_dir.is_dir()
        else []
    )
    pending = [name for _, name in sorted(cands) if not (outputs_dir / name).exists()]
    if not pending:
        raise DJSUserError(f"--resume: no unfinished run in {runs_dir}: start a new run without --resume.")
    return pending[-1]


def _start(
    runs_dir: Path,
    outputs_dir: Path,
    data: str | None,
    profile: str | None,
    only: str | None,
    resume: bool,
    run_id: str | None,
) -> tuple[str, dict[str, Any]]:
    if not resume:
        return run_id or new_run_id(), {"data": data, "profile": profile or "srs", "only": only}
    rid = run_id or _latest_incomplete(runs_dir, outputs_dir)
    info_path = runs_dir / rid / "run.json"
    if not info_path.is_file():
        raise DJSUserError(f"--resume: run {rid} not found in {runs_dir}.")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    for key, given in (("data", data), ("profile", profile), ("only", only)):
        if (
            given is not None
            and given != info.get(key)
            and not (key == "data" and info.get("data_root") and Path(given).resolve() == Path(info["data_root"]))
        ):
            raise DJSUserError(
                f"--resume: run {rid} used --{key} {info.get(key)!r}, not {given!r}: resume with the "
                f"same settings or start a new run."
            )
    return rid, info


def _task(spec: RunSpec, run_dir: Path, data_root: Path, profile: str, min_safe: int, ledger: Path) -> dict[str, Any]:
    stage = run_dir / "stage" / spec.label
    params = {**spec.parameters, "data_root": str(data_root), "profile": profile}
    env = {
        ENV_STAGE: str(stage),
        ENV_PROFILE: profile,
        ENV_LEDGER: str(ledger),
        ENV_RUN_NAME: spec.label,
        ENV_DATA_ROOT: str(data_root),
        ENV_SPINE_CACHE: str(run_dir / "spine"),
    }
    from djs_toolkit._version import __version__

    fp = fingerprint(
        {
            "notebook": sha256_file(spec.notebook),
            "parameters": params,
            "toolkit": __version__,
            "env": env,
            "timeout": spec.timeout,
        }
    )
    return {
        "label": spec.label,
        "notebook": str(spec.notebook),
        "executed": str(run_dir / "nb" / f"{spec.label}.ipynb"),
        "stage": str(stage),
        "marker": str(run_dir / "done" / f"{spec.label}.json"),
        "cwd": str(spec.notebook.parent),
        "parameters": params,
        "env": env,
        "timeout": spec.timeout,
        "fingerprint": fp,
        "min_safe_count": min_safe,
    }


def _execute(tasks: list[dict[str, Any]], jobs: int, echo: Callable[[str], None], total: int) -> list[dict[str, Any]]:
    done: list[dict[str, Any]] = []

    def report(res: dict[str, Any]) -> None:
        done.append(res)
        outs = res["outputs"]
        echo(
            f"[{len(done)}/{total}] {res['label']}: {res['status']} in {res['seconds']:.1f} s"
            + (
                f" ({outs.get('pass', 0)} pass, {outs.get('review', 0)} review, {outs.get('fail', 0)} fail)"
                if outs
                else ""
            )
            + (f" - {res['error']}" if res["error"] else "")
            + (f" - executed notebook failed the safety scan ({len(res['scan'])} problem(s))" if res["scan"] else "")
        )

    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            echo(f"running {t['label']}")
            report(execute_run(t))
        return done
    # Separate processes, never threads (papermill#578); spawn works the same on Windows and Linux.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(execute_run, t) for t in tasks]
        echo(f"running {len(tasks)} notebook(s) in {min(jobs, len(tasks))} processes")
        for fut in as_completed(futures):
            report(fut.result())
    return done


def run_pipeline(
    pipeline_path: Path,
    data: str | None = None,
    profile: str | None = None,
    only: str | None = None,
    resume: bool = False,
    run_id: str | None = None,
    jobs: int = 1,
    outputs_dir: Path | None = None,
    runs_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    ledger: Path | None = None,
) -> RunReport:
    """Run a pipeline and assemble its bundle (see the module docstring).

    Args:
        pipeline_path: pipeline.yaml.
        data: `dummy` (default) or an extract folder.
        profile: output-checking profile (`srs` default, `opensafely`, `acro` or a YAML path).
        only: run only the runs this label / label prefix / notebook stem picks.
        resume: continue the latest unfinished run (or `run_id`), skipping complete runs.
        run_id: the run to resume (default: the latest unfinished one).
        jobs: notebooks run at once, each in its own process.
        outputs_dir: default `<pipeline folder>/outputs`.
        runs_dir: default `<pipeline folder>/runs`.
        echo: where progress lines go.
        ledger: differencing-ledger folder shared across runs (default: `runs/<run_id>/ledger`, this run only).

    Returns:
        A RunReport (summary rows, the bundle path when written, outputs withheld by the safety scan).

    Example:
        >>> run_pipeline(Path("pipeline.yaml"), data="tests/extract")  # doctest: +SKIP
    """
    from djs_toolkit.sdc import load_profile

    pipeline = load_pipeline(Path(pipeline_path))
    specs = select_runs(pipeline, only)
    # Absolute: kernels run in the notebook's folder, so a relative stage path would land there.
    runs_dir = Path(runs_dir or pipeline.root / "runs").resolve()
    outputs_dir = Path(outputs_dir or pipeline.root / "outputs").resolve()
    rid, info = _start(runs_dir, outputs_dir, data, profile, only, resume, run_id)
    if not resume:
        info["ledger"] = str(Path(ledger).resolve()) if ledger else None
    prof = load_profile(info["profile"])
    if resume:
        specs = select_runs(pipeline, info.get("only"))
    report = RunReport(rid)
    if (outputs_dir / rid).exists():
        problems = verify_bundle(outputs_dir / rid)
        if problems:
            raise DJSUserError(
                f"outputs/{rid} exists but does not verify ({len(problems)} problem(s)): move it away and resume again."
            )
        echo(f"run {rid} is already complete: outputs/{rid} verifies")
        report.bundle = outputs_dir / rid
        return report
    data_root = (
        Path(info["data_root"]) if resume and info.get("data_root") else resolve_data(info["data"], pipeline.root, echo)
    )
    run_dir = runs_dir / rid
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        info["started_ns"] = time.time_ns()
        atomic_write_json(
            run_dir / "run.json",
            {
                **info,
                "run_id": rid,
                "pipeline": str(pipeline.path),
                "data_root": str(data_root),
                "jobs": jobs,
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )
    # The differencing ledger (checker-only): per run by default, so reruns stay byte-identical; --ledger shares one
    # across runs of the project (docs/disclosure.md §7.4).
    ledger_path = Path(info.get("ledger") or run_dir / "ledger")
    tasks = [_task(s, run_dir, data_root, str(info["profile"]), prof.min_safe_count, ledger_path) for s in specs]
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for t in tasks:
        if resume and marker_valid(Path(t["marker"]), t["fingerprint"], Path(t["stage"])):
            marker = json.loads(Path(t["marker"]).read_text(encoding="utf-8"))
            results[t["label"]] = {
                "label": t["label"],
                "status": "skipped",
                "seconds": 0.0,
                "error": "",
                "outputs": marker["outputs"],
                "scan": marker["scan"],
            }
        else:
            todo.append(t)
    echo(f"run {rid}: {len(tasks)} notebook run(s), {len(tasks) - len(todo)} already complete, profile {prof.name}")
    start_ns = int(info.get("started_ns", 0))
    led = Ledger(ledger_path)
    for t in todo:  # a killed notebook's saved outputs would otherwise be compared with their own rerun
        purge_run(led, t["label"], start_ns)
    if todo:
        _save_spine(data_root, run_dir / "spine", echo)
    for res in _execute(todo, jobs, echo, len(todo)):
        results[res["label"]] = res
    ok = all(results[t["label"]]["status"] in ("ok", "skipped") for t in tasks)
    if ok:
        cross = _cross_run(led, tasks, start_ns, prof, jobs, echo)
        stages = [
            {
                "label": s.label,
                "notebook": s.notebook_rel,
                "notebook_sha256": sha256_file(s.notebook),
                "parameters": s.parameters,
                "stage": t["stage"],
                "scan": results[s.label]["scan"],
            }
            for s, t in zip(specs, tasks, strict=True)
        ]
        report.withheld = assemble(
            stages, str(info["profile"]), run_dir / "bundle.tmp", outputs_dir / rid, cross.results
        )
        report.bundle = outputs_dir / rid
        for e in cross.failed:  # not released: later outputs (and later pipelines sharing the ledger) skip them
            led.remove(e)
    statuses = _bundle_statuses(report.bundle)
    report.rows = [_row(s, results[s.label], statuses) for s in specs]
    _finish(report, run_dir, echo)
    if any(str(r.get("error", "")).startswith("DeadKernelError") for r in results.values()):
        # At national scale a kernel peaks at about 11 GiB (bench/pipeline.py): two at once need 24 GiB.
        echo(
            "A kernel died: most often the machine ran out of memory. Resume with fewer notebooks at once: "
            "`djs run --resume --jobs 1`."
        )
    return report


def _cross_run(
    led: Ledger, tasks: list[dict[str, Any]], start_ns: int, prof: Any, jobs: int, echo: Callable[[str], None]
) -> CrossRunResult:
    t0 = time.perf_counter()
    runs = [(t["label"], [f"{t['label']}.{r.name}" for r in staged_records(Path(t["stage"]))]) for t in tasks]
    cross = cross_run_check(led, runs, start_ns, prof, jobs=jobs)
    flagged = sum(1 for r in cross.results.values() if r.reasons)
    echo(
        f"differencing across notebook runs: {cross.compared} output(s) compared in {time.perf_counter() - t0:.1f} s, "
        f"{flagged} flagged"
    )
    return cross


def _bundle_statuses(bundle: Path | None) -> dict[str, dict[str, str]]:
    """Final status of every output by run label, from the bundle (after the runner's checks), or {} without one."""
    if bundle is None:
        return {}
    doc = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    by_run: dict[str, dict[str, str]] = {}
    for uid, entry in doc["results"].items():
        by_run.setdefault(entry["djs_toolkit"]["run"], {})[uid] = entry["status"]
    return by_run


def _row(spec: RunSpec, res: dict[str, Any], statuses: dict[str, dict[str, str]]) -> dict[str, Any]:
    outs = dict(res["outputs"])
    if statuses:  # the bundle's statuses: after the runner's differencing across runs and safety scan
        mine = list(statuses.get(spec.label, {}).values())
        outs = {st: mine.count(st) for st in ("pass", "review", "fail")}
    params = spec.parameters_text()
    return {
        "run": spec.label,
        "notebook": spec.notebook_rel,
        "parameters": params[:40] + ("..." if len(params) > 40 else ""),
        "status": res["status"] if not res["scan"] else "withheld",
        "seconds": f"{res['seconds']:.1f}",
        "pass": outs.get("pass", 0),
        "review": outs.get("review", 0),
        "fail": outs.get("fail", 0),
    }


def _save_spine(data_root: Path, folder: Path, echo: Callable[[str], None]) -> None:
    # Built once here, read in place by every kernel (spine/cache.py). Bad data is not reported here:
    # each notebook reports it in full, with its fix, where the researcher looks.
    from djs_toolkit.data import open_extract
    from djs_toolkit.spine import load_spine, save_spine

    t0 = time.perf_counter()
    try:
        extract = open_extract(data_root)
        if not load_spine(extract, folder):
            save_spine(extract, folder)
            echo(f"spine built once for all runs in {time.perf_counter() - t0:.1f} s")
        extract.engine.con.close()
    except DJSUserError:
        shutil.rmtree(folder, ignore_errors=True)


def _finish(report: RunReport, run_dir: Path, echo: Callable[[str], None]) -> None:
    rows = report.rows
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in SUMMARY_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in SUMMARY_COLUMNS)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in SUMMARY_COLUMNS) for r in rows]
    echo("\n" + "\n".join(lines))
    csv_lines = [",".join(SUMMARY_COLUMNS)] + [",".join(f'"{r[c]}"' for c in SUMMARY_COLUMNS) for r in rows]
    atomic_write_text(run_dir / "summary.csv", "\n".join(csv_lines) + "\n")
    for uid, problems in sorted(report.withheld.items()):
        echo(f"withheld {uid}: " + "; ".join(problems))
    if report.bundle is not None:
        shutil.rmtree(run_dir / "spine", ignore_errors=True)  # row-level: kept only while the run may resume
        echo(f"\noutputs: {report.bundle} (verify with `djs verify {report.bundle}`)")
    else:
        failed = [r["run"] for r in rows if r["status"] not in ("ok", "skipped", "withheld")]
        echo(
            f"\n{len(failed)} run(s) did not finish: {', '.join(failed)}. Their executed notebooks are in "
            f"{run_dir / 'nb'}. Fix them, then `djs run --resume` (completed runs are skipped); no bundle was written."
        )
    shutil.rmtree(run_dir / "bundle.tmp", ignore_errors=True)
