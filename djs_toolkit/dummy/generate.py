"""The whole story, chunk by chunk: people -> family and civil cases -> criminal careers -> records
-> linkage error -> files, plus truth.

Each chunk of persons is simulated with its own seeded random streams and written at once, so
memory stays per chunk and the same seed and scale give byte-identical files.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = generate(Path(tempfile.mkdtemp()) / "x", scale="tiny", seed=1)
    >>> (out / "xjs_link.parquet").exists()
    True
"""

from __future__ import annotations

import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from djs_toolkit.dummy.careers import simulate_careers
from djs_toolkit.dummy.civil import possession_keys, simulate_civil
from djs_toolkit.dummy.config import PER, DummyConfig, scale_of
from djs_toolkit.dummy.family import adult_party_keys, simulate_family
from djs_toolkit.dummy.family_effect import family_effect_truth, plant_family_effect
from djs_toolkit.dummy.frames import Ctx
from djs_toolkit.dummy.linkage import link_chunk
from djs_toolkit.dummy.lookback import EventIndex
from djs_toolkit.dummy.pathways import Planter
from djs_toolkit.dummy.population import make_persons
from djs_toolkit.dummy.records_courts import court_records
from djs_toolkit.dummy.records_custody import custody_records
from djs_toolkit.dummy.records_family_civil import civil_records, family_records
from djs_toolkit.dummy.records_probation import probation_records
from djs_toolkit.dummy.truth import TruthAccumulator
from djs_toolkit.dummy.writer import part_name, to_arrow, write_table
from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import TABLES

__all__ = ["MARKER", "generate"]

MARKER = ".djs_dummy_extract"
FORMATS = ("parquet", "csv")
_STREAMS = ("population", "family", "civil", "careers", "records", "linkage", "writer", "pathways")


