"""What peerwell lets Hydra do with a config: checks on every composed config, clear errors.

Installed by :func:`install` (called from ``catalogue.register_configs``, which every entry point
runs before Hydra composes anything), in the driver and in every launcher worker alike. A
scenario file, a ``--config-dir`` or an override from someone else therefore cannot run code,
change the environment of a job, write log lines into a file of its choosing, read the
environment, or exhaust memory or the stack:

- **YAML files, before they are expanded.** Every YAML file Hydra reads (``--config-dir``,
  ``hydra.searchpath``, peerwell's own) is read by peerwell first: a file larger than
  :data:`MAX_FILE_BYTES`, not a regular file, not UTF-8, holding an anchor or alias
  (``&name`` / ``*name``: a few hundred bytes of aliases expand to gigabytes), or nested deeper
  than :data:`MAX_DEPTH` levels is refused, naming the file and line. Command-line overrides are
  held to the same depth.
- **Code from config.** Hydra instantiates ``_target_`` nodes (``hydra.callbacks``, launcher and
  sweeper configs, and anything nested in them). A ``_target_`` must name a Hydra callback,
  launcher or sweeper class *defined* in peerwell, or one of the launcher plugins peerwell
  ships (joblib, submitit, Ray), or Hydra's basic launcher or sweeper: the named object must be
  that class itself, not something reached through a module's attributes
  (``hydra_plugins.hydra_joblib_launcher._core.Path.touch``, ``...submitit_launcher.os.system``).
- **Logging.** Python's logging builds whatever a logging config names, and a ``FileHandler``
  writes its formatter's text into any file. The handlers, formatters and filters of
  ``hydra.hydra_logging`` and ``hydra.job_logging`` must be exactly those of one of Hydra's own
  logging configs (``hydra/job_logging=default|stdout|disabled|none``); a config may only set
  loggers' levels and route them to those handlers.
- **Environment.** ``hydra.job.env_set`` / ``env_copy`` would set the job's environment
  (``PATH``, ``LD_PRELOAD``, ``PYTHONPATH``: which programs and libraries run); peerwell sets
  none, and refuses them from any config. ``${oc.env:...}`` is refused where it is written, and
  the ``oc.env`` resolver itself refuses, so no spelling of it reads the environment into a
  run's recorded config.
- **Broken config files.** A YAML syntax error names the file, line and column; a key a config
  file (or the command line) sets that the schema does not have lists the keys that exist.
- **Full disk at Hydra's own writes.** Hydra writes ``.hydra/*.yaml`` into each run's folder and
  ``multirun.yaml`` into a sweep's; when that fails (disk full, file-size limit, read-only
  folder) the error says which folder and why, instead of a traceback.

This module is the one place that patches Hydra's internals; each patch says why and the Hydra
version it was checked against (1.3.8). Besides the checks: a callback's ``PeerwellError`` ends
the app (Hydra would warn and go on), :func:`errors_raised` hands an app's errors to its caller,
:func:`replace_sweep` and :func:`time_compositions` serve `peerwell sweep`'s batches and its
summary of where the time went, and :data:`HYDRA_LOCK` is the one lock around Hydra's global.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.util
import logging
import os
import re
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException, ConfigCompositionException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from peerwell.simulation.errors import ConfigError, PeerwellError

# Exactly these Hydra classes may be instantiated from Hydra's own core plugins.
HYDRA_CLASSES = frozenset(
    {
        "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
        "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
    }
)
PLUGIN_PACKAGES = (
    "hydra_plugins.hydra_joblib_launcher.",
    "hydra_plugins.hydra_submitit_launcher.",
    "hydra_plugins.hydra_ray_launcher.",
    "hydra_plugins.peerwell_dask_launcher.",
)
# The launcher classes these plugins define. When a plugin is installed its classes are checked
# by what they are (see `_defined_class`); this list only decides about a plugin that is not
# installed here (Ray is an optional extra), so that its names get a clear error, not a trace.
PLUGIN_CLASSES = frozenset(
    {
        "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
        "hydra_plugins.hydra_ray_launcher.ray_aws_launcher.RayAWSLauncher",
        "hydra_plugins.peerwell_dask_launcher.dask_launcher.DaskLauncher",
    }
)
# peerwell's own launchers (hydra_plugins/peerwell_*). Hydra finds launchers by walking the
# `hydra_plugins` folders, which misses a package installed in editable mode (pip install -e):
# they are registered by hand before Hydra instantiates the sweeper and its launcher.
OWN_LAUNCHERS = ("hydra_plugins.peerwell_dask_launcher.dask_launcher.DaskLauncher",)
OWN_PACKAGE = "peerwell."
# Logging configs name handler classes (``class``) and factories (``()``): the standard library's.
LOGGING_SECTIONS = ("hydra_logging", "job_logging")
LOGGING_PREFIX = "logging."
LOGGING_REFUSED = ("logging.config.",)
# The parts of a logging config that build objects (must be one of Hydra's own, unchanged), and
# the other keys a logging config may hold (levels, and routing to the handlers built).
LOGGING_BUILT = ("formatters", "filters", "handlers")
LOGGING_KEYS = frozenset(
    {*LOGGING_BUILT, "version", "root", "loggers"} | {"disable_existing_loggers", "incremental"}
)
LOGGER_KEYS = frozenset({"level", "propagate", "handlers", "filters"})

# A config file is a page of settings: peerwell's largest is a few kB. A megabyte is far beyond
# any real one and still read and checked in well under a second.
MAX_FILE_BYTES = 1 << 20
# Levels of nesting (mappings and lists) in a file or an override. Peerwell's and Hydra's own
# configs nest at most 6 levels; past about 100, composing the config overflows Python's stack.
MAX_DEPTH = 32
# ``${oc.env:NAME}`` (and the old ``${env:NAME}``) where it is written; `_refuse_env` catches
# every other spelling (``${oc.decode:...}``, a resolver name built by interpolation) when it is
# resolved.
ENV_RESOLVER = re.compile(r"\$\{\s*(?:oc\s*\.\s*)?env\s*:")
# A job's name is part of its log file's path (``<output dir>/<name>.log``): a plain name only.
JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
DOCS = "see docs/sweeps.md, 'Code from configs'"


# Hydra's GlobalHydra is process-wide: every composition and every Hydra app of the process (the
# dashboard's threads, an API call, a sweep) takes this one lock while it uses it.
HYDRA_LOCK = threading.RLock()

# errno values that mean "this folder cannot take the file" (reported as such, not as a trace).
WRITE_ERRORS = frozenset(
    {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
)


class ForbiddenTarget(ConfigError, ConfigCompositionException):
    """A config names a callable peerwell does not allow (reported by Hydra without a trace)."""


class ForbiddenSetting(ForbiddenTarget):
    """A config sets what no config may: the job's environment, its logging, env reads."""


