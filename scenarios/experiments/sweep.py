"""`peerwell sweep`: parameter sweeps as a Hydra multirun over one resumable result store.

The Hydra app (``conf/sweep.yaml``: the run config plus design options, joblib launcher by
default) expands the ``key=a,b,c`` overrides into *jobs*: one per combination, each one run (a
grid sweep) or a chunk of design points (``design=lhs|random|morris|sobol``). Every run is
written to ``SWEEP_DIR/runs/<run_id>.parquet`` (+ JSON sidecar) through :mod:`store`, so
rerunning the same command resumes.

In the driver, :class:`SweepCallback` runs before the launcher starts anything: it expands the
sweep, builds and validates every run's parameters (an out-of-range value, a bad combination or a
bad design point stops the sweep before any run starts), computes every run_id, takes the sweep
folder's lock (``store.folder_lock``: a second sweep, compare or run into the folder is refused,
naming the holder, instead of replacing ``sweep.json`` under the first), finds the finished runs
(``store.check_store``: every finished file is checked against its run_id, a file copied or
swapped from another run is reported and run again, and the store's index spares the re-reading
of files already checked), records the plan in ``SWEEP_DIR/sweep.json`` (and ``design.csv``),
and removes stale temp files.

**Batches.** Launching one Hydra job per run costs more than a small run: the launcher composes
each job's config (about 0.2 s) and starts it in a worker, and a resume went through every job
again. So the driver does not hand Hydra's launcher the jobs; it hands it *batch jobs*
(:func:`_batched_sweep`, in place of Hydra's ``BasicSweeper.sweep``). The runs still to do,
with the parameters the driver has already validated, are written to
``SWEEP_DIR/.batches/<token>.json``; each batch job composes its config once, reads its share of
the runs and runs them one after another in its warm process, each under its per-run lock and
written atomically, as before. On this machine there is one batch per worker, and a batch that
has finished its share takes over runs of the others, from the far end of the list, so the
workers stay busy until the end whatever the runs cost. On a cluster there is one batch per job
of the plan, as Hydra would launch them (``batches=N`` asks for N sharing batches anywhere); see
:func:`share_out`. A finished sweep launches nothing. Any launcher runs batch jobs (joblib,
submitit, Ray, Dask): they are ordinary Hydra jobs. The job rebuilds each run's parameters and
refuses a run whose run_id is not the plan's (the model code or a config file changed after the
plan was made).

Progress is read off the store (a bar on a terminal, a line every tenth of the sweep otherwise),
which works for every launcher; the batch jobs report where their time went, and the command
ends with a summary of it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import functools
import hashlib
import importlib.resources
import json
import logging
import multiprocessing as mp
import os
import random
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import CompactHydraException, HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from peerwell.scenarios.catalogue import register_configs
from peerwell.scenarios.config import RunConfig
from peerwell.scenarios.experiments import design as dz
from peerwell.scenarios.experiments.hooks import get_model
from peerwell.scenarios.experiments.store import (
    acquire_folder,
    atomic_write_bytes,
    atomic_write_json,
    check_store,
    clean_store,
    ensure_run,
    finished_run_ids,
    record_runs,
    release_folder,
    run_file,
    run_identity,
    runs_dir,
)
from peerwell.scenarios.hydra_guard import (
    WRITE_ERRORS,
    OutputFolderError,
    OutputWriteError,
    errors_raised,
    refused,
    replace_sweep,
    time_compositions,
)
from peerwell.simulation.errors import ConfigError, PeerwellError
from peerwell.simulation.params import ModelParams

log = logging.getLogger("peerwell.sweep")
CONF = "pkg://peerwell.conf"
MODEL_KEYS = {f.name for f in dataclasses.fields(ModelParams)}
BATCHES = ".batches"


@dataclass
class SweepConfig(RunConfig):
    """A sweep's config: a run's parameters plus how to choose the runs (not part of run_ids)."""

    design: str = "grid"  # grid (Hydra's key=a,b,c product) | lhs | random | morris | sobol
    samples: int = 0  # design size (0: the design's default, see design.DEFAULT_SAMPLES)
    params: list[str] = field(default_factory=list)  # NAME or NAME:LO:HI; [] = default set
    levels: int = 4  # Morris grid levels
    second_order: bool = False  # Sobol': also second-order indices (2D+2 runs per sample)
    design_seed: int = 0  # seed of the design's sampler (not of the runs: that is `seed`)
    design_chunk: int = -1  # set by `peerwell sweep`: which chunk of the design this job runs
    chunk_size: int = 0  # design points per job; 0 = auto (about 4 jobs per parallel worker)
    model: str = "peerwell"  # test hook: `ishigami` runs SALib's Ishigami function instead
    threads: int = 1  # Numba threads per run: the launcher already runs one job per core
    batches: int = 0  # batch jobs sharing the runs; 0 = one per local worker (cluster: per job)
    batch: str = ""  # set by `peerwell sweep`: which batch of the sweep this job runs


OPTION_KEYS = {f.name for f in dataclasses.fields(SweepConfig)} - MODEL_KEYS


def register_sweep_configs() -> None:
    """Register the sweep schema with Hydra's ConfigStore (idempotent)."""
    register_configs()
    node = OmegaConf.structured(SweepConfig)
    OmegaConf.set_struct(node.community, False)  # as the run's schema (config.run_schema)
    ConfigStore.instance().store(name="peerwell_sweep", node=node)


register_sweep_configs()


def design_spec(options: dict[str, Any], *, check: bool = True) -> dz.DesignSpec | None:
    """The validated design of a sweep's options (``None`` for a grid sweep).

    Parameters
    ----------
    options : mapping
        ``design``, ``samples``, ``params``, ``levels``, ``second_order``, ``design_seed``,
        ``model`` (missing keys take SweepConfig's defaults).
    check : bool
        Ask SALib whether it accepts the sample (done before the sweep; jobs skip it).

    Returns
    -------
    DesignSpec or None

    Raises
    ------
    ConfigError
        Unknown design or model, bad parameter ranges, or a sample count SALib rejects.
    """
    o = {f.name: f.default for f in dataclasses.fields(SweepConfig) if f.name in OPTION_KEYS}
    o["params"] = []
    o.update({k: v for k, v in options.items() if v is not None})
    kind = str(o["design"])
    if kind not in dz.KINDS:
        raise ConfigError(f"design={kind!r} is unknown; choose one of {', '.join(dz.KINDS)}")
    hook = get_model(str(o["model"]))
    if kind == "grid":
        if o["samples"] or list(o["params"]):
            raise ConfigError(
                "samples= and params= choose sampled designs: add design=lhs (or random, "
                "morris, sobol); a grid sweep lists values instead, e.g. communities.moderation=0,0.5,1"
            )
        return None
    ranges = dz.resolve_ranges(list(o["params"]), hook.space, hook.default_params)
    samples = int(o["samples"]) or dz.DEFAULT_SAMPLES[kind]
    spec = dz.DesignSpec(
        kind=kind,
        ranges=ranges,
        samples=samples,
        levels=int(o["levels"]),
        second_order=bool(o["second_order"]),
        seed=int(o["design_seed"]),
    )
    if check:
        dz.check_design(spec)
    return spec


def chunk_points(spec: dz.DesignSpec, chunk_size: int, chunk: int) -> range:
    """Design points of job ``chunk``."""
    size = dz.chunk_size_for(spec, chunk_size)
    return range(chunk * size, min((chunk + 1) * size, dz.n_points(spec)))


def _options(cfg: DictConfig) -> dict[str, Any]:
    return {
        k: OmegaConf.to_container(v) if isinstance(v, ListConfig) else v
        for k, v in ((k, cfg.get(k)) for k in OPTION_KEYS)
    }


def seed_everything(seed: int) -> None:
    """Seed Python's and numpy's global generators (loky reuses worker processes)."""
    random.seed(seed)
    # The model draws from its own counter-based generator; this only pins code that might
    # still reach for numpy's legacy global state.
    np.random.seed(seed % 2**32)  # noqa: NPY002


