"""`peerwell sweep`: parameter sweeps as a Hydra multirun over one resumable result store.

The Hydra app (``conf/sweep.yaml``: the run config plus design options, joblib launcher by
default) expands the ``key=a,b,c`` overrides into *jobs*: one per combination, each one run (a
grid sweep) or a chunk of design points (``design=lhs|random|morris|sobol``). Every run is
written to ``SWEEP_DIR/runs/<run_id>.parquet`` (+ JSON sidecar) through :mod:`runstore`, so
rerunning the same command resumes.

In the driver, :class:`SweepCallback` runs before the launcher starts anything: it expands the
sweep, builds and validates every run's parameters (an out-of-range value, a bad combination or a
bad design point stops the sweep before any run starts), computes every run_id, takes the sweep
folder's lock (``store.folder_lock``: a second sweep, compare or run into the folder is refused,
naming the holder, instead of replacing ``sweep.json`` under the first), finds the finished runs
(``runstore.check_store``: every finished file is checked against its run_id, a file copied or
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
import functools
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import CompactHydraException, HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from peerwell.scenarios.config import RunConfig, register_configs
from peerwell.scenarios.experiments import design as dz
from peerwell.scenarios.experiments.hooks import get_model
from peerwell.scenarios.experiments.runstore import (
    check_store,
    clean_store,
    ensure_run,
    finished_run_ids,
    record_runs,
    run_file,
    run_identity,
    runs_dir,
)
from peerwell.scenarios.experiments.store import (
    FolderBusy,
    acquire_folder,
    atomic_write_bytes,
    atomic_write_json,
    release_folder,
)
from peerwell.scenarios.hydra_guard import WRITE_ERRORS, OutputWriteError
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
    ConfigStore.instance().store(name="peerwell_sweep", node=SweepConfig)


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


_PLAN_CACHE: dict[Path, tuple[int, frozenset[str]]] = {}
# Held while a worker computes and writes a run, so the orphan watchdog never cuts a write short.
_BUSY = threading.Lock()
_WATCHDOG: threading.Thread | None = None
_PARENT: list[int] = []  # a loky worker's parent: the driver (see _exit_with_the_driver)


def _exit_with_the_driver() -> None:
    """In a joblib (loky) worker: exit, after the run in progress, once the driver has died.

    When the launcher is killed (SIGKILL), loky's workers are orphaned; one can block forever
    reading the dead driver's task pipe (measured: still alive 40 minutes later). The worker's
    parent is the driver, so a changed parent pid means the driver is gone.
    """
    global _WATCHDOG
    if _WATCHDOG is not None or not mp.current_process().name.startswith("LokyProcess"):
        return
    parent = os.getppid()
    _PARENT.append(parent)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                with _BUSY:  # let the run being written finish its atomic write
                    os._exit(0)

    _WATCHDOG = threading.Thread(target=watch, name="peerwell-orphan-watchdog", daemon=True)
    _WATCHDOG.start()


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


def _stop_if_orphaned() -> None:
    """In a loky worker whose driver has died: exit now, between two runs.

    A batch job goes from one run to the next holding :data:`_BUSY` almost all the time, so the
    watchdog may never get it; the job looks for itself before each run (no write is under way
    then, and the run's lock is not taken yet).
    """
    if _PARENT and os.getppid() != _PARENT[0]:
        os._exit(0)


def _timed_compose(original):
    @functools.wraps(original)
    def load_sweep_config(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _COMPOSE[0] += time.perf_counter() - t0

    load_sweep_config.__peerwell_timed__ = True
    return load_sweep_config


def _install_compose_timer() -> None:
    # ConfigLoaderImpl is Hydra's own class, never re-created by a plugin scan (see hydra_guard).
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    if not getattr(ConfigLoaderImpl.load_sweep_config, "__peerwell_timed__", False):
        ConfigLoaderImpl.load_sweep_config = _timed_compose(ConfigLoaderImpl.load_sweep_config)


_install_compose_timer()


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
        self.written: dict[str, list[int]] = {}  # run_id: identity of its files (runstore)

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

        _stop_if_orphaned()
        t0, before = time.perf_counter(), self.seconds["runs"]
        with _BUSY:
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
    _exit_with_the_driver()
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


def _install_batching() -> None:
    """Put :func:`_batched_sweep` in place of the sweep method of Hydra's basic sweeper.

    Patched on the class Hydra's plugin registry holds (Hydra re-executes its plugin modules
    when it scans them, so an imported name may be another class object), before Hydra
    instantiates the sweeper; idempotent.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.plugins import Plugins

    name = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    for cls in {BasicSweeper, Plugins.instance().class_name_to_class.get(name, BasicSweeper)}:
        if getattr(cls.sweep, "__peerwell_batched__", False):
            continue

        def sweep(self, arguments, _original=cls.sweep):
            return _batched_sweep(self, arguments, _original)

        sweep.__peerwell_batched__ = True
        cls.sweep = sweep


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
        from peerwell.scenarios.cli.core import fail

        _end_active_sweep()  # of an earlier sweep in this process that ended without it
        self.__init__()
        command = dict(_COMMAND)  # this command's clock (none: the app was run some other way)
        _COMMAND.clear()
        self.t0 = command.get("t0", self.t0)
        self.times.startup = command.get("startup", 0.0)
        try:
            self.plan = plan_sweep(config)
        except PeerwellError as exc:
            fail(str(exc))
        plan = self.plan
        if not plan.runs:
            fail("the sweep has no runs")
        planned = time.perf_counter()
        self.times.composition = planned - self.t0
        _release_driver_lock()  # of an earlier sweep in this process that ended without it
        try:
            # Before anything is written (and before Hydra's multirun.yaml and jobs/ folders).
            _DRIVER_LOCK.append(
                acquire_folder(plan.sweep_dir, hint="give another hydra.sweep.dir=...")
            )
        except FolderBusy as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write to the sweep directory {plan.sweep_dir}: {exc.strerror or exc}")
        try:
            write_plan(plan, list(config.hydra.overrides.task))
            clean_store(plan.sweep_dir)
            _remove_batch_files(plan.sweep_dir)
            runs_dir(plan.sweep_dir).mkdir(parents=True, exist_ok=True)
            checked = check_store(plan.sweep_dir, plan.run_ids)
        except OSError as exc:
            fail(f"cannot write to the sweep directory {plan.sweep_dir}: {exc.strerror or exc}")
        for name, what in checked.repaired:
            print(f"peerwell: runs/{name} {what}", file=sys.stderr, flush=True)
        self.finished = checked.finished & plan.run_ids
        self.times.store += time.perf_counter() - planned
        _install_batching()
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
        from peerwell.scenarios.cli.core import fail

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
            fail(
                f"{len(missing)} of {len(plan.run_ids)} runs are missing from {where}/runs "
                f"(e.g. {sorted(missing)[0]}): rerun the same command to resume"
            )
        print(
            f"sweep: {len(plan.run_ids)} runs in {where}/runs ({done - before} new, {before} "
            f"already there) in {seconds:.1f} s; gather them with: peerwell collect {where}",
            flush=True,
        )
        wall = time.perf_counter() - self.t0
        print(time_summary(self.times, self.results, wall), flush=True)
