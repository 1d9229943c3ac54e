"""Declared outputs: `save_table` and `save_figure` are the only way a notebook writes an output.

Every output goes through the output checker (`djs_toolkit.sdc`) under the run's profile, then through the safety
scan, and is staged at once as a complete record (see `outputs.stage`). `djs run` assembles the records of all
notebook runs into `outputs/<run_id>/`; nothing else reaches a release folder ("any outputs not labelled will not
be saved": docs/workflow.md §1.1, §6.4). Figures are released only beside their protected underlying table
(OpenSAFELY rejects ~10% of outputs for missing underlying data: §1.3).

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"court": ["a", "b"], "n": [40, 55]})
    >>> save_table(t, "courts", "defendants per court", "all defendants 2020").status
    saved courts: pass
    'pass'
"""

from __future__ import annotations

import dataclasses
import io
import weakref
from collections.abc import Sequence
from typing import Any

import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.companions import register
from djs_toolkit.outputs.curves import SURVIVAL_STATISTICS, curve_output, is_curve_table
from djs_toolkit.outputs.frames import MAX_UNITS, add_reason, check_frame, problems_error
from djs_toolkit.outputs.scan import scan_frame, scan_release
from djs_toolkit.outputs.stage import RunContext, configure, current_context, name_problems, write_record
from djs_toolkit.sdc import EXCEPTION_CODES, Output, Session, load_profile, protect_overlap
from djs_toolkit.sdc.lifelines_models import lifelines_kind
from djs_toolkit.sdc.models import COEFFICIENT_STATISTICS, series_flags
from djs_toolkit.sdc.rules import worst
from djs_toolkit.sdc.share import share_text

__all__ = ["MAX_UNITS", "configure", "save_figure", "save_table", "scan_release", "session"]

_SESSIONS: list[Session] = []
_SAVED: weakref.WeakSet[Output] = weakref.WeakSet()


def session() -> Session:
    """A checking Session under the run's profile and ledger; its Outputs can be passed to save_table/save_figure.

    Example:
        >>> import pandas as pd
        >>> s = session()
        >>> s.crosstab(pd.Series(["a"] * 12, name="g"), pd.Series(["x"] * 12, name="c")).status
        'pass'
    """
    ctx = current_context()
    s = Session(ctx.profile, ledger=ctx.ledger, run=ctx.run_name)
    _SESSIONS.append(s)
    return s


def _accepted(o: Output, ctx: RunContext) -> bool:
    if o in _SAVED:
        return True
    prof = load_profile(ctx.profile).to_dict()
    return any(s.outputs.get(o.name) is o and s.profile.to_dict() == prof for s in _SESSIONS)


def _common_problems(name: object, description: object, population: object) -> list[str]:
    problems = name_problems(name)
    # Insufficient context is a quarter of OpenSAFELY rejections (docs/workflow.md §1.3): both are required.
    for what, text in (("description", description), ("population", population)):
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{what} is empty: say what the output shows and for whom (it goes to CLEARANCE.md)")
    return problems


def _copy(o: Output, uid: str, description: str | None, population: str | None) -> Output:
    # A shallow copy with its own mutable parts: the caller's Output is never changed.
    return dataclasses.replace(
        o,
        name=uid,
        description=description or o.description,
        population=population or o.population,
        properties=dict(o.properties),
        comments=list(o.comments),
        exceptions=list(o.exceptions),
        controls=list(o.controls),
        variables=list(o.variables),
    )


