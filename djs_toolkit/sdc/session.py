"""`Session`: ACRO-like calls (crosstab, pivot_table, hist, regression, custom, finalise) that check as they go.

Each table call runs: cell labels -> single-pass evidence -> rules -> protection -> attacker audit -> Output.
Names mirror ACRO 1.0.2 (docs/disclosure.md §2.1) so ACRO users can switch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.histogram import bin_values
from djs_toolkit.sdc.lifelines_models import lifelines_model
from djs_toolkit.sdc.model_facts import model_released
from djs_toolkit.sdc.models import check_model, model_inputs
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.report import reason_frame
from djs_toolkit.sdc.rules import worst
from djs_toolkit.sdc.session_base import command_line, record_ids, set_record_keys
from djs_toolkit.sdc.session_outputs import CurvesAndTables
from djs_toolkit.sdc.session_tables import check_table
from djs_toolkit.sdc.statistics import statistic_name

__all__ = ["EXCEPTION_CODES", "Session"]

# Structured exception reasons (docs/disclosure.md §7.5); exceptions annotate an output, they never change its status.
EXCEPTION_CODES = (
    "structural_zero",
    "publicly_available",
    "not_about_persons",
    "aggregate_of_released",
    "negligible_risk",
    "other",
)


def _as_keys(obj: object, default: str) -> list[pd.Series]:
    items = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    keys = []
    for i, item in enumerate(items):
        s = item if isinstance(item, pd.Series) else pd.Series(np.asarray(item))
        keys.append(s if s.name is not None else s.rename(f"{default}_{i}"))
    return keys


class Session(CurvesAndTables):
    """A checking session: every call returns a checked `Output`; `finalise` writes the clearance folder.

    Every output is checked for differencing against the ledger's earlier outputs, then recorded there unless it
    fails (`session_ledger`); without `ledger=` the ledger lives in this session only. The state and the steps
    every call shares are in `SessionBase`; `km`, `cif` and `table` in `CurvesAndTables`.

    Args:
        profile: `srs` (default), `opensafely`, `acro`, the path of a YAML profile, or a Profile.
        ledger: folder of the project's differencing ledger (checker-only; created on first use).
        differencing_lp_budget: LPs the differencing check may solve per output before it gives `review` (a count,
            not seconds, so the same outputs always get the same answer).
        run: the notebook run this session belongs to under `djs run` (its label); the session then compares its
            outputs only with that run's ledger entries, and the runner compares across runs afterwards.

    Example:
        >>> s = Session("srs")
        >>> df = pd.DataFrame({"court": ["A"] * 30 + ["B"] * 25, "out": ["x", "y"] * 27 + ["x"]})
        >>> s.crosstab(df.court, df.out).status
        'pass'
    """

    # -- tables -----------------------------------------------------------------------------------------------
    def crosstab(
        self,
        index: object,
        columns: object,
        values: object | None = None,
        aggfunc: object | None = None,
        margins: bool = False,
        name: str | None = None,
        description: str | None = None,
        population: object | None = None,
        *,
        normalize: bool | str = False,
        weights: object | None = None,
        structural_zeros: object | None = None,
        record_id: object | None = None,
        statistic: str | None = None,
    ) -> Output:
        """Checked `pandas.crosstab`: counts, or `aggfunc` of `values`, by `index` x `columns`.

        Args:
            index: Series (or list of Series) for the rows.
            columns: Series (or list of Series) for the columns.
            values: numeric Series summarised by `aggfunc` (None for a frequency table).
            aggfunc: `sum`, `mean`, `median`, `pNN`, `min`, `max`, `std`, `var`, `count` (by name or as the
                numpy function); any other function is `fail` unless `statistic=` declares what it computes.
            margins: show the grand-total row and column (margins are protected either way).
            name: output id (default `output_<k>`).
            description: what the output shows (goes to CLEARANCE.md).
            population: a description of the population, or a boolean filter with one value per record.
            normalize: `index`, `columns` or `all`/True: proportions recomputed from the protected counts.
            weights: per-record weights (counts/sums displayed weighted; thresholds stay unweighted).
            structural_zeros: label tuples of cells that cannot occur (not flagged as zeros).
            record_id: per-record ids (e.g. person ids) keying records in the differencing ledger across
                outputs, notebooks and reruns (default: the index of `index`).
            statistic: for an aggfunc the checker cannot name (a lambda, your own function): the statistic it
                computes (`mean`, `p90`, ...); the checker computes that itself and fails the output if they differ.

        Returns:
            The checked Output.

        Example:
            >>> s = Session()
            >>> o = s.crosstab(pd.Series(["a"] * 12 + ["b"] * 3, name="g"), pd.Series(["x"] * 15, name="c"))
            >>> o.status, int(o.table.isna().sum().sum())
            ('review', 2)
        """
        cmd = command_line()
        rkeys, ckeys = _as_keys(index, "row"), _as_keys(columns, "col")
        if values is not None and aggfunc is None:
            raise DJSUserError("crosstab with values= needs aggfunc= (e.g. 'sum' or 'mean').")
        if values is None and aggfunc is not None:
            raise DJSUserError("crosstab with aggfunc= needs values=: pass the numeric Series to summarise.")
        stat = "count" if values is None else statistic_name(aggfunc)
        axes = None
        if normalize:
            if values is not None:
                raise DJSUserError("normalize= applies to frequency tables only: drop values=/aggfunc=.")
            nr, nd = len(rkeys), len(rkeys) + len(ckeys)
            choice = {"index": tuple(range(nr, nd)), "columns": tuple(range(nr)), "all": tuple(range(nd))}
            key = "all" if normalize is True else normalize
            if key not in choice:
                raise DJSUserError("normalize must be False, True, 'all', 'index' or 'columns'.")
            axes, stat = choice[str(key)], "proportion"
        out = check_table(
            self.profile,
            method="crosstab",
            keys=rkeys + ckeys,
            n_row_dims=len(rkeys),
            values=values,
            stat=stat,
            aggfunc=aggfunc,
            margins=margins,
            description=description,
            population=population,
            weights=weights,
            structural_zeros=structural_zeros,
            record_id=record_id,
            axes=axes,
            name=self._name(name),
            declared=statistic,
        )
        return self._output(out, cmd)

    def pivot_table(
        self,
        data: pd.DataFrame,
        values: str | Sequence[str],
        index: str | Sequence[str],
        columns: str | Sequence[str] | None = None,
        aggfunc: object = "mean",
        margins: bool = False,
        name: str | None = None,
        description: str | None = None,
        population: object | None = None,
        *,
        weights: str | None = None,
        structural_zeros: object | None = None,
        record_id: object | None = None,
        statistic: str | None = None,
    ) -> Output:
        """Checked `pandas.pivot_table` of one `values` column (arguments as for `crosstab`).

        Example:
            >>> df = pd.DataFrame({"g": ["a"] * 20 + ["b"] * 20, "v": np.arange(40.0)})
            >>> Session().pivot_table(df, values="v", index="g", aggfunc="mean").table["v"].tolist()
            [9.5, 29.5]
        """
        cmd = command_line()
        if not isinstance(data, pd.DataFrame):
            raise DJSUserError("pivot_table needs a DataFrame as data.")
        vals = [values] if isinstance(values, str) else list(values)
        if len(vals) != 1:
            raise DJSUserError("pivot_table checks one values column per output: call it once per column.")
        rows = [index] if isinstance(index, str) else list(index)
        cols = [] if columns is None else ([columns] if isinstance(columns, str) else list(columns))
        missing = [c for c in rows + cols + vals + ([weights] if weights else []) if c not in data.columns]
        if missing:
            raise DJSUserError(f"pivot_table: column(s) {missing} not in data: check the names.")
        keys = [data[c] for c in rows + cols]
        stat = statistic_name(aggfunc)
        w = data[weights] if weights else None
        out = check_table(
            self.profile,
            method="pivot_table",
            keys=keys,
            n_row_dims=len(rows),
            values=data[vals[0]],
            stat=stat,
            aggfunc=aggfunc,
            margins=margins,
            description=description,
            population=population,
            weights=w,
            structural_zeros=structural_zeros,
            record_id=record_ids(data, record_id),
            value_name=vals[0] if not cols else None,
            index_ids=data.index,
            name=self._name(name),
            declared=statistic,
        )
        return self._output(out, cmd)

    def hist(
        self,
        data: pd.DataFrame,
        column: str,
        bins: int | Sequence[float] = 10,
        name: str | None = None,
        description: str | None = None,
        population: object | None = None,
        *,
        record_id: object | None = None,
    ) -> Output:
        """Checked histogram: a frequency table of bins; the figure is drawn from the protected table at finalise.

        With an integer `bins` the outer edges are widened to round numbers so they never equal the data
        min/max (ACRO #192/#308 bin-edge leak); explicit edges equal to the min/max are flagged for review.

        Example:
            >>> df = pd.DataFrame({"age": np.arange(20, 120)})
            >>> o = Session().hist(df, "age", bins=5)
            >>> o.properties["bin_edges"], o.table["count"].tolist()
            ([0.0, 25.0, 50.0, 75.0, 100.0, 125.0], [<NA>, 25, 25, 25, <NA>])
        """
        cmd = command_line()
        if not isinstance(data, pd.DataFrame) or column not in data.columns:
            raise DJSUserError(f"hist: column {column!r} not in data: pass a DataFrame and one of its columns.")
        binned, edges, edge_flag = bin_values(data[column], bins)
        extra = [(-1, "HistogramEdgeCheck", "review", edge_flag)] if edge_flag else []
        out = check_table(
            self.profile,
            method="hist",
            keys=[binned],
            n_row_dims=1,
            stat="count",
            description=description,
            population=population,
            record_id=record_ids(data, record_id),
            value_name="count",
            otype="histogram",
            extra=extra,
            index_ids=data.index,
            name=self._name(name),
        )
        out.properties["bin_edges"] = [float(e) for e in edges]
        return self._output(out, cmd)

    # -- models, files, annotations ---------------------------------------------------------------------------
    def regression(
        self,
        result: object,
        name: str | None = None,
        description: str | None = None,
        population: str | None = None,
        *,
        data: pd.DataFrame | None = None,
        event: object = None,
        cause: int = 1,
        design: pd.DataFrame | None = None,
    ) -> Output:
        """Check a fitted model (statsmodels results, a Cox / Fine-Gray result with params/n/events, or a fitted
        lifelines CoxPHFitter, whose `data=` is the DataFrame given to its fit(): `sdc.lifelines_models`).

        For Cox and Fine-Gray results pass the rows the model used: `data=` (holding the covariate columns, or
        `design=` with one column per coefficient) and `event=` (column name or array; codes equal to `cause`
        are events), so the events in each level of every indicator are checked; without them the output is
        `review`.

        Example:
            >>> import statsmodels.api as sm
            >>> rng = np.random.default_rng(0)
            >>> res = sm.OLS(rng.normal(size=200), sm.add_constant(rng.normal(size=(200, 2)))).fit()
            >>> Session().regression(res).status
            'pass'
        """
        cmd = command_line()
        result, data, event, cause, design = lifelines_model(result, data, event, cause, design)
        design, events = model_inputs(result, data, event, cause, design)
        mc = check_model(result, self.profile, design, events)
        status = worst(f[2] for f in mc.flags)
        rows = [(r, None, rule, st, summ) for r, rule, st, summ in mc.flags]
        out = Output(
            self._name(name),
            status,
            "regression",
            "regression",
            mc.kind,
            mc.table,
            reasons=reason_frame(rows),
            description=description,
            population=population,
            variables=[str(i) for i in mc.table.index],
            n=mc.n,
            dof=mc.dof,
        )
        out.properties.update({"method": "regression", "dof": mc.dof, "statbarn_kind": "regression", **mc.properties})
        out.controls = ["coefficients are not rounded or perturbed"]
        facts = model_released(result)
        if facts is not None:  # n and the sum of the outcome, for differencing against other models and sums
            out.released, out.cell_labels, index = facts
            set_record_keys(out, None, index, len(index))
        return self._output(out, cmd)

    def custom(self, path: str | Path, description: str, name: str | None = None) -> Output:
        """Attach a file made elsewhere: unchecked, so `review` (blocked file types `fail`).

        Example:
            >>> import tempfile
            >>> p = Path(tempfile.mkdtemp()) / "note.txt"; _ = p.write_text("hello\\n")
            >>> Session().custom(p, "a note").status
            'review'
        """
        cmd = command_line()
        src = Path(path)
        if not src.is_file():
            raise DJSUserError(f"custom: file {src.name} not found: check the path.")
        blocked = src.suffix.lower() in self.profile.blocked_extensions
        reason = (
            f"file type {src.suffix.lower()} is blocked by profile {self.profile.name}"
            if blocked
            else "custom file made outside the checker: a human must check it"
        )
        out = Output(
            self._name(name),
            "fail" if blocked else "review",
            "custom",
            "custom",
            "custom",
            pd.DataFrame(),
            reasons=reason_frame([(None, None, "CustomOutputCheck", "fail" if blocked else "review", reason)]),
            description=description,
            source_path=str(src.resolve()),
        )
        out.properties["method"] = "custom"
        return self._output(out, cmd)

    def add_comment(self, name: str, text: str) -> None:
        """Add a researcher comment to an output.

        Example:
            >>> s = Session(); o = s.hist(pd.DataFrame({"a": np.arange(100.0)}), "a", name="h")
            >>> s.add_comment("h", "ages at index"); s.outputs["h"].comments
            ['ages at index']
        """
        self._get(name).comments.append(str(text))

    def add_exception(self, name: str, reason_code: str, text: str) -> None:
        """Request an exception: annotates the output, never changes its computed status (docs/disclosure.md §7.5).

        Example:
            >>> s = Session(); o = s.hist(pd.DataFrame({"a": np.arange(100.0)}), "a", name="h")
            >>> before = o.status
            >>> s.add_exception("h", "not_about_persons", "ages of courts"); o.status == before
            True
        """
        if reason_code not in EXCEPTION_CODES:
            raise DJSUserError(f"Unknown exception reason_code {reason_code!r}: use one of {list(EXCEPTION_CODES)}.")
        self._get(name).exceptions.append({"reason_code": reason_code, "text": str(text)})

    def finalise(self, path: str | Path) -> Path:
        """Write the clearance folder (release/, results.json, CLEARANCE.md, checker_only/, manifest).

        Never overwrites: an existing path is refused.

        Example:
            >>> import tempfile
            >>> s = Session(); _ = s.hist(pd.DataFrame({"a": np.arange(100.0)}), "a")
            >>> out = s.finalise(Path(tempfile.mkdtemp()) / "run1")
            >>> sorted(p.name for p in out.iterdir())[:3]
            ['CLEARANCE.md', 'checker_only', 'checksums']
        """
        from djs_toolkit.sdc.results import write_folder

        return write_folder(self, Path(path))
