"""A built spine saved once and reused by every notebook of a pipeline run.

Building the spine reads every table (about 3 minutes on a national extract, bench/spine.py); a pipeline
runs 17 notebooks. `djs run` builds it once in the launcher, saves it under `runs/<run_id>/spine/`
(row-level, like the executed notebooks: never released, removed when the run's bundle is written) and
points the kernels at it with ``DJS_SPINE_CACHE``; `spine.build_spine` then reads the saved tables in
place instead of rebuilding. A cache is used only when its key (the extract's files, sizes and
modification times, the column map, the data cut-off and the toolkit version) matches the extract.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from djs_toolkit._version import __version__
from djs_toolkit.spine.sql import LINK_VIEW

if TYPE_CHECKING:
    import duckdb

    from djs_toolkit.data.extract import Extract

__all__ = ["ENV_SPINE_CACHE", "SPINE_TABLES", "cache_key", "load_spine", "saved_kinds"]

ENV_SPINE_CACHE = "DJS_SPINE_CACHE"
# The work tables build_spine leaves behind (``_link`` only when it is a table, not a view).
SPINE_TABLES = ("_spine", "_person", "_spine_diag", "_link")


def cache_key(extract: Extract) -> dict:
    """What a saved spine depends on: the extract's files and settings and the toolkit version.

    Example:
        >>> import tempfile
        >>> from djs_toolkit import open_extract
        >>> sorted(cache_key(open_extract(tempfile.mkdtemp())))
        ['column_map', 'extract_end', 'files', 'toolkit']
    """
    files = []
    for name, src in sorted(extract.engine.sources.items()):
        for p in src.files.paths:
            st = p.stat()
            files.append([name, str(p.resolve()), st.st_size, st.st_mtime_ns])
    return {
        "toolkit": __version__,
        "extract_end": str(extract.extract_end),
        "column_map": repr(extract.column_map),
        "files": files,
    }


def saved_kinds(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = current_database()"
    ).fetchall()
    return dict(rows)


def load_spine(extract: Extract, folder: str | Path | None = None) -> bool:
    """Use a saved spine for ``extract`` if ``folder`` (default ``DJS_SPINE_CACHE``) holds one that matches.

    The saved tables are read in place (views over Parquet), so a notebook holds no copy in memory.

    Returns:
        True when the saved spine is now in use; False (nothing changed) when there is none or it
        belongs to other data.

    Example:
        >>> import tempfile
        >>> from djs_toolkit import open_extract
        >>> load_spine(open_extract(tempfile.mkdtemp()), tempfile.mkdtemp())
        False
    """
    folder = folder or os.environ.get(ENV_SPINE_CACHE)
    if not folder:
        return False
    key_file = Path(folder) / "key.json"
    try:
        saved = json.loads(key_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved.get("key") != cache_key(extract) or "_spine" not in saved.get("tables", []):
        return False
    con = extract.engine.con
    if "_link" not in saved["tables"]:
        con.execute(LINK_VIEW)
    for t in saved["tables"]:
        path = (Path(folder) / (t.strip("_") + ".parquet")).as_posix()
        con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    return True