class ConfigFileError(ConfigError, ConfigCompositionException):
    """A config file is not valid YAML, is too large, aliased or too deep to expand safely, or
    sets a key the schema does not have."""


class OutputWriteError(PeerwellError, CompactHydraException):
    """Hydra could not write into a run's output folder (disk full, size limit, read-only)."""


class OutputFolderError(ConfigError):
    """An output folder given (``output_dir=``, ``hydra.sweep.dir=``) cannot be written.

    Refused as a bad value is: found before a run starts, or when a run's own ``.hydra/`` files
    cannot be finished in it.
    """


# ---------------------------------------------------------------------------------------------
# `_target_`: which classes a config may name


def _instantiable_kinds() -> tuple[type, ...]:
    """What Hydra builds from its config: callbacks, launchers and sweepers."""
    from hydra.experimental.callback import Callback
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    return (Callback, Launcher, Sweeper)


@functools.cache
def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package.rstrip(".")) is not None
    except (ImportError, ValueError):
        return False


def _defined_class(name: str, package: str) -> bool:
    """``name`` is a callback, launcher or sweeper class *defined* in ``package`` under that name.

    Resolved the way Hydra resolves a ``_target_`` (its own ``_locate``), then held to be the
    class the name spells: ``peerwell.scenarios.experiments.store.Path`` reaches ``pathlib.Path``, and
    ``..._core.Path.touch`` or ``...submitit_launcher.os.system`` reach functions, through the
    attributes of an allowed module; none is a class defined there.
    """
    from hydra._internal.utils import _locate

    try:
        obj = _locate(name)  # imports modules inside `package` only (the caller checked)
    except Exception:  # no such module or attribute, or a module that fails to import
        return False
    return (
        isinstance(obj, type)
        and issubclass(obj, _instantiable_kinds())
        and obj.__module__.startswith(package)
        and f"{obj.__module__}.{obj.__qualname__}" == name
    )


def _package_of(name: str) -> str | None:
    return next((p for p in (OWN_PACKAGE, *PLUGIN_PACKAGES) if name.startswith(p)), None)


def target_allowed(name: Any) -> bool:
    """Whether ``_target_: name`` may be instantiated from a config (see the module doc)."""
    if not isinstance(name, str) or not name or name != name.strip():
        return False
    if name in HYDRA_CLASSES:
        return True
    package = _package_of(name)
    if package is None:
        return False  # checked before anything is imported: only allowed packages are
    if package != OWN_PACKAGE and not _installed(package):
        return name in PLUGIN_CLASSES
    return _defined_class(name, package)


def _logging_allowed(name: Any) -> bool:
    return (
        isinstance(name, str)
        and name.startswith(LOGGING_PREFIX)
        and not name.startswith(LOGGING_REFUSED)
    )


