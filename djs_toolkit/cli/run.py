"""`djs run`, `djs verify` and `djs doctor`: the batch runner, bundle verification and the environment check."""

from __future__ import annotations

import argparse
from pathlib import Path

from djs_toolkit.cli.check import add_project_options, project_from_args

__all__ = ["add_commands"]


def _cmd_run(args: argparse.Namespace) -> int:
    from djs_toolkit.runner import run_pipeline

    project = project_from_args(args, Path(args.pipeline).parent)
    report = run_pipeline(
        Path(args.pipeline),
        data=args.data,
        profile=args.profile,
        only=args.only,
        resume=args.resume,
        run_id=args.run_id,
        jobs=args.jobs,
        outputs_dir=Path(args.outputs) if args.outputs else None,
        runs_dir=Path(args.runs) if args.runs else None,
        echo=lambda s: print(s, flush=True),
        ledger=Path(args.ledger) if args.ledger else None,
        allow_invalid=args.allow_invalid,
        project_fields=project,
    )
    return report.exit_code


def _cmd_verify(args: argparse.Namespace) -> int:
    from djs_toolkit.runner.bundle import verify_bundle

    problems = verify_bundle(Path(args.bundle))
    if problems:
        print(f"{args.bundle}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        return 1
    listed = (Path(args.bundle) / "manifest-sha256.txt").read_text(encoding="utf-8").count("\n")
    print(f"{args.bundle}: {listed} file(s) verified against manifest-sha256.txt")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from djs_toolkit.cli.doctor import doctor

    return doctor(Path(args.root), start_kernel=not args.quick)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `run`, `verify` and `doctor` on the `djs` parser.

    Example:
        >>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers(dest="command"))
        >>> p.parse_args(["run", "--jobs", "2"]).jobs
        2
    """
    p = sub.add_parser("run", help="run pipeline.yaml's notebooks in batch and assemble outputs/<run_id>/")
    p.add_argument("pipeline", nargs="?", default="pipeline.yaml", help="pipeline file (default pipeline.yaml)")
    p.add_argument("--data", default=None, help="`dummy` (default: the small dummy extract) or an extract folder")
    p.add_argument(
        "--profile", default=None, help="output-checking profile: srs (default), opensafely, acro, or a YAML file"
    )
    p.add_argument("--only", metavar="NAME", help="only the runs with this label, label prefix or notebook name")
    p.add_argument("--resume", action="store_true", help="continue the latest unfinished run, skipping complete runs")
    p.add_argument("--run-id", help="with --resume: the run to continue")
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at once, each in its own process (default 1)")
    p.add_argument("--outputs", help="bundle folder (default: outputs/ beside the pipeline file)")
    p.add_argument("--runs", help="logs folder (default: runs/ beside the pipeline file)")
    p.add_argument(
        "--ledger",
        help="the project's differencing ledger folder (default: DJS_LEDGER, else .djs/ledger beside the pipeline "
        "file); `off` compares within this run only and says so in CLEARANCE.md",
    )
    p.add_argument(
        "--allow-invalid",
        action="store_true",
        help="run even though `djs validate` finds errors in the extract (recorded in the clearance pack)",
    )
    add_project_options(p, "beside the pipeline file")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("verify", help="re-hash a bundle against its manifest; exit 1 and list any mismatch")
    p.add_argument("bundle", help="outputs/<run_id>")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("doctor", help="check Python, packages, the python3 kernel, folders and path lengths")
    p.add_argument("--root", default=".", help="project folder (default: the current folder)")
    p.add_argument("--quick", action="store_true", help="do not start a kernel")
    p.set_defaults(func=_cmd_doctor)
