"""Shared plotting pieces: the packaged style, Agg figures, protected-table inputs and deterministic PNGs.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas (never pyplot), so batch runs need no
display and no global state changes; the style is applied with a context (workflow_and_style.md §5.2).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import matplotlib
import matplotlib.style
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from djs_toolkit.errors import DJSUserError

__all__ = ["STYLE", "PALETTE", "LINESTYLES", "MARKERS", "HATCHES", "SUPPRESSED", "SUPPRESSED_NOTE", "style",
           "new_figure", "protected", "one_group", "save_png"]

STYLE = Path(__file__).with_name("djs.mplstyle")
# Government Analysis Function categorical palette (workflow_and_style.md §5.2), in cycle order.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
# Second and third cues beside colour ("do not rely on colour alone", §5.2).
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
# ONS convention: "c" marks a value withheld for confidentiality. "<10" would be wrong for secondary
# (complementary) suppressions, which are usually large counts.
SUPPRESSED = "c"
SUPPRESSED_NOTE = "c = withheld (disclosure control)"
# Columns that only record-level data has: a figure must never be drawn from those (disclosure rule).
_RECORD_COLUMNS = {"person_id", "record_id", "row_id_hash", "estimated_xjs_id", "case_id_hash", "event_id_hash"}


@contextmanager
def style() -> Iterator[None]:
    """Apply the packaged ``djs.mplstyle`` inside a ``with`` block.

    Example:
        >>> import matplotlib
        >>> with style():
        ...     matplotlib.rcParams["axes.spines.top"]
        False
    """
    with matplotlib.style.context(str(STYLE)):
        yield


def new_figure(width: float = 10.0, height: float = 6.0) -> Figure:
    """A Figure on an Agg canvas with a fixed size (call inside `style`).

    Example:
        >>> new_figure(4, 3).get_size_inches().tolist()
        [4.0, 3.0]
    """
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def protected(obj: Any, what: str = "table") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, mask) from a protected output (``.table`` and ``.mask``) or a DataFrame (mask = missing cells).

    Refuses frames that look like records (an id column), because figures may show only what a
    checked table shows (disclosure_control.md §7.2 "Graphs").

    Example:
        >>> t, m = protected(pd.DataFrame({"exclusive": [12, None]}))
        >>> m["exclusive"].tolist()
        [False, True]
    """
    if hasattr(obj, "table") and hasattr(obj, "mask"):
        table = obj.table
        mask = obj.mask if obj.mask is not None else table.isna()
    elif isinstance(obj, pd.DataFrame):
        table, mask = obj, obj.isna()
    else:
        raise DJSUserError(f"The {what} must be a DataFrame or a checked output with .table and .mask.")
    if _RECORD_COLUMNS & {str(c) for c in table.columns}:
        raise DJSUserError(f"The {what} has an identifier column: plots take protected aggregate tables, never "
                           "records. Aggregate first (e.g. overlap_sets, then protect_overlap).")
    mask = mask.reindex(index=table.index, columns=table.columns, fill_value=False).astype(bool)
    return table, mask | table.isna()


def one_group(table: pd.DataFrame, mask: pd.DataFrame, sets: list[str], group: Any) -> tuple:
    """Rows of one ``by`` group of an overlap table (the only group when there is one).

    Example:
        >>> t = pd.DataFrame({"sex": ["F", "M"], "a": [True, True], "exclusive": [10, 12]})
        >>> one_group(t, t.isna(), ["a"], "M")[0]["exclusive"].tolist()
        [12]
    """
    known = {"combination", "degree", "exclusive", "inclusive", "window_start", "window_end", *sets}
    by = [c for c in table.columns if c not in known and not pd.api.types.is_numeric_dtype(table[c])
          and not pd.api.types.is_datetime64_any_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]
    if not by or (group is None and table[by[0]].nunique() <= 1):
        return table, mask
    if group is None:
        raise DJSUserError(f"The table has several `{by[0]}` groups: pass group= to choose one.")
    keep = (table[by[0]] == group).to_numpy()
    if not keep.any():
        raise DJSUserError(f"No rows for that group in column `{by[0]}`: check group=.")
    return table[keep], mask[keep]


def save_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG with deterministic bytes: fixed dpi, no timestamp or software metadata,
    written to a temporary file in the same folder and renamed into place (workflow_and_style.md §5.2).

    Example:
        >>> import tempfile
        >>> p = save_png(new_figure(2, 2), Path(tempfile.mkdtemp()) / "f.png")
        >>> p.read_bytes()[:4]
        b'\\x89PNG'
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh, style():
            fig.savefig(fh, format="png", dpi=fig.dpi, metadata={"Software": None})
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
