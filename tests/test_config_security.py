"""A config from someone else cannot run code, write files, read the environment or exhaust memory.

Each probe gives `peerwell` a scenario file (a ``--config-dir``) or an override such as someone
else might send, and checks three things: the command stops with peerwell's own error naming what
is wrong (non-zero exit, no traceback), and the side effect the config was written for did not
happen (the file is unchanged, the script did not run, the variable was not read). See
docs/sweeps.md, 'Code from configs', and ``peerwell.scenarios.hydra_guard``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from util import peerwell_here

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
ORIGINAL = "original content\n"
SMALL = ["steps=2", "population.size=30"]


def scenario_dir(tmp_path: Path, body: str, name: str = "x", extra: dict | None = None) -> Path:
    """A --config-dir holding scenario ``name`` (a ``_global_`` file) and any ``extra`` files."""
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True, exist_ok=True)
    text = f"# @package _global_\nscenario:\n  name: {name}\n" + textwrap.dedent(body)
    (conf / "scenario" / f"{name}.yaml").write_text(text)
    for rel, content in (extra or {}).items():
        (conf / rel).parent.mkdir(parents=True, exist_ok=True)
        (conf / rel).write_text(textwrap.dedent(content))
    return conf


def run(capsys, tmp_path, *args, command="run") -> tuple[int, str]:
    """`peerwell run` (or a sweep on the basic launcher) with a small model, in this process."""
    out = tmp_path / "out"
    if command == "run":
        full = ["run", *args, *SMALL, f"output_dir={out}"]
    else:
        full = ["sweep", *args, *SMALL, "seed=1,2", "hydra/launcher=basic",
                f"hydra.sweep.dir={out}"]  # fmt: skip
    return peerwell_here(capsys, *full)


def assert_refused(code, text, tmp_path, *words):
    assert code not in (0, None), text
    assert "Traceback" not in text, text
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    assert not list(tmp_path.rglob("*.parquet")), "the run went on"
    assert not list(tmp_path.rglob("run.json")), "the run went on"


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.sh"
    path.write_text(ORIGINAL)
    return path


# ---------------------------------------------------------------------------------------------
# `_target_`: a class defined under the name given, not anything reachable through one


REACHED_THROUGH_AN_ALLOWED_MODULE = [
    "hydra_plugins.hydra_joblib_launcher._core.Path.touch",
    "hydra_plugins.hydra_joblib_launcher._core.Path",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.logging.io.open",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.logging.os.system",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher.__init__",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher.__class__",
    "hydra_plugins.hydra_joblib_launcher.config.JobLibLauncherConf",  # defined there, no launcher
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.os.open",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.os.system",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.os.popen",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.Path.touch",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.logging.subprocess.Popen",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.BaseSubmititLauncher.__base__",
    "hydra_plugins.hydra_ray_launcher.ray_launcher.os.system",  # Ray: installed or not
    "hydra_plugins.hydra_ray_launcher._core.Path.touch",
    "hydra_plugins.hydra_ray_launcher.ray_aws_launcher.subprocess.run",
    "peerwell.scenarios.config.RunConfig",  # peerwell's class, but not a callback
]
ALLOWED = [
    "peerwell.scenarios.experiments.sweep.SweepCallback",
    "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
    "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
    "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
]


@pytest.mark.parametrize("name", REACHED_THROUGH_AN_ALLOWED_MODULE)
def test_a_target_reached_through_an_allowed_modules_attributes_is_refused(name):
    from peerwell.scenarios.hydra_guard import target_allowed

    assert target_allowed(name) is False


@pytest.mark.parametrize("name", ALLOWED)
def test_the_launchers_callbacks_and_sweepers_peerwell_uses_stay_allowed(name):
    from peerwell.scenarios.hydra_guard import target_allowed

    assert target_allowed(name) is True


# (where, target, arguments, what it would do): each writes into or creates a file when run.
def _code_probes(victim: Path, created: Path):
    o_trunc = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    return {
        "io.open empties a file": (
            "hydra_plugins.hydra_joblib_launcher.joblib_launcher.logging.io.open",
            [str(victim), "w"],
        ),
        "os.open empties a file": (
            "hydra_plugins.hydra_submitit_launcher.submitit_launcher.os.open",
            [str(victim), o_trunc],
        ),
        "Path.touch creates a file": (
            "hydra_plugins.hydra_joblib_launcher._core.Path.touch",
            [str(created)],
        ),
        "os.system runs a shell": (
            "hydra_plugins.hydra_submitit_launcher.submitit_launcher.os.system",
            [f"echo pwned > {victim}; touch {created}"],
        ),
    }


CODE_CASES = ["io.open empties a file", "os.open empties a file", "Path.touch creates a file",
              "os.system runs a shell"]  # fmt: skip


@pytest.mark.parametrize("case", CODE_CASES)
def test_code_through_a_plugin_module_in_a_scenario_file_does_not_run(
    tmp_path, capsys, victim, case
):
    created = tmp_path / "created"
    target, args = _code_probes(victim, created)[case]
    conf = scenario_dir(tmp_path, f"""\
        hydra:
          callbacks:
            evil:
              _target_: {target}
              _args_: {json.dumps(args)}
        """)  # fmt: skip
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert_refused(code, text, tmp_path, "hydra.callbacks.evil._target_", target, "refused")
    assert victim.read_text() == ORIGINAL
    assert not created.exists()


@pytest.mark.parametrize(
    ("command", "where", "case"),
    [
        ("run", "hydra.callbacks.evil", "os.open empties a file"),
        ("sweep", "hydra.callbacks.evil", "io.open empties a file"),
        ("sweep", "hydra.callbacks.peerwell_store.evil", "Path.touch creates a file"),
        ("sweep", "hydra.launcher.evil", "io.open empties a file"),
        ("sweep", "hydra.sweeper.evil", "os.open empties a file"),
        ("sweep", "hydra.launcher", "os.system runs a shell"),
    ],
)
def test_code_through_a_plugin_module_in_an_override_does_not_run(
    tmp_path, capsys, victim, command, where, case
):
    created = tmp_path / "created"
    target, args = _code_probes(victim, created)[case]
    plus = "" if where == "hydra.launcher" else "+"
    overrides = [f"{plus}{where}._target_={target}",
                 f"+{where}._args_=[{','.join(json.dumps(a) for a in args)}]"]  # fmt: skip
    code, text = run(capsys, tmp_path, *overrides, command=command)
    assert_refused(code, text, tmp_path, f"{where}._target_", "refused")
    assert victim.read_text() == ORIGINAL
    assert not created.exists()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("hydra_plugins.hydra_ray_launcher") is not None,
    reason="the Ray launcher is installed here",
)
def test_the_ray_launcher_where_ray_is_not_installed_is_a_clear_error(tmp_path, capsys):
    code, text = run(
        capsys, tmp_path, "hydra.launcher._target_=hydra_plugins.hydra_ray_launcher."
        "ray_launcher.RayLauncher", command="sweep",
    )  # fmt: skip
    assert_refused(code, text, tmp_path, "hydra.launcher._target_", "not installed", "ray")


# ---------------------------------------------------------------------------------------------
# The environment of a job: no env_set / env_copy; git is not looked up on a config's PATH


@pytest.fixture
def fake_git(tmp_path):
    """A folder with a `git` that leaves a marker and prints a fake revision, if it is run."""
    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "git-ran"
    (folder / "git").write_text(f"#!/bin/sh\ntouch {marker}\necho deadbeefdeadbeef\n")
    (folder / "git").chmod(0o755)
    return folder, marker


ENV_VARIABLES = {
    "PATH": "{bin}",
    "LD_PRELOAD": "{bin}/evil.so",
    "PYTHONPATH": "{bin}",
    "PEERWELL_ANYTHING": "1",
}


@pytest.mark.parametrize("source", ["scenario file", "override"])
@pytest.mark.parametrize("variable", list(ENV_VARIABLES))
def test_a_config_cannot_set_the_environment_of_a_job(tmp_path, capsys, fake_git, variable, source):
    folder, marker = fake_git
    value = ENV_VARIABLES[variable].format(bin=folder)
    if source == "scenario file":
        conf = scenario_dir(tmp_path, f"""\
            hydra:
              job:
                env_set:
                  {variable}: {value}
            """)  # fmt: skip
        args = ["--config-dir", str(conf), "scenario=x"]
    else:
        args = [f"+hydra.job.env_set.{variable}={value}"]
    code, text = run(capsys, tmp_path, *args)
    assert_refused(code, text, tmp_path, "env_set", "refused", "shell")
    assert not marker.exists(), "the config's git ran"


@pytest.mark.parametrize(
    "args",
    [
        ["+hydra.job.env_copy=[PEERWELL_NOT_SET_ANYWHERE]"],  # Hydra: KeyError
        ["+hydra.job.env_copy=[HOME]"],
        ["hydra.job={env_set:{PATH:/nowhere}}"],
        ["--config-dir", "{conf}", "scenario=x"],
    ],
)
def test_env_copy_and_whole_job_overrides_are_refused_too(tmp_path, capsys, args):
    conf = scenario_dir(tmp_path, "hydra:\n  job:\n    env_copy: [PEERWELL_NOT_SET_ANYWHERE]\n")
    code, text = run(capsys, tmp_path, *[a.replace("{conf}", str(conf)) for a in args])
    assert_refused(code, text, tmp_path, "env_", "refused")


def test_a_sweep_refuses_env_set_in_a_scenario_file(tmp_path, capsys, fake_git):
    folder, marker = fake_git
    conf = scenario_dir(tmp_path, f"hydra:\n  job:\n    env_set:\n      PATH: {folder}\n")
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x", command="sweep")
    assert_refused(code, text, tmp_path, "hydra.job.env_set", "refused")
    assert not marker.exists()


def test_the_git_revision_is_read_without_running_git(monkeypatch, fake_git):
    from peerwell.scenarios.experiments.store import git_revision

    folder, marker = fake_git
    real_git = shutil.which("git")
    here = Path(__file__).resolve().parent
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    revision = git_revision()
    assert not marker.exists(), "git_revision ran the git found on PATH"
    assert revision != "deadbeefdeadbeef"
    if real_git is None:
        return
    head = subprocess.run([real_git, "-C", str(here), "rev-parse", "HEAD"],
                          capture_output=True, text=True)  # fmt: skip
    if head.returncode == 0:  # a checkout: the same revision git gives
        assert revision == head.stdout.strip()


def test_the_git_revision_is_found_in_packed_refs(tmp_path):
    from peerwell.scenarios.experiments.store import _read_ref

    sha = "0123456789abcdef0123456789abcdef01234567"
    (tmp_path / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{sha} refs/heads/main\n^{'f' * 40}\n"
    )
    assert _read_ref(tmp_path, tmp_path, "refs/heads/main") == sha
    assert _read_ref(tmp_path, tmp_path, "refs/heads/other") is None


# ---------------------------------------------------------------------------------------------
# Logging: Hydra's own logging configs only; a config sets levels, nothing that writes


def _handler_probe(cls: str, victim: Path, port: int) -> str:
    where = {"class": cls, "formatter": "shell"}
    if cls == "logging.handlers.SocketHandler":
        where |= {"host": "127.0.0.1", "port": port}
    else:
        where |= {"filename": str(victim), "mode": "a"}
    return f"""\
        hydra:
          verbose: true
          job_logging:
            formatters:
              shell:
                format: "touch {victim}.pwned # %(message)s"
            handlers:
              evil: {json.dumps(where)}
            root:
              handlers: [evil]
        """


HANDLERS = ["logging.FileHandler", "logging.handlers.RotatingFileHandler",
            "logging.handlers.WatchedFileHandler", "logging.handlers.SocketHandler"]  # fmt: skip


@pytest.fixture
def listener():
    """A loopback socket that a SocketHandler would connect to (and must not)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connected(sock) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize("cls", HANDLERS)