def _walk(node: Any, path: str, in_logging: bool):
    """Yield ``(dotted key, value, kind)`` of every ``_target_`` (and logging factory)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                yield here, value, "_target_"
            elif in_logging and key in ("()", "class"):
                yield here, value, "logging"
            logging_below = in_logging or (path == "hydra" and key in LOGGING_SECTIONS)
            yield from _walk(value, here, logging_below)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]", in_logging)


def _container(cfg: DictConfig | dict) -> dict:
    return OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg


def check_targets(cfg: DictConfig | dict) -> None:
    """Refuse a config that names a callable outside the allow-list (see the module doc).

    Raises
    ------
    ForbiddenTarget
        Naming the key, the callable, and what is allowed.
    """
    for key, value, kind in _walk(_container(cfg), "", False):
        if kind == "_target_":
            package = _package_of(value) if isinstance(value, str) else None
            if package in PLUGIN_PACKAGES and value in PLUGIN_CLASSES and not _installed(package):
                raise ForbiddenTarget(
                    f"{key}={value!r}: the launcher plugin {package.rstrip('.')} is not "
                    "installed here; install it (the Ray launcher: pip install 'peerwell[ray]', "
                    "in its own environment) or choose another hydra/launcher"
                )
            if target_allowed(value):
                continue
            raise ForbiddenTarget(
                f"{key}={value!r} is refused: a config may only instantiate the Hydra callback, "
                "launcher and sweeper classes defined in peerwell (peerwell.*), Hydra's basic "
                "launcher and sweeper, and the joblib, submitit and Ray launcher plugins' "
                f"launchers, each named by its own module and class name ({DOCS})"
            )
        elif not _logging_allowed(value):
            raise ForbiddenTarget(
                f"{key}={value!r} is refused: a logging config may only name the standard "
                "library's logging classes (logging.*)"
            )


# ---------------------------------------------------------------------------------------------
# Logging, environment, job name


@functools.cache
def _hydra_logging_configs(section: str) -> dict[str, dict]:
    """Hydra's own logging configs of one group (``hydra/job_logging``...): name -> content."""
    from importlib import resources

    folder = resources.files("hydra.conf") / "hydra" / section
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            node = OmegaConf.create(entry.read_text(encoding="utf-8"))
            found[entry.name[: -len(".yaml")]] = OmegaConf.to_container(node, resolve=False)
    return found


def _built(node: dict) -> dict:
    return {k: node.get(k) or {} for k in LOGGING_BUILT}


def _check_logger(where: str, logger: Any, handlers: dict, filters: dict) -> None:
    """A logger (or root) may set its level and use the handlers and filters that exist."""
    if logger is None:
        return
    if not isinstance(logger, dict):
        raise ForbiddenSetting(
            f"{where}={logger!r} is refused: a logger is a mapping of "
            f"{', '.join(sorted(LOGGER_KEYS))}"
        )
    for key, value in logger.items():
        here = f"{where}.{key}"
        if key not in LOGGER_KEYS:
            ok = False
        elif key == "level":
            ok = (
                value is None
                or (isinstance(value, int) and not isinstance(value, bool))
                or (isinstance(value, str) and value in logging.getLevelNamesMapping())
            )
        elif key == "propagate":
            ok = value is None or isinstance(value, bool)
        else:
            known = handlers if key == "handlers" else filters
            ok = isinstance(value, list) and all(isinstance(v, str) and v in known for v in value)
        if not ok:
            raise ForbiddenSetting(
                f"{here}={value!r} is refused: a logging config may set a logger's level "
                "(DEBUG, INFO, WARNING, ERROR, CRITICAL), propagate (true/false), and the "
                f"handlers and filters it uses by name, among those defined: "
                f"handlers {sorted(handlers)}, filters {sorted(filters)}"
            )


