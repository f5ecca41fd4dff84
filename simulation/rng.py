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

import functools
import math

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
STREAM_PRIVACY = 10

# The streams a day draws from, by the name the per-agent reference draws with (``Person.u``);
# their order is that of the key array of ``loop.step_keys``.
DAY_STREAMS = {
    "membership": STREAM_MEMBERSHIP,
    "posting": STREAM_POSTING,
    "hostility": STREAM_HOSTILITY,
    "misinfo": STREAM_MISINFO,
    "care": STREAM_CARE,
    "intervention": STREAM_INTERVENTION,
    "offline": STREAM_OFFLINE,
    "privacy": STREAM_PRIVACY,
}


def mix64_py(z: int) -> int:
    """SplitMix64 finaliser on a Python int (reference twin of :func:`mix64`)."""
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=1024)
def stream_key(seed: int, stream: int) -> int:
    """The key of one mechanism in one run (cached: a day derives seven keys from these)."""
    k = mix64_py(seed & MASK)
    return mix64_py((k + ((stream * GOLDEN) & MASK)) & MASK)


def step_key(seed: int, stream: int, step: int) -> int:
    """The key of one mechanism at one step; every person's draws in that step derive from it."""
    return mix64_py((stream_key(seed, stream) + ((step * GOLDEN) & MASK)) & MASK)


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


@njit(cache=True, inline="always")
def chance(key, person, draw, p):
    """``uniform(key, person, draw) < p``, without the draw when the answer is known.

    A draw is a pure function of its counter, so a draw not taken shifts no other draw: skipping
    it when ``p <= 0`` (never true) or ``p >= 1`` (always true) changes no result, and saves most of
    the work of people whom a mechanism cannot touch today (offline, unexposed, nothing to lose).
    """
    if p >= 1.0:
        return True
    return p > 0.0 and uniform(key, person, draw) < p


# hazard_chance decides without the exponential when the draw is clearly on one side of
# 1 - exp(-h). The margin covers the rounding of exp (under one unit in the last place, about
# 1.1e-16 near 1) a hundred times over, so the answer is always that of the exact expression.
HAZARD_MARGIN = 1e-14


@njit(cache=True, inline="always")
def hazard_chance(key, person, draw, hazard):
    """``uniform(key, person, draw) < 1 - exp(-hazard)``: an event of daily hazard ``hazard``.

    Without the draw when the hazard is not positive (the chance is 0). Without the exponential
    (about ten times the cost of the draw) unless the draw u falls near the chance: for
    0 < h <= ln 2, h - h²/2 <= 1 - exp(-h) <= h, so u >= h means no and u < h - h²/2 means yes,
    and only about h²/2 of the draws need exp. The answer is always the exact expression's
    (``tests/test_rng.py``).
    """
    if not hazard > 0.0:
        return False
    u = uniform(key, person, draw)
    if hazard <= 0.6931471805599453:
        if u >= hazard + HAZARD_MARGIN:
            return False
        if u < hazard - 0.5 * hazard * hazard - HAZARD_MARGIN:
            return True
    return u < 1.0 - math.exp(-hazard)


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


@njit(cache=True)
def day_keys(stream_keys, step):
    """``step_key`` of several mechanisms at once, from their ``stream_key``s (a uint64 array)."""
    out = np.empty_like(stream_keys)
    for j in range(stream_keys.shape[0]):
        out[j] = mix64(stream_keys[j] + np.uint64(step) * _GOLDEN)
    return out
