"""`djs` commands that run jobs: `dummy` and `main` (the job behind `make run`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["add_commands", "run_main_job"]


def _cmd_dummy(args: argparse.Namespace) -> int:
    from djs_toolkit import dummy

    t0 = time.perf_counter()
    out = dummy.generate(Path(args.out), scale=args.scale, seed=args.seed, format=args.format)
    print(
        f"Dummy extract ({args.scale}, seed {args.seed}, {args.format}) written to {out} "
        f"in {time.perf_counter() - t0:.1f} s; ground truth in {out / 'truth'}"
    )
    return 0


def run_main_job(scale: str, dummy_dir: Path, seed: int = 0, pipeline: Path | None = None, jobs: int = 2) -> int:
    """The job behind `make run`: dummy extract (generated if absent), validation, then the whole pipeline.

    Example:
        >>> run_main_job("tiny", Path("dummy/tiny"))  # doctest: +SKIP
    """
    from djs_toolkit import dummy
    from djs_toolkit.data import open_extract
    from djs_toolkit.runner import run_pipeline

    dummy_dir = Path(dummy_dir)
    if not (dummy_dir / "truth").is_dir():
        t0 = time.perf_counter()
        dummy.generate(dummy_dir, scale=scale, seed=seed)
        print(f"Generated the {scale} dummy extract in {dummy_dir} ({time.perf_counter() - t0:.1f} s).")
    else:
        print(f"Using the dummy extract in {dummy_dir} (delete it to regenerate).")
    report = open_extract(dummy_dir).validate()
    print(
        f"Validation: {'OK' if report.ok else 'FAILED'} - {report.n_errors} error(s), "
        f"{report.n_warnings} warning(s) (the dummy data carries the real extract's defects as warnings)."
    )
    if not report.ok:
        print(report)
        return 1
    pipeline = Path(pipeline or "pipeline.yaml")
    result = run_pipeline(pipeline, data=str(dummy_dir), jobs=jobs)
    if result.bundle is not None:
        print(f"\nChecked outputs and the clearance pack: {result.bundle}")
        print(
            "  release/      what may be requested for release\n  CLEARANCE.md  the draft output request\n"
            "  checker_only/ evidence for the output checker (DO NOT RELEASE)\n"
            f"Executed notebooks (logs, never released): runs/{result.run_id}/"
        )
    return result.exit_code


def _cmd_spine(args: argparse.Namespace) -> int:
    import pandas as pd

    from djs_toolkit import spine
    from djs_toolkit.data import open_extract

    extract = open_extract(args.root, column_map=args.column_map)
    spine.build_spine(extract)
    counts = extract.sql(
        "SELECT dataset, event_type, COUNT(*) AS events, COUNT(DISTINCT person_id) AS persons "
        "FROM _spine GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print("Events per dataset and type:")
        print(counts.to_string(index=False))
        print("\nDiagnostics (what the spine's rules did):")
        print(spine.diagnostics(extract).to_string(index=False))
    return 0


def _cmd_main(args: argparse.Namespace) -> int:
    return run_main_job(args.scale, Path(args.dummy_dir), args.seed, Path(args.pipeline), args.jobs)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the job commands on the `djs` parser."""
    from djs_toolkit.cli import check, run

    run.add_commands(sub)  # djs run / verify / doctor
    check.add_commands(sub)  # djs check
    from djs_toolkit.cli import brief

    brief.add_commands(sub)  # djs brief
    p = sub.add_parser("dummy", help="generate a dummy Data First extract with ground truth")
    p.add_argument("--scale", default="tiny", choices=["tiny", "small", "medium", "national"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    p.set_defaults(func=_cmd_dummy)

    p = sub.add_parser("spine", help="event counts per dataset and type, and the spine's diagnostics")
    p.add_argument("root", help="extract folder")
    p.add_argument("--column-map", help="column map YAML")
    p.set_defaults(func=_cmd_spine)

    p = sub.add_parser("main", help="the main job of `make run` on the dummy extract")
    p.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "national"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dummy-dir", default="dummy/small")
    p.add_argument("--pipeline", default="pipeline.yaml")
    p.add_argument("--jobs", type=int, default=2)
    p.set_defaults(func=_cmd_main)
