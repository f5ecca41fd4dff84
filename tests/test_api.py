"""The Python API and the CLI give identical results for the same scenario, seed and overrides.

``peerwell.run``, ``peerwell.compare`` and ``peerwell.sweep``/``peerwell.collect`` are compared
bit for bit with ``peerwell run``, ``peerwell compare`` and ``peerwell sweep`` + ``peerwell
collect`` run as commands; every way of writing an override gives the same run; a wrong key or
value raises ConfigError before anything runs.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import peerwell
from peerwell.simulation import ConfigError

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [PEERWELL, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy()
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def _runs(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted((folder / "runs").glob("*.parquet"))}


# ---------------------------------------------------------------------------------------------
# Identical results


def test_run_is_identical_to_peerwell_run(tmp_path):
    out = tmp_path / "cli"
    cli(
        "run",
        "scenario=moderated_community",
        "seed=11",
        "steps=40",
        "population.size=400",
        "communities.hostility=0.1",
        "network=barabasi_albert",
        f"output_dir={out}",
    )
    expected = pd.read_parquet(out / "trajectories.parquet")
    api = peerwell.run(
        "moderated_community",
        seed=11,
        steps=40,
        population__size=400,
        communities__hostility=0.1,
        network="barabasi_albert",
        output_dir=tmp_path / "api",
    )
    pd.testing.assert_frame_equal(api.trajectories, expected, check_exact=True)
    assert api.run_id == expected["run_id"].iloc[0]
    cli_meta = json.loads((out / "run.json").read_text())
    assert api.meta["config"] == cli_meta["config"]
    # What the API wrote is what the command writes.
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "api" / "trajectories.parquet"), expected, check_exact=True
    )
    assert (tmp_path / "api" / "trajectories.png").stat().st_size > 10_000


def test_every_way_of_writing_overrides_gives_the_same_run():
    kw = peerwell.run("baseline", seed=3, population__size=300, steps=15)
    mapping = peerwell.run("baseline", {"seed": 3, "population.size": 300, "steps": 15})
    strings = peerwell.run("baseline", ["seed=3", "population.size=300", "steps=15"])
    mixed = peerwell.run("baseline", {"population.size": 300}, seed=3, steps=15)
    for other in (mapping, strings, mixed):
        assert other.run_id == kw.run_id
        pd.testing.assert_frame_equal(other.trajectories, kw.trajectories, check_exact=True)
    model = peerwell.make_model("baseline", seed=3, population__size=300, steps=15)
    model.run_model()
    assert (
        model.trajectories()["activation_mean"].tolist()
        == kw.trajectories["activation_mean"].tolist()
    )


def test_compare_summary_is_identical_to_peerwell_compare(tmp_path):
    a, b = tmp_path / "cli", tmp_path / "api"
    cli(
        "compare",
        "scenarios=[baseline,offline_only]",
        "replicates=2",
        "seed=5",
        "population.size=300",
        "steps=30",
        "n_jobs=1",
        "figures=false",
        f"output_dir={a}",
    )
    result = peerwell.compare(
        ["baseline", "offline_only"],
        replicates=2,
        seed=5,
        population__size=300,
        steps=30,
        n_jobs=1,
        figures=False,
        output_dir=b,
    )
    cli_summary = (a / "summary.csv").read_text()
    assert (b / "summary.csv").read_text() == cli_summary
    assert result.summary.to_csv(index=False) == cli_summary
    runs_a, runs_b = _runs(a), _runs(b)
    assert set(runs_a) == set(runs_b) == set(result.runs["run_id"])
    for rid, df in runs_a.items():
        pd.testing.assert_frame_equal(runs_b[rid], df, check_exact=True)
    assert set(result.differences()["scenario"]) == {"offline_only"}
    assert "## Findings" in result.report


def test_sweep_collects_the_table_peerwell_collect_writes(tmp_path):
    a, b = tmp_path / "cli", tmp_path / "api"
    cli(
        "sweep",
        "-m",
        "communities.moderation=0,1",
        "seed=1,2",
        "population.size=300",
        "steps=20",
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={a}",
    )
    cli("collect", str(a))
    got = peerwell.sweep(
        b,
        {"communities.moderation": [0, 1], "seed": range(1, 3)},
        population__size=300,
        steps=20,
        n_jobs=1,
    )
    expected = pd.read_parquet(a / "collected.parquet")
    pd.testing.assert_frame_equal(got.table, expected, check_exact=True)
    assert (b / "collected.csv").read_text() == (a / "collected.csv").read_text()
    assert got.runs == 4 and got.swept == ["communities.moderation"]
    again = peerwell.collect(b)  # collecting again gives the same table
    pd.testing.assert_frame_equal(again.table, got.table, check_exact=True)


# ---------------------------------------------------------------------------------------------
# Errors before anything runs


@pytest.mark.parametrize(
    "call",
    [
        lambda: peerwell.run("baseline", population__sise=300),
        lambda: peerwell.run("baseline", {"no_such.key": 1}),
        lambda: peerwell.run("baseline", ["communities.moderatio=0.5"]),
        lambda: peerwell.load_scenario("baseline", nope=1),
        lambda: peerwell.make_model("baseline", population__sise=300),
        lambda: peerwell.compare(["baseline", "offline_only"], replicates=2, populaton__size=300),
        lambda: peerwell.sweep("/tmp/peerwell-never-made", {"population.sise": [100, 200]}),
        lambda: peerwell.sensitivity(
            "morris", output_dir="/tmp/peerwell-never-made-sa", population__sise=100
        ),
    ],
    ids=["run-kwargs", "run-mapping", "run-strings", "load", "model", "compare", "sweep", "sa"],
)
def test_an_unknown_override_raises_config_error(call):
    with pytest.raises(ConfigError, match=r"(?i)unknown|sise|moderatio|nope|populaton|no_such"):
        call()
    assert not Path("/tmp/peerwell-never-made").exists()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"communities__moderation": 1.5}, ["communities.moderation", "1.5"]),
        ({"population__size": "many"}, ["population.size"]),
        ({"steps": -1}, ["steps"]),
    ],
)
def test_a_bad_value_raises_config_error_naming_it(kwargs, words):
    with pytest.raises(ConfigError) as err:
        peerwell.run("baseline", **kwargs)
    for w in words:
        assert w in str(err.value)


def test_an_unknown_scenario_raises_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError, match="baseline"):
        peerwell.run("no_such_scenario")


def test_override_strings_write_what_the_command_line_types():
    assert peerwell.override_strings({"population.size": 500}, communities__moderation=0.5) == [
        "population.size=500",
        "communities.moderation=0.5",
    ]
    assert peerwell.override_strings(seed=range(1, 4), sweep=True) == ["seed=1,2,3"]
    assert peerwell.override_strings(params=["a", "b:0:1"], sweep=True) == ["params=[a,b:0:1]"]
    assert peerwell.override_strings(x=True, y=None, z="two words", w="1") == [
        "x=true",
        "y=null",
        "z='two words'",
        "w='1'",
    ]
    with pytest.raises(ConfigError, match="twice"):
        peerwell.override_strings({"seed": 1}, seed=2)
    with pytest.raises(ConfigError, match="empty"):
        peerwell.override_strings(seed=[], sweep=True)


# ---------------------------------------------------------------------------------------------
# What is public


def test_the_public_names_resolve_and_are_documented():
    import peerwell.analysis
    import peerwell.scenarios
    import peerwell.simulation

    for package in (peerwell, peerwell.simulation, peerwell.scenarios, peerwell.analysis):
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert (obj.__doc__ or "").strip(), f"{package.__name__}.{name} has no docstring"
    for name in ("run", "compare", "sweep", "collect", "sensitivity", "load_scenario"):
        doc = getattr(peerwell, name).__doc__
        for section in ("Parameters", "Returns", "Raises", "Examples"):
            assert section in doc, f"peerwell.{name}: no {section} section"


def test_the_package_lists_every_name_of_the_api():
    # peerwell/__init__.py names the API without importing it (lazy): the two lists must agree.
    import peerwell.api

    assert set(peerwell.api.__all__) <= set(peerwell.__all__)
    assert set(peerwell.__all__) - set(peerwell.api.__all__) == {
        "__version__", "ConfigError", "PeerwellError", "PeerwellModel"
    }  # fmt: skip


def test_no_public_name_hides_a_submodule():
    import pkgutil

    import peerwell.analysis
    import peerwell.scenarios
    import peerwell.simulation

    for package in (peerwell, peerwell.simulation, peerwell.scenarios, peerwell.analysis):
        modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        assert not set(package.__all__) & modules, package.__name__


def test_importing_peerwell_stays_light():
    code = "import sys, peerwell; print(sorted(m for m in ('hydra', 'pandas', 'numba') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_results_plot_and_list_tables():
    import matplotlib.figure

    r = peerwell.run("baseline", seed=1, **{"population.size": 200, "steps": 10})
    assert isinstance(r.plot(), matplotlib.figure.Figure)
    assert r.start_end().columns[0] == "outcome"
    scenarios = peerwell.list_scenarios()
    assert scenarios["scenario"].iloc[0] == "baseline"
    assert scenarios["description"].str.startswith("Question:").all()
    params = peerwell.list_params(["communities", "care"])
    assert set(params["group"]) == {"communities", "care"}
    with pytest.raises(ConfigError, match="unknown parameter group"):
        peerwell.list_params("nope")


# ---------------------------------------------------------------------------------------------
# Errors come from the engine as exceptions, not from a command's printed output


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda d: peerwell.run("baseline", communities__moderation=5), ["communities.moderation"]),
        (
            lambda d: peerwell.sweep(
                d, {"communities.moderation": [0, 5]}, steps=3, population__size=100
            ),
            ["communities.moderation", "5"],
        ),
        (
            lambda d: peerwell.sweep(d, {"seed": range(1, 3)}, population__size="many"),
            ["population.size"],
        ),
        (
            lambda d: peerwell.sensitivity("morris", output_dir=d, outcome="no_such_outcome"),
            ["no_such_outcome"],
        ),
    ],
    ids=["run", "sweep-range", "sweep-type", "sensitivity-outcome"],
)
def test_a_refused_value_is_a_config_error_and_nothing_is_printed(tmp_path, capfd, call, words):
    with pytest.raises(ConfigError) as err:
        call(tmp_path / "sweep")
    for w in words:
        assert w in str(err.value)
    assert "peerwell: error" not in str(err.value)
    out, err_text = capfd.readouterr()
    assert err_text == "" and out == ""
    assert not (tmp_path / "sweep" / "runs").exists()


def test_a_sweep_into_a_busy_folder_is_a_command_error(tmp_path, capfd):
    import threading

    from peerwell.scenarios.experiments.store import FolderBusy, folder_lock

    held, done = threading.Event(), threading.Event()

    def other_writer():  # another thread of the process is another writer
        with folder_lock(tmp_path):
            held.set()
            done.wait(60)

    writer = threading.Thread(target=other_writer)
    writer.start()
    try:
        assert held.wait(60)
        with pytest.raises(peerwell.CommandError) as err:
            peerwell.sweep(tmp_path, {"seed": [1]}, steps=3, population__size=100)
    finally:
        done.set()
        writer.join()
    assert isinstance(err.value.__cause__, FolderBusy)
    assert str(tmp_path) in str(err.value)
    assert capfd.readouterr().err == ""
