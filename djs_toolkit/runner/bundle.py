"""Assemble `outputs/<run_id>/` from the staged records of every notebook run, and verify a bundle.

Bundle layout (docs/workflow.md §5.3; docs/disclosure.md §2.5 for results.json, §7.5 for the checker pack):
- `release/<label>.<name>.csv|png`: release candidates only (checker status pass or review, safety scan clean);
- `results.json`: ACRO 1.0.2's results.json (`sdc.acro`): ACRO's `load_records` and SACRO-Viewer open the bundle
  (tests/interop), one entry per output in pipeline order, each with at least one file (a withheld output's is
  `withheld/<uid>.txt`, a notice without values), `checksums/` and `config.json` beside it; the toolkit's version
  and `djs_toolkit.runs` under `djs_toolkit`;
- `CLEARANCE.md`: the SRS output request (`sdc.request`): project fields, a summary table, what was suppressed and
  why, the notebook runs, then one section per output in pipeline order (runs as in pipeline.yaml, each run's
  outputs in the order its notebook saved them), with its purpose (the save call's description) and justification
  (the notebook's question);
- `checker_only/`: DO-NOT-RELEASE evidence (unrounded unweighted counts) from the output checker;
- `manifest.json`: per file sha256, bytes, rows, cols, output, status, sensitivity; the runs with notebook and
  parameter hashes; toolkit version and package versions (OpenSAFELY manifest fields, docs/workflow.md §1.3);
- `manifest-sha256.txt`: BagIt-style `<sha256>  <path>` for every other file (RFC 8493), checked by `djs verify`.
Nothing in a bundle holds a run id, a timestamp or an absolute path, so the same data, parameters and toolkit version
give the same bytes (docs/workflow.md §6.8); run-specific facts stay in `runs/<run_id>/`. The bundle is built under
`runs/<run_id>/` and renamed into `outputs/` in one step, so `outputs/` never holds a partial bundle.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import (
    FILE_MODE,
    MANIFEST_NAME,
    atomic_write_json,
    atomic_write_text,
    check_sha256_manifest,
    sha256_file,
    write_sha256_manifest,
)
from djs_toolkit.outputs.scan import scan_release
from djs_toolkit.runner.clearance import FILES_MARK, LEDGER_NOTE, clearance_text, in_saved_order, record_section
from djs_toolkit.runner.execute import staged_records
from djs_toolkit.sdc import Session, load_profile
from djs_toolkit.sdc.acro import export_acro, release_files
from djs_toolkit.sdc.differencing import RULE, DifferencingResult
from djs_toolkit.sdc.release_attack import AttackResult, attack_release
from djs_toolkit.sdc.release_tables import read_release_folder
from djs_toolkit.sdc.request import Project
from djs_toolkit.sdc.results import FLOAT_FORMAT, results_json
from djs_toolkit.sdc.rules import worst

__all__ = ["ENV_PACKAGES", "assemble", "verify_bundle"]

ENV_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "matplotlib", "duckdb", "pyarrow", "papermill")
DO_NOT_RELEASE = "DO-NOT-RELEASE"
ATTACK_RULE = "ReleaseAttackCheck"


def _environment() -> dict[str, str]:
    env = {"python": ".".join(map(str, sys.version_info[:3]))}
    for pkg in ENV_PACKAGES:
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = "not installed"
    return env


def _withhold(entry: dict[str, Any], section: str, problems: list[str]) -> str:
    """Mark an output refused by the safety scan: no files, status fail, reasons in results and CLEARANCE."""
    entry["djs_toolkit"]["output_flags"] += [{"rule": "SafetyScan", "status": "fail", "summary": p} for p in problems]
    entry["summary"] += f"SafetyScan: fail - {len(problems)} problem(s): withheld by the runner\n"
    return _flag_section(entry, section, "fail", [f"Safety scan (runner, withheld): {p}" for p in problems])


def _flag_section(entry: dict[str, Any], section: str, status: str, bullets: list[str]) -> str:
    """Raise an output's status to `status` (at least) and add bullets to its CLEARANCE section; a fail has no files."""
    entry["status"] = worst([entry["status"], status])
    if entry["status"] == "fail":
        entry["files"] = []
        entry["djs_toolkit"]["released"] = False
    section = re.sub(r"^(## \S+): \w+", rf"\1: {entry['status']}", section, count=1).rstrip("\n") + "\n"
    return section + "".join(f"- {b}\n" for b in bullets) + "\n"


