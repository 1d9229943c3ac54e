"""Docstring examples are tests: every public module's examples run (ehrql: docs examples executed)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

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
