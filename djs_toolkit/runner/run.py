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
Before the first kernel starts (`runner.preflight`): the extract is validated (errors stop the run unless
`--allow-invalid`), the folders it writes are checked writable, the run folder and the project's differencing ledger
are locked so two `djs run`s never run the same run or use the ledger at once, and damaged run or ledger files are
named; the project's ledger (`.djs/ledger`, `DJS_LEDGER`, `--ledger`) is used through the run's own
(`runner.differencing`). On every way out the row-level spine cache is removed, or named when it is kept for
`--resume`; Ctrl-C prints the command that resumes.
Progress lines carry labels, counts and durations only (docs/workflow.md §5.1).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import atomic_write_json, sha256_file
from djs_toolkit.outputs.stage import ENV_DATA_ROOT, ENV_LEDGER, ENV_PROFILE, ENV_RUN_NAME, ENV_STAGE
from djs_toolkit.runner.bundle import assemble, verify_bundle
from djs_toolkit.runner.clearance import notebook_question
from djs_toolkit.runner.differencing import CrossRunResult, ledger_note, project_cross_run, purge_imports, purge_run
from djs_toolkit.runner.execute import execute_run, marker_valid, staged_records
from djs_toolkit.runner.pipeline import Pipeline, RunSpec, fingerprint, load_pipeline
from djs_toolkit.runner.preflight import (
    check_ledger,
    check_writable,
    hold_locks,
    json_damaged,
    start_run,
    validate_data,
)
from djs_toolkit.runner.summary import bundle_statuses, finish, progress_line, summary_row
from djs_toolkit.sdc.ledger import Ledger
from djs_toolkit.sdc.project_ledger import is_off, runner_ledger, seed_run_ledger
from djs_toolkit.sdc.request import Project
from djs_toolkit.spine.cache import ENV_SPINE_CACHE

__all__ = ["DUMMY_SCALE", "RunInterrupted", "RunReport", "new_run_id", "resolve_data", "run_pipeline", "select_runs"]

