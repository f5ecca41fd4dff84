"""`peerwell run`: the contract other tools rely on, and clean errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from peerwell.scenarios.cli.core import load_commands, main

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
CONTRACT_COLUMNS = [
    "step",
    "activation_mean",
    "care_seeking_share",
    "in_care_share",
    "wellbeing_mental_mean",
    "wellbeing_physical_mean",
    "self_stigma_mean",
    "belonging_mean",
    "misinformation_belief_mean",
    "online_share",
]


def peerwell(*args, cwd=None):
    return subprocess.run(
        [PEERWELL, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy()
    )


def test_run_writes_the_contract_files(tmp_path):
    out = tmp_path / "run"
    r = peerwell("run", "seed=7", "steps=30", "population.size=600", f"output_dir={out}")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out / "trajectories.parquet")
    assert set(CONTRACT_COLUMNS) <= set(df.columns)
    assert list(df["step"]) == list(range(31))
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 7 and meta["config"]["steps"] == 30
    assert (out / "trajectories.png").stat().st_size > 10_000
    assert "activation_mean" in r.stdout  # the printed summary table


@pytest.mark.parametrize(
    ("arg", "words"),
    [
        ("population.size=-5", ["population.size", "-5", "1"]),
        ("population.size=abc", ["population.size", "abc"]),
        ("no_such_key=1", ["no_such_key"]),
        ("steps=-1", ["steps", "-1"]),
        ("communities.moderation=1.5", ["communities.moderation", "1.5", "[0, 1]"]),
        ("population.share_bipolar=0.9", ["sum to 1"]),
        ("network=edgelist", ["network.path"]),
        ("network=edgelist network.path=/no/such/file.txt", ["/no/such/file.txt"]),
        ("scenario=no_such_scenario", ["no_such_scenario", "baseline"]),
    ],
)
def test_bad_input_is_a_clear_error_without_traceback(tmp_path, arg, words):
    # Defaults first: in Hydra the last override wins, and the bad one must be the one that counts.
    r = peerwell(
        "run", "steps=3", "population.size=200", *arg.split(), f"output_dir={tmp_path / 'x'}"
    )
    text = r.stdout + r.stderr
    assert r.returncode != 0
    assert "Traceback" not in text
    for w in words:
        assert w in text, f"{w!r} not in: {text}"
    assert not (tmp_path / "x" / "trajectories.parquet").exists()


def test_malformed_edge_list_names_file_and_line(tmp_path):
    f = tmp_path / "net.txt"
    f.write_text("# people\n0 1\n1 2\n2 x\n")
    r = peerwell(
        "run",
        "network=edgelist",
        f"network.path={f}",
        "population.size=10",
        "steps=2",
        f"output_dir={tmp_path / 'o'}",
    )
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert f"{f}:4" in r.stderr


def test_user_edge_list_runs(tmp_path):
    f = tmp_path / "net.txt"
    f.write_text("\n".join(f"{i} {(i + 1) % 50}" for i in range(50)) + "\n")
    out = tmp_path / "o"
    r = peerwell(
        "run",
        "network=edgelist",
        f"network.path={f}",
        "population.size=50",
        "steps=5",
        f"output_dir={out}",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "run.json").read_text())["ties"] == 50


def test_help_lists_commands():
    r = peerwell("--help")
    assert r.returncode == 0 and "run" in r.stdout


@pytest.mark.parametrize("command", sorted(load_commands()))
def test_every_command_answers_help(command, capsys):
    # The CLI reference of the docs is built from these; `--help` must never start the work.
    try:
        code = main([command, "--help"])
    except SystemExit as exc:  # Hydra apps exit after printing their help
        code = exc.code
    assert code in (0, None)
    out = capsys.readouterr().out
    assert "usage" in out.lower() or "peerwell" in out.lower()


def test_each_command_is_found_in_its_own_module():
    # `peerwell CMD` imports only CMD's module (COMMAND_HOMES); a command added to a module's
    # COMMANDS but not to COMMAND_HOMES would be "unknown" on the command line.
    from peerwell.scenarios.cli import core as cli

    homes = {name: home for home in cli.COMMAND_MODULES for name in import_commands(home)}
    assert cli.COMMAND_HOMES == homes  # each command where the table says, and no command missing
    assert set(load_commands()) == set(cli.COMMANDS) | set(homes)


def import_commands(module: str) -> dict:
    import importlib

    return importlib.import_module(module).COMMANDS


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "population.size=-5"], "population.size"),
        (["validate", "model=nope"], "nope"),
        (["validate", "model=sis", "r0=abc"], "r0"),
    ],
)
def test_a_wrong_value_is_refused_before_the_model_loads(args, named):
    # A typo must not wait for Mesa, Numba and seaborn to load (seconds on a laptop) to be told.
    code = (
        "import sys\n"
        "from peerwell.scenarios.cli.core import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 2, exc.code\n"
        "heavy = ('mesa', 'numba', 'seaborn', 'scipy.stats', 'scipy.optimize')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert named in r.stderr
