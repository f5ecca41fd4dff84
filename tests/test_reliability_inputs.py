"""Bad input, tried on purpose: whole configs, scenario files, network files, code from config.

Every bad input must end in peerwell's own error (``ConfigError`` / ``NetworkFileError``, or one
clear line from the command) naming what is wrong — never a Numba or numpy traceback, never a run
that silently goes on. The counts for the issue's note are printed at the end of the module.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import tracemalloc
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from util import peerwell_here

from peerwell.scenarios.config import RunConfig, params_from_cfg
from peerwell.simulation.errors import ConfigError, NetworkFileError
from peerwell.simulation.network import read_edgelist, read_graphml
from peerwell.simulation.params import ModelParams, iter_fields

TRIED: dict[str, set[str]] = {}  # kind of input -> the distinct inputs tried (for the note)


def tried(kind: str, what) -> None:
    TRIED.setdefault(kind, set()).add(repr(what))


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    total = sum(len(v) for v in TRIED.values())
    detail = ", ".join(f"{k}: {len(v)}" for k, v in sorted(TRIED.items()))
    print(f"\ndistinct bad inputs tried by test_reliability_inputs.py: {total} ({detail})")


# ---------------------------------------------------------------------------------------------
# Whole configs: wrong types, out of range, NaN/inf, unknown keys, contradictions

FIELDS = list(iter_fields(ModelParams()))
NUMERIC = [
    (n, v, m) for n, v, m in FIELDS if isinstance(v, (int, float)) and not isinstance(v, bool)
]
SWITCHES = [n for n, v, _ in FIELDS if isinstance(v, bool)]
KNOWN = {n for n, _, _ in FIELDS} | {f.name for f in dataclasses.fields(RunConfig)}


@st.composite
def bad_number(draw):
    name, default, meta = draw(st.sampled_from(NUMERIC))
    lo, hi = meta["lo"], meta["hi"]
    choices = [math.nan, math.inf, -math.inf, "abc", "1e3x", "", None, [1, 2], {"a": 1}, True]
    if lo is not None:
        choices += [lo - 1, lo - 1e-6 if isinstance(default, float) else lo - 1, -(10**6)]
    if hi is not None:
        choices += [hi + 1, hi * 10 + 1, 10**30]
    if isinstance(default, int):
        choices += [1.5, "nan", "2.5"]
    else:
        choices += ["nan", "inf", "-inf"]
    value = draw(st.sampled_from(choices))
    return {name: value}, [name]


@st.composite
def bad_switch(draw):
    name = draw(st.sampled_from(SWITCHES))
    # (Integers are switches to OmegaConf: 0 is off, any other is on; see the report.)
    return {name: draw(st.sampled_from(["maybe", 0.5, 1.0, None, [True], "yes please"]))}, [name]


@st.composite
def bad_choice(draw):
    which = draw(st.sampled_from(["kind", "platforms"]))
    if which == "kind":
        value = draw(st.sampled_from(["lattice", "SBM", 3, None, ["sbm"]]))
        return {"network.kind": value}, ["network.kind"]
    value = draw(st.sampled_from([["myspace"], [], "twitter", [1], [None], {"a": 1}]))
    return {"communities.platforms": value}, ["communities.platforms"]


@st.composite
def unknown_key(draw):
    word = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
    group = draw(st.sampled_from(["", "population.", "communities.", "exchange.", "mechanisms."]))
    name = group + word
    if name in KNOWN or word in {f.name for f in dataclasses.fields(RunConfig)}:
        name = group + word + "_typo"
    return {name: draw(st.sampled_from([1, 0.5, "x", True]))}, [word]


@st.composite
def contradiction(draw):
    kind = draw(st.sampled_from([
        "more communities than people", "intervention communities", "degree above people",
        "diagnosis mix", "roles", "care shares", "edge list without file",
    ]))  # fmt: skip
    n = draw(st.integers(1, 60))
    if kind == "more communities than people":
        return {"population.size": n, "communities.count": n + draw(st.integers(1, 50))}, [
            "communities.count"
        ]
    if kind == "intervention communities":
        k = draw(st.integers(1, 10))
        return {
            "communities.count": k,
            "communities.intervention_communities": k + draw(st.integers(1, 5)),
        }, ["intervention_communities"]
    if kind == "degree above people":
        n = max(n, 2)
        degree = float(n + draw(st.integers(0, 40)))
        return {"population.size": n, "communities.count": 1, "network.mean_degree": degree}, [
            "network.mean_degree"
        ]
    if kind == "diagnosis mix":
        x = draw(st.floats(0.0, 1.0).filter(lambda v: abs(v - 0.3) > 1e-3))
        return {"population.share_bipolar": x}, ["sum to 1"]
    if kind == "roles":
        x = draw(st.floats(0.51, 1.0))
        return {"population.share_superuser": x, "population.share_contributor": x}, [
            "share_superuser"
        ]
    if kind == "care shares":
        x = draw(st.floats(0.51, 1.0))
        return {"population.share_in_care": x, "population.share_seeking": x}, ["share_in_care"]
    return {"network.kind": "edgelist"}, ["network.path"]


@st.composite
def bad_event(draw):
    steps = draw(st.integers(1, 400))
    kind = draw(st.sampled_from([
        "after the horizon", "before day 0", "unknown parameter", "bad value", "wrong type",
        "structural", "unknown event key", "not a group",
    ]))  # fmt: skip
    event = {"day": draw(st.integers(0, steps)), "param": "communities.moderation", "value": 0.5}
    names = ["scenario event"]
    if kind == "after the horizon":
        event["day"] = steps + draw(st.integers(1, 10_000))
        names = ["outside the run"]
    elif kind == "before day 0":
        event["day"] = -draw(st.integers(1, 100))
        names = ["outside the run"]
    elif kind == "unknown parameter":
        event["param"] = draw(st.sampled_from(["communities.moderaton", "exchange.nope"]))
        names = [event["param"]]
    elif kind == "bad value":
        event["value"] = draw(st.sampled_from([math.nan, math.inf, -0.5, 1.5, 10**9]))
    elif kind == "wrong type":
        event["value"] = draw(st.sampled_from(["high", [0.5], True]))
    elif kind == "structural":
        event["param"], event["value"] = "communities.count", 3
        names = ["cannot change"]
    elif kind == "unknown event key":
        event["dya"] = 3
        names = ["dya"]
    else:
        event["param"] = draw(st.sampled_from(["moderation", "population.size", "a.b.c"]))
        names = ["GROUP.NAME"]
    return {"steps": steps, "scenario.events": [event]}, names


mutation = st.one_of(bad_number(), bad_switch(), bad_choice(), unknown_key(), contradiction(),
                     bad_event())  # fmt: skip


def combine(mutations) -> tuple[dict, list[str]]:
    """Apply mutations in turn; one that touches a key an earlier one set is left out."""
    flat: dict = {}
    names: list[str] = []
    for values, words in mutations:
        if set(values) & set(flat):
            continue
        flat.update(values)
        names += words
    return flat, names


def nested(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *groups, leaf = key.split(".")
        node = out
        for g in groups:
            node = node.setdefault(g, {})
        node[leaf] = value
    return out


def assert_names_one_of(exc: Exception, names: list[str], given) -> None:
    text = str(exc)
    assert any(n in text for n in names), f"{text!r} names none of {names} (config {given!r})"
    assert "Traceback" not in text and "numba" not in text.lower()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_fuzzed_whole_configs_end_in_a_config_error_naming_the_field(mutations):
    flat, names = combine(mutations)
    tried("whole config (params_from_cfg)", flat)
    cfg = OmegaConf.create(nested(flat))
    with pytest.raises(ConfigError) as err:
        params_from_cfg(cfg)
    assert_names_one_of(err.value, names, flat)


def hydra_value(v) -> str:
    """A value in Hydra's override grammar."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(v, list):
        return "[" + ",".join(hydra_value(x) for x in v) + "]"
    return "{" + ",".join(f"{k}:{hydra_value(x)}" for k, x in v.items()) + "}"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(mutation, min_size=1, max_size=3),
    st.sampled_from(["baseline", "moderated_community", "offline_only", "no_hostility"]),
    st.booleans(),
)
def test_fuzzed_configs_through_hydra_end_in_a_config_error_naming_the_field(
    mutations, scenario, as_strings
):
    """The real composition path: Hydra composes the scenario, the overrides go on top."""
    from peerwell.scenarios.catalogue import load_scenario

    flat, names = combine(mutations)
    tried("whole config (Hydra compose)", (scenario, as_strings, flat))
    overrides = [f"{k}={hydra_value(v)}" for k, v in flat.items()] if as_strings else flat
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario, overrides)
    assert_names_one_of(err.value, names, overrides)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("communities.moderaton=0.5", ["'communities.moderaton'", "moderation, hostility"]),
        # Hydra's own advice for the above; "+" adds a key past the schema, which the conversion
        # to parameters used to drop silently: the run went on without the typo's value.
        ("+communities.moderaton=0.5", ["'communities.moderaton'", "moderation, hostility"]),
        ("+bogus=1", ["'bogus'", "population, communities"]),
        ("+scenario.extra=1", ["'scenario.extra'", "name, description, events"]),
        ("communities.platforms={a:1}", ["communities.platforms"]),
    ],
)
def test_an_unknown_or_misshapen_key_on_the_command_line_lists_what_exists(
    tmp_path, capsys, override, words
):
    from peerwell.scenarios.cli.core import main

    tried("command line", override)
    with pytest.raises(SystemExit) as exc:
        main(["run", override, "steps=2", "population.size=30", f"output_dir={tmp_path / 'o'}"])
    text = "".join(capsys.readouterr())
    assert exc.value.code != 0 and "Traceback" not in text and "To append" not in text
    for w in words:
        assert w in text, text
    assert not (tmp_path / "o" / "trajectories.parquet").exists()