def test_a_logging_handler_from_a_scenario_file_is_refused(tmp_path, capsys, victim, listener, cls):
    conf = scenario_dir(tmp_path, _handler_probe(cls, victim, listener.getsockname()[1]))
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert_refused(code, text, tmp_path, "hydra.job_logging.", "refused", "hydra/job_logging=")
    assert victim.read_text() == ORIGINAL
    assert not _connected(listener), "the SocketHandler connected"


LOGGING_FILES = {
    "a formatter with a shell line": """\
        hydra:
          verbose: true
          job_logging:
            formatters:
              simple:
                format: "touch {victim}.pwned # %(message)s"
        """,
    "a filter with a () factory": """\
        hydra:
          job_logging:
            filters:
              f:
                (): logging.Filter
                name: x
            root:
              filters: [f]
        """,
    "Hydra's file handler pointed elsewhere": """\
        hydra:
          job_logging:
            handlers:
              file:
                filename: {victim}
        """,
    "a hydra_logging handler": """\
        hydra:
          hydra_logging:
            handlers:
              console:
                class: logging.FileHandler
                filename: {victim}
                mode: a
        """,
    "a logger's level read by ext://": """\
        hydra:
          job_logging:
            loggers:
              x:
                level: ext://os.sep
        """,
    "a logger routed to a handler that is not defined": """\
        hydra:
          job_logging:
            root:
              handlers: [console, evil]
        """,
    "the whole logging config as a string": """\
        hydra:
          job_logging: ${{oc.create:'{{}}'}}
        """,
}


