"""`check_frame`: a DataFrame given to `save_table`, read as a table and checked through the counts behind it.

Non-numeric columns, the named index and the columns in `index=` are row labels; the other columns are values.
A table of counts is checked by expanding it to one record per unit and running the checker's crosstab; a table
of another statistic is checked through its `counts=` and laid out like them (cells withheld from the counts are
withheld from the statistic).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.derived import derived_rows, restate_derived, withhold_rows
from djs_toolkit.outputs.scan import scan_frame
from djs_toolkit.outputs.stage import RunContext
from djs_toolkit.sdc import Output, Session, load_profile
from djs_toolkit.sdc.release_tables import RATIO_STATISTICS
from djs_toolkit.sdc.report import reason_frame
from djs_toolkit.sdc.rules import statistic_kind, worst

__all__ = ["MAX_UNITS", "add_reason", "check_frame", "declared_cells", "problems_error"]

MAX_UNITS = 200_000_000  # a count table is checked by expanding it to one record per unit: bounded memory


def problems_error(problems: list[str], what: str) -> DJSUserError:
    """One error listing every problem found with a call, so the researcher fixes them all at once.

    Example:
        >>> print(problems_error(["name is empty", "population is empty"], "save_table('')"))
        save_table(''): 2 problem(s)
          - name is empty
          - population is empty
    """
    return DJSUserError(f"{what}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


def add_reason(o: Output, rule: str, status: str, summary: str) -> None:
    """Add one reason to `o` for the whole output; its status becomes the worse of the two.

    Example:
        >>> o = Output("t", "pass", "table", "save_table", "count", pd.DataFrame())
        >>> add_reason(o, "FigureCheck", "review", "drawn by researcher code"); o.status
        'review'
    """
    o.reasons = pd.concat([o.reasons, reason_frame([(None, None, rule, status, summary)])], ignore_index=True)
    o.status = worst([o.status, status])


def _layout(
    table: pd.DataFrame | pd.Series, index: str | Sequence[str] | None, problems: list[str]
) -> tuple[pd.DataFrame, list, list]:
    """Key columns (row labels) and value columns of a DataFrame given to save_table."""
    frame = (
        table.to_frame(table.name if table.name is not None else "value")
        if isinstance(table, pd.Series)
        else table.copy()
    )
    if isinstance(frame.columns, pd.MultiIndex):
        problems.append("the table has multi-level columns: flatten them to one level or pass a tidy table")
        return frame, [], []
    keys = [index] if isinstance(index, str) else list(index or [])
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None):
        before = set(frame.columns)
        try:
            frame = frame.reset_index()
        except ValueError:
            problems.append("an index level has the same name as a column: rename one of them")
            return frame, [], []
        # Index levels are row labels even when numeric (`df.groupby("year").size()` is counts by year).
        keys += [c for c in frame.columns if c not in before and c not in keys]
    problems += [f"index= names `{k}`, which is not a column of the table" for k in keys if k not in frame.columns]
    keys = [k for k in keys if k in frame.columns]
    for c in frame.columns:
        s = frame[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if c not in keys and not numeric:
            keys.append(c)
    values = [c for c in frame.columns if c not in keys]
    if not values:
        problems.append("the table has no numeric value column: name the key columns in index= and keep the values")
    if not keys:
        frame.insert(0, "row", np.arange(len(frame)))
        keys = ["row"]
    for k in keys:
        n_missing = int(frame[k].isna().sum())
        if n_missing:
            problems.append(f"key column `{k}` has {n_missing} missing label(s): fill them (e.g. 'Unknown') first")
    n_dup = int(frame.duplicated(keys).sum())
    if n_dup:
        problems.append(
            f"{n_dup} row(s) repeat the labels of another row (keys {keys}): aggregate first, or name "
            f"every key column in index="
        )
    return frame, keys, values


def _whole(frame: pd.DataFrame, cols: list, what: str, problems: list[str]) -> None:
    for c in cols:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
        bad = {"missing": np.isnan(v), "negative": v < 0, "not whole numbers": np.isfinite(v) & (v != np.round(v))}
        for label, m in bad.items():
            if m.any():
                problems.append(
                    f"{what} column `{c}`: {int(m.sum())} cell(s) {label}: counts must be whole numbers "
                    f">= 0, unsuppressed (the checker suppresses)"
                )


def _counts_frame(
    counts: object,
    frame: pd.DataFrame,
    keys: list,
    values: list,
    index: str | Sequence[str] | None,
    problems: list[str],
) -> pd.DataFrame | None:
    """Counts of the table's shape (one column per value column), or one `counts` column shared by each row."""
    if isinstance(counts, str):
        if counts not in values:
            problems.append(f"counts={counts!r} is not a numeric column of the table")
            return None
        _whole(frame, [counts], "counts", problems)
        return frame[[counts]].reset_index(drop=True)
    if isinstance(counts, (pd.DataFrame, pd.Series)):
        cf, ckeys, cvals = _layout(counts, index, problems)
        if sorted(map(str, ckeys)) != sorted(map(str, keys)) or not set(values) <= set(cvals):
            problems.append(f"counts= must have the table's shape: key columns {keys} and value columns {values}")
            return None
        aligned = frame[keys].merge(cf, on=keys, how="left", validate="one_to_one")
        _whole(aligned, values, "counts", problems)
        return aligned[values].reset_index(drop=True)
    problems.append("counts= must be a DataFrame of the table's shape or the name of a count column")
    return None


