"""`peerwell sweep` and `peerwell collect`: launchers, resume after SIGKILL, the tidy table, bad input.

Sweeps are small (300-800 people, 20-40 days, a few runs) and run through the real command, as a
user runs them.
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

import numpy as np
import pandas as pd
import pytest
from util import peerwell_here, peerwell_inprocess

from peerwell.scenarios.experiments import design as dz
from peerwell.scenarios.experiments.store import clean_store, ensure_run, run_lock
from peerwell.scenarios.experiments.sweep import design_spec
from peerwell.simulation.errors import ConfigError

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
SMALL = ["steps=20", "population.size=300"]
GRID = [
    "communities.moderation=0,1",
    "communities.misinformation_prevalence=0.02,0.2",
    "seed=1,2",
]


def peerwell(*args, timeout=600):
    return subprocess.run(
        [PEERWELL, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=timeout
    )


def run_files(sweep_dir: Path) -> list[Path]:
    return sorted((sweep_dir / "runs").glob("*.parquet"))


def temp_files(sweep_dir: Path) -> list[Path]:
    return [p for p in sweep_dir.rglob("*") if ".tmp" in p.name or p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """A 2 x 2 x 2 grid (moderation x misinformation prevalence x seed) with joblib, collected."""
    d = tmp_path_factory.mktemp("grid")
    r = peerwell_inprocess("sweep", "-m", *GRID, *SMALL, f"hydra.sweep.dir={d}")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    c = peerwell_inprocess("collect", str(d))
    assert c.returncode == 0, c.stderr
    return d, r, c


# ---------------------------------------------------------------------------------------------
# Launchers


def test_joblib_grid_gives_every_combination_once(grid_sweep):
    d, r, _ = grid_sweep
    files = run_files(d)
    assert len(files) == 8
    plan = json.loads((d / "sweep.json").read_text())
    assert plan["n_runs"] == 8 and {f.stem for f in files} == {x["run_id"] for x in plan["runs"]}
    assert "8 runs" in r.stdout and "8 new" in r.stdout
    assert not temp_files(d)
    # Each run recorded the launcher and the overrides of its job.
    meta = json.loads(files[0].with_suffix(".json").read_text())
    assert meta["sweep"]["launcher"] == "joblib"
    assert any(o.startswith("communities.moderation=") for o in meta["sweep"]["overrides"])


def test_submitit_local_gives_the_same_runs_and_results(grid_sweep, tmp_path):
    d, _, _ = grid_sweep
    s = tmp_path / "submitit"
    # A subset of the joblib grid (submitit_local starts every job at once: keep it small).
    r = peerwell(
        "sweep",
        "-m",
        "hydra/launcher=submitit_local",
        "communities.moderation=0,1",
        "communities.misinformation_prevalence=0.02",
        "seed=1",
        *SMALL,
        f"hydra.sweep.dir={s}",
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    files = run_files(s)
    assert len(files) == 2
    for f in files:
        twin = d / "runs" / f.name  # same scientific config and seed: same run_id
        assert twin.exists(), f"{f.name} not produced by the joblib sweep"
        pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(twin))
        assert json.loads(f.with_suffix(".json").read_text())["sweep"]["launcher"] == (
            "submitit_local"
        )
    assert not temp_files(s)


# ---------------------------------------------------------------------------------------------
# Resume


def test_sigkill_of_the_launcher_then_rerun_resumes_exactly_once(tmp_path):
    d = tmp_path / "killed"
    cmd = [
        PEERWELL,
        "sweep",
        "-m",
        "scenario=baseline,offline_only",
        "seed=range(1,5)",
        "steps=40",
        "population.size=800",
        f"hydra.sweep.dir={d}",
    ]
    # Own session, so that the orphaned loky workers can be cleaned up by group at the end.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        t0 = time.monotonic()
        while not run_files(d) and time.monotonic() - t0 < 300:
            time.sleep(0.02)
        assert run_files(d), "the sweep wrote no run before the kill"
        os.kill(proc.pid, signal.SIGKILL)  # the launcher (driver); its workers live on
        proc.wait()
        # A writer killed between write and rename leaves a temp file; a truncated run file is
        # what a broken copy or disk leaves: the rerun must remove the one and redo the other.
        first = run_files(d)[0]
        (d / "runs" / f".{first.stem}.parquet.tmp-999999").write_bytes(b"partial")
        (d / "runs" / ".0123456789abcdef.parquet.tmp-4242").write_bytes(b"partial")
        truncated = first.read_bytes()[:100]
        first.write_bytes(truncated)
        kept = {f.name: f.stat().st_mtime_ns for f in run_files(d) if f != first}

        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        files = run_files(d)
        plan = json.loads((d / "sweep.json").read_text())
        assert len(files) == 8
        assert {f.stem for f in files} == {x["run_id"] for x in plan["runs"]}
        assert first.read_bytes() != truncated  # redone, not trusted
        # Finished runs were skipped, not redone (the orphaned workers of the killed launcher may
        # have finished the runs they held meanwhile: those count as finished too).
        assert all(os.stat(d / "runs" / n).st_mtime_ns == t for n, t in kept.items())
        new, there = map(int, re.search(r"\((\d+) new, (\d+) already there\)", r.stdout).groups())
        assert new + there == 8 and there >= len(kept)
        assert not temp_files(d), temp_files(d)
        assert not (d / ".locks").exists()
        c = peerwell("collect", str(d))
        assert c.returncode == 0 and "skipped" not in c.stdout, c.stdout + c.stderr
        df = pd.read_parquet(d / "collected.parquet")
        assert df["run_id"].nunique() == 8 and not df.duplicated(["run_id", "step"]).any()
        assert (df.groupby(["scenario", "seed"])["run_id"].nunique() == 1).all()
    finally:
        with_suppressed_kill(proc.pid)


def with_suppressed_kill(pgid: int) -> None:
    """End what is left of the process group this test started (orphaned loky workers)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_job_refuses_a_run_the_plan_does_not_hold(tmp_path, capsys, monkeypatch):
    # As if a scenario file or the model changed between the plan and the job (a cluster queue).
    import peerwell.scenarios.experiments.sweep as sweep

    monkeypatch.setattr(sweep, "_planned_run_ids", lambda _d: frozenset({"0" * 16}))
    d = tmp_path / "drift"
    code, out = peerwell_here(
        capsys, "sweep", "seed=1", *SMALL, "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={d}"
    )
    assert code == 1
    assert "not in the sweep's plan" in out and "Traceback" not in out
    assert not list(d.rglob("*.parquet"))