# ---------------------------------------------------------------------------------------------
# Scenario files (a --config-dir of the user's own), through the `peerwell` command


SCENARIO_FILES = {
    "syntax": (
        "scenario:\n  name: x\n  events: [\ncommunities:\n  moderation: 0.5\n",
        ["x.yaml", "line 6", "not valid YAML"],
    ),
    "tab indentation": ("scenario:\n\tname: x\n", ["x.yaml", "line 3", "not valid YAML"]),
    "unknown key": (
        "scenario:\n  name: x\ncommunities:\n  moderaton: 0.5\n",
        ["communities.moderaton", "moderation", "hostility"],  # lists what exists
    ),
    "unknown group": ("scenario:\n  name: x\ncomunities:\n  moderation: 0.5\n", ["comunities", "communities"]),
    "wrong type": ("scenario:\n  name: x\npopulation:\n  size: lots\n", ["population.size", "lots"]),
    "NaN": ("scenario:\n  name: x\ncommunities:\n  moderation: .nan\n", ["communities.moderation", "finite"]),
    "infinity": ("scenario:\n  name: x\nentry:\n  join_rate: .inf\n", ["entry.join_rate", "finite"]),
    "negative size": ("scenario:\n  name: x\npopulation:\n  size: -20\n", ["population.size", "-20"]),
    "probability above 1": ("scenario:\n  name: x\ncommunities:\n  hostility: 1.2\n", ["communities.hostility", "[0, 1]"]),
    "more communities than people": (
        "scenario:\n  name: x\npopulation:\n  size: 4\ncommunities:\n  count: 9\n",
        ["communities.count=9", "population.size=4"],
    ),
    "event after the horizon": (
        "scenario:\n  name: x\n  events:\n    - {day: 900, param: communities.moderation, value: 0.9}\n",
        ["day 900", "steps=20"],
    ),
    "event on an unknown parameter": (
        "scenario:\n  name: x\n  events:\n    - {day: 3, param: communities.moderaton, value: 0.9}\n",
        ["moderaton", "moderation"],
    ),
    "code in a callback": (
        "scenario:\n  name: x\nhydra:\n  callbacks:\n    evil:\n      _target_: subprocess.run\n"
        "      args: [touch, MARKER]\n",
        ["hydra.callbacks.evil._target_", "subprocess.run", "refused"],
    ),
    "code in a logging handler": (
        "scenario:\n  name: x\nhydra:\n  job_logging:\n    handlers:\n      evil:\n"
        "        class: pathlib.Path.touch\n",
        ["hydra.job_logging.handlers.evil.class", "refused"],
    ),
}  # fmt: skip


