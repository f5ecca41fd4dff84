"""peerwell: agent-based simulation of online peer networks for people with serious mental illness."""

import os
from importlib.metadata import PackageNotFoundError, version

# Numba's OpenMP threads spin while they wait by default; on a busy machine (a sweep running one
# model per core, a laptop doing other work) the spinning steals the cores the work needs, and a
# 2-thread run was measured 10x slower than a 1-thread one. Passive waiting costs microseconds per
# parallel region on an idle machine. Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("peerwell")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
