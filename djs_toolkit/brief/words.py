"""Plain words for a brief: numbers as a non-statistician reads them, and what a run's parameters mean.

Government Analysis Function style: short sentences, everyday words, a percentage with its range in words, "about
1 in N" beside the percentage it rounds. Every number here is printed from a released value (`pct`, `count`,
`one_in`); the words that stand for a share ("about half") describe the percentage printed beside them.

Example:
    >>> share(0.522968, 0.508202, 0.537510)
    'about half (52%, 95% confidence interval 51% to 54%)'
    >>> share(0.278378, 0.270058, 0.286754)
    'about 1 in 4 (28%, 95% confidence interval 27% to 29%)'
"""

from __future__ import annotations

import math

__all__ = [
    "CANNOT_SHOW",
    "DATASETS",
    "INDEX_EVENTS",
    "PRACTICE",
    "SOURCES",
    "count",
    "dataset",
    "days",
    "pct",
    "practice_prompts",
    "question",
    "share",
    "share_words",
    "source",
    "years",
]

# Dataset codes as a reader knows them (the event that puts a person in that dataset).
DATASETS = {
    "mags_hocas": "a magistrates' court case",
    "crown_xhibit": "a Crown Court case",
    "prison_nomis": "time in prison custody",
    "probation_delius": "probation supervision",
    "familyman": "a family court case",
    "civil_caseman_pcol": "a possession claim",
    "any_criminal_court": "a new criminal court case",
    "civil_claim": "a possession claim against them",
    "mags_conviction": "a conviction at a magistrates' court",
    "family_case_start": "a family court case",
    "family_order": "a family court order",
    "custody_start": "time in prison custody",
    "mags_case": "a magistrates' court case",
    "crown_case": "a Crown Court case",
    "crown_conviction": "a conviction at the Crown Court",
    "release": "a release from prison custody",
    "recall": "a recall to prison",
    "probation_start": "the start of probation supervision",
    "probation_end": "the end of probation supervision",
}
# Dataset codes as the part of the justice system their records come from ("from the family courts to probation").
SOURCES = {
    "mags_hocas": "the magistrates' courts",
    "crown_xhibit": "the Crown Court",
    "prison_nomis": "prison custody",
    "probation_delius": "probation",
    "familyman": "the family courts",
    "civil_caseman_pcol": "the civil courts (possession claims)",
}
INDEX_EVENTS = {
    "release": "people released from prison custody",
    "court_disposal": "people given a non-custodial sentence at court",
    "probation_start": "people starting probation supervision",
    "possession_claim": "people with a possession claim against their home",
    "family_case": "people in a family court case",
}
CANNOT_SHOW = [
    "**Cautions and police action.** Data First holds court records only. Anything dealt with by a caution, a "
    "warning or no further action is not here, so the figures count court cases, not all offending.",
    "**Mistakes in linking.** People are matched across courts, prisons and probation by their details, not a "
    "single number. A few records are joined to the wrong person and some of the same person's records are not "
    "joined. Family and civil records are matched less well than criminal ones, so overlaps with them are "
    "probably undercounted.",
    "**The end of the records.** Each dataset stops at a fixed date. People seen near the end have had less time "
    "to come back, so the later part of each curve rests on fewer people.",
    "**Why things happen.** These are counts and rates. They show what happened to groups of people, not why, and "
    "not what would have happened with a different decision.",
]
PRACTICE = {
    "10": [
        "Which of these groups do we see most often in our courts, and what support do they get on release or at "
        "sentence?",
        "What would help people in the first months, when most returns happen?",
        "Who should hear about these findings first: sentencers, probation staff or support services?",
    ],
    "20": [
        "Do people we see in one court also have cases in another, and do we know when that happens?",
        "What could a housing or family court do to link people to help before a criminal case?",
        "Which local services would want to know about these overlaps?",
    ],
    "30": [
        "Do the changes over time match what we saw in our own caseloads?",
        "Which events (court closures, the evictions ban, the cost of living) should we look at next?",
        "What would we need to know to plan for the months ahead?",
    ],
    "50": [
        "Which services are in touch with people in the months after a housing or family problem?",
        "Where could help reach people before a criminal case or custody?",
        "Which moves between courts would we want to hear about first?",
    ],
    "60": [
        "Does this comparison match what courts and local authorities see in practice?",
        "What support comes with each kind of order, and could that explain any difference?",
        "What would we need to know before using this in a decision about a child?",
    ],
    "40": [
        "Which routes between courts matter most for the people we work with?",
        "Do the differences between groups match our experience, and what might explain them?",
        "Where could support reach people earlier on these journeys?",
    ],
}
_GENERIC = [
    "What do these findings mean for the people we work with?",
    "What else would we need to know before changing practice?",
    "Who should see this brief?",
]


def practice_prompts(notebook: str) -> list[str]:
    """Prompts for the "questions for practice" section, by notebook number (the author edits them).

    Example:
        >>> practice_prompts("notebooks/10_reentry.ipynb")[1][:20]
        'What would help peop'
    """
    return PRACTICE.get(notebook.rsplit("/", 1)[-1][:2], _GENERIC)