# Every case through `peerwell run`; the sweep's own path (its plan in the driver) for some.
SWEEP_CASES = ["syntax", "unknown key", "negative size", "event after the horizon",
               "code in a callback"]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "case"),
    [("run", c) for c in SCENARIO_FILES] + [("sweep", c) for c in SWEEP_CASES],
)
def test_a_broken_scenario_file_is_a_clear_error_naming_file_and_field(
    tmp_path, capsys, monkeypatch, case, command
):
    content, words = SCENARIO_FILES[case]
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "x.yaml").write_text("# @package _global_\n" + content)
    monkeypatch.chdir(tmp_path)
    tried("scenario file", (command, case))
    common = ["--config-dir", str(conf), "scenario=x", "steps=20"]
    if command == "run":
        args = ["run", *common, f"output_dir={tmp_path / 'out'}"]
    else:
        args = ["sweep", *common, "seed=1,2", "hydra/launcher=basic",
                f"hydra.sweep.dir={tmp_path / 'out'}"]  # fmt: skip
    code, text = peerwell_here(capsys, *args)
    assert code not in (0, None), text
    assert "Traceback" not in text, text
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    assert not list(tmp_path.rglob("*.parquet"))
    assert not (tmp_path / "MARKER").exists()


def test_a_sweep_checks_a_scenario_event_against_the_jobs_own_horizon(tmp_path, capsys):
    """An event after the default 365 days is fine when the sweep sets steps beyond it (the
    driver's plan used to check it against the default horizon and refuse the sweep)."""
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "late.yaml").write_text(
        "# @package _global_\nscenario:\n  name: late\n  events:\n"
        "    - {day: 368, param: communities.moderation, value: 0.9}\n"
    )
    common = ["sweep", "--config-dir", str(conf), "scenario=late", "population.size=20",
              "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 's'}"]  # fmt: skip
    code, text = peerwell_here(capsys, *common, "steps=370", "seed=1")
    assert code == 0, text
    tried("scenario file", "event after the default horizon, with steps=100")
    code, text = peerwell_here(capsys, *common, "steps=100", "seed=1,2")
    assert code == 2 and "day 368" in text and "steps=100" in text, text


