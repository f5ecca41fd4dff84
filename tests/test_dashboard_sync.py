"""Issue 24: the Explore page must show what the model runs, and run what it shows.

Browser tests (one per reported bug) compare what the page shows with the model's state: either
a reference ``LiveModel`` built in this process with the same settings and stepped to the same
day (a model is deterministic), or what the page reads from the running model itself (the day
counter's list of submodels left out). The fast tests below them check the pure rules.
"""

from __future__ import annotations

import re
import time

import pytest
from test_dashboard import SMALL, App, Server, needs_chromium

from peerwell.scenarios.dashboard.controls import (
    FEATURED,
    MECHANISMS_GROUP,
    RESTART_LABEL,
    SPECS,
    all_parameter_sections,
    change_message,
    describe_setting,
    groups,
    restart_sections,
    section_title,
)
from peerwell.scenarios.dashboard.live import LiveModel, scenario_params
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import (
    FIXED_GROUPS,
    Event,
    ModelParams,
    changes_mid_run,
    iter_fields,
    validate,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("dashboard-sync"))
    yield srv
    srv.stop()


@pytest.fixture
def app(page, server):
    a = App(page, server)
    yield a
    a.check_clean()  # no console errors, no server-log errors, nothing fetched from outside


def _control(app: App, name: str):
    """The control of parameter ``name`` (every control carries its name as a class)."""
    return app.page.locator(".pw-param-" + name.replace(".", "-").replace("_", "-"))


def _shown_number(app: App, name: str) -> float:
    """The number a control shows: in a slider's label ("Moderation: 0.9 (0-1)"), else typed."""
    control = _control(app, name).first
    if SPECS[name].kind in ("integer", "number"):
        return float(control.locator("input").input_value().replace(",", ""))
    text = control.inner_text()
    match = re.search(re.escape(SPECS[name].label) + r": ([-\d.e]+)", text)
    assert match, f"no value in the label of {name}: {text!r}"
    return float(match.group(1))


def _wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"the page never showed {what}")


def _wait_shown(app: App, name: str, expected: float) -> None:
    try:
        _wait_for(lambda: _shown_number(app, name) == expected, f"{name} = {expected}")
    except AssertionError as exc:
        raise AssertionError(f"{exc} (it shows {_shown_number(app, name)})") from None


def _pause(app: App) -> int:
    """Pause a playing model; return the day it stopped on."""
    app.button("Pause").click()
    app.button("Play").wait_for()  # the server has taken the pause
    time.sleep(0.3)  # a day already under way still arrives
    return app.day()


def _switch(app: App, label: str):
    return app.page.get_by_role("switch", name=label, exact=True)


def _messages(app: App) -> str:
    return " | ".join(m.inner_text() for m in app.page.locator(".pw-message").all())


def _open(app: App, button: str) -> None:
    app.page.get_by_role("button", name=re.compile("^▸ " + re.escape(button))).first.click()


# ---------------------------------------------------------------------------------------------
# Bug 1: a submodel switch (fixed for a run) said nothing, errored, and Reset applied it


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_a_submodel_switch_waits_for_a_restart_and_says_so(app):
    app.open(f"/?{SMALL}")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    _open(app, "All parameters")
    _open(app, "Submodels")
    switch = _switch(app, "Wellbeing submodel")
    switch.click(force=True)
    app.page.locator(".pw-message").first.wait_for()
    assert "GROUP.NAME" not in _messages(app)
    assert app.page.locator(".pw-message.error").count() == 0, _messages(app)
    # the switch shows the new value, marked pending; the model runs on, wellbeing still on
    _control(app, "submodels.wellbeing").locator(".pw-pending-note").wait_for()
    assert switch.get_attribute("aria-checked") == "false"
    assert app.day() == 1
    assert app.page.locator(".pw-submodels-off").count() == 0
    # Reset starts the same run again: it does not slip the pending change in
    app.button("Reset").click()
    app.wait_day(lambda d: d == 0)
    assert app.page.locator(".pw-submodels-off").count() == 0
    assert _control(app, "submodels.wellbeing").locator(".pw-pending-note").count() == 1
    # the restart applies it: the model leaves wellbeing out and the switch agrees, not pending
    app.button("Restart with these settings").click()
    app.page.locator(".pw-submodels-off", has_text="wellbeing").wait_for()
    assert app.day() == 0
    assert _control(app, "submodels.wellbeing").locator(".pw-pending-note").count() == 0
    assert switch.get_attribute("aria-checked") == "false"
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    assert app.page.locator(".pw-message.error").count() == 0, _messages(app)


