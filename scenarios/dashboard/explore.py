"""The Explore page: one live model, its controls, the network and the trajectories.

The address may choose the starting point, e.g. ``/?scenario=offline_only&population.size=500``;
a part of the address that is wrong is reported on the page and ignored.
"""

from __future__ import annotations

from typing import Any

import solara

from peerwell.simulation.errors import PeerwellError

from .controls import FEATURED, SPECS, AllParameters, ParamPanel, groups
from .live import COLOR_BY, build_live, parse_query, scenario_list, scenario_params
from .session import use_session
from .views import (
    DayCounter,
    Expander,
    LiveNetwork,
    Message,
    Readouts,
    RunControls,
    TrajectoryChart,
)


def _make_live(search: str):
    scenario, overrides, problems = parse_query(search)
    live, more = build_live(scenario, overrides)
    return live, problems + more


@solara.component
def ExplorePage():
    router = solara.use_router()
    session = use_session()
    live, first_problems = session.get("explore", lambda: _make_live(router.search or ""))
    version = solara.use_reactive(0)  # bumped after every step or change: redraws the live views
    settings_version = solara.use_reactive(0)  # bumped when settings change: redraws the controls
    playing = solara.use_reactive(False)
    color_by = solara.use_reactive("activation")
    message = solara.use_reactive(("error", " · ".join(first_problems)) if first_problems else None)

    def changed():
        settings_version.set(settings_version.value + 1)
        version.set(version.value + 1)

    def on_change(name: str, value: Any) -> str | None:
        spec = SPECS.get(name)
        label = spec.label if spec else name
        try:
            restarted = live.apply({name: value})
        except PeerwellError as exc:
            message.set(("error", str(exc)))
            return str(exc)
        when = "the model restarted from day 0" if restarted else f"from day {live.day} on"
        # The views first, the message last: a message that says "restarted from day 0" must
        # not show beside a counter still at the old day.
        changed()
        message.set(("info", f"{label} is now {value}: {when}."))
        return None

    def on_scenario(name: str):
        keep = {
            "population.size": live.settings.population.size,
            "seed": live.settings.seed,
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

    with solara.Row(classes=["pw-page"], style={"align-items": "flex-start", "gap": "24px"}):
        with solara.Column(classes=["pw-sidebar"], style={"width": "360px", "flex": "none"}):
            _ = settings_version.value
            solara.HTML(tag="h2", unsafe_innerHTML="Explore the model", classes=["pw-title"])
            RunControls(live, version, playing, on_error=on_error, on_reset=changed)
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
            ParamPanel(FEATURED, live.settings, on_change)
            Expander(
                "Mechanisms: switch a box of the model off",
                lambda: ParamPanel(
                    [s.name for s in groups()["mechanisms"]], live.settings, on_change
                ),
            )
            Expander("All parameters", lambda: AllParameters(live.settings, on_change))
        with solara.Column(style={"flex": "1", "min-width": "0"}):
            with solara.Row(style={"align-items": "center", "gap": "24px", "flex-wrap": "wrap"}):
                DayCounter(live, version)
                solara.ToggleButtonsSingle(
                    value=color_by, values=list(COLOR_BY), classes=["pw-colorby"]
                )
            if message.value:
                Message(*message.value)
            Readouts(live, version)
            with solara.Row(style={"align-items": "flex-start", "gap": "16px"}):
                with solara.Column(style={"flex": "3", "min-width": "0"}):
                    LiveNetwork(live, version, color_by.value)
                with solara.Column(style={"flex": "2", "min-width": "0"}):
                    TrajectoryChart(live, version, playing.value)