def _spread(
    frame: pd.DataFrame, keys: list, values: list, column: str, problems: list[str]
) -> tuple[pd.DataFrame, list, list]:
    """The levels of key `column` as value columns (one count column in, one column per level out; absent
    combinations count 0), so the crosstab's totals column is each row's total over `column`."""
    if column not in keys or len(values) != 1 or len(keys) < 2:
        problems.append(
            f"margins={column!r} needs `{column}` to be a key column of a table with one count column and "
            f"another key column: pass margins=True for the totals of the table as it is laid out"
        )
        return frame, keys, values
    rest = [k for k in keys if k != column]
    wide = frame.pivot(index=rest, columns=column, values=values[0]).fillna(0)
    wide = wide.reindex(columns=_sorted_levels(frame[column])).reset_index()
    wide.columns.name = column
    return wide, rest, [c for c in wide.columns if c not in rest]


def _sorted_levels(s: pd.Series) -> pd.Index:
    uniq = pd.Index(pd.unique(s))
    try:
        return uniq.sort_values()
    except TypeError:  # mixed label types cannot be ordered: keep the order of appearance
        return uniq


def _checked_counts(
    frame: pd.DataFrame,
    keys: list,
    cnt: pd.DataFrame,
    uid: str,
    description: str,
    population: str,
    ctx: RunContext,
    margins: bool = False,
    structural: Sequence[tuple] = (),
) -> Output:
    """Check a table of counts by expanding it to one record per unit and running the checker's crosstab.

    `structural`: cells that cannot occur, each its key labels and value column (`declared_cells`).

    The columns of `cnt` are a table dimension (a wide table: disjoint units per column); with one column, the
    counts belong to the rows. With `margins`, the crosstab's totals row and column are published with the table.
    """
    flat = cnt.to_numpy(np.float64).round().astype(np.int64).ravel()
    values = list(cnt.columns)
    nv = len(values)
    measure = frame.columns.name or ("measure" if "measure" not in keys else "measure_")

    def expand(codes: np.ndarray, levels: pd.Index, label: object) -> pd.Series:
        codes = codes.astype(np.min_scalar_type(max(len(levels), 1)), copy=False)
        # pandas-stubs 2.3 types `codes` as Sequence[int]; pandas takes (and here gets) an integer array.
        cat = pd.Categorical.from_codes(np.repeat(codes, flat), categories=levels)  # type: ignore[arg-type]
        return pd.Series(cat, name=label)

    rows = []
    for k in keys:
        levels = _sorted_levels(frame[k])
        rows.append(expand(np.repeat(levels.get_indexer(frame[k]), nv), levels, k))
    col = expand(np.tile(np.arange(nv), len(frame)), pd.Index(values), measure)
    s = Session(ctx.profile, ledger=ctx.ledger, run=ctx.run_name)
    # The expanded records are made up: they enter the ledger as released counts only, compared by content.
    return s.crosstab(
        rows,
        col,
        margins=margins,
        name=uid,
        description=description,
        population=population,
        record_id=False,
        structural_zeros=list(structural) or None,
    )