def _check_logging_section(section: str, node: Any, choice: Any) -> None:
    where = f"hydra.{section}"
    hydras = _hydra_logging_configs(section)
    options = "|".join(sorted(hydras))
    if node is None:
        return
    if not isinstance(node, dict):
        raise ForbiddenSetting(
            f"{where}={node!r} is refused: choose one of Hydra's logging "
            f"configs instead, hydra/{section}={options}"
        )
    for key in node:
        if key not in LOGGING_KEYS:
            raise ForbiddenSetting(
                f"{where}.{key} is refused: a logging config holds only "
                f"{', '.join(sorted(LOGGING_KEYS))}"
            )
    built = _built(node)
    if built not in [_built(h) for h in hydras.values()]:
        # Name the first entry that differs from the config it claims to be (by default, Hydra's
        # `default`): that is where the file or override put a handler, formatter or filter.
        ref = _built(
            hydras.get(choice)
            if isinstance(choice, str) and choice in hydras
            else hydras["default"]
        )
        bad = next(
            (
                f"{where}.{k}.{name}"
                for k in LOGGING_BUILT
                for name in (built[k] if isinstance(built[k], dict) else ())
                if built[k][name] != ref[k].get(name)
            ),
            next((f"{where}.{k}" for k in LOGGING_BUILT if built[k] != ref[k]), where),
        )
        raise ForbiddenSetting(
            f"{bad} is refused: a config may not define or change logging handlers, "
            "formatters or filters (a handler writes its formatter's text into any file it "
            f"names). Choose one of Hydra's logging configs, hydra/{section}={options}, and "
            f"set only loggers' levels ({DOCS})"
        )
    if node.get("version", 1) != 1:
        raise ForbiddenSetting(f"{where}.version={node['version']!r} is refused: it must be 1")
    for key in ("disable_existing_loggers", "incremental"):
        if not isinstance(node.get(key, False), bool):
            raise ForbiddenSetting(f"{where}.{key}={node[key]!r} is refused: true or false")
    handlers, filters = built["handlers"], built["filters"]
    _check_logger(f"{where}.root", node.get("root"), handlers, filters)
    loggers = node.get("loggers") or {}
    if not isinstance(loggers, dict):
        raise ForbiddenSetting(f"{where}.loggers={loggers!r} is refused: a mapping of loggers")
    for name, logger in loggers.items():
        _check_logger(f"{where}.loggers.{name}", logger, handlers, filters)


def check_logging(cfg: DictConfig | dict) -> None:
    """Refuse logging handlers, formatters or filters other than Hydra's own (module doc)."""
    hydra = _container(cfg).get("hydra")
    if not isinstance(hydra, dict):
        return
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    for section in LOGGING_SECTIONS:
        if section in hydra:
            _check_logging_section(section, hydra[section], choices.get(f"hydra/{section}"))


def _strings(node: Any, path: str):
    """Every string value of a config, with its dotted key."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _check_job_environment(job: Any) -> None:
    if not isinstance(job, dict):
        return
    for key in ("env_set", "env_copy"):
        if job.get(key):
            raise ForbiddenSetting(
                f"hydra.job.{key}={job[key]!r} is refused: a config may not set the environment "
                "of a job (PATH, LD_PRELOAD or PYTHONPATH decide which programs and libraries "
                "run). Set variables in your shell before running peerwell instead"
            )


def check_environment(cfg: DictConfig | dict) -> None:
    """Refuse ``hydra.job.env_set``/``env_copy``, ``${oc.env:...}``, and a job name that is a path.

    Raises
    ------
    ForbiddenSetting
        Naming the key and what to do instead.
    """
    data = _container(cfg)
    hydra = data.get("hydra") if isinstance(data, dict) else None
    if isinstance(hydra, dict):
        job = hydra.get("job")
        _check_job_environment(job)
        name = job.get("name") if isinstance(job, dict) else None
        if name is not None and not (isinstance(name, str) and JOB_NAME.fullmatch(name)):
            raise ForbiddenSetting(
                f"hydra.job.name={name!r} is refused: it names the job's log file, so it must "
                "be a plain name (letters, digits, '_', '-', '.'), not a path or interpolation"
            )
    for key, value in _strings(data, ""):
        if ENV_RESOLVER.search(value):
            raise ForbiddenSetting(
                f"{key}={value!r} is refused: a config may not read environment variables "
                "(their values would be recorded with every result). Write the value itself; "
                "on the command line your shell can expand $NAME"
            )


def check_config(cfg: DictConfig | dict) -> None:
    """Every check of a composed config: targets, logging, environment (see the module doc)."""
    data = _container(cfg)
    check_targets(data)
    check_environment(data)
    check_logging(data)


def _refuse_env(*args: Any, **kwargs: Any) -> Any:
    """Replaces the ``oc.env`` resolver: whatever spelling reached it, nothing is read."""
    name = args[0] if args else "..."
    raise ConfigError(
        f"${{oc.env:{name}}} is refused: a config may not read environment variables (their "
        "values would be recorded with every result). Write the value itself"
    )


# ---------------------------------------------------------------------------------------------
# Config files and overrides: size, aliases, depth, before anything expands them


def _file_problem(data: bytes) -> str | None:
    """What makes this YAML text unsafe to expand (aliases, depth), or None. Syntax errors are
    left to Hydra's own reading, which `_describe_yaml_error` turns into a clear message."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(data, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return (
                    f"line {line}: YAML anchors and aliases (&name, *name) are refused "
                    "(a few hundred bytes of aliases can expand to gigabytes); write the values "
                    "out"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return (
                        f"line {line}: nested more than {MAX_DEPTH} levels deep; peerwell's "
                        "own configs nest at most 6"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def _read_bounded(path: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file: a FIFO would block on opening, and
    /dev/zero would not end."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ConfigFileError(f"{path}: not a regular file; a config is a YAML file")
    with open(path, "rb") as f:
        return f.read(MAX_FILE_BYTES + 1)


def check_yaml_bytes(data: bytes, where: str) -> None:
    """Refuse a config file that is too large, not UTF-8, aliased or too deep (module doc).

    Raises
    ------
    ConfigFileError
        Naming the file (and line) and what a config file may be.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ConfigFileError(
            f"{where}: larger than {MAX_FILE_BYTES // 1024} KiB; a config file is a page of "
            "settings (give large inputs, such as a network, as a file path: network.path=...)"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"{where}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    problem = _file_problem(data)
    if problem:
        raise ConfigFileError(f"{where}, {problem}")


def check_yaml_file(path: str | Path) -> None:
    """:func:`check_yaml_bytes` for a YAML file peerwell reads itself, outside Hydra."""
    check_yaml_bytes(_read_bounded(str(path)), str(path))


def _check_source_file(source: Any, config_path: str) -> None:
    """Check the file ``source`` would load for ``config_path`` (file:// and pkg:// sources)."""
    scheme = source.scheme()
    name = source._normalize_file_name(config_path)
    if scheme == "file":
        path = os.path.realpath(os.path.join(source.path, name))
        if os.path.exists(path):
            check_yaml_bytes(_read_bounded(path), path)
    elif scheme == "pkg":
        from importlib import resources

        res = resources.files(source.path).joinpath(name)
        if res.is_file():
            with res.open("rb") as f:
                check_yaml_bytes(f.read(MAX_FILE_BYTES + 1), f"pkg://{source.path}/{name}")


def _override_depth(text: str) -> int:
    """The deepest nesting of brackets in an override, outside quoted strings."""
    depth = deepest = 0
    quote = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]})":
            depth -= 1
    return deepest