def test_an_unknown_scenario_lists_the_ones_that_exist_including_the_users(tmp_path, capsys):
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "mine.yaml").write_text("# @package _global_\nscenario:\n  name: mine\n")
    tried("scenario name", "mnie")
    code, text = peerwell_here(
        capsys, "run", "--config-dir", str(conf), "scenario=mnie", f"output_dir={tmp_path / 'o'}"
    )
    assert code not in (0, None) and "Traceback" not in text
    for name in ("mnie", "mine", "baseline", "offline_only"):
        assert name in text, text


# ---------------------------------------------------------------------------------------------
# Code from config: only peerwell's own classes (and the launchers it ships) may be instantiated


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("peerwell.scenarios.experiments.sweep.SweepCallback", True),
        ("hydra._internal.core_plugins.basic_launcher.BasicLauncher", True),
        ("hydra._internal.core_plugins.basic_sweeper.BasicSweeper", True),
        ("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", True),
        ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher", True),
        ("hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher", True),
        ("os.system", False),
        ("subprocess.run", False),
        ("builtins.open", False),
        ("pathlib.Path.touch", False),
        ("shutil.rmtree", False),
        (
            "peerwell.scenarios.experiments.store.atomic_write_bytes",
            False,
        ),  # peerwell, but not a class
        (
            "peerwell.scenarios.experiments.store.subprocess.Popen",
            False,
        ),  # reachable through peerwell
        ("peerwell.scenarios.experiments.store.Path", False),  # imported into peerwell, not its own
        ("peerwell.scenarios.experiments.sweep.threading.Thread", False),
        ("peerwell.no_such_module.Thing", False),
        ("peerwellx.Thing", False),
        (" peerwell.scenarios.experiments.sweep.SweepCallback", False),
        ("${oc.env:EVIL}", False),
        ("hydra._internal.utils._locate", False),
        ("hydra_plugins.evil.Plugin", False),
        (42, False),
        (None, False),
    ],
)
def test_the_allow_list_of_targets(name, allowed):
    from peerwell.scenarios.hydra_guard import target_allowed

    tried("_target_ name", name)
    assert target_allowed(name) is allowed