@pytest.mark.parametrize("case", list(LOGGING_FILES))
def test_logging_changes_in_a_scenario_file_are_refused(tmp_path, capsys, victim, case):
    conf = scenario_dir(tmp_path, LOGGING_FILES[case].format(victim=victim))
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert_refused(code, text, tmp_path, "refused")
    assert victim.read_text() == ORIGINAL
    assert not Path(f"{victim}.pwned").exists()


EVIL_LOGGING = """\
    version: 1
    formatters:
      simple:
        format: "touch {victim}.pwned # %(message)s"
    handlers:
      file:
        class: logging.FileHandler
        formatter: simple
        filename: {victim}
        mode: a
    root:
      level: DEBUG
      handlers: [file]
    """


@pytest.mark.parametrize(
    ("file", "args"),
    [
        # a logging config of the user's own, selected on the command line
        ("hydra/job_logging/evil.yaml", ["hydra/job_logging=evil"]),
        ("hydra/hydra_logging/evil.yaml", ["hydra/hydra_logging=evil"]),
        # ... or by the scenario's defaults list
        ("hydra/job_logging/evil.yaml", ["scenario=pick"]),
    ],
)
def test_a_logging_config_from_a_config_dir_is_refused(tmp_path, capsys, victim, file, args):
    conf = scenario_dir(tmp_path, "", extra={file: EVIL_LOGGING.format(victim=victim)})
    (conf / "scenario" / "pick.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /hydra/job_logging: evil\n"
        "scenario:\n  name: pick\n"
    )
    args = args if any(a.startswith("scenario=") for a in args) else [*args, "scenario=x"]
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), *args)
    assert_refused(code, text, tmp_path, "refused")
    assert victim.read_text() == ORIGINAL


