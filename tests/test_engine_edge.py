"""The command line is the edge: the engine under ``scenarios/`` raises, the CLI reports.

Only ``scenarios/cli/`` turns an error into "peerwell: error:" and an exit code. Everything else
under ``scenarios/`` raises :class:`~peerwell.simulation.errors.PeerwellError`, so that a caller
(the Python API, a notebook, the dashboard) gets the exception, and never imports the CLI, so that
the layers point one way. Read from the source (every import, also inside functions), not by
importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import peerwell.scenarios

SCENARIOS = Path(peerwell.scenarios.__file__).parent
CLI = SCENARIOS / "cli"
EXITS = {("sys", "exit"), ("os", "_exit")}


def _engine_modules() -> list[Path]:
    return sorted(p for p in SCENARIOS.rglob("*.py") if CLI not in p.parents)


def _problems(path: Path, root: Path = SCENARIOS.parent) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    exits = {f"{m}.{f}" for m, f in EXITS}
    imported_exits = {}  # a name bound to sys.exit / os._exit by `from sys import exit`
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("peerwell.scenarios.cli"):
                    found.append(f"{where}: imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [a.name for a in node.names]
            if module.startswith("peerwell.scenarios.cli") or (
                module == "peerwell.scenarios" and "cli" in names
            ):
                found.append(f"{where}: imports from {module}")
            for alias in node.names:
                if (module, alias.name) in EXITS:
                    imported_exits[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                name = f"{func.value.id}.{func.attr}"
                if name in exits:
                    found.append(f"{where}: calls {name}")
            elif isinstance(func, ast.Name) and func.id in imported_exits:
                found.append(f"{where}: calls {imported_exits[func.id]}")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                found.append(f"{where}: raises SystemExit")
    return found


def test_the_scan_sees_every_kind_of_exit_and_cli_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "import sys\n"
        "from sys import exit as leave\n"
        "def f():\n"
        "    from peerwell.scenarios.cli.core import fail\n"
        "    import peerwell.scenarios.cli.sweep\n"
        "    from peerwell.scenarios import cli\n"
        "    sys.exit(2)\n"
        "    os._exit(0)\n"
        "    leave(1)\n"
        "    raise SystemExit(3)\n"
    )
    found = _problems(sample, tmp_path)
    assert len(found) == 7, found


def test_the_engine_neither_exits_nor_imports_the_cli():
    modules = _engine_modules()
    assert len(modules) > 20  # the scan reads the package, not an empty folder
    found = [problem for path in modules for problem in _problems(path)]
    assert not found, "\n".join(found)
