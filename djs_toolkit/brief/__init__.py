"""Research briefs for the people who use the findings (`djs brief outputs/<run_id>`).

One short brief per notebook run, in Markdown and self-contained HTML, built only from the bundle's `release/`:
the question and population in plain words, two to four headline findings with their uncertainty in words, one
figure each, what the data cannot show and prompts for practice. Every number is traced to a released value
(`outputs.text`), and the briefs are registered in the bundle's manifest.

Example:
    >>> from djs_toolkit import brief
    >>> callable(brief.write_briefs)
    True
"""

from __future__ import annotations

from djs_toolkit.brief.build import Written, check_brief, write_briefs
from djs_toolkit.brief.readability import flesch, reading_age

__all__ = ["Written", "check_brief", "flesch", "reading_age", "write_briefs"]
