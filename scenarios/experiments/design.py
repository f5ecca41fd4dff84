"""Experimental designs over declared parameter ranges: Latin hypercube, random, Morris, Sobol'.

A design is a matrix of parameter values, one row per *design point*. Ranges come from the
typed parameters' metadata (``sweep`` when declared, else ``[lo, hi]``), so there is one list of
parameters and ranges, not a second one kept by hand; a command line may narrow a range with
``params=[name:lo:hi, ...]``. The samplers are SALib's (Latin hypercube, Morris, Saltelli/Sobol')
and numpy's uniform generator (random design); nothing here re-implements them.

A design is a pure function of its :class:`DesignSpec` (the sampler's seed is part of it), so the
driver of a sweep and each job compute the same matrix and a rerun resumes the same points.
"""

from __future__ import annotations

import difflib
import functools
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from peerwell.simulation.errors import ConfigError

# Kinds of design. "grid" is Hydra's own cartesian product of `key=a,b,c` overrides.
KINDS = ("grid", "lhs", "random", "morris", "sobol")
SAMPLED = ("lhs", "random", "morris", "sobol")

# Default `samples=` per design when the command line gives none: Morris r=10 trajectories and
# Sobol' N=64 (a power of two) are the usual small budgets; with the default parameter set
# (8 parameters) that is 90 and 640 runs.
DEFAULT_SAMPLES = {"lhs": 100, "random": 100, "morris": 10, "sobol": 64}

# A sampled design is cut into chunks of points, a chunk per job of the sweep's plan: by default
# about JOBS_PER_WORKER jobs per parallel worker, and never more than MAX_AUTO_JOBS jobs. On this
# machine the runs go to warm batch jobs whatever the chunks (sweep.share_out); on a cluster each
# job is one task (a SLURM array task), whose start-up (an interpreter, imports, a composed
# config: seconds) a chunk of several points spreads over its runs.
JOBS_PER_WORKER = 4
MAX_AUTO_JOBS = 256


@dataclass(frozen=True)
class ParamRange:
    """One design dimension: a parameter and the interval it is sampled from.

    ``integer`` parameters are rounded to the nearest whole number after sampling.
    """

    name: str
    lo: float
    hi: float
    integer: bool = False
    unit: str = ""
    help: str = ""


@dataclass(frozen=True)
class DesignSpec:
    """Everything that determines a sampled design (hashable, so designs can be cached)."""

    kind: str
    ranges: tuple[ParamRange, ...]
    samples: int
    levels: int = 4
    second_order: bool = False
    seed: int = 0

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.ranges]

    def problem(self) -> dict:
        """The SALib problem dict of this design."""
        return {
            "num_vars": len(self.ranges),
            "names": self.names,
            "bounds": [[r.lo, r.hi] for r in self.ranges],
        }


def _fmt(x: float) -> str:
    return f"{x:g}"


def parse_param_entry(entry: str) -> tuple[str, float | None, float | None]:
    """Split ``"name"`` or ``"name:lo:hi"`` into its parts.

    Raises
    ------
    ConfigError
        The entry has a wrong number of ``:`` parts or bounds that are not numbers.
    """
    parts = str(entry).split(":")
    if len(parts) == 1:
        return parts[0].strip(), None, None
    if len(parts) != 3:
        raise ConfigError(
            f"params entry {entry!r} should be NAME or NAME:LO:HI, e.g. communities.moderation:0:0.5"
        )
    name, lo, hi = (p.strip() for p in parts)
    try:
        return name, float(lo), float(hi)
    except ValueError:
        raise ConfigError(
            f"params entry {entry!r}: bounds {lo!r} and {hi!r} must be numbers (NAME:LO:HI)"
        ) from None