def _set_threads(n: int) -> None:
    import numba

    # One thread per run by default: the launcher already fills the cores with runs, and runs
    # are bit-identical for any thread count, so this only changes speed.
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


class PlanMismatch(PeerwellError, CompactHydraException):
    """A job's run is not in the driver's plan (raised in the job, reported by the driver).

    A CompactHydraException, so that Hydra reports it in the driver as a message, not a trace.
    """


class SweepIncomplete(PeerwellError):
    """The launcher has returned, yet runs of the sweep's plan are not in its store."""


def _unwritable(sweep_dir: Path, exc: OSError) -> OutputFolderError:
    return OutputFolderError(
        f"cannot write to the sweep directory {sweep_dir}: {exc.strerror or exc}"
    )


_PLAN_CACHE: dict[Path, tuple[int, frozenset[str]]] = {}
# Held while a worker computes and writes a run, so that nothing ends the worker in the middle of
# a write: the CLI's orphan watchdog (``cli.sweep.OrphanWatchdog``) takes it before it does.
RUN_WRITE_LOCK = threading.Lock()
# Set by that watchdog: a batch job stops before its next run (it holds RUN_WRITE_LOCK almost
# all the time, and Python's locks are not fair, so the watchdog might never get it otherwise).
STOP_BETWEEN_RUNS = threading.Event()


class DriverGone(PeerwellError):
    """A batch job stopped between two runs because the sweep's driver has died."""


def _planned_run_ids(sweep_dir: Path) -> frozenset[str] | None:
    """run_ids of the plan the driver wrote (cached per file version); None without a plan."""
    path = sweep_dir / "sweep.json"
    try:
        mtime = path.stat().st_mtime_ns
        cached = _PLAN_CACHE.get(path)
        if cached is None or cached[0] != mtime:
            ids = frozenset(r["run_id"] for r in json.loads(path.read_text())["runs"])
            _PLAN_CACHE[path] = cached = (mtime, ids)
    except (OSError, ValueError, KeyError):
        return None
    return cached[1]


# ---------------------------------------------------------------------------------------------
# Where the time goes: start-up, composition, runs, store

# Seconds this process has spent in Hydra's composition of job configs since a job last read
# it. The launchers compose each job's config before the job's function starts, so the job can
# only learn the time from here.
_COMPOSE = [0.0]
_FIRST_JOB = [True]


# A loky worker's parent, the sweep's driver, as it was at the worker's first job. Only loky
# workers: the basic launcher runs jobs in the driver itself, whose parent (a shell) may go away
# under nohup without the sweep being over.
_DRIVER: list[int] = []


def _stop_if_asked() -> None:
    """Stop the batch job between two runs once the driver is gone.

    Looked for here, before each run, and not only by the watchdog's flag: the watchdog wakes
    once a second, and a batch of short runs would carry on for that second with no driver to
    hand its results to (the runs it wrote would be the ones a rerun finds done, but a sweep
    killed to be stopped should stop).
    """
    if not _DRIVER and mp.current_process().name.startswith("LokyProcess"):
        _DRIVER.append(os.getppid())
    if STOP_BETWEEN_RUNS.is_set() or (_DRIVER and os.getppid() != _DRIVER[0]):
        raise DriverGone("the sweep's driver has died: this batch job stops before its next run")


def _add_compose_time(seconds: float) -> None:
    _COMPOSE[0] += seconds


time_compositions(_add_compose_time)


def process_age() -> float | None:
    """Seconds since this process started (from ``/proc``); None where there is no ``/proc``."""
    try:
        with open("/proc/self/stat") as fh:
            # "pid (comm) state ...": starttime is field 22, the 20th after the ')'.
            start = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def _job_overheads(in_driver: bool) -> tuple[float, float]:
    """(start-up, composition) seconds of the job starting now in this process.

    Start-up is the time from the process's start to the job, less composition: interpreter
    start, imports, the launcher's unpickling of Hydra's context. Only a process's first job has
    one, and a job run by the driver itself has none (the driver counts its own).
    """
    composition, _COMPOSE[0] = _COMPOSE[0], 0.0
    startup = 0.0
    if _FIRST_JOB[0] and not in_driver:
        age = process_age()
        startup = max(0.0, age - composition) if age is not None else 0.0
    _FIRST_JOB[0] = False
    return startup, composition


# ---------------------------------------------------------------------------------------------
# The jobs: write runs into the store


class _Writer:
    """Writes a job's runs into the store under their locks, timing the runs and the rest."""

    def __init__(self, sweep_dir: Path, hook, hc, spec: dz.DesignSpec | None) -> None:
        self.sweep_dir, self.hook = sweep_dir, hook
        self.design = spec.kind if spec else "grid"
        self.job_dir = hc.runtime.output_dir
        self.launcher = hc.runtime.choices.get("hydra/launcher")
        self.seconds = {"runs": 0.0, "store": 0.0}
        self.written: dict[str, list[int]] = {}  # run_id: identity of its files (store)

    def write(self, rid: str, obj, point, values: dict, overrides: list[str], blocking=True) -> str:
        """``ensure_run`` for one run; returns its status ("ran", "done" or "busy")."""

        def compute():
            seed_everything(int(self.hook.describe(obj)["seed"]))
            t0 = time.perf_counter()
            df, meta = self.hook.run(obj)
            self.seconds["runs"] += time.perf_counter() - t0
            meta = dict(meta)
            meta["sweep"] = {
                "design": self.design,
                "point": point,
                "values": values,
                "overrides": list(overrides),
                "job_dir": self.job_dir,
                "launcher": self.launcher,
            }
            return df, meta

        _stop_if_asked()
        t0, before = time.perf_counter(), self.seconds["runs"]
        with RUN_WRITE_LOCK:
            try:
                status = ensure_run(self.sweep_dir, rid, compute, blocking=blocking)
            except OSError as exc:
                if exc.errno not in WRITE_ERRORS:
                    raise
                # A full disk, a file-size limit or a read-only store: one clear line in the
                # driver (the run's temp file is gone; finished runs are untouched).
                raise OutputWriteError(
                    f"cannot write run {rid} into {runs_dir(self.sweep_dir)}: "
                    f"{exc.strerror or exc}. Free some space (or give another "
                    "hydra.sweep.dir=...) and rerun the same command to resume"
                ) from None
            if status == "ran":
                ident = run_identity(self.sweep_dir, rid)
                if ident is not None:
                    self.written[rid] = ident
        self.seconds["store"] += time.perf_counter() - t0 - (self.seconds["runs"] - before)
        return status


def _not_planned(what: str, rid: str, sweep_dir: Path) -> PlanMismatch:
    # The driver planned other runs: a config file or the model's code changed between
    # planning and this job (e.g. a scenario edited while a cluster queue waited).
    return PlanMismatch(
        f"{what} made run {rid}, which is not in the sweep's plan ({sweep_dir}/sweep.json): "
        "the code or a config file changed after the sweep started; rerun the command"
    )


def run_job(cfg: DictConfig) -> dict:
    """One Hydra job: a batch of the sweep's runs (see :func:`run_batch`), or one job's runs.

    A job without ``batch=`` is a job of Hydra's own sweeper (one per combination): it runs
    (or skips, when finished) the runs of its own overrides and returns ``{run_id: "ran" |
    "done"}``.
    """
    hc = HydraConfig.get()
    if cfg.get("batch"):
        return run_batch(cfg, hc)
    sweep_dir = Path(hc.sweep.dir)
    hook = get_model(cfg.model)
    _set_threads(cfg.threads)
    base = hook.base(cfg)
    spec = design_spec(_options(cfg), check=False)  # the driver has checked it
    if spec is None:
        points: list[tuple[int | None, dict]] = [(None, {})]
    else:
        points = [
            (p, dz.point_values(spec, p))
            for p in chunk_points(spec, cfg.chunk_size, cfg.design_chunk)
        ]
    planned = _planned_run_ids(sweep_dir)
    writer = _Writer(sweep_dir, hook, hc, spec)
    overrides = list(hc.overrides.task)
    status = {}
    for point, values in points:
        obj = hook.with_values(base, values)
        rid = hook.run_id(obj)
        if planned is not None and rid not in planned:
            raise _not_planned(f"job {' '.join(overrides)}", rid, sweep_dir)
        status[rid] = writer.write(rid, obj, point, values, overrides)
    return status


