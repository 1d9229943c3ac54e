"""Shared plotting pieces: the packaged style, Agg figures, protected-table inputs and deterministic PNGs.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas (never pyplot), so batch runs need no
display and no global state changes; the style is applied with a context (docs/workflow.md §5.2).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from djs_toolkit.errors import DJSUserError

__all__ = [
    "HATCHES",
    "LINESTYLES",
    "MARKERS",
    "MISSING_LABEL",
    "PALETTE",
    "STYLE",
    "SUPPRESSED",
    "SUPPRESSED_NOTE",
    "group_label",
    "group_labels",
    "group_levels",
    "is_missing_group",
    "new_figure",
    "one_group",
    "protected",
    "save_png",
    "style",
]

STYLE = Path(__file__).with_name("djs.mplstyle")
# Government Analysis Function categorical palette (docs/workflow.md §5.2), in cycle order.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
# Second and third cues beside colour ("do not rely on colour alone", docs/workflow.md §5.2).
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P")
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
# ONS convention: "c" marks a value withheld for confidentiality. "<10" would be wrong for secondary
# (complementary) suppressions, which are usually large counts.
SUPPRESSED = "c"
SUPPRESSED_NOTE = "c = withheld (disclosure control)"
# How a group with no recorded value (e.g. sex not recorded) is named in legends and table rows.
MISSING_LABEL = "Missing"
# What a missing value looks like once it has been through str() / astype(str): object columns give
# "nan" or "None", string and nullable columns "<NA>", datetimes "NaT".
_MISSING_TEXT = frozenset({"", "nan", "NaN", "None", "<NA>", "NaT"})
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
    checked table shows (docs/disclosure.md §7.2 "Graphs").

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
        raise DJSUserError(
            f"The {what} has an identifier column: plots take protected aggregate tables, never "
            "records. Aggregate first (e.g. overlap_sets, then protect_overlap)."
        )
    mask = mask.reindex(index=table.index, columns=table.columns, fill_value=False).astype(bool)
    return table, mask | table.isna()


def is_missing_group(value: Any) -> bool:
    """True for a group value that means "not recorded": NaN, None, pd.NA, NaT, or their str() forms.

    Example:
        >>> [is_missing_group(v) for v in ("F", float("nan"), None, pd.NA, "nan", "<NA>", "None", 0)]
        [False, True, True, True, True, True, True, False]
    """
    if isinstance(value, str):
        return value.strip() in _MISSING_TEXT
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are never a missing group
        return False


def group_label(value: Any) -> str:
    """The text a figure shows for a group: `MISSING_LABEL` for a missing value, else ``str(value)``.

    Example:
        >>> [group_label(v) for v in ("F", float("nan"), "nan", pd.NA, 3)]
        ['F', 'Missing', 'Missing', 'Missing', '3']
    """
    return MISSING_LABEL if is_missing_group(value) else str(value)


def group_labels(values: pd.Series) -> pd.Series:
    """`group_label` of each value, on the same index (so it can select rows of the frame).

    Example:
        >>> group_labels(pd.Series(["M", None, "F"], index=[5, 6, 7])).to_dict()
        {5: 'M', 6: 'Missing', 7: 'F'}
    """
    return pd.Series([group_label(v) for v in values], index=values.index, dtype=object)


def group_levels(*columns: pd.Series) -> list[str]:
    """Distinct group labels in order of first appearance across ``columns``, the missing group last.

    Example:
        >>> group_levels(pd.Series(["<NA>", "F", "M"]), pd.Series(["F", float("nan"), "X"]))
        ['F', 'M', 'X', 'Missing']
    """
    seen = dict.fromkeys(lab for col in columns for lab in group_labels(col))
    return [lab for lab in seen if lab != MISSING_LABEL] + [lab for lab in seen if lab == MISSING_LABEL]


def one_group(table: pd.DataFrame, mask: pd.DataFrame, sets: list[str], group: Any) -> tuple:
    """Rows of one ``by`` group of an overlap table (the only group when there is one).

    A missing group (NaN, None, "nan", ...) counts as a group of its own; select it with any missing
    value or `MISSING_LABEL`.

    Example:
        >>> t = pd.DataFrame({"sex": ["F", "M"], "a": [True, True], "exclusive": [10, 12]})
        >>> one_group(t, t.isna(), ["a"], "M")[0]["exclusive"].tolist()
        [12]
    """
    known = {"combination", "degree", "exclusive", "inclusive", "window_start", "window_end", *sets}
    by = [
        c
        for c in table.columns
        if c not in known
        and not pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_datetime64_any_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]
    labels = group_labels(table[by[0]]) if by else None
    if labels is None or (group is None and labels.nunique() <= 1):
        return table, mask
    if group is None:
        raise DJSUserError(f"The table has several `{by[0]}` groups: pass group= to choose one.")
    if is_missing_group(group) or group == MISSING_LABEL:
        keep = (labels == MISSING_LABEL).to_numpy()
    else:
        keep = (table[by[0]] == group).to_numpy(dtype=bool, na_value=False)
    if not keep.any():
        raise DJSUserError(f"No rows for that group in column `{by[0]}`: check group=.")
    return table[keep], mask[keep]


def save_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG with deterministic bytes: fixed dpi, no timestamp or software metadata,
    written to a temporary file in the same folder and renamed into place (docs/workflow.md §5.2).

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
