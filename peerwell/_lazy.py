"""Public names that load on first use, for the packages below ``peerwell`` (PEP 562).

Each package's ``__init__`` names where its public names live (``_WHERE``), and this module makes
the module-level ``__getattr__`` and ``__dir__`` that import a submodule when one of its names is
first asked for. What is lazy in peerwell, why, and which tests hold it, is written in one place:
the "Lazy imports" section of ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_names(package: str, where: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names live in submodules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : dict
        Public name -> the submodule (below ``package``) that defines it.

    Returns
    -------
    (__getattr__, __dir__)
        To assign at the package's top level.

    Raises
    ------
    AttributeError
        (from ``__getattr__``) for a name the package does not have.
    """

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