_BATCH_CACHE: dict[Path, dict] = {}
_WARM: set[str] = set()  # models this process has warmed up


def _read_batches(path: Path) -> dict | None:
    """The batch file a driver wrote (cached: a warm worker may run several of its batches);
    None when it is gone: the driver that launched the job has ended, or was killed and the
    same command started again (a job that a cluster's queue starts late)."""
    data = _BATCH_CACHE.get(path)
    if data is None:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise PlanMismatch(
                f"cannot read this job's batch file {path} ({type(exc).__name__}): the sweep "
                "that launched the job has ended or was started again; rerun the command"
            ) from None
        _BATCH_CACHE.clear()
        _BATCH_CACHE[path] = data
    return data


def run_batch(cfg: DictConfig, hc) -> dict:
    """One batch job: run its share of the sweep's runs (and help with the others' shares).

    The driver wrote the runs still to do, with their validated parameters (a base config and
    the values changed from it), and each batch's share of them into ``.batches/<token>.json``
    (see :func:`share_out`). A batch runs its share first, skipping (for now) any run whose lock
    another writer holds; then, when the driver allows it, takes runs of the other shares that
    nobody has started, from the far end of the list; then waits for the runs it skipped, and
    runs those whose writer died. Every run is rebuilt here and must have the run_id the plan
    gave it.

    Returns
    -------
    dict
        ``written`` (run_id: identity of its files, for the store's index), ``found`` (runs of
        its share another writer had finished) and ``seconds`` by kind (start-up, composition,
        runs, store).
    """
    sweep_dir = Path(hc.sweep.dir)
    token, _, number = str(cfg.batch).rpartition("-")
    data = _read_batches(sweep_dir / BATCHES / f"{token}.json")
    if data is None:
        log.warning("batch %s: its sweep has ended or started again; nothing to do", cfg.batch)
        seconds = dict.fromkeys(("startup", "composition", "runs", "store"), 0.0)
        return {"batch": -1, "in_driver": False, "written": {}, "found": 0, "seconds": seconds}
    driver = data["driver"]
    in_driver = driver == {"pid": os.getpid(), "host": socket.gethostname()}
    startup, composition = _job_overheads(in_driver)
    t_build = 0.0
    hook = get_model(data["model"])
    _set_threads(cfg.threads)
    if hook.name not in _WARM:
        # Loading the kernels is start-up, not the first run's time (a driver running a batch
        # itself has them to load too; its start-up is the command's).
        t0 = time.perf_counter()
        hook.warm_up()
        _WARM.add(hook.name)
        startup += time.perf_counter() - t0
    planned = _planned_run_ids(sweep_dir)
    writer = _Writer(sweep_dir, hook, hc, design_spec(_options(cfg), check=False))
    bases: dict[str, Any] = {}
    runs, mine = data["runs"], int(number)
    share = data["shares"][mine]

    def build(entry: list):
        nonlocal t_build
        t0 = time.perf_counter()
        rid, b, values, job = entry[0], str(entry[1]), entry[2], str(entry[3])
        what = f"job {' '.join(data['jobs'][job])}"
        try:
            if b not in bases:
                bases[b] = hook.load(data["bases"][b])
            obj = hook.with_values(bases[b], values)
        except PeerwellError as exc:
            raise PlanMismatch(
                f"{what}: its planned parameters are no longer valid ({exc}): the code or a "
                "config file changed after the sweep started; rerun the command"
            ) from None
        made = hook.run_id(obj)
        if made != rid or (planned is not None and rid not in planned):
            raise _not_planned(what, made, sweep_dir)
        t_build += time.perf_counter() - t0
        return obj

    def attempt(entry: list, blocking: bool) -> str:
        obj = build(entry)
        overrides = data["jobs"][str(entry[3])]
        return writer.write(entry[0], obj, entry[4], entry[5], overrides, blocking=blocking)

    found = 0
    waiting = []
    for n in share:
        status = attempt(runs[n], blocking=False)
        if status == "busy":
            waiting.append(runs[n])
        found += status == "done"
    if data["steal"]:
        own = set(share)
        for n in range(len(runs) - 1, -1, -1):
            if n not in own and not run_file(sweep_dir, runs[n][0]).exists():
                attempt(runs[n], blocking=False)  # "busy": its writer is at it
    for entry in waiting:
        found += attempt(entry, blocking=True) == "done"
    return {
        "batch": mine,
        "in_driver": in_driver,
        "written": writer.written,
        "found": found,
        "seconds": {
            "startup": startup,
            "composition": composition + t_build,
            "runs": writer.seconds["runs"],
            "store": writer.seconds["store"],
        },
    }


@hydra.main(version_base="1.3", config_path=CONF, config_name="sweep")
def _sweep_main(cfg: DictConfig) -> dict:
    return run_job(cfg)


def sweep_app() -> None:
    """The Hydra app behind `peerwell sweep` (always run with -m; reads ``sys.argv``).

    The driver's folder lock (taken in :class:`SweepCallback`) is given back here however the
    sweep ends: Hydra calls no callback when a job fails, and an in-process caller (the API, a
    notebook) goes on, so the folder would stay locked against other processes.
    """
    try:
        _sweep_main()
    finally:
        _end_active_sweep()
        _release_driver_lock()


# The sweep folder whose lock this process's driver holds (one sweep at a time per process).
_DRIVER_LOCK: list[Path] = []


def _release_driver_lock() -> None:
    while _DRIVER_LOCK:
        release_folder(_DRIVER_LOCK.pop())


# ---------------------------------------------------------------------------------------------
# The driver side: plan and validate the whole sweep before the launcher starts a job.


@dataclass
class PlannedRun:
    """What a batch job needs to rebuild one run and record it (see :func:`run_batch`)."""

    run_id: str
    base: int  # index into SweepPlan.bases: the validated config the values change
    values: dict  # the job's parameter values and the design point's, by dotted name
    job: int  # index into SweepPlan.jobs
    point: int | None  # the design point (None in a grid sweep)
    design_values: dict  # the design point's values alone (recorded with the run)


@dataclass
class SweepPlan:
    """Every run a sweep will produce, computed in the driver before any job starts."""

    sweep_dir: Path
    jobs: list[list[str]]
    runs: list[dict]  # {"run_id", "job", "point"}
    swept: list[str]  # keys given several values (and sampled parameters)
    spec: dz.DesignSpec | None
    model: str
    bases: list[Any] = field(default_factory=list)
    work: dict[str, PlannedRun] = field(default_factory=dict)  # each run once, in plan order

    @functools.cached_property
    def run_ids(self) -> set[str]:
        return {r["run_id"] for r in self.runs}


