"""`check_table`: one table through cell labels -> single-pass evidence -> rules -> protection -> attacker audit.

`Session.crosstab`, `pivot_table` and `hist` differ only in how they read their arguments; this is the check
they share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.evidence import Grid, cell_evidence, cell_labels
from djs_toolkit.sdc.linear_facts import constant_weights, level_flags, level_table, protect_levels, weight_dominance
from djs_toolkit.sdc.output import Output, display_table
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.protect import protect_table
from djs_toolkit.sdc.released import Released, from_grid, grid_released
from djs_toolkit.sdc.report import build_output
from djs_toolkit.sdc.rules import apply_rules, flags_frame, statistic_kind
from djs_toolkit.sdc.session_base import output_status, population_mask, set_record_keys
from djs_toolkit.sdc.share import table_share
from djs_toolkit.sdc.statistics import (
    SUPPORTED,
    matches_declared,
    quantile_values,
    record_valued_cells,
    statistic_values,
    structural_margins,
    unknown_values,
)
from djs_toolkit.sdc.structural import declared_wrong, protect_known_zeros, structural_cells

__all__ = ["check_table"]


def _label_rounded(out: Output, suffix: str, derived: bool) -> None:
    """OpenSAFELY's naming (docs/disclosure.md §1.5): `_midpoint6`/`_rounded5` for rounded columns, `_derived`."""
    tag = suffix + ("_derived" if derived else "")

    def rename(label: object) -> object:
        return (*label[:-1], f"{label[-1]}{tag}") if isinstance(label, tuple) else f"{label}{tag}"

    cols = pd.Index([rename(c) for c in out.table.columns], name=out.table.columns.name)
    if isinstance(out.table.columns, pd.MultiIndex):
        cols = pd.MultiIndex.from_tuples(list(cols), names=out.table.columns.names)
    out.table.columns = cols
    if out.mask is not None:
        out.mask.columns = cols
    out.properties["rounding_label"] = tag


def _sum_facts(grid: Grid, shown: np.ndarray, sums: np.ndarray, withheld: np.ndarray, measure: str) -> Released:
    """Released sums (a mean with its derivable n is a sum) of `measure` over each shown cell's records."""
    ids = np.unique(np.asarray(shown, np.int64).ravel())
    known = ~withheld[ids] & np.isfinite(sums[ids])
    lo = np.where(known, sums[ids], -np.inf)
    hi = np.where(known, sums[ids], np.inf)
    return from_grid(grid, ids, lo, hi, counts=False, measure=measure or "value")