def declared_cells(
    spec: Sequence[object] | pd.DataFrame | None,
    frame: pd.DataFrame,
    keys: list,
    values: list,
    problems: list[str],
) -> list[tuple]:
    """The cells `structural_zeros=` declares, each as its key labels then its value column (the crosstab's cell).

    Three forms, one per call: row labels (one per key column: every value column of the row), cell labels (those
    and a value column) or a boolean DataFrame shaped like the table as saved (index: the key columns; columns:
    value columns; True = cannot occur). A label must be one of its column's labels in the table; anything else
    is added to `problems` (positions and counts only: no label is repeated back).

    Example:
        >>> f = pd.DataFrame({"year": [2010, 2011], "mags": [0, 40], "prison": [30, 35]})
        >>> declared_cells([(2010, "mags")], f, ["year"], ["mags", "prison"], [])
        [(2010, 'mags')]
        >>> declared_cells([2010], f, ["year"], ["mags", "prison"], [])
        [(2010, 'mags'), (2010, 'prison')]
    """
    if spec is None or (not isinstance(spec, pd.DataFrame) and not len(spec)):
        return []
    how = (
        f"one label per key column ({', '.join(map(str, keys))}) for a whole row, or those and a value column "
        f"({', '.join(map(str, values))}) for one cell, or a DataFrame of True/False shaped like the table"
    )
    if isinstance(spec, pd.DataFrame):
        entries = _mask_cells(spec, keys, values, problems)
        if entries is None:
            return []
    elif isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
        problems.append(f"structural_zeros= takes a list of label tuples or a DataFrame: {how}")
        return []
    else:
        entries = [tuple(z) if isinstance(z, (tuple, list)) else (z,) for z in spec]
    arity = {len(z) for z in entries}
    if any(isinstance(z, pd.DataFrame) for z in spec if not isinstance(spec, pd.DataFrame)) or len(arity) > 1:
        problems.append(f"structural_zeros= mixes forms: use one of them for the whole table: {how}")
        return []
    n = arity.pop() if arity else len(keys)
    if n not in (len(keys), len(keys) + 1):
        problems.append(f"structural_zeros= entries have {n} label(s): give {how}")
        return []
    levels = [set(frame[k]) for k in keys] + [set(values)]
    unmatched = [i for i, z in enumerate(entries, 1) if not all(lab in lv for lab, lv in zip(z, levels, strict=False))]
    if unmatched:
        where = ", ".join(map(str, unmatched[:5])) + (" ..." if len(unmatched) > 5 else "")
        problems.append(
            f"structural_zeros= entries {where} ({len(unmatched)} of {len(entries)}) match no cell of the table: "
            f"each label must be one of its column's labels in the table; give {how}"
        )
        return []
    cells = entries if n == len(keys) + 1 else [(*z, v) for z in entries for v in values]
    return list(dict.fromkeys(cells))


def _mask_cells(mask: pd.DataFrame, keys: list, values: list, problems: list[str]) -> list[tuple] | None:
    """The True cells of a boolean DataFrame shaped like the table (key columns as index, value columns)."""
    names = [n for n in mask.index.names if n is not None]
    shape_ok = mask.index.nlevels == len(keys) and (not names or list(mask.index.names) == keys)
    if not shape_ok or not set(mask.columns) <= set(values):
        problems.append(
            f"structural_zeros= as a DataFrame must be shaped like the table: index the key columns "
            f"({', '.join(map(str, keys))}), columns among the value columns ({', '.join(map(str, values))})"
        )
        return None
    if not all(pd.api.types.is_bool_dtype(mask[c]) for c in mask.columns):
        problems.append("structural_zeros= as a DataFrame holds True/False only (True = the cell cannot occur)")
        return None
    return [
        (*(r if isinstance(r, tuple) else (r,)), c)
        for r, row in zip(mask.index, mask.to_numpy(bool), strict=True)
        for c, hit in zip(mask.columns, row, strict=True)
        if hit
    ]


