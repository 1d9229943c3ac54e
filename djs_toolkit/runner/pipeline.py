"""pipeline.yaml: notebooks, parameter sets and strict parameter validation.

Format (paths relative to the pipeline file):

```yaml
version: 1
timeout: 1800                  # seconds per cell (default 1800)
notebooks:
  - notebook: notebooks/reentry.ipynb
    name: reentry              # label prefix (default: the notebook's file stem)
    timeout: 600               # per-cell timeout for this notebook
    parameters: {years: 3}     # shared by every run of this notebook
    sets:                      # explicit parameter sets; `name` labels the run
      - {name: prison, index_type: prison_release}
      - {name: probation, index_type: probation_start}
    matrix:                    # every combination (crossed with `sets` when both are given)
      year: [2019, 2020]
```

Each combination is one run, labelled `<name>[-<set>][-<matrix values>]` (1-32 characters of `a-z 0-9 _ -`;
long generated labels are shortened with a hash). Papermill only *warns* about unknown parameters and never checks
types (docs/workflow.md §2.1, §6.3), so every run's parameters are checked against the notebook's parameters
cell before anything runs: an unknown name or a wrong type is an error, all problems in one report, each listing the
valid parameters with their types and defaults. `data_root` and `profile` are injected by the runner and must be
declared by every notebook.

A parameter whose values come from a fixed list declares them after `choices:` in its comment (`runner.params`), so a
wrong value is refused here too, before any kernel starts. Each notebook must be a readable .ipynb for Python (a
missing kernelspec is fine: the runner uses `python3`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from djs_toolkit.errors import DJSUserError
from djs_toolkit.outputs.stage import NAME_RULE
from djs_toolkit.runner.params import (
    Param,
    default_problems,
    notebook_parameters,
    notebook_problems,
    parameter_problems,
    parse_choices,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "INJECTED",
    "Param",
    "Pipeline",
    "RunSpec",
    "fingerprint",
    "load_pipeline",
    "notebook_parameters",
    "notebook_problems",
    "parameter_problems",
    "parse_choices",
]

INJECTED = ("data_root", "profile")
DEFAULT_TIMEOUT = 1800
_TOP_KEYS = ("version", "timeout", "notebooks")
_ENTRY_KEYS = ("notebook", "name", "timeout", "parameters", "sets", "matrix")


@dataclass(frozen=True)
class RunSpec:
    """One notebook run: a notebook with one parameter set.

    Example:
        >>> RunSpec("counts-a", Path("nb.ipynb"), "nb.ipynb", {"n": 1}, 60).parameters_text()
        'n=1'
    """

    label: str
    notebook: Path
    notebook_rel: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout: int = DEFAULT_TIMEOUT

    def parameters_text(self) -> str:
        """Parameters as `k=v, ...` for summaries (values come from pipeline.yaml, never from data).

        Example:
            >>> RunSpec("x", Path("n"), "n", {"b": 2, "a": "s"}).parameters_text()
            'a=s, b=2'
        """
        return ", ".join(f"{k}={v}" for k, v in sorted(self.parameters.items()))


@dataclass(frozen=True)
class Pipeline:
    """A loaded, validated pipeline.yaml.

    Example:
        >>> Pipeline(Path("p.yaml"), Path("."), []).labels()
        []
    """

    path: Path
    root: Path
    runs: list[RunSpec]

    def labels(self) -> list[str]:
        """Run labels in pipeline order.

        Example:
            >>> Pipeline(Path("p"), Path("."), [RunSpec("a", Path("n"), "n")]).labels()
            ['a']
        """
        return [r.label for r in self.runs]


def _label_part(value: Any) -> str:
    text = "_".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_-") or "x"


def _label(parts: list[str]) -> str:
    label = "-".join(parts)
    if NAME_RULE.match(label):
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:6]
    return f"{label[:25].rstrip('_-')}-{digest}"


def _expand(entry: dict, i: int, root: Path, default_timeout: int, problems: list[str]) -> list[RunSpec]:
    where = f"notebooks[{i}]"
    problems += [f"{where}: unknown key `{k}` (valid: {', '.join(_ENTRY_KEYS)})" for k in entry if k not in _ENTRY_KEYS]
    if not isinstance(entry.get("notebook"), str):
        problems.append(f"{where}: `notebook:` (the notebook's path) is required")
        return []
    nb = (root / entry["notebook"]).resolve()
    prefix = str(entry.get("name", _label_part(Path(entry["notebook"]).stem)))
    problems += [f"{where}: {p}" for p in _name_problems(prefix)]
    timeout = entry.get("timeout", default_timeout)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        problems.append(f"{where}: timeout must be a whole number of seconds > 0")
    base = entry.get("parameters") or {}
    sets = entry.get("sets") or [{}]
    matrix = entry.get("matrix") or {}
    if (
        not isinstance(base, dict)
        or not isinstance(sets, list)
        or not all(isinstance(s, dict) for s in sets)
        or not isinstance(matrix, dict)
        or not all(isinstance(v, list) and v for v in matrix.values())
    ):
        problems.append(
            f"{where}: `parameters` must be a mapping, `sets` a list of mappings, `matrix` a mapping of non-empty lists"
        )
        return []
    runs = []
    for s in sets:
        params = {**base, **{k: v for k, v in s.items() if k != "name"}}
        for combo in itertools.product(*matrix.values()):
            full = {**params, **dict(zip(matrix, combo, strict=True))}
            parts = (
                [prefix]
                + ([_label_part(s["name"])] if "name" in s else [_label_part(v) for k, v in s.items()])
                + [_label_part(v) for v in combo]
            )
            label = _label(parts)
            rel = Path(entry["notebook"]).as_posix()
            runs.append(RunSpec(label, nb, rel, full, timeout if isinstance(timeout, int) else DEFAULT_TIMEOUT))
    return runs


def _name_problems(name: str) -> list[str]:
    return (
        []
        if NAME_RULE.match(name)
        else [
            f"name {name!r} is not usable: use 1-32 lower-case letters, digits, "
            f"_ or - (starting with a letter or digit)"
        ]
    )


def load_pipeline(path: Path) -> Pipeline:
    """Read and validate pipeline.yaml and every run's parameters; raise one DJSUserError listing every problem.

    Example:
        >>> load_pipeline(Path("no-such-pipeline.yaml"))
        Traceback (most recent call last):
        djs_toolkit.DJSUserError: pipeline file no-such-pipeline.yaml not found: pass its path (default pipeline.yaml).
    """
    path = Path(path)
    if not path.is_file():
        raise DJSUserError(f"pipeline file {path} not found: pass its path (default pipeline.yaml).")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DJSUserError(f"{path.name} is not valid YAML{where}: fix the syntax.") from None
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("notebooks"), list) or not doc["notebooks"]:
        raise DJSUserError(f"{path.name} needs a `notebooks:` list, each item with at least `notebook: <path>`.")
    problems += [f"unknown top-level key `{k}` (valid: {', '.join(_TOP_KEYS)})" for k in doc if k not in _TOP_KEYS]
    if doc.get("version", 1) != 1:
        problems.append(f"version {doc.get('version')!r} is not supported: this toolkit reads pipeline.yaml version 1")
    root = path.parent.resolve()
    runs: list[RunSpec] = []
    for i, entry in enumerate(doc["notebooks"]):
        if not isinstance(entry, dict):
            problems.append(f"notebooks[{i}]: must be a mapping with `notebook: <path>`")
            continue
        runs += _expand(entry, i, root, doc.get("timeout", DEFAULT_TIMEOUT), problems)
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    problems += [
        f"run label `{lab}` is used {n} times: give the sets distinct `name:`s" for lab, n in seen.items() if n > 1
    ]
    problems += _check_runs(runs)
    if problems:
        raise DJSUserError(
            f"{path.name}: {len(problems)} problem(s), nothing was run\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return Pipeline(path.resolve(), root, runs)


def _check_runs(runs: list[RunSpec]) -> list[str]:
    problems: list[str] = []
    declared: dict[Path, dict[str, Param] | None] = {}
    listed: set[Path] = set()
    for r in runs:
        if r.notebook not in declared:
            if not r.notebook.is_file():
                problems.append(f"notebook {r.notebook_rel} not found")
                declared[r.notebook] = {}
                continue
            unusable = notebook_problems(r.notebook, r.notebook_rel)
            if unusable:
                problems += unusable
                declared[r.notebook] = {}
                continue
            declared[r.notebook] = notebook_parameters(r.notebook)
            decl = declared[r.notebook]
            if decl is None:
                problems.append(
                    f"notebook {r.notebook_rel} has no cell tagged `parameters`: tag the cell that "
                    f"declares {', '.join(INJECTED)} and the notebook's parameters"
                )
            else:
                problems += [
                    f"notebook {r.notebook_rel} does not declare `{n}` in its parameters cell (the runner "
                    f'injects it): add e.g. `{n}: str = ""`'
                    for n in INJECTED
                    if n not in decl
                ]
                problems += default_problems(decl, r.notebook_rel)
        decl = declared[r.notebook]
        if not decl:
            continue
        problems += [
            f"run {r.label}: `{n}` is set by the runner (--data/--profile), not in pipeline.yaml"
            for n in INJECTED
            if n in r.parameters
        ]
        found = parameter_problems(decl, {k: v for k, v in r.parameters.items() if k not in INJECTED}, f"run {r.label}")
        problems += found
        if found and r.notebook not in listed:
            listed.add(r.notebook)
            problems.append(
                f"valid parameters of {r.notebook_rel}: "
                + "; ".join(p.describe() for n, p in decl.items() if n not in INJECTED)
            )
    return problems


def fingerprint(obj: Any) -> str:
    """sha256 of an object's canonical JSON (sorted keys): identifies a run's inputs.

    Example:
        >>> fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})
        True
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()