def _typed(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _job_context(job: list[str], point: int | None) -> str:
    where = " ".join(job) or "(no overrides)"
    return f"job `{where}`" + (f", design point {point}" if point is not None else "")


def _sweep_elements(parsed: list, groups: set[str]) -> dict[str, Any]:
    """Each value of the swept parameters as the job string Hydra's sweeper makes of it
    (``key=value``), with its parsed override, made without parsing every string again (Hydra's
    parser takes about a millisecond per string: a second for a 1000-run sweep)."""
    from hydra.core.override_parser.types import Override, Transformer, ValueType

    out: dict[str, Any] = {}
    for ov in parsed:
        if not (ov.is_sweep_override() and ov.is_discrete_sweep()) or ov.key_or_group in groups:
            continue
        if ov.value_type == ValueType.GLOB_CHOICE_SWEEP:
            continue  # choices of a config group: parsed as they come
        key = ov.get_key_element()
        for value in ov.sweep_iterator():
            text = f"{key}={Transformer.str(value)}"
            out.setdefault(
                text,
                Override(
                    type=ov.type,
                    key_or_group=ov.key_or_group,
                    value_type=ValueType.ELEMENT,
                    _value=value,
                    package=ov.package,
                    input_line=text,
                    config_loader=ov.config_loader,
                ),
            )
    return out


def plan_sweep(config: DictConfig) -> SweepPlan:
    """Expand and validate a multirun's jobs and compute every run_id (driver side).

    Parameters
    ----------
    config : DictConfig
        The driver's composed config (with the ``hydra`` node), as Hydra passes it to
        ``on_multirun_start``.

    Returns
    -------
    SweepPlan

    Raises
    ------
    PeerwellError
        Any value, combination or design point that a job would refuse, naming the job.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    loader = GlobalHydra.instance().config_loader()
    task = list(config.hydra.overrides.task)
    parser = OverridesParser.create(config_loader=loader)
    try:
        parsed = parser.parse_overrides(task)
        for ov in parsed:
            if ov.is_sweep_override() and ov.is_discrete_sweep():
                if not list(ov.sweep_string_iterator()):
                    raise ConfigError(
                        f"{ov.input_line} is an empty range: it gives no values "
                        f"(e.g. {ov.get_key_element()}=range(1,5) gives 1,2,3,4)"
                    )
        jobs = [list(j) for j in BasicSweeper.split_arguments(parsed, None)[0]]
    except HydraException as exc:
        raise ConfigError(str(exc)) from None
    groups = set(loader.list_groups(""))
    swept = [
        ov.get_key_element()
        for ov in parsed
        if ov.is_sweep_override() and ov.get_key_element() not in ("design_chunk",)
    ]
    opts = _options(config)
    spec = design_spec(opts)
    hook = get_model(str(opts["model"]))
    if spec is not None:
        swept += spec.names
    sweep_dir = Path(str(config.hydra.sweep.dir))

    by_string: dict[str, Any] = _sweep_elements(parsed, groups)
    bases: dict[tuple[str, ...], tuple[DictConfig, Any]] = {}
    typed: dict[tuple[tuple[str, ...], str], Any] = {}
    runs: list[dict] = []
    bases_used: dict[int, int] = {}  # id() of a job's base: its index in base_list
    base_list: list[Any] = []
    work: dict[str, PlannedRun] = {}
    for j, job in enumerate(jobs):
        group_ovs, param_ovs, chunk = [], [], None
        for text in job:
            ov = by_string.get(text)
            if ov is None:
                ov = by_string[text] = parser.parse_override(text)
            key = ov.key_or_group
            if ov.is_delete():
                raise ConfigError(f"{text}: deleting a parameter is not allowed in a sweep")
            if key in groups:
                group_ovs.append(text)
            elif key == "design_chunk":
                chunk = int(ov.value())
            elif key.split(".")[0] in MODEL_KEYS:
                param_ovs.append((text, ov))
            elif key in OPTION_KEYS or key == "output_dir":
                if ov.is_sweep_override():
                    raise ConfigError(f"{text}: {key} cannot be swept")
            else:
                raise ConfigError(f"unknown parameter {key!r} in {text}")
        gkey = tuple(group_ovs)
        if gkey not in bases:
            try:
                composed = loader.load_sweep_config(config, list(group_ovs))
            except (HydraException, OmegaConfBaseException) as exc:
                text = str(exc).split("\nConfig search path")[0].strip()
                raise ConfigError(f"{_job_context(job, None)}: {text}") from None
            with open_dict(composed):
                del composed["hydra"]
            try:
                base = hook.base(composed)
            except PeerwellError:
                # Valid perhaps only with the job's own values (a scenario event after the
                # default horizon, and steps=... given): checked per job below.
                base = None
            bases[gkey] = (composed, base)
        composed, base = bases[gkey]
        values = {}
        for text, ov in param_ovs:
            tkey = (gkey, text)
            if tkey not in typed:
                try:
                    OmegaConf.update(composed, ov.key_or_group, ov.value(), merge=True)
                    typed[tkey] = _typed(OmegaConf.select(composed, ov.key_or_group))
                except OmegaConfBaseException as exc:
                    raise ConfigError(f"{text}: {str(exc).splitlines()[0]}") from None
            values[ov.key_or_group] = typed[tkey]
        if spec is None:
            pts: list[tuple[int | None, dict]] = [(None, {})]
        else:
            if chunk is None or not 0 <= chunk < dz.n_chunks(spec, int(opts["chunk_size"])):
                raise ConfigError(
                    f"{_job_context(job, None)}: design_chunk is set by `peerwell sweep` "
                    f"(0..{dz.n_chunks(spec, int(opts['chunk_size'])) - 1}); do not set it by hand"
                )
            pts = [
                (p, dz.point_values(spec, p))
                for p in chunk_points(spec, int(opts["chunk_size"]), chunk)
            ]
        job_base = base
        if base is None:
            job_cfg = copy.deepcopy(composed)
            for key, value in values.items():
                OmegaConf.update(job_cfg, key, value, merge=True)
            try:
                job_base = hook.base(job_cfg)
            except PeerwellError as exc:
                raise ConfigError(f"{_job_context(job, None)}: {exc}") from None
        b = bases_used.get(id(job_base))
        if b is None:
            b = bases_used[id(job_base)] = len(base_list)
            base_list.append(job_base)  # kept alive, so its id() stays its own
        for point, pvals in pts:
            merged = {**values, **pvals}
            try:
                obj = hook.with_values(job_base, merged)
            except PeerwellError as exc:
                raise ConfigError(f"{_job_context(job, point)}: {exc}") from None
            rid = hook.run_id(obj)
            runs.append({"run_id": rid, "job": j, "point": point})
            if rid not in work:  # two design points that coincide are one run
                work[rid] = PlannedRun(rid, b, merged, j, point, pvals)
    return SweepPlan(
        sweep_dir, jobs, runs, list(dict.fromkeys(swept)), spec, hook.name, base_list, work
    )


def design_of(record: dict) -> dict:
    """What makes two sweeps into one folder the same design, from a ``sweep.json`` record.

    The model, the swept keys, the overrides that hold one value for every run, and a sampled
    design's definition. A sweep that gives the swept keys more values (more seeds, a finer
    grid) is the same design extended; one that sweeps other keys, or fixes another value, is a
    different design, whose runs ``collect`` will not merge into one table unasked. Seeds are
    replicates, never a dimension of the design: ``seed=3`` after ``seed=1,2`` extends it.
    """
    swept = sorted(k for k in record.get("swept", []) if k != "seed")
    fixed = []
    for text in record.get("overrides", []):
        key, _, value = text.partition("=")
        key = key.lstrip("+~")
        # Every swept key is in `swept` (the plan lists each sweep override's key): what is left
        # holds one value for every run, a list value such as platforms=[a,b] included.
        if key.startswith("hydra") or key in OPTION_KEYS or key == "seed" or key in swept:
            continue
        fixed.append(f"{key}={value}")
    design = dict(record.get("design") or {})
    design.pop("points", None)
    return {
        "model": record.get("model"),
        "swept": swept,
        "fixed": sorted(fixed),
        "design": design or None,
    }


def _designs_so_far(path: Path) -> list[dict]:
    """The designs recorded in an existing ``sweep.json`` (none for a new folder)."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if "designs" in previous:
        return list(previous["designs"])
    return [design_of(previous)] if "overrides" in previous else []


