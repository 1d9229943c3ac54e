"""CLEARANCE.md as the SRS output request: project fields, a summary table, and what was suppressed in plain words.

Shared by a clearance folder (`sdc.results.write_folder`, `djs check`) and a bundle (`runner.bundle`, `djs run`);
both pass the results.json entries in pipeline order. Project and researcher fields come from a project file
(`djs_project.yaml`, `PROJECT_FILE`) or command-line options, never guessed: a missing one is printed as
**TO COMPLETE** and `missing_fields` lets the commands warn before they start. Every line here is made of labels,
rule names, counts of cells and the researcher's own text (descriptions, comments, project fields), never a value.

```yaml
# djs_project.yaml (beside pipeline.yaml, or in the folder `djs check` is run from)
id: "2024/123"                  # SRS project number
title: Re-entry to the justice system after a possession claim
researchers: [A. Researcher, B. Researcher]
organisation: University of Somewhere
contact: a.researcher@example.ac.uk
aims: why these outputs are needed (the approved project's aims they serve)
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from djs_toolkit.errors import DJSUserError

__all__ = [
    "PROJECT_FIELDS",
    "PROJECT_FILE",
    "TO_COMPLETE",
    "Project",
    "kind_of",
    "load_project",
    "missing_fields",
    "project_lines",
    "set_project",
    "summary_lines",
    "suppressed_lines",
]

PROJECT_FILE = "djs_project.yaml"
TO_COMPLETE = "**TO COMPLETE**"
PROJECT_FIELDS = {
    "id": "SRS project number",
    "title": "Project title",
    "researchers": "Researcher(s)",
    "organisation": "Organisation",
    "contact": "Contact",
    "aims": "Project aims these outputs serve",
}
# What each rule that withholds cells means, for a reader who does not know the rule names.
_PLAIN = {
    "MinimumThresholdCheck": "counted fewer people or records than the threshold",
    "NKCheck": "dominated by one or two contributors",
    "PPercentCheck": "dominated by its largest contributor (p% rule)",
    "PresenceOfZeroCheck": "zero cells that could reveal something about a group",
    "ZerosCheck": "zero cells that could reveal something about a group",
    "ClassDisclosureCheck": "everyone in a group in one category (class disclosure)",
    "MinimumDoFCheck": "too few degrees of freedom",
    "PositionUniquenessCheck": "a value that is one person's (a minimum or maximum)",
    "ExtremeValueCheck": "an extreme value of few records",
    "AllValuesSameCheck": "all records with the same value",
    "DifferencingCheck": "could be worked out by comparing with another output (differencing)",
    "DerivedCountCheck": "a count that could be worked out from the released values",
    "SurvivalTableCheck": "a survival step of too few people",
}


@dataclass(frozen=True)
class Project:
    """Project and researcher fields for CLEARANCE.md, and where they came from.

    Example:
        >>> Project({"id": "2024/1"}, "djs_project.yaml").get("id"), Project().get("title")
        ('2024/1', '')
    """

    fields: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def get(self, key: str) -> str:
        """A field's text ('' when not given).

        Example:
            >>> Project({"researchers": "A, B"}).get("researchers")
            'A, B'
        """
        return self.fields.get(key, "")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for results.json.

        Example:
            >>> Project({"id": "1"}, "command line").to_dict()
            {'fields': {'id': '1'}, 'source': 'command line'}
        """
        return {"fields": dict(self.fields), "source": self.source}


def _text(key: str, value: Any, where: str) -> str:
    if key == "researchers" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value if v.strip())
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return " ".join(str(value).split())
    raise DJSUserError(f"{where}: `{key}` must be text" + (" or a list of names" if key == "researchers" else ""))