def _add_cross_run(entry: dict[str, Any], section: str, res: DifferencingResult) -> str:
    """Add the runner's differencing across notebook runs (runner.differencing) to an output's entry and section."""
    dj = entry["djs_toolkit"]
    dj["relations"] = list(dj.get("relations", [])) + list(res.relations)
    if not res.reasons:
        return section
    dj["output_flags"] += [{"rule": r, "status": st, "summary": summ} for r, st, summ in res.reasons]
    checks = entry["fair"]["check_status"]
    checks[RULE] = worst([checks.get(RULE, "pass"), res.status])
    for st in ("fail", "review"):
        n = sum(1 for _, s, _ in res.reasons if s == st)
        if n:
            entry["summary"] += f"{RULE}: {st} - {n} flag(s) across notebook runs\n"
    return _flag_section(
        entry, section, res.status, [f"Differencing across notebook runs ({st}): {summ}" for _, st, summ in res.reasons]
    )


def _relations_line(entry: dict[str, Any]) -> str:
    n = len(entry["djs_toolkit"].get("relations", []))
    return (
        (
            f"- Related outputs (differencing ledger): {n} earlier output(s) share records or variables with this "
            "one; listed in results.json\n"
        )
        if n
        else ""
    )


def _differencing_csv(rec: Path, uid: str, res: DifferencingResult | None, dest: Path) -> None:
    """The checker-only differencing findings: the notebook's own and the runner's across runs, in one file."""
    name = f"{DO_NOT_RELEASE}_{uid}_differencing.csv"
    own = rec / "checker_only" / name
    text = own.read_text(encoding="utf-8") if own.is_file() else ""
    if res is not None and len(res.findings):
        text += res.findings.to_csv(index=False, header=not text, lineterminator="\n", float_format=FLOAT_FORMAT)
    if text:
        atomic_write_text(dest / name, text)


