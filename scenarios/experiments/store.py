"""The result store: one Parquet file per run, named by run_id, written atomically.

A run is identified by ``run_id = hash(canonical scientific config + seed)``: not paths, not
launcher or output settings. Files are written to a dot-named temporary file in the same folder,
fsynced, then renamed with ``os.replace``, so readers never see a partial file and a killed
sweep or comparison resumes by skipping finished run_ids.

Every command that writes results writes through this one module:

- **Temp-file names** (:func:`temp_path`, :data:`TEMP_NAME`) and the one clean-up of temp files
  left by dead writers (:func:`remove_stale_temp_files`).
- **The folder lock** (:func:`folder_lock`): ``run``, ``compare`` and ``sweep`` hold
  ``<folder>/.peerwell.lock`` (``flock``) for their whole life, so a folder has one writer at a
  time; a second one is refused with the holder's pid and command line, before it writes
  anything. The kernel drops the lock when its holder dies, even by ``kill -9``.
- **The check of a finished run file** against the run_id its name says
  (:func:`run_file_problem`, and :func:`read_run`, which reads it too), on which every resume
  relies: a truncated file, or one copied or swapped from another run, is not finished.
- **The run store** of a sweep or a comparison, ``<folder>/runs/<run_id>.parquet`` (a sweep's
  with a JSON sidecar ``<run_id>.json``), written by its one writer :func:`ensure_run`:

  - *A lock per run* (``<folder>/.locks/<run_id>.lock``, a POSIX ``lockf`` lock, which the
    kernel releases when its holder dies and which works on NFS). A writer takes the lock, and
    only then checks whether the run is finished, so two writers never compute the same run at
    once: when a killed sweep is rerun while the orphaned workers of the first one still finish
    their runs, the rerun waits for them instead of racing them.
  - *Stale temp files* (from a writer killed between write and rename) are removed by
    :func:`clean_store` at the start and the end of every sweep and comparison (and by
    ``collect``), for runs whose lock is free: no live process can be writing them then. So a
    sweep or a ``collect`` never deletes a file a comparison is writing, nor the reverse.
  - *Finished* means the Parquet file is the run its name says (:func:`run_file_problem`) and,
    in a sweep's store, its JSON sidecar names the same run; a sidecar that names another run is
    rewritten from the Parquet file's metadata.
  - *An index of checked runs* (``<sweep>/.runs-index.json``): checking a finished file reads
    its footer and sidecar, about a millisecond a run, which made resuming a large finished
    sweep slow. The index records, for every run checked (by the driver, or written by a job),
    the identity of its two files as ``stat`` gives it (inode, size, modification and change
    times). A file whose identity is still the recorded one is the file that was checked: any
    rewrite, copy over it or rename onto it changes its change time, which no user can set.
    Every other file is checked as before. The index is only ever a shortcut: a lost or
    damaged index costs a full check, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import peerwell
from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.params import ModelParams


def canonical_config(params: ModelParams) -> dict:
    """The scientific config as plain data, keys sorted (what the run_id hashes)."""
    return json.loads(json.dumps(dataclasses.asdict(params), sort_keys=True, default=str))


@functools.cache
def model_fingerprint() -> str:
    """A hash of the model's source code (``simulation/*.py``).

    Part of the run_id: a stored run made by other model code is a different run, so a store is
    never silently reused across a change of the kernels (paths and launchers stay out of it).
    """
    import peerwell.simulation as sim

    h = hashlib.sha256()
    for path in sorted(Path(sim.__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_id(params: ModelParams) -> str:
    """A 16-hex-digit id of the scientific config, the seed and the model code."""
    blob = json.dumps(canonical_config(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((model_fingerprint() + blob).encode()).hexdigest()[:16]


def _read_ref(gitdir: Path, common: Path, ref: str) -> str | None:
    for base in (gitdir, common):
        if (base / ref).is_file():
            return (base / ref).read_text(encoding="ascii").strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="ascii").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def git_revision() -> str | None:
    """The source tree's git revision, when peerwell runs from a checkout.

    Read from the checkout's own files (``.git/HEAD``, its ref, ``packed-refs``; worktrees too),
    not by running ``git``: which program ``git`` is depends on the PATH a job runs with, and a
    run should not start programs to learn a hash. None when not a checkout or unreadable.
    """
    here = Path(__file__).resolve().parent
    dot = next((p / ".git" for p in (here, *here.parents) if (p / ".git").exists()), None)
    if dot is None:
        return None
    try:
        gitdir = dot
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir:"):
                return None
            gitdir = (dot.parent / text[len("gitdir:") :].strip()).resolve()
        common = gitdir
        if (gitdir / "commondir").is_file():
            common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        head = (gitdir / "HEAD").read_text(encoding="ascii").strip()
        sha = _read_ref(gitdir, common, head[4:].strip()) if head.startswith("ref:") else head
    except (OSError, UnicodeDecodeError):
        return None
    return sha if sha and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha) else None


def provenance() -> dict:
    """Versions and machine facts recorded with every result."""
    import mesa
    import numba
    import numpy

    return {
        "peerwell_version": peerwell.__version__,
        "model_fingerprint": model_fingerprint(),
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "machine": platform.machine(),
    }


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
    )


def atomic_write_parquet(path: Path, df: pd.DataFrame, metadata: dict | None = None) -> None:
    """Write a DataFrame as Parquet atomically, with ``metadata`` (JSON) in the file's schema."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"peerwell"] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    # Page checksums: a bit flipped on disk (or in a copy) makes the file unreadable rather than
    # silently wrong, for readers that verify them (``read_verified``, collect, compare).
    pq.write_table(table, sink, write_page_checksum=True)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_verified(path: Path) -> pd.DataFrame:
    """Read a Parquet file, verifying its page checksums (files written without them read too)."""
    return pd.read_parquet(path, page_checksum_verification=True)