ENV_OVERRIDE = re.compile(r"^[~+]*hydra\.job(?:\.env_(?:set|copy)\b|=.*\benv_(?:set|copy)\b)")


def check_overrides(overrides: list[str]) -> None:
    """Refuse a command-line override nested too deep, or setting a job's environment."""
    for text in overrides or ():
        if not isinstance(text, str):
            continue
        if _override_depth(text) > MAX_DEPTH:
            raise ConfigFileError(
                f"override {text[:60]}...: nested more than {MAX_DEPTH} levels deep; "
                "peerwell's own configs nest at most 6"
            )
        # Refused here as well as in the composed config: Hydra copies `env_copy` variables into
        # `env_set` while composing, and fails with a KeyError on one that is not set.
        if ENV_OVERRIDE.match(text.strip()):
            raise ForbiddenSetting(
                f"override {text!r} is refused: a config may not set the environment of a job "
                "(PATH, LD_PRELOAD or PYTHONPATH decide which programs and libraries run). Set "
                "variables in your shell before running peerwell instead"
            )


# A user's scenario file, anywhere: ``scenario_file=/abs/my.yaml``.

SCENARIO_FILE_KEYS = ("scenario_file=", "+scenario_file=", "++scenario_file=")


def register_scenario_file(path: str) -> str:
    """Read a user's scenario file (checked like every config file) and register it in Hydra's
    ConfigStore as an option of the ``scenario`` group (package ``_global_``, like the files of
    ``conf/scenario/``). Returns the option's name, for ``scenario=<name>``.

    The file is a YAML mapping with a ``scenario:`` block (name, description, events) and any
    parameter overrides, as in ``conf/scenario/*.yaml``; without ``scenario.name`` the run takes
    the file's stem as its scenario's name.

    Raises
    ------
    ConfigFileError
        The file is missing or unreadable, fails the checks of :func:`check_yaml_file`, or is not
        a mapping with a ``scenario:`` block.
    """
    import hashlib

    from hydra.core.config_store import ConfigStore

    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise ConfigFileError(
            f"scenario_file={path}: no such file ({file}); give the path of a scenario YAML file"
        )
    try:
        check_yaml_file(file)
        node = OmegaConf.load(file)
    except ConfigError:
        raise
    except Exception as exc:  # OSError, a YAML error: name the file
        raise ConfigFileError(f"scenario_file={path}: cannot read it: {exc}") from None
    if not isinstance(node, DictConfig) or not isinstance(node.get("scenario"), DictConfig):
        raise ConfigFileError(
            f"scenario_file={path}: not a scenario file: it needs a `scenario:` block (name, "
            "description, events), as conf/scenario/*.yaml have"
        )
    if not node.scenario.get("name"):
        node.scenario.name = file.stem
    option = "scenario_file_" + hashlib.sha256(str(file).encode()).hexdigest()[:12]
    ConfigStore.instance().store(
        group="scenario", name=option, node=OmegaConf.to_container(node), package="_global_"
    )
    return option