# ---------------------------------------------------------------------------------------------
# The store under concurrency


def test_a_run_is_computed_once_while_another_writer_holds_it(tmp_path):
    import threading

    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return pd.DataFrame({"run_id": ["r1"], "step": [0], "y": [1.0]}), {"run_id": "r1"}

    # Another process holding the lock is modelled by a child process taking it.
    code = (
        "import sys, time; from peerwell.scenarios.experiments.store import run_lock\n"
        f"with run_lock({str(tmp_path)!r}, 'r1'):\n"
        "    print('locked', flush=True); time.sleep(1.0)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    with run_lock(tmp_path, "r1", blocking=False) as got:
        assert not got  # held by the child
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("s", ensure_run(tmp_path, "r1", compute)))
    t.start()
    t.join()
    child.wait()
    assert out["s"] == "ran" and len(calls) == 1
    assert ensure_run(tmp_path, "r1", compute) == "done" and len(calls) == 1
    assert clean_store(tmp_path) == 0 and not (tmp_path / ".locks").exists()


# ---------------------------------------------------------------------------------------------
# collect


def test_collect_has_one_row_per_run_and_step_with_the_swept_values(grid_sweep):
    d, _, _ = grid_sweep
    df = pd.read_parquet(d / "collected.parquet")
    csv = pd.read_csv(d / "collected.csv")
    assert len(csv) == len(df)
    assert list(df.columns[:4]) == ["run_id", "step", "scenario", "seed"]
    assert {"communities.moderation", "communities.misinformation_prevalence"} <= set(df.columns)
    assert "care_seeking_share" in df.columns and "activation_mean" in df.columns
    assert df["run_id"].nunique() == 8
    assert not df.duplicated(["run_id", "step"]).any()
    assert (df.groupby("run_id")["step"].apply(list) == [list(range(21))] * 8).all()
    # Swept values are the ones each run was given on the command line.
    for rid, rows in df.groupby("run_id"):
        meta = json.loads((d / "runs" / f"{rid}.json").read_text())
        given = dict(o.split("=", 1) for o in meta["sweep"]["overrides"])
        assert rows["communities.moderation"].unique().tolist() == [
            float(given["communities.moderation"])
        ]
        assert rows["communities.misinformation_prevalence"].unique().tolist() == [
            float(given["communities.misinformation_prevalence"])
        ]
        assert rows["seed"].unique().tolist() == [int(given["seed"])]
    combos = df.groupby(["communities.moderation", "communities.misinformation_prevalence", "seed"])
    assert combos["run_id"].nunique().eq(1).all() and combos.ngroups == 8
    # Trajectories are the runs' own, unchanged.
    one = pd.read_parquet(d / "runs" / f"{df['run_id'].iloc[0]}.parquet")
    mine = df[df["run_id"] == df["run_id"].iloc[0]].reset_index(drop=True)
    np.testing.assert_allclose(mine["care_seeking_share"], one["care_seeking_share"])


