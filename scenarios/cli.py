"""The `peerwell` command: one entry point, a sub-command per job.

`run` (and the sub-commands that take ``key=value`` overrides) are Hydra apps over the typed
schema in ``config.py``, so every parameter can be set or swept from the command line and a
wrong key or value is refused before anything runs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from peerwell.simulation.errors import PeerwellError

from .config import params_from_cfg, register_configs

log = logging.getLogger("peerwell")
CONF = "pkg://peerwell.conf"

register_configs()


def fail(message: str, code: int = 2):
    """Print a user-facing error (no traceback) and exit."""
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]peerwell: error:[/] {escape(message)}", highlight=False
    )
    sys.exit(code)


def print_table(df, title: str) -> None:
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), justify="left" if col == df.columns[0] else "right")
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(table)


@hydra.main(version_base="1.3", config_path=CONF, config_name="config")
def run_app(cfg: DictConfig) -> None:
    """`peerwell run`: one run of one scenario; writes trajectories, metadata and a figure."""
    try:
        params = params_from_cfg(cfg)
        # The model's modules (Mesa, Numba, pandas: seconds) load once the values are known good.
        from peerwell.analysis.summary import start_end_table

        from .runner import simulate, write_run

        result = simulate(params, progress=sys.stderr.isatty())
        out = write_run(result, cfg.output_dir)
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results to {cfg.output_dir!r}: {exc.strerror or exc}")
    print_table(
        start_end_table(result.trajectories),
        f"peerwell run {result.run_id}: scenario {params.scenario.name}, seed {params.seed}, "
        f"{params.population.size} people, {params.steps} days ({result.meta['wall_time_seconds']:.1f} s)",
    )
    print(f"wrote {out}/trajectories.parquet, run.json, trajectories.png")


COMMANDS = {
    "run": (
        "run one scenario: peerwell run seed=7 steps=180 population.size=3000 output_dir=/abs/path",
        run_app,
    ),
}

# The sub-commands other modules add, and where each is defined: `peerwell CMD` imports CMD's
# module only (the others import Hydra's sweepers, SALib, the validation models: seconds that a
# wrong value should not wait for). Each module defines COMMANDS = {name: (one-line help,
# callable)}; a callable that is a Hydra app reads sys.argv, a plain one receives the argument
# list. tests/test_cli_run.py holds this table equal to the modules' COMMANDS.
COMMAND_HOMES: dict[str, str] = {
    "params": "peerwell.scenarios.cli_params",
    "dashboard": "peerwell.scenarios.cli_dashboard",
    "scenarios": "peerwell.scenarios.cli_compare",
    "compare": "peerwell.scenarios.cli_compare",
    "sweep": "peerwell.scenarios.cli_sweep",
    "collect": "peerwell.scenarios.cli_sweep",
    "sensitivity": "peerwell.scenarios.cli_sweep",
    "validate": "peerwell.scenarios.cli_validate",
    "calibrate": "peerwell.scenarios.cli_validate",
    "bench": "peerwell.scenarios.cli_bench",
}

# The modules in the order `peerwell --help` lists their commands.
COMMAND_MODULES: list[str] = list(dict.fromkeys(COMMAND_HOMES.values()))


def load_commands() -> dict:
    """Every sub-command: name -> (one-line help, callable). Imports every command module."""
    commands = dict(COMMANDS)
    for name in COMMAND_MODULES:
        commands.update(importlib.import_module(name).COMMANDS)
    return commands


def find_command(name: str):
    """The callable of one sub-command, importing only its module; None if there is none."""
    if name in COMMANDS:
        return COMMANDS[name][1]
    home = COMMAND_HOMES.get(name)
    if home is None:
        return None
    return importlib.import_module(home).COMMANDS[name][1]


def usage(commands: dict) -> str:
    lines = ["usage: peerwell COMMAND [key=value ...]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (text, _) in commands.items()]
    lines += [
        "",
        "Every model parameter is a key=value override; `peerwell run --cfg job` shows them all.",
    ]
    return "\n".join(lines)


OUTPUT_KEYS = ("output_dir=", "hydra.sweep.dir=", "hydra.run.dir=")


def check_output_folders(args: list[str]) -> None:
    """Refuse an output folder that cannot be written, before any work starts.

    Hydra creates its run folder before peerwell's code runs and would fail there with a
    traceback; a read-only or full disk found after an hour of simulation would lose the hour.
    """
    for arg in args:
        key = next((k for k in OUTPUT_KEYS if arg.startswith(k)), None)
        if key is None:
            continue
        value = arg[len(key) :]
        if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]  # quoted for Hydra's grammar (see quote_for_hydra)
        if not value or "," in value or "${" in value:  # a sweep over folders, or interpolated
            continue
        too_long = _too_long(value)
        if too_long:
            fail(f"cannot use {key[:-1]}={_shorten(value)}: {too_long}")
        folder = Path(value).expanduser().absolute()
        # Probe in the deepest folder that exists, and leave nothing behind: a command refused
        # later for a bad value must not have created its output folder.
        created = []
        probe = folder / f".peerwell-write-test-{os.getpid()}"
        try:
            created = [p for p in (folder, *folder.parents) if not p.exists()]
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            fail(
                f"cannot write to {key[:-1]}={value}: {exc.strerror or exc}. "
                "Give a folder you can write to (an absolute path is safest)."
            )
        finally:
            for p in created:  # deepest first
                with contextlib.suppress(OSError):
                    p.rmdir()


# The system's limits on one folder name and on a whole path, in bytes (Linux and macOS: 255 and
# 4096 or 1024). Past them every call on the path fails with errno 36, which pathlib raises even
# from exists().
NAME_MAX = 255
PATH_MAX = 4096 if sys.platform != "darwin" else 1024


def _shorten(text: str, keep: int = 60) -> str:
    """A long value cut in the middle, so that the error stays one readable line."""
    return text if len(text) <= keep else f"{text[: keep // 2]}…{text[-keep // 2 :]}"


def _too_long(value: str) -> str | None:
    """What makes a path too long for the file system, or None."""
    for part in Path(value).expanduser().parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            return (
                f"the folder name {_shorten(part, 30)!r} is {size} bytes long, and a folder or "
                f"file name can have at most {NAME_MAX}; give a shorter one"
            )
    size = len(os.fsencode(str(Path(value).expanduser().absolute())))
    if size > PATH_MAX:
        return f"the path is {size} bytes long, over the system's {PATH_MAX}; give a shorter one"
    return None


# The sub-commands whose key=value arguments Hydra's override grammar reads.
HYDRA_GRAMMAR = ("run", "compare", "sweep", "sensitivity")
_KEY = re.compile(r"[+~]{0,2}[A-Za-z_][\w.@/-]*")


def quote_for_hydra(args: list[str]) -> list[str]:
    """The arguments with a value holding non-ASCII letters put in quotes for Hydra.

    Hydra's override grammar reads only ASCII letters unquoted (``output_dir=/data/café`` is a
    lexer error), though quoted, any text is fine. A value is quoted only when, with its
    non-ASCII letters read as ASCII ones, it would be one plain piece of text: a list, a sweep or
    a function call keeps its meaning only if each item is quoted, which the user is told to do.
    """
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or value.isascii() or not _KEY.fullmatch(key) or value[:1] in "'\"":
            out.append(arg)
            continue
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import HydraException

        stand_in = "".join(c if c.isascii() else "x" for c in value)
        try:
            parsed = OverridesParser.create().parse_overrides([f"{key}={stand_in}"])[0]
            plain = not parsed.is_sweep_override() and parsed.value() == stand_in
        except HydraException:
            plain = False
        if not plain or "\\" in value:
            fail(
                f"cannot read {arg!r}: Hydra's command line takes letters outside ASCII only in "
                f"quotes; quote the text, e.g. \"{key}='{value}'\" (in a list or sweep, quote "
                "each item)"
            )
        out.append(f"{key}='{value}'")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(load_commands()))
        return 0
    cmd, rest = argv[0], argv[1:]
    fn = find_command(cmd)
    if fn is None:
        commands = load_commands()
        fail(f"unknown command {cmd!r}; known: {', '.join(commands)}\n\n{usage(commands)}")
    check_output_folders(rest)
    if cmd in HYDRA_GRAMMAR:
        rest = quote_for_hydra(rest)
    if hasattr(fn, "__wrapped__"):  # a Hydra app: it parses sys.argv itself
        sys.argv = [f"peerwell-{cmd}", *rest]
        fn()
        return 0
    return fn(rest) or 0
