"""Sweep results never silently pool (issue 24): a sweep without ``hydra.sweep.dir`` gets a folder
of its own, and ``collect`` refuses a folder holding sweeps of different designs unless asked."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from util import peerwell_inprocess

from peerwell.scenarios.experiments.collect import CollectError, collect
from peerwell.scenarios.experiments.sweep import default_sweep_dir, parse_overrides

SMALL = ["steps=3", "population.size=120"]


def folder(*args: str) -> str:
    return str(Path(default_sweep_dir(parse_overrides(list(args)))).relative_to(Path.cwd()))


def test_the_default_folder_is_the_same_for_the_same_runs_and_another_for_other_runs():
    a = folder("seed=1,2", "steps=5")
    assert a.startswith("multirun/baseline/sweep-")
    # Order, and how the runs are shared out, do not choose the runs: the same folder (resume).
    assert folder("steps=5", "seed=1,2", "batches=3", "hydra.launcher.n_jobs=1") == a
    # Another value, another key, another scenario: a folder of its own.
    assert folder("seed=1,2,3", "steps=5") != a
    assert folder("seed=1,2", "steps=6") != a
    assert folder("seed=1,2", "steps=5", "communities.moderation=0.5") != a
    assert folder("seed=1,2", "scenario=hostile_environment").startswith(
        "multirun/hostile_environment/sweep-"
    )
    assert folder("scenario=baseline,offline_only").startswith("multirun/scenarios/sweep-")


@pytest.fixture(scope="module")
def two_default_sweeps(tmp_path_factory):
    """Two different sweeps run from the same folder without hydra.sweep.dir."""
    import os

    here = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(here)
    try:
        first = peerwell_inprocess("sweep", "-m", "seed=1,2", *SMALL)
        second = peerwell_inprocess("sweep", "-m", "communities.moderation=0.1,0.9", *SMALL)
        again = peerwell_inprocess("sweep", "-m", "seed=1,2", *SMALL)
    finally:
        os.chdir(before)
    return here, first, second, again


def test_two_sweeps_without_a_folder_do_not_pool(two_default_sweeps):
    here, first, second, again = two_default_sweeps
    assert first.returncode == second.returncode == again.returncode == 0, second.text
    folders = sorted(p.parent.name for p in (here / "multirun/baseline").glob("*/runs"))
    assert len(folders) == 2, folders
    for d in (here / "multirun/baseline").glob("sweep-*"):
        assert len(list((d / "runs").glob("*.parquet"))) == 2
    # The same command again resumes its own folder: nothing new is run.
    assert "(0 new, 2 already there)" in again.stdout


def test_collect_refuses_a_folder_with_two_designs_and_merges_when_asked(tmp_path):
    d = tmp_path / "pooled"
    for grid in ("seed=1,2", "communities.moderation=0.1,0.9"):
        r = peerwell_inprocess("sweep", "-m", grid, *SMALL, f"hydra.sweep.dir={d}")
        assert r.returncode == 0, r.text
    designs = json.loads((d / "sweep.json").read_text())["designs"]
    assert [x["swept"] for x in designs] == [[], ["communities.moderation"]]
    with pytest.raises(CollectError, match=r"2 sweeps of different designs.*mixed=true"):
        collect(d)
    r = peerwell_inprocess("collect", str(d))
    assert r.returncode == 2 and "different designs" in r.stderr
    assert not (d / "collected.parquet").exists()
    r = peerwell_inprocess("collect", str(d), "mixed=true")
    assert r.returncode == 0, r.text
    assert pd.read_parquet(d / "collected.parquet")["run_id"].nunique() == 4


def test_a_sweep_extended_with_more_seeds_is_one_design(tmp_path):
    d = tmp_path / "extended"
    for grid in ("seed=1,2", "seed=3"):
        r = peerwell_inprocess("sweep", "-m", grid, *SMALL, f"hydra.sweep.dir={d}")
        assert r.returncode == 0, r.text
    assert len(json.loads((d / "sweep.json").read_text())["designs"]) == 1
    assert collect(d).runs == 3
