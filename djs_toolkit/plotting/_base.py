"""Shared plotting pieces: the packaged style, Agg figures, protected-table inputs and deterministic PNGs.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas (never pyplot), so batch runs need no
display and no global state changes; the style is applied with a context (docs/workflow.md §5.2).
"""

from __future__ import annotations

import os
import re
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
from djs_toolkit.schema import DATASETS, MISSING_LABEL

__all__ = [
    "HATCHES",
    "LINESTYLES",
    "MARKERS",
    "MAX_SERIES",
    "MISSING_LABEL",
    "PALETTE",
    "STYLE",
    "SUPPRESSED",
    "SUPPRESSED_NOTE",
    "display_name",
    "group_label",
    "group_labels",
    "group_levels",
    "is_missing_group",
    "natural_key",
    "new_figure",
    "one_group",
    "protected",
    "save_png",
    "series_style",
    "style",
]

STYLE = Path(__file__).with_name("djs.mplstyle")
# Government Analysis Function categorical palette (docs/workflow.md §5.2), in cycle order.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
# Second and third cues beside colour ("do not rely on colour alone", docs/workflow.md §5.2).
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
# Groups a figure tells apart (`series_style`): more are unreadable in one panel, merge small groups first.
MAX_SERIES = 10
# Labels that say "not recorded" in the tables analyses make: drawn last, like `MISSING_LABEL`.
_LAST = frozenset({"missing", "unknown", "not known", "not recorded", "other"})
HATCHES = ("", "//", "..", "xx", "\\\\", "++")
# ONS convention: "c" marks a value withheld for confidentiality. "<10" would be wrong for secondary
# (complementary) suppressions, which are usually large counts.
SUPPRESSED = "c"
SUPPRESSED_NOTE = "c = withheld (disclosure control)"
# How a group with no recorded value (e.g. sex not recorded) is named in legends and table rows: MISSING_LABEL, the
# package's one label (schema.labels), imported above.
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
    elif any(c.__module__.split(".")[0] == "lifelines" for c in type(obj).__mro__):  # a fitter holds records' times
        raise DJSUserError(
            f"The {what} is a fitted lifelines model, not a checked table: check it first (o = session().km(fitter), "
            "Session.km / .cif, or save_table) and draw the Output."
        )
    else:
        raise DJSUserError(f"The {what} must be a DataFrame or a checked output with .table and .mask.")
    if _RECORD_COLUMNS & {str(c) for c in table.columns}:
        raise DJSUserError(
            f"The {what} has an identifier column: plots take protected aggregate tables, never "
            "records. Aggregate first (e.g. overlap_sets, then protect_overlap)."
        )
    mask = mask.reindex(index=table.index, columns=table.columns, fill_value=False).astype(bool)
    return table, mask | table.isna()


def series_style(i: int) -> dict[str, Any]:
    """Colour, line style and marker of the i-th group: distinct triples for up to `MAX_SERIES` groups.

    The first six take the palette in order with their own line style and marker; groups 7-10 reuse the first four
    colours with one of the four named line styles their colour's first group does not have (solid, dashed, dotted,
    dash-dot: two dash patterns of a similar rhythm in the same colour would not tell apart in print) and their own
    marker, so no two groups look alike even in greyscale.

    Example:
        >>> styles = [series_style(i) for i in range(10)]
        >>> len({(s["color"], str(s["linestyle"])) for s in styles}), styles[6]["color"] == PALETTE[0]
        (10, True)
        >>> [styles[i]["linestyle"] for i in (0, 6)]
        ['-', ':']
    """
    if i >= MAX_SERIES:
        raise DJSUserError(f"A figure tells at most {MAX_SERIES} groups apart: merge small groups or draw facets.")
    return {
        "color": PALETTE[i % len(PALETTE)],
        "linestyle": LINESTYLES[i if i < len(PALETTE) else i % 4],
        "marker": MARKERS[i],
    }


def natural_key(label: Any) -> tuple:
    """Sort key for group labels: dataset labels in the schema's order, numbers by value (1, 2, 10; "Under 18"
    before "18-24", "55+" after "45-54"), text alphabetically, missing or unknown groups last.

    Example:
        >>> sorted(["10", "2", "1", "Unknown", "55+", "Under 18", "18-24"], key=natural_key)
        ['1', '2', '10', 'Under 18', '18-24', '55+', 'Unknown']
        >>> sorted(["White", "Asian", "Missing", "Black"], key=natural_key)
        ['Asian', 'Black', 'White', 'Missing']
    """
    text = group_label(label)
    if text in DATASETS:  # datasets in the schema's order: courts, prison, probation, family, civil
        return (-1, float(list(DATASETS).index(text)), text)
    if text == MISSING_LABEL or text.strip().lower() in _LAST:
        return (2, 0.0, text.lower())
    found = re.search(r"\d+(?:\.\d+)?", text)
    if found is None:
        return (1, 0.0, text.lower())
    number = float(found.group())
    if re.match(r"\s*(under|<|less than|below)", text, re.IGNORECASE):
        number -= 0.5
    return (0, number, text.lower())


def display_name(label: Any) -> str:
    """The name a figure shows for a dataset label (its schema title), or the label itself.

    Example:
        >>> display_name("civil_caseman_pcol"), display_name("F")
        ('Civil court', 'F')
    """
    text = group_label(label)
    return DATASETS[text].title if text in DATASETS else text


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
    """Distinct group labels across ``columns`` in natural order (`natural_key`), the missing group last.

    Example:
        >>> group_levels(pd.Series(["<NA>", "M", "F"]), pd.Series(["10", float("nan"), "2"]))
        ['2', '10', 'F', 'M', 'Missing']
    """
    return sorted(dict.fromkeys(lab for col in columns for lab in group_labels(col)), key=natural_key)


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
