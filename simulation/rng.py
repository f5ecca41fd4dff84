"""Counter-based random numbers: a uniform draw is a pure function of
(run seed, mechanism stream, step, person, draw index).

Why: the draws do not depend on thread count or on the order people are visited, so runs are
bit-identical with 1 or many threads; and replicate r of two scenarios sees the same draws in
every mechanism the scenarios do not change (common random numbers), so their difference is
the scenario's effect, not noise.

The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom
number generators", OOPSLA). The same function exists twice: as Numba code for the kernels and as
plain Python for the reference implementation, and a test holds them equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# One stream per mechanism: a new mechanism takes a new number, so existing streams never shift.
STREAM_INIT = 1
STREAM_MEMBERSHIP = 2
STREAM_POSTING = 3
STREAM_HOSTILITY = 4
STREAM_MISINFO = 5
STREAM_CARE = 6
STREAM_INTERVENTION = 7
STREAM_OFFLINE = 8
STREAM_VALIDATION = 9


def mix64_py(z: int) -> int:
    """SplitMix64 finaliser on a Python int (reference twin of :func:`mix64`)."""
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def step_key(seed: int, stream: int, step: int) -> int:
    """The key of one mechanism at one step; every person's draws in that step derive from it."""
    k = mix64_py(seed & MASK)
    k = mix64_py((k + ((stream * GOLDEN) & MASK)) & MASK)
    return mix64_py((k + ((step * GOLDEN) & MASK)) & MASK)


def uniform_py(key: int, person: int, draw: int) -> float:
    """Uniform in [0, 1) for (key, person, draw): plain Python, for the reference implementation."""
    h = mix64_py(key ^ ((person * M2) & MASK))
    h = mix64_py((h + ((draw * GOLDEN) & MASK)) & MASK)
    return (h >> 11) * TO_UNIT


_M1 = np.uint64(M1)
_M2 = np.uint64(M2)
_GOLDEN = np.uint64(GOLDEN)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


@njit(cache=True, inline="always")
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(key, person, draw):
    """Uniform in [0, 1) for (key, person, draw); ``key`` is a uint64 from :func:`step_key`."""
    h = mix64(key ^ (np.uint64(person) * _M2))
    h = mix64(h + np.uint64(draw) * _GOLDEN)
    return np.float64(h >> _S11) * TO_UNIT


@njit(cache=True)
def uniforms(key, n, draw):
    """Vector of ``n`` uniforms for persons 0..n-1 at one draw index (used at initialisation)."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = uniform(key, i, draw)
    return out


def init_uniforms(seed: int, n: int, draw: int) -> np.ndarray:
    """Uniforms for the initial population: person i's value does not depend on n, so a population
    of 3,000 is the first 3,000 people of a population of 5,000 with the same seed."""
    return uniforms(np.uint64(step_key(seed, STREAM_INIT, 0)), n, draw)