def test_two_parameter_sweep_gets_a_heatmap_of_the_horizon_mean(grid_sweep):
    d, _, c = grid_sweep
    assert "heatmap" in c.stdout
    png = d / "heatmap_care_seeking_share.png"
    assert png.stat().st_size > 5_000 and png.with_suffix(".svg").exists()
    grid = pd.read_csv(png.with_suffix(".csv"), index_col=0)
    grid.columns = grid.columns.astype(float)
    df = pd.read_parquet(d / "collected.parquet")
    last = df[df["step"] == 20]
    want = last.groupby(["communities.misinformation_prevalence", "communities.moderation"])[
        "care_seeking_share"
    ].mean()
    for (y, x), v in want.items():
        assert grid.loc[y, x] == pytest.approx(v)
    # And on request, for another outcome.
    r = peerwell_inprocess(
        "collect",
        str(d),
        "heatmap=communities.moderation,communities.misinformation_prevalence",
        "outcome=activation_mean",
    )
    assert r.returncode == 0, r.stderr
    assert (d / "heatmap_activation_mean.png").exists()


def test_collect_reports_and_skips_a_corrupt_run_file(grid_sweep, tmp_path, capsys):
    import shutil

    d, _, _ = grid_sweep
    copy = tmp_path / "copy"
    shutil.copytree(d / "runs", copy / "runs")
    bad = sorted((copy / "runs").glob("*.parquet"))[3]
    bad.write_bytes(bad.read_bytes()[:-40])  # truncated: no footer
    code, out = peerwell_here(capsys, "collect", str(copy))
    assert code == 0, out
    assert bad.name in out and "skipped" in out and "Traceback" not in out
    df = pd.read_parquet(copy / "collected.parquet")
    assert df["run_id"].nunique() == 7 and bad.stem not in set(df["run_id"])


def test_collect_refuses_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    code, out = peerwell_here(capsys, "collect", str(tmp_path))
    assert code == 2 and "runs/" in out and "Traceback" not in out


# ---------------------------------------------------------------------------------------------
# Designs


def test_lhs_design_runs_through_the_same_store(tmp_path, capsys):
    d = tmp_path / "lhs"
    r = peerwell_inprocess(
        "sweep",
        "design=lhs",
        "samples=6",
        "params=[communities.moderation,communities.hostility:0:0.5]",
        *SMALL,
        f"hydra.sweep.dir={d}",
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert len(run_files(d)) == 6
    design = pd.read_csv(d / "design.csv")
    from SALib.sample import latin

    want = latin.sample(
        {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 0.5]]}, 6, seed=0
    )
    np.testing.assert_allclose(design[["communities.moderation", "communities.hostility"]], want)
    # A Latin hypercube: one point in each of the 6 strata of every dimension.
    assert sorted((design["communities.moderation"] * 6).astype(int)) == list(range(6))
    assert sorted((design["communities.hostility"] / 0.5 * 6).astype(int)) == list(range(6))
    code, out = peerwell_here(capsys, "collect", str(d))
    assert code == 0, out
    df = pd.read_parquet(d / "collected.parquet")
    got = df.groupby("run_id")[["communities.moderation", "communities.hostility"]].first()
    np.testing.assert_allclose(
        np.sort(got.to_numpy(), axis=0), np.sort(design.iloc[:, 1:].to_numpy(), axis=0)
    )


def test_random_design_and_ranges_come_from_the_typed_metadata():
    spec = design_spec({"design": "random", "samples": 50, "params": ["communities.moderation"]})
    assert spec.ranges[0].lo == 0 and spec.ranges[0].hi == 1  # the declared range
    x = dz.design_matrix(spec)
    assert x.shape == (50, 1) and (x >= 0).all() and (x <= 1).all()
    np.testing.assert_array_equal(x, np.random.default_rng(0).uniform(0, 1, size=(50, 1)))
    # Integer parameters are rounded into their range.
    spec = design_spec(
        {"design": "lhs", "samples": 20, "params": ["communities.peer_supporters:0:5"]}
    )
    x = dz.design_matrix(spec)
    assert set(np.unique(x)) <= {0, 1, 2, 3, 4, 5}
    # Without params=, the documented default set, with its declared ranges.
    spec = design_spec({"design": "lhs", "samples": 4})
    from peerwell.scenarios.experiments.hooks import DEFAULT_PARAMS

    assert spec.names == list(DEFAULT_PARAMS)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"design": "lhs", "params": ["communities.moderation:0.5:0.5"]}, ["empty range"]),
        ({"design": "lhs", "params": ["communities.moderation:0:2"]}, ["declared range"]),
        ({"design": "lhs", "params": ["communities.moderaton"]}, ["communities.moderation"]),
        ({"design": "lhs", "params": ["mechanisms.entry"]}, ["numeric range"]),
        ({"design": "lhs", "samples": -3}, ["samples=-3"]),
        ({"design": "sobol", "samples": 100}, ["power of two", "samples=64"]),
        ({"design": "morris", "samples": 1}, ["samples=1", "SALib"]),
        ({"design": "morris", "samples": 4, "levels": 3}, ["levels"]),
        ({"design": "grid", "samples": 10}, ["design=lhs"]),
        ({"design": "cube"}, ["design='cube'", "lhs"]),
    ],
)
def test_bad_designs_are_clear_errors(options, words):
    with pytest.raises(ConfigError) as err:
        design_spec(options)
    for w in words:
        assert w in str(err.value), str(err.value)


