"""`djs check FOLDER`: end-of-process output checking of files made elsewhere (see `sdc.folder`)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_commands"]


def _cmd_check(args: argparse.Namespace) -> int:
    from djs_toolkit.sdc.folder import check_folder

    res = check_folder(Path(args.folder), profile=args.profile, ledger=args.ledger, out=args.out)
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
    p.set_defaults(func=_cmd_check)
