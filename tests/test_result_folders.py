"""Result folders: one writer at a time, clean-ups that spare live writers, checked resumes.

Each race of the issue is made deterministic: the first writer is a real ``peerwell`` command in
a process of its own that pauses between writing a temp file and renaming it into place (the
window a slow disk or a large file makes long), until the test lets it go. While it is paused,
the test starts the second command (in this process) and looks at what it did to the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from util import one_numba_thread, peerwell_here  # noqa: F401  (autouse: one Numba thread)

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
SMALL = ["steps=15", "population.size=150"]
COMPARE = ["scenarios=[baseline,offline_only]", "replicates=2", *SMALL, "n_jobs=1",
           "progress=false", "figures=false"]  # fmt: skip
SWEEP = ["-m", *SMALL, "hydra/launcher=basic"]
WAIT = 240  # seconds for a started command to reach its pause (a fresh interpreter, two cores)

# The first writer: `peerwell ARGS` with os.replace made to wait, the first time it renames a
# temp file into PAUSE_AT (a file, or any file in a folder), until the file GO exists. It writes
# READY (its pid) when it is waiting.
PAUSED_COMMAND = textwrap.dedent(
    """
    import json, os, sys, time
    args, pause_at, ready, go = json.loads(sys.argv[1])
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        dst_s = os.fspath(dst)
        if (dst_s == pause_at or os.path.dirname(dst_s) == pause_at) and not os.path.exists(ready):
            with open(ready, "w") as fh:
                fh.write(str(os.getpid()))
            while not os.path.exists(go):
                time.sleep(0.02)
        return real_replace(src, dst, *a, **k)

    os.replace = replace
    from peerwell.scenarios.cli.core import main
    try:
        code = main(args) or 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
    """
)


class Paused:
    """A `peerwell` command in its own process, held between a temp write and its rename."""

    def __init__(self, tmp_path: Path, args: list[str], pause_at: Path):
        self.ready, self.go = tmp_path / "paused.ready", tmp_path / "paused.go"
        self.out, self.err = tmp_path / "paused.out", tmp_path / "paused.err"
        spec = json.dumps([args, str(pause_at), str(self.ready), str(self.go)])
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", PAUSED_COMMAND, spec],
                stdout=out,
                stderr=err,
                env={**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"},
                start_new_session=True,
            )
        deadline = time.monotonic() + WAIT
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the first command never paused:\n{self.err.read_text()[-3000:]}")
            time.sleep(0.02)
        self.pid = self.proc.pid

    def finish(self) -> tuple[int, str]:
        """Let it go; its exit code and everything it printed."""
        self.go.write_text("go")
        try:
            code = self.proc.wait(timeout=WAIT)
        finally:
            self.kill()
        return code, self.out.read_text() + self.err.read_text()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def listing(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` (dot-files too) with its modification time."""
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


def assert_refused_by_the_holder(code: int, text: str, folder: Path, pid: int, command: str):
    assert code == 2, text
    assert "Traceback" not in text, text
    assert str(folder) in text and f"pid {pid}" in text and command in text, text


# ---------------------------------------------------------------------------------------------
# Two writers into one folder


def test_a_second_compare_into_a_busy_folder_is_refused_and_touches_nothing(tmp_path, capsys):
    out = tmp_path / "cmp"
    first = Paused(tmp_path, ["compare", *COMPARE, f"output_dir={out}"], out / "runs")
    try:
        before = listing(out)
        code, text = peerwell_here(capsys, "compare", *COMPARE, "replicates=1", f"output_dir={out}")
        assert_refused_by_the_holder(code, text, out, first.pid, "peerwell compare")
        assert listing(out) == before  # not a file written, not a file removed
    finally:
        code, text = first.finish()
    assert code == 0, text
    # summary.csv, report.md and comparison.json are all the first comparison's (2 replicates).
    manifest = json.loads((out / "comparison.json").read_text())
    assert manifest["replicates"] == 2 and len(manifest["runs"]) == 4
    assert (pd.read_csv(out / "summary.csv")["n"] == 2).all()
    assert "replicates=2" in (out / "report.md").read_text()
    assert not (out / ".peerwell.lock").exists() and not (out / ".locks").exists()