def _restate(
    oc: Output, frame: pd.DataFrame, keys: list, values: list, statistic: str, ratio_checked: bool = False
) -> Output:
    """The statistic laid out like its checked counts; cells withheld from the counts are withheld here too.

    A ratio whose counts are a column of the table (`ratio_checked`) is judged by its numerator (value x count) and,
    for a proportion, the count minus it (`derived_rows`): no dominance question is left for the checker.
    """
    long = pd.Series(
        frame[values].to_numpy().ravel(),
        index=pd.MultiIndex.from_arrays(
            [np.repeat(frame[k].to_numpy(), len(values)) for k in keys]
            + [np.tile(np.asarray(values, dtype=object), len(frame))]
        ),
    )
    per_row = oc.table.shape[1] == 1 and len(values) > 1  # one count column shared by every value of a row
    columns = pd.Index(values, name=oc.table.columns.name) if per_row else oc.table.columns
    target = [(*(r if isinstance(r, tuple) else (r,)), c) for r in oc.table.index for c in columns]
    vals = long.reindex(pd.MultiIndex.from_tuples(target)).to_numpy(np.float64)
    table = pd.DataFrame(vals.reshape(len(oc.table), len(columns)), index=oc.table.index, columns=columns)
    assert oc.mask is not None  # a checked count table always has its mask
    withheld = np.repeat(oc.mask.to_numpy(bool), len(columns), axis=1) if per_row else oc.mask.to_numpy(bool)
    table = table.mask(withheld)
    for c in columns:  # integer columns (counts) stay integers in the CSV
        if c in frame.columns and pd.api.types.is_integer_dtype(frame[c]):
            table[c] = table[c].round().astype("Int64")
    out = dataclasses.replace(
        oc,
        table=table,
        statistic=statistic,
        mask=pd.DataFrame(withheld, index=table.index, columns=columns),
        properties={**oc.properties, "statistic": statistic},
    )
    if ratio_checked:
        return out
    add_reason(out, "CountsOnlyCheck", "review", _counts_only_question(statistic))
    return out


def _counts_only_question(statistic: str) -> str:
    """The one thing a checker decides about a statistic checked through its counts only (threshold, zeros and
    suppression done), by what the statistic is."""
    kind = statistic_kind(statistic)
    if statistic in RATIO_STATISTICS:
        return (
            "check each value's numerator (value x count) and the count minus it are 0 or not small: pass counts= "
            "as a column of the table to have them checked"
        )
    if kind == "linear":
        return (
            f"check no cell's `{statistic}` is dominated by one or two units (its counts were checked); or make it "
            "with outputs.session().pivot_table(...) to have dominance checked"
        )
    if kind in ("position", "extreme"):
        return (
            f"check each `{statistic}` is a value shared by several units or rounded, not one unit's value (its "
            "counts were checked); or make it with outputs.session().pivot_table(...) to have it checked"
        )
    return (
        f"check `{statistic}` cannot be turned back into a small count or one unit's value (only the counts "
        "behind each cell were checked)"
    )


