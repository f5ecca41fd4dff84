"""The one result store (``scenarios/experiments/store.py``) and the one replicate-seed policy.

Every writer of runs (a sweep's jobs, a comparison's workers) goes through ``store.ensure_run``,
under the run's lock; every clean-up reads temp-file names with ``store.TEMP_NAME`` and decides
"dead writer" in ``store.remove_stale_temp_files``; every resume asks ``store.run_file_problem``
whether a run is finished; every command that runs replicates (compare, calibrate, validate)
takes its seeds from ``replicates.replicate_seeds``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread)

from peerwell.scenarios.catalogue import load_scenario
from peerwell.scenarios.experiments import replicates, store, sweep
from peerwell.scenarios.experiments.store import (
    RunFileError,
    check_store,
    clean_store,
    ensure_run,
    read_run,
    remove_stale_temp_files,
    run_file,
    run_file_problem,
)


def _run(rid: str, rows: int = 3) -> tuple[pd.DataFrame, dict]:
    """A stand-in run: what a writer hands ``ensure_run`` (rows tagged with their run_id)."""
    df = pd.DataFrame({"run_id": [rid] * rows, "step": range(rows), "y": [0.5] * rows})
    return df, {"run_id": rid, "seed": 1}


# A second writer, in a process of its own: it writes run RID through ensure_run, pausing inside
# the computation (the lock held) until the file GO exists. It prints "computing" when paused.
WRITER = """
import os, sys, time
import pandas as pd
from peerwell.scenarios.experiments.store import ensure_run
folder, rid, go = sys.argv[1:]

def compute():
    print("computing", flush=True)
    while not os.path.exists(go):
        time.sleep(0.02)
    df = pd.DataFrame({"run_id": [rid] * 3, "step": range(3), "y": [0.5] * 3})
    return df, {"run_id": rid, "seed": 1}

