"""Run one simulation and write its outputs (the `peerwell run` job).

A run's folder has one writer at a time: :func:`write_run` holds the folder's lock
(``store.folder_lock``), and the ``peerwell run`` command takes it earlier, in
:class:`RunCallback`, before Hydra writes anything into the folder. The callback also keeps
Hydra's ``.hydra/`` files back until the run has finished, so they always describe the data
beside them: a run refused for a bad value, refused for a busy folder, failed or killed leaves a
finished folder's ``.hydra/config.yaml`` as it was.

Without ``output_dir=``, a run goes to ``outputs/<scenario>/<run_id>`` (:func:`output_folder`,
filled in by the callback before Hydra creates the folder): a run that differs in any value gets
a folder of its own, so results never silently replace those of another config. A folder given
with ``output_dir=`` is written as given; when it held a run of another config, a note on stderr
says which run was replaced.

(The model is imported inside :func:`simulate`: Hydra imports this module for the callback, and a
wrong value must be refused before Mesa and Numba load.)
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from tqdm import tqdm

from peerwell.scenarios.config import DEFAULT_OUTPUT_DIR
from peerwell.scenarios.experiments.store import (
    FolderBusy,
    acquire_folder,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    canonical_config,
    folder_lock,
    provenance,
    release_folder,
    remove_stale_temp_files,
    run_id,
)
from peerwell.scenarios.hydra_guard import OutputFolderError
from peerwell.simulation.params import ModelParams


@dataclass
class RunResult:
    """One finished run: its trajectories, its communities' and groups' tables and everything
    needed to reproduce it. ``communities`` is one row per community per recorded day
    (``run_id``, ``scenario``, ``seed``, then ``recorder.COMMUNITY_COLUMNS``), ``groups`` one row
    per group of ``recorder.GROUPS`` per recorded day (the same three, then
    ``recorder.GROUP_COLUMNS``); None for a result made without them."""

    run_id: str
    trajectories: pd.DataFrame
    meta: dict
    communities: pd.DataFrame | None = None
    groups: pd.DataFrame | None = None  # every group on every recorded day (groups.parquet)


# The logger of the model's modules (network files read with repairs or gaps, ...): what they
# warn about is recorded with the run.
SIMULATION_LOGGER = "peerwell.simulation"


class _Collector(logging.Handler):
    """Keeps the warnings of this thread's run (other threads may run models at the same time)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def collected_warnings(*, echo: bool = True) -> Iterator[list[str]]:
    """The model's warnings while the block runs, as a list of messages.

    ``echo=False`` keeps them from the logging handlers above (Hydra's, which print to stdout in
    their own format): the caller reports them itself.
    """
    logger = logging.getLogger(SIMULATION_LOGGER)
    handler, propagate = _Collector(), logger.propagate
    logger.addHandler(handler)
    if not echo:
        logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def simulate(
    params: ModelParams,
    *,
    progress: bool = False,
    timing: bool = False,
    echo_warnings: bool = True,
) -> RunResult:
    """Run the model for ``params.steps`` days.

    Parameters
    ----------
    params : ModelParams
        Validated parameters.
    progress : bool
        Show a progress bar (on a terminal).
    timing : bool
        Record the CPU time of each mechanism in ``meta["mechanism_seconds"]``.
    echo_warnings : bool
        Let the model's warnings reach the logging handlers too (they are always recorded in
        ``meta["warnings"]``); `peerwell run` prints them itself.

    Returns
    -------
    RunResult
        Trajectories and the communities' and groups' tables (every recorded day), each with
        ``run_id``, ``scenario`` and ``seed`` columns, and metadata (``groups``: the groups' rows
        of the last day; ``warnings``: what the model warned about, e.g. people in no tie of a
        network file).
    """
    from peerwell.simulation.model import PeerwellModel

    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    with collected_warnings(echo=echo_warnings) as warnings:
        model = PeerwellModel(params, timing=timing, agent_views=False)
    setup = time.perf_counter() - t0
    bar = tqdm(
        total=params.steps,
        desc=f"{params.scenario.name} seed {params.seed}",
        unit="day",
        disable=not progress,
        leave=False,
    )
    while model.running:
        model.step()
        bar.update(1)
    bar.close()
    rid = run_id(params)
    df = model.trajectories()
    df.insert(0, "run_id", rid)
    df.insert(1, "scenario", params.scenario.name)
    df.insert(2, "seed", params.seed)
    comm = model.community_table()
    comm.insert(0, "run_id", rid)
    comm.insert(1, "scenario", params.scenario.name)
    comm.insert(2, "seed", params.seed)
    groups = model.group_trajectories()
    groups.insert(0, "run_id", rid)
    groups.insert(1, "scenario", params.scenario.name)
    groups.insert(2, "seed", params.seed)
    last = comm[comm["step"] == comm["step"].max()]
    meta = {
        "run_id": rid,
        "seed": params.seed,
        "scenario": params.scenario.name,
        "config": canonical_config(params),
        "events_fired": [list(e) for e in model.events_fired],
        "started_at": started,
        "setup_seconds": round(setup, 4),
        "wall_time_seconds": round(time.perf_counter() - t0, 4),
        "people": params.population.size,
        "ties": model.graph.edges,
        "warnings": list(warnings),
        # Kept with every stored run (a comparison reads them back from its run files): each
        # group's outcomes and each community's members, on the last day only (the metadata
        # travels in every file's footer: it stays small).
        "groups": _records(
            groups.loc[groups["step"] == groups["step"].max()].drop(
                columns=["run_id", "scenario", "seed"]
            )
        ),
        "communities_end": _records(
            last[["community", "platform", "members"]].astype({"community": str, "platform": str})
        ),
        **provenance(),
    }
    if timing:
        meta["mechanism_seconds"] = {k: round(v, 4) for k, v in model.timer.seconds.items()}
    return RunResult(run_id=rid, trajectories=df, meta=meta, communities=comm, groups=groups)


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-safe dicts (NaN, for an empty group's means, as null)."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in df.to_dict("records")
    ]


