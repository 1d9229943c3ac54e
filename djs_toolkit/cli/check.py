"""`djs check FOLDER`: end-of-process output checking of files made elsewhere (see `sdc.folder`).

Also the project options `djs run` shares (`add_project_options`, `project_from_args`): the project and researcher
fields of CLEARANCE.md from djs_project.yaml or the command line, with a warning before the work starts for every
field left to complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djs_toolkit.sdc.request import Project

__all__ = ["add_commands", "add_project_options", "project_from_args"]

PROJECT_FILE = "djs_project.yaml"  # sdc.request.PROJECT_FILE (not imported: `djs --help` loads no sdc)
_OPTIONS = {
    "project_id": "id",
    "project_title": "title",
    "researcher": "researchers",
    "organisation": "organisation",
    "contact": "contact",
    "aims": "aims",
}


def add_project_options(p: argparse.ArgumentParser, where: str) -> None:
    """The project options of `djs run` and `djs check` (CLEARANCE.md's project fields; they override the file).

    Example:
        >>> p = argparse.ArgumentParser(); add_project_options(p, "here")
        >>> p.parse_args(["--researcher", "A", "--researcher", "B"]).researcher
        ['A', 'B']
    """
    p.add_argument(
        "--project", metavar="FILE", help=f"project fields for CLEARANCE.md (default: {PROJECT_FILE} {where})"
    )
    p.add_argument("--project-id", help="SRS project number (overrides the project file)")
    p.add_argument("--project-title", help="project title (overrides the project file)")
    p.add_argument("--researcher", action="append", help="a researcher's name (repeat for each; overrides the file)")
    p.add_argument("--organisation", help="the researchers' organisation (overrides the project file)")
    p.add_argument("--contact", help="who the output checker contacts (overrides the project file)")
    p.add_argument("--aims", help="the project aims these outputs serve (overrides the project file)")


def project_from_args(args: argparse.Namespace, default_dir: Path) -> Project:
    """The project fields from `--project` (or `default_dir/djs_project.yaml`) and the options; warns of missing ones.

    Example:
        >>> import tempfile
        >>> ns = argparse.Namespace(project=None, project_id="2024/1", project_title="T", researcher=["A"],
        ...                         organisation="O", contact=None, aims=None)
        >>> project_from_args(ns, Path(tempfile.mkdtemp())).get("id")  # doctest: +ELLIPSIS
        warning: ...
        '2024/1'
    """
    from djs_toolkit.sdc.request import load_project, missing_fields

    if args.project and not Path(args.project).is_file():
        from djs_toolkit.errors import DJSUserError

        raise DJSUserError(f"--project {args.project}: no such file; give the project file ({PROJECT_FILE}).")
    path = Path(args.project) if args.project else Path(default_dir) / PROJECT_FILE
    project = load_project(path, {field: getattr(args, opt, None) for opt, field in _OPTIONS.items()})
    missing = missing_fields(project)
    if missing:  # before any work: the researcher can stop and add them (they are TO COMPLETE in CLEARANCE.md)
        print(
            f"warning: CLEARANCE.md will mark {len(missing)} project field(s) TO COMPLETE ({', '.join(missing)}): "
            f"write them in {path if args.project else PROJECT_FILE} or pass --project-id, --project-title, "
            "--researcher, --organisation, --contact, --aims",
            file=sys.stdout,
            flush=True,
        )
    return project


def _cmd_check(args: argparse.Namespace) -> int:
    from djs_toolkit.sdc.folder import check_folder
    from djs_toolkit.sdc.request import set_project

    project = project_from_args(args, Path.cwd())
    res = check_folder(Path(args.folder), profile=args.profile, ledger=args.ledger, out=args.out)
    set_project(res.path, project)
    for name, o in res.outputs.items():
        rules = sorted(set(o.reasons["rule"])) if len(o.reasons) else []
        # statuses and rule names only: the terminal is a log, never a place for values (errors.py)
        print(f"{name}: {o.status}" + (f" ({', '.join(rules)})" if rules else ""))
    counts = {s: sum(o.status == s for o in res.outputs.values()) for s in ("pass", "review", "fail")}
    print(
        f"{len(res.outputs)} output(s): {counts['pass']} pass, {counts['review']} review, {counts['fail']} fail; "
        f"clearance folder written to {res.path}"
    )
    return 1 if counts["fail"] else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `djs check` on the `djs` parser.

    Example:
        >>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers(dest="command"))
        >>> p.parse_args(["check", "outs", "--profile", "opensafely"]).profile
        'opensafely'
    """
    p = sub.add_parser("check", help="check a folder of outputs made elsewhere (CSV + <name>.counts.csv, images)")
    p.add_argument("folder", help="folder holding the outputs")
    p.add_argument("--profile", default="srs", help="srs (default), opensafely, acro, or a YAML profile path")
    p.add_argument("--ledger", default=None, help="the project's differencing ledger folder (checker-only)")
    p.add_argument("--out", default=None, help="clearance folder to write (default: <folder>-checked)")
    add_project_options(p, "in the current folder")
    p.set_defaults(func=_cmd_check)
