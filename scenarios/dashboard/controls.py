"""Dashboard controls built from the typed parameter metadata, never from a second hand-kept list.

Every field of ``ModelParams`` is made by ``spec(default, lo, hi, unit=, help=, box=)``; this module
turns that metadata into a :class:`ControlSpec` (which widget, its range, label, unit and help) and
parses what a person types into a checked value. The Solara components at the bottom draw them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import solara
from solara.components.input import use_change

from peerwell.simulation.params import (
    GROUPS,
    NETWORK_KINDS,
    ModelParams,
    get_param,
    iter_fields,
)

# Field names too generic to stand alone as a label: the group's name goes in front.
_GENERIC = {"size", "count", "kind", "path", "relaxation", "platforms"}

# The controls the Explore page shows first. Names only: label, range, unit, widget and help all
# come from each field's metadata. Everything else sits in "All parameters", built from iter_fields.
FEATURED = (
    "population.size",
    "communities.moderation",
    "communities.hostility",
    "communities.misinformation_prevalence",
    "communities.peer_supporters",
    "communities.intervention_communities",
    "seed",
)

# Parameters a running model can take mid-run (the same rule as timed scenario events); changing
# any other one restarts the model from day 0.
_FROZEN_GROUPS = ("network", "population")
_FROZEN_FIELDS = (
    "communities.count",
    "communities.platforms",
    "communities.intervention_communities",
)


def is_live(name: str) -> bool:
    """Whether ``name`` can change while the model runs (else the model restarts)."""
    if name == "steps":
        return True
    group = name.split(".")[0]
    return (
        "." in name
        and group in GROUPS
        and group not in _FROZEN_GROUPS
        and name not in _FROZEN_FIELDS
    )


@dataclass(frozen=True)
class ControlSpec:
    """One control: which widget to draw and how to check what is typed into it."""

    name: str
    label: str
    kind: str  # "switch" | "slider" | "int_slider" | "number" | "integer" | "choice"
    default: Any
    lo: float | None
    hi: float | None
    step: float
    unit: str
    help: str
    choices: tuple = ()

    @property
    def live(self) -> bool:
        return is_live(self.name)


def _label(name: str) -> str:
    parts = name.split(".")
    field = parts[-1]
    text = field.replace("_", " ")
    if field in _GENERIC and len(parts) > 1:
        text = f"{parts[0]} {text}"
    return text[:1].upper() + text[1:]


def _kind(value: Any, meta: dict) -> str | None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, bool):
        return "switch"
    if isinstance(value, int):
        if lo is not None and hi is not None and hi - lo <= 100:
            return "int_slider"
        return "integer"
    if isinstance(value, float):
        if lo is not None and hi is not None and hi - lo <= 1 and (value == 0 or value >= 0.01):
            return "slider"
        return "number"
    return None


def _all_specs() -> dict[str, ControlSpec]:
    out: dict[str, ControlSpec] = {}
    for name, value, meta in iter_fields(ModelParams()):
        if name == "network.kind":
            kind, choices = (
                "choice",
                tuple(k for k in NETWORK_KINDS if k not in ("edgelist", "graphml")),
            )
        else:
            kind, choices = _kind(value, meta), ()
        if kind is None:  # lists, paths: not something to set from a page
            continue
        step = 1.0
        if kind == "slider":
            step = 0.01
        out[name] = ControlSpec(
            name=name,
            label=_label(name),
            kind=kind,
            default=value,
            lo=meta.get("lo"),
            hi=meta.get("hi"),
            step=step,
            unit=meta.get("unit", ""),
            help=meta.get("help", ""),
            choices=choices,
        )
    return out


SPECS: dict[str, ControlSpec] = _all_specs()


def groups() -> dict[str, list[ControlSpec]]:
    """Every control, by parameter group (``seed`` and ``steps`` under "run").

    ``record_every`` is left out: a live model records every day.
    """
    out: dict[str, list[ControlSpec]] = {}
    for spec in SPECS.values():
        if spec.name == "record_every":
            continue
        group = spec.name.split(".")[0] if "." in spec.name else "run"
        out.setdefault(group, []).append(spec)
    return out


def _fmt(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:g}"


def parse_value(spec: ControlSpec, raw: Any) -> Any:
    """Turn what a person entered into a value of the field's type, inside its declared range.

    Raises
    ------
    ValueError
        With a sentence for the page: what was wrong and what is allowed.
    """
    if spec.kind == "switch":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{spec.label}: {raw!r} is not on/off (use true or false)")
    if spec.kind == "choice":
        if raw in spec.choices:
            return raw
        raise ValueError(f"{spec.label}: {raw!r} is not one of {', '.join(spec.choices)}")
    text = str(raw).strip().replace(",", "").replace("_", "")
    if spec.kind in ("integer", "int_slider"):
        try:
            as_float = float(text)
        except ValueError:
            raise ValueError(f"{spec.label}: {str(raw)!r} is not a whole number") from None
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(f"{spec.label}: {str(raw)!r} is not a whole number")
        value: Any = int(as_float)
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{spec.label}: {str(raw)!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{spec.label}: {str(raw)!r} is not a finite number")
    if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
        unit = f" {spec.unit}" if spec.unit else ""
        raise ValueError(
            f"{spec.label} must be between {_fmt(spec.lo)} and {_fmt(spec.hi)}{unit}; got {_fmt(value)}"
        )
    return value


def lookup(name: str) -> ControlSpec:
    """The control of parameter ``name``; ``KeyError`` with the known names if there is none."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown parameter {name!r}") from None


