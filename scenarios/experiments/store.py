"""The result store: one Parquet file per run, named by run_id, written atomically.

A run is identified by ``run_id = hash(canonical scientific config + seed)``: not paths, not
launcher or output settings. Files are written to a dot-named temporary file in the same folder,
fsynced, then renamed with ``os.replace``, so readers never see a partial file and a killed
sweep or comparison resumes by skipping finished run_ids.

Also here, because every command that writes results shares them:

- **Temp-file names** (:func:`temp_path`, :data:`TEMP_NAME`) and the one clean-up of temp files
  left by dead writers (:func:`remove_stale_temp_files`).
- **The folder lock** (:func:`folder_lock`): ``run``, ``compare`` and ``sweep`` hold
  ``<folder>/.peerwell.lock`` (``flock``) for their whole life, so a folder has one writer at a
  time; a second one is refused with the holder's pid and command line, before it writes
  anything. The kernel drops the lock when its holder dies, even by ``kill -9``.
- **The check of a finished run file** against the run_id its name says
  (:func:`run_file_problem`), on which every resume relies.
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
from collections.abc import Callable, Iterator
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
