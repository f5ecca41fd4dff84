"""One peerwell run: parameters, population, network, state arrays, kernels and the Mesa model.

The names in ``__all__`` are the public interface of this package; every module below
``peerwell.simulation`` is internal. They are loaded on first use (``docs/architecture.md`` says
why: ``peerwell.simulation.errors``, which every layer above may import, must not load Mesa and
the kernels). ``ReferenceModel`` is the same model as plain per-agent Mesa code, the oracle the
kernels are tested against.

May import: ``peerwell._lazy`` only. It is the bottom layer: every other package may import it,
and it knows nothing of scenarios, experiments or analysis (``docs/architecture.md``).
"""

from __future__ import annotations

from peerwell._lazy import lazy_names

# public name -> the module (below this package) that defines it
_WHERE = {
    "ConfigError": "errors",
    "ModelParams": "params",
    "NetworkFileError": "errors",
    "PeerwellError": "errors",
    "PeerwellModel": "model",
    "PersonView": "agents",
    "ReferenceModel": "reference",
    "validate": "params",
    "with_overrides": "params",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
