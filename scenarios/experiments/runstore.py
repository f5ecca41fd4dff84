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
  at the start and the end of every sweep (and by ``compare`` and ``collect``), for runs whose
  lock is free: no live process can be writing them then. So when a rerun has finished, no temp
  file is left, even if workers of the killed sweep were still finishing runs while it ran (the
  rerun waited for their locks). ``compare``'s workers take the same locks, so a sweep or a
  ``collect`` never deletes a file a comparison is writing.
- **Finished** means the Parquet file's footer reads and it is the run its name says: the run_id
  recorded in it and the run_id of its rows are the file's (``store.run_file_problem``), and its
  JSON sidecar names the same run. A truncated file, or one copied or swapped from another run,
  is rerun; a sidecar that names another run is rewritten from the Parquet file's metadata.
- **An index of checked runs** (``SWEEP_DIR/.runs-index.json``): checking a finished file reads
  its footer and sidecar, about a millisecond a run, which made resuming a large finished sweep
  slow. The index records, for every run checked (by the driver, or written by a job), the
  identity of its two files as ``stat`` gives it (inode, size, modification and change times).
  A file whose identity is still the recorded one is the file that was checked: any rewrite,
  copy over it or rename onto it changes its change time, which no user can set. Every other
  file is checked as before. The index is only ever a shortcut: a lost or damaged index costs a
  full check, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from peerwell.scenarios.experiments.store import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    read_metadata,
    remove_stale_temp_files,
    run_file_problem,
)

RUNS = "runs"
LOCKS = ".locks"
INDEX = ".runs-index.json"
INDEX_VERSION = 1


def runs_dir(sweep_dir: str | Path) -> Path:
    """Where a sweep's run files live."""
    return Path(sweep_dir) / RUNS


def run_file(sweep_dir: str | Path, rid: str) -> Path:
    return runs_dir(sweep_dir) / f"{rid}.parquet"


def sidecar_problem(path: str | Path, expected: str) -> str | None:
    """Why a run's JSON sidecar is not run ``expected``'s record; None when it is."""
    try:
        meta = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as exc:
        return f"unreadable ({type(exc).__name__})"
    recorded = meta.get("run_id") if isinstance(meta, dict) else None
    if recorded != expected:
        return f"holds the record of run {recorded}, not of run {expected}"
    return None


def _check_finished(folder: Path, rid: str) -> tuple[str | None, str | None]:
    """(problem of the Parquet file, problem of its sidecar), each None when it is right."""
    problem = run_file_problem(folder / f"{rid}.parquet", rid)
    if problem is not None:
        return problem, None
    return None, sidecar_problem(folder / f"{rid}.json", rid)


def _repair_sidecar(folder: Path, rid: str) -> None:
    # The sidecar is the Parquet file's metadata, written beside it for tools that read JSON.
    atomic_write_json(folder / f"{rid}.json", read_metadata(folder / f"{rid}.parquet"))


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


# Lock files this process holds. POSIX locks do not conflict within a process, and closing any
# descriptor of a locked file drops the process's lock on it: a non-blocking test of a lock that
# another thread of this process holds (a clean-up, beside a comparison of the dashboard) must
# not open the file, and says "taken".
_HELD_HERE: set[str] = set()
os.register_at_fork(after_in_child=_HELD_HERE.clear)  # a forked child holds no POSIX lock


@contextlib.contextmanager
def _lock(path: Path, blocking: bool) -> Iterator[bool]:
    key = os.path.abspath(path)
    if not blocking and key in _HELD_HERE:
        yield False
        return
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
        if acquired:
            _HELD_HERE.add(key)
        yield acquired
    finally:
        if acquired:
            _HELD_HERE.discard(key)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_lock(sweep_dir: str | Path, rid: str, blocking: bool = True):
    """Context manager holding the lock of one run; yields whether it was acquired."""
    return _lock(Path(sweep_dir) / LOCKS / f"{rid}.lock", blocking)


