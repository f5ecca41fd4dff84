"""`peerwell sweep`: parameter sweeps as a Hydra multirun over one resumable result store.

The Hydra app (``conf/sweep.yaml``: the run config plus design options, joblib launcher by
default) runs one *job* per combination of the ``key=a,b,c`` overrides. A job runs one simulation
(a grid sweep) or a chunk of design points (``design=lhs|random|morris|sobol``) and writes each
run to ``SWEEP_DIR/runs/<run_id>.parquet`` (+ JSON sidecar) through :mod:`runstore`, skipping runs
already finished, so rerunning the same command resumes.

In the driver, :class:`SweepCallback` runs before the launcher starts anything: it expands the
sweep, builds and validates every run's parameters (an out-of-range value, a bad combination or a
bad design point stops the sweep before any run starts), computes every run_id, takes the sweep
folder's lock (``store.folder_lock``: a second sweep, compare or run into the folder is refused,
naming the holder, instead of replacing ``sweep.json`` under the first), checks every finished
run file against its run_id (a file copied or swapped from another run is reported and run
again), records the plan in ``SWEEP_DIR/sweep.json`` (and ``design.csv``), removes stale temp
files, and shows progress by watching the store, which works for every launcher (joblib,
submitit, Ray). The jobs write their runs under the per-run locks of :mod:`runstore`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import multiprocessing as mp
import os
import random
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

from peerwell.simulation.errors import ConfigError, PeerwellError
from peerwell.simulation.params import ModelParams

from . import design as dz
from .config import RunConfig, register_configs
from .hydra_guard import WRITE_ERRORS, OutputWriteError
from .models import get_model
from .runstore import clean_store, ensure_run, finished_run_ids, repair_runs, runs_dir
from .store import FolderBusy, acquire_folder, atomic_write_bytes, atomic_write_json, release_folder

log = logging.getLogger("peerwell.sweep")
CONF = "pkg://peerwell.conf"
MODEL_KEYS = {f.name for f in dataclasses.fields(ModelParams)}


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


def run_job(cfg: DictConfig) -> dict[str, str]:
    """One Hydra job: run (or skip, when finished) the job's runs into the sweep's store.

    Returns
    -------
    dict
        ``{run_id: "ran" | "done"}``.
    """
    _exit_with_the_driver()
    hc = HydraConfig.get()
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
    status = {}
    for point, values in points:
        obj = hook.with_values(base, values)
        rid = hook.run_id(obj)
        if planned is not None and rid not in planned:
            # The driver planned other runs: a config file or the model's parameters changed
            # between planning and this job (e.g. a scenario edited while a cluster queue waited).
            raise PlanMismatch(
                f"job {' '.join(hc.overrides.task)} made run {rid}, which is not in the sweep's "
                f"plan ({sweep_dir}/sweep.json): the code or a config file changed after the "
                "sweep started; rerun the command"
            )

        def compute(obj=obj, point=point, values=values):
            seed_everything(int(hook.describe(obj)["seed"]))
            df, meta = hook.run(obj)
            meta = dict(meta)
            meta["sweep"] = {
                "design": spec.kind if spec else "grid",
                "point": point,
                "values": values,
                "overrides": list(hc.overrides.task),
                "job_dir": hc.runtime.output_dir,
                "launcher": hc.runtime.choices.get("hydra/launcher"),
            }
            return df, meta

        with _BUSY:
            try:
                status[rid] = ensure_run(sweep_dir, rid, compute)
            except OSError as exc:
                if exc.errno not in WRITE_ERRORS:
                    raise
                # A full disk, a file-size limit or a read-only store: one clear line in the
                # driver (the run's temp file is gone; finished runs are untouched).
                raise OutputWriteError(
                    f"cannot write run {rid} into {runs_dir(sweep_dir)}: "
                    f"{exc.strerror or exc}. Free some space (or give another "
                    "hydra.sweep.dir=...) and rerun the same command to resume"
                ) from None
    return status


@hydra.main(version_base="1.3", config_path=CONF, config_name="sweep")
def _sweep_main(cfg: DictConfig) -> dict[str, str]:
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
        _release_driver_lock()


# The sweep folder whose lock this process's driver holds (one sweep at a time per process).
_DRIVER_LOCK: list[Path] = []


def _release_driver_lock() -> None:
    while _DRIVER_LOCK:
        release_folder(_DRIVER_LOCK.pop())


# ---------------------------------------------------------------------------------------------
# The driver side: plan and validate the whole sweep before the launcher starts a job.


@dataclass
class SweepPlan:
    """Every run a sweep will produce, computed in the driver before any job starts."""

    sweep_dir: Path
    jobs: list[list[str]]
    runs: list[dict]  # {"run_id", "job", "point"}
    swept: list[str]  # keys given several values (and sampled parameters)
    spec: dz.DesignSpec | None
    model: str

    @property
    def run_ids(self) -> set[str]:
        return {r["run_id"] for r in self.runs}


def _typed(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _job_context(job: list[str], point: int | None) -> str:
    where = " ".join(job) or "(no overrides)"
    return f"job `{where}`" + (f", design point {point}" if point is not None else "")


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

    by_string: dict[str, Any] = {}
    bases: dict[tuple[str, ...], tuple[DictConfig, Any]] = {}
    typed: dict[tuple[tuple[str, ...], str], Any] = {}
    runs: list[dict] = []
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
        for point, pvals in pts:
            try:
                obj = hook.with_values(job_base, {**values, **pvals})
            except PeerwellError as exc:
                raise ConfigError(f"{_job_context(job, point)}: {exc}") from None
            runs.append({"run_id": hook.run_id(obj), "job": j, "point": point})
    return SweepPlan(sweep_dir, jobs, runs, list(dict.fromkeys(swept)), spec, hook.name)


def write_plan(plan: SweepPlan, task_overrides: list[str]) -> None:
    """Record the plan in ``sweep.json`` (and the design matrix in ``design.csv``)."""
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
    atomic_write_json(plan.sweep_dir / "sweep.json", record)


class _Progress:
    """A progress bar fed by watching the store: the same for every launcher."""

    def __init__(self, sweep_dir: Path, expected: set[str]):
        from tqdm import tqdm

        self.sweep_dir, self.expected = sweep_dir, expected
        self.start_done = len(expected & finished_run_ids(sweep_dir))
        self.t0 = time.perf_counter()
        self.bar = tqdm(
            total=len(expected),
            initial=self.start_done,
            desc="sweep",
            unit="run",
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
            dynamic_ncols=True,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _count(self) -> int:
        return len(self.expected & finished_run_ids(self.sweep_dir))

    def _watch(self) -> None:
        # Without a terminal (a log file, a cluster's batch job), a line at most every 30 s when
        # the count has moved, instead of a bar.
        last_line, last_n = time.perf_counter(), self.start_done
        while not self._stop.wait(0.5):
            with contextlib.suppress(OSError):
                n = self._count()
                if not self.bar.disable:
                    self.bar.n = n
                    self.bar.refresh()
                elif n != last_n and time.perf_counter() - last_line >= 30:
                    log.info("sweep progress: %d of %d runs in the store", n, len(self.expected))
                    last_line, last_n = time.perf_counter(), n

    def close(self) -> tuple[int, int, float]:
        self._stop.set()
        self._thread.join(timeout=2)
        done = self._count()
        self.bar.n = done
        self.bar.close()
        return done, self.start_done, time.perf_counter() - self.t0


_VALIDATED_JOBS: set[tuple[str, ...]] = set()


def _skip_validated(self, batch) -> None:
    """Hydra's batch check, minus the jobs :func:`plan_sweep` has already validated.

    Hydra's sweeper composes every job's config in the driver before launching (about 0.2 s per
    job, one after another: over three minutes before the first run of a 1000-run sweep starts).
    The plan has composed each scenario/network combination and checked every job's values, so
    only jobs outside the plan (none, in practice) go through Hydra's check.
    """
    rest = [job for job in batch if tuple(job) not in _VALIDATED_JOBS]
    if rest:
        _HYDRA_VALIDATE(self, rest)


def _install_validation_shortcut(plan: SweepPlan) -> None:
    global _HYDRA_VALIDATE
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    _VALIDATED_JOBS.clear()
    _VALIDATED_JOBS.update(tuple(job) for job in plan.jobs)
    if BasicSweeper.validate_batch_is_legal is not _skip_validated:
        _HYDRA_VALIDATE = BasicSweeper.validate_batch_is_legal
        BasicSweeper.validate_batch_is_legal = _skip_validated


_HYDRA_VALIDATE = None


class SweepCallback(Callback):
    """Driver-side hooks of `peerwell sweep` (configured in ``conf/sweep.yaml``)."""

    def __init__(self) -> None:
        self.plan: SweepPlan | None = None
        self.progress: _Progress | None = None

    def __getstate__(self) -> dict:
        # Launchers pickle Hydra's context, callbacks included, to every job: the driver's plan
        # and progress thread stay in the driver.
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from .cli import fail

        try:
            self.plan = plan_sweep(config)
        except PeerwellError as exc:
            fail(str(exc))
        plan = self.plan
        if not plan.runs:
            fail("the sweep has no runs")
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
            runs_dir(plan.sweep_dir).mkdir(parents=True, exist_ok=True)
            repaired = repair_runs(plan.sweep_dir, plan.run_ids)
        except OSError as exc:
            fail(f"cannot write to the sweep directory {plan.sweep_dir}: {exc.strerror or exc}")
        for name, what in repaired:
            print(f"peerwell: runs/{name} {what}", file=sys.stderr, flush=True)
        _install_validation_shortcut(plan)
        self.progress = _Progress(plan.sweep_dir, plan.run_ids)
        log.info(
            "sweep of %d runs in %d jobs into %s (%d already finished)",
            len(plan.run_ids),
            len(plan.jobs),
            runs_dir(plan.sweep_dir).resolve(),
            self.progress.start_done,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from .cli import fail

        plan = self.plan
        if plan is None or self.progress is None:
            return
        done, before, seconds = self.progress.close()
        clean_store(plan.sweep_dir)
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