def read_metadata(path: Path) -> dict:
    """The peerwell metadata stored in a Parquet file's schema."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"peerwell")
    return json.loads(raw) if raw else {}


# ---------------------------------------------------------------------------------------------
# Temp files: one name, one clean-up

# Every atomic write goes through a temp file ".<name>.tmp-<pid>" beside its final file <name>; a
# writer that must keep the final suffix (matplotlib picks a figure's format from it) uses
# ".<stem>.tmp-<pid><suffix>". Every clean-up reads the names with this one pattern.
TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.tmp-(?P<pid>\d+)(?P<suffix>\.[A-Za-z0-9]+)?$")


def temp_path(path: str | Path, *, keep_suffix: bool = False) -> Path:
    """Where this process writes ``path`` before renaming it into place."""
    path = Path(path)
    if keep_suffix and path.suffix:
        return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def temp_target(name: str) -> tuple[str, int] | None:
    """``(final file name, writer's pid)`` of a temp file's name; None for any other name."""
    m = TEMP_NAME.match(name)
    if m is None:
        return None
    return m["stem"] + (m["suffix"] or ""), int(m["pid"])


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie has stopped writing: not alive)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        # "pid (comm) S ...": the state follows the last ')' (comm may hold spaces or ')').
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def remove_stale_temp_files(
    folder: str | Path, lock: Callable[[str], contextlib.AbstractContextManager[bool]] | None = None
) -> list[Path]:
    """Delete the temp files in ``folder`` whose writer is gone; return those deleted.

    Parameters
    ----------
    folder : path
        The folder to clean (not its subfolders). A missing folder has nothing to clean.
    lock : callable, optional
        For a folder whose writers each hold a lock per file (a result store's ``runs/``): the
        final file name to a context manager that takes that lock without waiting and yields
        whether it got it. The writer is gone when the lock is free, which also holds for
        writers on other hosts, whose pids mean nothing here; the file is deleted while the lock
        is held, so no writer can start on it meanwhile. Without ``lock``, the writer is gone
        when its pid is not a live process on this host (those files are written by the one
        command that holds the folder's lock, on this host).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        parsed = temp_target(entry.name)
        if parsed is None:
            continue
        final, pid = parsed
        if pid == os.getpid():
            # This process's own write in progress (another thread's). Not even its lock is
            # tested: POSIX locks do not conflict within a process, and closing the test's file
            # descriptor would drop the lock the writer holds.
            continue
        if lock is None:
            if pid_alive(pid):
                continue
            free = contextlib.nullcontext(True)
        else:
            free = lock(final)
        with free as gone:
            if gone:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


# ---------------------------------------------------------------------------------------------
# The folder lock: one writer per output folder

LOCK_NAME = ".peerwell.lock"


class FolderBusy(PeerwellError):
    """Another peerwell command holds the folder's lock: it is writing there now."""


@dataclasses.dataclass
class _Held:
    fd: int | None  # None: the file system takes no locks, so there is nothing to hold
    path: Path
    pid: int
    thread: int  # the thread that took it: another thread of the process is another writer
    count: int = 1


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _forget_locks_in_child() -> None:
    # A forked child shares the parent's open lock files: closing its copies leaves the parent's
    # locks held, and the child, which writes nothing of the parent's, holds none of them.
    global _HELD_GUARD
    _HELD_GUARD = threading.Lock()
    for held in _HELD.values():
        if held.fd is not None:
            with contextlib.suppress(OSError):
                os.close(held.fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


def command_line() -> str:
    """This process's command line as typed (``peerwell run seed=1 ...``), for lock messages."""
    argv = list(sys.argv) or ["python"]
    name = Path(argv[0]).name
    if name.startswith("peerwell-"):  # cli.main runs a Hydra app as "peerwell-<command>"
        argv[0:1] = ["peerwell", name[len("peerwell-") :]]
    else:
        argv[0] = name
    return " ".join(argv)


def folder_holder(folder: str | Path) -> dict | None:
    """What a folder's lock file says of its holder (pid, host, command, since), if anything."""
    try:
        info = json.loads((Path(folder) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _describe_holder(info: dict | None) -> str:
    if not info:
        return "a command that has not recorded its pid yet"
    host = info.get("host")
    where = "" if host in (None, socket.gethostname()) else f" on host {host}"
    return f"pid {info.get('pid')}{where}, `{info.get('command')}`, since {info.get('since')}"


def _busy_message(folder: Path, hint: str) -> str:
    info = None
    for _ in range(20):  # the holder writes its details just after it takes the lock
        info = folder_holder(folder)
        if info:
            break
        time.sleep(0.05)
    return (
        f"{folder} is being written by another peerwell command ({_describe_holder(info)}). "
        "A folder takes one writer at a time, so this command has written nothing there. Wait "
        f"for that command to finish (or stop it), or {hint}"
    )


def _open_locked(path: Path, folder: Path, hint: str) -> int | None:
    # A holder unlinks the lock file before it unlocks it (see _close_locked), so the file this
    # process opened may be gone by the time it has the lock: then it locks the file now there.
    for _ in range(1000):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise FolderBusy(_busy_message(folder, hint)) from None
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return None  # a file system without locks: run unprotected, as before locks
            raise
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise FolderBusy(_busy_message(folder, hint))


def _close_locked(held: _Held) -> None:
    if held.fd is None:
        return
    # Unlinked while still locked, so the next writer creates a fresh file; a writer that opened
    # this one meanwhile finds it unlinked once it has the lock, and starts again.
    if held.pid == os.getpid():
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(held.fd), os.stat(held.path)):
                os.unlink(held.path)
    os.close(held.fd)


def acquire_folder(
    folder: str | Path, command: str | None = None, *, hint: str = "write into another folder"
) -> Path:
    """Take ``folder``'s lock for this thread, creating the folder; see :func:`folder_lock`.

    Taken again by the thread that holds it (``peerwell run``'s callback, then ``write_run``),
    it is counted, and released by the last :func:`release_folder`. Returns the folder as an
    absolute path.

    Raises
    ------
    FolderBusy
        Another process, or another thread of this one (two comparisons of the dashboard),
        holds it; the message names the folder and the holder.
    OSError
        The folder or its lock file cannot be created.
    """
    folder = Path(folder).expanduser().absolute()
    key = os.path.realpath(folder)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            if held.thread != threading.get_ident():
                raise FolderBusy(_busy_message(folder, hint))
            held.count += 1
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_NAME
        fd = _open_locked(path, folder, hint)
        held = _Held(fd, path, os.getpid(), threading.get_ident())
        if fd is not None:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": command or command_line(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            except OSError:
                _close_locked(held)
                raise
        _HELD[key] = held
    return folder


def release_folder(folder: str | Path) -> None:
    """Give back a lock taken by :func:`acquire_folder` (a no-op if this process has none)."""
    key = os.path.realpath(Path(folder).expanduser().absolute())
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[key]
        _close_locked(held)


def holds_folder(folder: str | Path) -> bool:
    """Whether this process (any of its threads) holds ``folder``'s lock."""
    return os.path.realpath(Path(folder).expanduser().absolute()) in _HELD


@contextlib.contextmanager
def folder_lock(
    folder: str | Path, command: str | None = None, *, hint: str = "write into another folder"
) -> Iterator[Path]:
    """Hold ``folder``'s lock (``<folder>/.peerwell.lock``) for the ``with`` block.

    ``run``, ``compare`` and the sweep's driver hold it from before their first write to their
    end, so two commands never write one folder at once: the second gets :class:`FolderBusy`,
    naming the holder (pid, command line), before it writes anything. The lock is ``flock``'s:
    the kernel drops it when its holder dies, even by ``kill -9``, so a crashed command never
    blocks the folder. ``hint`` ends the message (e.g. "give another output_dir=...").
    """
    path = acquire_folder(folder, command, hint=hint)
    try:
        yield path
    finally:
        release_folder(path)


# ---------------------------------------------------------------------------------------------
# Is a finished run file the run its name says?


def _as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _row_run_ids(path: Path, md: pq.FileMetaData) -> set[str] | None:
    """The run_ids of a file's rows from the footer's statistics; None without a run_id column."""
    if md.num_row_groups == 0:
        return set()
    first = md.row_group(0)
    column = next(
        (j for j in range(first.num_columns) if first.column(j).path_in_schema == "run_id"), None
    )
    if column is None:
        return None
    ids: set[str] = set()
    for i in range(md.num_row_groups):
        stats = md.row_group(i).column(column).statistics
        if stats is None or not stats.has_min_max:
            # A writer that kept no statistics: read the one column (small, dictionary-coded).
            table = pq.read_table(path, columns=["run_id"])
            return {_as_text(v) for v in table.column(0).unique().to_pylist()}
        ids.update((_as_text(stats.min), _as_text(stats.max)))
    return ids


def run_file_problem(path: str | Path, expected: str) -> str | None:
    """Why ``path`` is not a whole run file of run ``expected``; None when it is.

    Reads the footer only, so a resume can afford it for every file of a store: the footer must
    read (a truncated file fails here), the run_id recorded in the file's peerwell metadata and
    the run_id of its rows (the footer's column statistics) must both be ``expected``. A file
    copied or swapped from another run names that run.
    """
    try:
        md = pq.read_metadata(path)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = (str(exc).splitlines() or [""])[0]
        return f"not a whole Parquet file ({type(exc).__name__}: {first})"
    raw = (md.metadata or {}).get(b"peerwell")
    if raw:
        try:
            recorded = json.loads(raw).get("run_id")
        except (ValueError, AttributeError):
            return "its peerwell metadata is not a JSON record"
        if recorded is not None and recorded != expected:
            return f"holds run {recorded} (the run_id recorded in it), not run {expected}"
    try:
        rows = _row_run_ids(Path(path), md)
    except (OSError, ValueError, pa.ArrowException) as exc:
        return f"its run_id column cannot be read ({type(exc).__name__})"
    if rows is None or md.num_rows == 0:
        return "not a peerwell run file (no run_id column, or no rows)"
    if rows != {expected}:
        return f"its rows are run {', '.join(sorted(rows))}, not run {expected}"
    return None


# ---------------------------------------------------------------------------------------------
# The run store: runs/<run_id>.parquet (+ .json), one lock per run

RUNS = "runs"
LOCKS = ".locks"
INDEX = ".runs-index.json"
INDEX_VERSION = 1


def runs_dir(store_dir: str | Path) -> Path:
    """Where the run files of a sweep's or a comparison's folder live."""
    return Path(store_dir) / RUNS


def run_file(store_dir: str | Path, rid: str) -> Path:
    """The Parquet file of run ``rid`` in ``store_dir``'s store."""
    return runs_dir(store_dir) / f"{rid}.parquet"


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


def _check_finished(folder: Path, rid: str, sidecar: bool = True) -> tuple[str | None, str | None]:
    """(problem of the Parquet file, problem of its sidecar), each None when it is right.

    Without ``sidecar`` (a comparison's store keeps none) only the Parquet file is checked.
    """
    problem = run_file_problem(folder / f"{rid}.parquet", rid)
    if problem is not None or not sidecar:
        return problem, None
    return None, sidecar_problem(folder / f"{rid}.json", rid)


class RunFileError(PeerwellError, ValueError):
    """A stored run file is not the whole run its name says (truncated, garbled or another's)."""


def read_run(path: str | Path, expected: str, steps: int | None = None) -> pd.DataFrame:
    """The trajectories of a finished run file, checked to be the whole of run ``expected``.

    The check is :func:`run_file_problem`'s (the footer, the run_id recorded and that of the
    rows), then the data are read with their page checksums verified, and, given ``steps``,
    the last day must be ``steps``.

    Raises
    ------
    RunFileError
        What is wrong with the file; running the run again replaces it.
    """
    problem = run_file_problem(path, expected)
    if problem is not None:
        raise RunFileError(problem)
    try:
        df = read_verified(path)
    except Exception as exc:  # pyarrow raises several types for garbled pages
        first = (str(exc).splitlines() or [""])[0]
        raise RunFileError(f"unreadable ({type(exc).__name__}: {first})") from None
    if steps is not None and int(df["step"].max()) != steps:
        raise RunFileError(f"ends on day {int(df['step'].max())}, expected day {steps}")
    return df


def _repair_sidecar(folder: Path, rid: str) -> None:
    # The sidecar is the Parquet file's metadata, written beside it for tools that read JSON.
    atomic_write_json(folder / f"{rid}.json", read_metadata(folder / f"{rid}.parquet"))


def finished_run_ids(store_dir: str | Path) -> set[str]:
    """run_ids with a file in the store (not checked for corruption: cheap, for progress)."""
    folder = runs_dir(store_dir)
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


def run_lock(store_dir: str | Path, rid: str, blocking: bool = True):
    """Context manager holding the lock of one run; yields whether it was acquired."""
    return _lock(Path(store_dir) / LOCKS / f"{rid}.lock", blocking)


def ensure_run(
    store_dir: str | Path,
    rid: str,
    compute: Callable[[], tuple[pd.DataFrame, dict]],
    *,
    blocking: bool = True,
    sidecar: bool = True,
) -> str:
    """Compute and store run ``rid`` unless it is already finished: the store's one writer.

    A sweep's jobs and a comparison's workers both write their runs through here, under the
    run's lock, so neither ever computes a run the other is computing, and neither's clean-up
    takes the other's temp file for a dead writer's.

    Parameters
    ----------
    store_dir : path
        The sweep's or comparison's folder (the store is its ``runs/`` folder).
    rid : str
        The run's id (the file name).
    compute : callable
        Returns ``(trajectories, metadata)``; called only when the run is missing.
    blocking : bool
        Wait for the run's lock when another writer holds it. Without waiting, a held lock
        returns ``"busy"`` at once: a sweep's job then goes on with other runs and comes back.
    sidecar : bool
        Keep a JSON sidecar beside the Parquet file (a sweep's store; a comparison's has none).

    Returns
    -------
    str
        ``"done"`` when the run was already there, ``"ran"`` when it was computed now,
        ``"busy"`` (only when not ``blocking``) when another writer holds its lock.
    """
    folder = runs_dir(store_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{rid}.parquet"
    with run_lock(store_dir, rid, blocking=blocking) as acquired:
        if not acquired:
            return "busy"
        # Holding the lock, nobody else is writing this run. Temp files a dead writer left are
        # removed by clean_store at the start and end of every sweep and comparison (not here:
        # a scan of the folder per run would make a large design quadratic).
        problem, wrong_sidecar = _check_finished(folder, rid, sidecar)
        if problem is None:
            if wrong_sidecar is not None:
                _repair_sidecar(folder, rid)
            return "done"
        df, meta = compute()
        # The sidecar first, the Parquet file last: a run counts as finished when its Parquet
        # file exists, and then its sidecar exists too.
        if sidecar:
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


@dataclasses.dataclass
class StoreCheck:
    """What :func:`check_store` found."""

    finished: set[str] = dataclasses.field(default_factory=set)  # planned runs whole and theirs
    # (file, what was done)
    repaired: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    checked: int = 0  # runs whose files were read (the others were vouched for by the index)


def check_store(sweep_dir: str | Path, run_ids: Iterable[str]) -> StoreCheck:
    """Which of ``run_ids`` are finished, checking only the files the index does not vouch for.

    A run whose two files still have the identity the index recorded is finished without
    reading them. Every other run with a Parquet file is checked (:func:`run_file_problem` and
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
    rules are :func:`remove_stale_temp_files`'s.
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