def load_project(path: Path | None = None, options: dict[str, Any] | None = None) -> Project:
    """Project fields from a project file (if given and present) overridden by command-line options.

    Args:
        path: `djs_project.yaml`; a missing file gives no fields (the commands warn), an unreadable one an error.
        options: field -> value from the command line (None values are ignored).

    Raises:
        DJSUserError: the file is not YAML, not a mapping, has an unknown key or a value that is not text.

    Example:
        >>> load_project(None, {"id": "2024/9", "researchers": ["A", "B"]}).fields
        {'id': '2024/9', 'researchers': 'A, B'}
    """
    fields: dict[str, str] = {}
    sources = []
    if path is not None and Path(path).is_file():
        where = Path(path).name
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raise DJSUserError(f"{where} is not valid YAML: write one `field: value` per line.") from None
        if not isinstance(doc, dict):
            raise DJSUserError(f"{where} must hold `field: value` lines ({', '.join(PROJECT_FIELDS)}).")
        unknown = sorted(str(k) for k in doc if k not in PROJECT_FIELDS)
        if unknown:
            raise DJSUserError(f"{where}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(PROJECT_FIELDS)}.")
        fields.update({k: _text(k, v, where) for k, v in doc.items() if v is not None})
        sources.append(where)
    given = {k: v for k, v in (options or {}).items() if v not in (None, [], "")}
    if given:
        fields.update({k: _text(k, v, "command line") for k, v in given.items()})
        sources.append("command line")
    return Project({k: fields[k] for k in PROJECT_FIELDS if fields.get(k)}, " and ".join(sources))


def missing_fields(project: Project) -> list[str]:
    """The project fields not given, by their labels (for the commands' warning before they start).

    Example:
        >>> missing_fields(Project({"id": "1", "title": "t", "researchers": "A", "organisation": "o", "aims": "x"}))
        ['Contact']
    """
    return [label for key, label in PROJECT_FIELDS.items() if not project.get(key)]


