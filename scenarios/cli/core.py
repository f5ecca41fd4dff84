"""The `peerwell` command: one entry point, a sub-command per job.

`run` (and the sub-commands that take ``key=value`` overrides) are Hydra apps over the typed
schema in ``config.py``, so every parameter can be set or swept from the command line and a
wrong key or value is refused before anything runs.

Every command reports a mistake the same way, whatever found it (peerwell's checks, Hydra's
composition, its argument parser): one ``peerwell: error: ...`` on stderr, with a "did you mean"
where the mistake is a near miss of a known name, and exit code 2, with nothing written. A run
that fails once started exits 1 (in the same format), an interrupted one 130.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import logging
import os
import platform
import re
import sys
from pathlib import Path
from typing import NoReturn

import hydra
from hydra._internal.utils import run_and_report as hydra_run_and_report
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from peerwell.scenarios.catalogue import register_configs
from peerwell.scenarios.config import params_from_cfg
from peerwell.scenarios.hydra_guard import hydra_message
from peerwell.simulation.errors import PeerwellError

log = logging.getLogger("peerwell")
CONF = "pkg://peerwell.conf"

register_configs()


def fail(message: str, code: int = 2):
    """Print a user-facing error (no traceback) and exit.

    A message naming an unknown value and listing the known ones gets a "did you mean" when one
    of them is a near miss (:func:`with_suggestion`): every command's errors pass through here.
    """
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]peerwell: error:[/] {escape(with_suggestion(message))}", highlight=False
    )
    sys.exit(code)


def options_and_overrides(
    pairs: dict[str, str],
    known: dict[str, tuple],
    command: str,
    model_keys: tuple[str, ...] = ("steps", "network"),
) -> tuple[dict, list[str]]:
    """Split a command's ``key=value`` pairs into its own options, each cast by ``known``
    (name -> (cast, what it expects)), and model overrides (``group.name=value`` and
    ``model_keys``); anything else is refused, naming what the command takes."""
    opts: dict = {}
    overrides: list[str] = []
    for key, value in pairs.items():
        if key in known:
            cast, what = known[key]
            try:
                opts[key] = cast(value)
            except ValueError:
                fail(f"{key}={value!r}: expected {what}")
        elif "." in key or key in model_keys:
            overrides.append(f"{key}={value}")
        else:
            fail(
                f"`peerwell {command}` takes no {key!r}; it takes {', '.join(known)} "
                "and model parameters as group.name=value"
            )
    return opts, overrides


def warn(message: str) -> None:
    """Print a user-facing warning on stderr: something ran that the user may not have meant."""
    Console(stderr=True, soft_wrap=True).print(
        f"[bold yellow]peerwell: warning:[/] {escape(message)}", highlight=False
    )


def close_matches(word: str, choices) -> list[str]:
    """The known names closest to ``word`` (difflib's ratio of at least 0.6, best first)."""
    return difflib.get_close_matches(str(word), list(dict.fromkeys(map(str, choices))), n=3)


def did_you_mean(word: str, choices, write: str = "{}") -> str:
    """``"did you mean X?"`` (``write`` formats each match, e.g. ``"scenario={}"``), or ``""``."""
    found = close_matches(word, choices)
    return f"did you mean {' or '.join(write.format(f) for f in found)}?" if found else ""


# Messages that name a wrong value in quotes, then list the known values. Whoever raised them (a
# check in the model, a command's own parser), the suggestion is made here, once.
_NAMED_UNKNOWN = (
    # unknown scenario 'x'; known scenarios: a, b  |  unknown parameter 'g.x'; g has: a, b
    re.compile(r"unknown (?:[\w-]+ ){0,3}'(?P<bad>[^']+)'"),
    # network.kind='x' is unknown; choose one of [...]
    re.compile(r"(?P<key>[\w.]+)='(?P<bad>[^']+)' is unknown"),
    # model=sir takes no parameter 'x'; it takes: a, b
    re.compile(r"takes no (?:parameter |key )?'(?P<bad>[^']+)'"),
)
_KNOWN_LIST = re.compile(
    r"(?:(?:known(?: [\w-]+){0,2}|has|are)\s*:|choose(?: one)? of\s*:?|it takes\s*:?)"
    r"\s*(?P<list>[^;\n]+)"
)


def with_suggestion(message: str) -> str:
    """``message`` with "did you mean ...?" after its first clause, when it names an unknown value
    and lists the known ones and one of them is a near miss; else ``message`` unchanged."""
    if "did you mean" in message:
        return message
    for pattern in _NAMED_UNKNOWN:
        m = pattern.search(message)
        if m is None:
            continue
        listed = _KNOWN_LIST.search(message, m.end())
        if listed is None:
            return message
        items = [it.strip(" []'\"`.") for it in listed.group("list").split(",")]
        known = [w.group(0) for it in items if (w := re.match(r"[A-Za-z_][\w./-]*", it))]
        bad = m.group("bad")
        write = f"{m.group('key')}={{}}" if "key" in m.groupdict() and m.group("key") else "{}"
        hint = did_you_mean(bad, known, write)
        if not hint and "." in bad:  # a group's key: 'communities.moderaton' vs moderation
            group, _, leaf = bad.rpartition(".")
            hint = did_you_mean(leaf, known, f"{group}.{{}}")
        if not hint:
            return message
        head, sep, tail = message[m.end() :].partition("; ")
        if sep:
            return f"{message[: m.end()]}{head}; {hint} {tail}"
        return f"{message} ({hint})"
    return message


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
        from peerwell.scenarios.experiments.runner import output_folder, simulate, write_run

        # `peerwell run` has set the default folder already (RunCallback); a multirun's jobs
        # (`peerwell run -m`) have not.
        folder = output_folder(cfg.output_dir, params)
        # The model's warnings (a network file that leaves people without a tie) are printed
        # here, in peerwell's words on stderr, and recorded in run.json; not as log lines.
        result = simulate(params, progress=sys.stderr.isatty(), echo_warnings=False)
        for message in result.meta.get("warnings", []):
            warn(message)
        out = write_run(result, folder)
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results to {str(cfg.output_dir)!r}: {exc.strerror or exc}")
    print_table(
        start_end_table(result.trajectories),
        f"peerwell run {result.run_id}: scenario {params.scenario.name}, seed {params.seed}, "
        f"{params.population.size} people, {params.steps} days ({result.meta['wall_time_seconds']:.1f} s)",
    )
    print(
        f"wrote {out}/trajectories.parquet, communities.parquet, groups.parquet, run.json, trajectories.png"
    )


COMMANDS = {
    "run": (
        "run one scenario: peerwell run seed=7 steps=180 population.size=3000 output_dir=/abs/path",
        run_app,
    ),
}


def run_help() -> str:
    """`peerwell run --help`: what it writes, where, and the defaults, in one screen.

    Hydra's own help lists the whole config (about 180 lines); that stays one command away, as
    ``peerwell run --cfg job``. The defaults are read from the schema, so they cannot go stale.
    """
    from peerwell.scenarios.config import DEFAULT_OUTPUT_DIR
    from peerwell.simulation.params import NETWORK_KINDS, ModelParams

    d = ModelParams()
    return f"""usage: peerwell run [scenario=NAME] [network=KIND] [key=value ...] [output_dir=PATH]
       peerwell run --cfg job        # print the whole config: every parameter and its value
       peerwell params               # every parameter: meaning, unit, default, range, source

Runs one scenario once and writes into its output folder:
  trajectories.parquet  one row per recorded day: every outcome and flow
  communities.parquet   one row per community per recorded day: members, joined, left, posts,
                        hostile comments and misleading posts met, moderation, ...
  run.json              run_id, seed, the full config, versions, git revision, wall time,
                        and any warnings (e.g. people in no tie of a network file)
  trajectories.png      activation, care-seeking and wellbeing over the days
  .hydra/, peerwell.log Hydra's record of the command (written once the run has finished)
and prints each main outcome on the first and the last day.

Where: by default {DEFAULT_OUTPUT_DIR} under the current folder. The run_id is a
hash of the scientific config, the seed and the model code, so a run that differs in any of
them gets its own folder and never overwrites another; the same run again rewrites its own
folder with the same results. output_dir=PATH writes into PATH instead (as `make demo` does),
replacing the run it held; a note on stderr says so when that run had another config.

Defaults (change any with key=value):
  {"scenario=" + d.scenario.name:<18} `peerwell scenarios` lists them (and the ablations no_*)
  {"network=" + d.network.kind:<18} or {", ".join(k for k in NETWORK_KINDS if k != d.network.kind)}
  seed={d.seed}  steps={d.steps} (days)  population.size={d.population.size}  \
communities.count={d.communities.count}  network.mean_degree={d.network.mean_degree:g}

Examples:
  peerwell run seed=7 steps=180 population.size=3000 output_dir=/abs/path
  peerwell run scenario=moderated_community communities.hostility=0.1
  peerwell run network=edgelist network.path=/abs/edges.txt population.size=5000
  peerwell run -m seed=1,2,3     # several runs (for sweeps use `peerwell sweep`)

A value is refused before anything runs: "peerwell: error: ..." on stderr, exit code 2.
A run that fails once started exits 1; Ctrl-C exits 130."""


def version_text() -> str:
    """`peerwell --version`: the package, the Python running it, and the source's git revision."""
    import peerwell
    from peerwell.scenarios.experiments.store import git_revision

    revision = git_revision()
    where = Path(peerwell.__file__).resolve().parent.parent
    return (
        f"peerwell {peerwell.__version__}\n"
        f"Python {platform.python_version()} ({sys.executable})\n"
        + (f"git revision {revision} ({where})" if revision else "git revision: none (not run "
           "from a git checkout)")
    )  # fmt: skip


# The sub-commands other modules add, and where each is defined: `peerwell CMD` imports CMD's
# module only (the others import Hydra's sweepers, SALib, the validation models: seconds that a
# wrong value should not wait for). Each module defines COMMANDS = {name: (one-line help,
# callable)}; a callable that is a Hydra app reads sys.argv, a plain one receives the argument
# list. tests/test_cli_run.py holds this table equal to the modules' COMMANDS.
COMMAND_HOMES: dict[str, str] = {
    "params": "peerwell.scenarios.cli.params",
    "dashboard": "peerwell.scenarios.cli.dashboard",
    "scenarios": "peerwell.scenarios.cli.compare",
    "compare": "peerwell.scenarios.cli.compare",
    "sweep": "peerwell.scenarios.cli.sweep",
    "collect": "peerwell.scenarios.cli.sweep",
    "sensitivity": "peerwell.scenarios.cli.sweep",
    "validate": "peerwell.scenarios.cli.validate",
    "calibrate": "peerwell.scenarios.cli.validate",
    "bench": "peerwell.scenarios.cli.bench",
    "trial": "peerwell.scenarios.cli.trial",
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
    lines = ["usage: peerwell COMMAND [key=value ...]", "       peerwell --version", ""]
    lines += ["commands:"]
    lines += [f"  {name:<12} {text}" for name, (text, _) in commands.items()]
    lines += [
        "",
        "Every model parameter is a key=value override; `peerwell run --cfg job` shows them all.",
        "`peerwell COMMAND --help` says what a command writes and its defaults.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Options written as flags (`--steps 100`): peerwell takes key=value

# The commands whose arguments are key=value pairs; run and sweep also take Hydra's flags.
KEY_VALUE_COMMANDS = (
    "run", "sweep", "compare", "sensitivity", "validate", "calibrate", "trial",
)  # fmt: skip
HYDRA_APPS = ("run", "sweep")
HELP_ARGS = ("-h", "--help", "help")
_NUMBER = re.compile(r"-\d*\.?\d+(?:[eE][-+]?\d+)?")


def _hydra_flags() -> set[str]:
    """Every option string Hydra's own argument parser takes (``--cfg``, ``-m``, ``-cd``, ...)."""
    from hydra._internal.utils import get_args_parser

    return {s for action in get_args_parser()._actions for s in action.option_strings}


def flag_problem(command: str, args: list[str]) -> str | None:
    """What is wrong with an argument written as a flag, with the key=value to write instead.

    ``--steps 100`` is the habit of most command-line tools; here it would end in Hydra's usage
    text ("unrecognized arguments"), or, in a command that parses key=value itself, in a lexer
    error. None when every flag is one the command takes.
    """
    hydra_flags = _hydra_flags()
    own = hydra_flags if command in HYDRA_APPS else set()
    for i, arg in enumerate(args):
        if not arg.startswith("-") or arg == "-" or _NUMBER.fullmatch(arg) or arg in HELP_ARGS:
            continue
        name, eq, inline = arg.partition("=")
        if name in own:
            continue
        if name in hydra_flags:
            return (
                f"`peerwell {command}` takes key=value arguments only, not {name}: {name} is a "
                "flag of `peerwell run` and `peerwell sweep` (Hydra's). "
                f"`peerwell {command} --help` lists what {command} takes"
            )
        following = args[i + 1] if i + 1 < len(args) else ""
        value = inline if eq else following if following and "=" not in following else ""
        if value.startswith("-") and not _NUMBER.fullmatch(value):
            value = ""
        key = name.lstrip("-").replace("-", "_")
        shown = f"{name} {value}" if value and not eq else arg
        return (
            f"peerwell takes key=value arguments, not options like {shown!r}: write "
            f"{key}={value or 'VALUE'} (`peerwell {command} --help` lists what it takes)"
        )
    return None


# ---------------------------------------------------------------------------------------------
# Hydra's errors, in peerwell's format


def missing_config_message(exc) -> str:
    """An unknown config-group option (``scenario=moderated_comunity``): the near misses and
    every option there is, in place of Hydra's message and its config search path."""
    group, _, name = str(exc.missing_cfg_file or "").rpartition("/")
    options = [str(o) for o in (exc.options or [])]
    if not group or not options:
        return hydra_message(exc)
    hint = did_you_mean(name, options, f"{group}={{}}")
    where = " (`peerwell scenarios` describes them)" if group == "scenario" else ""
    known = f"{group}s" if group in ("scenario", "network") else f"{group} options"
    return (
        f"unknown {group} {name!r}; {hint + ' ' if hint else ''}"
        f"known {known}: {', '.join(options)}{where}"
    )


def user_error(exc: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` of an error to report without a traceback, or None for a bug.

    Input refused (a wrong key, value, scenario, override or config file): exit 2. A run or job
    that failed once started (Hydra's compact errors, peerwell's own, a launcher's): exit 1.
    """
    from hydra.errors import (
        CompactHydraException,
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
        SearchPathException,
    )
    from omegaconf.errors import OmegaConfBaseException

    from peerwell.scenarios.experiments.store import FolderBusy
    from peerwell.scenarios.experiments.sweep import SweepIncomplete
    from peerwell.simulation.errors import ConfigError, NetworkFileError

    if isinstance(exc, ConfigError) and isinstance(exc.__cause__, MissingConfigException):
        exc = exc.__cause__  # Hydra's refusal, as the engine raises it (hydra_guard.refused)
    if isinstance(exc, MissingConfigException):
        return missing_config_message(exc), 2
    # A busy output folder, and a sweep that ended with runs missing, exit 2 as they always have.
    if isinstance(exc, (ConfigError, NetworkFileError, FolderBusy, SweepIncomplete)):
        return str(exc), 2
    refused = (
        ConfigCompositionException,
        OverrideParseException,
        SearchPathException,
        OmegaConfBaseException,
    )
    if isinstance(exc, refused):
        return hydra_message(exc), 2
    if isinstance(exc, (PeerwellError, CompactHydraException)):
        return hydra_message(exc), 1
    return None


def report_error(exc: Exception) -> NoReturn:
    """End the command for ``exc``: "peerwell: error:" and its exit code (see :func:`user_error`).

    A bug (and every error when HYDRA_FULL_ERROR=1 is set) gets Hydra's own report instead (the
    traceback without Hydra's frames, exit 1; or the error raised with HYDRA_FULL_ERROR=1).
    """
    found = user_error(exc)
    if found is None or os.environ.get("HYDRA_FULL_ERROR") == "1":

        def again():
            raise exc  # for Hydra's own report: the traceback of a bug

        hydra_run_and_report(again)  # exits, or raises the error again
    fail(*found)


def peerwell_errors(command: str):
    """Report Hydra's errors in peerwell's format while ``command`` runs.

    Hydra's own report (its message, config search path, advice to set HYDRA_FULL_ERROR; its
    parser's usage) is replaced for the command's duration (``hydra_guard.hydra_reports``). An
    error that is neither a user's mistake nor a reported failure (a bug) still gets Hydra's
    traceback, as does every error when HYDRA_FULL_ERROR=1 is set (:func:`report_error`).
    """
    from peerwell.scenarios.hydra_guard import hydra_reports

    def usage_error(message: str) -> NoReturn:
        fail(f"{message}; `peerwell {command} --help` says what it takes")

    return hydra_reports(report_error, prog=f"peerwell {command}", on_usage=usage_error)


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
    if not argv or argv[0] in HELP_ARGS:
        print(usage(load_commands()))
        return 0
    if argv[0] in ("-V", "--version", "version"):
        print(version_text())
        return 0
    cmd, rest = argv[0], argv[1:]
    fn = find_command(cmd)
    if fn is None:
        commands = load_commands()
        hint = did_you_mean(cmd, commands) if not cmd.startswith("-") else ""
        what = "option" if cmd.startswith("-") else "command"
        fail(
            f"unknown {what} {cmd!r}; {hint + ' ' if hint else ''}known commands: "
            f"{', '.join(commands)}\n\n{usage(commands)}"
        )
    if cmd == "run" and any(a in HELP_ARGS for a in rest):
        print(run_help())
        return 0
    if cmd in KEY_VALUE_COMMANDS and any(a in ("-V", "--version") for a in rest):
        print(version_text())  # not Hydra's own version, which `run --version` used to print
        return 0
    if cmd in KEY_VALUE_COMMANDS:
        problem = flag_problem(cmd, rest)
        if problem:
            fail(problem)
    check_output_folders(rest)
    if cmd in HYDRA_GRAMMAR:
        rest = quote_for_hydra(rest)
    with peerwell_errors(cmd):
        if hasattr(fn, "__wrapped__"):  # a Hydra app: it parses sys.argv itself
            sys.argv = [f"peerwell-{cmd}", *rest]
            fn()
            return 0
        try:
            return fn(rest) or 0
        except PeerwellError as exc:  # the engine raises; the command line reports, here only
            report_error(exc)