# ---------------------------------------------------------------------------------------------
# Solara components


@solara.component
def ParamControl(spec: ControlSpec, value: Any, on_change: Callable[[str, Any], str | None]):
    """One parameter's widget. ``on_change(name, value)`` returns an error message or None."""
    text, set_text = solara.use_state(str(value))
    error, set_error = solara.use_state(None)

    def sync():
        set_text(str(value))
        set_error(None)

    solara.use_effect(sync, [value])

    def submit(raw):
        set_text("" if raw is None else str(raw))
        try:
            parsed = parse_value(spec, raw)
        except ValueError as exc:
            set_error(str(exc))
            return
        if parsed == value and type(parsed) is type(value):
            # Enter and then leaving the field both submit: the second is no change
            set_error(None)
            return
        set_error(on_change(spec.name, parsed))

    unit = f" ({spec.unit})" if spec.unit and spec.kind != "switch" else ""
    label = f"{spec.label}{unit}"
    if spec.kind in ("slider", "int_slider"):
        label = f"{spec.label}: {value:g}{unit}"
    with solara.Column(gap="0px", classes=["pw-control"]):
        if spec.kind == "switch":
            solara.Switch(label=spec.label, value=bool(value), on_value=submit)
        elif spec.kind == "choice":
            solara.Select(label=label, values=list(spec.choices), value=value, on_value=submit)
        elif spec.kind == "slider":
            solara.SliderFloat(
                label,
                value=float(value),
                min=float(spec.lo),
                max=float(spec.hi),
                step=spec.step,
                on_value=submit,
                thumb_label=True,
            )
        elif spec.kind == "int_slider":
            solara.SliderInt(
                label,
                value=int(value),
                min=int(spec.lo),
                max=int(spec.hi),
                on_value=submit,
                thumb_label=True,
            )
        else:
            # The text follows every keystroke (so a re-render elsewhere on the page, e.g. while
            # playing, never puts the old value back); the value is checked and applied only on
            # Enter or on leaving the field.
            field = solara.InputText(
                label,
                value=text,
                on_value=set_text,
                continuous_update=True,
                error=error or False,
                message=None if error else spec.help,
                hide_details=False,
            )
            use_change(field, submit)
        if error and spec.kind not in ("integer", "number"):
            solara.Error(error, dense=True)


@solara.component
def ParamPanel(
    names: list[str] | tuple[str, ...],
    params: ModelParams,
    on_change: Callable[[str, Any], str | None],
):
    """The controls of ``names``, showing their values in ``params``."""
    for name in names:
        spec = SPECS.get(name)
        if spec is not None:
            ParamControl(spec, get_param(params, name), on_change)


@solara.component
def AllParameters(params: ModelParams, on_change: Callable[[str, Any], str | None]):
    """Every settable parameter, one collapsible section per group."""
    from .views import Expander

    for group, specs in groups().items():
        names = [s.name for s in specs]
        Expander(group.capitalize(), lambda names=names: ParamPanel(names, params, on_change))