def scenario_file_overrides(overrides: list[str] | None) -> list[str] | None:
    """``scenario_file=PATH`` replaced by ``scenario=<the registered file>`` (see
    :func:`register_scenario_file`); every other override as it was. A sweep over files
    (``a.yaml,b.yaml``) is left to the sweeper, which gives each job one file."""
    if not overrides:
        return overrides
    out = []
    for text in overrides:
        key = next(
            (k for k in SCENARIO_FILE_KEYS if isinstance(text, str) and text.startswith(k)), None
        )
        if key is None:
            out.append(text)
            continue
        value = text[len(key) :].strip()
        if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]:
            value = value[1:-1]
        elif "," in value or value.startswith(("glob(", "choice(", "range(")):
            out.append(text)  # a sweep: each job's overrides name one file
            continue
        out.append(f"scenario={register_scenario_file(value)}")
    return out


# ---------------------------------------------------------------------------------------------
# Hydra's errors, made clear


def _yaml_error(exc: BaseException) -> BaseException | None:
    import yaml

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, yaml.YAMLError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _describe_yaml_error(err) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    where = f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}" if mark else "a file"
    start = getattr(err, "context_mark", None)
    if context and start is not None and mark is not None and start.line != mark.line:
        context = f"{context} opened on line {start.line + 1}"
    what = f"{context}: {problem}" if context else problem
    return f"{where}: not valid YAML ({what}); fix the file's syntax"


def _unknown_key(exc: BaseException) -> str | None:
    """For "Key 'x' not in 'Group'" while composing a file: a message listing the keys that exist."""
    import dataclasses

    cause = exc.__cause__ or exc.__context__
    if not isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
        return None
    full_key = getattr(cause, "full_key", None)
    parent = getattr(cause, "object_type", None)
    if not full_key or parent is None or not dataclasses.is_dataclass(parent):
        return None
    known = [f.name for f in dataclasses.fields(parent)]
    where = re.match(r"In '([^']+)'", str(exc))
    group, _, _ = full_key.rpartition(".")
    return (
        f"{f'{where.group(1)}: ' if where else ''}unknown parameter {full_key!r}; "
        f"{f'{group} has' if group else 'the known keys are'}: {', '.join(known)}"
    )


# ---------------------------------------------------------------------------------------------
# Installing the checks into Hydra


def _guarded_load(original):
    @functools.wraps(original)
    def load_configuration(self, *args, **kwargs):
        check_overrides(kwargs.get("overrides", args[1] if len(args) > 1 else None))
        if "overrides" in kwargs:
            kwargs["overrides"] = scenario_file_overrides(kwargs["overrides"])
        elif len(args) > 1:
            args = (args[0], scenario_file_overrides(args[1]), *args[2:])
        try:
            cfg = original(self, *args, **kwargs)
        except ConfigError:
            raise
        except Exception as exc:
            yaml_err = _yaml_error(exc)
            if yaml_err is not None:
                raise ConfigFileError(_describe_yaml_error(yaml_err)) from None
            if isinstance(exc, ConfigCompositionException):
                message = _unknown_key(exc)
                if message:
                    raise ConfigFileError(message) from None
            raise
        check_config(cfg)
        return cfg

    load_configuration.__peerwell_guard__ = True
    return load_configuration


def _guarded_compose(original):
    """Check the config composed from files before Hydra applies `env_copy` to it (which would
    read the driver's environment into `env_set`, or fail with a KeyError)."""

    @functools.wraps(original)
    def _compose_config_from_defaults_list(self, *args, **kwargs):
        cfg = original(self, *args, **kwargs)
        hydra = OmegaConf.to_container(cfg, resolve=False).get("hydra")
        _check_job_environment(hydra.get("job") if isinstance(hydra, dict) else None)
        return cfg

    _compose_config_from_defaults_list.__peerwell_guard__ = True
    return _compose_config_from_defaults_list


def _guarded_repository_load(original):
    """Check each YAML file before Hydra reads it: reading expands aliases into memory."""

    @functools.wraps(original)
    def load_config(self, config_path: str):
        from hydra.core.object_type import ObjectType

        source = self._find_object_source(config_path=config_path, object_type=ObjectType.CONFIG)
        if source is not None:
            _check_source_file(source, config_path)
        return original(self, config_path)

    load_config.__peerwell_guard__ = True
    return load_config


def _guarded_save(original):
    @functools.wraps(original)
    def _save_config(cfg, filename: str, output_dir: Path) -> None:
        try:
            original(cfg, filename, output_dir)
        except OSError as exc:
            folder = Path(output_dir).parent if Path(output_dir).name == ".hydra" else output_dir
            raise OutputWriteError(
                f"cannot write to {folder}: {exc.strerror or exc}. Free some space or give "
                "another folder (output_dir=... for a run, hydra.sweep.dir=... for a sweep)"
            ) from None

    _save_config.__peerwell_guard__ = True
    return _save_config