@pytest.mark.parametrize(
    "override",
    [
        "+hydra.job_logging.handlers.evil={class:logging.FileHandler,filename:{victim},mode:a}",
        "hydra.job_logging.handlers.file.filename={victim}",
        "hydra.job_logging.formatters.simple.format='touch x # %(message)s'",
        "+hydra.job_logging.filters.f={name:x}",  # (a `()` factory cannot be typed here)
        "+hydra.hydra_logging.handlers.console.filename={victim}",
        "hydra.job.name=../../victim",
    ],
)
def test_logging_changes_on_the_command_line_are_refused(tmp_path, capsys, victim, override):
    code, text = run(capsys, tmp_path, override.replace("{victim}", str(victim)))
    assert_refused(code, text, tmp_path, "refused")
    assert victim.read_text() == ORIGINAL


def test_levels_and_verbose_are_still_allowed(tmp_path, capsys):
    conf = scenario_dir(tmp_path, """\
        hydra:
          verbose: [peerwell]
          job_logging:
            loggers:
              MESA:
                level: DEBUG
              peerwell:
                level: INFO
                propagate: true
                handlers: [console]
        """)  # fmt: skip
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert code in (0, None), text
    assert (tmp_path / "out" / "run.json").exists()


def test_every_logging_config_of_hydras_and_every_config_peerwell_ships_passes():
    from hydra import compose, initialize_config_module

    from peerwell.scenarios.hydra_guard import check_config

    with initialize_config_module("peerwell.conf", version_base="1.3"):
        for name, overrides in [
            ("config", []),
            ("config", ["hydra/job_logging=stdout", "hydra/hydra_logging=hydra_debug"]),
            ("config", ["hydra/job_logging=disabled", "hydra/hydra_logging=none"]),
            ("config", ["hydra/job_logging=none", "hydra/hydra_logging=disabled"]),
            ("config", ["hydra.verbose=true", "hydra.job_logging.loggers.MESA.level=INFO"]),
            ("sweep", []),
            ("sweep", ["hydra/launcher=submitit_local"]),
            ("sweep", ["hydra/launcher=slurm"]),
            ("sweep", ["hydra/launcher=basic"]),
        ]:
            check_config(compose(name, overrides=overrides, return_hydra_config=True))


