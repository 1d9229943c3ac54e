"""`Session`: ACRO-like calls (crosstab, pivot_table, hist, regression, custom, finalise) that check as they go.

Each table call runs: cell labels -> single-pass evidence -> rules -> protection -> attacker audit -> Output.
Names mirror ACRO 1.0.2 (docs/disclosure.md §2.1) so ACRO users can switch.
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.differencing import LP_BUDGET
from djs_toolkit.sdc.evidence import Grid, cell_evidence, cell_labels
from djs_toolkit.sdc.histogram import bin_values
from djs_toolkit.sdc.models import check_model, model_inputs
from djs_toolkit.sdc.output import Output, display_table
from djs_toolkit.sdc.profiles import Profile, load_profile
from djs_toolkit.sdc.protect import Protection, protect_table
from djs_toolkit.sdc.released import grid_released
from djs_toolkit.sdc.report import build_output, reason_frame
from djs_toolkit.sdc.rules import apply_rules, flags_frame, statistic_kind, worst
from djs_toolkit.sdc.session_ledger import LedgerMixin
from djs_toolkit.sdc.session_outputs import OutputsMixin
from djs_toolkit.sdc.statistics import quantile_values, statistic_name, statistic_values, unknown_values

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
# Failing rules that withholding (or rebuilding from rounded counts) resolves. Min/max are not among them: an
# extreme is unsafe whatever its group size, so the output fails and the reason suggests an alternative.
_RESOLVABLE = ("MinimumThresholdCheck", "NKCheck", "PPercentCheck", "PositionUniquenessCheck", "MinimumDoFCheck")
_SAFE_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _command() -> str:
    frame = sys._getframe(2)
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()


def _as_keys(obj: object, default: str) -> list[pd.Series]:
    items = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    keys = []
    for i, item in enumerate(items):
        s = item if isinstance(item, pd.Series) else pd.Series(np.asarray(item))
        keys.append(s if s.name is not None else s.rename(f"{default}_{i}"))
    return keys


def _ids(data: pd.DataFrame, record_id: object) -> object:
    """`record_id` may name a column of `data`."""
    if isinstance(record_id, str):
        if record_id not in data.columns:
            raise DJSUserError(f"record_id={record_id!r} is not a column of data: pass a column name or the ids.")
        return data[record_id]
    return record_id


def _label_rounded(out: Output, suffix: str, derived: bool) -> None:
    """OpenSAFELY's naming (docs/disclosure.md §1.5): `_midpoint6`/`_rounded5` for rounded columns, `_derived`."""
    tag = suffix + ("_derived" if derived else "")

    def rename(label: object) -> object:
        return label[:-1] + (f"{label[-1]}{tag}",) if isinstance(label, tuple) else f"{label}{tag}"

    cols = pd.Index([rename(c) for c in out.table.columns], name=out.table.columns.name)
    if isinstance(out.table.columns, pd.MultiIndex):
        cols = pd.MultiIndex.from_tuples(list(cols), names=out.table.columns.names)
    out.table.columns = cols
    if out.mask is not None:
        out.mask.columns = cols
    out.properties["rounding_label"] = tag


