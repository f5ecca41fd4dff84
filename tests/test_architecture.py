"""The layers of the code (``peerwell._layers``) hold: imports point down, no circles, the picture
in ``docs/architecture.md`` is the table's.

Every import of the installed packages is read from the source (``ast``), function-local ones
included: an import kept inside a function so that ``peerwell --help`` stays fast still has a
direction. Each failure names the file and line of every offending import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from peerwell import _layers as L

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
OURS = ("peerwell", "hydra_plugins.peerwell_dask_launcher")


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int
    module_level: bool  # runs when ``source`` is imported (not inside a function)
    type_checking: bool  # under ``if TYPE_CHECKING:``: never runs

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module name ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(source: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                module = _resolve(source, is_package, node)
                # `from pkg import sub` imports the module pkg.sub when there is one
                targets = [
                    f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                    for a in node.names
                ]
            for target in dict.fromkeys(targets):
                if any(target == ours or target.startswith(ours + ".") for ours in OURS):
                    found.append(
                        Import(source, target, path, node.lineno, not in_function, type_checking)
                    )
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, in_function, True)
            for child in node.orelse:
                visit(child, in_function, type_checking)
            return
        inside = in_function or isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        )
        for child in ast.iter_child_nodes(node):
            visit(child, inside, type_checking)

    visit(tree, False, False)
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return L.module_files()


@pytest.fixture(scope="module")
def imports(modules) -> list[Import]:
    known = set(modules)
    return [edge for name, path in modules.items() for edge in _imports(name, path, known)]


def _cycles(edges: list[Import]) -> list[list[Import]]:
    """One shortest circle through each strongly connected group of modules of ``edges``."""
    graph: dict[str, dict[str, Import]] = {}
    for edge in edges:
        if edge.source != edge.target:
            graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    circles = []
    for group in groups:
        start = min(group)
        paths = {start: []}
        frontier = [start]
        circle = None
        while frontier and circle is None:  # breadth first: the shortest way back to start
            nxt = []
            for v in frontier:
                for w, edge in sorted(graph.get(v, {}).items()):
                    if w == start:
                        circle = [*paths[v], edge]
                        break
                    if w in group and w not in paths:
                        paths[w] = [*paths[v], edge]
                        nxt.append(w)
                if circle is not None:
                    break
            frontier = nxt
        circles.append(circle)
    return circles


def _describe(circle: list[Import]) -> str:
    hops = "\n".join(f"    {e.where()}: {e.source} imports {e.target}" for e in circle)
    return f"  {' -> '.join([circle[0].source, *(e.target for e in circle)])}\n{hops}"


def _listed(circles: list[list[Import]]) -> str:
    return "\n".join(_describe(c) for c in circles)


def test_every_module_stands_in_a_room(modules):
    homeless = sorted(m for m in modules if L.room_of(m) is None)
    assert not homeless, f"modules in no room of peerwell._layers.LAYERS: {homeless}"
    for room in L.rooms():
        assert any(L.room_of(m) == room for m in modules), f"room {room.name} holds no module"


def test_imports_point_down(imports):
    wrong = []
    for edge in imports:
        if edge.target in L.IMPORTABLE_FROM_ANYWHERE:
            continue
        source, target = L.room_of(edge.source), L.room_of(edge.target)
        if target is None:
            wrong.append(f"  {edge.where()}: {edge.source} imports {edge.target}, in no room")
            continue
        if source == target or L.layer_of(target) > L.layer_of(source):
            continue
        way = "up" if L.layer_of(target) < L.layer_of(source) else "sideways"
        local = "" if edge.module_level else " (inside a function)"
        wrong.append(
            f"  {edge.where()}: {edge.source} imports {edge.target}{local}: {way}, from "
            f"{source.name} (layer {L.layer_of(source) + 1}) to {target.name} "
            f"(layer {L.layer_of(target) + 1})"
        )
    if wrong:
        pytest.fail("imports against the layers (peerwell._layers.LAYERS):\n" + "\n".join(wrong))


def test_no_circle_at_module_level(imports):
    # What runs on import: function-local imports and `if TYPE_CHECKING:` ones do not.
    edges = [e for e in imports if e.module_level and not e.type_checking]
    circles = _cycles(edges)
    if circles:
        pytest.fail("modules importing each other at import time:\n" + _listed(circles))


def test_no_circle_in_the_dashboard_even_through_functions(imports):
    # A function-local import would hide a circle from Python but not from a reader.
    room = "peerwell.scenarios.dashboard"
    edges = [
        e
        for e in imports
        if not e.type_checking and L.room_of(e.source).name == room == L.room_of(e.target).name
    ]
    circles = _cycles(edges)
    if circles:
        pytest.fail("dashboard modules importing each other:\n" + _listed(circles))


def test_each_folder_says_what_it_holds_and_may_import(modules):
    silent = []
    for name, path in modules.items():
        if path.name != "__init__.py" or not name.startswith("peerwell."):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if "May import" not in doc:
            silent.append(f"  {path.relative_to(ROOT)}: no 'May import: ...' in its docstring")
    if silent:
        pytest.fail("folders that do not say what they may import:\n" + "\n".join(silent))


def test_the_architecture_page_shows_the_layers_of_today():
    # Run `python -m peerwell._layers --write docs/architecture.md` after changing the layers.
    assert L.section(PAGE.read_text(encoding="utf-8")) == L.render()


def test_the_cycle_finder_finds_a_circle_and_names_its_lines():
    a = Import("m.a", "m.b", ROOT / "x.py", 3, True, False)
    b = Import("m.b", "m.c", ROOT / "y.py", 5, True, False)
    c = Import("m.c", "m.a", ROOT / "z.py", 7, True, False)
    d = Import("m.c", "m.d", ROOT / "z.py", 8, True, False)
    (circle,) = _cycles([a, b, c, d])
    assert circle == [a, b, c]
    assert "x.py:3: m.a imports m.b" in _describe(circle)
    assert _cycles([a, b, d]) == []


def test_help_loads_no_model():
    # The lazy-import policy of docs/architecture.md: `peerwell --help` imports every command's
    # module to list it, and none of them may load the model or the heavy analysis on import.
    code = (
        "import sys\n"
        "from peerwell.scenarios.cli.core import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('mesa', 'numba', 'networkx', 'scipy.stats', 'scipy.optimize', 'seaborn',\n"
        "         'matplotlib', 'SALib', 'peerwell.simulation.model')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


def test_the_reader_sees_every_import_and_where_it_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import peerwell.simulation.errors\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    from peerwell.simulation.model import PeerwellModel\n"
        "def f():\n"
        "    from peerwell.analysis import stats, MAIN\n"
    )
    known = {"peerwell.analysis.stats", "peerwell.scenarios.sibling"}
    found = _imports("peerwell.scenarios.mod", source, known)
    assert [(e.target, e.line, e.module_level, e.type_checking) for e in found] == [
        ("peerwell.simulation.errors", 2, True, False),
        ("peerwell.scenarios.sibling", 3, True, False),
        ("peerwell.simulation.model", 5, True, True),
        ("peerwell.analysis.stats", 7, False, False),
        ("peerwell.analysis", 7, False, False),
    ]
