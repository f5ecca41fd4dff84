"""`peerwell sweep` on real clusters started on this machine: SLURM (submitit) and Dask.

Each cluster (tests/clusters.py) runs on loopback with its state in a temporary folder, for one
test class, and is stopped after it whatever happened. Against each one, as a user would:

- the sweep's jobs run there and land in the store, and ``peerwell collect`` of that store is the
  same, byte for byte, as that of a local (joblib) sweep of the same grid;
- a job cancelled mid-sweep fails the sweep with a message naming it, and a killed driver leaves
  the cluster's jobs behind; in both cases the same command run again finishes the sweep, with
  every run present exactly once and no temporary file left.

Sweeps are small (300 people, 20 days, 4 to 6 runs): the cost is the clusters' and the jobs'
start-up. These tests run alone (``pytest -m cluster``), not beside the rest of the suite on
the same two cores.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# The fixtures `slurm` and `dask_cluster` (one cluster per test class) are tests/clusters.py's.
pytest.register_assert_rewrite("clusters")
pytest_plugins = ["clusters"]
from clusters import Dask, Slurm, hold_workers, sweep_keys  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
SMALL = ["population.size=300", "steps=20"]
GRID = ["communities.moderation=0,1", "seed=1,2"]  # 4 runs
GRID6 = ["communities.moderation=0,1", "seed=1,2,3"]  # 6 runs


def sweep_args(d: Path, *launcher: str, grid=GRID) -> list[str]:
    return [PEERWELL, "sweep", "-m", *launcher, *grid, *SMALL, f"hydra.sweep.dir={d}"]


def peerwell(args: list[str], env: dict | None = None, timeout: float = 300):
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)


def start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    # Output to a file (a pipe nobody reads while the test waits could fill and stall the
    # driver); a session of its own: the test kills the driver, and only it, with SIGKILL.
    with open(log, "w") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 240) -> str:
    """The driver's exit code once it has ended, and everything it printed."""
    try:
        proc.wait(timeout=timeout)
    finally:
        stop(proc)
    return log.read_text()


def run_files(d: Path) -> list[Path]:
    return sorted((d / "runs").glob("*.parquet"))


def wait_for_runs(d: Path, n: int, proc: subprocess.Popen, timeout: float = 180) -> None:
    t0 = time.monotonic()
    while len(run_files(d)) < n:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended ({proc.returncode}) before {n} runs landed")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"fewer than {n} runs in {d} after {timeout:.0f} s")
        time.sleep(0.05)


def mtimes(d: Path) -> dict[str, int]:
    return {f.name: f.stat().st_mtime_ns for f in run_files(d)}


def assert_every_run_once(d: Path, n: int) -> None:
    """The store holds exactly the planned runs, each once and whole, and no temporary file."""
    files = run_files(d)
    plan = json.loads((d / "sweep.json").read_text())
    assert len(files) == n == plan["n_runs"]
    assert {f.stem for f in files} == {r["run_id"] for r in plan["runs"]}
    for f in files:
        meta = json.loads(f.with_suffix(".json").read_text())
        assert meta["run_id"] == f.stem
        frame = pd.read_parquet(f)
        assert set(frame["run_id"]) == {f.stem}
        assert not frame.duplicated(["run_id", "step"]).any()
    temp = [p for p in (d / "runs").iterdir() if p.name.startswith(".")]
    assert not temp, temp


def assert_resumed(d: Path, n: int, before: dict[str, int]) -> None:
    """Every run is there once, and the runs that were there before were not written again."""
    assert_every_run_once(d, n)
    after = mtimes(d)
    assert {k: after[k] for k in before} == before


def assert_collects_like(d: Path, local: Path) -> None:
    """`peerwell collect` of ``d`` writes the same bytes as that of the local sweep."""
    c = peerwell([PEERWELL, "collect", str(d)])
    assert c.returncode == 0 and "skipped" not in c.stdout, c.stdout + c.stderr
    for name in ("collected.parquet", "collected.csv"):
        assert (d / name).read_bytes() == (local / name).read_bytes(), name


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[int, Path]:
    """Local (joblib) sweeps of both grids, collected: what every cluster must reproduce."""
    out = {}
    for grid in (GRID, GRID6):
        d = tmp_path_factory.mktemp("local")
        r = peerwell(sweep_args(d, "hydra.launcher.n_jobs=2", grid=grid))
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        c = peerwell([PEERWELL, "collect", str(d)])
        assert c.returncode == 0, c.stdout + c.stderr
        out[len(run_files(d))] = d
    return out


# ---------------------------------------------------------------------------------------------
# SLURM: slurmctld + slurmd + slurmdbd (sacct) on loopback, jobs as submitit job arrays


