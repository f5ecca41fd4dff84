#!/usr/bin/env sh
# Install-and-import check of one environment: every pin resolved (pip check), every module of
# the package imports, the kernels compile and a small run writes its results, and the tests that
# pin the generator and the kernels pass. CI runs it on the newest Python beside the full suite
# on the oldest one.   Usage: scripts/smoke-test.sh VENV
set -eu
venv=${1:?usage: scripts/smoke-test.sh VENV}
py="$venv/bin/python"
"$py" -m pip check
"$py" - <<'PY'
import importlib, pkgutil, sys
# The sub-packages live in folders of their own (pyproject's package-dir), so walk each one.
packages = ["peerwell", "peerwell.simulation", "peerwell.scenarios", "peerwell.analysis"]
names = set(packages)
for package in packages:
    mod = importlib.import_module(package)
    names |= {m.name for m in pkgutil.walk_packages(mod.__path__, package + ".")}
for name in sorted(names):
    importlib.import_module(name)
print(f"imported {len(names)} modules of peerwell on Python {sys.version.split()[0]}")
PY
out=$(mktemp -d)
"$venv/bin/peerwell" run population.size=300 steps=30 output_dir="$out/run" >/dev/null
test -s "$out/run/trajectories.parquet"
rm -rf "$out"
"$py" -m pytest -q -p no:cacheprovider tests/test_rng.py tests/test_reference.py tests/test_determinism.py
