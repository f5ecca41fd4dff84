"""Replicated runs into the result store: seeds, reuse of finished runs, parallel execution.

Each planned run is stored as ``runs/<run_id>.parquet`` (written atomically by the worker that
ran it, through ``store.py``, under the run's lock in ``.locks/``, the sweep store's protocol:
so a sweep's or ``collect``'s clean-up never takes a comparison's temp file for a dead one).
Before running, finished files are read back and reused; a file that cannot be read, or that
belongs to another run (by the run_id recorded in it or by its rows), is run again (and said
so). Runs execute in parallel on all cores with joblib's loky backend; each worker runs its
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

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from tqdm import tqdm

from peerwell.scenarios.experiments.runner import simulate
from peerwell.scenarios.experiments.runstore import clean_store, run_lock
from peerwell.scenarios.experiments.store import (
    atomic_write_parquet,
    read_metadata,
    read_verified,
    run_id,
)
from peerwell.simulation.errors import PeerwellError
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

    Replicate r of every scenario gets the same seed, so the scenarios see common random numbers.

    Raises
    ------
    ValueError
        ``root_seed`` is negative or ``replicates`` is below 1.
    """
    if replicates < 1:
        raise ValueError(f"replicates={replicates}: need at least 1")
    if root_seed < 0:
        raise ValueError(f"root seed {root_seed} must be a non-negative integer")
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
    planned = []
    for scenario, params in base.items():
        for r, seed in enumerate(seeds):
            p = replace(params, seed=int(seed))
            rid = run_id(p)
            planned.append(PlannedRun(scenario, r, p, rid, runs_dir / f"{rid}.parquet"))
    return planned


def read_run(path: Path, expected_run_id: str, steps: int) -> pd.DataFrame:
    """Read a stored run and check it is the whole of the expected run.

    Raises
    ------
    ValueError
        The file is unreadable, or holds another run, or stops before day ``steps``.
    """
    try:
        df = read_verified(path)
    except Exception as exc:  # pyarrow raises several types for truncated or garbled files
        raise ValueError(f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if "run_id" not in df.columns or "step" not in df.columns or df.empty:
        raise ValueError("not a peerwell run file (no run_id/step columns or no rows)")
    ids = set(df["run_id"].unique())
    if ids != {expected_run_id}:
        raise ValueError(f"holds run(s) {sorted(ids)}, expected {expected_run_id}")
    recorded = read_metadata(path).get("run_id")
    if recorded not in (None, expected_run_id):
        raise ValueError(f"records run_id {recorded} in its metadata, expected {expected_run_id}")
    if int(df["step"].max()) != steps:
        raise ValueError(f"ends on day {int(df['step'].max())}, expected day {steps}")
    return df


def _run_and_store(
    params: ModelParams, expected_run_id: str, path: str, threads: int | None
) -> tuple[str, pd.DataFrame]:
    """Worker: run one simulation and write it atomically (so a killed driver loses nothing).

    The write happens under the run's lock (``<output_dir>/.locks/<run_id>.lock``): clean-ups
    take a temp file whose lock is free for a dead writer's. A run some other writer finished
    while this one waited for the lock (a killed comparison's last worker) is read, not rerun.

    Raises
    ------
    PeerwellError
        The worker computes another run_id than the driver planned: the installed peerwell
        changed while the comparison was running (a worker imported the new code).
    """
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    target = Path(path)
    with run_lock(target.parent.parent, expected_run_id):
        if target.exists():
            with contextlib.suppress(ValueError):
                return expected_run_id, read_run(target, expected_run_id, params.steps)
        result = simulate(params)
        if result.run_id != expected_run_id:
            raise PeerwellError(
                f"run {expected_run_id} came back as {result.run_id}: the peerwell code changed "
                "while this comparison was running; run the same command again"
            )
        atomic_write_parquet(target, result.trajectories, result.meta)
    return result.run_id, result.trajectories


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
            except ValueError as exc:
                notify(f"runs/{pr.path.name} is damaged ({exc}): running it again")
                pr.path.unlink(missing_ok=True)
                pr.status = "rerun"
        todo.append(pr)
    bar = tqdm(total=len(planned), initial=len(out), desc=desc, unit="run", disable=not progress)
    try:
        workers = min(effective_n_jobs(n_jobs), len(todo))
        if workers <= 1:
            for pr in todo:
                rid, df = _run_and_store(pr.params, pr.run_id, str(pr.path), None)
                out[rid] = df
                pr.status = "ran" if pr.status == "planned" else pr.status
                bar.update(1)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            by_id = {pr.run_id: pr for pr in todo}
            jobs = (
                delayed(_run_and_store)(pr.params, pr.run_id, str(pr.path), threads) for pr in todo
            )
            parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
            results = None
            try:
                # Inside the try: an interrupt while the workers start must stop them too.
                results = parallel(jobs)
                for rid, df in results:
                    out[rid] = df
                    pr = by_id[rid]
                    pr.status = "ran" if pr.status == "planned" else pr.status
                    bar.update(1)
            except BaseException:
                # The workers first, at once: joblib's abort (results.close) waits on them, and
                # a worker inside a compiled kernel does not answer until the kernel returns.
                _kill_workers()
                if results is not None:
                    results.close()
                raise
    finally:
        bar.close()
    return out
