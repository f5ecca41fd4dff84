"""Replicated runs into the result store: seeds, reuse of finished runs, parallel execution.

- **Seeds** (:func:`replicate_seeds`): the one policy by which every command (``compare``,
  ``calibrate``, ``validate``, the dashboard) turns a root seed into its replicates' seeds.
- **The store**: each planned run is stored as ``runs/<run_id>.parquet`` by the worker that ran
  it, through the store's one writer (``store.ensure_run``, under the run's lock in
  ``.locks/``, as a sweep's jobs write: so a sweep's or ``collect``'s clean-up never takes a
  comparison's temp file for a dead one). Before running, finished files are read back and
  reused (``store.read_run``); a file that cannot be read, or that belongs to another run (by
  the run_id recorded in it or by its rows), is run again (and said so).
- **Parallel execution** (:func:`run_parallel`, the one joblib runner, which ``calibrate`` uses
  too): calls run in parallel on all cores with joblib's loky backend; each worker runs its
  Numba kernels on its share of the cores, so workers do not fight over threads. An interrupt
  (SIGINT, or SIGTERM turned into one by :func:`signals_interrupt`) kills the workers at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from tqdm import tqdm

from peerwell.scenarios.experiments.runner import simulate
from peerwell.scenarios.experiments.store import (
    RunFileError,
    clean_store,
    ensure_run,
    read_run,
    run_file,
    run_id,
)
from peerwell.simulation.errors import ConfigError, PeerwellError
from peerwell.simulation.params import ModelParams


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like SIGINT's KeyboardInterrupt, so that clean-up runs
    (the workers are killed, the folder's lock is given back) before the process ends."""


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    By default SIGTERM ends Python without running any clean-up, which left a comparison's loky
    workers (and their resource tracker) running for minutes after their driver was gone. Only
    the main thread can take signals: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _kill_workers() -> None:
    """Kill the loky workers now (joblib's abort does too; this also covers an interrupt that
    arrives between two results, outside joblib's frames)."""
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is None:
        return
    # SIGKILL each worker by its pid before asking the executor to shut down: the shutdown's
    # own kill runs in its manager thread, which an interrupted driver may never get to run.
    for pid in list(getattr(executor, "_processes", None) or {}):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        executor.shutdown(wait=True, kill_workers=True)


def replicate_seeds(root_seed: int, replicates: int) -> list[int]:
    """Seeds of replicates 0..replicates-1: ``SeedSequence(root_seed).spawn``, one 63-bit int each.

    The one seed policy of every command that runs replicates. Replicate r of every scenario
    gets the same seed, so the scenarios see common random numbers; replicate r's seed depends
    on ``root_seed`` and r only, not on how many replicates are asked for.

    Raises
    ------
    ConfigError
        ``root_seed`` is negative or ``replicates`` is below 1.
    """
    if replicates < 1:
        raise ConfigError(f"replicates={replicates}: need at least 1")
    if root_seed < 0:
        raise ConfigError(f"root seed {root_seed} must be a non-negative integer")
    children = np.random.SeedSequence(root_seed).spawn(replicates)
    # 63 bits: ModelParams.seed allows up to 2**63 - 1.
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


@dataclass
class PlannedRun:
    """One run of a replicated experiment: which scenario and replicate, its params and file."""

    scenario: str
    replicate: int
    params: ModelParams
    run_id: str
    path: Path
    status: str = "planned"  # then: reused | ran | rerun (the file was unreadable)


def plan(base: dict[str, ModelParams], seeds: Sequence[int], runs_dir: Path) -> list[PlannedRun]:
    """Every (scenario, replicate) run: the scenario's params with the replicate's seed.

    Parameters
    ----------
    base : dict
        Scenario name to its validated params (the seed is replaced per replicate).
    seeds : sequence of int
        One seed per replicate.
    runs_dir : Path
        Where ``<run_id>.parquet`` files live.
    """
    return plan_replicates([base] * len(seeds), seeds, runs_dir)


def plan_replicates(
    bases: Sequence[dict[str, ModelParams]], seeds: Sequence[int], runs_dir: Path
) -> list[PlannedRun]:
    """Every (scenario, replicate) run, where replicate r has params of its own.

    As :func:`plan`, but replicate r of each scenario runs ``bases[r][scenario]`` with
    ``seeds[r]`` (``compare posterior=``: replicate r's parameter draw, the same in every
    scenario). Runs are ordered scenario by scenario, as :func:`plan`'s.
    """
    if len(bases) != len(seeds):
        raise ValueError(f"{len(bases)} replicates' params for {len(seeds)} seeds")
    planned = []
    for scenario in bases[0] if bases else {}:
        for r, seed in enumerate(seeds):
            p = replace(bases[r][scenario], seed=int(seed))
            rid = run_id(p)
            planned.append(PlannedRun(scenario, r, p, rid, runs_dir / f"{rid}.parquet"))
    return planned


