"""The benchmark suite lives in benchmarks/, outside the installed package (issue 22).

An installed package that loads ``benchmarks/*.py`` by file path works only from a checkout
installed editable; from a wheel it breaks. So nothing the package installs loads a file by path,
the suite runs from the checkout as ``python -m benchmarks`` (``make bench``), and ``peerwell
bench`` only says so.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PEERWELL = str(Path(sys.executable).with_name("peerwell"))
# The source folders of the installed packages (pyproject.toml's package-dir).
INSTALLED = ("simulation", "analysis", "scenarios", "peerwell")
# What runs or imports a file by its path instead of by its module name.
BY_PATH = {"spec_from_file_location", "SourceFileLoader", "run_path"}


def loads_by_path(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` of every use of a by-path loader in ``path``, called or imported."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in BY_PATH:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in BY_PATH:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, a.name) for a in node.names if a.name in BY_PATH]
    return found


def test_the_installed_packages_load_no_file_by_path():
    files = [p for folder in INSTALLED for p in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 20  # the scan sees the packages
    found = [
        f"{p.relative_to(ROOT)}:{line} {name}" for p in files for line, name in loads_by_path(p)
    ]
    assert not found, found


def test_the_scan_finds_a_load_by_path(tmp_path):
    # The test above passes only if it could fail: each form it looks for is found.
    src = tmp_path / "loader.py"
    src.write_text(
        "import importlib.util, runpy\n"
        "from importlib.machinery import SourceFileLoader\n"
        "importlib.util.spec_from_file_location('m', 'm.py')\n"
        "runpy.run_path('m.py')\n"
    )
    names = {name for _, name in loads_by_path(src)}
    assert names == BY_PATH


def test_the_suite_runs_from_the_checkout():
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--help"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    for option in ("--quick", "--output", "--sizes", "--people", "--no-year"):
        assert option in r.stdout, option
    assert "usage: python -m benchmarks" in r.stdout


@pytest.mark.parametrize("args", [[], ["--quick"]])
def test_peerwell_bench_points_to_make_bench(args):
    r = subprocess.run([PEERWELL, "bench", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peerwell: error:"), r.stderr
    assert "make bench" in lines[0] and "python -m benchmarks" in lines[0]
    assert r.stdout == ""