def _finish(
    o: Output,
    ctx: RunContext,
    name: str,
    comments: str | Sequence[str],
    exception: tuple[str, str] | None,
    figure: bytes | None = None,
    given: pd.DataFrame | pd.Series | None = None,
) -> Output:
    notes = [comments] if isinstance(comments, str) else list(comments or [])
    o.comments.extend(str(c) for c in notes)
    if exception is not None:
        code, text = exception
        if code not in EXCEPTION_CODES:
            raise DJSUserError(f"exception reason code {code!r} is unknown: use one of {list(EXCEPTION_CODES)}")
        o.exceptions.append({"reason_code": str(code), "text": str(text)})
    if o.status != "fail" and len(o.table.columns):
        for p in scan_frame(
            o.table,
            o.statistic if o.type != "histogram" else "histogram",
            load_profile(ctx.profile).min_safe_count,
            o.mask,
        ):
            add_reason(o, "SafetyScan", "fail", p)
    # Layout facts the file-level scan needs to tell row labels from counts (outputs.scan.scan_csv).
    o.properties["index_levels"] = int(o.table.index.nlevels)
    o.properties["csv_header_rows"] = 1 if o.table.columns.nlevels == 1 else o.table.columns.nlevels + 1
    write_record(ctx, name, o, figure if o.status != "fail" else None)
    _SAVED.add(o)
    register(ctx, o, load_profile(ctx.profile), given)  # later tables of the run stay consistent with this one
    withheld = int(o.mask.to_numpy().sum()) if o.mask is not None and o.mask.size else 0
    # Declared structural zeros are marks, not flags: said as such, apart from what is left for the checker.
    marks = o.reasons[(o.reasons["rule"] == "StructuralZeroCheck") & (o.reasons["status"] == "pass")]
    shown = o.reasons.drop(marks.index)
    flags = shown["rule"].value_counts().sort_index() if len(shown) else pd.Series(dtype=int)
    structural = len(o.properties.get("structural_cells", []))
    # Counts and rule names only: this line lands in the executed notebook, a log (ehrql DEVELOPERS.md, docs/workflow.md
    # §1.4).
    print(
        f"saved {o.name}: {o.status}"
        + (f", {withheld} cell(s) withheld" if withheld else "")
        + (f" ({share})" if withheld and (share := share_text(o.properties)) else "")
        + ("; flags: " + ", ".join(f"{r} x{c}" for r, c in flags.items()) if len(flags) else "")
        + (f"; {structural} structural zero(s) declared" if structural else "")
        + ("; NOT released" if o.status == "fail" else "")
    )
    return o