def test_logging_configs_may_only_name_logging_classes():
    from peerwell.scenarios.hydra_guard import ForbiddenTarget, check_targets

    ok = {"hydra": {"job_logging": {"handlers": {"f": {"class": "logging.FileHandler"}}}}}
    check_targets(ok)
    for key in ("class", "()"):
        for name in ("pathlib.Path.touch", "logging.config.dictConfig", "os.system"):
            tried("code from config", ("logging", key, name))
            bad = {"hydra": {"hydra_logging": {"formatters": {"x": {key: name}}}}}
            with pytest.raises(ForbiddenTarget, match=r"hydra\.hydra_logging\.formatters\.x"):
                check_targets(bad)
    check_targets({"population": {"class": "anything"}})  # only logging configs name classes


def test_every_config_peerwell_ships_passes_the_check():
    from hydra import compose, initialize_config_module

    from peerwell.scenarios.hydra_guard import check_targets

    with initialize_config_module("peerwell.conf", version_base="1.3"):
        for name, overrides in [
            ("config", []),
            ("sweep", []),
            ("sweep", ["hydra/launcher=submitit_local"]),
            ("sweep", ["hydra/launcher=slurm"]),
            ("sweep", ["hydra/launcher=basic"]),
        ]:
            check_targets(compose(name, overrides=overrides, return_hydra_config=True))


CODE = [
    "+hydra.callbacks.evil._target_=pathlib.Path.touch",
    "+hydra.callbacks.evil._target_=builtins.open",
    "+hydra.launcher.evil._target_=pathlib.Path.touch",
    "+hydra.sweeper.evil._target_=pathlib.Path.touch",
    "+hydra.job_logging.handlers.evil.class=pathlib.Path.touch",
]


@pytest.mark.parametrize(
    ("command", "override"),
    [("run", o) for o in CODE] + [("sweep", o) for o in CODE[::2]],
)
def test_a_config_naming_any_other_callable_is_refused_before_it_runs(
    tmp_path, capsys, monkeypatch, override, command
):
    marker = tmp_path / "MARKER"
    key = override.split("=", 1)[0].rsplit(".", 1)[0]
    # Each target, if instantiated, would create the marker file.
    extra = (
        [f"{key}.self={marker}"]
        if "touch" in override
        else [f"{key}.file={marker}", f"{key}.mode=w"]
    )
    monkeypatch.chdir(tmp_path)
    tried("code from config", (command, override))
    out = tmp_path / "out"
    if command == "run":
        args = ["run", override, *extra, "steps=2", "population.size=30", f"output_dir={out}"]
    else:
        args = ["sweep", override, *extra, "seed=1,2", "steps=2", "population.size=30",
                "hydra/launcher=basic", f"hydra.sweep.dir={out}"]  # fmt: skip
    code, text = peerwell_here(capsys, *args)
    assert code not in (0, None), text
    assert "refused" in text and "Traceback" not in text, text
    assert not marker.exists()
    assert not list(tmp_path.rglob("*.parquet"))


def test_the_sweeps_own_callback_is_still_instantiated(tmp_path, capsys):
    code, text = peerwell_here(
        capsys, "sweep", "seed=1", "steps=2", "population.size=30", "hydra/launcher=basic",
        f"hydra.sweep.dir={tmp_path / 's'}",
    )  # fmt: skip
    assert code == 0, text
    assert (tmp_path / "s" / "sweep.json").exists()  # written by peerwell's SweepCallback


# ---------------------------------------------------------------------------------------------
# Network files: each a clear error with file and line, or a documented, tested repair


EDGE_LISTS = [
    ("", ["no edges"]),
    ("\n\n   \n", ["no edges"]),
    ("# only a comment\n", ["no edges"]),
    ("0 1\n1 2\n2", [":3:", "two node ids"]),  # truncated mid-line
    ("0 1\n1 2\n2 ", [":3:", "two node ids"]),
    ("0 1\n-1 2\n", [":2:", "outside the population"]),
    ("0 1\n1 2.5\n", [":2:", "whole numbers"]),
    ("0 1\n1e1 2\n", [":2:", "whole numbers"]),
    ("0 1\n0x1 2\n", [":2:", "whole numbers"]),
    ("0 1\nnan 2\n", [":2:", "whole numbers"]),
    ("0 1\n1 10\n", [":2:", "node id 10", "0 to 9"]),
    ("0 1\n1 99999999999999999999999\n", [":2:", "outside the population"]),
    ("0 1\nalice bob\n", [":2:", "whole numbers"]),
    ("0,1\n", [":1:", "two node ids"]),  # a CSV, not whitespace-separated
    ("0 1\n1 2\x00\n", [":2:", "binary"]),
    (b"0 1\n1 2\n\xff\xfe 3\n", [":3:", "not a text edge list"]),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [":1:", "not a text edge list"]),
    (b"x" * 70_000, [":1:", "longer than"]),  # no newline at all: not read whole
]


