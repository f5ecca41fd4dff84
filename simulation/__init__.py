"""One peerwell run: parameters, population, network, state arrays, kernels and the Mesa model."""

from .errors import ConfigError, NetworkFileError, PeerwellError
from .model import PeerwellModel
from .params import ModelParams, validate, with_overrides

__all__ = [
    "ConfigError",
    "ModelParams",
    "NetworkFileError",
    "PeerwellError",
    "PeerwellModel",
    "validate",
    "with_overrides",
]