def save_table(
    table: pd.DataFrame | pd.Series | Output,
    name: str,
    description: str,
    population: str,
    *,
    statistic: str = "count",
    counts: pd.DataFrame | str | None = None,
    index: str | Sequence[str] | None = None,
    comments: str | Sequence[str] = (),
    exception: tuple[str, str] | None = None,
    data: pd.DataFrame | None = None,
    event: object = None,
    margins: bool | str = False,
    structural_zeros: Sequence[object] | pd.DataFrame = (),
) -> Output:
    """Check a table or a fitted model under the run's profile and stage it for release; returns the checked Output.

    The one path by which a result leaves a notebook: the checker's special constructions are chosen here from
    what is passed, never by calling the checker separately.

    Args:
        table: a DataFrame; a fitted model (`survival.cox` / `survival.finegray` results, statsmodels results, a
            lifelines CoxPHFitter), checked by what it reveals (`sdc.Session.regression`); a fitted lifelines
            KaplanMeierFitter / AalenJohansenFitter (or a list of them, one per group), checked as a curve
            (`sdc.Session.km` / `cif`); an `analyses.overlap.overlap_sets` table with
            ``statistic="overlap"``, protected as one linked table (`sdc.protect_overlap`); or an Output from
            `session()` (checked already). In a DataFrame, non-numeric columns, the named index and the columns
            in `index=` are row labels; the other columns are values.
        name: 1-32 lower-case letters, digits, `_`, `-`; unique in the notebook run.
        description: what the table shows (goes to CLEARANCE.md).
        population: who is counted (goes to CLEARANCE.md).
        statistic: `count` (the default: values are counts, checked directly) or the name of the statistic the
            values are (`mean`, `rate`, ...). Such tables need `counts=` or they come out `review`.
        counts: the unweighted number of units behind each value: a DataFrame of the same shape, or the name of a
            count column of `table`. Cells withheld from the counts are withheld from the statistic. For a table of
            coefficients (``statistic="coefficient"``, `log_rate_ratio`, ...) fitted on a series of counts (an
            interrupted time series): that series as a Series, judged by events per coefficient, residual degrees
            of freedom and its smallest count.
        index: numeric columns that are row labels (e.g. `year`), which would otherwise be read as values.
        comments: researcher comments for the checker.
        exception: `(reason_code, text)` requesting an exception; it annotates, never changes, the status.
        data: for a fitted Cox or Fine-Gray model, the rows it was fitted on (with the covariate columns), so the
            events behind every indicator are checked; without it the model comes out `review`.
        event: for a fitted model with `data=`: the event column name (or codes).
        margins: for a count table, publish its true totals with it, protected as one table (the checker's
            crosstab margins, computed from the unprotected counts: never a sum of protected cells). True: the
            totals of every row and column as laid out; a key column's name: that column's levels become
            columns, and each row's total over them is published (column "All"), e.g. ``margins="sex"``.
        structural_zeros: the cells of a count table (or of the `counts=` behind a statistic) that cannot occur
            (a year outside a dataset's coverage, a move from a court to the same court), in one of three forms:
            row labels (a tuple, one label per key column: every value column of the row); cell labels (those and
            a value column, e.g. ``(2008, "mags_hocas")`` in a table saved with ``index="year"`` and a column per
            dataset); or a DataFrame of True/False shaped like the table as saved (the key columns as its index,
            value columns; True = cannot occur). Labels are the table's own, as laid out for release (after
            ``margins=<column>`` spreads a column). Their zeros are published as zeros that cannot occur (listed
            as structural in CLEARANCE.md and results.json, not flagged for the checker) and count as known zeros
            when withheld cells are protected. A declared cell that has records fails the whole output (the
            declaration is wrong: nothing is released); an entry that matches no cell of the table, has the wrong
            number of labels or mixes forms is refused with a `DJSUserError`.

    Returns:
        The checked Output (status `pass`, `review` or `fail`; `fail` is recorded but never released).

    Example:
        >>> t = pd.DataFrame({"year": [2019, 2020, 2021], "mean_days": [41.5, 38.0, 40.0], "n": [120, 150, 3]})
        >>> o = save_table(t, "days", "mean days to trial", "trials 2019-21", statistic="mean", counts="n",
        ...                index="year")  # doctest: +ELLIPSIS
        saved days: review, 4 cell(s) withheld (45.1% of the total in withheld cells); flags: ...
        >>> o.table["mean_days"].tolist()  # 2021 has 3 trials; 2019 is withheld too, or the total would give it
        [nan, 38.0, nan]

        Structural zeros, cell by cell: crown court records start in 2013, so 2012 cannot hold one.

        >>> v = pd.DataFrame({"year": [2012, 2013], "crown": [0, 40], "mags": [35, 38]})
        >>> o = save_table(v, "vol", "events per year", "all events", index="year", structural_zeros=[(2012, "crown")])
        saved vol: pass; 1 structural zero(s) declared
        >>> int(o.table.loc[2012, "crown"]), o.properties["structural_cells"]  # published: a zero that cannot occur
        (0, [(0, 0)])
    """
    ctx = current_context()
    problems = _common_problems(name, description, population)
    if margins is not False and not (isinstance(table, (pd.DataFrame, pd.Series)) and statistic == "count"):
        problems.append("margins= applies to a DataFrame of counts (statistic='count')")
    if (isinstance(structural_zeros, pd.DataFrame) or len(structural_zeros)) and not _plain_table(
        table, str(statistic), counts
    ):  # never dropped silently: a declaration no check reads would leave its zeros flagged with no word why
        problems.append(
            "structural_zeros= applies to a table of counts, or of a statistic with counts= (an Output is checked "
            "already: declare them where it was made; curves, models and overlap sets take none)"
        )
    uid = ctx.uid(name) if not problems else str(name)
    if isinstance(table, Output):
        if not _accepted(table, ctx):
            problems.append(
                "this Output was not made under the run's profile: make it with "
                "djs_toolkit.outputs.session() (or pass the DataFrame)"
            )
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        out = _copy(table, uid, description, population)
    elif statistic == "overlap" and isinstance(table, pd.DataFrame):
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        out = _copy(protect_overlap(table, session(), name=str(name)), uid, description, population)
    elif _is_model(table):
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        fitted = session().regression(table, name=str(name), data=data, event=event)
        out = _copy(fitted, uid, description, population)
    elif lifelines_kind(table) in ("km", "cif"):  # fitted lifelines curves: the safe KM path, like a curve table
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        check = session().km if lifelines_kind(table) == "km" else session().cif
        checked = check(table, name=uid, description=description, population=population)
        out = _copy(checked, uid, description, population)
    elif isinstance(table, (pd.DataFrame, pd.Series)) and (statistic in SURVIVAL_STATISTICS or is_curve_table(table)):
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        # named by its id: the steps of curves of different runs are different dimensions in the ledger
        curve = curve_output(table, session(), uid, str(statistic), description, population)
        out = _copy(curve, uid, description, population)
    elif isinstance(table, pd.DataFrame) and statistic in COEFFICIENT_STATISTICS and isinstance(counts, pd.Series):
        if problems:
            raise problems_error(problems, f"save_table({name!r})")
        out = _coefficients(table, uid, description, population, str(statistic), counts, ctx)
    elif isinstance(table, (pd.DataFrame, pd.Series)):
        out = check_frame(
            table,
            uid,
            description,
            population,
            str(statistic),
            counts,
            index,
            ctx,
            problems,
            margins=margins,
            structural_zeros=structural_zeros,
        )
    else:
        raise DJSUserError(
            f"save_table needs a DataFrame, a fitted model or a checked Output, not {type(table).__name__}."
        )
    given = table if isinstance(table, (pd.DataFrame, pd.Series)) else None
    return _finish(out, ctx, name, comments, exception, given=given)