@pytest.mark.parametrize(("content", "words"), EDGE_LISTS)
def test_a_malformed_edge_list_names_file_and_line(tmp_path, content, words):
    f = tmp_path / "net.txt"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    tried("edge list", content)
    with pytest.raises(NetworkFileError) as err:
        read_edgelist(str(f), 10)
    assert str(f) in str(err.value)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_edge_list_repairs_are_the_documented_ones(tmp_path, caplog):
    f = tmp_path / "net.txt"
    # self-loops dropped with a warning; duplicates (either direction) once; weights ignored;
    # CRLF line ends, tabs and trailing comments are fine
    f.write_bytes(b"0 1\r\n1\t0 0.5\r\n2 2\r\n2 3 # tie\r\n3 2\n4 4\n")
    tried("edge list", "repairs")
    with caplog.at_level(logging.WARNING):
        u, v = read_edgelist(str(f), 5)
    assert "dropped 2 self-loop(s)" in caplog.text
    assert sorted(zip(u.tolist(), v.tolist())) == [(0, 1), (2, 3)]


def test_only_self_loops_is_no_network(tmp_path):
    f = tmp_path / "net.txt"
    f.write_text("1 1\n2 2\n")
    tried("edge list", "only self-loops")
    with pytest.raises(NetworkFileError, match="no edges"):
        read_edgelist(str(f), 5)


def _endless_fifo(tmp_path: Path, head: bytes, written: list[int]) -> tuple[Path, threading.Thread]:
    """A FIFO whose writer sends ``head`` and then valid lines for ever (until the reader stops)."""
    fifo = tmp_path / "endless.txt"
    os.mkfifo(fifo)

    def feed():
        line = b"0 1\n" * 4096
        try:
            with open(fifo, "wb") as fh:
                fh.write(head)
                written[0] += len(head)
                while written[0] < 1 << 30:  # a gigabyte at most, should the reader not stop
                    fh.write(line)
                    written[0] += len(line)
        except BrokenPipeError:
            pass  # the reader stopped reading: what the test wants

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    return fifo, t


