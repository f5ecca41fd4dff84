"""Run one simulation and write its outputs (the `peerwell run` job)."""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams

from .store import atomic_write_json, atomic_write_parquet, canonical_config, provenance, run_id


@dataclass
class RunResult:
    """One finished run: its trajectories and everything needed to reproduce it."""

    run_id: str
    trajectories: pd.DataFrame
    meta: dict


def simulate(params: ModelParams, *, progress: bool = False, timing: bool = False) -> RunResult:
    """Run the model for ``params.steps`` days.

    Parameters
    ----------
    params : ModelParams
        Validated parameters.
    progress : bool
        Show a progress bar (on a terminal).
    timing : bool
        Record the CPU time of each mechanism in ``meta["mechanism_seconds"]``.

    Returns
    -------
    RunResult
        Trajectories with ``run_id``, ``scenario`` and ``seed`` columns, and metadata.
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
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
        **provenance(),
    }
    if timing:
        meta["mechanism_seconds"] = {k: round(v, 4) for k, v in model.timer.seconds.items()}
    return RunResult(run_id=rid, trajectories=df, meta=meta)


# Temp files of the atomic writes below: ".trajectories.parquet.tmp-<pid>" (store.py) and
# ".trajectories.tmp-<pid>.png" (the figure, which needs its suffix to be drawn).
_STALE = re.compile(r"^\.(trajectories\.parquet|run\.json|trajectories)\.tmp-(\d+)(\.png)?$")


def _remove_stale_temp_files(out: Path) -> None:
    """Remove temp files left in ``out`` by a `peerwell run` that was killed mid-write."""
    for entry in os.scandir(out):
        m = _STALE.match(entry.name)
        if not m or int(m.group(2)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(2)), 0)
            continue  # its writer still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)


def write_run(result: RunResult, out_dir: str | Path, *, figure: bool = True) -> Path:
    """Write ``trajectories.parquet``, ``run.json`` and ``trajectories.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(out)
    atomic_write_parquet(out / "trajectories.parquet", result.trajectories, result.meta)
    atomic_write_json(out / "run.json", result.meta)
    if figure:
        # Drawn into a dot-named temp file and renamed, like the data: a full disk cannot leave
        # a truncated figure in place of the previous one.
        tmp = out / f".trajectories.tmp-{os.getpid()}.png"
        try:
            from peerwell.analysis.plots import plot_trajectories  # seaborn: only when writing

            plot_trajectories(result.trajectories, tmp)
            os.replace(tmp, out / "trajectories.png")
        finally:
            tmp.unlink(missing_ok=True)
    return out
