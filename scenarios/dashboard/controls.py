"""Dashboard controls built from the typed parameter metadata, never from a second hand-kept list.

Every field of ``ModelParams`` is made by ``spec(default, lo, hi, unit=, help=, source=, box=)``; this
module turns that metadata into a :class:`ControlSpec` (which widget, its range, label, unit, help,
and the basis and source of its default, from ``paramdoc``) and
parses what a person types (in a control or in the page's address) into a checked value. The
Solara components at the bottom draw them. Which parameters change while a model runs is
simulation/params.py's ``changes_mid_run`` alone; nothing here keeps a list of its own.

This module knows no live model and no page: the pages pass in the values to show and what to
do with a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import solara
from solara.components.input import use_change

from peerwell.scenarios.evidence.paramdoc import records as param_records
from peerwell.simulation.params import (
    NETWORK_KINDS,
    ModelParams,
    changes_mid_run,
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

# The group drawn as a section of its own ("Mechanisms"), outside "All parameters".
MECHANISMS_GROUP = "mechanisms"


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
    basis: str = "n/a"  # input | target | informed | assumption | n/a (paramdoc's, as in the ODD)
    source: str = ""  # what the study measured and why it applies (simulation/params.py)

    @property
    def provenance(self) -> str:
        """The basis and source of the default, as one line under the control."""
        if self.basis == "n/a":
            return "basis: n/a (the experimenter's choice, not a quantity calibrated to data)"
        source = self.source.strip()
        if source.lower() == "assumption":
            return "basis: assumption (no source)"
        if source.lower().startswith("assumption (") and source.endswith(")"):
            source = source[len("assumption (") : -1]  # "informed by …": the basis says the rest
        return f"basis: {self.basis} · source: {source}"

    @property
    def live(self) -> bool:
        """Whether a running model takes it; else it waits for a restart (params.py's rule)."""
        return changes_mid_run(self.name)


# Labels that would otherwise repeat another control's: the rate of hostile comments is not the
# hostility mechanism's switch (the "Hostility is now False" beside "Hostility: 0.04").
# A bare "Rate" says nothing of what happens at that rate.
_LABELS = {
    "communities.hostility": "Hostile comments per post",
    "acute.rate": "Acute care episodes",
}


def _shared_field_names() -> set[str]:
    """Names that two groups give to different settings (``activation.learning_gain`` and
    ``trust.learning_gain``): labelled alike, two controls read as one shown twice. Switches are
    left out: mechanisms and submodels share names on purpose, and ``_label`` tells them apart."""
    groups_of: dict[str, set[str]] = {}
    for name, value, _meta in iter_fields(ModelParams()):
        group, _, field_name = name.rpartition(".")
        if group and not isinstance(value, bool):
            groups_of.setdefault(field_name, set()).add(group)
    return {f for f, owners in groups_of.items() if len(owners) > 1}


_SHARED = _shared_field_names()


def _label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    parts = name.split(".")
    field = parts[-1]
    text = field.replace("_", " ")
    if (field in _GENERIC or field in _SHARED) and len(parts) > 1:
        text = f"{parts[0]} {text}"
    if parts[0] == "submodels":
        # A submodel and a mechanism can share a name (misinformation, hostility, ...): two
        # switches labelled alike would read as one control shown twice.
        text = f"{text} submodel"
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
    # Basis and source exactly as `peerwell params` and the ODD's tables give them.
    provenance = {r["name"]: (r["basis"], r["source"]) for r in param_records()}
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
            basis=provenance[name][0],
            source=provenance[name][1],
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


# Section titles of "All parameters" where the group's name alone says too little.
_SECTION_TITLES = {
    "acute": "Acute care",
    "information": "Information outside communities",
}


def section_title(group: str) -> str:
    """The title of a group's section in "All parameters"."""
    return _SECTION_TITLES.get(group, group.capitalize())


def all_parameter_sections() -> dict[str, list[str]]:
    """The sections of "All parameters": every group but the featured controls and mechanisms.

    Those two are drawn elsewhere on the page; a control drawn twice is two widgets for one
    value, and the one not touched goes on showing the old value.
    """
    out: dict[str, list[str]] = {}
    for group, specs in groups().items():
        if group == MECHANISMS_GROUP:
            continue
        names = [s.name for s in specs if s.name not in FEATURED]
        if names:
            out[group] = names
    return out


def restart_sections() -> list[str]:
    """The sections of "All parameters" none of whose controls a running model takes.

    Derived from ``changes_mid_run``, so it is the groups params.py fixes for a run: a section
    is titled "(applies on restart)" and its changes wait for the restart, as the model needs.
    """
    return [
        group
        for group, names in all_parameter_sections().items()
        if not any(SPECS[n].live for n in names)
    ]


def format_value(name: str, value: Any) -> str:
    """A value as a message shows it: switches as on/off, numbers as typed."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_setting(name: str, value: Any) -> str:
    """``group.name = value``, or for a switch of a box/submodel, which one and on or off.

    Always the group-qualified name: "Hostility" is both a mechanism and a rate of comments.
    """
    group, _, field_name = name.rpartition(".")
    if group == MECHANISMS_GROUP and isinstance(value, bool):
        return f"Mechanism '{field_name}' switched {format_value(name, value)} ({name})"
    if group == "submodels" and isinstance(value, bool):
        return f"Submodel '{field_name}' switched {format_value(name, value)} ({name})"
    return f"{name} = {format_value(name, value)}"


def change_message(name: str, value: Any, day: int) -> str:
    """What the page says after a change a running model took at once."""
    return f"{describe_setting(name, value)}, from day {day} on."


def pending_message(name: str, value: Any, running: Any) -> str:
    """What the page says after a change that waits for a restart."""
    if value == running and type(value) is type(running):
        return (
            f"{describe_setting(name, value)}: as the model runs now, nothing waits for a restart."
        )
    return (
        f"{describe_setting(name, value)} is pending: it applies when you press "
        f"'{RESTART_LABEL}' (until then the model runs {name} = {format_value(name, running)})."
    )


# The button that applies what waits for a restart.
RESTART_LABEL = "Restart with these settings"


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


def parse_query(search: str) -> tuple[str | None, dict[str, Any], list[str]]:
    """Read ``?scenario=NAME&population.size=300`` from a page address.

    Returns the scenario name (or None), the parameter overrides that parsed, and one message per
    part that did not (the page shows them and carries on without those parts).
    """
    scenario, overrides, problems = None, {}, []
    for key, raw in parse_qsl(search.lstrip("?"), keep_blank_values=True):
        if key == "scenario":
            scenario = raw
            continue
        try:
            overrides[key] = parse_value(lookup(key), raw)
        except KeyError:
            problems.append(f"the address names an unknown parameter {key!r}; it was ignored")
        except ValueError as exc:
            problems.append(f"{exc} (from the address; ignored)")
    return scenario, overrides, problems


# ---------------------------------------------------------------------------------------------
# Solara components


def _on_grid(spec: ControlSpec, value: Any) -> float | None:
    """``value`` snapped to the slider's steps, as the widget shows it (None: not a number)."""
    if not isinstance(value, (int, float)) or not spec.step:
        return None
    return round(round((value - spec.lo) / spec.step) * spec.step + spec.lo, 12)


def _css_name(name: str) -> str:
    return "pw-param-" + name.replace(".", "-").replace("_", "-")


@solara.component
def ParamControl(
    spec: ControlSpec,
    value: Any,
    on_change: Callable[[str, Any], str | None],
    running: Any = None,
    restart_note: bool = True,
):
    """One parameter's widget. ``on_change(name, value)`` returns an error message or None.

    ``value`` is what the control shows: the model's current value, or a change waiting for a
    restart, in which case ``running`` is what the model runs meanwhile and the control says so.
    """
    text, set_text = solara.use_state(str(value))
    error, set_error = solara.use_state(None)
    # Bumped when a change is refused: the widget is drawn anew, so it shows the value the model
    # still has instead of the one it refused.
    refused, set_refused = solara.use_state(0)
    pending = running is not None and not (value == running and type(value) is type(running))

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
            set_refused(refused + 1)
            return
        if parsed == value and type(parsed) is type(value):
            # Enter and then leaving the field both submit: the second is no change
            set_error(None)
            return
        if spec.kind == "slider" and parsed != value and parsed == _on_grid(spec, value):
            # The slider snapped a value off its grid (set by a timed event, e.g. 0.244 with
            # steps of 0.01) and reports the snapped one: that is the widget, not the user.
            return
        problem = on_change(spec.name, parsed)
        set_error(problem)
        if problem:
            set_refused(refused + 1)

    unit = f" ({spec.unit})" if spec.unit and spec.kind != "switch" else ""
    label = f"{spec.label}{unit}"
    if spec.kind in ("slider", "int_slider"):
        label = f"{spec.label}: {value:g}{unit}"
    classes = ["pw-control", _css_name(spec.name)] + (["pw-pending"] if pending else [])
    with solara.Column(gap="0px", classes=classes):
        widget = _widget(spec, value, label, text, set_text, error, submit)
        if spec.kind not in ("integer", "number"):  # a text field keeps what was typed
            widget.key(f"w{refused}")
        if pending:
            solara.Text(
                f"⟳ pending: applies on restart (running now: {format_value(spec.name, running)})",
                classes=["pw-pending-note"],
                style={"color": "#b45309", "font-size": "0.8em", "font-weight": "bold"},
            )
        elif restart_note and not spec.live:
            solara.Text(
                "applies on restart",
                classes=["pw-restart-note"],
                style={"color": "#6b7280", "font-size": "0.8em"},
            )
        # Where the default comes from (issue 20): basis and source, as in `peerwell params`.
        solara.Text(
            spec.provenance,
            classes=["pw-provenance"],
            style={"color": "#6b7280", "font-size": "0.75em"},
        )
        if error and spec.kind not in ("integer", "number"):
            solara.Error(error, dense=True)


@solara.component
def _widget(spec: ControlSpec, value, label: str, text: str, set_text, error, submit):
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


@solara.component
def ParamPanel(
    names: list[str] | tuple[str, ...],
    params: ModelParams,
    on_change: Callable[[str, Any], str | None],
    pending: dict[str, Any] | None = None,
    restart_note: bool = True,
):
    """The controls of ``names``: the values ``params`` (the running model's) holds now, or the
    value in ``pending`` of a change that waits for a restart."""
    pending = pending or {}
    for name in names:
        spec = SPECS.get(name)
        if spec is None:
            continue
        running = get_param(params, name)
        if name in pending:
            ParamControl(spec, pending[name], on_change, running, restart_note)
        else:
            ParamControl(spec, running, on_change, None, restart_note)
