"""A notebook's declared parameters: names, types, defaults and choices, read from its `parameters` cell.

`djs run` checks every run's values against these before any kernel starts (`runner.pipeline`). A parameter whose
values come from a fixed list declares them after `choices:` in its comment:

```python
group_by: str = "sex"  # breakdown of the tables; choices: sex, ethnicity_group, age_band, ""
```

Choices are separated by commas; each is read as a Python literal when it is one (`""`, `365`, `True`, `None`) and
as a bare word otherwise. A long list continues on the comment lines below when its line ends with a comma (or with
`choices:` itself):

```python
first: str = "civil_claim"  # what comes first; choices: mags_hocas, crown_xhibit,
#   prison_nomis, probation_delius
```

A list value must hold choices only; the notebook's own default must be one of them.

A parameter that names events says `event selector` in its comment; each of its values (a string, or a list of
strings; `""` and None mean none) must then parse as one (`spine.parse_selector`, docs/methods.md §7.1), so a
misspelt disposal or column stops the run before any kernel starts, with the valid columns and values:

```python
first: str = "mags_conviction: disposal=Fine"  # what comes first: an event selector
```
"""

from __future__ import annotations

import ast
import csv
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from djs_toolkit.errors import DJSUserError
from djs_toolkit.spine import parse_selector

__all__ = [
    "Param",
    "default_problems",
    "notebook_parameters",
    "notebook_problems",
    "parameter_problems",
    "parse_choices",
]