# ---------------------------------------------------------------------------------------------
# Issue 22: what may change mid-run was defined twice, and "All parameters" offered the submodel
# switches as live changes that the running model then refused


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_all_parameters_shows_submodels_as_fixed_and_agrees_with_the_model(app):
    app.open(f"/?{SMALL}&steps=365")
    app.button("Play").click()
    app.wait_day(lambda d: d >= 1)
    _open(app, "All parameters")
    app.page.locator(".pw-expander-body .pw-expander-button").first.wait_for()
    titles = app.page.locator(".pw-expander-button").all_inner_texts()
    fixed = {
        t.removeprefix("▸ ").removesuffix(" (applies on restart)").lower()
        for t in titles
        if t.endswith(" (applies on restart)")
    }
    # submodels among them, as for the model
    assert fixed == {section_title(g).lower() for g in FIXED_GROUPS}, titles
    _open(app, "Submodels (applies on restart)")
    switch = _switch(app, "Wellbeing submodel")
    control = _control(app, "submodels.wellbeing")
    # while the model plays: the change waits, the switch says what the model runs meanwhile
    switch.click(force=True)
    control.locator(".pw-pending-note").wait_for()
    app.page.locator(".pw-message", has_text="Submodel 'wellbeing' switched off").first.wait_for()
    assert "is pending" in _messages(app)
    assert app.page.locator(".pw-message.error").count() == 0, _messages(app)
    assert switch.get_attribute("aria-checked") == "false"
    assert "running now: on" in control.inner_text()
    day = app.day()
    app.wait_day(lambda d: d > day)  # played on, never restarted
    assert app.page.locator(".pw-submodels-off").count() == 0  # the model still runs wellbeing
    assert app.button(RESTART_LABEL).count() == 1
    # switched back to what runs: nothing waits, and the switch shows the model's value again
    switch.click(force=True)
    _wait_for(lambda: control.locator(".pw-pending-note").count() == 0, "no pending note")
    assert switch.get_attribute("aria-checked") == "true"
    assert app.button(RESTART_LABEL).count() == 0
    assert app.page.locator(".pw-message.error").count() == 0, _messages(app)
    day = _pause(app)
    assert day > 1 and app.page.locator(".pw-submodels-off").count() == 0


# ---------------------------------------------------------------------------------------------
# Bug 2: timed scenario events changed the model but never the controls


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_timed_events_move_the_controls(app):
    # misinformation_surge: the share of misleading outside content rises on day 90 (a setting of
    # every community, shown among the controls; moderated_community's change is a community of
    # its own opening, shown in the Communities section).
    watched = ("communities.misinformation_prevalence", "communities.moderation")
    app.open(f"/?scenario=misinformation_surge&{SMALL}")
    reference = LiveModel(scenario_params("misinformation_surge", {"population.size": 300}))
    for name in watched:
        _wait_shown(app, name, _param(reference, name))
    app.button("Play").click()
    app.wait_day(lambda d: d >= 91)  # the events of day 90 act from the start of that day
    day = _pause(app)
    reference.step(day)
    assert reference.model.events_fired, "the reference passed no event: pick a later day"
    for name in watched:
        _wait_shown(app, name, _param(reference, name))
    if day < 150:  # the surge ends on day 150
        assert _shown_number(app, "communities.misinformation_prevalence") == 0.244
    app.page.get_by_text("Scenario events so far").first.wait_for()
    # after Reset the model is at day 0 again, before the events: so are the controls
    app.button("Reset").click()
    app.wait_day(lambda d: d == 0)
    fresh = LiveModel(scenario_params("misinformation_surge", {"population.size": 300}))
    for name in watched:
        _wait_shown(app, name, _param(fresh, name))


def _param(live: LiveModel, name: str):
    group, field = name.split(".")
    return getattr(getattr(live.model.params, group), field)


# ---------------------------------------------------------------------------------------------
# Bug 3: each mechanism switch was drawn twice, and the two disagreed


def test_every_control_has_a_label_of_its_own():
    """Two controls labelled alike read as one control shown twice (a submodel and a mechanism
    are both "Misinformation"; the hostility rate and the hostility switch both "Hostility")."""
    from collections import Counter

    labels = Counter(spec.label for spec in SPECS.values())
    assert [label for label, n in labels.items() if n > 1] == []


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_every_control_is_drawn_once(app):
    app.open(f"/?{SMALL}")
    _open(app, "Mechanisms")
    _switch(app, groups()[MECHANISMS_GROUP][0].label).wait_for()  # drawn when the server says
    _open(app, "All parameters")
    # open every section of "All parameters" (each opens without closing the others), one at a
    # time: a second click on a section the server has not redrawn yet would close it again
    sections = app.page.locator(".pw-expander-body .pw-expander-button")
    sections.first.wait_for()
    for k in range(sections.count()):
        section = sections.nth(k)
        section.click()
        _wait_for(lambda section=section: section.inner_text().startswith("▾"), "it open")
    for spec in groups()[MECHANISMS_GROUP]:
        assert _switch(app, spec.label).count() == 1, spec.name
    for name in FEATURED:  # drawn at the top, and nowhere else
        assert _control(app, name).count() == 1, name
    labels = app.page.locator(".pw-control label").all_inner_texts()
    assert len(labels) == len(set(labels)), sorted(x for x in labels if labels.count(x) > 1)
    # one switch, one model: off stays off through a Reset (the model keeps the change)
    _switch(app, "Hostility").click(force=True)
    app.page.get_by_text("Mechanism 'hostility' switched off").first.wait_for()
    app.button("Reset").click()
    app.wait_day(lambda d: d == 0)
    _wait_for(lambda: _switch(app, "Hostility").get_attribute("aria-checked") == "false", "off")


