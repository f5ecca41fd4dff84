"""The Explore page: one live model, its controls, the network, the trajectories and the
communities (each one's members and settings, one of them changed at a time).

The address may choose the starting point, e.g. ``/?scenario=offline_only&population.size=500``;
a part of the address that is wrong is reported on the page and ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import solara

from peerwell.scenarios.dashboard.communities import CommunityPanel
from peerwell.scenarios.dashboard.controls import (
    FEATURED,
    MECHANISMS_GROUP,
    RESTART_LABEL,
    ParamPanel,
    all_parameter_sections,
    change_message,
    describe_setting,
    groups,
    parse_query,
    pending_message,
    restart_sections,
    section_title,
)
from peerwell.scenarios.dashboard.live import (
    COLOR_BY,
    LiveModel,
    build_live,
    scenario_list,
    scenario_params,
)
from peerwell.scenarios.dashboard.session import use_session
from peerwell.scenarios.dashboard.views import (
    DayCounter,
    Expander,
    FollowParams,
    LiveNetwork,
    Message,
    Readouts,
    RunControls,
    TrajectoryChart,
)
from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.params import ModelParams, get_param


def _make_live(search: str):
    scenario, overrides, problems = parse_query(search)
    live, more = build_live(scenario, overrides)
    return live, problems + more


def fired_events_text(live: LiveModel) -> str:
    """The timed events of the scenario that have changed the running model so far."""
    done = [f"day {day}: {describe_setting(p, v)}" for day, p, v in live.model.events_fired]
    return "Scenario events so far: " + "; ".join(done) if done else ""


@solara.component
def AllParameters(
    params: ModelParams,
    on_change: Callable[[str, Any], str | None],
    pending: dict[str, Any] | None = None,
):
    """Every settable parameter not shown elsewhere on the page, one section per group.

    A section none of whose parameters a running model takes says so in its title, and its
    controls wait for "Restart with these settings" like every other fixed parameter.
    """
    fixed_sections = restart_sections()
    for group, names in all_parameter_sections().items():
        fixed = group in fixed_sections
        title = section_title(group) + (" (applies on restart)" if fixed else "")
        Expander(
            title,
            lambda names=names, fixed=fixed: ParamPanel(
                names, params, on_change, pending, restart_note=not fixed
            ),
        )


@solara.component
def PendingChanges(pending: dict[str, Any], on_restart, on_discard):
    """What waits for a restart, and the buttons that apply or forget it.

    ``pending`` is a copy passed in, not read from the live model here: a component whose props
    compare equal is not drawn again.
    """
    if not pending:
        return
    items = ", ".join(describe_setting(k, v) for k, v in pending.items())
    with solara.Column(gap="4px", classes=["pw-pending-changes"]):
        solara.Warning(
            f"Waiting for a restart (the model runs on as before until then): {items}.",
            dense=True,
        )
        with solara.Row(gap="8px"):
            solara.Button(
                RESTART_LABEL, on_click=on_restart, color="warning", classes=["pw-restart"]
            )
            solara.Button("Discard", on_click=on_discard, text=True, classes=["pw-discard"])


@solara.component
def ExplorePage():
    router = solara.use_router()
    session = use_session()
    live, first_problems = session.get("explore", lambda: _make_live(router.search or ""))
    version = solara.use_reactive(0)  # bumped after every step or change: redraws the live views
    # The revision of the model's parameters the controls show: they are a view of the running
    # model (timed events move them too), redrawn only when its parameters change, not every day.
    params_seen = solara.use_reactive(live.revision)
    playing = solara.use_reactive(False)
    color_by = solara.use_reactive("activation")
    message = solara.use_reactive(("error", " · ".join(first_problems)) if first_problems else None)

    def changed():
        params_seen.set(live.revision)
        version.set(version.value + 1)

    def on_change(name: str, value: Any) -> str | None:
        try:
            waits = live.stage(name, value)
        except PeerwellError as exc:
            message.set(("error", str(exc)))
            return str(exc)
        # The views first, the message last: a message must not show beside views of before.
        changed()
        if waits:
            running = get_param(live.model.params, name)
            message.set(("warning", pending_message(name, value, running)))
        else:
            message.set(("info", change_message(name, value, live.day)))
        return None

    def on_restart():
        playing.set(False)
        try:
            applied = live.restart_pending()
        except PeerwellError as exc:
            message.set(("error", str(exc)))
            return
        changed()
        done = ", ".join(describe_setting(k, v) for k, v in applied.items())
        message.set(("info", f"Restarted from day 0 with {done}."))

    def on_discard():
        live.discard_pending()
        changed()
        message.set(("info", "The changes that waited for a restart were discarded."))

    def on_scenario(name: str):
        # A new scenario is a restart: what waits for one comes along.
        keep = {
            "population.size": live.settings.population.size,
            "seed": live.settings.seed,
            **live.pending,
        }
        try:
            playing.set(False)
            live.replace(scenario_params(name, keep))
        except PeerwellError as exc:
            message.set(("error", str(exc)))
            return
        changed()
        message.set(("info", f"Scenario {name}: {live.settings.scenario.description}"))

    def on_error(text: str | None):
        message.set(("error", text) if text else None)

    FollowParams(live, version, params_seen)
    with solara.Row(classes=["pw-page"], style={"align-items": "flex-start", "gap": "24px"}):
        with solara.Column(classes=["pw-sidebar"], style={"width": "360px", "flex": "none"}):
            _ = params_seen.value
            # A snapshot: the model's own object changes in place (timed events), and a control
            # must compare what it showed with what is new to know it has to redraw.
            with live.lock:
                params, pending = copy.deepcopy(live.model.params), dict(live.pending)
            solara.HTML(tag="h2", unsafe_innerHTML="Explore the model", classes=["pw-title"])
            RunControls(live, version, playing, on_error=on_error, on_reset=changed)
            PendingChanges(pending, on_restart, on_discard)
            try:
                names = [n for n, _ in scenario_list()]
            except Exception as exc:  # the catalogue is broken: say so, keep the page
                names = [live.settings.scenario.name]
                Message("error", f"cannot list scenarios: {exc}")
            solara.Select(
                "Scenario",
                values=names,
                value=live.settings.scenario.name,
                on_value=on_scenario,
            )
            events = fired_events_text(live)
            if events:
                solara.Text(events, classes=["pw-events"], style={"font-size": "0.85em"})
            ParamPanel(FEATURED, params, on_change, pending)
            mechanisms = [s.name for s in groups()[MECHANISMS_GROUP]]
            Expander(
                "Mechanisms: switch a box of the model off",
                lambda: ParamPanel(mechanisms, params, on_change, pending),
            )
            Expander("All parameters", lambda: AllParameters(params, on_change, pending))
        with solara.Column(style={"flex": "1", "min-width": "0"}):
            with solara.Row(style={"align-items": "center", "gap": "24px", "flex-wrap": "wrap"}):
                DayCounter(live, version)
                solara.ToggleButtonsSingle(
                    value=color_by, values=list(COLOR_BY), classes=["pw-colorby"]
                )
            # Always a slot, message or not: an element appearing above the views would shift
            # them, and Solara would draw them anew (closing the open Communities section).
            with solara.Column(gap="0px", classes=["pw-message-slot"]):
                if message.value:
                    Message(*message.value)
            Readouts(live, version)
            with solara.Row(style={"align-items": "flex-start", "gap": "16px"}):
                with solara.Column(style={"flex": "3", "min-width": "0"}):
                    LiveNetwork(live, version, color_by.value)
                with solara.Column(style={"flex": "2", "min-width": "0"}):
                    TrajectoryChart(live, version, playing.value)
            # Built only while open; a change goes through on_change like every other control.
            Expander(
                "Communities",
                lambda: CommunityPanel(live, version, playing.value, on_change),
                classes=["pw-communities-section"],
            )