def check_frame(
    table: pd.DataFrame | pd.Series,
    uid: str,
    description: str,
    population: str,
    statistic: str,
    counts: object,
    index: str | Sequence[str] | None,
    ctx: RunContext,
    problems: list[str],
    margins: bool | str = False,
    structural_zeros: Sequence[object] | pd.DataFrame = (),
) -> Output:
    """Read `table` as row labels and values and check it under the run's profile (`save_table`'s DataFrame path).

    Problems with the table's layout are collected in `problems` and raised together, after those of the call.
    `margins` (count tables only): True publishes the totals of every row and column (pandas' ``margins=True``),
    a key column's name first spreads that column's levels across the columns, so each row's total over it is
    published (`_spread`). Totals come from the unprotected counts and are protected with the table.

    Example:
        >>> from djs_toolkit.outputs.stage import current_context
        >>> t = pd.DataFrame({"court": ["a", "b"], "n": [40, 55]})
        >>> check_frame(t, "t1", "by court", "all", "count", None, None, current_context(), []).table["n"].tolist()
        [40, 55]
    """
    frame, keys, values = _layout(table, index, problems)
    if margins is not False and statistic != "count":
        problems.append("margins= is for count tables: totals of a statistic are not sums of its cells")
    elif isinstance(margins, str):
        frame, keys, values = _spread(frame, keys, values, margins, problems)
    if statistic == "count":
        _whole(frame, values, "count", problems)
        if counts is not None:
            problems.append("counts= is for statistics other than counts: drop it, or pass statistic= (e.g. 'mean')")
    cnt = (
        frame[values]
        if statistic == "count"
        else (None if counts is None else _counts_frame(counts, frame, keys, values, index, problems))
    )
    zeros = declared_cells(structural_zeros, frame, keys, values, problems)
    if zeros and statistic != "count":
        if counts is None:
            problems.append("structural_zeros= declares zeros of the counts behind the table: pass counts= too")
        elif isinstance(counts, str):  # one count column behind every value of a row: its cells are the rows'
            zeros = list(dict.fromkeys((*z[:-1], counts) for z in zeros))
    if problems:
        raise problems_error(problems, f"save_table({uid!r})")
    shown = frame.set_index(keys)[values].sort_index()
    scan = scan_frame(shown, statistic, min_safe_count=0)  # small counts are the checker's job, next
    if scan:  # identifiers or a row-level frame: never expanded, never checked, never released
        out = Output(
            uid,
            "fail",
            "table",
            "save_table",
            statistic,
            pd.DataFrame(),
            description=description,
            population=population,
            variables=[str(c) for c in keys + values],
        )
        for p in scan:
            add_reason(out, "SafetyScan", "fail", p)
        return out
    if cnt is None:
        out = Output(
            uid,
            "review",
            "table",
            "save_table",
            statistic,
            shown,
            description=description,
            population=population,
            variables=[str(c) for c in keys + values],
        )
        add_reason(
            out,
            "MissingCountsCheck",
            "review",
            f"no unweighted counts were given for `{statistic}`: pass counts= (a table of the same shape with "
            f"the number of units behind each cell, or the name of a count column)",
        )
        return out
    if int(cnt.to_numpy(np.float64).sum()) > MAX_UNITS:
        out = Output(
            uid, "review", "table", "save_table", statistic, shown, description=description, population=population
        )
        add_reason(
            out,
            "TooLargeToCheck",
            "review",
            f"more than {MAX_UNITS} units: check it from the records with outputs.session()",
        )
        return out
    oc = _checked_counts(frame, keys, cnt, uid, description, population, ctx, margins=bool(margins), structural=zeros)
    oc.command = f"save_table({uid!r}, statistic={statistic!r})"
    oc.properties["method"] = "save_table"
    # Derived values only from protected counts: what the statistic, nested counts and companions give away.
    prof = load_profile(ctx.profile)
    col = counts if isinstance(counts, str) else None
    der = derived_rows(frame, keys, values, col, statistic, prof, ctx, uid)
    if der.counts_from is None and der.rows.any():
        oc = withhold_rows(oc, frame, keys, cnt, der.rows, prof)
    if statistic == "count":
        for rule, text in der.reasons:
            add_reason(oc, rule, "review", text)
        oc.properties["count_columns"] = [str(v) for v in values]
        return oc
    out = _restate(oc, frame, keys, values, statistic, ratio_checked=col is not None and statistic in RATIO_STATISTICS)
    if col is None:
        for rule, text in der.reasons:
            add_reason(out, rule, "review", text)
        return out
    return restate_derived(out, oc, frame, keys, values, col, statistic, der, prof)
