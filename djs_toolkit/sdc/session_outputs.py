"""`CurvesAndTables`: Session methods for survival curves (`km`, `cif`) and tables given as numbers (`table`).

`km`/`cif` run the survival module's estimators only on what survives protection (`survival_tables`); `table`
checks a DataFrame of statistics through a same-shape DataFrame of unweighted counts (`tables`). Both return an
`Output` that is differencing-checked and recorded in the ledger like every other output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from djs_toolkit.errors import DJSUserError
from djs_toolkit.sdc.lifelines_models import lifelines_curve
from djs_toolkit.sdc.output import Output
from djs_toolkit.sdc.report import build_output, reason_frame
from djs_toolkit.sdc.rules import worst
from djs_toolkit.sdc.session_base import (
    SessionBase,
    command_line,
    output_status,
    population_mask,
    record_ids,
    set_record_keys,
)
from djs_toolkit.sdc.share import group_share, table_share
from djs_toolkit.sdc.survival_tables import safe_curve
from djs_toolkit.sdc.tables import check_counts

__all__ = ["CurvesAndTables"]


def _column(data: pd.DataFrame | None, spec: object, role: str, n: int | None) -> pd.Series:
    if isinstance(spec, str):
        if data is None or spec not in data.columns:
            raise DJSUserError(f"{role}={spec!r} is not a column of data: pass data= or the values themselves.")
        s = data[spec]
    elif isinstance(spec, pd.Series):
        s = spec
    else:
        s = pd.Series(np.asarray(spec), name=role)
    if n is not None and len(s) != n:
        raise DJSUserError(f"{role} must have one value per record, like the durations.")
    return s


def _times(s: pd.Series, role: str) -> np.ndarray:
    arr = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
    bad = int((~np.isfinite(arr)).sum())
    if bad:
        raise DJSUserError(f"{role} has {bad} missing or non-numeric value(s): drop or fix those records.")
    return arr


class CurvesAndTables(SessionBase):
    """`km`, `cif` and `table`, the part of `Session` that checks survival curves and tables given as numbers.

    Example:
        >>> from djs_toolkit.sdc import Session
        >>> hasattr(Session(), "km") and hasattr(Session(), "table")
        True
    """

    def _curve(
        self,
        kind: str,
        durations: object,
        events: object,
        cause: int,
        by: object,
        entry: object,
        times: object,
        data: pd.DataFrame | None,
        name: str | None,
        description: str | None,
        record_id: object,
        population: object,
    ) -> Output:
        name = self._name(name)
        prof = self.profile
        # fitted lifelines curves become the records they were fitted on (sdc.lifelines_models)
        durations, events, cause, by, entry, data, record_id = lifelines_curve(
            kind, durations, events, cause, by, entry, data, record_id, population
        )
        dur = _column(data, durations, "durations", None)
        n = len(dur)
        if n == 0:
            raise DJSUserError("The curve has no records: check the filter that produced the data.")
        stop = _times(dur, "durations")
        if (stop < 0).any():
            raise DJSUserError(f"durations has {int((stop < 0).sum())} negative value(s): durations must be >= 0.")
        ev = _times(_column(data, events, "events", n), "events")
        if (ev < 0).any() or (ev != np.round(ev)).any() or (kind == "km" and (ev > 1).any()):
            raise DJSUserError(
                "events must be 0 (censored) or 1 (event)"
                + ("" if kind == "km" else ", or a cause code 1, 2, ... for cif")
                + "."
            )
        code = ev.astype(np.int64)
        start = None
        if entry is not None:
            start = _times(_column(data, entry, "entry", n), "entry")
            late = int((start >= stop).sum())
            if late:
                raise DJSUserError(f"entry is not before the duration for {late} record(s): fix or drop them.")
        inside = np.ones(n, bool)
        mask, pop_text = population_mask(population, n)
        if mask is not None:
            inside &= mask
        by_name, levels, groups = None, [None], np.zeros(n, np.int64)
        if by is not None:
            bys = _column(data, by, "by", n)
            by_name = str(bys.name) if bys.name is not None else (by if isinstance(by, str) else "group")
            codes, uniq = pd.factorize(bys, sort=True)
            levels, groups = list(uniq), codes.astype(np.int64)
            inside &= codes >= 0
        sc = safe_curve(stop, code, start, groups, levels, by_name, prof, times, kind, cause, inside, tag=name)
        index = [by_name, "time"] if by_name else ["time"]
        table = sc.table.set_index(index)
        reasons: list[tuple[object, object, str, str, str]] = [
            (
                None,
                None,
                "SurvivalTableCheck",
                prof.status_after_protection,
                f"confirm the protection applied by the profile: every step holds at least {prof.min_safe_count} "
                f"events, the curve stops before fewer than {prof.min_safe_count} are at risk, cumulative censored "
                "and competing counts are rounded",
            )
        ]
        for g in sc.withheld:
            reasons.append(
                (
                    g,
                    None,
                    "MinimumThresholdCheck",
                    "review" if len(table) else "fail",
                    f"group withheld: fewer than {prof.min_safe_count} events, or at risk, in any step",
                )
            )
        for g in sc.complements:
            reasons.append(
                (
                    g,
                    None,
                    "SecondarySuppression",
                    "review",
                    "group withheld as a complement: a small withheld group would otherwise be the total less the "
                    "groups shown",
                )
            )
        status = "fail" if table.empty else worst(r[3] for r in reasons)
        stat = "survival" if kind == "km" else "cumulative_incidence"
        out = Output(
            name,
            status,
            "survival",
            kind,
            stat,
            table,
            reasons=reason_frame(reasons),
            evidence=sc.evidence,
            description=description,
            population=pop_text,
            variables=[v for v in (by_name, str(dur.name) if dur.name is not None else None) if v],
            n=int(inside.sum()),
        )
        out.controls = sc.controls
        out.properties.update(
            {
                "method": kind,
                "statistic": stat,
                "statbarn_kind": "survival",
                "times": "given" if times is not None else "round-number grid",
                "delayed_entry": start is not None,  # read by the whole-release attack (sdc.release_model)
                "threshold": prof.min_safe_count,
                "withheld_share": group_share(groups, inside, levels, [*sc.withheld, *sc.complements]),
                "withheld_share_of": "people in groups",
            }
        )
        if kind == "cif":
            out.properties["cause"] = int(cause)
        idx = data.index if data is not None else (dur.index if isinstance(dur, pd.Series) else pd.RangeIndex(n))
        set_record_keys(out, record_ids(data, record_id), idx, n)
        out.cell_labels, out.released = sc.labels, sc.released
        return out

    def km(
        self,
        durations: object,
        events: object = None,
        by: object = None,
        entry: object = None,
        times: object = None,
        data: pd.DataFrame | None = None,
        name: str | None = None,
        description: str | None = None,
        *,
        record_id: object = None,
        population: object = None,
    ) -> Output:
        """Disclosure-safe Kaplan-Meier table (KMunicate-style counts under the curve).

        Every reported step aggregates at least the threshold of events, the curve stops where the number at
        risk falls below it, cumulative censored (and late-entry) counts are rounded so adjacent rows never differ
        by a small non-zero number (midpoint-6 under `opensafely`), and estimates and confidence intervals are
        recomputed from the released counts. The figure drawn at `finalise` has no censoring ticks.

        Args:
            durations, events: columns of `data` (names) or arrays; events 1 = event, 0 = censored. Or a fitted
                lifelines KaplanMeierFitter (a list or dict of them for groups) as `durations`, without `events`:
                checked from the records it was fitted on (`sdc.lifelines_models`).
            by: grouping column; entry: delayed-entry times; times: reporting times (default: round numbers).
            data: the DataFrame holding the named columns.
            name, description: output id and what it shows.
            record_id: person/record ids keying the ledger (default: the index of `data`).
            population: a description, or one boolean per record.

        Example:
            >>> from djs_toolkit.sdc import Session
            >>> d = pd.DataFrame({"days": np.arange(1.0, 301.0), "back": 1})
            >>> o = Session().km("days", "back", data=d, times=[0, 100, 200, 300])
            >>> o.table["n_at_risk"].tolist(), o.status
            ([300, 300, 200, 100], 'review')
        """
        cmd = command_line()
        return self._output(
            self._curve(
                "km",
                durations,
                events,
                1,
                by,
                entry,
                times,
                data,
                name,
                description,
                record_id,
                population,
            ),
            cmd,
        )

    def cif(
        self,
        durations: object,
        events: object = None,
        cause: int = 1,
        by: object = None,
        entry: object = None,
        times: object = None,
        data: pd.DataFrame | None = None,
        name: str | None = None,
        description: str | None = None,
        *,
        record_id: object = None,
        population: object = None,
    ) -> Output:
        """Disclosure-safe cumulative-incidence table for `cause` with competing events (same rules as `km`).

        `durations` may be a fitted lifelines AalenJohansenFitter (or a list or dict of them), without `events`.

        Example:
            >>> from djs_toolkit.sdc import Session
            >>> d = pd.DataFrame({"days": np.arange(1.0, 301.0), "why": [1, 2] * 150})
            >>> o = Session().cif("days", "why", data=d, times=[0, 150, 300])
            >>> o.table[["events", "competing_events"]].values.tolist()
            [[0, 0], [75, 80], [75, 70]]
        """
        cmd = command_line()
        return self._output(
            self._curve(
                "cif",
                durations,
                events,
                int(cause),
                by,
                entry,
                times,
                data,
                name,
                description,
                record_id,
                population,
            ),
            cmd,
        )

    def table(
        self,
        values: pd.DataFrame | pd.Series,
        counts: pd.DataFrame | pd.Series | None = None,
        statistic: str = "count",
        name: str | None = None,
        description: str | None = None,
        population: str | None = None,
        *,
        margins: bool = False,
        structural_zeros: pd.DataFrame | Sequence[tuple] | None = None,
    ) -> Output:
        """Check a table given as numbers: counts directly, other statistics through same-shape counts.

        This is the entry point for tables made elsewhere (files, R/Stata, `outputs.save_table`): row labels in
        the index, one column per column category, one cell per value.

        Args:
            values: the table as it would be released.
            counts: unweighted counts behind each cell, same shape (not needed when `statistic="count"`).
            statistic: `count`, or what the values are (`mean`, `rate`, ...).
            name, description, population: as for `crosstab`.
            margins: show totals (counts only).
            structural_zeros: cells that cannot occur: a boolean DataFrame shaped like the table, or (row label,
                column label) pairs; marked as such, not flagged as zeros (a declared cell with records fails).

        Returns:
            The checked Output: counts checked and protected like a crosstab; a statistic with counts is at
            least `review` (dominance needs the records); a statistic without counts is `review`, unchecked.

        Example:
            >>> from djs_toolkit.sdc import Session
            >>> s = Session()
            >>> t = pd.DataFrame({"custody": [40, 3], "community": [55, 60]}, index=pd.Index(["A", "B"], name="court"))
            >>> o = s.table(t, name="t")
            >>> o.status, o.table["custody"].tolist()
            ('review', [<NA>, <NA>])
            >>> s.table(t.astype(float) / 2, statistic="mean", name="m").reasons["rule"].tolist()
            ['MissingCountsCheck']
        """
        cmd = command_line()
        name = self._name(name)
        prof = self.profile
        if statistic != "count" and counts is None:
            frame = values.to_frame() if isinstance(values, pd.Series) else values
            out = Output(
                name,
                "review",
                "table",
                "table",
                statistic,
                frame.copy(),
                description=description,
                population=population,
                variables=[str(n) for n in frame.index.names if n is not None],
            )
            out.reasons = reason_frame(
                [
                    (
                        None,
                        None,
                        "MissingCountsCheck",
                        "review",
                        f"no unweighted counts were given for `{statistic}`: pass counts= (a table "
                        "of the same shape with the number of units behind each cell)",
                    )
                ]
            )
            out.properties.update({"method": "table", "statistic": statistic, "statbarn_kind": "unknown"})
            return self._output(out, cmd)
        ct = check_counts(values, counts, statistic, prof, margins, structural_zeros)
        status = output_status(ct.flags, ct.protection, prof)
        shown = build_output(
            name,
            status,
            "table",
            "table",
            "count",
            ct.evidence,
            ct.protection,
            ct.flags,
            ct.ext_counts,
            margins and statistic == "count",
            prof,
            value_name=statistic,
        )
        out = shown
        out.table, out.mask, out.statistic = ct.table, ct.mask, statistic
        if statistic != "count":
            out.reasons = pd.concat(
                [
                    out.reasons,
                    reason_frame(
                        [
                            (
                                None,
                                None,
                                "CountsOnlyCheck",
                                "review",
                                f"`{statistic}` was checked through the unweighted counts behind each cell "
                                "(threshold, zeros, suppression); dominance and value checks need the records",
                            )
                        ]
                    ),
                ],
                ignore_index=True,
            )
            out.status = worst([out.status, "review"])
        out.description, out.population = description, population
        out.variables = [str(n) for n in ct.grid.names]
        out.n = int(ct.ext_counts[-1])
        out.released = ct.released
        out.properties.update(
            {
                "method": "table",
                "statistic": statistic,
                "margins": bool(margins),
                "mitigation": prof.mitigation,
                "statbarn_kind": "frequency",
                "withheld_share": table_share(ct.grid, ct.ext_counts, ct.protection.suppressed),
                "withheld_share_of": "total",
            }
        )
        return self._output(out, cmd)