OUTPUT_HINT = "give another output_dir=..."


def output_folder(output_dir: str | Path, params: ModelParams) -> Path:
    """The folder a run writes into: ``output_dir``, or for the default, ``outputs/<scenario>/
    <run_id>`` with this run's scenario and run_id filled in (see the module doc)."""
    if str(output_dir) != DEFAULT_OUTPUT_DIR:
        return Path(output_dir)
    # A scenario of the user's own (--config-dir) may be named with anything: one folder name.
    name = re.sub(r"[^\w.-]", "_", params.scenario.name).strip(".") or "scenario"
    return Path("outputs") / name / run_id(params)


def note_replaced_run(folder: Path, new_run_id: str) -> None:
    """Say on stderr when ``folder`` holds a run of another config, which this run replaces."""
    try:
        old = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(old, str) and old != new_run_id:
        print(
            f"peerwell: note: {folder} holds run {old}, of another config; this run "
            f"({new_run_id}) replaces it. Leave out output_dir= to give every config a folder "
            "of its own (outputs/<scenario>/<run_id>)",
            file=sys.stderr,
            flush=True,
        )


def write_run(result: RunResult, out_dir: str | Path, *, figure: bool = True) -> Path:
    """Write ``trajectories.parquet``, ``communities.parquet`` and ``groups.parquet`` (when the
    result has them),
    ``run.json`` and ``trajectories.png`` into ``out_dir``.

    Holds the folder's lock while writing (``peerwell run`` already holds it, from before Hydra
    wrote anything).

    Raises
    ------
    PeerwellError
        ``FolderBusy`` (from ``peerwell.scenarios.experiments.store``): another command is writing into
        ``out_dir``; nothing is written.
    OSError
        The folder cannot be written.
    """
    out = Path(out_dir)
    with folder_lock(out, hint=OUTPUT_HINT):
        remove_stale_temp_files(out)  # of a `peerwell run` killed mid-write
        atomic_write_parquet(out / "trajectories.parquet", result.trajectories, result.meta)
        if result.communities is not None:
            atomic_write_parquet(out / "communities.parquet", result.communities, result.meta)
        if result.groups is not None:
            atomic_write_parquet(out / "groups.parquet", result.groups, result.meta)
        atomic_write_json(out / "run.json", result.meta)
        if figure:
            # Drawn in memory, then written like the data (temp file, rename): a full disk cannot
            # leave a truncated figure in place of the previous one, and a kill while drawing
            # (the slow part) leaves no temp file.
            from peerwell.analysis.plots import plot_trajectories, png_bytes  # seaborn: late

            fig = plot_trajectories(result.trajectories)
            atomic_write_bytes(out / "trajectories.png", png_bytes(fig))
    return out