# ---------------------------------------------------------------------------------------------
# The environment is not read into a run's records


SECRET = "s3cr3t-from-the-environment"


@pytest.mark.parametrize(
    ("case", "scenario"),
    [
        ("as written", "  name: x\n  description: ${oc.env:PEERWELL_SECRET}\n"),
        ("with a default", "  name: x\n  description: ${oc.env:PEERWELL_SECRET,none}\n"),
        ("old spelling", "  name: x\n  description: ${env:PEERWELL_SECRET}\n"),
        ("spaced", "  name: x\n  description: '${ oc.env :PEERWELL_SECRET}'\n"),
        # Built so that no text says `oc.env` (the name holds "${oc.", escaped): the resolver
        # itself refuses.
        ("built by oc.decode", "  name: '\\${oc.'\n"
         "  description: '${oc.decode:\"${scenario.name}env:PEERWELL_SECRET}\"}'\n"),
    ],
)  # fmt: skip
def test_a_scenario_file_cannot_read_the_environment(tmp_path, capsys, monkeypatch, case, scenario):
    monkeypatch.setenv("PEERWELL_SECRET", SECRET)
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "x.yaml").write_text(f"# @package _global_\nscenario:\n{scenario}")
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert code not in (0, None), text
    assert "Traceback" not in text and "refused" in text, text
    assert "environment" in text, text
    assert SECRET not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET not in f.read_text(errors="replace"), f


def test_an_override_cannot_read_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PEERWELL_SECRET", SECRET)
    code, text = run(capsys, tmp_path, "scenario.description=${oc.env:PEERWELL_SECRET}")
    assert_refused(code, text, tmp_path, "scenario.description", "environment")
    assert SECRET not in text


# ---------------------------------------------------------------------------------------------
# YAML files: refused before they are expanded


def billion_laughs() -> str:
    """Nine levels of nine aliases each: 9**9 (387 million) strings once expanded."""
    lines = ["# @package _global_", "scenario:", "  name: bomb", "a0: &a [l,l,l,l,l,l,l,l,l]"]
    prev = "a"
    for i in range(1, 9):
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
        prev = name
    return "\n".join(lines) + "\n"


# Runs `peerwell` as its only child, with a cap on its address space (should the bomb go off, it
# must not take the shared machine's memory with it) and a deadline; reports the child's peak
# resident memory (RUSAGE_CHILDREN of this wrapper is that of the one child).
WRAPPER = """
import json, resource, subprocess, sys, time
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
t0 = time.monotonic()
try:
    r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=90, preexec_fn=cap)
    code, text = r.returncode, r.stdout + r.stderr
except subprocess.TimeoutExpired:
    code, text = "timeout", ""
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "text": text, "seconds": time.monotonic() - t0,
                  "peak_mb": peak_kib / 1024}))
"""