def write_plan(plan: SweepPlan, task_overrides: list[str]) -> None:
    """Record the plan in ``sweep.json`` (and the design matrix in ``design.csv``).

    ``designs`` keeps every distinct design (:func:`design_of`) ever swept into the folder, so
    that ``collect`` can refuse to merge a folder's runs of two different sweeps into one table.
    """
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "overrides": task_overrides,
        "model": plan.model,
        "swept": plan.swept,
        "jobs": len(plan.jobs),
        "n_runs": len(plan.run_ids),
        "design": None,
        "runs": plan.runs,
    }
    if plan.spec is not None:
        s = plan.spec
        record["design"] = {
            "kind": s.kind,
            "samples": s.samples,
            "levels": s.levels,
            "second_order": s.second_order,
            "seed": s.seed,
            "params": [dataclasses.asdict(r) for r in s.ranges],
            "points": dz.n_points(s),
        }
        x = dz.design_matrix(s)
        header = "point," + ",".join(s.names) + "\n"
        body = "".join(
            f"{i}," + ",".join(repr(float(v)) for v in row) + "\n" for i, row in enumerate(x)
        )
        atomic_write_bytes(plan.sweep_dir / "design.csv", (header + body).encode())
    designs = _designs_so_far(plan.sweep_dir / "sweep.json")
    if design_of(record) not in designs:
        designs.append(design_of(record))
    record["designs"] = designs
    atomic_write_json(plan.sweep_dir / "sweep.json", record)