def _csv_shape(path: Path, header_rows: int) -> tuple[int, int]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return max(len(rows) - header_rows, 0), (len(rows[0]) if rows else 0)


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def assemble(
    runs: list[dict[str, Any]],
    profile: str,
    build_dir: Path,
    out_path: Path,
    differencing: dict[str, DifferencingResult] | None = None,
    validation: dict[str, Any] | None = None,
    echo: Callable[[str], None] | None = None,
    project: Project | None = None,
    ledger_note: str = LEDGER_NOTE,
) -> dict[str, list[str]]:
    """Build the bundle from staged records and rename it into `out_path`; returns withheld outputs and why.

    Args:
        runs: per notebook run (in order): `label`, `notebook` (relative path), `notebook_sha256`, `parameters`,
            `stage` (its staged records), `scan` (problems in its executed notebook: all its outputs withheld),
            optionally `question` (`notebook_question`: the justification of its outputs in CLEARANCE.md).
        profile: the run's profile (records made under another profile are withheld).
        build_dir: a scratch folder beside the run's logs (removed after the rename).
        out_path: `outputs/<run_id>`; must not exist.
        differencing: the runner's differencing across notebook runs, per output id (`runner.differencing`).
        validation: set when the run was made with `--allow-invalid`: the validation errors it ran despite
            (`runner.preflight.validate_data`), recorded in results.json and CLEARANCE.md for the output checker.
        echo: where to print the whole-release attack's size and time (the bundle itself holds no time).
        project: project and researcher fields for CLEARANCE.md (`sdc.request.load_project`); missing ones are
            printed as TO COMPLETE.
        ledger_note: what the clearance pack says of the differencing behind the bundle (`runner.differencing`).

    Returns:
        `{uid: [problems]}` for every output the safety scan withheld (empty = none).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> assemble([], "srs", d / "build", d / "bundle")
        {}
        >>> sorted(p.name for p in (d / "bundle").iterdir())  # doctest: +NORMALIZE_WHITESPACE
        ['CLEARANCE.md', 'checker_only', 'config.json', 'manifest-sha256.txt', 'manifest.json', 'release',
         'results.json']
    """
    out_path = Path(out_path)
    if out_path.exists():
        raise DJSUserError(f"{out_path} already exists: bundles are never overwritten; move it away first.")
    prof = load_profile(profile)
    shutil.rmtree(build_dir, ignore_errors=True)
    (build_dir / "release").mkdir(parents=True)
    (build_dir / "checker_only").mkdir()
    results: dict[str, dict[str, Any]] = {}
    sections: dict[str, str] = {}
    matrices, withheld, run_docs, files_meta = [], {}, [], {}
    for run in runs:
        uids = []
        for rec in in_saved_order(staged_records(Path(run["stage"]))):
            doc = json.loads((rec / "results.json").read_text(encoding="utf-8"))
            ((uid, entry),) = doc["results"].items()
            if uid in results:
                raise DJSUserError(f"two outputs share the id {uid}: rename one of them.")
            entry["files"] = release_files(entry)  # a record's withheld notice is written again for the bundle
            problems = [f"executed notebook: {p}" for p in run.get("scan", [])]
            problems += [p for ps in scan_release(rec).values() for p in ps]
            if doc.get("djs_toolkit", {}).get("profile", {}).get("name") != prof.name:
                problems.append(f"made under another profile than the run's ({prof.name})")
            entry["timestamp"] = ""  # run-specific: kept in runs/, never in a bundle (docs/workflow.md §6.8)
            section = record_section(rec, uid, run.get("question"))
            diff = (differencing or {}).get(uid)
            if diff is not None:
                section = _add_cross_run(entry, section, diff)
            section = section.rstrip("\n") + "\n" + _relations_line(entry) + "\n"
            if problems:
                withheld[uid] = problems
                section = _withhold(entry, section, problems)
            for f in entry["files"]:
                _copy(rec / f["name"], build_dir / f["name"])
                files_meta[f["name"]] = (uid, entry["status"], int(entry["properties"].get("csv_header_rows", 1)))
            entry["djs_toolkit"]["run"] = run["label"]
            evidence = rec / "checker_only" / f"{DO_NOT_RELEASE}_{uid}_evidence.csv"
            if evidence.is_file():
                _copy(evidence, build_dir / "checker_only" / evidence.name)
            _differencing_csv(rec, uid, diff, build_dir / "checker_only")
            matrix = rec / "checker_only" / f"{DO_NOT_RELEASE}_variable_matrix.csv"
            if matrix.is_file():
                matrices.append(pd.read_csv(matrix, index_col=0))
            results[uid], sections[uid] = entry, section
            uids.append(uid)
        run_docs.append(
            {
                "label": run["label"],
                "notebook": run["notebook"],
                "notebook_sha256": run["notebook_sha256"],
                "parameters": run["parameters"],
                "outputs": uids,
            }
        )
    attack = _release_attack(build_dir, results, sections, files_meta, prof)
    if echo is not None:
        echo(_attack_line(attack))
    base = results_json(Session(prof), {})
    base["results"] = results  # pipeline order: the order the checker reads them in, as in CLEARANCE.md
    base["djs_toolkit"]["runs"] = run_docs
    base["djs_toolkit"]["ledger"] = ledger_note
    base["djs_toolkit"]["release_attack"] = attack.summary()
    base["djs_toolkit"]["project"] = (project or Project()).to_dict()
    if validation is not None:
        base["djs_toolkit"]["validation"] = validation
    base = export_acro(build_dir, base, prof.to_dict())
    for uid, entry in results.items():  # the files a section names: after the runner's checks and the export
        sections[uid] = sections[uid].replace(FILES_MARK, ", ".join(f["name"] for f in entry["files"]), 1)
    atomic_write_json(build_dir / "results.json", base)
    atomic_write_text(
        build_dir / "CLEARANCE.md",
        clearance_text(prof, run_docs, sections, results, validation, attack, project, ledger_note),
    )
    _checker_only(build_dir / "checker_only", prof.to_dict(), matrices)
    atomic_write_text(
        build_dir / "checker_only" / f"{DO_NOT_RELEASE}_release_attack.csv",
        attack.findings_frame().to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT),
    )
    for p in build_dir.rglob("*"):  # one mode for every file, however it was written or copied
        if p.is_file():
            os.chmod(p, FILE_MODE)
    _manifest(build_dir, prof, run_docs, files_meta)
    _rename(build_dir, out_path)
    return withheld