print(ensure_run(folder, rid, compute), flush=True)
"""


def test_a_second_writer_of_a_run_is_refused_or_waits_and_never_computes_it_again(tmp_path):
    go = tmp_path / "go"
    first = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), "r1", str(go)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout.readline().strip() == "computing"
        calls: list[int] = []

        def compute():
            calls.append(1)
            return _run("r1")

        # Without waiting: refused at once, nothing computed or written.
        assert ensure_run(tmp_path, "r1", compute, blocking=False) == "busy"
        assert not run_file(tmp_path, "r1").exists()
        # Waiting: it waits for the first writer, then finds the run finished.
        out: dict[str, str] = {}
        waiter = threading.Thread(
            target=lambda: out.setdefault("s", ensure_run(tmp_path, "r1", compute))
        )
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not out  # still waiting for the lock
        go.write_text("go")
        waiter.join(timeout=60)
        assert first.stdout.readline().strip() == "ran"
    finally:
        go.write_text("go")
        first.wait(timeout=60)
    assert out == {"s": "done"} and calls == []
    assert run_file_problem(run_file(tmp_path, "r1"), "r1") is None


def test_a_stale_temp_file_is_removed_only_when_its_writer_is_dead(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid is no process
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        gone = tmp_path / f".summary.csv.tmp-{dead.pid}"
        kept = tmp_path / f".summary.csv.tmp-{live.pid}"
        figure = tmp_path / f".forest.tmp-{dead.pid}.png"  # the suffix-keeping form
        other = tmp_path / ".notes.txt"  # not a temp file's name
        for p in (gone, kept, figure, other):
            p.write_bytes(b"partial")
        removed = remove_stale_temp_files(tmp_path)
        assert sorted(removed) == sorted([gone, figure])
        assert kept.exists() and other.exists()
    finally:
        live.kill()
        live.wait()
    # Its writer gone, the live one's leftover is stale too.
    assert remove_stale_temp_files(tmp_path) == [kept]


def test_a_temp_file_in_the_store_is_removed_only_when_its_run_lock_is_free(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    # Both named with pid 1, which is alive: in runs/ the run's lock, not the pid, decides.
    free = runs / ".aaaa.parquet.tmp-1"
    held = runs / ".bbbb.parquet.tmp-1"
    free.write_bytes(b"partial")
    held.write_bytes(b"partial")
    code = (
        "import sys, time; from peerwell.scenarios.experiments.store import run_lock\n"
        f"with run_lock({str(tmp_path)!r}, 'bbbb'):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert clean_store(tmp_path) == 1
        assert not free.exists() and held.exists()
    finally:
        holder.kill()
        holder.wait()
    assert clean_store(tmp_path) == 1 and not held.exists()
    assert not (tmp_path / ".locks").exists()


@pytest.mark.parametrize("sidecar", [True, False])
def test_a_truncated_or_swapped_run_file_is_not_finished_and_is_run_again(tmp_path, sidecar):
    for rid in ("aaaa", "bbbb"):
        assert ensure_run(tmp_path, rid, lambda rid=rid: _run(rid), sidecar=sidecar) == "ran"
    a, b = run_file(tmp_path, "aaaa"), run_file(tmp_path, "bbbb")
    assert read_run(a, "aaaa", 2)["run_id"].tolist() == ["aaaa"] * 3
    assert (a.with_suffix(".json")).exists() is sidecar

    a.write_bytes(a.read_bytes()[:200])  # truncated, as by a full disk
    assert "not a whole Parquet file" in run_file_problem(a, "aaaa")
    with pytest.raises(RunFileError, match="not a whole Parquet file"):
        read_run(a, "aaaa")
    assert ensure_run(tmp_path, "aaaa", lambda: _run("aaaa"), sidecar=sidecar) == "ran"
    assert run_file_problem(a, "aaaa") is None

    shutil.copyfile(b, a)  # another run's file under this run's name
    assert "bbbb" in run_file_problem(a, "aaaa")
    with pytest.raises(RunFileError, match="bbbb"):
        read_run(a, "aaaa")
    calls: list[int] = []

    def compute():
        calls.append(1)
        return _run("aaaa")

    assert ensure_run(tmp_path, "aaaa", compute, sidecar=sidecar) == "ran" and calls == [1]
    assert ensure_run(tmp_path, "aaaa", compute, sidecar=sidecar) == "done" and calls == [1]
    with pytest.raises(RunFileError, match="ends on day 2, expected day 5"):
        read_run(a, "aaaa", 5)


def test_check_store_runs_a_swapped_file_again(tmp_path):
    for rid in ("aaaa", "bbbb"):
        ensure_run(tmp_path, rid, lambda rid=rid: _run(rid))
    shutil.copyfile(run_file(tmp_path, "bbbb"), run_file(tmp_path, "aaaa"))
    checked = check_store(tmp_path, ["aaaa", "bbbb"])
    assert checked.finished == {"bbbb"}
    assert [name for name, _ in checked.repaired] == ["aaaa.parquet"]
    assert not run_file(tmp_path, "aaaa").exists()


def test_compare_and_sweep_write_runs_through_the_one_writer(tmp_path):
    assert sweep.ensure_run is replicates.ensure_run is store.ensure_run
    base = {"baseline": load_scenario("baseline", ["steps=5", "population.size=120"])}
    planned = replicates.plan(base, replicates.replicate_seeds(3, 1), tmp_path / "runs")
    frames = replicates.execute(planned, n_jobs=1, progress=False, notify=pytest.fail)
    (pr,) = planned
    assert pr.status == "ran" and len(frames[pr.run_id]) == 6
    # A comparison's run is, for the sweep's writer, a finished run of the same store.
    assert ensure_run(
        tmp_path, pr.run_id, lambda: pytest.fail("computed again"), sidecar=False
    ) == ("done")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [pr.path.name]
    again = replicates.plan(base, replicates.replicate_seeds(3, 1), tmp_path / "runs")
    replicates.execute(again, n_jobs=1, progress=False, notify=pytest.fail)
    assert again[0].status == "reused"


# ---------------------------------------------------------------------------------------------
# One seed policy


def test_replicate_seeds_do_not_depend_on_how_many_replicates_are_asked_for():
    assert replicates.replicate_seeds(11, 6)[:3] == replicates.replicate_seeds(11, 3)
    with pytest.raises(ValueError, match="replicates=0: need at least 1"):
        replicates.replicate_seeds(11, 0)


def test_calibrate_runs_its_replicates_on_the_one_seed_policy(monkeypatch):
    from peerwell.scenarios.evidence import calibrate as C

    seen: list[tuple[str, int]] = []
    monkeypatch.setattr(C, "probe", lambda p: seen.append((p.scenario.name, p.seed)) or {})
    result = C.calibrate(["steps=40", "population.size=120"], replicates=3, seed=5, n_jobs=1)
    want = replicates.replicate_seeds(5, 3)
    assert result["seeds"] == want
    for name in C.SCENARIOS:
        assert [s for n, s in seen if n == name] == want


def test_validate_runs_its_replicates_on_the_one_seed_policy(monkeypatch):
    from peerwell.scenarios.evidence import classic as V

    seeds: list[int] = []
    real = V.make_model

    def recording(overrides):
        seeds.append(overrides["seed"])
        return real(overrides)

    monkeypatch.setattr(V, "make_model", recording)
    V.validate_model("sir", {"population.size": 400, "seed": 21, "replicates": 2})
    assert seeds == replicates.replicate_seeds(21, 2)