def _eta(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class _Progress:
    """Progress of a sweep, read off the store: the same for every launcher.

    On a terminal, a bar; otherwise (a log file, a cluster's batch job) a line at every tenth of
    the sweep, and at least every :attr:`LINE_EVERY` seconds while runs finish. Both say how
    many runs are done, how many of them this sweep ran and how many it found finished (reused),
    the rate of the new runs and the time left at that rate.
    """

    LINE_EVERY = 30.0

    def __init__(self, sweep_dir: Path, expected: set[str], reused: int):
        self.sweep_dir, self.expected, self.reused = sweep_dir, expected, reused
        self.total = len(expected)
        self.t0 = time.perf_counter()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=reused,
                desc="sweep",
                unit="run",
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs "
                "[{elapsed}{postfix}]",
            )
        self.done = reused
        self._tenth = 10 * reused // max(1, self.total)
        self._line_at = self.t0
        # Scanning the store is cheap, but not free for the largest sweeps.
        self._every = 0.5 if self.total <= 5000 else 2.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peerwell-progress", daemon=True)
        self._thread.start()

    def _figures(self, done: int) -> tuple[int, str, str]:
        """(new runs, their rate, the time left at that rate)."""
        new = max(0, done - self.reused)
        elapsed = time.perf_counter() - self.t0
        per_second = new / elapsed if new and elapsed > 0 else 0.0
        left = self.total - done
        rate = f"{60 * per_second:.1f} runs/min" if per_second else "no new runs"
        eta = _eta(0) if left <= 0 else (_eta(left / per_second) if per_second else "unknown")
        return new, rate, eta

    def status(self, done: int) -> str:
        """``12/40 runs done (8 new, 4 reused), 31.5 runs/min, ETA 0:53``."""
        new, rate, eta = self._figures(done)
        return f"{done}/{self.total} runs done ({new} new, {self.reused} reused), {rate}, ETA {eta}"

    def _count(self) -> int:
        return len(self.expected & finished_run_ids(self.sweep_dir))

    def _show(self, done: int, final: bool = False) -> None:
        changed, self.done = done != self.done, done
        if self.bar is not None:
            new, rate, eta = self._figures(done)
            self.bar.n = done
            self.bar.set_postfix_str(f"{new} new, {self.reused} reused, {rate}, ETA {eta}")
            return
        now = time.perf_counter()
        tenth = 10 * done // max(1, self.total)
        if final or tenth > self._tenth or (changed and now - self._line_at >= self.LINE_EVERY):
            print(f"sweep: {self.status(done)}", file=sys.stderr, flush=True)
            self._tenth, self._line_at = tenth, now

    def _watch(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(OSError):
                done = self._count()
                if done != self.done or self.bar is not None:
                    self._show(done)

    def close(self) -> tuple[int, int, float]:
        """Stop watching; (runs done, runs done at the start, seconds since the start)."""
        self._stop.set()
        self._thread.join(timeout=5)
        done = self.done
        with contextlib.suppress(OSError):
            done = self._count()
        self._show(done, final=True)
        if self.bar is not None:
            self.bar.close()
        return done, self.reused, time.perf_counter() - self.t0


# ---------------------------------------------------------------------------------------------
# Batches: Hydra's launcher runs a few batch jobs instead of a job per run


LOCAL_LAUNCHERS = ("JoblibLauncher", "BasicLauncher", "LocalLauncher")


def share_out(launcher: Any, todo: list[PlannedRun], requested: int = 0):
    """Share the runs to do out to batch jobs: ``(shares, steal)``.

    ``shares[i]`` lists the positions in ``todo`` of batch ``i``'s runs; with ``steal``, a batch
    that has finished its share takes over runs of the others.

    - On this machine (joblib, Hydra's basic launcher, submitit_local), one batch per worker
      the launcher runs at once (joblib's ``n_jobs``, -1 being every core; submitit_local
      starts every job at once: one per core; basic: one), every ``k``-th run each, stealing:
      the workers stay warm and busy until the end.
    - On a cluster (SLURM, Ray, Dask), one batch per job of the plan (one run, or a chunk of
      design points), as Hydra itself would launch them, without stealing: a task's time limit
      (SLURM's ``timeout_min``) and the array's parallelism keep their meaning.
    - ``requested`` (the ``batches=`` option), when positive, asks for that many batches, with
      stealing, on any launcher: on a cluster, one per worker it has.
    """
    from joblib import cpu_count

    get = launcher.get if hasattr(launcher, "get") else (lambda key, default=None: default)
    name = str(get("_target_", "") or "").rsplit(".", 1)[-1]
    n = len(todo)
    if requested <= 0 and name not in LOCAL_LAUNCHERS:
        by_job: dict[int, list[int]] = {}
        for i, w in enumerate(todo):
            by_job.setdefault(w.job, []).append(i)
        return list(by_job.values()), False
    if requested > 0:
        k = requested
    elif name == "JoblibLauncher":
        jobs = int(get("n_jobs", -1) or -1)
        k = jobs if jobs > 0 else max(1, cpu_count() + 1 + jobs)
    elif name == "LocalLauncher":
        k = cpu_count()
    else:
        k = 1
    k = max(1, min(k, n))
    return [list(range(i, n, k)) for i in range(k)], True


def _batched_sweep(self, arguments: list[str], original) -> Any:
    """Hydra's ``BasicSweeper.sweep`` for `peerwell sweep`: launch batch jobs, not a job per run.

    Another multirun in the process (none of peerwell's, today) gets Hydra's own sweep.
    """
    sweep = _ACTIVE[0] if _ACTIVE else None
    if sweep is None or Path(str(self.config.hydra.sweep.dir)) != sweep.plan.sweep_dir:
        return original(self, arguments)
    # What Hydra's sweeper writes first (a full disk is reported by hydra_guard's wrapper).
    sweep.plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(self.config, sweep.plan.sweep_dir / "multirun.yaml")
    jobs = sweep.start_batches(self.config)
    if not jobs:
        return []
    from hydra.core.utils import JobStatus

    size = self.max_batch_size if self.max_batch_size and self.max_batch_size > 0 else len(jobs)
    results = []
    for first in range(0, len(jobs), size):  # hydra.sweeper.max_batch_size, as Hydra's sweeper
        results += self.launcher.launch(jobs[first : first + size], initial_job_idx=first)

    # The runs of the batches that finished go into the store's index even when one failed;
    # then a failure stops the command as Hydra's own sweeper would (its message, no trace).
    sweep.results = [r.return_value for r in results if r.status == JobStatus.COMPLETED]
    sweep.record_results()
    for r in results:
        _ = r.return_value
    return [results]


# The sweep this process drives now (at most one): set by SweepCallback.on_multirun_start.
_ACTIVE: list[SweepCallback] = []
# When `peerwell sweep` started, and the seconds the process had lived by then (a CLI process:
# interpreter start and imports), for the summary of where the time went.
_COMMAND: dict[str, float] = {}


def command_started(fresh_process: bool) -> None:
    """Called by `peerwell sweep` as it starts: the clock of the summary starts here.

    ``fresh_process``: the command is the process (the ``peerwell`` program), so the process's
    age is the driver's start-up; not when a caller runs the command in its own process.
    """
    _COMMAND.clear()
    _COMMAND["t0"] = time.perf_counter()
    age = process_age() if fresh_process else None
    _COMMAND["startup"] = age or 0.0


def _end_active_sweep() -> None:
    """However the sweep ends: stop its progress and remove its batch file."""
    while _ACTIVE:
        _ACTIVE.pop().finish()


def _remove_batch_files(sweep_dir: Path) -> None:
    """Remove the batch files of earlier drivers of the folder (a killed one leaves its own).

    Holding the folder's lock, this driver is the folder's only one: the others are gone. A
    batch job of theirs still running has read its file already; one that starts later (a
    cluster's queue) finds it gone and ends at once (see :func:`_read_batches`).
    """
    folder = sweep_dir / BATCHES
    if folder.is_dir():
        for old in folder.iterdir():
            old.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


@dataclass
class _DriverTimes:
    startup: float = 0.0  # interpreter start and imports before the command (a CLI process)
    composition: float = 0.0  # Hydra's composition of the driver's config, and the plan
    store: float = 0.0  # the plan's files, checks of finished runs, the index, clean-ups


def time_summary(times: _DriverTimes, results: list[dict], wall: float) -> str:
    """Where a sweep's time went, summed over the driver and its batch jobs (one line)."""
    n = sum(len(r["written"]) for r in results)
    total = {k: sum(r["seconds"][k] for r in results) for k in ("startup", "composition")}
    runs = sum(r["seconds"]["runs"] for r in results)
    store = times.store + sum(r["seconds"]["store"] for r in results)
    startup = times.startup + total["startup"]
    composition = times.composition + total["composition"]
    each = f", {runs / n:.2f} s each" if n else ""
    jobs = len(results)
    who = f"the driver and {jobs} batch job{'s' if jobs != 1 else ''}" if jobs else "the driver"
    return (
        f"sweep time: runs {runs:.1f} s ({n} computed{each}), start-up {startup:.1f} s, "
        f"composition {composition:.1f} s, store {store:.1f} s; summed over {who}, "
        f"in {wall:.1f} s of wall time"
    )


class SweepCallback(Callback):
    """Driver-side hooks of `peerwell sweep` (configured in ``conf/sweep.yaml``)."""

    def __init__(self) -> None:
        self.plan: SweepPlan | None = None
        self.progress: _Progress | None = None
        self.finished: set[str] = set()
        self.results: list[dict] = []
        self.batch_file: Path | None = None
        self.times = _DriverTimes()
        self.t0 = time.perf_counter()

    def __getstate__(self) -> dict:
        # Launchers pickle Hydra's context, callbacks included, to every job: the driver's plan
        # and progress thread stay in the driver.
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Plan and validate the whole sweep and take its folder, before the launcher starts.

        Raises
        ------
        ConfigError
            A run's values or the design are refused, the sweep has no runs, or the sweep
            directory cannot be written (:class:`OutputFolderError`); nothing has run.
        FolderBusy
            Another command is writing into the sweep directory.
        """
        _end_active_sweep()  # of an earlier sweep in this process that ended without it
        self.__init__()
        command = dict(_COMMAND)  # this command's clock (none: the app was run some other way)
        _COMMAND.clear()
        self.t0 = command.get("t0", self.t0)
        self.times.startup = command.get("startup", 0.0)
        self.plan = plan = plan_sweep(config)
        if not plan.runs:
            raise ConfigError("the sweep has no runs")
        planned = time.perf_counter()
        self.times.composition = planned - self.t0
        _release_driver_lock()  # of an earlier sweep in this process that ended without it
        try:
            # Before anything is written (and before Hydra's multirun.yaml and jobs/ folders).
            _DRIVER_LOCK.append(
                acquire_folder(plan.sweep_dir, hint="give another hydra.sweep.dir=...")
            )
        except OSError as exc:
            raise _unwritable(plan.sweep_dir, exc) from None
        try:
            write_plan(plan, list(config.hydra.overrides.task))
            clean_store(plan.sweep_dir)
            _remove_batch_files(plan.sweep_dir)
            runs_dir(plan.sweep_dir).mkdir(parents=True, exist_ok=True)
            checked = check_store(plan.sweep_dir, plan.run_ids)
        except OSError as exc:
            raise _unwritable(plan.sweep_dir, exc) from None
        for name, what in checked.repaired:
            _note(f"runs/{name} {what}")
        self.finished = checked.finished & plan.run_ids
        self.times.store += time.perf_counter() - planned
        replace_sweep(_batched_sweep)
        _ACTIVE.append(self)
        self.progress = _Progress(plan.sweep_dir, plan.run_ids, len(self.finished))
        log.info(
            "sweep of %d runs in %d jobs into %s (%d already finished)",
            len(plan.run_ids),
            len(plan.jobs),
            runs_dir(plan.sweep_dir).resolve(),
            len(self.finished),
        )

    def start_batches(self, config: DictConfig) -> list[list[str]]:
        """Write the batch file of the runs still to do; the batch jobs' overrides.

        Batch ``i``'s overrides are those of the job of its first run plus ``batch=TOKEN-i``:
        a job the plan has composed and validated, so Hydra composes the batch job's config
        without surprises (the runs themselves come from the batch file).
        """
        plan = self.plan
        t0 = time.perf_counter()
        todo = [w for rid, w in plan.work.items() if rid not in self.finished]
        if not todo:
            return []
        shares, steal = share_out(config.hydra.launcher, todo, int(config.get("batches") or 0))
        hook = get_model(plan.model)
        token = f"s{secrets.token_hex(6)}"
        record = {
            "token": token,
            "model": plan.model,
            "shares": shares,
            "steal": steal,
            "driver": {"pid": os.getpid(), "host": socket.gethostname()},
            "bases": {str(b): hook.dump(plan.bases[b]) for b in sorted({w.base for w in todo})},
            "jobs": {str(j): plan.jobs[j] for j in sorted({w.job for w in todo})},
            "runs": [[w.run_id, w.base, w.values, w.job, w.point, w.design_values] for w in todo],
        }
        folder = plan.sweep_dir / BATCHES
        try:
            folder.mkdir(exist_ok=True)
            self.batch_file = folder / f"{token}.json"
            atomic_write_bytes(self.batch_file, json.dumps(record).encode())
        except OSError as exc:
            if exc.errno not in WRITE_ERRORS:
                raise
            raise OutputWriteError(
                f"cannot write to {folder}: {exc.strerror or exc}. Free some space or give "
                "another hydra.sweep.dir=..."
            ) from None
        _COMPOSE[0] = 0.0  # a batch run here counts only its own composition
        self.times.store += time.perf_counter() - t0
        log.info(
            "%d runs to run in %d batch jobs%s",
            len(todo),
            len(shares),
            ", which share them out" if steal else "",
        )
        return [[*plan.jobs[todo[sh[0]].job], f"batch={token}-{i}"] for i, sh in enumerate(shares)]

    def record_results(self) -> None:
        """Add the runs the batch jobs wrote to the store's index (a resume then reads none)."""
        t0 = time.perf_counter()
        written = {rid: i for r in self.results for rid, i in r["written"].items()}
        with contextlib.suppress(OSError):
            record_runs(self.plan.sweep_dir, written)
        self.times.store += time.perf_counter() - t0

    def finish(self) -> tuple[int, int, float]:
        """Stop the progress display and remove the batch file (idempotent)."""
        out = (len(self.finished), len(self.finished), time.perf_counter() - self.t0)
        if self.progress is not None:
            out = self.progress.close()
            self.progress = None
        if self.batch_file is not None:
            with contextlib.suppress(OSError):
                self.batch_file.unlink(missing_ok=True)
                self.batch_file.parent.rmdir()
            self.batch_file = None
        with contextlib.suppress(ValueError):
            _ACTIVE.remove(self)
        return out

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Close the sweep and keep its :class:`SweepOutcome` for :func:`run_sweep`.

        Raises
        ------
        SweepIncomplete
            Runs of the plan are not in the store.
        """
        plan = self.plan
        if plan is None or self.progress is None:
            return
        done, before, seconds = self.finish()
        t0 = time.perf_counter()
        clean_store(plan.sweep_dir)
        self.times.store += time.perf_counter() - t0
        _release_driver_lock()
        missing = plan.run_ids - finished_run_ids(plan.sweep_dir)
        where = plan.sweep_dir.resolve()
        if missing:
            raise SweepIncomplete(
                f"{len(missing)} of {len(plan.run_ids)} runs are missing from {where}/runs "
                f"(e.g. {sorted(missing)[0]}): rerun the same command to resume"
            )
        wall = time.perf_counter() - self.t0
        times = time_summary(self.times, self.results, wall)
        _OUTCOME.append(
            SweepOutcome(where, len(plan.run_ids), done - before, before, seconds, times)
        )


# ---------------------------------------------------------------------------------------------
# A sweep from its command line: checked, run, and what it did


@dataclass
class SweepOutcome:
    """What a finished sweep did (what :func:`run_sweep` returns).

    Attributes
    ----------
    sweep_dir : pathlib.Path
        The sweep directory, resolved.
    runs : int
        Runs of the plan, all in ``sweep_dir/runs`` now.
    new, reused : int
        Runs this sweep computed, and runs it found finished.
    seconds : float
        Wall time of the sweep.
    times : str
        Where the time went (:func:`time_summary`), one line.
    """

    sweep_dir: Path
    runs: int
    new: int
    reused: int
    seconds: float
    times: str

    def report(self) -> str:
        """The two lines `peerwell sweep` ends with."""
        return (
            f"sweep: {self.runs} runs in {self.sweep_dir}/runs ({self.new} new, {self.reused} "
            f"already there) in {self.seconds:.1f} s; gather them with: peerwell collect "
            f"{self.sweep_dir}\n{self.times}"
        )


# Set by on_multirun_end for run_sweep (one sweep at a time per process, as _ACTIVE).
_OUTCOME: list[SweepOutcome] = []
# Where run_sweep's caller wants the sweep's notes (finished runs found damaged and redone).
_NOTIFY: list[Callable[[str], None]] = []


def _note(message: str) -> None:
    if _NOTIFY:
        _NOTIFY[0](message)
    else:  # the app run some other way than run_sweep
        log.warning("%s", message)


DESIGN_OPTIONS = ("design", "samples", "params", "levels", "second_order", "design_seed")
DESIGN_OPTIONS += ("model", "chunk_size")


def _known_keys() -> tuple[set[str], set[str]]:
    """Dotted leaf keys and group-node keys of the sweep schema."""
    leaves, nodes = set(), set()
    for f in dataclasses.fields(SweepConfig):
        default = getattr(SweepConfig, f.name, None)
        sub = f.default_factory() if f.default_factory is not dataclasses.MISSING else default
        if dataclasses.is_dataclass(sub):
            nodes.add(f.name)
            for g in dataclasses.fields(sub):
                leaves.add(f"{f.name}.{g.name}")
        else:
            leaves.add(f.name)
    return leaves, nodes


def _config_groups() -> set[str]:
    root = importlib.resources.files("peerwell.conf")
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("__")}


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(overrides, everything else: flags and their values), order kept within each."""
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    return overrides, [a for a in args if a not in overrides]


def parse_overrides(overrides: list[str]) -> list[Override]:
    """Hydra's reading of ``key=value`` overrides; :class:`ConfigError` if it cannot read one."""
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        raise ConfigError(f"cannot read the command line: {exc}") from None


def check_overrides(parsed: list[Override]) -> dict[str, Any]:
    """Refuse unknown keys and empty ranges; return the design options given (last one wins).

    Raises
    ------
    ConfigError
        Naming the key and what would be right.
    """
    leaves, nodes = _known_keys()
    groups = _config_groups()
    options: dict[str, Any] = {}
    for ov in parsed:
        key = ov.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            continue
        if key in groups:
            continue  # Hydra names the options of a group when one does not exist
        # One community's own setting (community.<name>.<property>): its names depend on the
        # run's communities, so the model's validation checks them, naming the known ones.
        if key.startswith("community.") and key.count(".") == 2:
            pass
        elif key not in leaves and key not in nodes:
            close = difflib.get_close_matches(key, sorted(leaves), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown parameter {key!r} (in {ov.input_line}){hint} — "
                "`peerwell run --cfg job` lists every parameter"
            )
        if ov.is_sweep_override():
            if key in OPTION_KEYS:
                raise ConfigError(
                    f"{ov.input_line}: {key} is a sweep option and cannot take several values"
                )
            if ov.value_type != ValueType.GLOB_CHOICE_SWEEP and ov.is_discrete_sweep():
                if not list(ov.sweep_string_iterator()):
                    raise ConfigError(
                        f"{ov.input_line} is an empty range: it gives no values "
                        f"(e.g. {key}=range(1,5) gives 1,2,3,4)"
                    )
            elif not ov.is_discrete_sweep():
                raise ConfigError(
                    f"{ov.input_line}: a sweep lists values (a,b,c or range(a,b,step)); "
                    "interval() is for optimizers — for a sampled design use design=lhs "
                    f"params=[{key}:LO:HI]"
                )
        if key in OPTION_KEYS:
            if key in ("design_chunk", "batch"):
                raise ConfigError(f"{key} is set by `peerwell sweep` itself; do not give it")
            value = ov.value()
            if key == "batches" and (type(value) is not int or value < 0):
                raise ConfigError(
                    f"{ov.input_line}: give the number of batch jobs (0: one per worker)"
                )
            options[key] = value
    return options


def parallel_workers(parsed: list[Override]) -> int:
    """How many jobs the chosen launcher runs at once (to cut a design into enough chunks)."""
    from joblib import cpu_count

    launcher, n_jobs, array = "joblib", None, None
    for ov in parsed:
        if ov.key_or_group == "hydra/launcher":
            launcher = str(ov.value())
        elif ov.key_or_group == "hydra.launcher.n_jobs":
            n_jobs = int(ov.value())
        elif ov.key_or_group == "hydra.launcher.array_parallelism":
            array = int(ov.value())
    cores = cpu_count()
    if launcher == "joblib" and n_jobs:
        # joblib's convention: -1 is every core, -2 all but one, ...
        return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    if launcher in ("slurm", "submitit_slurm"):
        return array or 64  # conf/hydra/launcher/slurm.yaml's array_parallelism
    return cores


def prepare_sweep_argv(args: list[str]) -> list[str]:
    """Check a `peerwell sweep` command line and return the argv of the Hydra app.

    Raises
    ------
    ConfigError
        An unknown key, an empty range, a bad design option; nothing has run.
    """
    overrides, flags = split_args(args)
    parsed = parse_overrides(overrides)
    options = check_overrides(parsed)
    spec = design_spec({k: v for k, v in options.items() if k in DESIGN_OPTIONS})
    if spec is not None:
        size = int(options.get("chunk_size") or 0)
        if size < 0:
            raise ConfigError(
                f"chunk_size={size}: give a positive number of design points per job (0: auto)"
            )
        if size == 0:
            size = dz.auto_chunk_size(spec, parallel_workers(parsed))
            overrides = [*overrides, f"chunk_size={size}"]
        overrides = [*overrides, f"design_chunk=range(0,{dz.n_chunks(spec, size)})"]
    if not any(ov.key_or_group == "hydra.sweep.dir" for ov in parsed):
        overrides = [*overrides, f"hydra.sweep.dir={default_sweep_dir(parsed)}"]
    # A sweep is always a multirun, unless the user asks Hydra to show something instead.
    showing = {"--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help"}
    showing |= {"--shell-completion", "-sc", "--resolve"}
    if not ({"-m", "--multirun"} | showing) & set(flags):
        flags = ["-m", *flags]
    return [*flags, *overrides]


def default_sweep_dir(parsed: list[Override]) -> str:
    """``$PWD/multirun/<scenario>/sweep-<key>``: a folder of the sweep's own, when none is given.

    The key is a hash of the overrides that choose the runs (every one but ``hydra...`` and the
    options of how the runs are shared out), in any order: the same command resumes its sweep,
    and another sweep (other keys or values) gets a folder of its own instead of pooling its
    runs with the first's (issue 24). A sweep extended with more values gets a new folder too;
    give both commands the same ``hydra.sweep.dir=...`` to extend one store.
    """
    scenario = "baseline"  # conf/sweep.yaml's default
    chosen = []
    for ov in parsed:
        key = ov.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            continue
        if key in ("batches", "chunk_size", "threads"):
            continue  # how the runs are shared out, not which runs
        if key == "scenario":
            scenario = "scenarios" if ov.is_sweep_override() else str(ov.value())
        chosen.append(ov.input_line.strip())
    key = hashlib.sha256("\n".join(sorted(chosen)).encode()).hexdigest()[:8]
    # Absolute: workers kept warm from an earlier sweep (or on other nodes) have their own cwd.
    return str(Path.cwd() / "multirun" / Path(scenario).stem / f"sweep-{key}")


def _one_thread_per_job_env() -> None:
    # Loky and submitit start fresh interpreters that read these when numpy loads: one BLAS
    # thread per job, as for Numba (threads=1), since the launcher fills the cores with jobs.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# The resource trackers (multiprocessing's and loky's) are processes started with this
# interpreter's -W options. A worker stopped mid-run (Ctrl-C) cannot unregister the lock its
# progress bar made; the tracker removes it at exit, and says so in a warning that is no concern
# of the user's and would follow the one-line message.
TRACKER_WARNING = "ignore:resource_tracker:UserWarning"


def _quiet_resource_trackers() -> None:
    if TRACKER_WARNING not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNING)