DUMMY_SCALE = "small"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during `djs run`: its text is the command that resumes the run.

    Example:
        >>> str(RunInterrupted("interrupted: resume with `djs run --resume --run-id x`"))
        'interrupted: resume with `djs run --resume --run-id x`'
    """


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
        "kernel_log": str(run_dir / "logs" / f"{spec.label}.kernel.log"),
    }


def _execute(tasks: list[dict[str, Any]], jobs: int, echo: Callable[[str], None], total: int) -> list[dict[str, Any]]:
    done: list[dict[str, Any]] = []

    def report(res: dict[str, Any]) -> None:
        done.append(res)
        echo(progress_line(res, len(done), total))

    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            echo(f"running {t['label']}")
            report(execute_run(t))
        return done
    # Separate processes, never threads (papermill#578); spawn works the same on Windows and Linux.
    log = Path(tasks[0]["kernel_log"]).parent / "workers.log"
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_quiet_worker,
        initargs=(str(log),),
    )
    try:
        futures = [pool.submit(execute_run, t) for t in tasks]
        echo(f"running {len(tasks)} notebook(s) in {min(jobs, len(tasks))} processes")
        for fut in as_completed(futures):
            report(fut.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)  # the workers got the same Ctrl-C
        raise
    pool.shutdown()
    return done


def _quiet_worker(log: str) -> None:
    """A worker process's stderr goes to the run's log: Ctrl-C reaches every worker, and each would print its own
    traceback over the console; the runner says once what happened and how to resume."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr = open(log, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's lifetime
    os.dup2(sys.stderr.fileno(), 2)


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
    ledger: str | Path | None = None,
    allow_invalid: bool = False,
    project_fields: Project | None = None,
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
        ledger: the project's differencing ledger (default: `DJS_LEDGER`, else `<pipeline folder>/.djs/ledger`);
            `off` compares the run's outputs within the run only (the clearance pack says so).
        allow_invalid: run even though validation finds errors in the extract (the clearance pack records it).
        project_fields: project and researcher fields for CLEARANCE.md (`sdc.request.load_project`).

    Returns:
        A RunReport (summary rows, the bundle path when written, outputs withheld by the safety scan).

    Raises:
        DJSUserError: a check before the first kernel failed (nothing was run), or the bundle could not be written.
        RunInterrupted: Ctrl-C; its text is the command that resumes.

    Example:
        >>> run_pipeline(Path("pipeline.yaml"), data="tests/extract")  # doctest: +SKIP
    """
    from djs_toolkit.sdc import load_profile

    pipeline = load_pipeline(Path(pipeline_path))
    specs = select_runs(pipeline, only)
    # Absolute: kernels run in the notebook's folder, so a relative stage path would land there.
    runs_dir = Path(runs_dir or pipeline.root / "runs").resolve()
    outputs_dir = Path(outputs_dir or pipeline.root / "outputs").resolve()
    rid, info = start_run(runs_dir, outputs_dir, data, profile, only, resume, run_id, new_run_id)
    if not resume:
        project = runner_ledger(ledger, pipeline.root)
        info["ledger"] = str(project) if project is not None else "off"
        info["allow_invalid"] = allow_invalid
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
    shared = None if info.get("ledger") is None or is_off(info["ledger"]) else Path(info["ledger"])
    check_writable({"--runs": runs_dir, "--outputs": outputs_dir, **({"--ledger": shared} if shared else {})})
    data_root = (
        Path(info["data_root"]) if resume and info.get("data_root") else resolve_data(info["data"], pipeline.root, echo)
    )
    notes: list[str] = []  # printed under the run's first line
    validation = validate_data(data_root, bool(allow_invalid or info.get("allow_invalid")), notes.append)
    run_dir = runs_dir / rid
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        locks = hold_locks(run_dir, shared, rid, notes.append)
    except DJSUserError:
        if created:  # a new run refused (a shared ledger in use): leave no empty run folder behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    resume_command = _resume_command(pipeline_path, rid, runs_dir, outputs_dir, pipeline.root)
    try:
        check_ledger(run_dir / "ledger", own=True)  # the kernels record there; the project's is compared after
        if shared is not None:
            check_ledger(shared, own=False)
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
        context = {
            "info": info,
            "prof": prof,
            "data_root": data_root,
            "validation": validation,
            "notes": notes,
            "project": shared,  # the project's ledger (None: off)
            "project_fields": project_fields,
        }
        _run_locked(report, specs, run_dir, outputs_dir, context, resume, jobs, echo, resume_command)
    except KeyboardInterrupt:
        raise RunInterrupted(f"interrupted: resume with `{resume_command}` (completed notebooks are skipped)") from None
    finally:
        for lock in reversed(locks):
            lock.release()
        _tidy(run_dir, report.bundle is not None, echo)
    return report


def _resume_command(pipeline_path: Path, rid: str, runs_dir: Path, outputs_dir: Path, root: Path) -> str:
    parts = ["djs run"] + ([str(pipeline_path)] if Path(pipeline_path).name != "pipeline.yaml" else [])
    parts += ["--resume", "--run-id", rid]
    if runs_dir != (root / "runs").resolve():
        parts += ["--runs", str(runs_dir)]
    if outputs_dir != (root / "outputs").resolve():
        parts += ["--outputs", str(outputs_dir)]
    return " ".join(parts)


def _run_locked(
    report: RunReport,
    specs: list[RunSpec],
    run_dir: Path,
    outputs_dir: Path,
    context: dict[str, Any],
    resume: bool,
    jobs: int,
    echo: Callable[[str], None],
    resume_command: str,
) -> None:
    info, prof, data_root = context["info"], context["prof"], context["data_root"]
    ledger_path = run_dir / "ledger"
    if context["project"] is not None:  # the project's hash key: the run's records link with the project's
        seed_run_ledger(context["project"], ledger_path)
    tasks = [_task(s, run_dir, data_root, str(info["profile"]), prof.min_safe_count, ledger_path) for s in specs]
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for t in tasks:
        marker = Path(t["marker"])
        if resume and json_damaged(marker):
            context["notes"].append(f"{marker} is damaged (not valid JSON): {t['label']} runs again")
        if resume and marker_valid(marker, t["fingerprint"], Path(t["stage"])):
            doc = json.loads(marker.read_text(encoding="utf-8"))
            results[t["label"]] = {
                "label": t["label"],
                "status": "skipped",
                "seconds": 0.0,
                "error": "",
                "outputs": doc["outputs"],
                "scan": doc["scan"],
            }
        else:
            todo.append(t)
    echo(
        f"run {report.run_id}: {len(tasks)} notebook run(s), {len(tasks) - len(todo)} already complete, "
        f"profile {prof.name}"
    )
    for note in context["notes"]:
        echo(note)
    start_ns = int(info.get("started_ns", 0))
    led = Ledger(ledger_path)
    for t in todo:  # a killed notebook's saved outputs would otherwise be compared with their own rerun
        purge_run(led, t["label"], start_ns)
    purge_imports(led, {t["label"] for t in tasks}, start_ns)
    if todo:
        _save_spine(data_root, run_dir / "spine", echo)
    for res in _execute(todo, jobs, echo, len(todo)):
        results[res["label"]] = res
    if all(results[t["label"]]["status"] in ("ok", "skipped") for t in tasks):
        cross = _cross_run(led, tasks, start_ns, context, jobs, echo)
        stages = [
            {
                "label": s.label,
                "notebook": s.notebook_rel,
                "notebook_sha256": sha256_file(s.notebook),
                "parameters": s.parameters,
                "stage": t["stage"],
                "scan": results[s.label]["scan"],
                "question": notebook_question(s.notebook),
            }
            for s, t in zip(specs, tasks, strict=True)
        ]
        try:
            report.withheld = assemble(
                stages,
                str(info["profile"]),
                run_dir / "bundle.tmp",
                outputs_dir / report.run_id,
                cross.results,
                validation=context["validation"],
                echo=echo,
                ledger_note=ledger_note(context["project"]),
                project=context["project_fields"],
            )
        except OSError as exc:
            raise DJSUserError(
                f"the bundle could not be written to {outputs_dir / report.run_id} ({type(exc).__name__}): make "
                f"that folder writable, then `{resume_command}` (every notebook is done and is skipped)."
            ) from None
        report.bundle = outputs_dir / report.run_id
        for e in cross.failed:  # not released: later outputs (and later pipelines sharing the ledger) skip them
            led.remove(e)
    statuses = bundle_statuses(report.bundle)
    report.rows = [summary_row(s, results[s.label], statuses) for s in specs]
    finish(report.rows, run_dir, report.bundle, report.withheld, echo, resume_command)
    if any(str(r.get("error", "")).startswith("DeadKernelError") for r in results.values()):
        # At national scale a kernel peaks at about 11 GiB (bench/pipeline.py): two at once need 24 GiB.
        echo(
            "A kernel died: most often the machine ran out of memory. Resume with fewer notebooks at once: "
            "`djs run --resume --jobs 1`."
        )


def _cross_run(
    led: Ledger, tasks: list[dict[str, Any]], start_ns: int, context: dict, jobs: int, echo: Callable[[str], None]
) -> CrossRunResult:
    t0 = time.perf_counter()
    runs = [(t["label"], [f"{t['label']}.{r.name}" for r in staged_records(Path(t["stage"]))]) for t in tasks]
    cross = project_cross_run(led, context["project"], runs, start_ns, context["prof"], jobs)
    flagged = sum(1 for r in cross.results.values() if r.reasons)
    echo(
        f"differencing across notebook runs: {cross.compared} output(s) compared in {time.perf_counter() - t0:.1f} s, "
        f"{flagged} flagged"
    )
    return cross


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
    except Exception as exc:  # any failure: each notebook builds its own spine and reports it
        shutil.rmtree(folder, ignore_errors=True)
        if not isinstance(exc, DJSUserError):  # its message may quote data: the class only
            echo(f"the spine could not be built once for all runs ({type(exc).__name__}): each notebook builds its own")


def _tidy(run_dir: Path, bundled: bool, echo: Callable[[str], None]) -> None:
    """On every way out: no scratch folder left; the row-level spine cache removed, or named while kept for resume."""
    shutil.rmtree(run_dir / "bundle.tmp", ignore_errors=True)
    shutil.rmtree(run_dir / "spine.tmp", ignore_errors=True)
    spine = run_dir / "spine"
    if bundled:
        shutil.rmtree(spine, ignore_errors=True)
    elif spine.exists():
        echo(f"The row-level spine cache is kept for `--resume` in {spine}: delete that folder if you will not resume.")
