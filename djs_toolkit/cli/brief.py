"""`djs brief outputs/<run_id>`: research briefs for the people who use the findings (see `djs_toolkit.brief`)."""

from __future__ import annotations

import argparse
import time

__all__ = ["add_commands"]


def _cmd_brief(args: argparse.Namespace) -> int:
    from djs_toolkit.brief import write_briefs

    t0 = time.perf_counter()
    dummy = True if args.dummy else (False if args.real else None)
    written = write_briefs(args.bundle, args.run or None, dummy)
    for w in written:
        left = f"; {w.dropped} headline(s) left out (a number with no released source)" if w.dropped else ""
        print(
            f"{w.markdown.parent.name}/{w.label}.md|html: {w.headlines} headline(s), Flesch reading ease "
            f"{w.flesch:.0f}, reading age {w.reading_age:.0f}{left}"
        )
    print(
        f"{len(written)} brief(s) in {args.bundle}/briefs/ (added to its manifest) in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `djs brief` on the `djs` parser.

    Example:
        >>> p = argparse.ArgumentParser(); add_commands(p.add_subparsers(dest="command"))
        >>> p.parse_args(["brief", "outputs/r1", "--run", "overview", "--dummy"]).run
        ['overview']
    """
    p = sub.add_parser("brief", help="research briefs (Markdown + HTML) from a bundle's released outputs only")
    p.add_argument("bundle", help="outputs/<run_id>")
    p.add_argument("--run", action="append", help="brief this notebook run only (repeat for more; default: all)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--dummy", action="store_true", help="the bundle is from dummy data (default: from its run)")
    kind.add_argument("--real", action="store_true", help="the bundle is from the real extract")
    p.set_defaults(func=_cmd_brief)