def _decimals(x: float) -> int:
    """Decimals that print `x` with at least two significant digits (a one-digit number must be exact)."""
    if x == 0 or abs(x) >= 10:
        return 0
    return max(0, 1 - math.floor(math.log10(abs(x))))


def pct(p: float, decimals: int | None = None) -> str:
    """A proportion as a percentage with two significant digits or more.

    Example:
        >>> pct(0.522968), pct(0.060206), pct(0.007482)
        ('52%', '6.0%', '0.75%')
    """
    d = _decimals(p * 100) if decimals is None else decimals
    return f"{p * 100:.{d}f}%"


def count(n: float) -> str:
    """A released count with thousands separators.

    Example:
        >>> count(11259.0)
        '11,259'
    """
    return f"{n:,.0f}"


def days(t: float) -> str:
    """A follow-up time in words: a year for 365 days, two years for 730, else the released number of days.

    Example:
        >>> days(365.0), days(90.0)
        ('a year', '90 days')
    """
    return {365: "a year", 730: "two years", 1095: "three years"}.get(round(t), f"{t:.0f} days")


def dataset(code: str) -> str:
    """A dataset, event or event selector in words (the code itself when unknown).

    Example:
        >>> dataset("familyman"), dataset("mags_case: case_type=Criminal")
        ('a family court case', "a magistrates' court case")
    """
    code = code.split(":", 1)[0].strip()  # an event selector's event; its conditions stay in the clearance pack
    return DATASETS.get(code, code.replace("_", " "))


def source(code: str) -> str:
    """A dataset code as the part of the justice system its records come from (the code when unknown).

    Example:
        >>> source("familyman")
        'the family courts'
    """
    return SOURCES.get(code, code.replace("_", " "))


def years(days_: float) -> str:
    """A window in days as whole years in words, with no digits (a parameter, not a released value).

    Example:
        >>> years(365), years(1826), years(90)
        ('a year', 'five years', 'the chosen number of days')
    """
    n = days_ / 365.25
    k = round(n)
    names = {1: "a year", 2: "two years", 3: "three years", 4: "four years", 5: "five years"}
    return names[k] if k in names and abs(n - k) < 0.02 else "the chosen number of days"


def share_words(p: float) -> str:
    """A proportion in words: "about 1 in N" below 30% (N = 1 / p rounded), else a fraction in words.

    Example:
        >>> share_words(0.06), share_words(0.38), share_words(0.5), share_words(0.72)
        ('about 1 in 17', 'about two in five', 'about half', 'about three in four')
    """
    if p <= 0:
        return "none"
    if p < 0.3:
        return f"about 1 in {round(1 / p)}"
    bands = ((0.37, "about a third"), (0.45, "about two in five"), (0.56, "about half"), (0.7, "about two in three"))
    for top, words in (*bands, (0.8, "about three in four")):
        if p < top:
            return words
    return "most"


def share(p: float, lo: float | None = None, hi: float | None = None) -> str:
    """A proportion with its 95% confidence interval, as a non-statistician reads it.

    Example:
        >>> share(0.113387, 0.104772, 0.122660)
        'about 1 in 9 (11%, 95% confidence interval 10% to 12%)'
    """
    d = _decimals(min(v for v in (p, lo, hi) if v is not None and v > 0) * 100) if p > 0 else 0
    ci = "" if lo is None or hi is None else f", 95% confidence interval {pct(lo, d)} to {pct(hi, d)}"
    return f"{share_words(p)} ({pct(p, d)}{ci})"


def question(notebook: str, params: dict) -> str:
    """The run's research question in plain words, from its notebook and parameters (no numbers).

    Example:
        >>> question("notebooks/10_reentry.ipynb", {"index_type": "release"})
        'How soon, and how often, do people released from prison custody come back to the criminal courts?'
    """
    nb = notebook.rsplit("/", 1)[-1][:2]
    if nb == "10":
        who = INDEX_EVENTS.get(str(params.get("index_type", "release")), "people")
        return f"How soon, and how often, do {who} come back to the criminal courts?"
    if nb == "20":
        first, then = params.get("first"), params.get("then")
        if first and then:
            return f"How often do people with {dataset(str(first))} go on to have {dataset(str(then))}?"
        return "How many people appear in more than one part of the justice system?"
    if nb == "30":
        kind = {"first_entry": "come into the justice system for the first time", "re_entry": "come back"}.get(
            str(params.get("kind", "")), "move from one kind of case to another"
        )
        return f"How many people {kind} each month, and did major events such as court closures change this?"
    if nb == "40":
        by = str(params.get("group_by", "group")).replace("_group", "").replace("_", " ")
        return (
            "How do people with housing or family problems move between courts, prison and probation, and does "
            f"this differ by {by}?"
        )
    if nb == "50":
        start = {  # the notebook's `start` choices
            "possession": "a first possession claim",
            "family_law_act": "a first Family Law Act case",
            "care": "first care proceedings",
        }.get(str(params.get("start", "")), "a first housing or family court case")
        return f"After {start}, where are people over the next few years, and how often do they move between courts?"
    if nb == "60":
        return (
            "For children in public-law family cases, is a supervision order followed by less or more criminal court "
            "contact than a care order, among children who were alike at the time of the order?"
        )
    if nb == "00":
        return "What does the extract hold, and how complete is each dataset over time?"
    return "What did this analysis find?"