def peerwell_measured(tmp_path, *args) -> dict:
    r = subprocess.run([sys.executable, "-c", WRAPPER, PEERWELL, *args],
                       capture_output=True, text=True, cwd=tmp_path, timeout=180)  # fmt: skip
    return json.loads(r.stdout)


def test_a_yaml_alias_bomb_is_refused_at_once_in_little_memory(tmp_path):
    bomb = billion_laughs()
    assert len(bomb.encode()) < 500
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "bomb.yaml").write_text(bomb)
    m = peerwell_measured(tmp_path, "run", "--config-dir", str(conf), "scenario=bomb",
                          f"output_dir={tmp_path / 'out'}")  # fmt: skip
    assert m["code"] not in (0, "timeout"), m
    assert "Traceback" not in m["text"], m["text"]
    assert "bomb.yaml" in m["text"] and "aliases" in m["text"], m["text"]
    assert m["seconds"] < 20, m
    assert m["peak_mb"] < 400, m


def test_the_alias_bomb_through_a_sweep_is_refused_too(tmp_path, capsys):
    conf = tmp_path / "conf"
    (conf / "scenario").mkdir(parents=True)
    (conf / "scenario" / "bomb.yaml").write_text(billion_laughs())
    m = peerwell_measured(tmp_path, "sweep", "--config-dir", str(conf), "scenario=bomb",
                          "seed=1,2", "hydra/launcher=basic",
                          f"hydra.sweep.dir={tmp_path / 'out'}")  # fmt: skip
    assert m["code"] not in (0, "timeout"), m
    assert "bomb.yaml" in m["text"] and "aliases" in m["text"], m["text"]
    assert m["seconds"] < 20 and m["peak_mb"] < 400, m


def test_the_alias_bomb_given_to_calibrate_is_refused_too(tmp_path):
    """`peerwell calibrate config=FILE` reads a scenario file itself, outside Hydra."""
    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    m = peerwell_measured(tmp_path, "calibrate", f"config={tmp_path / 'bomb.yaml'}",
                          "replicates=1", "fit=false")  # fmt: skip
    assert m["code"] not in (0, "timeout"), m
    assert "bomb.yaml" in m["text"] and "aliases" in m["text"], m["text"]
    assert "Traceback" not in m["text"], m["text"]
    assert m["seconds"] < 20 and m["peak_mb"] < 400, m


def _deep(levels: int, flow: bool) -> str:
    if flow:
        return "  description: " + "{a: " * levels + "1" + "}" * levels + "\n"
    return "".join("  " * (i + 1) + "a:\n" for i in range(levels)) + "  " * (levels + 1) + "b: 1\n"


@pytest.mark.parametrize(
    ("case", "body", "words"),
    [
        ("one anchor and alias", "a: &m 0.5\ncommunities:\n  moderation: *m\n", ["anchors"]),
        ("a merge key", "b: &m {moderation: 0.5}\ncommunities:\n  <<: *m\n", ["anchors"]),
        ("100 levels, flow style", _deep(100, flow=True), ["32 levels"]),
        ("100 levels, block style", "nest:\n" + _deep(99, flow=False), ["32 levels"]),
        ("over 1 MiB", "# " + "x" * (1 << 20) + "\n", ["larger than 1024 KiB"]),
    ],
)
def test_a_config_file_is_refused_before_it_is_expanded(tmp_path, capsys, case, body, words):
    conf = scenario_dir(tmp_path, body)
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert_refused(code, text, tmp_path, "x.yaml", *words)


def test_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path, capsys):
    conf = scenario_dir(tmp_path, "")
    (conf / "scenario" / "x.yaml").write_bytes(
        b"# @package _global_\nscenario:\n  name: \xff\xfe\n"
    )
    code, text = run(capsys, tmp_path, "--config-dir", str(conf), "scenario=x")
    assert_refused(code, text, tmp_path, "x.yaml", "UTF-8")


def test_an_override_nested_too_deep_is_a_clear_error(tmp_path, capsys):
    code, text = run(capsys, tmp_path, "+x=" + "[" * 100 + "1" + "]" * 100)
    assert_refused(code, text, tmp_path, "32 levels")