def _prepare(out_dir: Path) -> None:
    """Create ``out_dir``, or clear a previous dummy extract there; refuse anything else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DJSUserError(f"{out_dir} is a file: give a directory for the dummy extract.")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).exists():
            raise DJSUserError(
                f"{out_dir} is not empty and is not a dummy extract: choose a new or empty directory "
                "(the generator only overwrites a previous dummy extract)."
            )
        stems = tuple(TABLES)
        for f in out_dir.iterdir():
            if f.is_file() and (f.name == MARKER or (f.suffix in (".parquet", ".csv") and f.stem.startswith(stems))):
                f.unlink()
        if (out_dir / "truth").is_dir():
            shutil.rmtree(out_dir / "truth")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Written first, so an interrupted run can be overwritten too.
    tmp = out_dir / f"{MARKER}.tmp"
    tmp.write_text("djs_toolkit dummy extract: safe to overwrite with `djs dummy`\n", encoding="utf-8")
    tmp.replace(out_dir / MARKER)


def _rngs(seed: int, chunk: int) -> dict[str, np.random.Generator]:
    return {name: np.random.default_rng(np.random.SeedSequence([seed, chunk, i])) for i, name in enumerate(_STREAMS)}


def generate(
    out_dir: str | Path,
    scale: str = "tiny",
    seed: int = 0,
    format: str = "parquet",
    config: DummyConfig | None = None,
    workers: int | None = None,
) -> Path:
    """Write a dummy Data First extract (all 17 tables, linked, with defects) and its truth.

    Args:
        out_dir: directory to write; must be new, empty, or a previous dummy extract.
        scale: ``tiny`` (~5k persons), ``small`` (~100k), ``medium`` (~1M) or ``national`` (~10M).
        seed: random seed; the same seed and scale give byte-identical files.
        format: ``parquet`` or ``csv``.
        config: generator parameters; defaults to `DummyConfig()`.
        workers: processes for multi-chunk scales (default: one per CPU); output does not depend on it.

    Returns:
        ``out_dir`` as a `pathlib.Path`.

    Raises:
        DJSUserError: unknown scale or format, or ``out_dir`` holds something else.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> generate(Path(tempfile.mkdtemp()) / "e", format="csv").joinpath("mags_defendant_case.csv").exists()
        True
    """
    if format not in FORMATS:
        raise DJSUserError(f"Unknown format {format!r}: use parquet or csv.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise DJSUserError("The seed must be a non-negative integer.")
    sc = scale_of(scale)
    cfg = config or DummyConfig()
    out = Path(out_dir)
    _prepare(out)
    n_chunks = math.ceil(sc.persons / sc.chunk)
    multipart = n_chunks > 1
    truth = TruthAccumulator(out / "truth", multipart)
    jobs = [
        (out, cfg, int(seed), ch, min(sc.chunk, sc.persons - ch * sc.chunk), format, multipart)
        for ch in range(n_chunks)
    ]
    n_workers = max(1, min(workers if workers is not None else (os.cpu_count() or 1), n_chunks))
    if n_workers == 1:
        results = [_run_chunk(job) for job in jobs]
    else:
        # Chunks are independent (own seeded streams, own part files): run them side by side.
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            results = list(pool.map(_run_chunk, jobs))
    total_persons = 0
    for persons, overlap, cif, pathways in results:
        total_persons += persons
        truth.merge(overlap, cif, pathways)
    family_effect_truth(out / "truth", cfg)
    truth.finish(
        cfg, {"scale": scale, "seed": int(seed), "format": format, "persons": total_persons, "chunks": n_chunks}
    )
    return out


def _run_chunk(job: tuple) -> tuple[int, np.ndarray, dict, np.ndarray]:
    """One chunk in a worker: returns (persons, overlap counts, re-entry tallies, pathway counts) for merging."""
    out, cfg, seed, ch, n, fmt, multipart = job
    acc = TruthAccumulator(out / "truth", multipart)
    persons = _chunk(out, cfg, seed, ch, n, fmt, multipart, acc)
    return persons, acc.overlap, acc.cif, acc.pathways


def _chunk(
    out: Path, cfg: DummyConfig, seed: int, ch: int, n: int, fmt: str, multipart: bool, truth: TruthAccumulator
) -> int:
    """Simulate and write one chunk of ``n`` persons; returns the persons simulated (children included)."""
    r = _rngs(seed, ch)
    base = ch << 32
    scale = n / PER
    persons = make_persons(r["population"], n, cfg, first_id=base)
    fam = simulate_family(r["family"], persons, cfg, scale, first_child_id=base + n)
    civ = simulate_civil(r["civil"], persons, cfg, scale)
    poss_keys, fam_keys = possession_keys(civ), adult_party_keys(fam, persons)
    planter = Planter(r["pathways"], cfg, persons, poss_keys, fam)
    careers = simulate_careers(r["careers"], persons, cfg, EventIndex(*poss_keys), EventIndex(*fam_keys), planter)
    planter.add_claims(civ)
    poss_keys = possession_keys(civ)  # with the claims planted after fines
    ctx = Ctx(seed=seed, chunk=ch, persons=persons, cfg=cfg, rng=r["records"])
    careers = plant_family_effect(seed, ch, ctx, fam, careers, out / "truth", multipart)
    tables: dict = {}
    tables.update(court_records(ctx, careers.contacts))
    tables.update(custody_records(ctx, careers.contacts))
    tables.update(probation_records(ctx, careers.contacts))
    tables.update(family_records(ctx, fam))
    tables.update(civil_records(ctx, civ))
    ctx.rng = r["linkage"]
    tables["xjs_link"], person_map = link_chunk(ctx, tables)
    part = ch + 1 if multipart else None
    written = {}  # what the files hold (missing values injected): the truth reads the person tables' attributes
    for name in TABLES:
        tbl = to_arrow(name, tables[name], r["writer"], cfg)
        write_table(tbl, out / part_name(name, part, fmt), fmt)
        if "_person" in tables[name]:
            written[name] = tbl
    truth.add_chunk(ctx, ch, tables, person_map, careers, poss_keys, fam_keys, written)
    return persons.n