def test_a_bad_line_stops_the_reading_of_an_endless_edge_list(tmp_path):
    """The "billion-line file": the error comes at line 3, without reading what follows."""
    written = [0]
    fifo, feeder = _endless_fifo(tmp_path, b"0 1\n1 2\n2 x\n", written)
    tried("edge list", "endless stream with a bad line 3")
    box: dict = {}

    def read():
        try:
            read_edgelist(str(fifo), 10)
        except NetworkFileError as exc:
            box["error"] = str(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "the reader did not stop at the bad line"
    feeder.join(30)
    assert f"{fifo}:3:" in box["error"] and "whole numbers" in box["error"]
    assert written[0] < 8 << 20, f"{written[0]} bytes were sent before the reader stopped"


def test_a_long_edge_list_of_repeated_ties_reads_in_little_memory(tmp_path, monkeypatch):
    """Memory follows the distinct ties, not the lines.

    The merge buffer is shrunk from 262,144 keys to 1,024 so that the bound shows on a file this
    test can afford to read: 120,000 lines of 2,000 distinct ties. Kept as lists of ids, as the
    reader did before, they took about 10 MB here; now about 0.1 MB.
    """
    from peerwell.simulation import network

    monkeypatch.setattr(network._EdgeSet, "CHUNK", 1024)
    f = tmp_path / "big.txt"
    ties = np.random.default_rng(1).integers(0, 3000, size=(2000, 2))
    block = "".join(f"{a} {b}\n" for a, b in ties if a != b).encode()
    f.write_bytes(block * 60)
    tried("edge list", "120,000 repeated lines")
    tracemalloc.start()
    try:
        u, v = read_edgelist(str(f), 3000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    want = {(min(a, b), max(a, b)) for a, b in ties if a != b}
    assert set(zip(u.tolist(), v.tolist())) == want
    assert peak < 500_000, f"peak {peak / 1e6:.2f} MB"


GRAPHML_HEAD = '<?xml version="1.0"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'


def graphml(body: str, edgedefault: str = "undirected") -> str:
    return GRAPHML_HEAD + f'<graph edgedefault="{edgedefault}">\n{body}</graph>\n</graphml>\n'


GRAPHMLS = [
    ("", ["not a readable GraphML"]),
    (graphml('<node id="0"/>\n<node id="1"/>\n<edge source="0" target="1"/>\n')[:120], ["not a readable GraphML"]),
    ("\x00\x01\x02binary", ["not a readable GraphML"]),
    ("<foo><bar/></foo>", ["not a GraphML file"]),
    (graphml('<node id="0"/>\n'), ["no edges"]),
    (graphml('<edge source="0" target="1"/>\n<edge source="-1" target="1"/>\n'), [":5:", "outside the population"]),
    (graphml('<edge source="0" target="1.5"/>\n'), [":4:", "'1.5'", "not a whole number"]),
    (graphml('<node id="alice"/>\n'), [":4:", "alice"]),
    (graphml('<edge source="0" target="10"/>\n'), [":4:", "node id 10", "0 to 9"]),
    (graphml('<edge source="0"/>\n'), [":4:", "source and target"]),
    (graphml('<hyperedge><endpoint node="0"/></hyperedge>\n'), [":4:", "hyperedges"]),
    (graphml('<node id="0"><graph id="g2"/></node>\n'), [":4:", "nested graphs"]),
    (graphml('<node id="0"/>\n<edge source="0" target="1"/>\n<edge source="1" target="2"\n'), [":7:", "not a readable GraphML"]),
]  # fmt: skip


@pytest.mark.parametrize(("content", "words"), GRAPHMLS)
def test_a_malformed_graphml_file_is_a_clear_error(tmp_path, content, words):
    f = tmp_path / "net.graphml"
    f.write_text(content)
    tried("GraphML", content)
    with pytest.raises(NetworkFileError) as err:
        read_graphml(str(f), 10)
    assert str(f) in str(err.value)
    for w in words:
        assert w in str(err.value), str(err.value)


def test_graphml_repairs_are_the_documented_ones(tmp_path, caplog):
    g = nx.MultiDiGraph()
    g.add_edges_from([(0, 1), (1, 0), (0, 1), (2, 2), (2, 3), (4, 4)])
    path = tmp_path / "g.graphml"
    nx.write_graphml(g, path)
    tried("GraphML", "repairs")
    with caplog.at_level(logging.WARNING):
        csr = read_graphml(str(path), 5)
    assert "dropped 2 self-loop(s)" in caplog.text
    assert csr.edges == 2 and list(csr.degree()) == [1, 1, 1, 1, 0]


def test_an_endless_graphml_stream_stops_at_its_bad_node(tmp_path):
    head = (
        GRAPHML_HEAD + '<graph edgedefault="undirected">\n<node id="0"/>\n<node id="x"/>\n'
    ).encode()
    written = [0]
    fifo, feeder = _endless_fifo(tmp_path, head, written)
    # the endless part is "0 1" lines: text inside <graph>, which GraphML allows to be read past
    tried("GraphML", "endless stream with a bad node on line 5")
    with pytest.raises(NetworkFileError, match=r":5:.*'x'"):
        read_graphml(str(fifo), 10)
    feeder.join(30)
    assert written[0] < 8 << 20


def test_a_bad_network_file_through_the_command_is_one_clear_line(tmp_path, capsys):
    f = tmp_path / "net.graphml"
    f.write_text(graphml('<edge source="0" target="1"/>\n<edge source="1" target="77"/>\n'))
    tried("GraphML", "through the command")
    code, text = peerwell_here(
        capsys, "run", "network=graphml", f"network.path={f}", "population.size=10", "steps=2",
        f"output_dir={tmp_path / 'o'}",
    )  # fmt: skip
    assert code == 2 and "Traceback" not in text
    assert f"{f}:5: node id 77 is outside the population" in text