class Session(LedgerMixin, OutputsMixin):
    """A checking session: every call returns a checked `Output`; `finalise` writes the clearance folder.

    Every output is checked for differencing against the ledger's earlier outputs, then recorded there unless it
    fails (`session_ledger`); without `ledger=` the ledger lives in this session only.

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

    def __init__(
        self,
        profile: str | Path | Profile = "srs",
        ledger: str | Path | None = None,
        *,
        differencing_lp_budget: int = LP_BUDGET,
        run: str = "",
    ) -> None:
        self.profile = load_profile(profile)
        self.ledger = ledger
        self.run = str(run)
        self.differencing_lp_budget = int(differencing_lp_budget)
        self.outputs: dict[str, Output] = {}

    def __repr__(self) -> str:
        stat = ", ".join(f"{k}={o.status}" for k, o in self.outputs.items())
        return f"Session(profile={self.profile.name!r}, outputs: {stat or 'none'})"

    # -- naming and context -----------------------------------------------------------------------------------
    def _name(self, name: str | None) -> str:
        if name is None:
            k = len(self.outputs) + 1
            while f"output_{k}" in self.outputs:
                k += 1
            return f"output_{k}"
        if not name or not set(name) <= _SAFE_NAME or name.startswith("."):
            raise DJSUserError(f"Output name {name!r} is not usable as a file name: use letters, digits, _ - . only.")
        if name in self.outputs:
            raise DJSUserError(f"An output named {name!r} already exists: choose another name.")
        return name

    def _population(self, population: object, n: int) -> tuple[np.ndarray | None, str | None]:
        if population is None or isinstance(population, str):
            return None, population
        mask = np.asarray(population)
        if mask.dtype != bool or mask.shape != (n,):
            raise DJSUserError("population must be a description (str) or one boolean per record.")
        return mask, f"records selected by a population filter ({int(mask.sum())} of {n})"

    def _output(self, out: Output, command: str) -> Output:
        out.command = command
        out.timestamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._difference(out)
        self.outputs[out.name] = out
        return out

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
    ) -> Output:
        """Checked `pandas.crosstab`: counts, or `aggfunc` of `values`, by `index` x `columns`.

        Args:
            index: Series (or list of Series) for the rows.
            columns: Series (or list of Series) for the columns.
            values: numeric Series summarised by `aggfunc` (None for a frequency table).
            aggfunc: `sum`, `mean`, `median`, `pNN`, `min`, `max`, `std`, `var`, `count`; others -> `review`.
            margins: show the grand-total row and column (margins are protected either way).
            name: output id (default `output_<k>`).
            description: what the output shows (goes to CLEARANCE.md).
            population: a description of the population, or a boolean filter with one value per record.
            normalize: `index`, `columns` or `all`/True: proportions recomputed from the protected counts.
            weights: per-record weights (counts/sums displayed weighted; thresholds stay unweighted).
            structural_zeros: label tuples of cells that cannot occur (not flagged as zeros).
            record_id: per-record ids (e.g. person ids) keying records in the differencing ledger across
                outputs, notebooks and reruns (default: the index of `index`).

        Returns:
            The checked Output.

        Example:
            >>> s = Session()
            >>> o = s.crosstab(pd.Series(["a"] * 12 + ["b"] * 3, name="g"), pd.Series(["x"] * 15, name="c"))
            >>> o.status, int(o.table.isna().sum().sum())
            ('review', 2)
        """
        cmd = _command()
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
        out = self._table(
            "crosstab",
            rkeys + ckeys,
            len(rkeys),
            values,
            stat,
            aggfunc,
            margins,
            name,
            description,
            population,
            weights,
            structural_zeros,
            record_id,
            axes,
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
    ) -> Output:
        """Checked `pandas.pivot_table` of one `values` column.

        Example:
            >>> df = pd.DataFrame({"g": ["a"] * 20 + ["b"] * 20, "v": np.arange(40.0)})
            >>> Session().pivot_table(df, values="v", index="g", aggfunc="mean").table["v"].tolist()
            [9.5, 29.5]
        """
        cmd = _command()
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
        out = self._table(
            "pivot_table",
            keys,
            len(rows),
            data[vals[0]],
            stat,
            aggfunc,
            margins,
            name,
            description,
            population,
            w,
            structural_zeros,
            _ids(data, record_id),
            None,
            value_name=vals[0] if not cols else None,
            index_ids=data.index,
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
        cmd = _command()
        if not isinstance(data, pd.DataFrame) or column not in data.columns:
            raise DJSUserError(f"hist: column {column!r} not in data: pass a DataFrame and one of its columns.")
        binned, edges, edge_flag = bin_values(data[column], bins)
        extra = [(-1, "HistogramEdgeCheck", "review", edge_flag)] if edge_flag else []
        out = self._table(
            "hist",
            [binned],
            1,
            None,
            "count",
            None,
            False,
            name,
            description,
            population,
            None,
            None,
            _ids(data, record_id),
            None,
            value_name="count",
            otype="histogram",
            extra=extra,
            index_ids=data.index,
        )
        out.properties["bin_edges"] = [float(e) for e in edges]
        return self._output(out, cmd)

    def _structural(self, spec: object, grid: Grid) -> np.ndarray | None:
        if spec is None:
            return None
        out = np.zeros(grid.n_ext, dtype=bool)
        if isinstance(spec, pd.DataFrame):
            spec = [
                (r if isinstance(r, tuple) else (r,)) + (c if isinstance(c, tuple) else (c,))
                for r in spec.index
                for c in spec.columns
                if bool(spec.loc[r, c])
            ]
        for entry in spec:  # type: ignore[attr-defined]
            labels = entry if isinstance(entry, tuple) else (entry,)
            if len(labels) != len(grid.levels):
                raise DJSUserError("structural_zeros entries need one label per table dimension.")
            try:
                coord = tuple(int(lv.get_loc(lab)) for lv, lab in zip(grid.levels, labels))
            except KeyError:
                raise DJSUserError("a structural_zeros entry does not match the table's categories.") from None
            out[np.ravel_multi_index(coord, grid.ext_shape)] = True
        return out

    def _table(
        self,
        method: str,
        keys: list[pd.Series],
        n_row_dims: int,
        values: object | None,
        stat: str,
        aggfunc: object,
        margins: bool,
        name: str | None,
        description: str | None,
        population: object,
        weights: object | None,
        structural_zeros: object,
        record_id: object,
        axes: tuple[int, ...] | None,
        value_name: str | None = None,
        otype: str = "table",
        extra: list[tuple[int, str, str, str]] | None = None,
        index_ids: pd.Index | None = None,
    ) -> Output:
        name = self._name(name)
        prof = self.profile
        n_rec = len(keys[0])
        if n_rec == 0:
            raise DJSUserError("The table has no records: check the filter that produced the data.")
        series = [k for k in keys + [values, weights] if isinstance(k, pd.Series)]
        if any(len(k) == n_rec and not k.index.equals(series[0].index) for k in series[1:]):
            # pandas would silently align on the index; positional pairing of misaligned Series is worse.
            raise DJSUserError("index, columns, values and weights must share one index: align them or reset_index.")
        pop_mask, pop_text = self._population(population, n_rec)
        labels, grid = cell_labels(keys, n_row_dims, pop_mask)
        if 0 in grid.shape:
            raise DJSUserError("A table dimension has no categories (all values missing): choose another variable.")
        kind = statistic_kind(stat)
        vals = None
        if values is not None:
            vals = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
            if len(vals) != n_rec:
                raise DJSUserError("values must have one value per record, like index and columns.")
        if weights is not None and stat not in ("count", "proportion", "sum", "mean"):
            raise DJSUserError("weights are supported for counts, proportions, sums and means only.")
        w = None if weights is None else pd.to_numeric(pd.Series(weights), errors="coerce").to_numpy(np.float64)
        ev = cell_evidence(
            labels, grid, None if kind == "frequency" else vals, w, distinct=kind in ("linear", "position", "shape")
        )
        structural = self._structural(structural_zeros, grid)
        state = None
        if kind == "frequency":
            ext_vals = statistic_values("count", ev.cells, weighted=w is not None)
        elif kind == "position":
            q = 0.5 if stat == "median" else int(stat[1:]) / 100.0
            ext_vals, state = quantile_values(ev, vals, q, prof)  # type: ignore[arg-type]
        elif kind == "unknown":
            ext_vals = unknown_values(keys, grid, pd.Series(vals), aggfunc)  # type: ignore[arg-type]
        else:
            ext_vals = statistic_values(stat, ev.cells, weighted=w is not None)
        flags = apply_rules(ev.cells, grid, stat, prof, structural, state)
        if extra:
            flags = pd.concat([flags, flags_frame(extra)], ignore_index=True)
        prot = protect_table(ev, stat, ext_vals, flags, prof, axes)
        status = self._status(flags, prot)
        variables = [str(n) for n in grid.names] + ([str(pd.Series(values).name)] if values is not None else [])
        out = build_output(
            name,
            status,
            otype,
            method,
            stat,
            ev,
            prot,
            flags,
            ext_vals,
            margins,
            prof,
            value_name=value_name or ("count" if kind == "frequency" and stat == "count" else stat),
        )
        out.description, out.population, out.variables = description, pop_text, variables
        out.n = int((labels >= 0).sum())
        self._keys(out, record_id, index_ids if index_ids is not None else keys[0].index, n_rec)
        out.cell_labels = labels
        _, shown = display_table(grid, np.zeros(grid.n_ext), margins, prof.margins_name)
        rounded = prof.mitigation == "round" and kind == "frequency"
        out.released = grid_released(
            grid,
            shown,
            ev.cells["n"].to_numpy(np.float64),
            prot.suppressed,
            "round" if rounded else "exact",
            "midpoint6" if stat == "proportion" and prof.rate_rounding == "midpoint6" else "base",
            int(prof.round_base or 5),
            is_count=kind == "frequency" and w is None,
        )
        out.properties.update(
            {
                "method": method,
                "statistic": stat,
                "margins": bool(margins),
                "mitigation": prof.mitigation,
                "statbarn_kind": kind,
            }
        )
        if prof.mitigation == "round" and kind == "frequency":
            out.properties["round_base"] = prof.round_base
            _label_rounded(
                out,
                "_midpoint6"
                if stat == "proportion" and prof.rate_rounding == "midpoint6"
                else f"_rounded{prof.round_base}",
                derived=stat == "proportion",
            )
        return out

    @staticmethod
    def _keys(out: Output, record_id: object, index: pd.Index, n: int) -> None:
        if record_id is None:
            out.record_id, out.key_space = index, "index"
            return
        ids = record_id if isinstance(record_id, (pd.Series, pd.Index)) else np.asarray(record_id)
        if len(ids) != n:
            raise DJSUserError("record_id must have one id per record, like the table's keys.")
        out.record_id, out.key_space = ids, "record_id"

    def _status(self, flags: pd.DataFrame, prot: Protection) -> str:
        if not prot.ok:
            return "fail"
        withheld, fixed = prot.suppressed, prot.resolved
        resolved = (flags["status"] == "fail") & flags["rule"].isin(_RESOLVABLE)
        resolved &= flags["cell"].map(lambda c: bool(fixed[c]) if c >= 0 else False)  # type: ignore[index]
        status = worst(flags.loc[~resolved, "status"])
        if prot.applied and (withheld.any() or self.profile.mitigation == "round"):
            status = worst([status, self.profile.status_after_protection])
        return status

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
        """Check a fitted model (statsmodels results, or a Cox / Fine-Gray result with params/n/events).

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
        cmd = _command()
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
        return self._output(out, cmd)

    def custom(self, path: str | Path, description: str, name: str | None = None) -> Output:
        """Attach a file made elsewhere: unchecked, so `review` (blocked file types `fail`).

        Example:
            >>> import tempfile
            >>> p = Path(tempfile.mkdtemp()) / "note.txt"; _ = p.write_text("hello\\n")
            >>> Session().custom(p, "a note").status
            'review'
        """
        cmd = _command()
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

    def _get(self, name: str) -> Output:
        if name not in self.outputs:
            raise DJSUserError(f"No output named {name!r}: existing outputs are {list(self.outputs)}.")
        return self.outputs[name]

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
            ['CLEARANCE.md', 'checker_only', 'manifest-sha256.txt']
        """
        from djs_toolkit.sdc.results import write_folder

        return write_folder(self, Path(path))