def _cell(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()


def project_lines(project: Project) -> list[str]:
    """The `## Project` block: every field, with TO COMPLETE where it was not given.

    Example:
        >>> project_lines(Project({"id": "2024/1"}, "djs_project.yaml"))[4]
        '| SRS project number | 2024/1 |'
    """
    rows = [f"| {label} | {_cell(project.get(key)) or TO_COMPLETE} |" for key, label in PROJECT_FIELDS.items()]
    source = (
        f"From {project.source}."
        if project.source
        else f"No project fields were given: write them in {PROJECT_FILE} (or pass --project-id, --project-title, "
        "--researcher, ...) and run again, or complete them here."
    )
    return ["## Project", "", "| field | value |", "|---|---|", *rows, "", source, ""]


def kind_of(entry: dict[str, Any]) -> str:
    """What an output is, in words: figure, model, survival table, histogram, table or file.

    Example:
        >>> kind_of({"type": "table", "properties": {"figure": "a.png"}})
        'figure (PNG) with its underlying table'
        >>> kind_of({"type": "regression", "properties": {}})
        'model (coefficient table)'
    """
    typ, props = entry.get("type"), entry.get("properties", {})
    names = [str(f.get("name", "")) for f in entry.get("files", [])]
    if props.get("figure"):
        return "figure (PNG) with its underlying table"
    if typ == "regression" or props.get("method") == "regression":
        return "model (coefficient table)"
    if typ == "survival":
        return "survival table" + (" and its curve (PNG)" if any(n.endswith(".png") for n in names) else "")
    if typ == "histogram":
        return "histogram (PNG) with its table"
    if typ == "custom":
        suffix = Path(names[0]).suffix.lower() if names else ""
        return "figure (image)" if suffix in (".png", ".jpg", ".jpeg", ".svg", ".gif") else "file"
    return "table"


def _flags(entry: dict[str, Any], status: str) -> list[dict[str, str]]:
    return [f for f in entry.get("djs_toolkit", {}).get("output_flags", []) if f.get("status") == status]


def _cell_rules(entry: dict[str, Any], statuses: tuple[str, ...]) -> list[str]:
    checks = entry.get("fair", {}).get("check_status", {})
    flagged = {f["rule"] for f in entry.get("djs_toolkit", {}).get("output_flags", [])}
    return sorted(r for r, s in checks.items() if s in statuses and r not in flagged)


def _withheld_cells(entry: dict[str, Any]) -> dict[str, int]:
    files = entry.get("files") or [{}]
    return dict(files[0].get("sdc", {}).get("summary", {}))


def _flagged_left(entry: dict[str, Any]) -> dict[str, int]:
    """Cells each rule flagged that were not withheld (zeros, class disclosure ...): what the checker decides on."""
    files = entry.get("files") or [{}]
    cells = files[0].get("sdc", {}).get("cells", {})
    withheld = {tuple(c) for c in cells.get("suppressed", [])}
    left = {r: sum(tuple(c) not in withheld for c in cs) for r, cs in cells.items() if r != "suppressed"}
    return {r: n for r, n in left.items() if n}


def _short(text: str, limit: int = 240) -> str:
    text = _cell(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "... (in full in its section)"


def _reason_action(entry: dict[str, Any], threshold: int | None = None) -> tuple[str, str]:
    status = entry.get("status")
    if status == "fail":
        fails = _flags(entry, "fail")
        rules = [f["rule"] for f in fails] + _cell_rules(entry, ("fail",))
        why = fails[0]["summary"] if fails else "cells fail a rule that suppression cannot fix"
        return (
            f"{', '.join(dict.fromkeys(rules)) or 'withheld'}: {why}",
            "none: withheld, not for release (its only file is a notice that says so)",
        )
    n = int(_withheld_cells(entry).get("suppressed", 0))
    if status == "review":
        reviews = _flags(entry, "review")
        if reviews:
            more = f" (and {len(reviews) - 1} more in its section)" if len(reviews) > 1 else ""
            return f"{reviews[0]['rule']}{more}", f"decide: {reviews[0]['summary']}"
        rules = _cell_rules(entry, ("review", "fail"))
        reason = f"{', '.join(rules) or 'review'}" + (f" ({n} cell(s) withheld)" if n else "")
        left = _flagged_left(entry)
        if left:
            words = "; ".join(f"{k} {_plain(r, threshold)}" for r, k in left.items())
            return reason, f"decide: are the flagged cells disclosive or structural ({words})?"
        if n:
            return reason, f"decide: confirm the {n} withheld cell(s) and the controls in its section protect it"
        return reason, "decide: the controls and flags in its section"
    return ("all checks pass" + (f" after {n} cell(s) withheld" if n else ""), "none: release as is")


def summary_lines(results: dict[str, dict[str, Any]], threshold: int | None = None) -> list[str]:
    """The `## Summary` table: one row per output in the order given (output, type, status, reason, action).

    Args:
        results: results.json entries in order.
        threshold: the smallest count that passes (`Profile.min_safe_count`), to say it in words.

    Example:
        >>> e = {"status": "pass", "type": "table", "files": [{"name": "release/t.csv", "sdc": {"summary": {}}}]}
        >>> summary_lines({"t": e})[6]
        '| 1 | t | table | pass | all checks pass | none: release as is |'
    """
    statuses = [e.get("status") for e in results.values()]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("pass", "review", "fail"))
    lines = [
        "## Summary",
        "",
        f"{len(results)} output(s) in the order they were made: {counts} (fail = withheld, not for release).",
        "",
        "| # | output | type | status | reason | checker action |",
        "|---|---|---|---|---|---|",
    ]
    for i, (uid, entry) in enumerate(results.items(), 1):
        reason, action = _reason_action(entry, threshold)
        lines.append(
            f"| {i} | {_cell(uid)} | {kind_of(entry)} | {entry.get('status')} | {_short(reason)} | {_short(action)} |"
        )
    return [*lines, ""]


def _plain(rule: str, threshold: int | None) -> str:
    text = _PLAIN.get(rule, f"flagged by {rule}")
    if rule == "MinimumThresholdCheck" and threshold is not None:
        text = f"counted fewer than {threshold} people or records (the threshold)"
    return text


def _upper(text: str | None) -> str:
    return f"{text[0].upper()}{text[1:]}" if text else ""


def _withheld_by_rule(entry: dict[str, Any]) -> tuple[dict[str, int], int]:
    """Withheld cells by the rule that withheld them (a cell two rules flag counts once), and how many more were
    withheld to protect them (secondary suppression)."""
    files = entry.get("files") or [{}]
    cells = files[0].get("sdc", {}).get("cells", {})
    withheld = {tuple(c) for c in cells.get("suppressed", [])}
    order = [r for r in _PLAIN if r in cells] + sorted(r for r in cells if r not in _PLAIN and r != "suppressed")
    by_rule: dict[str, int] = {}
    seen: set[tuple] = set()
    for rule in order:
        hit = ({tuple(c) for c in cells[rule]} & withheld) - seen
        if hit:
            by_rule[rule] = len(hit)
            seen |= hit
    return by_rule, len(withheld - seen)


def suppressed_lines(results: dict[str, dict[str, Any]], threshold: int | None = None) -> list[str]:
    """The `## What was suppressed and why` block, in plain words: withheld cells and withheld outputs.

    Args:
        results: results.json entries in order.
        threshold: the smallest count that passes (`Profile.min_safe_count`), to say it in words.

    Example:
        >>> cells = {"MinimumThresholdCheck": [[0, 0], [1, 0]], "PresenceOfZeroCheck": [[2, 1]],
        ...          "suppressed": [[0, 0], [1, 0], [0, 1]]}
        >>> e = {"status": "review", "type": "table", "properties": {},
        ...      "files": [{"name": "release/t.csv", "sdc": {"summary": {"suppressed": 3}, "cells": cells}}]}
        >>> print(suppressed_lines({"t": e}, 10)[2].replace("; ", ";\\n").replace(". ", ".\\n"))
        - t (table): 3 cell(s) withheld: 2 counted fewer than 10 people or records (the threshold);
        1 more so that the withheld cells cannot be worked out from the totals or the other cells.
        Flagged and left for the checker: 1 zero cells that could reveal something about a group.
    """
    from djs_toolkit.sdc.share import share_text

    lines = ["## What was suppressed and why", ""]
    for uid, entry in results.items():
        if entry.get("status") == "fail":
            reason, _ = _reason_action(entry, threshold)
            lines.append(f"- {uid} ({kind_of(entry)}): withheld entirely, not released. Why: {_short(reason, 400)}.")
            continue
        total = int(_withheld_cells(entry).get("suppressed", 0))
        share = share_text(entry.get("properties", {}))
        structural = len(entry.get("properties", {}).get("structural_cells", []))
        if structural:  # declared by the analysis (save_table(structural_zeros=...)): not withheld, not flagged
            lines.append(f"- {uid} ({kind_of(entry)}): {structural} cell(s) are structural zeros that cannot occur.")
        if not total:
            if entry.get("properties", {}).get("withheld_share"):  # protected as a whole (overlap sets, curves)
                controls = "; ".join(entry.get("djs_toolkit", {}).get("controls", [])) or "protected"
                lines.append(f"- {uid} ({kind_of(entry)}): counts withheld ({_cell(controls)}). {_upper(share)}.")
            continue
        by_rule, more = _withheld_by_rule(entry)
        parts = [f"{n} {_plain(rule, threshold)}" for rule, n in by_rule.items()]
        if more:
            parts.append(
                f"{more} more so that the withheld cells cannot be worked out from the totals or the other cells"
            )
        left = "; ".join(f"{n} {_plain(rule, threshold)}" for rule, n in _flagged_left(entry).items())
        lines.append(
            f"- {uid} ({kind_of(entry)}): {total} cell(s) withheld: {'; '.join(parts)}."
            + (f" Flagged and left for the checker: {left}." if left else "")
            + (f" {_upper(share)}." if share else "")
        )
    if len(lines) == 2:
        lines.append("Nothing was suppressed or withheld.")
    return [*lines, ""]


def set_project(folder: Path, project: Project) -> None:
    """Fill a written clearance folder's project fields (`djs check`): CLEARANCE.md's block, results.json, manifest.

    Example:
        >>> import tempfile
        >>> from djs_toolkit.sdc.session import Session
        >>> out = Session().finalise(Path(tempfile.mkdtemp()) / "f")
        >>> set_project(out, Project({"id": "2024/1"}, "command line"))
        >>> "| SRS project number | 2024/1 |" in (out / "CLEARANCE.md").read_text()
        True
    """
    import json

    from djs_toolkit.fileio import MANIFEST_NAME, atomic_write_text, write_sha256_manifest

    folder = Path(folder)
    text = (folder / "CLEARANCE.md").read_text(encoding="utf-8")
    start, end = text.index("## Project\n"), text.index("\n## Summary\n")
    atomic_write_text(folder / "CLEARANCE.md", text[:start] + "\n".join(project_lines(project)) + text[end:])
    doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    doc.setdefault("djs_toolkit", {})["project"] = project.to_dict()
    atomic_write_text(folder / "results.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
    if (folder / MANIFEST_NAME).is_file():
        write_sha256_manifest(folder)