def _release_attack(
    build_dir: Path, results: dict[str, dict[str, Any]], sections: dict[str, str], files_meta: dict, prof: Any
) -> AttackResult:
    """Attack every released table together (`sdc.release_attack`); withhold the outputs whose counts it recovers."""
    attack = attack_release(read_release_folder(build_dir, {"results": results}, prof), prof)
    for uid, why in attack.failed.items():
        entry = results[uid]
        for f in entry["files"]:
            (build_dir / f["name"]).unlink(missing_ok=True)
            files_meta.pop(f["name"], None)
        entry["djs_toolkit"]["output_flags"] += [{"rule": ATTACK_RULE, "status": "fail", "summary": w} for w in why]
        entry["fair"]["check_status"][ATTACK_RULE] = "fail"
        entry["summary"] += f"{ATTACK_RULE}: fail - withheld by the whole-release attack\n"
        sections[uid] = _flag_section(
            entry, sections[uid], "fail", [f"Whole-release attack (runner, withheld): {w}" for w in why]
        )
    return attack


def _attack_line(attack: AttackResult) -> str:
    s = attack.summary()
    return (
        f"whole-release attack: {s['tables']} table(s), {s['variables']} counts, {s['equations']} relations, "
        f"{s['lp_variables']} LP variables in {s['lp_blocks']} block(s) (largest {s['largest_block']}), "
        f"{attack.seconds:.1f} s; {s['outputs_withheld']} output(s) withheld"
    )


def _checker_only(folder: Path, profile: dict[str, Any], matrices: list[pd.DataFrame]) -> None:
    atomic_write_text(
        folder / f"{DO_NOT_RELEASE}.txt",
        "DO NOT RELEASE. Checker-only evidence: unrounded, unweighted counts behind every cell.\n",
    )
    atomic_write_text(folder / f"{DO_NOT_RELEASE}_profile.json", json.dumps(profile, indent=2, sort_keys=True) + "\n")
    if matrices:
        m = pd.concat(matrices).fillna(0).astype(int).sort_index()
        m = m.reindex(sorted(m.columns), axis=1)
        atomic_write_text(folder / f"{DO_NOT_RELEASE}_variable_matrix.csv", m.to_csv(lineterminator="\n"))


def _manifest(root: Path, prof: Any, run_docs: list[dict[str, Any]], files_meta: dict[str, tuple]) -> None:
    from djs_toolkit._version import __version__
    from djs_toolkit.runner.pipeline import fingerprint

    files = []
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        rel = p.relative_to(root).as_posix()
        uid, status, header_rows = files_meta.get(rel, (None, None, 1))
        item: dict[str, Any] = {
            "path": rel,
            "sha256": sha256_file(p),
            "bytes": p.stat().st_size,
            "output": uid,
            "status": status,
            "sensitivity": "release_candidate"
            if rel.startswith("release/")
            else ("checker_only" if rel.startswith("checker_only/") else "metadata"),
        }
        if p.suffix == ".csv":
            item["rows"], item["cols"] = _csv_shape(p, header_rows if uid else 1)
        files.append(item)
    runs = [{**r, "parameters_sha256": fingerprint(r["parameters"])} for r in run_docs]
    atomic_write_json(
        root / "manifest.json",
        {
            "format": "djs_toolkit bundle manifest 1",
            "toolkit_version": __version__,
            "profile": {"name": prof.name, "version": prof.version},
            "environment": _environment(),
            "runs": runs,
            "files": files,
        },
    )
    write_sha256_manifest(root)


def _rename(build_dir: Path, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(build_dir, out_path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # outputs/ on another file system: copy beside the target under a hidden name, then rename there.
        partial = out_path.with_name(f".{out_path.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(build_dir, partial)
        os.rename(partial, out_path)
        shutil.rmtree(build_dir, ignore_errors=True)


def verify_bundle(folder: Path) -> list[str]:
    """Re-hash a bundle against its manifest; one line per problem (missing, modified or unlisted file).

    Example:
        >>> verify_bundle(Path("no-such-bundle"))
        ['no-such-bundle is not a folder: pass outputs/<run_id>']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder: pass outputs/<run_id>"]
    if not (folder / MANIFEST_NAME).is_file():
        return [f"{folder.name} has no {MANIFEST_NAME}: it is not a bundle written by `djs run`"]
    return check_sha256_manifest(folder)
