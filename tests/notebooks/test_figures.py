"""Every research notebook's figure is drawn only from released tables and says so (issue 19 item 1).

Read from the notebooks' source (fast, no kernel): the data a figure cell draws (the first argument of a
`djs_toolkit.plotting` call, the positional arguments of an `ax.` drawing call) must come from tables saved with
`outputs.save_table`, following the notebook's assignments back, and never reach the extract by another way (an
analysis result protected otherwise, e.g. `journeys.multistate`'s own `occupation`, may publish cells the release
withholds); and `save_figure` must name those tables in `source=`. That the plotting functions then draw a released
Output cell for cell, withheld cells marked "c", is tested in tests/plotting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


class _Flow:
    """Where a notebook's names come from: each assignment's line and value, for loops and tuple targets included."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.cells = [i + 1 for i, line in enumerate(source.splitlines()) if line.startswith("# %%")]
        self.bound: dict[str, list[tuple[int, ast.expr]]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                self._bind(targets, node.lineno, node.value)
            elif isinstance(node, ast.For):
                self._bind([node.target], node.lineno, node.iter)
            elif isinstance(node, ast.comprehension):
                self._bind([node.target], node.iter.lineno, node.iter)

    def _bind(self, targets: list[ast.expr], line: int, value: ast.expr) -> None:
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    self.bound.setdefault(n.id, []).append((line, value))

    def sources(self, expr: ast.expr, line: int) -> tuple[set[str], bool]:
        """(names of the saved tables `expr` is computed from, whether it reaches the extract another way)."""
        released: set[str] = set()
        extract = False
        seen: set[tuple[str, int]] = set()
        todo = [(expr, line)]
        while todo:
            e, at = todo.pop()
            for n in (x for x in ast.walk(e) if isinstance(x, ast.Name)):
                before = [b for b in self.bound.get(n.id, []) if b[0] <= at] or self.bound.get(n.id, [])
                if not before or (n.id, before[-1][0]) in seen:
                    continue  # an import, a builtin or a function: no data of its own
                where, value = before[-1]
                seen.add((n.id, where))
                func = value.func if isinstance(value, ast.Call) else None
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if name == "save_table":
                    released.add(n.id)  # a released table: its values are as released, whatever it was made from
                elif name == "open_extract":
                    extract = True
                else:
                    todo.append((value, where))
        return released, extract

    def cell_of(self, line: int) -> tuple[int, int]:
        start = max((c for c in self.cells if c <= line), default=1)
        return start, min((c for c in self.cells if c > line), default=10**9)


def _calls(tree: ast.AST, lines: tuple[int, int]) -> list[ast.Call]:
    return sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Call) and lines[0] <= n.lineno < lines[1]),
        key=lambda n: n.lineno,
    )


def _drawn_data(call: ast.Call) -> list[ast.expr]:
    """The data a call draws: a plotting function's table, or an `ax.` method's positional arguments."""
    f = call.func
    if isinstance(f, ast.Name) and f.id.endswith("_plot") and call.args:
        return [call.args[0]]
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "ax":
        return list(call.args)
    return []


def _figures(path: Path) -> list[tuple[str, ast.Call, _Flow]]:
    flow = _Flow(path.read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(flow.tree) if isinstance(n, ast.Call)]
    saves = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "save_figure"]
    return [(f"{path.stem}:{c.lineno}", c, flow) for c in saves]


FIGURES = [f for p in NOTEBOOKS for f in _figures(p)]


def test_every_notebook_figure_is_found():
    # 00 volumes, 10 km, 20 upset, 30 flows, 40 transitions, 50 occupation and sequences, 60 cif
    assert len(FIGURES) == 8


@pytest.mark.parametrize(("where", "call", "flow"), FIGURES, ids=[f[0] for f in FIGURES])
def test_figure_is_drawn_only_from_released_tables_and_names_them(where, call, flow):
    kw = {k.arg: k.value for k in call.keywords}
    assert "source" in kw, f"{where}: save_figure without source=: say which released tables the figure shows"
    named, _ = flow.sources(kw["source"], call.lineno)
    underlying, _ = flow.sources(kw["underlying"], call.lineno)
    assert underlying <= named, f"{where}: source= leaves out the underlying table"
    drawn: set[str] = set()
    for c in _calls(flow.tree, flow.cell_of(call.lineno)):
        for data in _drawn_data(c):
            released, extract = flow.sources(data, c.lineno)
            assert not extract, f"{where}: line {c.lineno} draws data that is not a released table's"
            drawn |= released
    assert drawn, f"{where}: no drawing from a released table found in the figure's cell"
    assert drawn <= named, f"{where}: drawn from {sorted(drawn - named)}, not named in source="


def test_the_check_catches_a_figure_drawn_from_an_analysis_result():
    # The journeys notebook's old figure: the multi-state result's own occupation, protected otherwise.
    source = """
extract = open_extract(data_root)
# %%
j = journeys.multistate(extract, selector)
occupation = outputs.save_table(wide(j.occupation), "occupation", "d", "p", statistic="probability")
# %%
fig = occupation_plot(j.occupation, by=by)
outputs.save_figure(fig, "occupation_fig", underlying=occupation, source=occupation)
"""
    flow = _Flow(source)
    plot = next(c for c in _calls(flow.tree, (1, 10**9)) if _drawn_data(c))
    assert flow.sources(plot.args[0], plot.lineno) == (set(), True)
    fixed = ast.parse("occupation_plot(occupation, by=by)", mode="eval").body
    assert flow.sources(fixed, 9) == ({"occupation"}, False)
