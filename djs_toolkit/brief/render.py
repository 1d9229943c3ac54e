"""A brief as Markdown and as one self-contained HTML file (figures inlined, print CSS for A4).

The HTML needs nothing from the network: system fonts, the figures as base64 PNG, the dummy-data banner repeated on
every printed page (a fixed element repeats on each page in Chromium, Edge and Firefox). Print it to PDF from the
browser; no PDF library is needed.

Example:
    >>> b = Brief("r", "Q?", "who", [], ["a limit"], ["a prompt"], dummy=True)
    >>> "Dummy data: numbers mean nothing" in to_markdown(b)
    True
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from djs_toolkit.brief.headlines import Headline

__all__ = ["DUMMY_BANNER", "NOTES_HEADING", "Brief", "to_html", "to_markdown"]

DUMMY_BANNER = "Dummy data: numbers mean nothing"
NOTES_HEADING = "## Where the numbers come from"
READ_NUMBERS = (
    "Each percentage is the best estimate from the data. The range after it, a 95% confidence interval, shows how "
    'sure we can be: the true figure is very likely to be inside it. Words such as "about half" give the same '
    "percentage in words, rounded."
)


@dataclass
class Brief:
    """What a brief says (everything a reader sees), built from one notebook run's release.

    Example:
        >>> Brief("r", "Q?", "who", [], [], []).title
        'Research brief: Q?'
    """

    label: str
    question: str
    population: str
    headlines: list[Headline]
    cannot_show: list[str]
    practice: list[str]
    dummy: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The brief's title: its question.

        Example:
            >>> Brief("r", "Why?", "", [], [], []).title
            'Research brief: Why?'
        """
        return f"Research brief: {self.question}"


def to_markdown(b: Brief) -> str:
    """The brief as Markdown; its notes section (`NOTES_HEADING`) traces every number to release/.

    Example:
        >>> to_markdown(Brief("r", "Q?", "who", [], [], [])).splitlines()[0]
        '# Research brief: Q?'
    """
    banner = [f"> **{DUMMY_BANNER}.** This brief was made from a dummy extract, to show the layout.", ""]
    lines = [f"# {b.title}", ""] + (banner if b.dummy else [])
    lines += ["## Who this is about", "", b.population, "", "## What we found", ""]
    for h in b.headlines:
        lines += [h.text, ""]
        if h.researcher:
            lines += ["*In the researcher's words.*", ""]
        if h.figure:
            lines += [f"![{h.alt}]({Path(h.figure).name})", "", f"*Figure: {h.alt}*", ""]
    lines += ["## How to read the numbers", "", READ_NUMBERS, "", "## What the data cannot show", ""]
    lines += [f"- {c}" for c in b.cannot_show] + ["", "## Questions for practice", ""]
    lines += ["<!-- Author: edit or replace these prompts before sharing the brief. -->", ""]
    lines += [f"- {p}" for p in b.practice] + [""]
    lines += [NOTES_HEADING, ""] + [f"- {n}" for n in b.notes] + [""]
    lines += ["Made by `djs brief` from the released outputs of this run only (`release/`).", ""]
    if b.dummy:
        lines += [f"> **{DUMMY_BANNER}.**", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    t = html.escape(text, quote=False)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"(?<!\*)\*([^*]+)\*(?!\*)", r"<em>\1</em>", t)


_CSS = """
body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; max-width: 44em; margin: 2em auto;
  padding: 0 1em; font-size: 12pt; line-height: 1.45; }
h1 { font-size: 20pt; margin-bottom: .3em; } h2 { font-size: 14pt; margin-top: 1.4em;
  border-bottom: 2px solid #12436d; padding-bottom: .1em; }
.dummy { background: #ffdd00; color: #0b0c0c; font-weight: bold; padding: .4em .8em; text-align: center; }
figure { margin: 1em 0; page-break-inside: avoid; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 10pt; color: #505a5f; } .researcher { font-size: 10pt; color: #505a5f; }
.notes { font-size: 9pt; color: #505a5f; } code { font-size: 10pt; }
@page { size: A4; margin: 18mm 16mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .dummy.page { position: fixed; top: 0; left: 0; right: 0; }
  .dummy.page + * { margin-top: 2.4em; }
  h2 { page-break-after: avoid; }
}
"""


def to_html(b: Brief, bundle: Path) -> str:
    """The brief as one self-contained HTML page (figures from `bundle/release/` inlined).

    Example:
        >>> "<h1>Research brief: Q?</h1>" in to_html(Brief("r", "Q?", "who", [], [], []), Path("."))
        True
    """
    out = ["<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">']
    out += [f"<title>{html.escape(b.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>"]
    if b.dummy:
        out.append(f'<div class="dummy page" role="note">{DUMMY_BANNER}</div>')
    out += [f"<h1>{html.escape(b.title)}</h1>", "<h2>Who this is about</h2>", f"<p>{_inline(b.population)}</p>"]
    out.append("<h2>What we found</h2>")
    for h in b.headlines:
        out += [f"<p>{_inline(p)}</p>" for p in h.text.split("\n\n")]
        if h.researcher:
            out.append('<p class="researcher">In the researcher\'s words.</p>')
        if h.figure:
            data = base64.b64encode((Path(bundle) / h.figure).read_bytes()).decode("ascii")
            alt = html.escape(h.alt, quote=True)
            out += [
                f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">',
                f"<figcaption>Figure: {html.escape(h.alt)}</figcaption></figure>",
            ]
    out += ["<h2>How to read the numbers</h2>", f"<p>{_inline(READ_NUMBERS)}</p>"]
    out += ["<h2>What the data cannot show</h2>", "<ul>"] + [f"<li>{_inline(c)}</li>" for c in b.cannot_show]
    out += ["</ul>", "<h2>Questions for practice</h2>", "<!-- Author: edit or replace these prompts. -->", "<ul>"]
    out += [f"<li>{_inline(p)}</li>" for p in b.practice] + ["</ul>"]
    out += ['<section class="notes">', f"<h2>{NOTES_HEADING.lstrip('# ')}</h2>", "<ul>"]
    out += [f"<li>{_inline(n)}</li>" for n in b.notes] + ["</ul>"]
    out += ["<p>Made by <code>djs brief</code> from the released outputs of this run only.</p>", "</section>"]
    if b.dummy:
        out.append(f'<div class="dummy">{DUMMY_BANNER}</div>')
    return "\n".join([*out, "</body>", "</html>", ""])
