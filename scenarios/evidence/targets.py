"""The empirical targets of the model, with their roles: ``conf/evidence/targets.yaml``, typed.

Every number the model is set against is listed once in ``conf/evidence/targets.yaml`` with what
the model measures, the published value and 95% interval, the population and setting it was
observed in, its source (with table or page), its kind and its **role**:

- ``calibration``: the anchors ``peerwell calibrate`` reports and ``fit=true`` fits
  (``anchors.py`` builds them; it drops any anchor the file does not list as calibration);
- ``held_out``: targets no calibration code reads, checked only by ``peerwell validate evidence``
  on the calibrated defaults (``evidence.py``). A held-out target that fails is a finding about the
  model, not a residual to tune.

Kinds: ``level`` (a share or mean in one scenario), ``effect`` (a contrast between two scenarios
run on the same seeds, e.g. a year online against none: its ``contrast`` says which outcome,
statistic and scenarios) and ``trial`` (a published trial's design run by
``peerwell.scenarios.evidence.trials``, named by ``design``).

:func:`load_targets` reads and validates the file; errors name the target, the field and what
would be right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from peerwell.simulation.errors import ConfigError

ROLES = ("calibration", "held_out")
KINDS = ("level", "effect", "trial")
# Statistics of an effect target, per replicate (treated vs control on the same seeds):
#   smd: (mean_t - mean_c) / pooled SD of the people's values on the last day;
#   logit_d: ln(odds ratio) * sqrt(3)/pi (Chinn 2000), a share's contrast on the SMD scale;
#   difference: mean_t - mean_c (the calibration direction anchors).
STATISTICS = ("smd", "logit_d", "difference")
# Outcomes an effect target can contrast: the probe's mean (share) and, for smd, its SD.
OUTCOMES = {
    "empowerment": "empowerment_mean",
    "recovery": "recovery_mean",
    "wellbeing_mental": "wellbeing_mental_mean",
    "belonging": "belonging_mean",
    "care_seeking": "care_seeking_share",
    "misinformation_belief": "misinformation_belief_mean",
    "employed": "employed_share",
}
FIELDS = {
    "name", "quantity", "value", "interval", "population", "setting", "source", "kind", "role",
    "measure", "contrast", "design", "statistic", "n", "interval_basis", "note", "informs",
}  # fmt: skip
REQUIRED = ("name", "quantity", "interval", "population", "setting", "source", "kind", "role")
CONTRAST_FIELDS = {"outcome", "statistic", "treated", "control", "sign", "overrides"}


def default_path() -> Path:
    """``conf/evidence/targets.yaml`` of the installed package (read as data, as the catalogue
    reads the scenarios)."""
    from importlib import resources

    from peerwell.scenarios.catalogue import CONF_MODULE

    return Path(str(resources.files(CONF_MODULE) / "evidence" / "targets.yaml"))


@dataclass(frozen=True)
class Contrast:
    """What an effect target measures: ``sign`` · statistic(``treated`` vs ``control``) of
    ``outcome``, each scenario a catalogue scenario with ``overrides`` on top of the control."""

    outcome: str
    statistic: str
    treated: str
    control: str
    sign: int = 1
    overrides: tuple[str, ...] = ()  # applied to the control run only


@dataclass(frozen=True)
class Target:
    """One empirical target: the published figure, where it comes from, and its role."""

    name: str
    quantity: str
    value: float | None
    interval: tuple[float | None, float | None]
    population: str
    setting: str
    source: str
    kind: str
    role: str
    measure: str | None = None  # a probe measurement (scenario.measure or diff.measure)
    contrast: Contrast | None = None
    design: str | None = None  # a trial design of trials.py
    statistic: str | None = None
    n: int | None = None
    interval_basis: str = ""
    note: str = ""
    informs: tuple[str, ...] = field(default=())  # parameters whose value the same figure set

    @property
    def lo(self) -> float | None:
        return self.interval[0]

    @property
    def hi(self) -> float | None:
        return self.interval[1]


def _err(i: int, name: object, key: str, msg: str) -> ConfigError:
    who = f"target {name!r}" if name else f"target #{i + 1}"
    return ConfigError(f"conf/evidence/targets.yaml: {who}: {key}: {msg}")


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _parse(i: int, raw: object) -> Target:
    if not isinstance(raw, dict):
        raise _err(i, None, "entry", f"expected a mapping of fields, got {type(raw).__name__}")
    name = raw.get("name")
    unknown = set(raw) - FIELDS
    if unknown:
        raise _err(i, name, ", ".join(sorted(unknown)),
                   f"unknown field(s); a target has {', '.join(sorted(FIELDS))}")  # fmt: skip
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            raise _err(i, name, key, "missing (required for every target)")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise _err(i, name, "name", "give an identifier (letters, digits, underscores)")
    role = raw["role"]
    if role not in ROLES:
        raise _err(i, name, "role", f"{role!r} is not a role; give one of {', '.join(ROLES)} "
                   "(an input read back is a calibration target with a note)")  # fmt: skip
    kind = raw["kind"]
    if kind not in KINDS:
        raise _err(i, name, "kind", f"{kind!r} is not a kind; give one of {', '.join(KINDS)}")
    for key in ("quantity", "population", "setting", "source"):
        if not isinstance(raw[key], str):
            raise _err(i, name, key, "give text")
    value = raw.get("value")
    if value is not None and not _number(value):
        raise _err(i, name, "value", f"{value!r}: give a finite number or leave it out")
    interval = raw["interval"]
    if not isinstance(interval, list) or len(interval) != 2:
        raise _err(i, name, "interval", f"{interval!r}: give [lo, hi] (null for an open bound)")
    lo, hi = interval
    for b in (lo, hi):
        if b is not None and not _number(b):
            raise _err(i, name, "interval", f"{b!r}: bounds are finite numbers or null")
    if lo is None and hi is None:
        raise _err(i, name, "interval", "both bounds open: give at least one")
    if lo is not None and hi is not None and lo > hi:
        raise _err(i, name, "interval", f"[{lo}, {hi}]: lo > hi; give [{hi}, {lo}]")
    if value is not None and ((lo is not None and value < lo) or (hi is not None and value > hi)):
        raise _err(i, name, "value", f"{value} lies outside its interval [{lo}, {hi}]")
    if role == "held_out" and (value is None or lo is None or hi is None):
        raise _err(i, name, "value/interval", "a held-out target needs a published value and "
                   "a two-sided 95% interval (held-out checks compare intervals)")  # fmt: skip
    n = raw.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise _err(i, name, "n", f"{n!r}: give the sample size as a positive integer")
    measure, contrast, design = raw.get("measure"), raw.get("contrast"), raw.get("design")
    statistic = raw.get("statistic")
    if kind == "trial":
        from peerwell.scenarios.evidence.trials import DESIGNS

        if design not in DESIGNS:
            raise _err(i, name, "design", f"{design!r} is not a trial design; give one of "
                       f"{', '.join(DESIGNS)} (peerwell trial --help)")  # fmt: skip
        if statistic is not None and statistic != DESIGNS[design].statistic:
            raise _err(i, name, "statistic", f"{statistic!r}: the design {design} reports "
                       f"{DESIGNS[design].statistic!r}; give that or leave it out")  # fmt: skip
        statistic = DESIGNS[design].statistic
    elif kind == "effect" and contrast is None and measure is None:
        raise _err(i, name, "contrast", "an effect target needs contrast: {outcome, statistic, "
                   "treated, control} (or a diff.* measure)")  # fmt: skip
    elif kind == "level" and not isinstance(measure, str):
        raise _err(i, name, "measure", "a level target needs measure: scenario.measurement")
    if measure is not None and (not isinstance(measure, str) or "." not in measure):
        raise _err(i, name, "measure", f"{measure!r}: give scenario.measurement "
                   "(e.g. baseline.online_share)")  # fmt: skip
    parsed = None
    if contrast is not None:
        parsed = _contrast(i, name, contrast)
        statistic = statistic or parsed.statistic
    informs = raw.get("informs") or ()
    if not isinstance(informs, (list, tuple)) or not all(isinstance(p, str) for p in informs):
        raise _err(i, name, "informs", "give a list of parameter names")
    for key in ("interval_basis", "note"):
        if not isinstance(raw.get(key, ""), str):
            raise _err(i, name, key, "give text")
    return Target(
        name=name, quantity=raw["quantity"], value=None if value is None else float(value),
        interval=(None if lo is None else float(lo), None if hi is None else float(hi)),
        population=raw["population"], setting=raw["setting"], source=raw["source"], kind=kind,
        role=role, measure=measure, contrast=parsed, design=design, statistic=statistic, n=n,
        interval_basis=raw.get("interval_basis", ""), note=raw.get("note", ""),
        informs=tuple(informs),
    )  # fmt: skip


def _contrast(i: int, name: str, c: object) -> Contrast:
    if not isinstance(c, dict):
        raise _err(i, name, "contrast", "give a mapping {outcome, statistic, treated, control}")
    unknown = set(c) - CONTRAST_FIELDS
    if unknown:
        raise _err(i, name, f"contrast.{sorted(unknown)[0]}",
                   f"unknown; a contrast has {', '.join(sorted(CONTRAST_FIELDS))}")  # fmt: skip
    for key in ("outcome", "statistic", "treated", "control"):
        if not isinstance(c.get(key), str):
            raise _err(i, name, f"contrast.{key}", "missing")
    if c["outcome"] not in OUTCOMES:
        raise _err(i, name, "contrast.outcome",
                   f"{c['outcome']!r}: give one of {', '.join(OUTCOMES)}")  # fmt: skip
    if c["statistic"] not in STATISTICS:
        raise _err(i, name, "contrast.statistic",
                   f"{c['statistic']!r}: give one of {', '.join(STATISTICS)}")  # fmt: skip
    sign = c.get("sign", 1)
    if sign not in (1, -1):
        raise _err(i, name, "contrast.sign", f"{sign!r}: give 1 or -1 (-1: lower is the benefit)")
    overrides = c.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o
                                                  for o in overrides):  # fmt: skip
        raise _err(i, name, "contrast.overrides", "give a list of key=value")
    return Contrast(c["outcome"], c["statistic"], c["treated"], c["control"], int(sign),
                    tuple(overrides))  # fmt: skip


def load_targets(role: str | None = None, path: str | Path | None = None) -> list[Target]:
    """The targets of ``conf/evidence/targets.yaml`` (or ``path``), all or those of ``role``.

    Raises
    ------
    ConfigError
        The file is missing or not a list of targets, a field is wrong (the message names the
        target, the field and what would be right), a name repeats, or ``role`` is not a role.
    """
    import yaml

    if role is not None and role not in ROLES:
        raise ConfigError(f"load_targets: role={role!r}: give one of {', '.join(ROLES)} or None")
    p = Path(path) if path is not None else default_path()
    if not p.is_file():
        raise ConfigError(f"{p}: no targets file")
    raw = yaml.safe_load(p.read_text())
    items = raw.get("targets") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{p}: expected a mapping with `targets:` a list of targets")
    out: list[Target] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        t = _parse(i, item)
        if t.name in seen:
            raise _err(i, t.name, "name", "repeats an earlier target; names are unique")
        seen.add(t.name)
        out.append(t)
    return [t for t in out if role is None or t.role == role]


def calibration_names(path: str | Path | None = None) -> set[str]:
    """Names of the calibration targets: the only anchors calibration may read."""
    return {t.name for t in load_targets("calibration", path)}


def assert_calibration_only(names, path: str | Path | None = None) -> None:
    """Refuse any name that is not a calibration target (a held-out target reaching a fit)."""
    allowed = calibration_names(path)
    leaked = sorted(set(names) - allowed)
    if leaked:
        held = {t.name for t in load_targets("held_out", path)}
        what = ["held-out" if n in held else "unlisted" for n in leaked]
        raise ConfigError(
            "calibration may read only calibration targets of conf/evidence/targets.yaml; got "
            + ", ".join(f"{n} ({w})" for n, w in zip(leaked, what))
        )