def test_a_second_run_into_a_busy_folder_is_refused_and_hydra_files_match_the_data(
    tmp_path, capsys
):
    out = tmp_path / "run"
    first = Paused(
        tmp_path, ["run", "seed=1", *SMALL, f"output_dir={out}"], out / "trajectories.parquet"
    )
    try:
        before = listing(out)
        code, text = peerwell_here(capsys, "run", "seed=2", *SMALL, f"output_dir={out}")
        assert_refused_by_the_holder(code, text, out, first.pid, "peerwell run")
        assert listing(out) == before
    finally:
        code, text = first.finish()
    assert code == 0, text
    config = (out / ".hydra" / "config.yaml").read_text()
    assert "seed: 1\n" in config
    assert json.loads((out / "run.json").read_text())["seed"] == 1
    assert set(pd.read_parquet(out / "trajectories.parquet")["seed"]) == {1}
    assert "seed=1" in (out / ".hydra" / "overrides.yaml").read_text()


def test_a_refused_run_leaves_a_finished_folder_as_it_was(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = peerwell_here(capsys, "run", "seed=1", *SMALL, f"output_dir={out}")
    assert code == 0, text
    kept = ["trajectories.parquet", "run.json", "trajectories.png", ".hydra/config.yaml",
            ".hydra/hydra.yaml", ".hydra/overrides.yaml"]  # fmt: skip
    before = {name: (out / name).read_bytes() for name in kept}
    bad_edges = tmp_path / "edges.txt"
    bad_edges.write_text("0 1\n1 x\n")
    refusals = [
        ["communities.moderation=1.5"],  # refused by validation
        ["network=edgelist", f"network.path={bad_edges}"],  # refused while building the model
    ]
    for extra in refusals:
        code, text = peerwell_here(capsys, "run", "seed=2", *SMALL, *extra, f"output_dir={out}")
        assert code == 2 and "Traceback" not in text, text
        assert {name: (out / name).read_bytes() for name in kept} == before, extra
    assert not (out / ".peerwell.lock").exists()


def test_two_different_sweeps_in_one_folder_the_second_is_refused(tmp_path, capsys):
    d = tmp_path / "sweep"
    first = Paused(tmp_path, ["sweep", *SWEEP, "seed=1,2", f"hydra.sweep.dir={d}"], d / "runs")
    try:
        plan = (d / "sweep.json").read_bytes()
        before = listing(d)
        code, text = peerwell_here(capsys, "sweep", *SWEEP, "seed=3,4", f"hydra.sweep.dir={d}")
        assert_refused_by_the_holder(code, text, d, first.pid, "peerwell sweep")
        assert listing(d) == before and (d / "sweep.json").read_bytes() == plan
    finally:
        code, text = first.finish()
    assert code == 0 and "2 runs" in text, text  # not "the code or a config file changed"
    assert len(list((d / "runs").glob("*.parquet"))) == 2


def test_the_clean_ups_of_collect_and_sweep_spare_a_running_comparison(tmp_path, capsys):
    out = tmp_path / "cmp"
    first = Paused(tmp_path, ["compare", *COMPARE, f"output_dir={out}"], out / "runs")
    try:
        temps = [p for p in (out / "runs").iterdir() if ".tmp-" in p.name]
        assert len(temps) == 1  # the comparison's run file, written, not yet renamed
        peerwell_here(capsys, "collect", str(out))  # no finished run yet: it may refuse
        assert temps[0].exists()
        code, text = peerwell_here(capsys, "sweep", *SWEEP, "seed=1", f"hydra.sweep.dir={out}")
        assert code == 2 and str(out) in text and f"pid {first.pid}" in text, text
        assert temps[0].exists()
    finally:
        code, text = first.finish()
    assert code == 0, text  # it finished: its temp file was there to rename
    assert len(list((out / "runs").glob("*.parquet"))) == 4


def test_a_killed_writer_never_blocks_the_folder(tmp_path, capsys):
    out = tmp_path / "cmp"
    first = Paused(tmp_path, ["compare", *COMPARE, f"output_dir={out}"], out / "runs")
    first.kill()  # kill -9, holding the folder's lock and a run's lock
    code, text = peerwell_here(capsys, "compare", *COMPARE, f"output_dir={out}")
    assert code == 0, text
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert not (out / ".peerwell.lock").exists()


def test_another_thread_of_the_process_is_another_writer(tmp_path):
    # The dashboard runs each comparison in a thread of its server: two into one folder must not
    # mix either. The thread holding the lock may take it again (`run`'s callback, then
    # write_run); another thread is refused like another process.
    import threading

    from peerwell.scenarios.experiments.store import FolderBusy, folder_lock, holds_folder

    out = tmp_path / "cmp"
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with folder_lock(out, "second"):
                pass
        except FolderBusy as exc:
            errors.append(exc)

    with folder_lock(out, "first"), folder_lock(out, "first again"):
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join()
        assert holds_folder(out)
    assert len(errors) == 1 and f"pid {os.getpid()}" in str(errors[0]) and "first" in str(errors[0])
    assert not holds_folder(out) and not (out / ".peerwell.lock").exists()


# ---------------------------------------------------------------------------------------------
# Resume checks every finished file against its own run_id


def test_sweep_resume_redoes_a_run_file_swapped_for_another_runs(tmp_path, capsys):
    d = tmp_path / "sweep"
    args = ["sweep", *SWEEP, "seed=1,2,3", f"hydra.sweep.dir={d}"]
    code, text = peerwell_here(capsys, *args)
    assert code == 0, text
    a, b, c = sorted((d / "runs").glob("*.parquet"))
    want = pd.read_parquet(a)
    shutil.copyfile(b, a)  # a.parquet now holds run b (rows and metadata)
    shutil.copyfile(b.with_suffix(".json"), a.with_suffix(".json"))
    shutil.copyfile(b.with_suffix(".json"), c.with_suffix(".json"))  # only c's sidecar swapped
    code, text = peerwell_here(capsys, *args)
    assert code == 0, text
    assert a.name in text and "running it again" in text, text
    assert c.with_suffix(".json").name in text and "rewritten" in text, text
    assert "(1 new, 2 already there)" in text, text
    pd.testing.assert_frame_equal(pd.read_parquet(a), want, check_exact=True)
    for f in (a, c):
        assert json.loads(f.with_suffix(".json").read_text())["run_id"] == f.stem


def test_collect_refuses_a_run_file_holding_another_runs_rows(tmp_path, capsys):
    d = tmp_path / "sweep"
    code, text = peerwell_here(capsys, "sweep", *SWEEP, "seed=1,2,3", f"hydra.sweep.dir={d}")
    assert code == 0, text
    a, b, _ = sorted((d / "runs").glob("*.parquet"))
    # What a re-save with pandas leaves: run b's rows under a's name, peerwell's metadata gone.
    pd.read_parquet(b).to_parquet(a)
    code, text = peerwell_here(capsys, "collect", str(d))
    assert code == 0 and "Traceback" not in text, text
    assert f"skipped {a.name}" in text and b.stem in text, text
    table = pd.read_parquet(d / "collected.parquet")
    assert set(table["run_id"]) == {f.stem for f in (d / "runs").glob("*.parquet")} - {a.stem}
    assert not table.duplicated(["run_id", "step"]).any()


# ---------------------------------------------------------------------------------------------
# SIGTERM to compare stops its workers


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process, from /proc."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _descendants(pid: int) -> set[int]:
    procs = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _, _) in procs.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int], pgid: int) -> set[int]:
    """Those of ``pids``, and any process of group ``pgid``, still running (not zombies)."""
    procs = _processes()
    return {
        p for p, (_, group, state) in procs.items() if (p in pids or group == pgid) and state != "Z"
    }


