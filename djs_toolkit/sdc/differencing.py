"""Differencing check of a new output against every earlier output in the ledger (docs/disclosure.md §7.4).

For each earlier output the two outputs' atoms are built from the records they share (keyed hashes in the ledger) and
`atoms.pair_check` finds small atoms an attacker pins down. This covers a table and the same table on a nested
population, a suppressed cell and a later table that crosses it (ACRO's leak, docs/disclosure.md §2.4), a rerun on N + 1
records, and overlapping tables sharing a margin. Outputs whose records cannot be linked (files checked from their
counts, or default-index keys that disagree with the earlier output on shared variables) fall back to ACRO #117's
table-level rule (docs/disclosure.md §2.7): the same table on a population that differs by fewer than the threshold.

Only the pairs' own atoms are built, so a new output costs one pass over its records per earlier output
(incremental), and the whole check has a work budget counted in LPs (not seconds, so the same outputs always get
the same answer): what the budget does not settle is `review`, never `pass`.
Reasons name the earlier outputs, the populations and the cells involved, never a recovered count; the counts
and attacker bounds go to the checker-only findings frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from djs_toolkit.sdc.atoms import Budget, joint_counts, pair_check
from djs_toolkit.sdc.family import family_check
from djs_toolkit.sdc.knowledge import support
from djs_toolkit.sdc.ledger import Ledger, LedgerEntry, content_digest
from djs_toolkit.sdc.profiles import Profile
from djs_toolkit.sdc.released import Released, label_name
from djs_toolkit.sdc.sum_differencing import comparable_sums, sum_pair_check
from djs_toolkit.sdc.unlinked import unlinked_difference

__all__ = ["FINDING_COLUMNS", "LINK_AGREEMENT", "LP_BUDGET", "DifferencingResult", "NewOutput", "check_new"]

FINDING_COLUMNS = [
    "earlier_output",
    "earlier_run",
    "earlier_cell",
    "this_cell",
    "true_count",
    "attacker_lower",
    "attacker_upper",
    "method",
]
LINK_AGREEMENT = 0.99  # default-index keys must agree on shared variables this often to count as the same records
_MAX_JOINT = 4_000_000
# LPs one output's check may solve (local and full, all earlier outputs together). A local LP over <= 50 x 50
# atoms takes a few milliseconds, so this bounds one check at about a minute in the worst case.
LP_BUDGET = 20_000
RULE = "DifferencingCheck"


@dataclass
class NewOutput:
    """What the check needs of the new output.

    Example:
        >>> NewOutput("t", None, None, None, None, ("g",)).name
        't'
    """

    name: str
    released: Released | None
    labels: np.ndarray | None
    keyset: str | None
    key_space: str | None
    variables: tuple[str, ...]


@dataclass
class DifferencingResult:
    """Outcome of one differencing check.

    Attributes:
        status: `pass`, `review` or `fail`.
        reasons: (rule, status, summary) rows, no counts.
        relations: one line per related earlier output (shared population or variables), for CLEARANCE.md.
        findings: checker-only frame (FINDING_COLUMNS) with the true counts and attacker bounds.
        compared: earlier outputs compared; seconds: time taken.

    Example:
        >>> DifferencingResult().status
        'pass'
    """

    status: str = "pass"
    reasons: list[tuple[str, str, str]] = field(default_factory=list)
    relations: list[str] = field(default_factory=list)
    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINDING_COLUMNS))
    compared: int = 0
    seconds: float = 0.0


def _relation(J: np.ndarray, other: str) -> str:
    both, only_n, only_e = int(J[1:, 1:].sum()), int(J[0, 1:].sum()), int(J[1:, 0].sum())
    if both == 0:
        return f"no records in common with {other}"
    if only_n == 0 and only_e == 0:
        return f"same population as {other}"
    if only_n == 0:
        return f"population contained in that of {other} (which has further records)"
    if only_e == 0:
        return f"population contains that of {other} (and has further records)"
    return f"population overlaps that of {other}"


def _joint(ledger: Ledger, e: LedgerEntry, rel_e: Released, new: NewOutput) -> np.ndarray:
    """Joint counts of the labels of earlier output `e` and of the new output, record by record."""
    rel_n, labels, keyset, e_keyset = new.released, new.labels, new.keyset, e.keyset
    if rel_n is None or labels is None or not keyset or not e_keyset:  # _compare links only such outputs
        raise ValueError("a joint needs both outputs' keysets and the new output's released labels")
    lab_e = np.asarray(ledger.labels(e))
    r, c = rel_e.n_labels, rel_n.n_labels
    if e_keyset == keyset:
        return joint_counts(lab_e, labels, r, c)
    m = ledger.common_prefix(keyset, e_keyset)
    if m is not None:  # row i is the same record in both up to m (Ledger.common_prefix): no lookup
        on_n = np.full(len(labels), -1, lab_e.dtype)
        on_n[:m] = lab_e[:m]
        tail = lab_e[m:]
        return joint_counts(on_n, labels, r, c, np.bincount(tail[tail >= 0], minlength=r))
    pos = ledger.positions(keyset, e_keyset)
    on_n = lab_e.take(pos, mode="clip")  # pos -1 (record not in E's rows) is masked next
    on_n[pos < 0] = -1
    e_only = np.bincount(lab_e[lab_e >= 0], minlength=r) - np.bincount(on_n[on_n >= 0], minlength=r)
    return joint_counts(on_n, labels, r, c, e_only)


def _atom_text(i: int, j: int, rel_e: Released, rel_n: Released, other: str) -> str:
    if i == 0:
        return f"records in this output's cell [{label_name(rel_n, j - 1)}] outside the population of {other}"
    if j == 0:
        return f"records in cell [{label_name(rel_e, i - 1)}] of {other} outside this output's population"
    here, there = label_name(rel_n, j - 1), label_name(rel_e, i - 1)
    return f"records in this output's cell [{here}] and in cell [{there}] of {other}"


def _rounding_width(rel: Released) -> float:
    """Narrowest interval among an output's rounded (finite, inexact) released values; inf if none."""
    finite = np.isfinite(rel.hi) & (rel.hi > rel.lo)
    return float((rel.hi - rel.lo)[finite].min()) if finite.any() else float("inf")


