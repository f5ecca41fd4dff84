"""One peerwell run: parameters, population, network, state arrays, kernels and the Mesa model.

The names in ``__all__`` are the public interface of this package; every module below
``peerwell.simulation`` is internal. ``ReferenceModel`` (the same model as plain per-agent Mesa
code, the oracle the kernels are tested against) is loaded on first use.
"""

from .agents import PersonView
from .errors import ConfigError, NetworkFileError, PeerwellError
from .model import PeerwellModel
from .params import ModelParams, validate, with_overrides

__all__ = [
    "ConfigError",
    "ModelParams",
    "NetworkFileError",
    "PeerwellError",
    "PeerwellModel",
    "PersonView",
    "ReferenceModel",
    "validate",
    "with_overrides",
]


def __getattr__(name: str):
    if name == "ReferenceModel":
        from .reference import ReferenceModel

        return ReferenceModel
    raise AttributeError(f"module 'peerwell.simulation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