# ---------------------------------------------------------------------------------------------
# Bug 4: "Hostility is now False" beside the slider "Hostility: 0.04"


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_change_messages_name_the_parameter_unambiguously(app):
    app.open(f"/?{SMALL}")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    _open(app, "Mechanisms")
    _switch(app, "Hostility").click(force=True)
    app.page.get_by_text(
        "Mechanism 'hostility' switched off (mechanisms.hostility), from day 1 on."
    ).first.wait_for()
    slider = _control(app, "communities.hostility").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    app.page.get_by_text("communities.hostility = 0.05, from day 1 on.").first.wait_for()
    assert _shown_number(app, "communities.hostility") == 0.05
    assert "is now" not in _messages(app)


# ---------------------------------------------------------------------------------------------
# The rules behind the page (no browser)


def test_which_parameters_change_mid_run_comes_from_params_py():
    import peerwell.scenarios.dashboard.controls as controls

    assert not hasattr(controls, "_FROZEN_GROUPS")  # no second copy of the rule to drift
    for name in SPECS:
        assert SPECS[name].live == changes_mid_run(name), name
    # and it is the rule timed events obey: an event is refused exactly when the rule says so
    for name, value, _ in iter_fields(ModelParams()):
        if "." not in name:
            continue
        params = ModelParams()
        params.scenario.events = [Event(day=1, param=name, value=value)]
        try:
            validate(params)
            accepted = True
        except ConfigError:
            accepted = False
        assert accepted == changes_mid_run(name), name
    assert not changes_mid_run("submodels.wellbeing")
    assert not changes_mid_run("seed") and changes_mid_run("steps")


def test_the_dashboards_fixed_sections_are_the_groups_params_fixes_for_a_run():
    # "All parameters" titles these "(applies on restart)": submodels too, as set_params and
    # timed events treat them
    assert set(restart_sections()) == set(FIXED_GROUPS)
    for group, names in all_parameter_sections().items():
        for name in names:
            shown_fixed = group in restart_sections() or not SPECS[name].live
            assert shown_fixed == (not changes_mid_run(name)), name


def test_a_fixed_parameter_waits_for_the_restart_and_reset_keeps_it_waiting():
    live = LiveModel(scenario_params("baseline", {"population.size": 200}))
    live.step(3)
    assert live.stage("submodels.wellbeing", False) is True
    assert live.day == 3 and live.model.params.submodels.wellbeing is True
    assert live.pending == {"submodels.wellbeing": False}
    live.reset()
    assert live.model.params.submodels.wellbeing is True  # Reset slips nothing in
    assert live.pending == {"submodels.wellbeing": False}
    assert live.restart_pending() == {"submodels.wellbeing": False}
    assert live.day == 0 and live.model.params.submodels.wellbeing is False
    assert live.pending == {}
    # setting a pending value back to what runs leaves nothing waiting
    live.stage("seed", 7)
    live.stage("seed", live.settings.seed)
    assert live.pending == {}
    # a live one acts at once, and stays through a Reset
    assert live.stage("mechanisms.hostility", False) is False
    live.reset()
    assert live.model.params.mechanisms.hostility is False


def test_the_revision_moves_when_a_timed_event_fires():
    live = LiveModel(scenario_params("platform_moderation", {"population.size": 200}))
    before = live.revision
    live.step(30)
    assert live.revision == before  # days without events: the controls need no redraw
    live.step(1)
    assert live.revision > before
    assert live.model.params.community["facebook_group_1"].moderation == 0.9


def test_every_control_has_exactly_one_place_on_the_page():
    mechanisms = [s.name for s in groups()[MECHANISMS_GROUP]]
    sections = [n for names in all_parameter_sections().values() for n in names]
    placed = [*FEATURED, *mechanisms, *sections]
    assert len(placed) == len(set(placed))
    assert set(placed) == set(SPECS) - {"record_every"}


def test_messages_use_the_group_qualified_name():
    assert describe_setting("mechanisms.hostility", False) == (
        "Mechanism 'hostility' switched off (mechanisms.hostility)"
    )
    assert change_message("communities.hostility", 0.04, 3) == (
        "communities.hostility = 0.04, from day 3 on."
    )
    assert (
        describe_setting("submodels.care", True) == "Submodel 'care' switched on (submodels.care)"
    )