def _register_own_launchers(plugins: Any) -> None:
    """Make peerwell's own launchers known to Hydra (see ``OWN_LAUNCHERS``); idempotent."""
    from hydra._internal.utils import _locate

    for name in OWN_LAUNCHERS:
        if name not in plugins.class_name_to_class:
            try:
                plugins.register(_locate(name))
            except Exception:  # not installed: Hydra then names the launcher it cannot find
                continue


def _guarded_sweeper(original):
    """Wrap ``Plugins.instantiate_sweeper`` so the sweeper's own writes report a full disk."""

    @functools.wraps(original)
    def instantiate_sweeper(self, *args, **kwargs):
        _register_own_launchers(self)
        sweeper = original(self, *args, **kwargs)
        sweep = sweeper.sweep

        @functools.wraps(sweep)
        def guarded(*a, **k):
            try:
                return sweep(*a, **k)
            except OSError as exc:
                # Hydra's sweeper writes multirun.yaml into the sweep directory before any job.
                if exc.errno not in WRITE_ERRORS:
                    raise
                config = getattr(sweeper, "config", None)
                folder = OmegaConf.select(config, "hydra.sweep.dir") if config else None
                raise OutputWriteError(
                    f"cannot write to {exc.filename or folder or 'the sweep directory'}: "
                    f"{exc.strerror or exc}. Free some space or give another hydra.sweep.dir=..."
                ) from None

        sweeper.sweep = guarded
        return sweeper

    instantiate_sweeper.__peerwell_guard__ = True
    return instantiate_sweeper


def _passing_notify(original):
    """Hydra's ``Callbacks._notify``, except that a callback's :class:`PeerwellError` ends the app.

    Hydra turns any exception of a callback into a warning and goes on, so a sweep whose plan a
    callback refused would be launched anyway, and a run whose folder is busy would run. Other
    exceptions keep Hydra's warning. Checked against Hydra 1.3.8, whose ``_notify`` is this loop.
    """

    @functools.wraps(original)
    def _notify(self, function_name: str, reverse: bool = False, **kwargs: Any) -> None:
        for callback in reversed(self.callbacks) if reverse else self.callbacks:
            try:
                getattr(callback, function_name)(**kwargs)
            except PeerwellError:
                raise
            except Exception as exc:
                warnings.warn(
                    f"Callback {type(callback).__name__}.{function_name} raised "
                    f"{type(exc).__name__}: {exc}",
                    stacklevel=2,
                )

    _notify.__peerwell_guard__ = True
    return _notify


@contextlib.contextmanager
def hydra_reports(
    on_error: Callable[[Exception], Any],
    *,
    prog: str | None = None,
    on_usage: Callable[[str], Any] | None = None,
) -> Iterator[None]:
    """Hydra's own error reporting replaced, for this block, by the caller's.

    ``hydra.main`` reports an app's error itself (``run_and_report``: the message, its config
    search path and the advice to set HYDRA_FULL_ERROR, then ``sys.exit(1)``), and its argument
    parser prints its usage and exits 2. In the block, an app's error goes to ``on_error``
    instead, and a command-line error to ``on_usage`` (with the parser named ``prog``). Checked
    against Hydra 1.3.8, which calls ``run_and_report`` from ``hydra._internal.utils`` and
    ``hydra._internal.hydra``, and builds its parser with ``hydra.main.get_args_parser``.
    """
    import hydra._internal.hydra as hydra_core
    import hydra._internal.utils as hydra_utils

    hydra_main = importlib.import_module("hydra.main")  # the module (hydra.main is a function)
    saved = hydra_utils.run_and_report, hydra_main.get_args_parser
    original_parser = saved[1]

    def run_and_report(func: Callable[[], Any]) -> Any:
        try:
            return func()
        except Exception as exc:
            return on_error(exc)

    def get_args_parser():
        parser = original_parser()
        if prog is not None:
            parser.prog = prog
        if on_usage is not None:
            parser.error = on_usage
        return parser

    hydra_utils.run_and_report = hydra_core.run_and_report = run_and_report
    hydra_main.get_args_parser = get_args_parser
    try:
        yield
    finally:
        hydra_utils.run_and_report = hydra_core.run_and_report = saved[0]
        hydra_main.get_args_parser = original_parser


def _raise(exc: Exception) -> Any:
    raise exc


