"""Docs are tested: every docstring example runs (ehrql: docs examples executed), every citation resolves.

Code, tests, notebooks and docs cite the notes in `docs/` as ``docs/<name>.md §N`` (inside `docs/`, also
``<name>.md §N`` or a bare ``§N`` for the note itself). A citation whose note or section does not exist fails,
and so does anything that points outside the repository: users of the repository get `docs/` and nothing else.
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import pkgutil
import re
from functools import cache
from pathlib import Path

import pytest

import djs_toolkit

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(djs_toolkit.__path__, "djs_toolkit.") if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        extraglobs={"Path": __import__("pathlib").Path},
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


# ---------------------------------------------------------------- citations

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".txt", ".mplstyle", ".ipynb", ".r", ".sh"}
TEXT_NAMES = {"Makefile"}
# Not the repository's text: tool folders, and what runs make (git-ignored, except a README at their top).
SKIP_TOP = {".git", ".venv", ".venv-interop", "venv", "build", "dist", ".tmp"}
GENERATED = {"runs", "outputs", "dummy", "data"}
SKIP_ANY = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}

SECTION = r"\d+(?:\.\d+)*"
# A section, or a range such as 1.4-1.5 or 3-8 written with one or two section signs: both ends must exist.
SECTION_REF = re.compile(rf"§\s*({SECTION})(?:\s*[-\u2013]\s*§?\s*({SECTION}))?")
# `docs/<name>.md`; `owner/repo:docs/...` is another repository's file, not a citation.
DOC_REF = re.compile(r"(?<![\w/.:-])docs/([\w./-]+?\.md)\b")
# Inside docs/, a sibling note cited (its name, then a section sign) or linked: `(methods.md)`, `(methods.md#...)`.
LOCAL_DOC_REF = re.compile(r"(?<![\w/.:-])([a-z][a-z0-9_]*\.md)(?=\s*§|\)|#)")
HEADING = re.compile(rf"^#{{1,6}}\s+(?:§\s*)?({SECTION})\b", re.M)
# Pointers outside the repository (patterns split so this file does not match itself).
OUTSIDE = [
    ("the shared folder", re.compile(r"\bshared" + r"/")),
    ("a design note outside the repository", re.compile(r"\bDESIGN" + r"\.md\b")),
    ("a reference note", re.compile(r"\breference" + r"/[\w.-]+\.md\b")),
    ("a reference note", re.compile(r"\breference" + r" §")),
    (
        "an old reference note name",
        re.compile(r"\b(?:data_first|disclosure_control|survival_and_overlap|workflow_and_style)" + r"\.md\b"),
    ),
]


@cache
def _text_files() -> tuple[Path, ...]:
    files = []
    for folder, dirs, names in os.walk(REPO):
        rel = Path(folder).relative_to(REPO).parts
        if rel and (rel[0] in SKIP_TOP or (rel[0] in GENERATED and len(rel) > 1)):
            dirs[:] = []  # prune: never walk into tool folders or run outputs
            continue
        dirs[:] = [d for d in dirs if d not in SKIP_ANY and not d.endswith(".egg-info")]
        for name in names:
            p = Path(folder, name)
            if p.suffix.lower() in TEXT_SUFFIXES or name in TEXT_NAMES:
                files.append(p)
    return tuple(sorted(files))


def _text(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":  # the cells' sources, line by line (outputs are stripped anyway)
        cells = json.loads(text).get("cells", [])
        return "\n".join("".join(c.get("source", "")) for c in cells)
    return text


@cache
def _sections(doc: Path) -> frozenset[str]:
    return frozenset(HEADING.findall(doc.read_text(encoding="utf-8")))


def _citation_problems(path: Path) -> list[str]:
    """Each `§N` belongs to the last note named before it on its line, else on the line before (in docs/: else the
    note itself)."""
    in_docs = DOCS in path.parents
    problems = []
    previous: Path | None = None
    for lineno, line in enumerate(_text(path).splitlines(), 1):
        where = f"{path.relative_to(REPO).as_posix()}:{lineno}"
        mentions = [(m.start(), (REPO / "docs" / m.group(1)).resolve()) for m in DOC_REF.finditer(line)]
        if in_docs:
            mentions += [(m.start(), (path.parent / m.group(1)).resolve()) for m in LOCAL_DOC_REF.finditer(line)]
        mentions.sort(key=lambda m: m[0])
        for _, doc in mentions:
            if not doc.is_file():
                problems.append(f"{where}: cites {doc.relative_to(REPO).as_posix()}, which does not exist")
        for m in SECTION_REF.finditer(line):
            before = [doc for start, doc in mentions if start < m.start()]
            doc = before[-1] if before else (path if in_docs else previous)
            if doc is None:
                problems.append(f"{where}: `{m.group(0)}` names no document: write docs/<name>.md §N")
                continue
            if not doc.is_file():
                continue  # reported above
            for number in filter(None, m.groups()):
                if number not in _sections(doc):
                    problems.append(f"{where}: {doc.relative_to(REPO).as_posix()} has no section {number}")
        previous = mentions[-1][1] if mentions else None
    return problems


def test_citations_name_documents_and_sections_that_exist():
    problems = [p for path in _text_files() for p in _citation_problems(path)]
    assert not problems, "\n".join(problems)


def test_nothing_points_outside_the_repository():
    problems = []
    for path in _text_files():
        for lineno, line in enumerate(_text(path).splitlines(), 1):
            for what, pattern in OUTSIDE:
                if pattern.search(line):
                    problems.append(f"{path.relative_to(REPO).as_posix()}:{lineno}: {what}: {line.strip()[:100]}")
    assert not problems, "cite docs/<name>.md instead:\n" + "\n".join(problems)


def test_every_document_is_indexed_and_its_links_resolve():
    docs = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    assert [d for d in docs if f"({d})" not in index] == [], "docs/README.md must list every document"
    problems = []
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            target = target.split("#")[0]
            if target and "://" not in target and not (path.parent / target).exists():
                problems.append(f"{path.relative_to(REPO).as_posix()}: link to {target} does not resolve")
    assert not problems, "\n".join(problems)


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_names_and_paths_in_the_docs_exist():
    """`djs_toolkit.x.y` names import; file paths in backticks exist (from the repository or the package)."""
    problems = []
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(REPO).as_posix()
        for name in sorted(set(re.findall(r"\bdjs_toolkit(?:\.[A-Za-z_]\w*)+", text))):
            if not _resolves(name):
                problems.append(f"{where}: {name} does not exist")
        for token in sorted(set(re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|yaml|yml|md|mplstyle|ipynb|toml))`", text))):
            if not ((REPO / token).exists() or (REPO / "djs_toolkit" / token).exists()):
                problems.append(f"{where}: {token} does not exist")
    assert not problems, "\n".join(problems)
