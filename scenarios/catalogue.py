"""The scenario catalogue: named scenarios, the generated ablations, and loading one by name.

A scenario is a ``# @package _global_`` YAML under ``conf/scenario/`` (parameter overrides plus
timed events, with a description of the question it answers). The ablations — one per mechanism
switch of the conceptual model, ``no_<mechanism>`` — are generated here from
``simulation.params.MECHANISMS`` and registered in Hydra's ConfigStore (group ``scenario``,
package ``_global_``), so ``peerwell run scenario=no_hostility`` works like a YAML scenario and
adding a mechanism adds its ablation. :func:`register_configs` registers them with the run's
schema (``config.RunConfig``) in one go: whatever composes a config with Hydra calls it first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from peerwell.scenarios.config import params_from_cfg, run_schema
from peerwell.scenarios.hydra_guard import HYDRA_LOCK, install
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import MECHANISMS, MechanismSwitches, ModelParams

CONF_MODULE = "peerwell.conf"

# The catalogue's order (``peerwell scenarios`` lists in this order, then anything else found).
NAMED = (
    "baseline",
    "offline_only",
    "moderated_community",
    "misinformation_surge",
    "hostile_environment",
    "peer_supporters",
    "online_intervention",
    "anti_stigma_campaign",
)

# An ablation switches one mechanism off in a scenario where that mechanism acts. In the baseline
# no community hosts an intervention, so switching the intervention pathway off there would change
# nothing; its ablation is taken from `online_intervention` instead.
ABLATION_BASE = {"intervention_pathway": "online_intervention"}


def ablation_name(mechanism: str) -> str:
    """The scenario name of the ablation of ``mechanism`` (``no_<mechanism>``)."""
    return f"no_{mechanism}"


def _scenario_yaml(name: str) -> DictConfig | None:
    """The YAML scenario ``name`` shipped in ``conf/scenario/``, or None."""
    path = resources.files(CONF_MODULE) / "scenario" / f"{name}.yaml"
    if not path.is_file():
        return None
    return OmegaConf.create(path.read_text(encoding="utf-8"))


def _yaml_names() -> list[str]:
    folder = resources.files(CONF_MODULE) / "scenario"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def ablation_node(mechanism: str) -> DictConfig:
    """The config of the ablation of ``mechanism``: its base scenario with the switch off.

    Parameters
    ----------
    mechanism : str
        One of ``MECHANISMS``.

    Returns
    -------
    DictConfig
        A ``_global_`` config node: the base scenario's overrides and events, the switch set to
        false, and a generated name and description.

    Raises
    ------
    ConfigError
        ``mechanism`` is not a mechanism switch, or its base scenario is missing.
    """
    if mechanism not in MECHANISMS:
        raise ConfigError(f"unknown mechanism {mechanism!r}; known: {list(MECHANISMS)}")
    base = ABLATION_BASE.get(mechanism, "baseline")
    node = _scenario_yaml(base)
    if node is None:
        raise ConfigError(f"ablation no_{mechanism}: base scenario {base!r} has no YAML file")
    meta = next(f for f in dataclasses.fields(MechanismSwitches) if f.name == mechanism).metadata
    what = meta["help"]
    node.scenario.name = ablation_name(mechanism)
    node.scenario.description = (
        f"Question: what does this part of the conceptual model contribute — {what}? "
        f"Exercises the '{meta['box']}' box by switching it off: the {base} scenario with "
        f"mechanisms.{mechanism}=false, everything else unchanged. Compare with {base}: with "
        f"common random numbers the paired difference is this mechanism's contribution."
    )
    if "mechanisms" not in node:
        node.mechanisms = {}
    node.mechanisms[mechanism] = False
    return node


def register_configs() -> None:
    """Register the run's schema and the generated scenarios with Hydra's ConfigStore (idempotent).

    Also installs peerwell's checks on every config Hydra reads and composes (``hydra_guard``):
    a config from someone else cannot run code, set a job's environment or logging, read the
    environment, or expand past a size, alias or depth limit; broken files get clear errors.
    """
    install()
    store = ConfigStore.instance()
    store.store(name="peerwell_run", node=run_schema())
    for mechanism in MECHANISMS:
        node = OmegaConf.to_container(ablation_node(mechanism))
        store.store(group="scenario", name=ablation_name(mechanism), node=node, package="_global_")


def _node(name: str) -> DictConfig | None:
    """The config node of scenario ``name`` (YAML or generated), or None if unknown."""
    for mechanism in MECHANISMS:
        if name == ablation_name(mechanism):
            return ablation_node(mechanism)
    return _scenario_yaml(name)


def scenario_names() -> list[str]:
    """Every known scenario: the catalogue's order, then other YAML scenarios alphabetically."""
    ablations = [ablation_name(m) for m in MECHANISMS]
    yaml = _yaml_names()
    ordered = [n for n in NAMED if n in yaml] + ablations
    return ordered + [n for n in yaml if n not in ordered]


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, description)`` of every known scenario, in catalogue order.

    Returns
    -------
    list of (str, str)
        Names and descriptions (the question each answers and which part of the model it
        exercises).
    """
    out = []
    for name in scenario_names():
        node = _node(name)
        description = OmegaConf.select(node, "scenario.description", default="") or ""
        out.append((name, " ".join(str(description).split())))
    return out


def unknown_scenario_message(name: str) -> str:
    """The error text for an unknown scenario: what was asked and every known name."""
    return f"unknown scenario {name!r}; known scenarios: {', '.join(scenario_names())}"


def check_scenario_names(names: Sequence[str]) -> None:
    """Raise :class:`ConfigError` naming the first unknown scenario and listing the known ones."""
    known = set(scenario_names())
    for name in names:
        if name not in known:
            raise ConfigError(unknown_scenario_message(name))


@contextlib.contextmanager
def _hydra() -> Iterator[None]:
    """Hydra initialised on ``pkg://peerwell.conf`` for the compose API.

    Works inside a running Hydra app too: the outer GlobalHydra is put aside and restored.
    """
    with HYDRA_LOCK:  # GlobalHydra is process-wide: one user at a time
        register_configs()
        gh = GlobalHydra.instance()
        outer = gh.hydra if gh.is_initialized() else None
        gh.clear()
        try:
            with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
                yield
        finally:
            if outer is not None:
                GlobalHydra.instance().hydra = outer


def _hydra_message(exc: BaseException) -> str:
    """The useful part of a Hydra/OmegaConf error: the cause's first line and the key."""
    match = re.match(r"Could not override '([^']+)'", str(exc))
    if match:
        return f"unknown parameter {match.group(1)!r} (not a model parameter; `peerwell run --cfg job` lists them)"
    cause = exc.__cause__ or exc
    lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
    key = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("full_key:")), None)
    text = lines[0] if lines else type(cause).__name__
    if cause is not exc and str(exc).strip():
        text = f"{str(exc).splitlines()[0]}: {text}"
    return f"{key}: {text}" if key and key not in text else text


