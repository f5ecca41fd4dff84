"""Hydra configuration: the typed schema of a run, and the conversion to ``ModelParams``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, validate


@dataclass
class RunConfig(ModelParams):
    """A run's config: the scientific parameters plus where to write (not part of the run_id)."""

    output_dir: str = "outputs/${scenario.name}/seed${seed}"


def register_configs() -> None:
    """Register the schema and the generated scenarios with Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="peerwell_run", node=RunConfig)
    from .catalogue import register_scenarios  # here, not at the top: catalogue imports this module

    register_scenarios()


def params_from_cfg(cfg: DictConfig) -> ModelParams:
    """Turn a composed Hydra config into validated ``ModelParams``.

    Raises
    ------
    ConfigError
        A value is missing, of the wrong type, out of range, or contradicts another.
    """
    try:
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        raise ConfigError(f"{key or 'config'}: {str(exc).splitlines()[0]}") from None
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(ModelParams)}
    return validate(ModelParams(**values))