def _aggregate(rel_e: Released, rel_n: Released, min_safe: int) -> bool:
    """ACRO #117: same variables and categories, every shown cell moved the same way, total moved by 1..m-1."""
    if not (rel_e.counts and rel_n.counts) or rel_e.dims != rel_n.dims or rel_e.levels != rel_n.levels:
        return False

    def known(rel: Released) -> tuple[dict[int, float], float | None]:
        size = np.diff(rel.indptr)
        ex = rel.exact()
        singles = {int(rel.indices[rel.indptr[k]]): float(rel.lo[k]) for k in np.flatnonzero(ex & (size == 1))}
        grand = [float(rel.lo[k]) for k in np.flatnonzero(ex & (size == rel.n_labels))]
        return singles, (grand[0] if grand else None)

    se, ge = known(rel_e)
    sn, gn = known(rel_n)
    common = sorted(set(se) & set(sn))
    diffs = [sn[k] - se[k] for k in common] + ([gn - ge] if ge is not None and gn is not None else [])
    if not diffs or not (all(d >= 0 for d in diffs) or all(d <= 0 for d in diffs)):
        return False
    if ge is not None and gn is not None:
        total = gn - ge
    elif len(common) == rel_e.n_labels:
        total = sum(sn[k] - se[k] for k in common)
    else:
        return False
    return 1 <= abs(total) <= min_safe - 1


def _sum_findings(
    J: np.ndarray,
    S: np.ndarray,
    rel_e: Released,
    rel_n: Released,
    e: LedgerEntry,
    m: int,
    res: DifferencingResult,
    rows: list[list[object]],
) -> None:
    """Reasons and findings of `sum_differencing` for one pair of outputs that released sums of the same column."""
    found, left = sum_pair_check(J, S, rel_e, rel_n, m)
    if left:
        res.reasons.append(
            (
                RULE,
                "review",
                f"sums of {rel_n.measure!r} in this output and {e.display} have too many cell combinations for the "
                "differencing check: a checker must compare them",
            )
        )
    if found:
        texts = [_atom_text(i, j, rel_e, rel_n, e.display) for i, j in found]
        more = f" (and {len(texts) - 3} more)" if len(texts) > 3 else ""
        res.reasons.append(
            (
                RULE,
                "fail",
                f"combined with earlier output {e.display} ({_relation(J, e.display)}), the total of "
                f"{rel_n.measure!r} over {len(texts)} group(s) of fewer than {m} records is recovered exactly by "
                "differencing (a sum or a mean with its n is a sum): " + "; ".join(texts[:3]) + more,
            )
        )
        for i, j in found:
            rows.append(
                [
                    e.name,
                    e.run,
                    "outside its population" if i == 0 else label_name(rel_e, i - 1),
                    "outside this population" if j == 0 else label_name(rel_n, j - 1),
                    int(J[i, j]),
                    None,
                    None,
                    "linear algebra (sums)",
                ]
            )