# ---------------------------------------------------------------------------------------------
# `peerwell run` under Hydra: accept the run before anything is written

# The folders each unfinished `peerwell run` of this process holds the lock of. A run gives them
# back at its end (on_run_end). A run that fails through `fail()` (SystemExit, which Hydra lets
# pass without on_run_end) exits its process, which drops them; an in-process caller that goes
# on (a test, a notebook) gets them back when the failed run is freed, or at the next run's start
# (Hydra runs one run at a time in a process).
_OPEN_RUNS: list[list[Path]] = []


def _give_back(folders: list[Path]) -> None:
    while folders:
        release_folder(folders.pop())


def _task_config(config: DictConfig) -> DictConfig:
    """The run's own config (without the ``hydra`` node), as Hydra passes it to the task."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


class RunCallback(Callback):
    """Hydra hooks of ``peerwell run`` (configured in ``conf/config.yaml``).

    Before Hydra creates the run folder, writes its log or ``.hydra/``, the run is accepted:
    its values are validated (a bad value is refused with nothing written) and the folder's lock
    is taken (a busy folder is refused, naming the holder). Hydra's ``.hydra/`` files are then
    held back and written only when the run has finished, after its data.
    """

    def __init__(self) -> None:
        self.hydra_dir: Path | None = None
        self.subdir: str | None = None
        self.locks: list[Path] = []
        weakref.finalize(self, _give_back, self.locks)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Validate the run and take its folders' locks before Hydra writes anything.

        Raises
        ------
        ConfigError
            A refused value, or an output folder that cannot be written (nothing is written).
        FolderBusy
            Another command is writing into an output folder.
        """
        from peerwell.scenarios.config import params_from_cfg

        while _OPEN_RUNS:  # of runs before this one in this process that failed
            _give_back(_OPEN_RUNS.pop())
        params = params_from_cfg(_task_config(config))
        if str(config.output_dir) == DEFAULT_OUTPUT_DIR:
            # Before Hydra makes hydra.run.dir (${output_dir}): the run's own folder.
            with read_write(config):
                config.output_dir = str(output_folder(DEFAULT_OUTPUT_DIR, params))
        folders = {Path(str(config.output_dir)), Path(str(config.hydra.run.dir))}
        _OPEN_RUNS.append(self.locks)
        try:
            for folder in sorted({f.expanduser().absolute() for f in folders}):
                self.locks.append(acquire_folder(folder, hint=OUTPUT_HINT))
        except FolderBusy:
            _give_back(self.locks)
            raise
        except OSError as exc:
            _give_back(self.locks)
            raise OutputFolderError(
                f"cannot write results to {str(config.output_dir)!r}: {exc.strerror or exc}"
            ) from None
        note_replaced_run(Path(str(config.output_dir)).expanduser(), run_id(params))
        subdir = config.hydra.output_subdir
        if subdir is not None:
            self.subdir = str(subdir)
            self.hydra_dir = Path(str(config.hydra.run.dir)).expanduser().absolute() / str(subdir)
            with read_write(config.hydra):
                config.hydra.output_subdir = None  # Hydra writes none; on_run_end does

    def on_run_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        try:
            if self.hydra_dir is not None and getattr(job_return, "status", None) == (
                JobStatus.COMPLETED
            ):
                self._write_hydra_files(job_return)
        finally:
            _give_back(self.locks)

    def _write_hydra_files(self, job_return: Any) -> None:
        """Hydra's three files, as Hydra writes them, each atomically."""
        hydra_cfg = copy.deepcopy(job_return.hydra_cfg)
        with read_write(hydra_cfg.hydra):
            hydra_cfg.hydra.output_subdir = self.subdir  # as if Hydra had written them
        files = {
            "config.yaml": job_return.cfg,
            "hydra.yaml": hydra_cfg,
            "overrides.yaml": OmegaConf.create(list(job_return.overrides or [])),
        }
        try:
            self.hydra_dir.mkdir(parents=True, exist_ok=True)
            for name, cfg in files.items():
                atomic_write_bytes(self.hydra_dir / name, OmegaConf.to_yaml(cfg).encode())
        except OSError as exc:
            raise OutputFolderError(
                f"cannot write {self.hydra_dir}: {exc.strerror or exc}. The run's results are "
                f"written, but its .hydra/ files are not: free some space and run it again"
            ) from None
