"""The person-event spine: who did what, when, across every Data First dataset.

Built once per extract inside DuckDB (temporary table ``_spine``) by joining each dataset's
person-records to ``xjs_link``; every later analysis (memberships, cohorts, overlaps, flows) reads
it instead of hand-joining tables.

Rules (each counted in `diagnostics`, never applied silently):

- A record linked to several persons is kept once, for the smallest ``estimated_xjs_id``.
- A person-record with no ``xjs_link`` row has no person id and is left out.
- Organisations (civil parties) are never persons.
- Probation rows repeating an ``event_id_hash`` are one event (the first by ``row_id_hash``).
- Events without a date are left out (they cannot be placed in time).
- Each event's ``sex``, ``ethnicity_group`` and ``imd_decile`` are what the person's records dated on or before
  it say (`sql.attributes_at_event_sql`: sex and ethnicity the most frequent known value, ties alphabetical; IMD the
  latest), never a later record: an analysis at an index date reads the attributes known then.
- Events outside their dataset's coverage window, or on/after its coverage cliff, are kept and
  flagged ``in_coverage = False``.

Example:
    >>> from djs_toolkit import spine
    >>> [e for d, e, _ in spine.EVENT_TYPES if d == "prison_nomis"]
    ['custody_start', 'release', 'recall']
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import atomic_write_json
from djs_toolkit.schema import DATASETS
from djs_toolkit.spine.cache import SPINE_TABLES, cache_key, load_spine, saved_kinds
from djs_toolkit.spine.sql import (
    EVENT_SELECTS,
    EVENT_TYPES,
    LINK_VIEW,
    PERSON_TABLE_FILTER,
    attributes_at_event_sql,
    ethnicity_group_sql,
)
from djs_toolkit.spine.windows import check_datasets, coverage_case_sql, observed_until

if TYPE_CHECKING:
    from djs_toolkit.data.extract import Extract

__all__ = [
    "EVENT_TYPES",
    "build_spine",
    "diagnostics",
    "event_counts",
    "last_observable",
    "person_events",
    "save_spine",
]

_SPINE = "_spine"
_CATEGORICAL = (
    "dataset",
    "event_type",
    "offence_group",
    "disposal",
    "case_type",
    "party_role",
    "sex",
    "ethnicity_group",
)


def last_observable(extract: Extract, datasets: Iterable[str] | None = None) -> pd.DataFrame:
    """Per person and dataset, the last date on which an event could have been observed.

    Data First has no deaths or emigration, so the date is the dataset's ``observed_until`` for
    every person; the per-person form lets analyses join it the same way for every dataset.

    Example:
        >>> # last_observable(extract)[["person_id", "dataset", "last_observable"]]
    """
    labels = check_datasets(extract, datasets)
    build_spine(extract)
    people = extract.engine.query(f"SELECT DISTINCT person_id FROM {_SPINE} ORDER BY person_id")["person_id"]
    frames = [
        pd.DataFrame(
            {"person_id": people, "dataset": d, "last_observable": pd.Timestamp(observed_until(d, extract.extract_end))}
        )
        for d in labels
    ]
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["person_id", "dataset", "last_observable"])
    )
    out["dataset"] = out["dataset"].astype("category")
    return out


_SPINE_ORDER = "person_id, event_date, dataset, event_type, record_id"


def _link_sql(extract: Extract) -> str:
    # Without duplicate link keys (validation counted them) every record has one person: read the
    # link rows in place instead of grouping 25M of them at national scale.
    problems, _ = extract._checks("xjs_link")
    if not any(p.kind == "duplicate_key" for p in problems):
        return LINK_VIEW
    # MIN <> MAX says "several persons" without the cost of COUNT(DISTINCT).
    return (
        "CREATE OR REPLACE TABLE _link AS SELECT source_dataset, row_id_hash, "
        "MIN(estimated_xjs_id) AS person_id, MIN(estimated_xjs_id) <> MAX(estimated_xjs_id) AS several "
        "FROM xjs_link GROUP BY source_dataset, row_id_hash"
    )


def build_spine(extract: Extract) -> str:
    """Materialise the spine in the extract's DuckDB connection (once); returns its table name.

    A spine saved by `djs run` for the same files is used instead (`spine.cache`). Otherwise three
    passes over the files, none holding every event twice: person attributes from each
    record's primary event, undated-event counts, then the spine itself (events joined to persons
    and their attributes in one pipeline).

    Example:
        >>> # build_spine(extract) -> '_spine'
    """
    if "spine" in extract.built:
        return _SPINE
    if load_spine(extract):  # saved by `djs run` for this very extract (spine/cache.py)
        extract.built.add("spine")
        return _SPINE
    con = extract.engine.con
    present = [d for d, ds in DATASETS.items() if ds.person_table in extract.tables]
    if "xjs_link" not in extract.tables:
        raise DJSUserError("The extract has no `xjs_link` table: the spine needs the linking lookup.")
    for t in ("xjs_link", *[t for d in present for t in DATASETS[d].tables]):
        extract.raise_if_errors(t)
    selects = []
    for d in present:
        needed = {
            "familyman": ("family_cases", "family_events"),
            "civil_caseman_pcol": ("civil_cases", "civil_events"),
            "probation_delius": (),
        }.get(d, ())
        if all(t in extract.tables for t in needed):
            selects.append(EVENT_SELECTS[d])
    # The first select of each dataset is its primary event: every person-record holds exactly one, dated when
    # the record comes into being; the person's attributes are read from these (`attributes_at_event_sql`).
    union = " UNION ALL ".join(
        f"SELECT *, {'TRUE' if i == 0 else 'FALSE'} AS is_record FROM ({sel}) AS q"
        for sels in selects
        for i, sel in enumerate(sels)
    )
    records = " UNION ALL ".join(
        f"SELECT dataset, row_id_hash, sex_raw, ethnicity_raw FROM ({sels[0]}) AS q" for sels in selects
    )
    con.execute(_link_sql(extract))
    con.execute(
        f"CREATE OR REPLACE TABLE _spine_diag AS SELECT dataset, "
        f"SUM(CASE WHEN event_date IS NULL THEN 1 ELSE 0 END) AS events_missing_date "
        f"FROM ({union}) AS e GROUP BY dataset"
    )
    eth = ethnicity_group_sql("ethnicity_raw")
    # Persons whose records disagree (counted in `diagnostics`); the spine's attributes come from the window below.
    con.execute(
        "CREATE OR REPLACE TABLE _person AS SELECT l.person_id, "
        "COUNT(DISTINCT CASE WHEN e.sex_raw IN ('M', 'F') THEN e.sex_raw END) > 1 AS sex_conflict, "
        f"COUNT(DISTINCT CASE WHEN e.ethnicity_raw IS NOT NULL AND {eth} <> 'Not stated' THEN {eth} END) > 1 "
        f"AS ethnicity_conflict FROM ({records}) AS e "
        "JOIN _link l ON l.source_dataset = e.dataset AND l.row_id_hash = e.row_id_hash GROUP BY l.person_id"
    )
    coverage_case = (
        coverage_case_sql(extract.extract_end).replace("dataset", "e.dataset").replace("event_date", "e.event_date")
    )
    events = (
        "(SELECT l.person_id, e.dataset, e.event_type, e.event_date, e.end_date, e.row_id_hash AS record_id, "
        "e.offence_date, e.offence_group, e.disposal, e.case_type, e.party_role, e.age_at_event, "
        f"{coverage_case} AS in_coverage, e.is_record, e.sex_raw, e.ethnicity_raw, e.imd_raw FROM ({union}) AS e "
        "JOIN _link l ON l.source_dataset = e.dataset AND l.row_id_hash = e.row_id_hash "
        "WHERE e.event_date IS NOT NULL) AS ev"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {_SPINE} AS SELECT person_id, dataset, event_type, event_date, end_date, "
        "record_id, offence_date, offence_group, disposal, case_type, party_role, age_at_event, sex, "
        f"ethnicity_group, imd_decile, in_coverage FROM ({attributes_at_event_sql(events)}) AS a "
        f"ORDER BY {_SPINE_ORDER}"
    )
    con.execute("CHECKPOINT")  # compresses the work tables (engine.py)
    extract.built.add("spine")
    return _SPINE


def _fetch(
    extract: Extract, sql: str, datasets: list[str] | None = None, sorted_by_person: bool = False
) -> pd.DataFrame | None:
    # Streamed in batches, low-cardinality columns dictionary-encoded batch by batch, ids kept as
    # Arrow-backed strings: Python string objects, or whole string columns held at once, would take
    # tens of GiB for a national spine. ``datasets`` filters batches here, not in SQL, so a plain
    # scan keeps the spine's stored order (a DuckDB filter may not). With ``sorted_by_person``,
    # returns None unless person ids come back in order.
    reader = extract.engine.con.sql(sql).to_arrow_reader(1 << 20)
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in _CATEGORICAL else f for f in reader.schema
    ]
    schema = pa.schema(fields)
    keep = pa.array(datasets or [], pa.string())
    batches, last = [], None
    for b in reader:
        if datasets is not None:
            b = b.filter(pc.is_in(b.column("dataset"), value_set=keep))
        if sorted_by_person and b.num_rows:
            pid = b.column("person_id")
            if (last is not None and pc.less(pid[0], last).as_py()) or not pc.all(
                pc.less_equal(pid.slice(0, len(pid) - 1), pid.slice(1))
            ).as_py():
                return None
            last = pid[len(pid) - 1]
        batches.append(
            pa.RecordBatch.from_arrays(
                [
                    pc.dictionary_encode(col) if name in _CATEGORICAL else col
                    for name, col in zip(b.schema.names, b.columns, strict=True)
                ],
                schema=schema,
            )
        )
    table = pa.Table.from_batches(batches, schema=schema).unify_dictionaries()
    del batches
    mapper = {
        pa.string(): pd.StringDtype("pyarrow"),
        pa.large_string(): pd.StringDtype("pyarrow"),
        pa.int32(): pd.Int64Dtype(),
        pa.int64(): pd.Int64Dtype(),
    }
    df = table.to_pandas(
        date_as_object=False,
        coerce_temporal_nanoseconds=True,
        self_destruct=True,
        split_blocks=True,
        types_mapper=mapper.get,
    )
    del table
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            # Alphabetical categories: the same data gives the same frame, whatever the scan order.
            df[c] = df[c].cat.reorder_categories(sorted(df[c].cat.categories))
    return df


@overload
def person_events(
    extract: Extract, datasets: Iterable[str] | None = None, return_diagnostics: Literal[False] = False
) -> pd.DataFrame: ...
@overload
def person_events(
    extract: Extract, datasets: Iterable[str] | None, return_diagnostics: Literal[True]
) -> tuple[pd.DataFrame, pd.DataFrame]: ...
@overload
def person_events(
    extract: Extract, datasets: Iterable[str] | None = None, *, return_diagnostics: Literal[True]
) -> tuple[pd.DataFrame, pd.DataFrame]: ...
def person_events(
    extract: Extract, datasets: Iterable[str] | None = None, return_diagnostics: bool = False
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """One row per person-event across the chosen datasets.

    Args:
        extract: an opened `Extract`.
        datasets: dataset labels to include (default: every dataset in the extract).
        return_diagnostics: also return the `diagnostics` table.

    Returns:
        DataFrame sorted by person and date with columns ``person_id`` (``estimated_xjs_id``),
        ``dataset``, ``event_type`` (see `EVENT_TYPES`), ``event_date``, ``end_date``, ``record_id``
        (``row_id_hash``), ``offence_date``, ``offence_group``, ``disposal``, ``case_type``,
        ``party_role``, ``age_at_event``, ``sex``, ``ethnicity_group``, ``imd_decile`` (IMD 2019 decile
        of residence, 1 most deprived), ``in_coverage``; with
        ``return_diagnostics`` a tuple (events, diagnostics).

    Example:
        >>> # ev = person_events(extract, ["mags_hocas", "civil_caseman_pcol"])
        >>> # ev.groupby("event_type", observed=True).size()
    """
    labels = check_datasets(extract, datasets)
    build_spine(extract)
    inlist = ", ".join(f"'{d}'" for d in labels) or "NULL"
    # The spine is stored in this order and DuckDB returns a plain table scan in insertion order
    # (preserve_insertion_order); a backend without that guarantee (Spark) must add the ORDER BY.
    every = set(labels) >= set(check_datasets(extract, None))  # no filter needed: no extra scan
    df = _fetch(extract, f"SELECT * FROM {_SPINE}", None if every else labels, sorted_by_person=True)
    if df is None:  # never seen; kept so the order is a guarantee, not an accident
        df = _fetch(extract, f"SELECT * FROM {_SPINE} WHERE dataset IN ({inlist}) ORDER BY {_SPINE_ORDER}")
        assert df is not None  # only a sorted_by_person fetch gives up
    return (df, diagnostics(extract)) if return_diagnostics else df


_COUNT_KEYS = {
    "dataset": "dataset",
    "event_type": "event_type",
    "year": "EXTRACT(YEAR FROM event_date)",
    "sex": "sex",
    "ethnicity_group": "ethnicity_group",
    "in_coverage": "in_coverage",
}


def event_counts(
    extract: Extract, by: Iterable[str] = ("dataset", "event_type", "year"), datasets: Iterable[str] | None = None
) -> pd.DataFrame:
    """Events and distinct persons by the chosen keys, counted inside DuckDB (any extract size).

    Args:
        extract: an opened `Extract`.
        by: keys among ``dataset``, ``event_type``, ``year``, ``sex``, ``ethnicity_group``, ``in_coverage``.
        datasets: dataset labels to include (default: all present).

    Returns:
        DataFrame with the keys, ``events`` and ``persons``, sorted by the keys.

    Example:
        >>> # event_counts(extract, by=["dataset", "year"])
    """
    keys = list(by)
    bad = [k for k in keys if k not in _COUNT_KEYS]
    if bad:
        raise DJSUserError(f"Cannot count by {bad}: use keys from {', '.join(_COUNT_KEYS)}.")
    labels = check_datasets(extract, datasets)
    build_spine(extract)
    inlist = ", ".join(f"'{d}'" for d in labels) or "NULL"
    sel = ", ".join(f"{_COUNT_KEYS[k]} AS {k}" for k in keys)
    grp = ", ".join(str(i + 1) for i in range(len(keys)))
    df = extract.engine.con.sql(
        f"SELECT {sel}{', ' if keys else ''}COUNT(*) AS events, COUNT(DISTINCT person_id) AS persons "
        f"FROM {_SPINE} WHERE dataset IN ({inlist}) {'GROUP BY ' + grp if keys else ''} "
        f"{'ORDER BY ' + grp if keys else ''}"
    ).df()
    if "year" in df:
        df["year"] = df["year"].astype("int64")
    return df


def diagnostics(extract: Extract) -> pd.DataFrame:
    """What the spine's rules did, with counts: columns check, dataset, count, rule.

    Example:
        >>> # diagnostics(extract).query("count > 0")
    """
    build_spine(extract)
    q = extract.engine.con
    rows = []

    def add(check: str, dataset: str, n: int | None, rule: str) -> None:
        rows.append({"check": check, "dataset": dataset, "count": int(n or 0), "rule": rule})

    for d, ds in DATASETS.items():
        pt = ds.person_table
        if pt not in extract.tables:
            continue
        flt = PERSON_TABLE_FILTER.get(pt, "TRUE")
        n = q.execute(
            f"SELECT COUNT(*) FROM {pt} WHERE {flt} AND row_id_hash NOT IN "
            f"(SELECT row_id_hash FROM _link WHERE source_dataset = '{d}')"
        ).fetchall()[0][0]
        add("records_without_link", d, n, "left out: no person id")
        n = q.execute(f"SELECT COUNT(*) FROM _link WHERE source_dataset = '{d}' AND several").fetchall()[0][0]
        add("records_linked_to_several_persons", d, n, "kept once, for the smallest estimated_xjs_id")
        n = q.execute(f"SELECT SUM(events_missing_date) FROM _spine_diag WHERE dataset = '{d}'").fetchall()[0][0]
        add("events_missing_date", d, n, "left out: cannot be placed in time")
        n = q.execute(f"SELECT COUNT(*) FROM {_SPINE} WHERE dataset = '{d}' AND NOT in_coverage").fetchall()[0][0]
        add("events_outside_coverage", d, n, "kept, flagged in_coverage = False")
    if "probation_flatfile" in extract.tables:
        n = q.execute("SELECT COUNT(*) - COUNT(DISTINCT event_id_hash) FROM probation_flatfile").fetchall()[0][0]
        add("duplicate_records", "probation_delius", n, "one event per event_id_hash (first by row_id_hash)")
    if "civil_parties" in extract.tables:
        n = q.execute("SELECT COUNT(*) FROM civil_parties WHERE party_type = 'Organisation'").fetchall()[0][0]
        add("organisation_parties", "civil_caseman_pcol", n, "never persons: left out")
    sc, ec = q.execute(
        "SELECT SUM(CASE WHEN sex_conflict THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN ethnicity_conflict THEN 1 ELSE 0 END) FROM _person"
    ).fetchall()[0]
    add("persons_conflicting_sex", "all", sc, "at each event: most frequent known value over records up to it")
    add("persons_conflicting_ethnicity", "all", ec, "at each event: most frequent known group over records up to it")
    return pd.DataFrame(rows, columns=["check", "dataset", "count", "rule"])


def save_spine(extract: Extract, folder: str | Path) -> Path:
    """Build the spine if needed and save its tables as Parquet in ``folder`` (replaced whole).

    Args:
        extract: an opened `Extract`.
        folder: where to save (row-level data: keep it under `runs/`, never `outputs/`).

    Returns:
        The folder.

    Example:
        >>> # save_spine(extract, "runs/<run_id>/spine")
    """
    build_spine(extract)
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con = extract.engine.con
    kinds = saved_kinds(con)
    saved = []
    for t in SPINE_TABLES:
        if kinds.get(t) == "BASE TABLE":
            con.execute(f"COPY {t} TO '{(tmp / (t.strip('_') + '.parquet')).as_posix()}' (FORMAT PARQUET)")
            saved.append(t)
    atomic_write_json(tmp / "key.json", {"key": cache_key(extract), "tables": saved})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
