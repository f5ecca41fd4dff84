"""A sweep's result store: ``SWEEP_DIR/runs/<run_id>.parquet`` (+ ``.json``), resumable.

Every run is written atomically by ``store.atomic_write_*`` (dot-named temp file, fsync,
``os.replace``). On top of that, this module makes a store safe for several writers at once and
for writers that die:

- **A lock per run** (``SWEEP_DIR/.locks/<run_id>.lock``, a POSIX ``lockf`` lock, which the
  kernel releases when its holder dies and which works on NFS). A job takes the lock, and only
  then checks whether the run is finished, so two jobs never compute the same run at once: when
  a killed sweep is rerun while the orphaned workers of the first one still finish their runs,
  the rerun waits for them instead of racing them.
- **Stale temp files** (from a writer killed between write and rename) are removed by the driver
  at the start and the end of every sweep, for runs whose lock is free: no live process can be
  writing them then. So when a rerun has finished, no temp file is left, even if workers of
  the killed sweep were still finishing runs while it ran (the rerun waited for their locks).
- **Finished** means the Parquet file exists and its footer reads; a truncated file is rerun.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .store import atomic_write_json, atomic_write_parquet

RUNS = "runs"
LOCKS = ".locks"
# store.atomic_write_bytes names its temp files ".<name>.tmp-<pid>".
TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def runs_dir(sweep_dir: str | Path) -> Path:
    """Where a sweep's run files live."""
    return Path(sweep_dir) / RUNS


def run_file(sweep_dir: str | Path, rid: str) -> Path:
    return runs_dir(sweep_dir) / f"{rid}.parquet"


def is_finished(path: str | Path) -> bool:
    """A run file exists and is a whole Parquet file (its footer reads)."""
    try:
        pq.read_metadata(path)
    except (OSError, ValueError):
        return False
    return True


def finished_run_ids(sweep_dir: str | Path) -> set[str]:
    """run_ids with a file in the store (not checked for corruption: cheap, for progress)."""
    folder = runs_dir(sweep_dir)
    if not folder.is_dir():
        return set()
    return {
        e.name[: -len(".parquet")]
        for e in os.scandir(folder)
        if e.name.endswith(".parquet") and not e.name.startswith(".")
    }


@contextlib.contextmanager
def _lock(path: Path, blocking: bool) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    acquired = False
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            acquired = True
        except OSError:
            if blocking:
                raise
        yield acquired
    finally:
        if acquired:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_lock(sweep_dir: str | Path, rid: str, blocking: bool = True):
    """Context manager holding the lock of one run; yields whether it was acquired."""
    return _lock(Path(sweep_dir) / LOCKS / f"{rid}.lock", blocking)


def ensure_run(
    sweep_dir: str | Path,
    rid: str,
    compute: Callable[[], tuple[pd.DataFrame, dict]],
) -> str:
    """Compute and store run ``rid`` unless it is already finished.

    Parameters
    ----------
    sweep_dir : path
        The sweep directory (the store is its ``runs/`` folder).
    rid : str
        The run's id (the file name).
    compute : callable
        Returns ``(trajectories, metadata)``; called only when the run is missing.

    Returns
    -------
    str
        ``"done"`` when the run was already there, ``"ran"`` when it was computed now.
    """
    folder = runs_dir(sweep_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rid}.parquet"
    with run_lock(sweep_dir, rid):
        # Holding the lock, nobody else is writing this run. Temp files a dead writer left are
        # removed by clean_store at the start and end of every sweep (not here: a scan of the
        # folder per run would make a large design quadratic).
        if is_finished(path):
            return "done"
        df, meta = compute()
        # The sidecar first, the Parquet file last: a run counts as finished when its Parquet
        # file exists, and then its sidecar exists too.
        atomic_write_json(folder / f"{rid}.json", meta)
        atomic_write_parquet(path, df, meta)
    return "ran"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_store(sweep_dir: str | Path) -> int:
    """Remove temp files no live writer owns, and unheld lock files. Returns files removed.

    In ``runs/`` a temp file is stale when its run's lock is free. Elsewhere in the sweep
    directory (``sweep.json``, ``collected.*``) it is stale when its writer's pid is not alive on
    this host (those files are only written by a driver on the submitting host).
    """
    sweep_dir = Path(sweep_dir)
    removed = 0
    folder = runs_dir(sweep_dir)
    if folder.is_dir():
        for entry in list(os.scandir(folder)):
            m = TEMP_RE.match(entry.name)
            if not m:
                continue
            rid = m["name"].rsplit(".", 1)[0]
            with run_lock(sweep_dir, rid, blocking=False) as free:
                if free:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
    if sweep_dir.is_dir():
        for entry in list(os.scandir(sweep_dir)):
            m = TEMP_RE.match(entry.name)
            if m and not _pid_alive(int(m["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    locks = sweep_dir / LOCKS
    if locks.is_dir():
        for entry in list(os.scandir(locks)):
            # Unlinking a lock file another process is about to open only costs a duplicate
            # check: a job re-checks "finished" after taking the lock, so this stays safe.
            with _lock(Path(entry.path), blocking=False) as free:
                if free:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
        with contextlib.suppress(OSError):
            locks.rmdir()
    return removed