def run_sweep(
    args: list[str], *, notify: Callable[[str], None] | None = None
) -> SweepOutcome | None:
    """Run `peerwell sweep ARGS` in this process: check, plan, launch, and say what it did.

    Parameters
    ----------
    args : list of str
        The command's arguments: ``key=value`` overrides (``key=a,b,c`` sweeps), Hydra's
        ``hydra.sweep.dir=``, ``hydra/launcher=`` and flags (``--cfg job``).
    notify : callable, optional
        Called with each note of the sweep as it starts (a finished run found damaged, to be run
        again); by default they are logged.

    Returns
    -------
    SweepOutcome or None
        None when the arguments ask Hydra to show something (``--cfg``, ``--info``) instead.

    Raises
    ------
    ConfigError
        A key, value, design option or the sweep directory is refused; nothing has run.
    FolderBusy
        Another command is writing into the sweep directory.
    SweepIncomplete
        Runs of the plan are missing when the launcher is done.
    Exception
        A job's error (:class:`OutputWriteError`, :class:`PlanMismatch`, a launcher's), raised
        once the runs of the jobs that finished are recorded.
    KeyboardInterrupt
        Finished runs are in the store; the same arguments resume. See :func:`stop_workers`.
    """
    argv = prepare_sweep_argv(args)
    _one_thread_per_job_env()
    _quiet_resource_trackers()
    saved = sys.argv
    sys.argv = ["peerwell-sweep", *argv]  # a Hydra app reads its command line from sys.argv
    _NOTIFY[:] = [notify] if notify is not None else []
    _OUTCOME.clear()
    try:
        with errors_raised():
            sweep_app()
    except Exception as exc:
        error = refused(exc)
        if error is None:
            raise
        raise error from exc
    finally:
        sys.argv = saved
        _NOTIFY.clear()
    return _OUTCOME.pop() if _OUTCOME else None