def load_scenario(
    name: str, overrides: Mapping[str, Any] | Sequence[str] | None = None
) -> ModelParams:
    """Compose scenario ``name`` with overrides into validated ``ModelParams``.

    The scenario's YAML (or generated ablation) is applied over the defaults, then the overrides
    (they win over the scenario, as on the command line).

    Parameters
    ----------
    name : str
        A scenario name (see :func:`list_scenarios`).
    overrides : dict or list of str, optional
        Either ``{"population.size": 1500}`` (dotted names to values) or Hydra override strings
        such as ``["steps=120", "network=barabasi_albert"]``.

    Returns
    -------
    ModelParams
        Validated parameters; ``params.scenario.name == name``.

    Raises
    ------
    ConfigError
        The scenario is unknown (the message lists the known ones), an override names an unknown
        key, or a value is of the wrong type, out of range or contradicts another.
    """
    check_scenario_names([name])
    if isinstance(overrides, str):
        raise ConfigError(
            f"overrides must be a list of 'key=value' strings or a dict, got {overrides!r}"
        )
    strings = (
        list(overrides) if overrides is not None and not isinstance(overrides, Mapping) else []
    )
    mapping = dict(overrides) if isinstance(overrides, Mapping) else {}
    for item in strings:
        key = str(item).split("=", 1)[0].lstrip("+~")
        if key == "scenario":
            raise ConfigError(f"override {item!r}: the scenario is chosen by name, not by override")
    try:
        with _hydra():
            cfg = compose(config_name="config", overrides=[f"scenario={name}", *strings])
        for key, value in mapping.items():
            if key == "scenario":
                raise ConfigError("the scenario is chosen by name, not by an override")
            if OmegaConf.select(cfg, key, default="__missing__") == "__missing__":
                raise ConfigError(
                    f"unknown parameter {key!r} (not a model parameter; `peerwell run --cfg job` lists them)"
                )
            OmegaConf.update(cfg, key, value, merge=True)
    except MissingConfigException as exc:
        raise ConfigError(_hydra_message(exc)) from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_hydra_message(exc)) from None
    try:
        return params_from_cfg(cfg)
    except ConfigError as exc:
        raise ConfigError(f"scenario {name}: {exc}") from None
