"""Each dataset's coverage window: which labels exist, when each dataset starts, and the last day it observes.

Data First datasets cover different years and some stop early (the Common Platform cliff); analyses censor at
`observed_until` and compare datasets only inside the window they all cover (`common_window`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.schema import DATASETS

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = ["check_datasets", "common_window", "coverage", "coverage_case_sql", "observed_until"]


def check_datasets(extract: Extract, datasets: Iterable[str] | None) -> list[str]:
    """Validate dataset labels; None means every dataset present in the extract.

    Example:
        >>> check_datasets(None, ["mags_hocas"])
        ['mags_hocas']
    """
    if datasets is None:
        return [d for d, ds in DATASETS.items() if ds.person_table in extract.tables]
    out = list(datasets)
    bad = [d for d in out if d not in DATASETS]
    if bad:
        raise DJSUserError(f"Unknown dataset(s) {', '.join(map(repr, bad))}: use labels from {', '.join(DATASETS)}.")
    return out


def observed_until(label: str, extract_end: dt.date) -> dt.date:
    """The last day dataset `label` observes completely: its window end, the day before its cliff, or the cut-off.

    Example:
        >>> observed_until("mags_hocas", dt.date(2030, 1, 1))
        datetime.date(2020, 12, 31)
    """
    ds = DATASETS[label]
    end = min(ds.end, extract_end)
    if ds.cliff is not None:
        end = min(end, ds.cliff - dt.timedelta(days=1))
    return end


def coverage(extract: Extract) -> pd.DataFrame:
    """Each dataset's coverage window, cliff, and the last date it observes completely.

    ``observed_until`` is the earliest of the window end, the day before the coverage cliff
    (Common Platform) and the extract's data cut-off: later analyses censor there.

    Example:
        >>> import tempfile
        >>> from djs_toolkit import open_extract
        >>> cov = coverage(open_extract(tempfile.mkdtemp()))
        >>> str(cov.set_index("dataset").loc["mags_hocas", "observed_until"].date())
        '2020-12-31'
    """
    rows = []
    for label, ds in DATASETS.items():
        rows.append(
            {
                "dataset": label,
                "title": ds.title,
                "start": pd.Timestamp(ds.start),
                "end": pd.Timestamp(ds.end),
                "cliff": pd.Timestamp(ds.cliff) if ds.cliff else pd.NaT,
                "extract_end": pd.Timestamp(extract.extract_end),
                "observed_until": pd.Timestamp(observed_until(label, extract.extract_end)),
                "left_censored": ds.left_censored,
                "present": ds.person_table in extract.tables,
                "note": ds.note,
            }
        )
    return pd.DataFrame(rows)


def common_window(extract: Extract, datasets: Iterable[str] | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The date window every chosen dataset covers completely.

    Example:
        >>> import tempfile
        >>> from djs_toolkit import open_extract
        >>> common_window(open_extract(tempfile.mkdtemp()), ["probation_delius", "civil_caseman_pcol"])
        (Timestamp('2014-01-01 00:00:00'), Timestamp('2020-12-31 00:00:00'))
    """
    labels = check_datasets(extract, datasets)
    if not labels:
        raise DJSUserError("No datasets chosen: name at least one dataset label.")
    start = max(DATASETS[d].start for d in labels)
    end = min(observed_until(d, extract.extract_end) for d in labels)
    if start > end:
        raise DJSUserError(f"Datasets {', '.join(labels)} share no coverage window: compare fewer datasets.")
    return pd.Timestamp(start), pd.Timestamp(end)


def coverage_case_sql(extract_end: dt.date) -> str:
    """SQL of the spine's ``in_coverage``: the event falls inside its dataset's window, up to `observed_until`.

    Example:
        >>> coverage_case_sql(dt.date(2022, 12, 31)).startswith("CASE WHEN dataset = 'mags_hocas' THEN")
        True
    """
    parts = [
        f"WHEN dataset = '{d}' THEN event_date >= DATE '{ds.start}' AND event_date <= "
        f"DATE '{observed_until(d, extract_end)}'"
        for d, ds in DATASETS.items()
    ]
    return "CASE " + " ".join(parts) + " ELSE FALSE END"