def test_the_docs_show_the_slurm_preset_as_shipped():
    import yaml

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "sweeps.md").read_text()
    shown = re.search(r"The preset, as shipped:\n\n```yaml\n(.*?)\n```", page, re.S)
    assert shown, "docs/sweeps.md no longer shows the SLURM preset"
    shipped = (root / "conf" / "hydra" / "launcher" / "slurm.yaml").read_text()
    assert yaml.safe_load(shown.group(1)) == yaml.safe_load(shipped)


class TestSlurm:
    @pytest.fixture(autouse=True)
    def _empty_queue(self, slurm: Slurm):
        """Each test starts and ends with an empty queue (a killed driver leaves jobs behind)."""
        slurm.cancel_all()
        yield
        slurm.cancel_all()

    def test_the_preset_submits_a_job_array_that_lands_in_the_store(self, slurm, local, tmp_path):
        d = tmp_path / "sweep"
        # conf/hydra/launcher/slurm.yaml with a site's partition and account, as docs/sweeps.md
        # shows (mem_gb: the test node has less memory than the preset's default asks).
        launcher = [
            "hydra/launcher=slurm",
            f"hydra.launcher.partition={slurm.partition}",
            f"hydra.launcher.account={slurm.account}",
            "hydra.launcher.timeout_min=10",
            "hydra.launcher.mem_gb=1",
        ]
        r = peerwell(sweep_args(d, *launcher), env=slurm.env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_every_run_once(d, 4)
        meta = json.loads(run_files(d)[0].with_suffix(".json").read_text())
        assert meta["sweep"]["launcher"] == "slurm"
        # One job array, in the partition and account given, every task of it completed (a
        # task is still ending for a moment after the driver has read its result).
        slurm.wait_empty()
        arrays = {p.name for p in (d / ".submitit").iterdir() if "_" not in p.name}
        assert len(arrays) == 1, arrays
        rows = slurm.cmd(
            "sacct", "-X", "-n", "-P", "-S", "2000-01-01", "-o", "JobID,State,Partition,Account",
            "-j", arrays.pop(),
        ).split()  # fmt: skip
        tasks = [row.split("|") for row in rows]
        assert tasks and all(re.fullmatch(r"\d+_\d+", t[0]) for t in tasks), tasks
        assert {tuple(t[1:]) for t in tasks} == {("COMPLETED", slurm.partition, slurm.account)}
        assert_collects_like(d, local[4])

    def test_scancel_of_a_running_job_then_the_same_command_resumes(self, slurm, local, tmp_path):
        d, log = tmp_path / "sweep", tmp_path / "driver.log"
        args = sweep_args(d, "hydra/launcher=submitit_slurm", "hydra.launcher.array_parallelism=2")
        proc = start(args, log, env=slurm.env)
        try:
            t0, cancelled = time.monotonic(), None
            while cancelled is None and time.monotonic() - t0 < 120 and proc.poll() is None:
                running = [job for job, state in slurm.jobs() if state == "RUNNING"]
                if running:
                    cancelled = running[0]
                    slurm.cmd("scancel", cancelled)
                time.sleep(0.1)
            assert cancelled, "no job of the sweep was seen running"
        finally:
            out = finish(proc, log)
        # The driver learns from sacct that the task ended without a result, and says so.
        assert proc.returncode != 0, out[-3000:]
        assert "CANCELLED" in out, out[-3000:]
        before = mtimes(d)
        r = peerwell(args, env=slurm.env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_resumed(d, 4, before)
        slurm.wait_empty()  # what is left of the first array finds every run finished
        assert_resumed(d, 4, before)
        assert_collects_like(d, local[4])

    def test_a_killed_driver_then_the_same_command_resumes(self, slurm, local, tmp_path):
        d, log = tmp_path / "sweep", tmp_path / "driver.log"
        args = sweep_args(d, "hydra/launcher=submitit_slurm", "hydra.launcher.array_parallelism=1")
        proc = start(args, log, env=slurm.env)
        try:
            wait_for_runs(d, 1, proc)
        finally:
            stop(proc)  # SIGKILL: the job array stays on the cluster, queued and running
        assert len(run_files(d)) < 4, "the sweep finished before the driver was killed"
        assert slurm.jobs(), "the killed driver's job array is no longer on the cluster"
        before = mtimes(d)
        r = peerwell(args, env=slurm.env)  # beside what is left of the first array
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_resumed(d, 4, before)
        after = mtimes(d)
        slurm.wait_empty()  # the first array's tasks that start late find every run finished
        assert_resumed(d, 4, after)
        assert_collects_like(d, local[4])


# ---------------------------------------------------------------------------------------------
# Dask: `dask scheduler` + `dask worker` (2 single-threaded processes) on loopback, jobs as tasks


class TestDask:
    def launcher(self, cluster: Dask) -> list[str]:
        return ["hydra/launcher=dask", f"hydra.launcher.address={cluster.address}"]

    def test_a_sweep_runs_on_the_cluster_and_collects_like_a_local_one(
        self, dask_cluster, local, tmp_path
    ):
        d = tmp_path / "sweep"
        r = peerwell(sweep_args(d, *self.launcher(dask_cluster)))
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_every_run_once(d, 4)
        launchers = {json.loads(f.with_suffix(".json").read_text())["sweep"]["launcher"]
                     for f in run_files(d)}  # fmt: skip
        assert launchers == {"dask"}
        assert_collects_like(d, local[4])
        # Run again: every run is already there, and none is written again.
        before = mtimes(d)
        r = peerwell(sweep_args(d, *self.launcher(dask_cluster)))
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_resumed(d, 4, before)

    def test_a_cancelled_job_then_the_same_command_resumes(self, dask_cluster, local, tmp_path):
        import distributed

        d, log = tmp_path / "sweep", tmp_path / "driver.log"
        args = sweep_args(d, *self.launcher(dask_cluster), grid=GRID6)
        # The workers are busy with other work when the sweep arrives: its jobs queue, and the
        # one cancelled (from another client, as `client.cancel` or the dashboard would) has
        # certainly not started.
        proc = None
        try:
            with hold_workers(dask_cluster, 2), dask_cluster.client() as other:
                proc = start(args, log)
                keys = wait_for_keys(other, proc)
                other.cancel([distributed.Future(max(keys), client=other)], force=True)
        finally:
            out = finish(proc, log) if proc else ""
        assert proc.returncode == 1, out[-3000:]
        assert re.search(r"job #\d+ \(.*\) was cancelled on the Dask cluster", out), out[-3000:]
        assert "rerun the same command to resume" in out and "Traceback" not in out, out[-3000:]
        before = mtimes(d)
        r = peerwell(args)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_resumed(d, 6, before)
        assert_collects_like(d, local[6])

    def test_a_killed_driver_then_the_same_command_resumes(self, dask_cluster, local, tmp_path):
        d, log = tmp_path / "sweep", tmp_path / "driver.log"
        args = sweep_args(d, *self.launcher(dask_cluster), grid=GRID6)
        # One worker is held: the jobs given to it are still waiting when the driver dies.
        with hold_workers(dask_cluster, 1), dask_cluster.client() as other:
            proc = start(args, log)
            try:
                wait_for_runs(d, 1, proc)
            finally:
                stop(proc)  # SIGKILL; the scheduler drops the dead client's tasks
            t0 = time.monotonic()
            while sweep_keys(other) and time.monotonic() - t0 < 60:
                time.sleep(0.1)
            assert not sweep_keys(other), "the dead driver's jobs are still on the scheduler"
        assert len(run_files(d)) < 6, "the sweep finished before the driver was killed"
        before = mtimes(d)
        r = peerwell(args)  # while a job that was running when the driver died may go on
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert_resumed(d, 6, before)
        after = mtimes(d)
        dask_cluster.wait_idle()
        assert_resumed(d, 6, after)
        assert_collects_like(d, local[6])

    def test_a_bayesian_calibration_runs_its_particles_on_the_cluster(self, dask_cluster, tmp_path):
        # `peerwell calibrate method=abc` through the same cluster as sweeps: pyabc's Dask
        # sampler hands the particles to the cluster's workers (the driver runs none of them)
        out = tmp_path / "abc"
        args = [PEERWELL, "calibrate", "method=abc", "budget=60", "launcher=dask",
                f"address={dask_cluster.address}", "population.size=300", "steps=60",
                f"output_dir={out}"]  # fmt: skip
        r = peerwell(args)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        post = pd.read_parquet(out / "posterior.parquet")
        assert len(post) >= 10 and post["weight"].sum() == pytest.approx(1.0)
        diag = json.loads((out / "diagnostics.json").read_text())
        assert diag["total_simulations"] >= 60 and diag["generations"][0]["particles"] == 20

    def test_without_an_address_the_sweep_says_what_to_give(self, tmp_path):
        env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
        r = peerwell(sweep_args(tmp_path / "s", "hydra/launcher=dask"), env=env)
        assert r.returncode == 1
        assert "hydra.launcher.address=tcp://HOST:8786" in r.stderr and "Traceback" not in r.stderr
        assert not run_files(tmp_path / "s")


def wait_for_keys(client, proc: subprocess.Popen, timeout: float = 120) -> list[str]:
    """The sweep's task keys, once the driver has submitted them all (their number is steady)."""
    t0, keys, steady = time.monotonic(), [], 0
    while steady < 5:
        if proc.poll() is not None or time.monotonic() - t0 > timeout:
            pytest.fail(f"the sweep's jobs did not reach the scheduler ({proc.poll()})")
        time.sleep(0.1)
        now = sweep_keys(client)
        steady = steady + 1 if now and len(now) == len(keys) else 0
        keys = now
    return keys
