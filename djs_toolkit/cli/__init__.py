"""The `djs` command.

User errors (`DJSUserError`) are printed without a traceback, with what to do instead; the exit
code is 2 for those, 1 for a validation or check that found errors, 0 otherwise. Ctrl-C exits with
130 and says how to resume. Any other exception is a fault of the toolkit: it is named by its class
and where it was raised, exit code 3, and its message is withheld (library messages can quote a row
value); `DJS_DEBUG=1` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from djs_toolkit.errors import DJSUserError

__all__ = ["main"]


def _cmd_validate(args: argparse.Namespace) -> int:
    from djs_toolkit.data import draft_column_map, open_extract
    from djs_toolkit.fileio import atomic_write_text

    if args.draft_column_map:
        atomic_write_text(Path(args.draft_column_map), draft_column_map(args.root))
        print(f"Draft column map written to {args.draft_column_map}: review every `guessed` and `UNMATCHED` line.")
        return 0
    report = open_extract(args.root, column_map=args.column_map).validate()
    print(report)
    return 0 if report.ok else 1


def _cmd_schema(args: argparse.Namespace) -> int:
    from djs_toolkit.fileio import atomic_write_text
    from djs_toolkit.schema import schema_counts, to_markdown

    if args.markdown:
        text = to_markdown()
        if args.out:
            atomic_write_text(Path(args.out), text)
            print(f"Data dictionary written to {args.out}")
        else:
            print(text)
        return 0
    counts = schema_counts()
    print(
        f"{counts['tables']} tables ({counts['tables_P']} with placeholder names), "
        f"{counts['columns']} columns ({counts['columns_P']} tagged P). Use --markdown for the dictionary."
    )
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="djs", description="MoJ Data First analysis toolkit.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate an extract and print every problem with its fix")
    p.add_argument("root", help="extract folder")
    p.add_argument("--column-map", help="column map YAML mapping your names to canonical ones")
    p.add_argument("--draft-column-map", metavar="FILE", help="write a draft column map to FILE instead")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("schema", help="the declared tables; --markdown writes the data dictionary")
    p.add_argument("--markdown", action="store_true", help="print the data dictionary as Markdown")
    p.add_argument("--out", help="write the Markdown to this file")
    p.set_defaults(func=_cmd_schema)

    from djs_toolkit.cli import jobs

    jobs.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `djs` command.

    Example:
        >>> main(["schema"])  # doctest: +ELLIPSIS
        17 tables (...
        0
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DJSUserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(str(exc) or "interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if os.environ.get("DJS_DEBUG"):
            raise
        print(f"error: {_unexpected(exc)}", file=sys.stderr)
        return 3


def _unexpected(exc: BaseException) -> str:
    """An unexpected exception named by its class and the frame that raised it; its message is never shown.

    Example:
        >>> try:
        ...     b"Whit\\xe9".decode("utf-8")
        ... except UnicodeDecodeError as e:
        ...     print(_unexpected(e))  # doctest: +ELLIPSIS
        unexpected UnicodeDecodeError at ... (<module>): its message is withheld because it may quote the data. ...
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        f = frames[-1]
        parts = Path(f.filename).parts
        short = "/".join(parts[parts.index("djs_toolkit") :] if "djs_toolkit" in parts else parts[-2:])
        where = f" at {short}:{f.lineno} ({f.name})"
    return (
        f"unexpected {type(exc).__name__}{where}: its message is withheld because it may quote the data. "
        "This is a fault of the toolkit: please report it with this line (DJS_DEBUG=1 shows the traceback)."
    )