# ---------------------------------------------------------------------------------------------
# Bad input on the command line: refused before any run starts


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-m", "no_such_param=1,2"], ["unknown parameter", "no_such_param"]),
        (["-m", "communities.moderaton=0,1"], ["communities.moderation"]),
        (["-m", "seed=range(1,1)"], ["empty range", "seed=range(1,1)"]),
        (["-m", "communities.moderation=0.5,1.5"], ["communities.moderation=1.5", "[0, 1]"]),
        (["-m", "communities.count=2,abc"], ["communities.count", "abc"]),
        (["-m", "scenario=baseline,no_such_scenario"], ["no_such_scenario", "baseline"]),
        (
            ["-m", "population.share_superuser=0.5,0.95", "population.share_contributor=0.09"],
            ["share_superuser", "at most 1"],
        ),
        (["design=sobol", "samples=100"], ["power of two"]),
        (["design=morris", "samples=1"], ["samples=1"]),
        (["design=lhs", "params=[communities.moderation:0.5:0.5]"], ["empty range"]),
        (["-m", "samples=10,20", "design=lhs"], ["samples", "cannot take several values"]),
    ],
)
def test_bad_sweep_input_is_refused_before_any_run(tmp_path, capsys, args, words):
    d = tmp_path / "bad"
    code, out = peerwell_here(capsys, "sweep", *args, *SMALL, f"hydra.sweep.dir={d}")
    assert code == 2, out
    assert "Traceback" not in out
    for w in words:
        assert w in out, f"{w!r} not in: {out}"
    assert not d.exists() or not list(d.rglob("*.parquet"))


def test_bad_sweep_value_is_a_clean_error_from_the_command(tmp_path):
    # End to end in a fresh process, as a user sees it: refused in the driver, before any job.
    d = tmp_path / "bad"
    r = peerwell("sweep", "-m", "communities.moderation=0.5,1.5", *SMALL, f"hydra.sweep.dir={d}")
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    assert "communities.moderation=1.5 is out of range" in r.stderr
    assert not d.exists() or not list(d.rglob("*.parquet"))


# ---------------------------------------------------------------------------------------------
# Configuration


def test_sweep_config_keeps_the_run_config_defaults():
    import yaml

    conf = Path(__file__).resolve().parents[1] / "conf"

    def groups(name):
        defaults = yaml.safe_load((conf / name).read_text())["defaults"]
        return [d for d in defaults if isinstance(d, dict) and not any("hydra" in k for k in d)]

    assert groups("sweep.yaml") == groups("config.yaml")


def test_slurm_preset_composes_with_partition_time_and_array_fields():
    from hydra import compose, initialize_config_module

    with initialize_config_module("peerwell.conf", version_base="1.3"):
        cfg = compose(
            "sweep",
            overrides=["hydra/launcher=slurm", "hydra.launcher.partition=short"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.partition == "short"
    assert launcher.timeout_min > 0 and launcher.array_parallelism > 0
    assert launcher.cpus_per_task == 1 and cfg.threads == 1


def test_heatmap_bins_a_sampled_design_and_averages_over_seeds():
    from peerwell.analysis.heatmap import horizon_grid

    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):  # 60 runs of a 2-parameter random design, 3 days each
        x, y = rng.uniform(0, 1), rng.uniform(0, 0.3)
        for step in range(3):
            rows.append({"run_id": f"r{i}", "step": step, "a": x, "b": y, "out": x + step})
    df = pd.DataFrame(rows)
    grid = horizon_grid(df, "a", "b", "out", bins=4)
    assert grid.shape[1] <= 4 and grid.shape[0] <= 4  # binned: more than 12 distinct values
    # Each cell is the mean over the runs in it, on the last day (step 2: out = a + 2).
    assert np.nanmin(grid.to_numpy()) >= 2 and np.nanmax(grid.to_numpy()) <= 3
    assert int(np.nansum(grid.attrs["n"].to_numpy())) == 60
    with pytest.raises(KeyError, match="columns"):
        horizon_grid(df, "a", "nope", "out")
