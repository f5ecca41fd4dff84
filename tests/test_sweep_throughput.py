"""`peerwell sweep` in batches (issue 23, parts 1 and 4): same results, resumes, progress, costs.

A sweep hands Hydra's launcher a few batch jobs, each running many runs in one warm process
(``sweep._batched_sweep``), and resumes from the store's index (``store.check_store``). These
tests hold it to the store's contract: each run's file is bit for bit the run a plain loop in one
process computes; a sweep killed mid-batch and run again has every run exactly once; a finished
sweep run again does no work at all; and the command says how far it is and where the time went.
No test times anything (timings are ``benchmarks/bench_sweep.py``'s): they count.

Sweeps are small (150-300 people, 5-20 days) and run through the real command.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from util import Done, one_numba_thread, peerwell_inprocess  # noqa: F401  (autouse fixture)

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
SMALL = ["steps=20", "population.size=300"]
TIME_LINE = re.compile(
    r"sweep time: runs (?P<runs>[0-9.]+) s \((?P<computed>\d+) computed[^)]*\), "
    r"start-up (?P<startup>[0-9.]+) s, composition (?P<composition>[0-9.]+) s, "
    r"store (?P<store>[0-9.]+) s; summed over the driver(?: and (?P<jobs>\d+) batch jobs?)?"
)
PROGRESS_LINE = re.compile(
    r"sweep: (?P<done>\d+)/(?P<total>\d+) runs done \((?P<new>\d+) new, (?P<reused>\d+) "
    r"reused\), (?P<rate>[0-9.]+ runs/min|no new runs), ETA (?P<eta>\d+:\d\d(?::\d\d)?|unknown)"
)


def run_files(d: Path) -> list[Path]:
    return sorted((d / "runs").glob("*.parquet"))


def time_line(r: Done) -> dict[str, str]:
    m = TIME_LINE.search(r.stdout)
    assert m, r.text[-3000:]
    return m.groupdict()


def assert_no_leftovers(d: Path) -> None:
    """No temp file, lock folder or batch file once a sweep has ended."""
    temps = [p for p in d.rglob("*") if ".tmp-" in p.name]
    assert not temps, temps
    assert not (d / ".locks").exists() and not (d / ".batches").exists()


# ---------------------------------------------------------------------------------------------
# The same runs as a plain loop in one process


def test_batched_runs_are_bit_identical_to_a_serial_loop_in_one_process(tmp_path):
    from peerwell.scenarios.experiments.hooks import MODELS

    d = tmp_path / "batched"
    grid = ["communities.moderation=0,1", "scenario=baseline,offline_only", "seed=1,2,3"]
    r = peerwell_inprocess(
        "sweep", "-m", *grid, *SMALL, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"
    )
    assert r.returncode == 0, r.text[-3000:]
    files = run_files(d)
    assert len(files) == 12
    assert time_line(r)["jobs"] == "2"  # two warm workers, not a job per run
    assert sorted(p.name for p in (d / "jobs").iterdir()) == ["0", "1"]
    assert_no_leftovers(d)
    hook = MODELS["peerwell"]
    for f in files:
        meta = json.loads(f.with_suffix(".json").read_text())
        # The serial reference: the run's own config, as a user's loop in one process runs it.
        params = hook.load(meta["config"])
        assert hook.run_id(params) == f.stem
        serial, _ = hook.run(params)
        pd.testing.assert_frame_equal(pd.read_parquet(f), serial, check_exact=True)
        given = dict(o.split("=", 1) for o in meta["sweep"]["overrides"])
        assert params.seed == int(given["seed"]) and params.scenario.name == given["scenario"]
        assert params.communities.moderation == float(given["communities.moderation"])
        assert meta["sweep"]["launcher"] == "joblib" and meta["sweep"]["design"] == "grid"


def test_a_batch_that_has_finished_its_share_takes_over_the_others_runs(tmp_path):
    # Hydra's basic launcher runs the three batch jobs one after another in this process: the
    # first finds every run of the other two unstarted and runs them; the others find them done.
    d = tmp_path / "shared"
    r = peerwell_inprocess(
        "sweep", "-m", "seed=range(1,8)", *SMALL, "hydra/launcher=basic", "batches=3",
        f"hydra.sweep.dir={d}",
    )  # fmt: skip
    assert r.returncode == 0, r.text[-3000:]
    assert len(run_files(d)) == 7
    job_dirs = {json.loads(f.with_suffix(".json").read_text())["sweep"]["job_dir"]
                for f in run_files(d)}  # fmt: skip
    assert job_dirs == {str(d / "jobs" / "0")}
    line = time_line(r)
    assert line["computed"] == "7" and line["jobs"] == "3"


# ---------------------------------------------------------------------------------------------
# Resume


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def test_a_sweep_killed_mid_batch_then_rerun_runs_every_run_exactly_once(tmp_path):
    d = tmp_path / "killed"
    # Runs long enough (about half a second each) that the kill, a poll after the second run
    # file appears, always lands before the twelfth: with 40-day runs all twelve could finish
    # between two polls on a fast, idle machine.
    cmd = [PEERWELL, "sweep", "-m", "communities.moderation=0,0.5,1", "seed=range(1,5)",
           "steps=365", "population.size=800", "hydra.launcher.n_jobs=2",
           f"hydra.sweep.dir={d}"]  # fmt: skip
    # Its own session: the test kills the driver alone, then waits for its orphaned workers.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        t0 = time.monotonic()
        while len(run_files(d)) < 2 and time.monotonic() - t0 < 300:
            time.sleep(0.02)
        assert len(run_files(d)) >= 2, "the sweep wrote no run before the kill"
        os.kill(proc.pid, signal.SIGKILL)  # the driver, with both batches mid-way
        proc.wait()
        # The orphaned workers finish the run each holds, then exit (the watchdog).
        t0 = time.monotonic()
        while _group_alive(proc.pid) and time.monotonic() - t0 < 120:
            time.sleep(0.1)
        assert not _group_alive(proc.pid), "the killed sweep's workers did not exit"
        before = {f.name: os.stat(f) for f in run_files(d)}
        assert 2 <= len(before) < 12, "the sweep finished before it was killed"
        assert (d / ".batches").exists()  # the killed driver's batch file, removed by the rerun

        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        done = Done(r.returncode, r.stdout, r.stderr)
        files = run_files(d)
        plan = json.loads((d / "sweep.json").read_text())
        assert {f.stem for f in files} == {x["run_id"] for x in plan["runs"]} and len(files) == 12
        # Every run exactly once: the runs that were there were not written again, and the rerun
        # computed exactly the others.
        for f in files:
            if f.name in before:
                st = os.stat(f)
                assert (st.st_ino, st.st_mtime_ns) == (
                    before[f.name].st_ino,
                    before[f.name].st_mtime_ns,
                ), f.name
        assert int(time_line(done)["computed"]) == 12 - len(before)
        assert f"({12 - len(before)} new, {len(before)} already there)" in r.stdout
        assert_no_leftovers(d)
        df = pd.concat(pd.read_parquet(f) for f in files)
        assert df["run_id"].nunique() == 12 and not df.duplicated(["run_id", "step"]).any()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_finished_sweep_run_again_reads_the_index_and_builds_no_model(tmp_path, monkeypatch):
    d = tmp_path / "finished"
    args = ["sweep", "-m", "seed=range(1,201)", "steps=5", "population.size=150",
            "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"]  # fmt: skip
    r = peerwell_inprocess(*args)
    assert r.returncode == 0, r.text[-3000:]
    assert len(run_files(d)) == 200 and time_line(r)["computed"] == "200"
    jobs_before = {p.name: p.stat().st_mtime_ns for p in (d / "jobs").iterdir()}

    import peerwell.scenarios.experiments.store as store
    from peerwell.simulation.model import PeerwellModel

    counts = {"models": 0, "files read": 0}
    real_init, real_problem = PeerwellModel.__init__, store.run_file_problem

    def counted_init(self, *a, **k):
        counts["models"] += 1
        return real_init(self, *a, **k)

    def counted_problem(*a, **k):
        counts["files read"] += 1
        return real_problem(*a, **k)

    monkeypatch.setattr(PeerwellModel, "__init__", counted_init)
    monkeypatch.setattr(store, "run_file_problem", counted_problem)
    r = peerwell_inprocess(*args)
    assert r.returncode == 0, r.text[-3000:]
    assert counts == {"models": 0, "files read": 0}
    assert "(0 new, 200 already there)" in r.stdout
    line = time_line(r)
    assert line["computed"] == "0" and line["jobs"] is None  # no batch job was launched
    assert {p.name: p.stat().st_mtime_ns for p in (d / "jobs").iterdir()} == jobs_before
    assert_no_leftovers(d)

    # A file changed behind the index's back is read again (and only that one).
    victim = run_files(d)[7].with_suffix(".json")
    victim.write_text(victim.read_text())
    r = peerwell_inprocess(*args)
    assert r.returncode == 0, r.text[-3000:]
    assert counts == {"models": 0, "files read": 1}


def test_the_index_never_vouches_for_a_file_swapped_behind_its_back(tmp_path):
    import shutil

    d = tmp_path / "swapped"
    args = ["sweep", "-m", "seed=1,2", *SMALL, "hydra/launcher=basic", f"hydra.sweep.dir={d}"]
    assert peerwell_inprocess(*args).returncode == 0
    a, b = run_files(d)
    want = pd.read_parquet(a)
    # Same size and modification time as the file the index recorded: only the change time
    # (which no user can set) and the inode tell them apart.
    st = os.stat(a)
    shutil.copyfile(b, a)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = peerwell_inprocess(*args)
    assert r.returncode == 0, r.text[-3000:]
    assert a.name in r.stderr and "running it again" in r.stderr, r.text
    pd.testing.assert_frame_equal(pd.read_parquet(a), want, check_exact=True)


# ---------------------------------------------------------------------------------------------
# What the command shows: progress, and where the time went


def test_progress_shows_runs_done_reused_rate_and_eta(tmp_path):
    d = tmp_path / "progress"
    first = peerwell_inprocess(
        "sweep", "-m", "seed=range(1,5)", *SMALL, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"
    )
    assert first.returncode == 0, first.text[-3000:]
    r = peerwell_inprocess(
        "sweep", "-m", "seed=range(1,25)", *SMALL, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"
    )
    assert r.returncode == 0, r.text[-3000:]
    lines = [m.groupdict() for m in PROGRESS_LINE.finditer(r.stderr)]
    assert lines, r.stderr[-3000:]
    assert all(x["total"] == "24" and x["reused"] == "4" for x in lines)
    assert all(int(x["done"]) == int(x["new"]) + 4 for x in lines)
    last = lines[-1]
    assert last["done"] == "24" and last["new"] == "20" and last["eta"] == "0:00"
    assert last["rate"].endswith("runs/min") and float(last["rate"].split()[0]) > 0
    # Without a terminal, a line at every tenth of the sweep at most (and a last one).
    assert len(lines) <= 11
    assert "(20 new, 4 already there)" in r.stdout


def test_the_end_summary_says_where_the_time_went(tmp_path):
    d = tmp_path / "summary"
    r = peerwell_inprocess(
        "sweep", "-m", "seed=range(1,7)", *SMALL, "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={d}"
    )
    assert r.returncode == 0, r.text[-3000:]
    line = time_line(r)
    assert line["computed"] == "6" and line["jobs"] == "2"
    for kind in ("runs", "startup", "composition", "store"):
        assert float(line[kind]) >= 0, kind
    assert float(line["runs"]) > 0 and float(line["composition"]) > 0
    # The summary line other tools read is unchanged, and comes first.
    lines = r.stdout.splitlines()
    first = next(i for i, s in enumerate(lines) if s.startswith(f"sweep: 6 runs in {d}"))
    assert "(6 new, 0 already there)" in lines[first] and "peerwell collect" in lines[first]
    assert lines[first + 1].startswith("sweep time: ")


def test_batch_is_the_sweeps_own_key_and_batches_a_count(tmp_path, capsys):
    from util import peerwell_here

    d = tmp_path / "bad"
    code, out = peerwell_here(capsys, "sweep", "seed=1", "batch=abc-0", f"hydra.sweep.dir={d}")
    assert code == 2 and "batch is set by `peerwell sweep`" in out and "Traceback" not in out
    code, out = peerwell_here(capsys, "sweep", "seed=1", "batches=-2", f"hydra.sweep.dir={d}")
    assert code == 2 and "batches=-2" in out and "Traceback" not in out
    assert not d.exists()