def _sigint_as_from_a_shell() -> None:
    # As a terminal starts a command: SIGINT at its default, so Python turns it into
    # KeyboardInterrupt. (A child inherits an ignored SIGINT, as a background job does, and then
    # rightly ignores Ctrl-C: whatever a test worker's own disposition, the child is a user's.)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_compare_leaves_no_worker_behind(tmp_path, sig):
    out = tmp_path / "cmp"
    # About 45 s a run and 300 MB a worker: the signal comes mid-run.
    cmd = [PEERWELL, "compare", "scenarios=[baseline,offline_only]", "replicates=2",
           "steps=5000", "population.size=50000", "n_jobs=2", "progress=false", "figures=false",
           f"output_dir={out}"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_sigint_as_from_a_shell,
    )  # fmt: skip
    try:
        # Mid-run: both loky workers started, and a few seconds into their simulations.
        deadline = time.monotonic() + WAIT
        children: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            children = _descendants(proc.pid)
            if len(children) >= 3:  # two workers and the resource tracker (at least)
                break
            time.sleep(0.1)
        assert proc.poll() is None and len(children) >= 3, children
        time.sleep(5)
        children |= _descendants(proc.pid)
        assert not list((out / "runs").glob("*.parquet")), "finished before the signal"
        proc.send_signal(sig)  # to the driver only, as `kill PID` does
        # A wait for the stop, not a timing: on a machine loaded by other tests it once took
        # over 30 s (Python 3.13, two 300 MB workers to end); alone it takes about 2 s.
        _, err = proc.communicate(timeout=90)
        assert proc.returncode != 0 and "Traceback" not in err, err
        deadline = time.monotonic() + 10
        while _alive(children, proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(children, proc.pid), _alive(children, proc.pid)
        assert not (out / ".peerwell.lock").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
