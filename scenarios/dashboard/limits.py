"""How much memory a model will take, checked before it is built (no Solara here).

A page address or a control can ask for any size the parameters allow (5 million people, a mean
degree of 10,000): built blindly, one request can take tens of gigabytes and bring the server
down for every other session. :func:`check_memory` estimates what building a model takes at its
peak and refuses, with a sentence that says what would fit, beyond the dashboard's budget per
session (``peerwell dashboard --memory-budget-mb``).

The estimate counts the real arrays: per person, every array of ``simulation/state.py`` (the
dynamic ones twice: ``cur`` and ``nxt``), the packed tag and the network's row pointer; per tie
end (a tie between two people is two entries of the network's ``indices``), what the network
builder holds at its peak, which depends on how it builds:

- ``networkx``: the stochastic block model up to ``network.LARGE_GRAPH`` people, Barabási-Albert
  and Watts-Strogatz are made as networkx graphs (a Python dict entry per tie end) and copied into
  CSR arrays; measured 173-218 bytes per tie end at 5,000-50,000 people and mean degrees 10-400,
  plus about 400 bytes per person for the graph's node dicts;
- ``sampled``: the larger stochastic block model is sampled straight into CSR arrays; measured
  8-9 bytes per tie end (the int32 endpoints and the CSR ``indices`` they are copied into);
- ``pairs``: the complete graph lists every pair as int64 indices before the CSR; measured 90.

``tests/test_dashboard_limits.py`` measures real builds and holds the estimate between the
measured peak and 1.3 times it plus ``FIXED_BYTES``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from dataclasses import dataclass

import numpy as np

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams
from peerwell.simulation.state import DYNAMIC, SCRATCH, STATIC

# `peerwell dashboard --memory-budget-mb` reaches the pages through this variable.
MEMORY_ENV = "PEERWELL_DASHBOARD_MEMORY_MB"
DEFAULT_MEMORY_MB = 1024
MB = 1024 * 1024


def _itemsizes(spec: dict) -> int:
    return sum(np.dtype(t).itemsize for t in spec.values())


# Bytes per person of the model's arrays: cur and nxt, static, scratch, the int32 tag the tie
# gather reads, the int64 CSR row pointer.
STATE_BYTES_PER_PERSON = 2 * _itemsizes(DYNAMIC) + _itemsizes(STATIC) + _itemsizes(SCRATCH) + 4 + 8
# Temporaries while people are initialised and the layout is computed (measured: the peak of a
# build without ties is 322-340 bytes per person at 200,000 to a million people).
INIT_BYTES_PER_PERSON = 16
# Per tie end, by how the network is built (measured maxima rounded up, see the module's text).
TIE_END_BYTES = {"networkx": 200, "sampled": 10, "pairs": 100}
# The networkx graph's dicts per person (node, adjacency and attribute dicts).
NETWORKX_BYTES_PER_PERSON = 400
# Per model whatever its size: its page's figure and drawing, and the allocator's granularity.
FIXED_BYTES = 16 * MB


@dataclass(frozen=True)
class MemoryEstimate:
    """The peak memory of building one model, and what it is made of."""

    people: int
    tie_ends: int
    builder: str  # "networkx" | "sampled" | "pairs"
    bytes: int

    @property
    def mb(self) -> float:
        return self.bytes / MB


class MemoryBudgetError(ConfigError):
    """A model would take more memory than the dashboard allows one session."""


def tie_ends(n: int, kind: str, mean_degree: float, path: str | None = None) -> int:
    """The entries of the network's ``indices`` (twice the ties) a generator makes, at most."""
    if n < 2:
        return 0
    pairs = n * (n - 1)
    if kind == "sbm":
        # The ties are drawn: their count has mean n k / 2 and about that variance; four
        # standard deviations above the mean is more than any draw comes to.
        mean = n * mean_degree
        return int(min(mean + 4 * math.sqrt(2 * mean), pairs))
    if kind == "barabasi_albert":
        m = max(1, round(mean_degree / 2))
        return pairs if n <= m else 2 * m * (n - m)
    if kind == "watts_strogatz":
        kk = max(2, 2 * round(mean_degree / 2))
        return pairs if n <= kk else n * kk
    if kind == "complete":
        return pairs
    # A user's file: every tie takes a line of at least four bytes ("1 2\n").
    try:
        return min(pairs, os.path.getsize(path or "") // 2)
    except OSError:
        return 0


def builder(n: int, kind: str) -> str:
    """How ``simulation.network.build_network`` builds this network (its memory differs)."""
    from peerwell.simulation.network import LARGE_GRAPH  # numba and networkx: only when used

    if kind == "sbm":
        return "sampled" if n > LARGE_GRAPH else "networkx"
    if kind in ("barabasi_albert", "watts_strogatz"):
        return "networkx"
    return "pairs"


def estimate_bytes(n: int, kind: str = "sbm", mean_degree: float = 10.0, path=None) -> int:
    """Peak bytes of building a model of ``n`` people on this network (see the module's text)."""
    return estimate_parts(n, kind, mean_degree, path).bytes


def estimate_parts(n: int, kind: str, mean_degree: float, path=None) -> MemoryEstimate:
    ends = tie_ends(n, kind, mean_degree, path)
    how = builder(n, kind)
    per_person = STATE_BYTES_PER_PERSON + INIT_BYTES_PER_PERSON
    if how == "networkx":
        per_person += NETWORKX_BYTES_PER_PERSON
    total = n * per_person + ends * TIE_END_BYTES[how] + FIXED_BYTES
    return MemoryEstimate(people=n, tie_ends=ends, builder=how, bytes=int(total))


def estimate(params: ModelParams) -> MemoryEstimate:
    """Peak memory of building a model with ``params``."""
    net = params.network
    return estimate_parts(params.population.size, net.kind, net.mean_degree, net.path)


def budget_mb() -> int:
    """This dashboard's memory budget per session, in MB (``--memory-budget-mb``)."""
    raw = os.environ.get(MEMORY_ENV, "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MEMORY_MB
    return value if value > 0 else DEFAULT_MEMORY_MB


def _largest(fits, lo: float, hi: float, whole: bool) -> float | None:
    """The largest value in ``[lo, hi]`` for which ``fits`` holds (it must hold below it)."""
    if not fits(lo):
        return None
    if fits(hi):
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if whole:
            mid = int(mid)
            if mid <= lo:
                break
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def what_fits(params: ModelParams, limit_bytes: int, copies: int = 1) -> str:
    """A sentence on the largest population, and mean degree, that fit in ``limit_bytes``."""
    n, net = params.population.size, params.network

    def people_fit(size: float) -> bool:
        return (
            copies * estimate_bytes(int(size), net.kind, net.mean_degree, net.path) <= limit_bytes
        )

    def degree_fits(k: float) -> bool:
        return copies * estimate_bytes(n, net.kind, k, net.path) <= limit_bytes

    parts = []
    most = _largest(people_fit, 1, n, whole=True)
    if most is not None:
        extra = f" at mean degree {net.mean_degree:g}" if net.kind != "complete" else ""
        parts.append(f"up to {int(most):,} people{extra}")
    if net.kind in ("sbm", "barabasi_albert", "watts_strogatz") and net.mean_degree > 0:
        k = _largest(degree_fits, 0.0, float(net.mean_degree), whole=False)
        if k is not None and k >= 1:
            parts.append(f"a mean degree up to {int(k):,} with {n:,} people")
    if not parts:
        return "nothing of this kind fits; a smaller network kind or fewer people might"
    return "what fits: " + ", or ".join(parts)


def _describe(params: ModelParams) -> str:
    net = params.network
    text = f"population.size={params.population.size:,}"
    if net.kind == "complete":
        return text + " with network.kind=complete"
    if net.kind in ("edgelist", "graphml"):
        return text + f" with the network of {net.path}"
    kind = "" if net.kind == "sbm" else f" network.kind={net.kind},"
    return text + f" with{kind} network.mean_degree={net.mean_degree:g}"


def check_memory(params: ModelParams, copies: int = 1, budget: int | None = None):
    """Refuse a model that would take more than the session's memory budget to build.

    Parameters
    ----------
    params : the model's parameters.
    copies : how many such models are built at once (a comparison's worker processes).
    budget : the budget in MB (default: ``budget_mb()``, i.e. ``--memory-budget-mb``).

    Returns
    -------
    MemoryEstimate of one model.

    Raises
    ------
    MemoryBudgetError
        With a sentence naming the size asked for, what it needs, the budget, and what fits.
    """
    limit_mb = budget if budget is not None else budget_mb()
    one = estimate(params)
    need = one.bytes * copies
    if need <= limit_mb * MB:
        return one
    at_once = f" ({copies} runs at once)" if copies > 1 else ""
    raise MemoryBudgetError(
        f"{_describe(params)} needs about {need / MB:,.0f} MB to build{at_once}, more than "
        f"the {limit_mb:,} MB this dashboard allows a session (peerwell dashboard "
        f"--memory-budget-mb); {what_fits(params, limit_mb * MB, copies)}"
    )


# glibc keeps freed memory in its heap for reuse; after a large build (networkx makes a Python
# object per tie) most of the peak stays in the process unless it is handed back explicitly.
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Hand memory freed inside the process back to the operating system (glibc only)."""
    if _TRIM is not None:
        _TRIM(0)
