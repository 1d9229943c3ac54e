"""Readability of a brief's prose: Flesch reading ease and the reading age it implies.

Flesch reading ease = 206.835 - 1.015 x (words per sentence) - 84.6 x (syllables per word) (Flesch 1948); 60-70 is
"plain English", 50-60 "fairly difficult", below 30 "very difficult". The Flesch-Kincaid grade (0.39 x words per
sentence + 11.8 x syllables per word - 15.59) plus 5 is a UK reading age. Syllables are counted by a vowel-group
rule with the usual corrections (a silent final e, "-le", "-ed"): within a few percent of a dictionary on ordinary
prose, which is all a threshold in a test needs, and no dependency.

Example:
    >>> round(flesch("The cat sat on the mat. It was happy."), 1)
    108.3
    >>> syllables("probation"), syllables("people"), syllables("released")
    (3, 2, 2)
"""

from __future__ import annotations

import re

__all__ = ["flesch", "prose", "reading_age", "syllables"]

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SENTENCE_END = re.compile(r"[.!?:;]+(?:\s|$)|\n\s*\n")


def syllables(word: str) -> int:
    """Syllables in one English word (vowel groups, less a silent e; at least one).

    Example:
        >>> [syllables(w) for w in ("a", "court", "custody", "magistrates")]
        [1, 1, 3, 3]
    """
    w = word.lower().strip("'-")
    if len(w) <= 3:
        return 1
    w = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", "", w)  # silent endings
    w = re.sub(r"^y", "", w)
    return max(1, len(re.findall(r"[aeiouy]+", w)))


def _counts(text: str) -> tuple[int, int, int]:
    words = _WORD.findall(text)
    sentences = max(1, len([s for s in _SENTENCE_END.split(text) if _WORD.search(s)]))
    return len(words), sentences, sum(syllables(w) for w in words)


def flesch(text: str) -> float:
    """Flesch reading ease of `text` (higher is easier).

    Example:
        >>> flesch("") == 0.0
        True
    """
    words, sentences, syl = _counts(text)
    if not words:
        return 0.0
    return 206.835 - 1.015 * words / sentences - 84.6 * syl / words


def reading_age(text: str) -> float:
    """UK reading age: the Flesch-Kincaid grade plus 5 years.

    Example:
        >>> round(reading_age("The cat sat on the mat. It was happy."), 1)
        5.0
    """
    words, sentences, syl = _counts(text)
    if not words:
        return 0.0
    return max(5.0, 0.39 * words / sentences + 11.8 * syl / words - 15.59 + 5)


def prose(markdown: str) -> str:
    """The running prose of a Markdown brief: headings, figures, code, footnotes and notes left out.

    Example:
        >>> prose("# Title\\n\\nSome words.\\n\\n![alt](x.png)\\n\\n[^a]: a note")
        'Some words.'
    """
    keep = []
    for block in re.split(r"\n\s*\n", markdown):
        b = block.strip()
        if not b or b.startswith(("#", "![", "[^", "<!--", "|", "*Figure", "> **Dummy")):
            continue
        b = re.sub(r"\[\^\w+\]|`[^`]*`|\*\*|<[^>]+>", "", b)
        keep.append(re.sub(r"^\s*- ", "", b, flags=re.M))
    return "\n\n".join(keep)