_SELECTOR = re.compile(r"\bevent selectors?\b", re.IGNORECASE)
_CHOICES = re.compile(r"(?:^|[\s;,.(])choices:\s*(.+?)\s*\)?$")
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

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The values declared after `choices:` in the parameter's comment (None when it declares none).

        Example:
            >>> Param("by", "str", '"sex"', 'breakdown; choices: sex, age_band, ""').choices
            ('sex', 'age_band', '')
        """
        return parse_choices(self.help)

    @property
    def is_selector(self) -> bool:
        """True when the parameter's comment says its values are event selectors (module docstring).

        Example:
            >>> Param("first", "str", '"civil_claim"', "what comes first: an event selector").is_selector
            True
        """
        return _SELECTOR.search(self.help or "") is not None

    def describe(self) -> str:
        """`name: type (default ...)  # help`.

        Example:
            >>> Param("seed", "None", "0", "rng seed").describe()
            'seed: int (default 0)  # rng seed'
        """
        text = f"{self.name}: {_declared_type(self)} (default {self.default})"
        return f"{text}  # {self.help}" if self.help else text


def parse_choices(comment: str) -> tuple[Any, ...] | None:
    """The choices a parameter's comment declares after `choices:` (module docstring), or None.

    Example:
        >>> parse_choices("days; choices: 90, 365, 730")
        (90, 365, 730)
        >>> parse_choices("a free comment") is None
        True
    """
    m = _CHOICES.search(comment or "")
    if not m:
        return None
    values: list[Any] = []
    for item in next(csv.reader([m.group(1)], skipinitialspace=True), []):
        word = item.strip()
        try:
            value = ast.literal_eval(word)
        except (ValueError, SyntaxError):
            value = word
        values.append(value if isinstance(value, (str, int, float, bool, type(None))) else word)
    return tuple(values) or None


def _choice_problem(p: Param, value: Any, where: str) -> str | None:
    choices = p.choices
    if choices is None:
        return None
    items = value if isinstance(value, list) else [value]
    bad = [v for v in items if not any(_same(v, c) for c in choices)]
    if not bad:
        return None
    shown = ", ".join(repr(c) for c in choices)
    return f"{where}: parameter `{p.name}` must be one of {shown}, got {bad[0]!r}"


def _selector_problem(p: Param, value: Any, where: str) -> str | None:
    if not p.is_selector:
        return None
    for item in value if isinstance(value, list) else [value]:
        if item is None or item == "":
            continue
        if not isinstance(item, str):
            return f"{where}: parameter `{p.name}` takes event selectors as text, got {type(item).__name__}"
        try:
            parse_selector(item)
        except DJSUserError as exc:
            return f"{where}: parameter `{p.name}` is not a valid event selector: {exc}"
    return None


def _same(value: Any, choice: Any) -> bool:
    if isinstance(value, bool) or isinstance(choice, bool):  # YAML `true` is not the choice 1
        return type(value) is type(choice) and value == choice
    return bool(value == choice)


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
        >>> cell.source = 'by: str = "sex"  # choices: sex,\\n#   age_band'; nbformat.write(nb, p)
        >>> notebook_parameters(p)["by"].choices
        ('sex', 'age_band')
    """
    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(str(path), as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return None
    # papermill warns of a line with two `=` (a selector's default or comment) and skips it; the syntax tree below
    # reads it, so the warning would only be noise in `djs run`'s output.
    quiet = logging.getLogger("papermill")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        inspected = PythonTranslator.inspect(cell)
    finally:
        quiet.setLevel(level)
    found = {p.name: Param(p.name, p.inferred_type_name, p.default, p.help) for p in inspected}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return found
    lines = cell.source.splitlines()
    for node in tree.body:
        comment = _comment_after(lines, node)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id not in found:
                default = ast.unparse(node.value) if node.value is not None else "None"
                found[node.target.id] = Param(node.target.id, ast.unparse(node.annotation), default, comment)
            elif "choices:" in comment:  # a list continued on comment lines: papermill reads only the first line
                found[node.target.id] = replace(found[node.target.id], help=comment)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            found.setdefault(name, Param(name, "None", ast.unparse(node.value), comment))
            if "choices:" in comment:
                found[name] = replace(found[name], help=comment)
    return found


def _comment_after(lines: list[str], node: ast.stmt) -> str:
    """The comment after a statement, with the comment-only lines that continue a `choices:` list (a line ending in a
    comma or in `choices:`); papermill's regex reads a comment only for the forms it recognises, and one line of it."""
    end = node.end_lineno or 0
    tail = lines[end - 1][node.end_col_offset or 0 :] if end else ""
    comment = tail.split("#", 1)[1].strip() if "#" in tail else ""
    while (
        "choices:" in comment
        and comment.endswith((",", "choices:"))
        and end < len(lines)
        and lines[end].lstrip().startswith("#")
    ):
        comment += " " + lines[end].lstrip().lstrip("#").strip()
        end += 1
    return comment


def notebook_problems(path: Path, rel: str) -> list[str]:
    """Why a notebook cannot run under `djs run`: not a readable .ipynb, or a kernel for another language.

    Example:
        >>> import nbformat, tempfile
        >>> nb = nbformat.v4.new_notebook(); nb.metadata["kernelspec"] = {"name": "ir", "language": "R"}
        >>> p = Path(tempfile.mkdtemp()) / "r.ipynb"; nbformat.write(nb, p)
        >>> notebook_problems(p, "r.ipynb")  # doctest: +ELLIPSIS
        ['notebook r.ipynb is for the `ir` kernel (language R): djs run runs Python notebooks...']
    """
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # nbformat's own message quotes the file's first characters
        return [f"notebook {rel} is not a readable .ipynb (damaged JSON?): open it in Jupyter and save it again"]
    spec = nb.metadata.get("kernelspec") or {}
    language = str(spec.get("language") or (nb.metadata.get("language_info") or {}).get("name") or "python")
    if language.lower() != "python":
        return [
            f"notebook {rel} is for the `{spec.get('name', language)}` kernel (language {language}): djs run runs "
            "Python notebooks in the python3 kernel; choose `Python 3` as its kernel in Jupyter and save it"
        ]
    return []


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
        else:
            problem = _choice_problem(declared[name], value, where) or _selector_problem(declared[name], value, where)
            if problem:
                problems.append(problem)
    return problems


def default_problems(decl: dict[str, Param], rel: str) -> list[str]:
    """Parameters whose default is not one of their own choices, or not a valid event selector.

    Example:
        >>> default_problems({"by": Param("by", "str", '"shoe"', "choices: sex, age")}, "nb.ipynb")
        ['notebook nb.ipynb: the default of `by` ("shoe") is not one of its choices']
    """
    out = []
    for p in decl.values():
        if p.choices is None and not p.is_selector:
            continue
        try:
            default = ast.literal_eval(p.default)
        except (ValueError, SyntaxError):
            continue
        if p.choices is not None and _choice_problem(p, default, "") is not None:
            out.append(f"notebook {rel}: the default of `{p.name}` ({p.default}) is not one of its choices")
        problem = _selector_problem(p, default, f"notebook {rel}")
        if problem:
            out.append(problem.replace(f"parameter `{p.name}`", f"the default of `{p.name}`", 1))
    return out