def _compare(
    ledger: Ledger,
    e: LedgerEntry,
    new: NewOutput,
    res: DifferencingResult,
    rows: list[list[object]],
    m: int,
    width: float,
    budget: Budget,
) -> None:
    """Compare the new output with one earlier output: relation, pair atoms, or the table-level rule."""
    rel_n = new.released
    rel_e = ledger.released(e)
    shared = sorted(set(e.variables) & set(new.variables))
    parts = [f"shares variables {', '.join(shared)}"] if shared else []
    linked = False
    if (
        rel_e is not None
        and rel_n is not None
        and e.keyset
        and new.keyset
        and e.key_space == new.key_space
        and new.labels is not None
    ):
        if (rel_e.n_labels + 1) * (rel_n.n_labels + 1) > _MAX_JOINT:
            res.reasons.append(
                (
                    RULE,
                    "review",
                    f"{e.display} and this output have too many cell combinations "
                    "for the differencing check: a checker must compare them",
                )
            )
            return
        J = _joint(ledger, e, rel_e, new)
        S, agreement = support(J, rel_e, rel_n)
        if new.key_space == "index" and agreement < LINK_AGREEMENT:
            parts.append("records not linked (DataFrame-index keys disagree on shared variables; pass record_id=)")
        else:
            linked = True
            if J[1:, 1:].sum() > 0:
                parts.insert(0, _relation(J, e.display))
            if not (rel_e.counts and rel_n.counts):  # sums of a column: exact determinacy of small atoms' sums
                if comparable_sums(rel_e, rel_n):
                    _sum_findings(J, S, rel_e, rel_n, e, m, res, rows)
                if parts:
                    res.relations.append(f"{e.display}: " + "; ".join(parts))
                return
            # A rounded release is itself an interval narrower than the protection width (base 10: 9 wide); an atom
            # known as well as a rounded value is protected as well as that value (docs/disclosure.md §1.5: rounding is
            # OpenSAFELY's defence against N -> N+1 differencing).
            w = min(width, _rounding_width(rel_e), _rounding_width(rel_n))
            pr = pair_check(J, S, rel_e, rel_n, m, w, budget)
            if pr.unresolved:
                res.reasons.append(
                    (
                        RULE,
                        "review",
                        f"differencing against {e.display} was not settled "
                        f"({pr.unresolved} group(s) left: system too large or work budget spent): a "
                        "checker must compare the two outputs",
                    )
                )
            if pr.disclosed:
                exact = all(lo == hi for lo, hi in zip(pr.lower, pr.upper, strict=True))
                how = "exactly" if exact else f"exactly or to within fewer than {w:g}"
                texts = [_atom_text(i, j, rel_e, rel_n, e.display) for i, j in pr.atoms]
                more = f" (and {len(texts) - 3} more)" if len(texts) > 3 else ""
                res.reasons.append(
                    (
                        RULE,
                        "fail",
                        f"combined with earlier output {e.display} "
                        f"({_relation(J, e.display)}), {len(texts)} group(s) of fewer than {m} "
                        f"records can be recovered {how} by differencing: " + "; ".join(texts[:3]) + more,
                    )
                )
                for (i, j), cnt, lo, hi, how_ in zip(pr.atoms, pr.counts, pr.lower, pr.upper, pr.method, strict=True):
                    rows.append(
                        [
                            e.name,
                            e.run,
                            "outside its population" if i == 0 else label_name(rel_e, i - 1),
                            "outside this population" if j == 0 else label_name(rel_n, j - 1),
                            cnt,
                            lo,
                            hi,
                            how_,
                        ]
                    )
    if not linked and rel_e is not None and rel_n is not None and _aggregate(rel_e, rel_n, m):
        res.reasons.append(
            (
                RULE,
                "fail",
                f"same table as earlier output {e.display} (same variables and "
                f"categories) on a population that differs by fewer than {m} records in total: "
                "the difference is a small group (records could not be linked, table-level rule)",
            )
        )
        rows.append([e.name, e.run, "whole table", "whole table", None, None, None, "table totals"])
    elif not linked and rel_e is not None and rel_n is not None and (small := unlinked_difference(rel_e, rel_n, m)):
        more = f" (and {len(small) - 3} more)" if len(small) > 3 else ""
        res.reasons.append(
            (
                RULE,
                "fail",
                f"records of this output and earlier output {e.display} could not be linked, and if one population "
                f"contains the other their difference is a group of fewer than {m} records in: "
                + "; ".join(small[:3])
                + more
                + ": pass record_id= with the same person ids to both outputs so the checker can tell (counts of "
                "different units of the same records, such as events and the people they belong to, differ by a count "
                "too: then release one of the two, or coarser cells)",
            )
        )
        rows += [[e.name, e.run, where, where, None, None, None, "unlinked margins"] for where in small]
    if parts:
        res.relations.append(f"{e.display}: " + "; ".join(parts))