def check_table(
    prof: Profile,
    *,
    name: str,
    method: str,
    keys: list[pd.Series],
    n_row_dims: int,
    stat: str,
    values: object | None = None,
    aggfunc: object = None,
    margins: bool = False,
    description: str | None = None,
    population: object = None,
    weights: object | None = None,
    structural_zeros: object = None,
    record_id: object = None,
    axes: tuple[int, ...] | None = None,
    value_name: str | None = None,
    otype: str = "table",
    extra: list[tuple[int, str, str, str]] | None = None,
    index_ids: pd.Index | None = None,
    declared: str | None = None,
) -> Output:
    """Check a table of `stat` of `values` (or counts) by `keys`: labels, evidence, rules, protection, audit.

    The shared body of `Session.crosstab`, `pivot_table` and `hist`; `name` is already checked, and the caller
    stamps and records the Output. `declared` is the researcher's `statistic=`: what an aggfunc the checker cannot
    name computes; the checker computes that statistic itself and fails the output when the function's values differ.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> keys = [pd.Series(["a"] * 12 + ["b"] * 3, name="g"), pd.Series(["x"] * 15, name="c")]
        >>> check_table(load_profile("srs"), name="t", method="crosstab", keys=keys, n_row_dims=1, stat="count").status
        'review'
    """
    n_rec = len(keys[0])
    if n_rec == 0:
        raise DJSUserError("The table has no records: check the filter that produced the data.")
    series = [k for k in [*keys, values, weights] if isinstance(k, pd.Series)]
    if any(len(k) == n_rec and not k.index.equals(series[0].index) for k in series[1:]):
        # pandas would silently align on the index; positional pairing of misaligned Series is worse.
        raise DJSUserError("index, columns, values and weights must share one index: align them or reset_index.")
    pop_mask, pop_text = population_mask(population, n_rec)
    labels, grid = cell_labels(keys, n_row_dims, pop_mask)
    if 0 in grid.shape:
        raise DJSUserError("A table dimension has no categories (all values missing): choose another variable.")
    kind = statistic_kind(stat)
    vals = None
    if values is not None:
        vals = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
        if len(vals) != n_rec:
            raise DJSUserError("values must have one value per record, like index and columns.")
    theirs = None
    if declared is not None:
        if vals is None or statistic_kind(str(declared)) in ("unknown", "frequency"):
            raise DJSUserError(
                f"statistic={declared!r} cannot be declared: declare one of {', '.join(SUPPORTED)} for an aggfunc "
                "of values= (the checker computes it itself and compares it with your function's values)."
            )
        if kind != "unknown" and stat != declared:
            raise DJSUserError(f"aggfunc computes {stat!r} but statistic= declares {declared!r}: drop statistic=.")
        if kind == "unknown":
            theirs = unknown_values(keys, grid, pd.Series(vals), aggfunc)
        stat, kind = str(declared), statistic_kind(str(declared))
    if weights is not None and stat not in ("count", "proportion", "sum", "mean"):
        raise DJSUserError("weights are supported for counts, proportions, sums and means only.")
    w = None if weights is None else pd.to_numeric(pd.Series(weights), errors="coerce").to_numpy(np.float64)
    ev = cell_evidence(
        labels, grid, None if kind == "frequency" else vals, w, distinct=kind in ("linear", "position", "shape")
    )
    structural = structural_cells(structural_zeros, grid)
    state = None
    if kind == "frequency":
        ext_vals = statistic_values("count", ev.cells, weighted=w is not None)
    elif kind == "position" and vals is not None:  # a position statistic always comes with values
        q = 0.5 if stat == "median" else int(stat[1:]) / 100.0
        ext_vals, state = quantile_values(ev, vals, q, prof)
    elif kind == "unknown":
        ext_vals = unknown_values(keys, grid, pd.Series(vals), aggfunc)
    else:
        ext_vals = statistic_values(stat, ev.cells, weighted=w is not None)
    flags = apply_rules(ev.cells, grid, stat, prof, structural, state)
    extra = list(extra or [])
    if theirs is not None:
        ours = ext_vals
        if kind == "position":  # compare with the exact percentile, not the rounded one the checker publishes
            q = 0.5 if stat == "median" else int(stat[1:]) / 100.0
            ours = unknown_values(keys, grid, pd.Series(vals), lambda s: s.quantile(q))
        if not matches_declared(theirs, ours):
            extra.append(
                (
                    -1,
                    "DeclaredStatisticCheck",
                    "fail",
                    f"aggfunc's values are not the declared statistic {stat!r}: declare what the function computes "
                    f"(one of {', '.join(SUPPORTED)}) or use that statistic by name",
                )
            )
    if kind == "unknown" and vals is not None:
        one = record_valued_cells(labels, grid, vals, ext_vals)
        extra += [
            (
                int(c),
                "ExtremeValueCheck",
                "fail",
                "the value equals one record's value in the cell (an extreme, first/last or similar under another "
                "name): publish a percentile or a banded value instead",
            )
            for c in np.flatnonzero(one)
        ]
    # Issue 16: a sum/mean of a few-valued column is a count per value; a varying weight makes a count a magnitude.
    levels = level_table(keys, n_row_dims, pop_mask, vals) if kind == "linear" and vals is not None else None
    if levels is not None:
        extra += level_flags(levels, prof, stat)
    const_w = constant_weights(w, labels)
    if kind == "frequency" and not const_w and w is not None:
        extra += weight_dominance(labels, grid, w, prof)
    extra += declared_wrong(structural, ev.cells["n"].to_numpy())
    if extra:
        flags = pd.concat([flags, flags_frame(extra)], ignore_index=True)
    prot = protect_table(ev, stat, ext_vals, flags, prof, axes)
    if structural is not None:
        known = structural_margins(grid, structural) & (ev.cells["n"].to_numpy() == 0)
        prot = protect_known_zeros(ev, stat, ext_vals, prot, known, prof, axes)
    if levels is not None and prof.mitigation != "none":
        prot = protect_levels(grid, levels, prot, prof)
    status = output_status(flags, prot, prof)
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
    set_record_keys(out, record_id, index_ids if index_ids is not None else keys[0].index, n_rec)
    out.cell_labels = labels
    _, shown = display_table(grid, np.zeros(grid.n_ext), margins, prof.margins_name)
    rounded = prof.mitigation == "round" and kind == "frequency"
    if levels is not None:  # the count table of cells x values (n included: a mean's n is derivable)
        out.cell_labels = levels.labels
        out.released = grid_released(
            levels.grid,
            levels.ext_ids(np.unique(shown)),
            levels.counts.ravel().astype(np.float64),
            np.repeat(prot.suppressed, levels.k + 1),
            "exact",
        )
    elif kind == "linear":
        out.released = _sum_facts(grid, shown, ev.cells["sum"].to_numpy(np.float64), prot.suppressed, variables[-1])
    else:
        out.released = grid_released(
            grid,
            shown,
            ev.cells["n"].to_numpy(np.float64),
            prot.suppressed,
            "round" if rounded else "exact",
            "midpoint6" if stat == "proportion" and prof.rate_rounding == "midpoint6" else "base",
            int(prof.round_base or 5),
            is_count=kind == "frequency" and const_w,
        )
    out.properties.update(
        {
            "method": method,
            "statistic": stat,
            "margins": bool(margins),
            "mitigation": prof.mitigation,
            "statbarn_kind": kind,
            "withheld_share": table_share(grid, ev.cells["n"].to_numpy(np.float64), prot.suppressed),
            "withheld_share_of": "total",
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