def resolve_ranges(
    entries: Iterable[str], space: dict[str, ParamRange], default: Iterable[str]
) -> tuple[ParamRange, ...]:
    """Turn ``params=[...]`` entries into validated ranges.

    Parameters
    ----------
    entries : iterable of str
        ``NAME`` (use the declared range) or ``NAME:LO:HI`` (narrow it); empty means ``default``.
    space : dict
        The model's sampleable parameters and their declared ranges.
    default : iterable of str
        The documented default parameter set.

    Returns
    -------
    tuple of ParamRange

    Raises
    ------
    ConfigError
        An unknown or non-numeric parameter, a repeated one, an empty range (``LO >= HI``), or a
        range outside the declared one.
    """
    entries = list(entries) or list(default)
    out: list[ParamRange] = []
    seen: set[str] = set()
    for entry in entries:
        name, lo, hi = parse_param_entry(entry)
        if name not in space:
            close = difflib.get_close_matches(name, list(space), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(
                f"params: {name!r} is not a parameter with a numeric range{hint} "
                "(`peerwell run --cfg job` lists every parameter; switches and names cannot be "
                "sampled)"
            )
        if name in seen:
            raise ConfigError(f"params: {name!r} is listed twice")
        seen.add(name)
        declared = space[name]
        lo = declared.lo if lo is None else lo
        hi = declared.hi if hi is None else hi
        if not lo < hi:
            raise ConfigError(
                f"params: {name}:{_fmt(lo)}:{_fmt(hi)} is an empty range (LO must be below HI); "
                f"declared range of {name} is [{_fmt(declared.lo)}, {_fmt(declared.hi)}]"
            )
        if lo < declared.lo or hi > declared.hi:
            raise ConfigError(
                f"params: {name}:{_fmt(lo)}:{_fmt(hi)} leaves the declared range "
                f"[{_fmt(declared.lo)}, {_fmt(declared.hi)}] {declared.unit}".rstrip()
            )
        out.append(
            ParamRange(name, float(lo), float(hi), declared.integer, declared.unit, declared.help)
        )
    if not out:
        raise ConfigError("params: no parameters to sample")
    return tuple(out)


def n_points(spec: DesignSpec) -> int:
    """Number of design points (rows) a design has, without sampling it."""
    d = len(spec.ranges)
    if spec.kind in ("lhs", "random"):
        return spec.samples
    if spec.kind == "morris":
        return spec.samples * (d + 1)
    if spec.kind == "sobol":
        return spec.samples * (2 * d + 2 if spec.second_order else d + 2)
    raise ConfigError(f"design={spec.kind!r} has no sampled points")


def auto_chunk_size(spec: DesignSpec, workers: int) -> int:
    """Design points per job so that ``workers`` parallel workers get about 4 jobs each."""
    jobs = max(1, min(MAX_AUTO_JOBS, JOBS_PER_WORKER * max(1, workers)))
    return max(1, math.ceil(n_points(spec) / jobs))


def chunk_size_for(spec: DesignSpec, chunk_size: int) -> int:
    """Design points per Hydra job: ``chunk_size`` if positive, else the cap's share."""
    if chunk_size > 0:
        return chunk_size
    return max(1, math.ceil(n_points(spec) / MAX_AUTO_JOBS))


def n_chunks(spec: DesignSpec, chunk_size: int) -> int:
    """Number of Hydra jobs the design is cut into."""
    return math.ceil(n_points(spec) / chunk_size_for(spec, chunk_size))


def _sample(spec: DesignSpec) -> np.ndarray:
    from SALib.sample import latin, morris, sobol

    problem = spec.problem()
    if spec.kind == "lhs":
        return latin.sample(problem, spec.samples, seed=spec.seed)
    if spec.kind == "random":
        rng = np.random.default_rng(spec.seed)
        lo = np.array([r.lo for r in spec.ranges])
        hi = np.array([r.hi for r in spec.ranges])
        return rng.uniform(lo, hi, size=(spec.samples, len(spec.ranges)))
    if spec.kind == "morris":
        return morris.sample(problem, spec.samples, num_levels=spec.levels, seed=spec.seed)
    if spec.kind == "sobol":
        return sobol.sample(
            problem, spec.samples, calc_second_order=spec.second_order, seed=spec.seed
        )
    raise ConfigError(f"design={spec.kind!r} is not a sampled design; choose one of {SAMPLED}")


@functools.lru_cache(maxsize=8)
def design_matrix(spec: DesignSpec) -> np.ndarray:
    """The design's points, one row per point, integer parameters rounded (read-only array).

    Cached: a reused worker process (joblib's loky) asks for the same design once per job.
    """
    x = np.array(_sample(spec), dtype=float)
    for j, r in enumerate(spec.ranges):
        if r.integer:
            x[:, j] = np.clip(np.rint(x[:, j]), math.ceil(r.lo), math.floor(r.hi))
    x.setflags(write=False)
    return x


def point_values(spec: DesignSpec, point: int) -> dict[str, float | int]:
    """Parameter values of one design point, as plain Python numbers."""
    row = design_matrix(spec)[point]
    return {r.name: (int(v) if r.integer else float(v)) for r, v in zip(spec.ranges, row)}


def _powers_of_two_near(n: int) -> str:
    lo = 2 ** max(1, math.floor(math.log2(max(n, 2))))
    return f"samples={lo} or samples={lo * 2}"


def check_design(spec: DesignSpec) -> None:
    """Ask SALib whether it accepts this design, before any run starts.

    The sampler is run (it is cheap) and, for Morris and Sobol', the analyzer is run on a synthetic
    output, each with warnings turned into errors: SALib signals most bad sample counts (a Sobol'
    size that is not a power of two, an odd number of Morris levels, too few trajectories to
    estimate a spread) by a warning, and a sweep of hours should not start on one.

    Raises
    ------
    ConfigError
        Naming the sample count or option and what SALib would accept.
    """
    if spec.kind not in SAMPLED:
        raise ConfigError(f"design={spec.kind!r} is not a sampled design; choose one of {SAMPLED}")
    if spec.samples < 1:
        raise ConfigError(f"samples={spec.samples}: a {spec.kind} design needs samples >= 1")
    if spec.kind == "morris" and spec.levels < 2:
        raise ConfigError(f"levels={spec.levels}: Morris needs at least 2 grid levels (e.g. 4)")
    hint = {
        "sobol": f"Sobol' sampling needs a power of two, e.g. {_powers_of_two_near(spec.samples)}",
        "morris": "Morris needs at least 2 trajectories (samples >= 2) and an even number of "
        "levels (levels=4 is usual)",
        "lhs": "a Latin hypercube needs samples >= 1",
        "random": "a random design needs samples >= 1",
    }[spec.kind]
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    stage = "sampler"
    try:
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            x = _sample(spec)
            if x.shape[0] == 0:
                raise ValueError("the sample is empty")
            stage = "analyzer"
            y = np.random.default_rng(0).random(x.shape[0])
            if spec.kind == "morris":
                morris_analyze.analyze(
                    spec.problem(), x, y, num_levels=spec.levels, num_resamples=10, seed=0
                )
            elif spec.kind == "sobol":
                sobol_analyze.analyze(
                    spec.problem(),
                    y,
                    calc_second_order=spec.second_order,
                    num_resamples=10,
                    seed=0,
                )
    except (Warning, ValueError, ZeroDivisionError, FloatingPointError, IndexError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        levels = f" levels={spec.levels}" if spec.kind == "morris" else ""
        raise ConfigError(
            f"samples={spec.samples}{levels} is rejected by SALib's {spec.kind} {stage} "
            f"({detail}); {hint}"
        ) from None
