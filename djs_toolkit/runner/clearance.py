"""A bundle's CLEARANCE.md (the SRS output request, `sdc.request`): header blocks, runs, attack, sections in order.

`runner.bundle` collects each output's section from its staged record (`record_section`: the record's own section,
its justification the notebook's question from `notebook_question`, its files filled in once the runner's checks
and the ACRO export are done) and writes the whole request with `clearance_text`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from djs_toolkit.fileio import MANIFEST_NAME
from djs_toolkit.sdc.release_attack import AttackResult
from djs_toolkit.sdc.request import TO_COMPLETE, Project, project_lines, summary_lines, suppressed_lines
from djs_toolkit.sdc.results import TOOL_VERSION

__all__ = ["FILES_MARK", "LEDGER_NOTE", "clearance_text", "in_saved_order", "notebook_question", "record_section"]

LEDGER_NOTE = (
    "differencing checked within each notebook run as its outputs were saved, and across notebook runs "
    "in pipeline order by the runner (checker-only ledger)"
)


FILES_MARK = "\x00files\x00"
_FILES_LINE = re.compile(r"^- Files: .*$", re.M)
_JUSTIFICATION = re.compile(r"^- Justification: (.*)$", re.M)


def notebook_question(notebook: Path) -> str:
    """The research question a notebook states (its `**Question.**` paragraph, else its title), '' without one.

    Its outputs' justification in CLEARANCE.md: why the project made them, in the notebook's own words.

    Example:
        >>> import tempfile
        >>> nb = Path(tempfile.mkdtemp()) / "a.ipynb"
        >>> _ = nb.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": [
        ...     "# 10 Re-entry\\n", "\\n", "**Question.** How soon do people come back?\\n"]}]}))
        >>> notebook_question(nb)
        '10 Re-entry: How soon do people come back?'
    """
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return ""
    text = next(("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "markdown"), "")
    title = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("#")), "")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    question = next((p.removeprefix("**Question.**").strip() for p in paragraphs if p.startswith("**Question.**")), "")
    return f"{title}: {question}" if title and question else title or question


def in_saved_order(records: list[Path]) -> list[Path]:
    """A run's records in the order its notebook saved them (each record's manifest is written last, at the save)."""
    return sorted(records, key=lambda r: ((r / MANIFEST_NAME).stat().st_mtime_ns, r.name))


def record_section(rec: Path, uid: str, question: str | None) -> str:
    """An output's section of its record's CLEARANCE.md, with the notebook's question as its justification."""
    text = (rec / "CLEARANCE.md").read_text(encoding="utf-8")
    at = text.find(f"\n## {uid}: ")
    section = text[at + 1 :] if at >= 0 else f"## {uid}: fail\n\n"
    section = _FILES_LINE.sub(lambda _: f"- Files: {FILES_MARK}", section, count=1)
    if question:
        own = _JUSTIFICATION.search(section)
        comments = own.group(1) if own and not own.group(1).startswith(TO_COMPLETE) else ""
        text = f"answers the notebook's question ({question})" + (f"; {comments}" if comments else "")
        section = _JUSTIFICATION.sub(lambda _: f"- Justification: {text}", section, count=1)
    return section


def _attack_lines(attack: AttackResult | None) -> list[str]:
    if attack is None:
        return []
    s = attack.summary()
    result = (
        "no withheld or small count can be recovered."
        if not attack.failed
        else f"{s['findings']} count(s) recoverable: {s['outputs_withheld']} output(s) withheld (status fail), "
        "listed in their sections; the counts and attacker intervals are in checker_only/ (DO NOT RELEASE)."
    )
    return [
        "## Whole-release attack",
        "",
        f"Every released table read together as an intruder would ({s['tables']} tables, {s['variables']} counts, "
        f"{s['equations']} linear relations: margins, the same count in companion tables, ratio x count, survival "
        f"at-risk, events and censored identities, overlap inclusive/exclusive identities), one LP attack "
        f"({s['lp_variables']} unknown counts in {s['lp_blocks']} independent block(s), {s['rounds']} round(s)): "
        + result,
        "",
    ]


def _validation_lines(validation: dict[str, Any] | None) -> list[str]:
    if validation is None:
        return []
    errors = validation.get("errors", [])
    lines = [
        f"Validation: run with `--allow-invalid`: the extract had {len(errors)} validation error(s) when these "
        "outputs were made" + (":" if errors else "."),
    ]
    for e in errors:
        where = e["table"] + (f".{e['column']}" if e.get("column") else "")
        lines.append(f"- [{e['kind']}] {where}: {e['message']}")
    return [*lines, ""]


def clearance_text(
    prof: Any,
    run_docs: list[dict[str, Any]],
    sections: dict[str, str],
    results: dict[str, dict[str, Any]],
    validation: dict[str, Any] | None = None,
    attack: AttackResult | None = None,
    project: Project | None = None,
    ledger_note: str = LEDGER_NOTE,
) -> str:
    lines = [
        "# Output clearance request",
        "",
        f"The SRS output request for {len(results)} output(s) of {len(run_docs)} notebook run(s), checked by "
        f"djs_toolkit {TOOL_VERSION} under profile `{prof.name}` v{prof.version} ({prof.description}). Fields marked "
        f"{TO_COMPLETE} are for the researcher to complete before submitting: nothing in them was guessed.",
        "",
        *project_lines(project or Project()),
        *summary_lines(results, prof.min_safe_count),
        *suppressed_lines(results, prof.min_safe_count),
        *_validation_lines(validation),
        f"Relationship to other outputs: {ledger_note}. Each output's section counts the earlier outputs it "
        "shares records or variables with (listed in results.json); earlier versions and outputs made "
        "elsewhere: to be completed by the researcher.",
        "",
        "## Notebook runs",
        "",
        "| run | notebook | parameters | outputs |",
        "|---|---|---|---|",
    ]
    for r in run_docs:
        params = ", ".join(f"{k}={v}" for k, v in sorted(r["parameters"].items())) or "-"
        lines.append(f"| {r['label']} | {r['notebook']} | {params} | {len(r['outputs'])} |")
    lines += ["", *_attack_lines(attack)]
    return "\n".join(lines) + "\n\n" + "".join(sections[k].rstrip("\n") + "\n\n" for k in results)
