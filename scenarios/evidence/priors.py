"""Priors of the uncertain parameters (``conf/evidence/priors.yaml``) and the screen's choice of them.

A prior is a distribution on the parameter's declared range with the basis of that range. The
global screen (``peerwell calibrate method=morris``, :mod:`.screen`) ranks every prior's
parameter by its influence on the calibration targets and the main scenario contrasts and writes
``conf/evidence/screen.csv``; the parameters it selects are the ones ``peerwell calibrate
method=abc`` fits (:func:`screened`). Every distribution is a SciPy frozen distribution, so the
same object maps the screen's unit cube onto the range (``ppf``) and is pyabc's prior.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import yaml
from scipy import stats

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, get_param, iter_fields

DISTRIBUTIONS = ("uniform", "loguniform")
FIELDS = {"name", "distribution", "lo", "hi", "basis"}


@dataclass(frozen=True)
class Prior:
    """One parameter's prior: ``distribution`` on ``[lo, hi]`` and why that range."""

    name: str
    distribution: str
    lo: float
    hi: float
    basis: str

    def frozen(self):
        """The SciPy distribution (``uniform(lo, hi - lo)`` or ``loguniform(lo, hi)``)."""
        if self.distribution == "uniform":
            return stats.uniform(self.lo, self.hi - self.lo)
        return stats.loguniform(self.lo, self.hi)

    def ppf(self, u):
        """Quantile function: the unit interval onto the prior (the screen's design)."""
        return self.frozen().ppf(u)

    def text(self) -> str:
        """Short form for tables: ``U(0.001, 0.01)`` or ``logU(0.01, 0.04)``."""
        short = "U" if self.distribution == "uniform" else "logU"
        return f"{short}({self.lo:.4g}, {self.hi:.4g})"


def default_path(name: str = "priors.yaml") -> Path:
    """A file of ``conf/evidence/`` in the installed package (read as data)."""
    from importlib import resources

    from peerwell.scenarios.catalogue import CONF_MODULE

    return Path(str(resources.files(CONF_MODULE) / "evidence" / name))


def load_priors(path: str | Path | None = None) -> list[Prior]:
    """The priors of ``path`` (default: the package's), checked against the model's parameters.

    Raises
    ------
    ConfigError
        A field missing or unknown, an unknown parameter, an unknown distribution, a range that is
        empty, outside the parameter's allowed range, not holding the default, or a log-uniform
        range touching 0 — each named with the prior and what would be right.
    """
    p = Path(path) if path is not None else default_path()
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"priors={p}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"priors={p}: not YAML ({str(exc).splitlines()[0]})") from None
    entries = doc.get("priors") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"priors={p}: expected `priors:` with a list of entries")
    defaults = ModelParams()
    meta = {name: m for name, _, m in iter_fields(defaults)}
    out, seen = [], set()
    for i, e in enumerate(entries):
        who = f"priors={p}: entry {i + 1}" + (f" ({e.get('name')})" if isinstance(e, dict) else "")
        if not isinstance(e, dict) or set(e) != FIELDS:
            got = sorted(e) if isinstance(e, dict) else type(e).__name__
            raise ConfigError(f"{who}: needs exactly the fields {sorted(FIELDS)}; got {got}")
        name = str(e["name"])
        if name not in meta:
            raise ConfigError(f"{who}: {name} is not a model parameter (`peerwell params`)")
        if name in seen:
            raise ConfigError(f"{who}: {name} has a prior already")
        seen.add(name)
        if e["distribution"] not in DISTRIBUTIONS:
            raise ConfigError(
                f"{who}: distribution {e['distribution']!r}; choose one of {DISTRIBUTIONS}"
            )
        lo, hi = float(e["lo"]), float(e["hi"])
        allowed_lo, allowed_hi = meta[name].get("lo", -math.inf), meta[name].get("hi", math.inf)
        default = float(get_param(defaults, name))
        if not (allowed_lo <= lo < hi <= allowed_hi):
            raise ConfigError(
                f"{who}: range [{lo}, {hi}] must be non-empty and within the parameter's "
                f"allowed [{allowed_lo}, {allowed_hi}]"
            )
        if not lo <= default <= hi:
            raise ConfigError(f"{who}: range [{lo}, {hi}] must hold the default {default}")
        if e["distribution"] == "loguniform" and lo <= 0:
            raise ConfigError(f"{who}: a log-uniform range needs lo > 0 (got {lo})")
        out.append(Prior(name, e["distribution"], lo, hi, str(e["basis"])))
    return out


def by_name(priors: list[Prior]) -> dict[str, Prior]:
    return {p.name: p for p in priors}


def screened(
    priors: list[Prior], screen_path: str | Path | None = None, column: str = "selected"
) -> list[Prior]:
    """The priors the screen selected (``column`` of ``screen.csv``: ``selected``, or ``fitted``
    for the ones ABC fits), in screen order.

    Raises
    ------
    ConfigError
        No screen file, or it selects a parameter that has no prior (the screen is stale).
    """
    p = Path(screen_path) if screen_path is not None else default_path("screen.csv")
    if not p.is_file():
        raise ConfigError(
            f"screen={p}: no such file; make it with `peerwell calibrate method=morris`"
        )
    with p.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(column, "").lower() == "true"]
    known = by_name(priors)
    missing = [r["parameter"] for r in rows if r["parameter"] not in known]
    if missing:
        raise ConfigError(
            f"screen={p}: selects {', '.join(missing)}, which have no prior; run the screen again"
        )
    if not rows:
        raise ConfigError(f"screen={p}: no parameter is {column}")
    return [known[r["parameter"]] for r in rows]
