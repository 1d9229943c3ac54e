"""``djs dummy``: write a dummy extract from the command line.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> cli_main(["--scale", "tiny", "--seed", "3", "--out", str(Path(tempfile.mkdtemp()) / "d")])  # doctest: +ELLIPSIS
    djs dummy: wrote a tiny extract to ...
    0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from djs_toolkit.dummy.config import SCALES
from djs_toolkit.dummy.generate import FORMATS, generate
from djs_toolkit.errors import DJSUserError

__all__ = ["cli_main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``djs dummy`` (the lead's CLI can mount it as a sub-command).

    Example:
        >>> build_parser().parse_args(["--out", "x"]).scale
        'tiny'
    """
    p = argparse.ArgumentParser(prog="djs dummy", description="Write a dummy Data First extract with ground truth.")
    p.add_argument("--scale", choices=tuple(SCALES), default="tiny", help="extract size (default tiny)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output directory (new, empty, or a previous dummy extract)")
    p.add_argument("--format", choices=FORMATS, default="parquet", help="file format (default parquet)")
    return p


def cli_main(argv: Sequence[str] | None = None) -> int:
    """Run ``djs dummy``; returns the exit status (2 on a user error, message on stderr).

    Example:
        >>> cli_main(["--out", "/nonexistent-dir/x", "--seed", "-1"])
        2
    """
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    t0 = time.perf_counter()
    try:
        out = generate(args.out, scale=args.scale, seed=args.seed, format=args.format)
    except DJSUserError as e:
        print(f"djs dummy: {e}", file=sys.stderr)
        return 2
    print(f"djs dummy: wrote a {args.scale} extract to {out} in {time.perf_counter() - t0:.1f} s")
    return 0