def _run_and_store(params: ModelParams, expected_run_id: str, store_dir: str) -> pd.DataFrame:
    """Worker: run one simulation into the store (atomically: a killed driver loses nothing).

    Through the store's one writer, under the run's lock: clean-ups take a temp file whose lock
    is free for a dead writer's, and a run some other writer finished while this one waited for
    the lock (a killed comparison's last worker) is read, not rerun.

    Raises
    ------
    PeerwellError
        The worker computes another run_id than the driver planned: the installed peerwell
        changed while the comparison was running (a worker imported the new code).
    """
    ran: list[pd.DataFrame] = []

    def compute() -> tuple[pd.DataFrame, dict]:
        result = simulate(params)
        if result.run_id != expected_run_id:
            raise PeerwellError(
                f"run {expected_run_id} came back as {result.run_id}: the peerwell code changed "
                "while this comparison was running; run the same command again"
            )
        ran.append(result.trajectories)
        return result.trajectories, result.meta

    ensure_run(store_dir, expected_run_id, compute, sidecar=False)
    if ran:
        return ran[0]
    return read_run(run_file(store_dir, expected_run_id), expected_run_id)


def _call_in_worker(func: Callable[..., Any], index: int, args: tuple, threads: int | None):
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return index, func(*args)


def run_parallel(
    func: Callable[..., Any], calls: Sequence[tuple], *, n_jobs: int = -1
) -> Iterator[tuple[int, Any]]:
    """``func(*args)`` for every ``args`` of ``calls``; yields ``(index, result)`` as each ends.

    The one joblib runner of the experiments (``compare``, the dashboard's comparisons,
    ``calibrate``). With one worker (``n_jobs=1``, one call, or one core) the calls run in this
    process, in order. Otherwise they run in joblib's loky workers, in the order they finish;
    each worker runs its Numba kernels on its share of the cores. Close the iterator (or let an
    exception leave the loop that reads it, within ``contextlib.closing``) and the workers are
    killed at once.

    Parameters
    ----------
    func : callable
        A module-level function (the workers import it by name).
    calls : sequence of tuple
        The positional arguments of each call.
    n_jobs : int
        joblib's meaning: -1 all cores, 1 serial in this process.
    """
    workers = min(effective_n_jobs(n_jobs), len(calls))
    if workers <= 1:
        for i, args in enumerate(calls):
            yield i, func(*args)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    jobs = (delayed(_call_in_worker)(func, i, args, threads) for i, args in enumerate(calls))
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    results = None
    done = False
    try:
        # Inside the try: an interrupt while the workers start must stop them too.
        results = parallel(jobs)
        # Not `yield from`: that would close joblib's generator, which waits on the workers,
        # before the clean-up below has killed them.
        for item in results:  # noqa: UP028
            yield item
        done = True
    finally:
        if not done:
            # The workers first, at once: joblib's abort (results.close) waits on them, and a
            # worker inside a compiled kernel does not answer until the kernel returns.
            _kill_workers()
            if results is not None:
                results.close()


def execute(
    planned: list[PlannedRun],
    *,
    n_jobs: int = -1,
    progress: bool = True,
    notify: Callable[[str], None] = print,
    desc: str = "runs",
) -> dict[str, pd.DataFrame]:
    """Reuse finished runs and run the rest in parallel; return every run's trajectories.

    Parameters
    ----------
    planned : list of PlannedRun
        From :func:`plan`; ``status`` is set to ``reused``, ``ran`` or ``rerun``.
    n_jobs : int
        joblib's meaning: -1 all cores, 1 serial in this process.
    progress : bool
        Show a progress bar (on stderr).
    notify : callable
        Receives one-line messages (e.g. a damaged file being run again).
    desc : str
        Progress-bar label.

    Returns
    -------
    dict
        run_id to its trajectories.
    """
    out: dict[str, pd.DataFrame] = {}
    todo: list[PlannedRun] = []
    if planned:
        planned[0].path.parent.mkdir(parents=True, exist_ok=True)
        clean_store(planned[0].path.parent.parent)
    for pr in planned:
        if pr.path.exists():
            try:
                out[pr.run_id] = read_run(pr.path, pr.run_id, pr.params.steps)
                pr.status = "reused"
                continue
            except RunFileError as exc:
                notify(f"runs/{pr.path.name} is damaged ({exc}): running it again")
                pr.path.unlink(missing_ok=True)
                pr.status = "rerun"
        todo.append(pr)
    calls = [(pr.params, pr.run_id, str(pr.path.parent.parent)) for pr in todo]
    bar = tqdm(total=len(planned), initial=len(out), desc=desc, unit="run", disable=not progress)
    try:
        with contextlib.closing(run_parallel(_run_and_store, calls, n_jobs=n_jobs)) as results:
            for i, df in results:
                pr = todo[i]
                out[pr.run_id] = df
                pr.status = "ran" if pr.status == "planned" else pr.status
                bar.update(1)
    finally:
        bar.close()
    return out