def _coefficients(
    table: pd.DataFrame, uid: str, description: str, population: str, statistic: str, counts: pd.Series, ctx: RunContext
) -> Output:
    """A table of coefficients fitted on a series of counts, judged by that series (`sdc.models.series_flags`)."""
    keys = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    shown = table.set_index(keys) if keys else table.copy()
    out = Output(
        uid, "pass", "regression", "save_table", statistic, shown, description=description, population=population
    )
    out.variables = [str(c) for c in table.columns]
    out.n = int(pd.to_numeric(counts, errors="coerce").fillna(0).sum())
    out.dof = float(counts.notna().sum() - len(shown))
    for _, rule, status, summary in series_flags(len(shown), counts, load_profile(ctx.profile)):
        add_reason(out, rule, status, summary)
    return out


def _plain_table(table: object, statistic: str, counts: object) -> bool:
    """Whether save_table checks `table` through `check_frame` (the path that reads structural_zeros=)."""
    if not isinstance(table, (pd.DataFrame, pd.Series)) or _is_model(table):
        return False
    if statistic in SURVIVAL_STATISTICS or is_curve_table(table) or statistic == "overlap":
        return False
    return not (statistic in COEFFICIENT_STATISTICS and isinstance(counts, pd.Series))


def _is_model(obj: object) -> bool:
    """A fitted model: anything with coefficients (`params`) that is not a table, or a lifelines regression."""
    if lifelines_kind(obj) == "model":
        return True
    return not isinstance(obj, (pd.DataFrame, pd.Series, Output)) and hasattr(obj, "params")


