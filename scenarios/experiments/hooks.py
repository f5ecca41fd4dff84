"""What a sweep job runs: the peerwell model, or (test hook) SALib's Ishigami function.

A sweep, a design and a sensitivity analysis only need five things from a model: its sampleable
parameters with their declared ranges, a base configuration built from the job's Hydra config,
that configuration with some values changed, a run_id, and one run giving a trajectory table.
A batched sweep also writes base configurations down as plain data (``dump``) and reads them
back in its jobs (``load``): the driver composes and validates, the jobs only run.
``MODELS`` maps ``model=`` names to such hooks. ``peerwell`` is the default; ``ishigami`` is a
test hook: SALib's own Ishigami function (whose Sobol' indices are known) run through exactly the
same launcher, store and analysis code path as the model.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from typing import Any, ClassVar

import pandas as pd
from omegaconf import DictConfig

from peerwell.scenarios.experiments.design import ParamRange
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, iter_fields, with_overrides

# Run settings, not scientific parameters to sample.
NOT_SAMPLED = ("seed", "steps", "record_every")

# The documented default parameter set of `peerwell sensitivity` (and of designs without
# `params=`): the levers and risks of the conceptual model whose declared ranges are meaningful
# as they stand (shares and 0-1 strengths). Ranges are not repeated here: they come from
# the typed parameters' metadata.
DEFAULT_PARAMS = (
    "communities.moderation",
    "communities.hostility",
    "communities.misinformation_prevalence",
    "communities.anti_stigma_content",
    "population.initial_online_share",
    "exchange.moderation_efficacy",
    "care.seek_stigma_barrier",
    "care.seek_misinfo_barrier",
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class PeerwellHook:
    """The peerwell model (``model=peerwell``)."""

    name = "peerwell"
    default_outcome = "care_seeking_share"
    default_params = DEFAULT_PARAMS

    @functools.cached_property
    def space(self) -> dict[str, ParamRange]:
        """Every numeric parameter with a declared range (``sweep`` metadata first)."""
        out = {}
        for name, value, meta in iter_fields(ModelParams()):
            if name in NOT_SAMPLED or not _is_number(value):
                continue
            lo, hi = meta.get("sweep") or (meta.get("lo"), meta.get("hi"))
            if lo is None or hi is None:
                continue
            out[name] = ParamRange(
                name,
                float(lo),
                float(hi),
                integer=isinstance(value, int),
                unit=meta.get("unit", ""),
                help=meta.get("help", ""),
            )
        return out

    def base(self, cfg: DictConfig) -> ModelParams:
        """Validated parameters of a job's composed config."""
        from peerwell.scenarios.config import params_from_cfg

        return params_from_cfg(cfg)

    def with_values(self, base: ModelParams, values: dict[str, Any]) -> ModelParams:
        """``base`` with dotted-name values changed and validated (raises ConfigError)."""
        return with_overrides(base, values) if values else base

    def dump(self, base: ModelParams) -> dict:
        """``base`` as plain JSON data (the canonical config the run_id hashes)."""
        from peerwell.scenarios.experiments.store import canonical_config

        return canonical_config(base)

    def load(self, data: dict) -> ModelParams:
        """Validated parameters back from :meth:`dump`'s data (raises ConfigError)."""
        from peerwell.scenarios.config import params_from_cfg

        return params_from_cfg(data)

    def run_id(self, params: ModelParams) -> str:
        from peerwell.scenarios.experiments.store import run_id

        return run_id(params)

    def describe(self, params: ModelParams) -> dict:
        """Seed and scenario of a run (the columns every store row carries)."""
        return {"seed": params.seed, "scenario": params.scenario.name}

    def run(self, params: ModelParams) -> tuple[pd.DataFrame, dict]:
        """One simulation: trajectories (run_id, scenario, seed, step, outcomes) and metadata."""
        from peerwell.scenarios.experiments.runner import simulate

        result = simulate(params)
        return result.trajectories, result.meta

    def _tiny_run(self) -> pd.DataFrame:
        p = with_overrides(
            ModelParams(), {"population.size": 30, "steps": 1, "communities.count": 2}
        )
        return self.run(p)[0]

    @functools.cached_property
    def outcomes(self) -> list[str]:
        """Outcome columns of a run, read off a tiny run (so new recorder columns count)."""
        df = self._tiny_run()
        return [c for c in df.columns if c not in ("run_id", "scenario", "seed", "step")]

    def warm_up(self) -> None:
        """Import the model and load its compiled kernels, with a tiny run (about a second in
        a fresh process, milliseconds after): a sweep's job counts it as start-up, so that the
        time of its first run is a run's."""
        self._tiny_run()


@dataclasses.dataclass(frozen=True)
class IshigamiPoint:
    """One evaluation of the Ishigami function."""

    x1: float = 0.0
    x2: float = 0.0
    x3: float = 0.0
    seed: int = 0


class IshigamiHook:
    """Test hook (``model=ishigami``): SALib's Ishigami–Homma function, x1..x3 in [-π, π].

    Known Sobol' indices (A=7, B=0.1): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437.
    Only ``seed`` and the design values matter; every model parameter is ignored.
    """

    name = "ishigami"
    default_outcome = "y"
    default_params = ("x1", "x2", "x3")
    outcomes: ClassVar[list[str]] = ["y"]
    space: ClassVar[dict[str, ParamRange]] = {
        f"x{i}": ParamRange(f"x{i}", -math.pi, math.pi, help=f"Ishigami input x{i}")
        for i in (1, 2, 3)
    }

    def base(self, cfg: DictConfig) -> IshigamiPoint:
        return IshigamiPoint(seed=int(cfg.seed))

    def with_values(self, base: IshigamiPoint, values: dict[str, Any]) -> IshigamiPoint:
        known = {k: v for k, v in values.items() if k in ("x1", "x2", "x3", "seed")}
        return dataclasses.replace(base, **known)

    def warm_up(self) -> None:
        pass

    def dump(self, base: IshigamiPoint) -> dict:
        return dataclasses.asdict(base)

    def load(self, data: dict) -> IshigamiPoint:
        return IshigamiPoint(**data)

    def run_id(self, point: IshigamiPoint) -> str:
        blob = json.dumps({"model": "ishigami", **dataclasses.asdict(point)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self, point: IshigamiPoint) -> dict:
        return {"seed": point.seed, "scenario": "ishigami"}

    def run(self, point: IshigamiPoint) -> tuple[pd.DataFrame, dict]:
        import numpy as np
        from SALib.test_functions import Ishigami

        y = float(Ishigami.evaluate(np.array([[point.x1, point.x2, point.x3]]))[0])
        rid = self.run_id(point)
        df = pd.DataFrame(
            {"run_id": [rid], "scenario": ["ishigami"], "seed": [point.seed], "step": [0], "y": [y]}
        )
        meta = {
            "run_id": rid,
            "seed": point.seed,
            "scenario": "ishigami",
            "config": dataclasses.asdict(point),
        }
        return df, meta


MODELS = {"peerwell": PeerwellHook(), "ishigami": IshigamiHook()}


def get_model(name: str):
    """The model hook called ``name`` (raises ConfigError naming the known ones)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"model={name!r} is unknown; known: {', '.join(MODELS)}") from None