def ensure_run(
    sweep_dir: str | Path,
    rid: str,
    compute: Callable[[], tuple[pd.DataFrame, dict]],
    *,
    blocking: bool = True,
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
    blocking : bool
        Wait for the run's lock when another writer holds it. Without waiting, a held lock
        returns ``"busy"`` at once: a sweep's job then goes on with other runs and comes back.

    Returns
    -------
    str
        ``"done"`` when the run was already there, ``"ran"`` when it was computed now,
        ``"busy"`` (only when not ``blocking``) when another writer holds its lock.
    """
    folder = runs_dir(sweep_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rid}.parquet"
    with run_lock(sweep_dir, rid, blocking=blocking) as acquired:
        if not acquired:
            return "busy"
        # Holding the lock, nobody else is writing this run. Temp files a dead writer left are
        # removed by clean_store at the start and end of every sweep (not here: a scan of the
        # folder per run would make a large design quadratic).
        problem, sidecar = _check_finished(folder, rid)
        if problem is None:
            if sidecar is not None:
                _repair_sidecar(folder, rid)
            return "done"
        df, meta = compute()
        # The sidecar first, the Parquet file last: a run counts as finished when its Parquet
        # file exists, and then its sidecar exists too.
        atomic_write_json(folder / f"{rid}.json", meta)
        atomic_write_parquet(path, df, meta)
    return "ran"


# ---------------------------------------------------------------------------------------------
# The index of checked runs


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def run_identity(sweep_dir: str | Path, rid: str) -> list[int] | None:
    """The identity of run ``rid``'s two files (Parquet then sidecar); None if one is missing.

    A job takes it right after writing the run and reports it to the driver, which records it
    in the index without reading the files again.
    """
    folder = runs_dir(sweep_dir)
    try:
        return _identity(os.stat(folder / f"{rid}.parquet")) + _identity(
            os.stat(folder / f"{rid}.json")
        )
    except OSError:
        return None


def read_index(sweep_dir: str | Path) -> dict[str, list[int]]:
    """The index's entries (run_id to identity); empty when it is missing or unreadable."""
    try:
        data = json.loads((Path(sweep_dir) / INDEX).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        return {}
    runs = data.get("runs")
    if not isinstance(runs, dict):
        return {}
    return {k: v for k, v in runs.items() if isinstance(v, list) and len(v) == 8}


def write_index(sweep_dir: str | Path, entries: dict[str, list[int]]) -> None:
    """Replace the index (atomically; only the sweep's driver, which holds the folder, writes it)."""
    blob = json.dumps({"version": INDEX_VERSION, "runs": entries}, separators=(",", ":"))
    atomic_write_bytes(Path(sweep_dir) / INDEX, blob.encode())


def _scan_identities(sweep_dir: str | Path) -> tuple[dict[str, list[int]], set[str]]:
    """One pass over ``runs/``: the identity of every run with both files (run_id to identity),
    and the run_ids of Parquet files without a sidecar."""
    files: dict[str, list[int]] = {}
    try:
        entries = os.scandir(runs_dir(sweep_dir))
    except (FileNotFoundError, NotADirectoryError):
        return {}, set()
    with entries:
        for e in entries:
            if e.name.startswith(".") or not e.name.endswith((".parquet", ".json")):
                continue
            with contextlib.suppress(OSError):
                files[e.name] = _identity(e.stat())
    complete, alone = {}, set()
    for name, ident in files.items():
        if name.endswith(".parquet"):
            rid = name[: -len(".parquet")]
            sidecar = files.get(f"{rid}.json")
            if sidecar is None:
                alone.add(rid)
            else:
                complete[rid] = ident + sidecar
    return complete, alone


@dataclass
class StoreCheck:
    """What :func:`check_store` found."""

    finished: set[str] = field(default_factory=set)  # planned runs whole and theirs
    repaired: list[tuple[str, str]] = field(default_factory=list)  # (file, what was done)
    checked: int = 0  # runs whose files were read (the others were vouched for by the index)


def check_store(sweep_dir: str | Path, run_ids: Iterable[str]) -> StoreCheck:
    """Which of ``run_ids`` are finished, checking only the files the index does not vouch for.

    A run whose two files still have the identity the index recorded is finished without
    reading them. Every other run with a Parquet file is checked (``store.run_file_problem`` and
    its sidecar): a Parquet file that is not its run (truncated, or copied or swapped from
    another run) is deleted, so the sweep runs it again; a sidecar that names another run is
    rewritten from the Parquet file; a whole run is recorded in the index. Entries of files that
    changed or went are dropped. Runs whose lock is held (a writer is at them now) are left to
    that writer, which checks again under the lock.
    """
    folder = runs_dir(sweep_dir)
    wanted = set(run_ids)
    index = read_index(sweep_dir)
    present, alone = _scan_identities(sweep_dir)  # alone: no sidecar, rewritten below
    result = StoreCheck()
    kept = {rid: ident for rid, ident in index.items() if present.get(rid) == ident}
    for rid in sorted(wanted & (present.keys() | alone)):
        if rid in kept:
            result.finished.add(rid)
            continue
        result.checked += 1
        problem, sidecar = _check_finished(folder, rid)
        if problem is not None or sidecar is not None:
            with run_lock(sweep_dir, rid, blocking=False) as free:
                if not free:
                    continue
                problem, sidecar = _check_finished(folder, rid)  # again, now that it is ours
                if problem is not None:
                    (folder / f"{rid}.parquet").unlink(missing_ok=True)
                    (folder / f"{rid}.json").unlink(missing_ok=True)
                    result.repaired.append((f"{rid}.parquet", f"{problem}: running it again"))
                    continue
                if sidecar is not None:
                    _repair_sidecar(folder, rid)
                    result.repaired.append(
                        (f"{rid}.json", f"{sidecar}: rewritten from {rid}.parquet")
                    )
        result.finished.add(rid)
        ident = run_identity(sweep_dir, rid)
        if ident is not None:
            kept[rid] = ident
    if kept != index:
        write_index(sweep_dir, kept)
    return result


def record_runs(sweep_dir: str | Path, written: dict[str, list[int]]) -> int:
    """Add runs that jobs wrote (run_id to the identity they saw after writing) to the index.

    Only identities that are still the files' own are recorded: a file replaced since is
    checked on the next resume. Returns the number of runs added.
    """
    if not written:
        return 0
    index = read_index(sweep_dir)
    present, _ = _scan_identities(sweep_dir)
    added = {rid: i for rid, i in written.items() if present.get(rid) == i and index.get(rid) != i}
    if added:
        write_index(sweep_dir, {**index, **added})
    return len(added)


def clean_store(sweep_dir: str | Path) -> int:
    """Remove temp files no live writer owns, and unheld lock files. Returns files removed.

    In ``runs/`` a temp file is stale when its run's lock is free (every writer there, a sweep's
    job or a comparison's worker, holds it). Elsewhere in the folder (``sweep.json``,
    ``collected.*``, a comparison's ``summary.csv``) it is stale when its writer's pid is not
    alive on this host (those files are only written by a driver on the submitting host). Both
    rules are ``store.remove_stale_temp_files``'s.
    """
    sweep_dir = Path(sweep_dir)

    def lock_of(final: str):
        return run_lock(sweep_dir, final.split(".", 1)[0], blocking=False)

    removed = len(remove_stale_temp_files(runs_dir(sweep_dir), lock=lock_of))
    removed += len(remove_stale_temp_files(sweep_dir))
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
