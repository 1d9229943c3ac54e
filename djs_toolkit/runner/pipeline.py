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
"""

from __future__ import annotations

import ast
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

__all__ = [
    "DEFAULT_TIMEOUT",
    "INJECTED",
    "Param",
    "Pipeline",
    "RunSpec",
    "fingerprint",
    "load_pipeline",
    "notebook_parameters",
    "parameter_problems",
]

INJECTED = ("data_root", "profile")
DEFAULT_TIMEOUT = 1800
_TOP_KEYS = ("version", "timeout", "notebooks")
_ENTRY_KEYS = ("notebook", "name", "timeout", "parameters", "sets", "matrix")
_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "tuple": (list,),
    "dict": (dict,),
    "Path": (str,),
}


@dataclass(frozen=True)
class Param:
    """One declared notebook parameter.

    Example:
        >>> Param("n", "int", "5", "").describe()
        'n: int (default 5)'
    """

    name: str
    type_name: str
    default: str
    help: str = ""

    def describe(self) -> str:
        """`name: type (default ...)  # help`.

        Example:
            >>> Param("seed", "None", "0", "rng seed").describe()
            'seed: int (default 0)  # rng seed'
        """
        text = f"{self.name}: {_declared_type(self)} (default {self.default})"
        return f"{text}  # {self.help}" if self.help else text


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


def _declared_type(p: Param) -> str:
    if p.type_name not in ("None", ""):
        return p.type_name
    try:
        value = ast.literal_eval(p.default)
    except (ValueError, SyntaxError):
        return "any"
    return "any" if value is None else type(value).__name__


def _allowed(type_name: str) -> tuple[tuple[type, ...], bool] | None:
    """(types, none_ok) for an annotation string; None when it cannot be checked (any)."""
    text = type_name.replace(" ", "")
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", text)
    parts = [m.group(1)] if m else text.split("|")
    none_ok = bool(m) or "None" in parts
    types: tuple[type, ...] = ()
    for part in (p for p in parts if p != "None"):
        base = part.split("[", 1)[0].split(".")[-1]
        if base not in _TYPES:
            return None
        types += _TYPES[base]
    return types, none_ok


def _type_ok(p: Param, value: Any) -> bool:
    spec = _allowed(_declared_type(p))
    if spec is None:
        return True
    types, none_ok = spec
    if value is None:
        return none_ok
    if isinstance(value, bool) and bool not in types:
        return False  # YAML `true` is not an int
    return isinstance(value, types)


def notebook_parameters(path: Path) -> dict[str, Param] | None:
    """The parameters declared in a notebook's `parameters` cell (None when no cell is tagged `parameters`).

    Uses papermill's own inspection (`translators.PythonTranslator.inspect`, what `inspect_notebook` calls), then
    adds what its one-line regex misses (e.g. `x: str | None = None`) from the cell's syntax tree.

    Example:
        >>> import nbformat, tempfile
        >>> nb = nbformat.v4.new_notebook()
        >>> cell = nbformat.v4.new_code_cell("n: int = 5  # people\\nopt: str | None = None")
        >>> cell.metadata["tags"] = ["parameters"]; nb.cells = [cell]
        >>> p = Path(tempfile.mkdtemp()) / "nb.ipynb"; nbformat.write(nb, p)
        >>> [x.describe() for x in notebook_parameters(p).values()]
        ['n: int (default 5)  # people', 'opt: str | None (default None)']
    """
    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(str(path), as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return None
    found = {p.name: Param(p.name, p.inferred_type_name, p.default, p.help) for p in PythonTranslator.inspect(cell)}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return found
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id not in found:
            default = ast.unparse(node.value) if node.value is not None else "None"
            found[node.target.id] = Param(node.target.id, ast.unparse(node.annotation), default)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.setdefault(node.targets[0].id, Param(node.targets[0].id, "None", ast.unparse(node.value)))
    return found


def parameter_problems(declared: dict[str, Param], values: dict[str, Any], where: str) -> list[str]:
    """Unknown names and wrong types among `values` (empty list = all fine).

    Example:
        >>> decl = {"n": Param("n", "int", "5")}
        >>> parameter_problems(decl, {"n": "5", "m": 1}, "run x")
        ["run x: parameter `n` must be int (default 5), got str '5'", 'run x: parameter `m` is unknown']
    """
    problems = []
    for name, value in values.items():
        if name not in declared:
            problems.append(f"{where}: parameter `{name}` is unknown")
        elif not _type_ok(declared[name], value):
            p = declared[name]
            problems.append(
                f"{where}: parameter `{name}` must be {_declared_type(p)} (default {p.default}), got "
                f"{type(value).__name__} {value!r}"
            )
    return problems


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