def _png(fig: Any, dpi: int) -> bytes:
    """PNG bytes of `fig`: a matplotlib Figure, or anything with its `savefig` (save_figure checks that)."""
    buf = io.BytesIO()
    # Volatile metadata stripped so the bytes depend on the drawing only (docs/workflow.md §5.2).
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def save_figure(
    fig: object,
    name: str,
    underlying: Output,
    description: str | None = None,
    population: str | None = None,
    *,
    source: Output | Sequence[Output] | None = None,
    dpi: int = 100,
    comments: str | Sequence[str] = (),
) -> Output:
    """Stage a figure for release beside its protected underlying table (`<name>.png` + `<name>.csv`).

    The figure is drawn by researcher code, so the checker cannot prove it shows no more than the table: without
    `source=` it comes out at least `review`, asking the checker to compare it with the table. With `source=`, the
    researcher declares it was drawn only from those checked, released tables (e.g. by `djs_toolkit.plotting` from
    the underlying Output): the figure takes their status and names them, so the checker compares it with them.
    A figure whose underlying Output or a source failed is not released.

    Args:
        fig: a matplotlib Figure (saved as PNG, metadata stripped).
        name: as for save_table.
        underlying: the checked Output the figure was drawn from (from save_table or `session()`). Required.
        description: defaults to the underlying Output's description.
        population: defaults to the underlying Output's population.
        source: the Outputs the figure was drawn from, and nothing else: `underlying` itself or tables saved with
            save_table in this run (released beside their own figures or alone).
        dpi: resolution of the PNG.
        comments: researcher comments for the checker.

    Returns:
        The figure's Output (a copy of the underlying one, with the figure's status and reasons).

    Example:
        >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
        >>> o = save_table(pd.DataFrame({"g": ["a", "b"], "n": [30, 40]}), "g", "by g", "all")  # doctest: +ELLIPSIS
        saved g: pass...
        >>> fig, ax = plt.subplots(); _ = ax.bar(["a", "b"], o.table["n"])
        >>> save_figure(fig, "g_fig", underlying=o).status  # doctest: +ELLIPSIS
        saved g_fig: review...
        'review'
        >>> save_figure(fig, "g_fig2", underlying=o, source=o).status  # drawn from the released table only
        saved g_fig2: pass
        'pass'
    """
    ctx = current_context()
    problems = _common_problems(
        name,
        description or getattr(underlying, "description", None),
        population or getattr(underlying, "population", None),
    )
    if not isinstance(underlying, Output):
        problems.append(
            "a figure is released only beside its checked underlying table: pass underlying=<the Output "
            "from save_table(...) or outputs.session()>"
        )
    elif not _accepted(underlying, ctx):
        problems.append("underlying= was not made under the run's profile: make it with djs_toolkit.outputs.session()")
    if not hasattr(fig, "savefig"):
        problems.append(f"fig must be a matplotlib Figure, not {type(fig).__name__}")
    sources = _sources(source, underlying, problems)
    if problems:
        raise problems_error(problems, f"save_figure({name!r})")
    out = _copy(underlying, ctx.uid(name), description, population)
    out.type = "table" if out.type == "histogram" else out.type  # the researcher's figure replaces the checker's
    out.properties["figure"] = f"{out.name}.png"
    if sources:
        # Declared drawn only from checked, released tables: as safe as they are (their worst status), and named
        # so the checker compares the figure with them rather than judging it alone.
        out.status = worst([out.status, *(s.status for s in sources)])
        out.properties["figure_sources"] = [s.name for s in sources]
        failed = [s.name for s in sources if s is not underlying and s.status == "fail"]
        if failed:
            add_reason(out, "FigureSourceCheck", "fail", f"drawn from {', '.join(failed)}, withheld: not released")
        pending = [s.name for s in sources if s is not underlying and s.status == "review"]
        if pending:
            add_reason(
                out, "FigureSourceCheck", "review", f"decide {', '.join(pending)} first: the figure shows its values"
            )
    else:
        add_reason(
            out,
            "FigureCheck",
            "review",
            f"check the figure shows only released values of {underlying.name} (the table beside it, same name, "
            ".csv); or pass source= when it is drawn only from released tables",
        )
    return _finish(out, ctx, name, comments, None, figure=_png(fig, dpi))


def _sources(source: object, underlying: object, problems: list[str]) -> list[Output]:
    """The checked, released Outputs a figure declares it was drawn from (`save_figure(source=...)`)."""
    if source is None:
        return []
    given = [source] if isinstance(source, Output) else list(source) if isinstance(source, (list, tuple)) else [source]
    out: list[Output] = []
    for s in given:
        if not isinstance(s, Output) or (s is not underlying and s not in _SAVED):
            problems.append(
                "source= takes the Outputs the figure was drawn from: underlying= or tables saved with save_table "
                f"in this run, not {type(s).__name__}"
            )
        else:
            out.append(s)
    return out
