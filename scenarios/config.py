"""Hydra configuration: the typed schema of a run, and the conversion to ``ModelParams``.

Registering the schema with Hydra's ConfigStore is the catalogue's job
(:func:`peerwell.scenarios.catalogue.register_configs`, together with the generated scenarios),
so that this module imports nothing of peerwell's above ``peerwell.simulation``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Dict  # noqa: UP035 (OmegaConf reads the annotation)

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import (
    COMMUNITY_SETTINGS,
    CommunitySettings,
    ModelParams,
    check_timed_events,
    validate,
)

# The root seed of a comparison's replicates when none is given (Naslund et al. 2016). Here, not in
# compare.py, so `peerwell compare`'s options can name it without loading the comparison's modules.
DEFAULT_ROOT_SEED = 2016

# `peerwell run`'s output folder when none is given: filled in with the scenario and the run_id
# (a hash of the scientific config, seed and model code) by `runner.output_folder`, so that runs
# differing in anything never share, and overwrite, one folder.
DEFAULT_OUTPUT_DIR = "outputs/<scenario>/<run_id>"


@dataclass
class RunConfig(ModelParams):
    """A run's config: the scientific parameters plus where to write (not part of the run_id)."""

    output_dir: str = DEFAULT_OUTPUT_DIR
    # ``community.<name>.<property>``: each community's own settings (ModelParams.community). Not
    # typed here: Hydra makes the missing levels of ``community.youtube_1.moderation=0.95`` as
    # plain dicts, which a node typed CommunitySettings refuses; ``params_from_cfg`` converts and
    # checks each entry. The node is not in struct mode (``run_schema``), so a community's
    # setting needs no ``+`` on the command line.
    community: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


def run_schema() -> DictConfig:
    """The run's schema as an OmegaConf node: ``RunConfig`` with its ``community`` node open.

    Hydra puts the composed config in struct mode (no key outside the schema), so the names of
    ``community`` (one per community of the run, known only once ``communities.*`` are) could
    only be added with ``+``; its own ``struct=false`` flag wins over the root's.
    """
    node = OmegaConf.structured(RunConfig)
    OmegaConf.set_struct(node.community, False)
    return node


@functools.cache
def _schema() -> DictConfig:
    """The typed schema as an OmegaConf node, built once (OmegaConf.merge copies it)."""
    return run_schema()


def _first_extra_key(cfg: DictConfig, obj, prefix: str = "") -> str | None:
    """A key the config holds but the schema does not (Hydra's ``+key=value`` adds one past the
    schema, and converting to the dataclasses would drop it silently): the message, or None."""
    names = [f.name for f in dataclasses.fields(obj)]
    for key in cfg.keys():
        if key not in names:
            where = f"{prefix[:-1]} has" if prefix else "the known keys are"
            return f"unknown parameter {prefix + str(key)!r}; {where}: {', '.join(names)}"
        value, node = getattr(obj, key), cfg._get_node(key)
        if dataclasses.is_dataclass(value) and isinstance(node, DictConfig):
            found = _first_extra_key(node, value, f"{prefix}{key}.")
            if found:
                return found
    return None


def _first_bad_key(cfg) -> str | None:
    """The first dotted key the schema refuses (OmegaConf does not always say which)."""

    def leaves(node, path):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                yield from leaves(v, f"{path}.{k}" if path else str(k))
        else:
            yield path, node

    try:
        data = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else cfg
        for path, value in leaves(data, ""):
            single = OmegaConf.create()
            OmegaConf.update(single, path, value, force_add=True)
            try:
                OmegaConf.merge(_schema(), single)
            except OmegaConfBaseException:
                return path
    except Exception:  # the search is a courtesy: never let it hide the real error
        return None
    return None


def community_settings(raw) -> dict[str, CommunitySettings]:
    """The ``community:`` block of a config (name -> property -> value) as ``CommunitySettings``.

    Raises
    ------
    ConfigError
        An entry is not a mapping of properties, or names a property a community does not have.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"community must map community names to their settings "
            f"(community.<name>.<property>), got {raw!r}"
        )
    out = {}
    for name, entry in raw.items():
        if entry is None:
            entry = {}
        if isinstance(entry, CommunitySettings):
            entry = dataclasses.asdict(entry)
        if not isinstance(entry, dict):
            raise ConfigError(
                f"community.{name}={entry!r}: give its properties, community.{name}.<property>, "
                f"property one of {', '.join(COMMUNITY_SETTINGS)}"
            )
        for key in entry:
            if key not in COMMUNITY_SETTINGS:
                raise ConfigError(
                    f"unknown parameter 'community.{name}.{key}'; a community has: "
                    f"{', '.join(COMMUNITY_SETTINGS)}"
                )
        out[str(name)] = CommunitySettings(**entry)
    return out


def params_from_cfg(cfg: DictConfig) -> ModelParams:
    """Turn a composed Hydra config into validated ``ModelParams``.

    Raises
    ------
    ConfigError
        A value is missing, of the wrong type, out of range, or contradicts another.
    """
    try:
        kind = OmegaConf.get_type(cfg) if OmegaConf.is_config(cfg) else None
        if not (isinstance(kind, type) and issubclass(kind, ModelParams)):
            # A plain config (a YAML file read with OmegaConf.load, a dict): check it against
            # the schema first, so a wrong key or type is named like any other config error.
            cfg = OmegaConf.merge(_schema(), cfg)
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or _first_bad_key(cfg)
        raise ConfigError(f"{key or 'config'}: {str(exc).splitlines()[0]}") from None
    extra = _first_extra_key(cfg, obj)
    if extra is not None:
        raise ConfigError(extra)
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(ModelParams)}
    values["community"] = community_settings(values["community"])
    params = validate(ModelParams(**values))
    check_timed_events(params)  # events that would never fire, or clash on one day
    return params
