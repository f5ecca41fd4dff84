"""What peerwell lets Hydra do with a config: checks on every composed config, clear errors.

Installed by :func:`install` (called from ``config.register_configs``, which every entry point
runs before Hydra composes anything), in the driver and in every launcher worker alike:

- **Code from config.** Hydra instantiates ``_target_`` nodes (``hydra.callbacks``, launcher and
  sweeper configs, and anything nested in them) and the factories of the logging configs. A config
  may only name peerwell's own classes (``peerwell.*``), Hydra's basic launcher and sweeper, and
  the launcher plugins peerwell ships (joblib, submitit, Ray); anything else — ``os.system``,
  ``subprocess.run``, ``builtins.open`` — is refused when the config is composed, before Hydra
  instantiates anything from it. A scenario file or ``--config-dir`` from someone else therefore
  cannot run code.
- **Broken config files.** A YAML syntax error names the file, line and column; a key a config
  file (or the command line) sets that the schema does not have lists the keys that exist.
- **Full disk at Hydra's own writes.** Hydra writes ``.hydra/*.yaml`` into each run's folder and
  ``multirun.yaml`` into a sweep's; when that fails (disk full, file-size limit, read-only
  folder) the error says which folder and why, instead of a traceback.
"""

from __future__ import annotations

import errno
import functools
import importlib
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException, ConfigCompositionException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from peerwell.simulation.errors import ConfigError, PeerwellError

# Exactly these Hydra classes, and anything in these plugin packages, may be instantiated.
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
)
OWN_PACKAGE = "peerwell."
# Logging configs name handler classes (``class``) and factories (``()``): the standard library's.
LOGGING_SECTIONS = ("hydra_logging", "job_logging")
LOGGING_PREFIX = "logging."
LOGGING_REFUSED = ("logging.config.",)


# errno values that mean "this folder cannot take the file" (reported as such, not as a trace).
WRITE_ERRORS = frozenset(
    {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
)


class ForbiddenTarget(ConfigError, ConfigCompositionException):
    """A config names a callable peerwell does not allow (reported by Hydra without a trace)."""


class ConfigFileError(ConfigError, ConfigCompositionException):
    """A config file is not valid YAML, or sets a key the schema does not have."""


class OutputWriteError(PeerwellError, CompactHydraException):
    """Hydra could not write into a run's output folder (disk full, size limit, read-only)."""


def _is_own_class(name: str) -> bool:
    """A class *defined* in a peerwell module, named by that module's path.

    Not merely reachable through one: ``peerwell.scenarios.store.subprocess.Popen`` or
    ``peerwell.scenarios.store.Path`` (imported there) are not peerwell's classes.
    """
    module, _, attr = name.rpartition(".")
    if not module.startswith(OWN_PACKAGE):
        return False
    try:
        mod = importlib.import_module(module)
    except Exception:  # not a module (e.g. a path through an attribute), or broken
        return False
    obj = getattr(mod, attr, None)
    return (
        isinstance(obj, type)
        and obj.__module__ == mod.__name__
        and obj.__qualname__ == attr
        and mod.__name__.startswith(OWN_PACKAGE)
    )


def target_allowed(name: Any) -> bool:
    """Whether ``_target_: name`` may be instantiated from a config."""
    if not isinstance(name, str) or not name or name != name.strip():
        return False
    if name in HYDRA_CLASSES or name.startswith(PLUGIN_PACKAGES):
        return True
    return name.startswith(OWN_PACKAGE) and _is_own_class(name)


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


def check_targets(cfg: DictConfig | dict) -> None:
    """Refuse a config that names a callable outside the allow-list (see the module doc).

    Raises
    ------
    ForbiddenTarget
        Naming the key, the callable, and what is allowed.
    """
    data = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
    for key, value, kind in _walk(data, "", False):
        if kind == "_target_":
            if target_allowed(value):
                continue
            raise ForbiddenTarget(
                f"{key}={value!r} is refused: a config may only instantiate peerwell's own "
                "classes (peerwell.*), Hydra's basic launcher and sweeper, and the joblib, "
                "submitit and Ray launcher plugins (see docs/sweeps.md, 'Code from configs')"
            )
        elif not _logging_allowed(value):
            raise ForbiddenTarget(
                f"{key}={value!r} is refused: a logging config may only name the standard "
                "library's logging classes (logging.*)"
            )


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
    import re

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


def _guarded_load(original):
    @functools.wraps(original)
    def load_configuration(self, *args, **kwargs):
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
        check_targets(cfg)
        return cfg

    load_configuration.__peerwell_guard__ = True
    return load_configuration


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


def _guarded_sweeper(original):
    """Wrap ``Plugins.instantiate_sweeper`` so the sweeper's own writes report a full disk."""

    @functools.wraps(original)
    def instantiate_sweeper(self, *args, **kwargs):
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


def install() -> None:
    """Install the checks into Hydra (idempotent)."""
    import hydra.core.utils as hydra_utils
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.plugins import Plugins

    # (Not BasicSweeper itself: Hydra re-executes its plugin modules when it scans them, which
    # replaces the class; Plugins is not a plugin.)
    if not getattr(Plugins.instantiate_sweeper, "__peerwell_guard__", False):
        Plugins.instantiate_sweeper = _guarded_sweeper(Plugins.instantiate_sweeper)

    if not getattr(ConfigLoaderImpl.load_configuration, "__peerwell_guard__", False):
        ConfigLoaderImpl.load_configuration = _guarded_load(ConfigLoaderImpl.load_configuration)
    if not getattr(hydra_utils._save_config, "__peerwell_guard__", False):
        hydra_utils._save_config = _guarded_save(hydra_utils._save_config)
