"""The house rules of the package layout (docs/architecture.md): imports run one way, no cycles, no
private names imported across modules, no module over the size a reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "djs_toolkit"

# Each folder (or base module) with its layer: a module may import only from its own unit or a lower layer.
LAYERS = {
    "_version": 0,
    "errors": 0,
    "fileio": 0,
    "schema": 1,
    "data": 2,
    "dummy": 2,
    "spine": 3,
    "survival": 4,
    "plotting": 4,
    "sdc": 5,
    "analyses": 6,
    "outputs": 7,
    "runner": 8,
    "brief": 9,
    "cli": 10,
}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str, bool]]:
    """(target module, imported name, at module level) for every djs_toolkit import, TYPE_CHECKING ones left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    out = []
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            mod = (
                ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).strip(".")
                if node.level
                else node.module or ""
            )
            if mod.split(".")[0] != "djs_toolkit":
                continue
            for a in node.names:
                full = f"{mod}.{a.name}"
                out.append((full if full in MODULES else mod, a.name, node.col_offset == 0))
        elif isinstance(node, ast.Import):
            out += [(a.name, "", node.col_offset == 0) for a in node.names if a.name.startswith("djs_toolkit")]
    return out


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in MODULES} - {None}
    assert units <= set(LAYERS), f"give these a layer in LAYERS and docs/architecture.md: {units - set(LAYERS)}"


def test_imports_run_downward():
    wrong = []
    for name, path in MODULES.items():
        src = _unit(name)
        if src is None:  # the package root exposes everything, lazily
            continue
        for target, _, _ in _imports(name, path):
            dst = _unit(target)
            if dst is None:
                wrong.append(f"{name} imports the package root ({target}): import the module itself")
            elif dst != src and LAYERS[dst] >= LAYERS[src]:
                wrong.append(f"{name} (layer {LAYERS[src]}) imports {target} (layer {LAYERS[dst]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph = {n: {t for t, _, _ in _imports(n, p) if t in MODULES and t != n} for n, p in MODULES.items()}
    # A package's __init__ re-exporting its own submodules is not a cycle of the submodules.
    for n in graph:
        graph[n] = {t for t in graph[n] if not (n.startswith(t + ".") and MODULES[t].name == "__init__.py")}
    seen, stack, cycles = {}, [], []

    def visit(n):
        seen[n] = "open"
        stack.append(n)
        for t in sorted(graph[n]):
            if seen.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in seen:
                visit(t)
        stack.pop()
        seen[n] = "done"

    for n in sorted(graph):
        if n not in seen:
            visit(n)
    assert not cycles, "\n".join(cycles)


def test_no_private_names_across_modules():
    wrong = [
        f"{name} imports {imported} from {target}"
        for name, path in MODULES.items()
        for target, imported, _ in _imports(name, path)
        if imported.startswith("_") and not imported.startswith("__") and target not in MODULES
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{name} has {n} lines: split it by what it does"