def check_new(
    ledger: Ledger,
    new: NewOutput,
    profile: Profile,
    lp_budget: int = LP_BUDGET,
    entries: list[LedgerEntry] | None = None,
) -> DifferencingResult:
    """Check a new output against the ledger's entries (default: all of them, newest first).

    Args:
        ledger: the differencing ledger.
        new: the new output's released values, labels and keyset.
        profile: the rule set (smallest safe count and protection width).
        lp_budget: LPs the check may solve; what is not compared within it makes the output `review`.
        entries: compare with these entries only, oldest first (the re-check after recording, or the runner's
            comparison across notebook runs in pipeline order).

    Returns:
        DifferencingResult.

    Example:
        >>> from djs_toolkit.sdc.profiles import load_profile
        >>> from djs_toolkit.sdc.released import from_sets
        >>> led = Ledger()
        >>> keys = led.hash_ids(np.arange(40))
        >>> full = from_sets(("g",), (("a", "b"),), [[0], [1]], [20.0, 20.0], [20.0, 20.0])
        >>> _ = led.add("all", "table", "count", "pass", ("g",), full, np.repeat([0, 1], 20), keys, "record_id",
        ...             None)
        >>> part = from_sets(("g",), (("a", "b"),), [[0], [1]], [18.0, 20.0], [18.0, 20.0])
        >>> lab = np.repeat([0, 1], 20); lab[:2] = -1  # two records of a left out
        >>> new = NewOutput("some", part, lab, led.store_keyset(keys), "record_id", ("g",))
        >>> res = check_new(led, new, load_profile("srs"))
        >>> res.status, "'all'" in res.reasons[0][2], res.findings["true_count"].tolist()
        ('fail', True, [2])
    """
    t0 = time.monotonic()
    budget = Budget(int(lp_budget))
    res = DifferencingResult()
    m, width = profile.min_safe_count, profile.width
    rel_n = new.released
    pool = entries if entries is not None else ledger.entries()
    twin = content_digest(rel_n, new.labels, new.keyset) if rel_n is not None else ""
    # An earlier release of exactly these values about exactly these records (a rerun) adds nothing to compare.
    pool = [e for e in pool if not (twin and e.content == twin)]
    todo = list(reversed(pool))
    rows: list[list[object]] = []
    skipped: list[str] = []
    for e in todo:
        if budget.exhausted:
            skipped.append(e.display)
            continue
        try:
            _compare(ledger, e, new, res, rows, m, width, budget)
        except (OSError, ValueError, KeyError, IndexError):
            # a damaged or half-removed entry: fail closed to a human comparison, never a silent pass
            res.reasons.append(
                (
                    RULE,
                    "review",
                    f"the ledger's record of {e.display} could not be read: a checker must compare the two outputs",
                )
            )
        res.compared += 1
    if (
        rel_n is not None
        and rel_n.counts
        and new.keyset
        and new.labels is not None
        and not skipped
        and not any(st == "fail" for _, st, _ in res.reasons)
    ):
        members, found, left = family_check(
            ledger,
            new.keyset,
            new.labels,
            rel_n,
            pool,
            new.key_space or "record_id",
            m,
            min(width, _rounding_width(rel_n)),
            budget,
        )
        if left:
            res.reasons.append(
                (
                    RULE,
                    "review",
                    f"differencing across {', '.join(members)} (the same table on other "
                    f"populations) was not settled ({left} group(s) left: work budget spent): a checker "
                    "must compare the outputs",
                )
            )
        if found:
            res.reasons.append(
                (
                    RULE,
                    "fail",
                    f"combined with earlier outputs {', '.join(members)} (the same table "
                    f"on other populations), {len(found)} group(s) of fewer than {m} records can be "
                    "recovered by differencing across the outputs together",
                )
            )
            rows += [["; ".join(members), "", where, "", cnt, lo, hi, how] for where, cnt, lo, hi, how in found]
    if skipped:
        res.reasons.append(
            (
                RULE,
                "review",
                f"differencing check spent its work budget ({lp_budget} LPs) before "
                f"comparing with {len(skipped)} earlier output(s): {', '.join(skipped[:10])}",
            )
        )
    res.findings = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    statuses = [s for _, s, _ in res.reasons]
    res.status = "fail" if "fail" in statuses else ("review" if "review" in statuses else "pass")
    res.relations.reverse()  # oldest first, as they were recorded
    res.seconds = time.monotonic() - t0
    return res