def stop_workers() -> None:
    """Stop the joblib launcher's worker processes now, not when their runs end.

    A SIGINT sent to this process alone (kill -INT, a scheduler) does not reach the workers, and
    loky keeps them for its next call; its exit hook stops them only when this process exits. A
    caller that goes on after an interrupted sweep (a notebook, the command run in-process, as
    the tests do) would leave them computing runs nobody waits for. A second Ctrl-C meanwhile is
    ignored, so that the stop is not cut short.
    """
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None)
    if executor is None:
        return
    import signal

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        executor.shutdown(wait=True, kill_workers=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------------------
# A sensitivity analysis: its own keys, then a sweep of its design

SA_KEYS = {
    "method": "morris or sobol",
    "outcome": "outcome column (default care_seeking_share)",
    "output_dir": "where the runs, sensitivity.csv and the figure go "
    "(default outputs/sensitivity/METHOD)",
    "conf_level": "confidence level of the intervals (default 0.95)",
}


@dataclass
class SensitivityPlan:
    """A checked `peerwell sensitivity` command line (what :func:`plan_sensitivity` returns)."""

    method: str
    outcome: str
    conf_level: float
    output_dir: Path  # the sweep directory of the design's runs; absolute
    sweep_args: list[str]  # the arguments of :func:`run_sweep` for the design's runs


def _near_own_key(key: str) -> str | None:
    """``key`` is not known to the sweep but is a near miss of a sensitivity key: the message."""
    leaves, nodes = _known_keys()
    if key in leaves or key in nodes or key in _config_groups() or "." in key:
        return None
    close = difflib.get_close_matches(key, list(SA_KEYS), n=1)
    if not close:
        return None
    return (
        f"unknown key {key!r}; did you mean {close[0]}? sensitivity's own keys are "
        f"{', '.join(SA_KEYS)}; every other key=value is a sweep option or model parameter"
    )


def _path_override(key: str, path: Path) -> str:
    """``key=path`` in Hydra's grammar, which reads only ASCII letters unquoted."""
    text = str(path)
    if text.isascii():
        return f"{key}={text}"
    return f"{key}='" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def plan_sensitivity(args: list[str]) -> SensitivityPlan:
    """Check a `peerwell sensitivity` command line: its own keys, the rest for the sweep.

    Raises
    ------
    ConfigError
        A flag, an unknown method or outcome, a near miss of an own key, a bad confidence level.
    """
    from peerwell.scenarios.experiments.sensitivity import METHODS

    overrides, flags = split_args(args)
    if flags:
        raise ConfigError(
            f"peerwell sensitivity takes key=value arguments only, not {' '.join(flags)} "
            "(replicates: seed=1,2,3; another launcher: hydra/launcher=submitit_local)"
        )
    parsed = parse_overrides(overrides)
    own: dict[str, Any] = {}
    forwarded = []
    for text, ov in zip(overrides, parsed):
        if ov.key_or_group in SA_KEYS:
            if ov.is_sweep_override():
                raise ConfigError(f"{text}: {ov.key_or_group} takes one value")
            own[ov.key_or_group] = ov.value()
        elif ov.key_or_group == "design":
            raise ConfigError(
                f"{text}: peerwell sensitivity chooses the design from method=morris|sobol"
            )
        else:
            near = _near_own_key(ov.key_or_group)
            if near:
                raise ConfigError(near)
            forwarded.append(text)
    method = str(own.get("method", "morris"))
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is unknown; choose one of {', '.join(METHODS)}")
    model_name = "peerwell"
    for ov in parsed:
        if ov.key_or_group == "model":
            model_name = str(ov.value())
    hook = get_model(model_name)
    outcomes = hook.outcomes
    outcome = str(own.get("outcome", hook.default_outcome))
    if outcome not in outcomes:
        close = difflib.get_close_matches(outcome, outcomes, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(
            f"outcome={outcome!r} is not an outcome of the model{hint} (outcomes: {outcomes})"
        )
    try:
        conf_level = float(own.get("conf_level", 0.95))
    except (TypeError, ValueError):
        conf_level = -1.0
    if not 0 < conf_level < 1:
        raise ConfigError(
            f"conf_level={own.get('conf_level')!r} must be a number between 0 and 1, e.g. 0.95"
        )
    out = Path(str(own.get("output_dir", f"outputs/sensitivity/{method}"))).resolve()
    sweep_args = [f"design={method}", _path_override("hydra.sweep.dir", out), *forwarded]
    return SensitivityPlan(method, outcome, conf_level, out, sweep_args)
