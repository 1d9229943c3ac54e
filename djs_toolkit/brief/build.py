"""`djs brief`: one research brief per notebook run of a bundle, built from its `release/` only and registered.

For each run: the question and population in plain words (`brief.words`), two to four headlines
(`brief.headlines`: the researcher's own findings first), what the data cannot show, and prompts for practice.
Every number in the brief is traced (`outputs.text.trace_numbers`, the same tracer `save_text` uses) to a value
of the run's released tables or derived from them by a declared rule; a headline with a number that does not
trace is left out, and a brief whose text still holds one is not written. The notes section lists each number's
source. The bundle is verified first (a brief never blesses an altered bundle); the briefs go to
`briefs/<label>.md|html` and are added to `manifest.json` and `manifest-sha256.txt`, so `djs verify` still passes.

Example:
    >>> write_briefs(Path("no-such-bundle"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    djs_toolkit.DJSUserError: no-such-bundle is not a bundle: ...
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from djs_toolkit.brief.bundle import BundleView, read_bundle
from djs_toolkit.brief.headlines import Headline, headlines
from djs_toolkit.brief.readability import flesch, prose, reading_age
from djs_toolkit.brief.render import NOTES_HEADING, Brief, to_html, to_markdown
from djs_toolkit.brief.words import CANNOT_SHOW, INDEX_EVENTS, dataset, days, practice_prompts, question, years
from djs_toolkit.errors import DJSUserError
from djs_toolkit.fileio import atomic_write_json, atomic_write_text, sha256_file, write_sha256_manifest
from djs_toolkit.outputs.text import Trace, released_values, trace_numbers
from djs_toolkit.runner.bundle import verify_bundle

__all__ = ["BRIEFS", "Written", "brief_for", "check_brief", "write_briefs"]

BRIEFS = "briefs"


@dataclass
class Written:
    """One brief written: its files, headline count, readability and the headlines left out.

    Example:
        >>> Written("r", Path("r.md"), Path("r.html"), 2, 61.0, 11.0, 0).headlines
        2
    """

    label: str
    markdown: Path
    html: Path
    headlines: int
    flesch: float
    reading_age: float
    dropped: int


def _period(view: BundleView, label: str) -> str:
    for o in view.outputs_of(label):
        if not o.csv or o.type == "survival":
            continue
        t = view.table(o.csv)
        col = next((c for c in ("year", "month", "cohort") if c in t.columns), None)
        if col is None:
            continue
        values = t.drop(columns=[col]).select_dtypes("number")
        rows = t[values.notna().any(axis=1)] if not values.empty else t
        labels = sorted(str(v) for v in rows[col].dropna().unique())
        if labels:
            what = {"year": "years", "month": "months", "cohort": "cohorts"}[col]
            return f" The {what} covered run from {labels[0]} to {labels[-1]}."
    return ""


def _population(view: BundleView, run: dict) -> str:
    nb = str(run["notebook"]).rsplit("/", 1)[-1][:2]
    p = run.get("parameters", {})
    if nb == "10":
        who = INDEX_EVENTS.get(str(p.get("index_type", "release")), "people with the index event")
        times = [
            float(t)
            for o in view.outputs_of(run["label"])
            if o.type == "survival" and o.csv
            for t in view.table(o.csv).get("time", [])
            if t == t
        ]
        until = f", or for up to {days(max(times))}" if times else ""
        text = (
            f"{who[0].upper()}{who[1:]} in the extract. Each person is followed from that event until they come "
            f"back, until the records end{until}."
        )
    elif nb == "20":
        first = dataset(str(p.get("first", ""))) if p.get("first") else "the first event"
        text = (
            f"People in the extract with {first}, followed for {years(float(p.get('within_days', 0) or 0))} after it."
        )
    elif nb == "40":
        text = (
            "People with a possession claim against them or a family court case as an adult party, and their "
            "cases in other courts, prison and probation."
        )
    else:
        text = "Everyone with a record in the extract."
    return text + _period(view, run["label"])


def _notes(traces: list[Trace]) -> list[str]:
    return [f"`{t.number}`: {t.how()}" for t in traces]


def check_brief(markdown: str, view: BundleView, label: str) -> list[Trace]:
    """Trace every number of a brief's text (its notes section aside) to the run's released tables.

    Returns the traces; a number with no released source raises (the brief adds no statistic).

    Example:
        >>> check_brief("No numbers here.", BundleView(Path("b"), [], {}), "r")
        []
    """
    body = markdown.split(NOTES_HEADING, 1)[0]
    traces = trace_numbers(body, released_values(view.release_tables(label)))
    bad = [t for t in traces if t.rule is None]
    if bad:
        where = ", ".join(f"characters {t.start}-{t.end}" for t in bad)
        raise DJSUserError(f"brief for {label}: number(s) at {where} have no released source; brief not written")
    return traces


def brief_for(view: BundleView, label: str) -> tuple[Brief, int]:
    """The brief of one notebook run, and how many headlines were left out for a number with no source.

    Example:
        >>> view = BundleView(Path("b"), [{"label": "r", "notebook": "nb/10_x.ipynb", "outputs": []}], {})
        >>> brief_for(view, "r")[0].question
        'How soon, and how often, do people released from prison custody come back to the criminal courts?'
    """
    run = next(r for r in view.runs if r["label"] == label)
    values = released_values(view.release_tables(label))
    kept: list[Headline] = []
    notes: list[str] = []
    dropped = 0
    for h in headlines(view, label):
        # traced first to the tables the headline reads, so each note names the cell it was printed from
        own = [o for o in view.outputs_of(label) if o.uid in h.sources]
        traces = trace_numbers(h.text, released_values({Path(o.csv).name: view.text(o.csv) for o in own if o.csv}))
        if any(t.rule is None for t in traces):
            traces = trace_numbers(h.text, values)
        if any(t.rule is None for t in traces):
            dropped += 1  # e.g. a finding whose table the whole-release attack withheld
            continue
        if h.figure and any(t.rule is None for t in trace_numbers(h.alt, values)):
            # alt text is the figure's description; one with a number no table holds ("within 365 days") is
            # replaced, so the brief holds no number without a released source
            h.alt = f"Chart of the released table {Path(h.figure).stem}, described in the clearance pack"
        kept.append(h)
        notes += _notes(traces + [t for t in trace_numbers(h.alt, values) if h.figure])
    notes.append(
        'Words such as "about half" describe the percentage printed beside them; "95%" names the kind of '
        "confidence interval, not a result."
    )
    b = Brief(
        label,
        question(str(run["notebook"]), run.get("parameters", {})),
        _population(view, run),
        kept,
        CANNOT_SHOW,
        practice_prompts(str(run["notebook"])),
        bool(view.dummy),
        notes,
    )
    pop_traces = trace_numbers(b.population, values)
    b.notes = _notes(pop_traces) + b.notes
    return b, dropped


def _register(root: Path) -> None:
    """Add `briefs/` to manifest.json (sensitivity `brief`) and rewrite manifest-sha256.txt."""
    path = root / "manifest.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    files = [f for f in doc.get("files", []) if not str(f.get("path", "")).startswith(f"{BRIEFS}/")]
    for p in sorted((root / BRIEFS).iterdir()):
        files.append(
            {
                "path": f"{BRIEFS}/{p.name}",
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
                "output": None,
                "status": None,
                "sensitivity": "brief",
            }
        )
    doc["files"] = sorted(files, key=lambda f: f["path"])
    atomic_write_json(path, doc)
    write_sha256_manifest(root)


def write_briefs(bundle: Path, labels: list[str] | None = None, dummy: bool | None = None) -> list[Written]:
    """Write `briefs/<label>.md` and `.html` for each notebook run (or those named) and register them.

    Args:
        bundle: `outputs/<run_id>`.
        labels: the runs to brief (default: every run with at least one headline).
        dummy: whether the bundle is from dummy data; None = from the run's record, refused when unknown.

    Returns:
        What was written, per run.
    """
    bundle = Path(bundle)
    view = read_bundle(bundle, dummy)
    problems = verify_bundle(bundle)
    if problems:
        raise DJSUserError(
            f"{bundle.name} does not verify ({len(problems)} problem(s), see `djs verify {bundle}`): a brief is "
            f"built only from an intact bundle"
        )
    if view.dummy is None:
        raise DJSUserError(
            f"{bundle.name}: cannot tell whether this bundle is from dummy data (no runs/{bundle.name}/run.json "
            f"beside outputs/): say --dummy or --real"
        )
    known = [r["label"] for r in view.runs]
    unknown = sorted(set(labels or []) - set(known))
    if unknown:
        raise DJSUserError(f"no notebook run {unknown} in {bundle.name}: choose from {known}")
    out = bundle / BRIEFS
    staged: list[tuple[Brief, int, str, str]] = []
    for label in labels or known:
        b, dropped = brief_for(view, label)
        if not b.headlines and not labels:
            continue
        md = to_markdown(b)
        check_brief(md, view, label)
        staged.append((b, dropped, md, to_html(b, bundle)))
    if out.exists():
        shutil.rmtree(out)  # briefs are rebuilt whole: none is left from an earlier call
    out.mkdir()
    written = []
    for b, dropped, md, page in staged:
        md_path = atomic_write_text(out / f"{b.label}.md", md)
        html_path = atomic_write_text(out / f"{b.label}.html", page)
        text = prose(md.split(NOTES_HEADING, 1)[0])
        written.append(Written(b.label, md_path, html_path, len(b.headlines), flesch(text), reading_age(text), dropped))
    _register(bundle)
    return written