@contextlib.contextmanager
def errors_raised() -> Iterator[None]:
    """Run Hydra apps in this block with their errors raised to the caller, under the one lock.

    Without it, a caller of an app (the sweep engine, and the API through it) would get neither
    the exception nor a way to tell a refused value from a failed job (see :func:`hydra_reports`).
    """
    with HYDRA_LOCK, hydra_reports(_raise):
        yield


def hydra_message(exc: BaseException) -> str:
    """Hydra's message without its config search path and its advice to set HYDRA_FULL_ERROR."""
    from omegaconf.errors import OmegaConfBaseException

    text = str(exc).split("\nConfig search path")[0]
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "HYDRA_FULL_ERROR" not in ln]
    cause = exc.__cause__
    if isinstance(cause, OmegaConfBaseException) and str(cause).strip():
        first = str(cause).strip().splitlines()[0]
        if first not in lines:
            lines.append(first)
    return "\n".join(lines) or type(exc).__name__


def refused(exc: BaseException) -> ConfigError | None:
    """Hydra's refusal of a command line or a config as a :class:`ConfigError`; None otherwise.

    The message is :func:`hydra_message`'s; Hydra's exception is the error's ``__cause__`` (an
    unknown config-group option, ``MissingConfigException``, lists the options there are).
    """
    from hydra.errors import (
        ConfigCompositionException,
        OverrideParseException,
        SearchPathException,
    )
    from omegaconf.errors import OmegaConfBaseException

    kinds = (
        ConfigCompositionException,
        OverrideParseException,
        SearchPathException,
        OmegaConfBaseException,
    )
    if isinstance(exc, ConfigError) or not isinstance(exc, kinds):
        return None
    error = ConfigError(hydra_message(exc))
    error.__cause__ = exc
    return error


def replace_sweep(sweep: Callable[[Any, list[str], Callable], Any]) -> None:
    """Have Hydra's basic sweeper call ``sweep(sweeper, arguments, hydra_sweep)`` to sweep.

    `peerwell sweep` launches a few batch jobs instead of one job per run (see
    ``experiments.sweep._batched_sweep``, which falls back to ``hydra_sweep`` for any other
    multirun). Patched on the class Hydra's plugin registry holds as well as on the imported
    one (Hydra re-executes its plugin modules when it scans them, so an imported name may be
    another class object), before Hydra instantiates the sweeper; idempotent. Checked against
    Hydra 1.3.8, whose ``BasicSweeper.sweep(self, arguments)`` launches every job itself.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.plugins import Plugins

    name = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
    for cls in {BasicSweeper, Plugins.instance().class_name_to_class.get(name, BasicSweeper)}:
        if getattr(cls.sweep, "__peerwell_batched__", False):
            continue

        def replaced(self, arguments, _original=cls.sweep):
            return sweep(self, arguments, _original)

        replaced.__peerwell_batched__ = True
        cls.sweep = replaced


def time_compositions(record: Callable[[float], None]) -> None:
    """Have Hydra hand ``record`` the seconds of each composition of a job's config.

    The launchers compose each job's config before the job's function starts, so the job can
    learn that time only from here (the sweep's summary of where the time went). Idempotent:
    the first ``record`` stays. ``ConfigLoaderImpl`` is Hydra's own class, never re-created by a
    plugin scan. Checked against Hydra 1.3.8 (``ConfigLoaderImpl.load_sweep_config``).
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = ConfigLoaderImpl.load_sweep_config
    if getattr(original, "__peerwell_timed__", False):
        return

    @functools.wraps(original)
    def load_sweep_config(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            record(time.perf_counter() - t0)

    load_sweep_config.__peerwell_timed__ = True
    ConfigLoaderImpl.load_sweep_config = load_sweep_config


def _patch(owner: Any, name: str, wrap) -> None:
    if not getattr(getattr(owner, name), "__peerwell_guard__", False):
        setattr(owner, name, wrap(getattr(owner, name)))


def install() -> None:
    """Install the checks into Hydra (idempotent)."""
    import hydra.core.utils as hydra_utils
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_repository import ConfigRepository
    from hydra.core.plugins import Plugins

    # Only classes Hydra does not re-create: it re-executes its plugin modules when it scans
    # them (BasicSweeper, the config sources), which would drop a patch of their classes.
    _patch(Plugins, "instantiate_sweeper", _guarded_sweeper)
    _patch(Callbacks, "_notify", _passing_notify)
    _patch(ConfigLoaderImpl, "load_configuration", _guarded_load)
    _patch(ConfigLoaderImpl, "_compose_config_from_defaults_list", _guarded_compose)
    _patch(ConfigRepository, "load_config", _guarded_repository_load)
    _patch(hydra_utils, "_save_config", _guarded_save)
    # Process-wide: peerwell's commands are the process, and no config of theirs reads the
    # environment (the text check above names the key; this stops every other spelling).
    OmegaConf.register_new_resolver("oc.env", _refuse_env, replace=True)
