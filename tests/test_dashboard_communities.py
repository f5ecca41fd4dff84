"""The dashboard's communities: Explore's community panel and the Classroom's moderated community.

The functions behind the panel are checked against the model's own state (no browser); the pages
are driven in a real headless Chromium against a running `peerwell dashboard`, reusing the
server and page helpers of ``test_dashboard.py``.
"""

from __future__ import annotations

import re

import pytest
from test_dashboard import SMALL, App, Server, _expect_text, needs_chromium

# A Classroom where people join communities briskly: everyone who joins picks among the open
# communities alike (no pull of a home community), and some leave every day to join again. At
# the default rates a new community fills by a few people a week, too slow for a test.
BRISK = "population.size=600&entry.join_rate=0.5&entry.home_bias=0&entry.leave_rate=0.05"


def _live(**overrides):
    from peerwell.scenarios.dashboard.live import LiveModel
    from peerwell.simulation.params import ModelParams, with_overrides

    return LiveModel(with_overrides(ModelParams(), {"population.size": 300, **overrides}))


def _preset(key: str):
    from peerwell.scenarios.dashboard.classroom import PRESETS

    return next(p for p in PRESETS if p.key == key)


# ---------------------------------------------------------------------------------------------
# Explore's community panel (no browser)


def test_rows_are_one_per_community_with_todays_members():
    from peerwell.scenarios.dashboard.communities import community_rows
    from peerwell.simulation.params import community_names

    live = _live(**{"community.clinic.platform": "moderated_platform"})
    live.step(6)
    rows = community_rows(live)
    names = community_names(live.model.params)
    assert list(rows["community"]) == names and names[-1] == "clinic"
    community = live.model.state.cur["community"]
    for k, row in rows.iterrows():
        assert row["members"] == (community == k).sum(), row["community"]
    assert rows["members"].sum() == (community >= 0).sum() > 0
    assert rows.set_index("community").loc["clinic", "platform"] == "moderated_platform"
    assert rows["open"].all()


def test_a_change_to_one_community_shows_in_its_row_only():
    from peerwell.scenarios.dashboard.communities import community_rows

    live = _live()
    live.step(2)
    before = community_rows(live).set_index("community")
    live.stage("community.forum_1.moderation", 0.8)  # the page's path (on_change)
    after = community_rows(live).set_index("community")
    assert after.loc["forum_1", "moderation"] == 0.8
    others = after.index != "forum_1"
    assert (after.loc[others, "moderation"] == before.loc[others, "moderation"]).all()
    assert live.day == 2 and live.model.state.comm["moderation"][3] == 0.8  # the model took it


def test_a_community_closed_from_the_page_says_so_and_its_members_leave():
    from peerwell.scenarios.dashboard.communities import community_rows, rows_html

    live = _live()
    live.step(3)
    live.stage("community.youtube_1.closes", live.day)
    row = community_rows(live).set_index("community").loc["youtube_1"]
    assert not row["open"] and row["members"] > 0
    assert "closed (its members leave)" in rows_html(community_rows(live), live.day)
    live.step(1)
    assert community_rows(live).set_index("community").loc["youtube_1", "members"] == 0


def test_a_long_list_keeps_the_largest_communities_in_index_order():
    from peerwell.scenarios.dashboard.communities import community_rows

    live = _live(**{"communities.count": 12})
    live.step(2)
    everything = community_rows(live)
    some = community_rows(live, limit=5)
    assert len(some) == 5
    assert list(some["community"]) == [
        c for c in everything["community"] if c in set(some["community"])
    ]
    assert some["members"].min() >= everything["members"].nlargest(5).min()


def test_members_over_time_are_the_community_table_s():
    from peerwell.scenarios.dashboard.communities import members_over_time, members_png

    live = _live()
    live.step(5)
    wide = members_over_time(live, ["youtube_1", "forum_1"])
    table = live.model.community_table()
    forum = table[table["community"] == "forum_1"].set_index("step")["members"]
    assert list(wide.columns) == ["youtube_1", "forum_1"]
    assert list(wide.index) == list(range(6))  # day 0 and five days stepped
    assert (wide["forum_1"] == forum).all()
    assert members_png(wide)[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("prop", "raw", "expected"),
    [("moderation", "0.35", 0.35), ("peer_supporters", "2", 2), ("opens", "1,200", 1200),
     ("closes", "never", None), ("closes", "40", 40)],
)  # fmt: skip
def test_typed_community_values_are_parsed(prop, raw, expected):
    from peerwell.scenarios.dashboard.communities import parse_setting

    assert parse_setting(prop, raw) == expected


@pytest.mark.parametrize(
    ("prop", "raw", "message"),
    [("moderation", "1.5", "Moderation must be between 0 and 1"),
     ("hostility", "lots", "Hostility: 'lots' is not a number"),
     ("peer_supporters", "2.5", "Peer supporters: '2.5' is not a whole number"),
     ("opens", "-1", "Opens must be between 0 and 100,000 day")],
)  # fmt: skip
def test_bad_community_values_are_refused_with_a_sentence(prop, raw, message):
    from peerwell.scenarios.dashboard.communities import parse_setting

    with pytest.raises(ValueError, match=re.escape(message)):
        parse_setting(prop, raw)


def test_a_value_the_model_refuses_leaves_it_as_it_was():
    from peerwell.simulation.errors import PeerwellError

    live = _live()
    live.step(1)
    # closes must come after opens (day 0): the model's own rule, with a sentence
    with pytest.raises(PeerwellError, match="closes after the day it opens"):
        live.stage("community.forum_1.closes", 0)
    assert "forum_1" not in (live.model.params.community or {})
    live.step(1)  # and it runs on
    assert live.day == 2


# ---------------------------------------------------------------------------------------------
# The Classroom's moderated community (no browser)


def test_only_the_classroom_has_the_closed_moderated_community():
    from peerwell.scenarios.dashboard import classroom, explore
    from peerwell.simulation.params import ModelParams, community_names, community_setting

    live, problems = classroom._make_live(SMALL)
    assert not problems
    p = live.model.params
    assert community_names(p)[-1] == "horyzons"
    assert community_setting(p, "horyzons", "platform") == "moderated_platform"
    assert community_setting(p, "horyzons", "moderation") == 0.9
    assert community_setting(p, "horyzons", "peer_supporters") == 1
    assert community_setting(p, "horyzons", "opens") == classroom.CLOSED_UNTIL
    explored, _ = explore._make_live(SMALL)
    assert "horyzons" not in community_names(explored.model.params)
    assert "horyzons" not in community_names(ModelParams())


def test_the_preset_opens_the_moderated_community_and_the_baseline_closes_it():
    from peerwell.scenarios.dashboard.classroom import (
        CLOSED_UNTIL,
        _make_live,
        moving_html,
        preset_changes,
    )
    from peerwell.scenarios.dashboard.communities import community_week
    from peerwell.simulation.params import community_names

    live, _ = _make_live(BRISK)
    base = live.settings_copy()
    h = community_names(live.model.params).index("horyzons")
    live.step(2)
    assert (live.model.state.cur["community"] == h).sum() == 0
    assert "is closed" in moving_html(live)
    live.apply(preset_changes(_preset("moderated_opens"), base, live.day))
    assert live.model.params.community["horyzons"].opens == 2
    live.step(3)
    inside = int((live.model.state.cur["community"] == h).sum())
    assert inside > 0
    week = community_week(live, "horyzons")
    assert week["open"] and week["members"] == inside and week["joined"] >= inside
    assert f"In the moderated community: <b>{inside}</b>" in moving_html(live)
    # Any other preset puts its opening day back beyond the run: it closes, everyone leaves.
    live.apply(preset_changes(_preset("baseline"), base, live.day))
    assert live.model.params.community["horyzons"].opens == CLOSED_UNTIL
    live.step(1)
    assert (live.model.state.cur["community"] == h).sum() == 0
    assert community_week(live, "horyzons")["left"] >= inside
    live.step(2)  # and nobody joins it again
    assert (live.model.state.cur["community"] == h).sum() == 0


def test_every_preset_but_its_own_keeps_the_moderated_community_closed():
    from peerwell.scenarios.dashboard.classroom import (
        CLOSED_UNTIL,
        PRESETS,
        _make_live,
        changes_text,
        preset_changes,
    )

    live, _ = _make_live(SMALL)
    base = live.settings_copy()
    for preset in PRESETS:
        opens = preset_changes(preset, base, day=12)["community.horyzons.opens"]
        assert opens == (12 if preset.key == "moderated_opens" else CLOSED_UNTIL), preset.key
    assert changes_text(_preset("moderated_opens"), 12) == "community.horyzons.opens = 12"
    assert len(_preset("moderated_opens").text.split(". ")) >= 2  # two sentences


def test_the_preset_is_refused_with_a_sentence_by_a_model_without_the_community():
    from peerwell.scenarios.dashboard.classroom import preset_changes
    from peerwell.simulation.errors import PeerwellError
    from peerwell.simulation.params import community_names

    live = _live()  # built as Explore builds it: no moderated community
    base = live.settings_copy()
    assert "community.horyzons.opens" not in preset_changes(_preset("baseline"), base, 3)
    with pytest.raises(PeerwellError, match="horyzons"):
        live.apply(preset_changes(_preset("moderated_opens"), base, 0))
    assert "horyzons" not in community_names(live.model.params)
    live.apply(preset_changes(_preset("moderation"), base, 0))  # the others still work
    assert live.model.params.communities.moderation == 0.9


# ---------------------------------------------------------------------------------------------
# In the browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("communities"))
    yield srv
    srv.stop()


@pytest.fixture
def app(page, server):
    a = App(page, server)
    yield a
    a.check_clean()


def _cell(app: App, community: str, column: str):
    return app.page.locator(
        f".pw-communities tr[data-community='{community}'] td[data-col='{column}']"
    )


def _pick(app: App, label: str, item: str) -> None:
    app.page.get_by_label(label, exact=True).click(force=True)
    app.page.locator(
        ".v-menu__content.menuable__content__active .v-list-item", has_text=item
    ).first.click()


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_explore_shows_the_communities_and_changes_one(app):
    app.open(f"/?{SMALL}")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.page.get_by_role("button", name="▸ Communities").click()
    rows = app.page.locator(".pw-communities tbody tr")
    rows.first.wait_for()
    assert rows.count() == 6  # the baseline's six communities
    assert _cell(app, "forum_1", "moderation").inner_text() == "0.1"
    assert _cell(app, "forum_1", "open").inner_text() == "open"
    assert int(_cell(app, "forum_1", "members").inner_text().replace(",", "")) > 0
    app.page.locator(".pw-members-chart img").wait_for()
    app.shot("explore-communities")
    # one community's moderation, through the page's own path and message
    _pick(app, "Community", "forum_1")
    _pick(app, "Property", "moderation")
    app.fill("Value (0-1)", "0.8")
    app.button("Apply to this community").click()
    _expect_text(app, "community.forum_1.moderation = 0.8, from day 1 on.")
    app.page.wait_for_function(
        """() => document.querySelector(".pw-communities tr[data-community='forum_1'] "
           + "td[data-col='moderation']")?.innerText === '0.8'"""
    )
    assert _cell(app, "youtube_1", "moderation").inner_text() == "0.1"
    # a bad value: a sentence on the page, nothing changes, the app runs on
    app.fill("Value (0-1)", "1.5")
    app.button("Apply to this community").click()
    _expect_text(app, "Moderation must be between 0 and 1")
    assert _cell(app, "forum_1", "moderation").inner_text() == "0.8"
    app.button("Step").click()
    app.wait_day(lambda d: d == 2)
    # playing with the panel open: the table and the chart follow the days
    chart = app.page.locator(".pw-members-chart img")
    before = chart.get_attribute("src")
    app.button("Play").click()
    app.wait_day(lambda d: d >= 8)
    app.button("Pause").click()
    app.button("Play").wait_for()
    app.page.wait_for_function(
        "s => document.querySelector('.pw-members-chart img').src !== s", arg=before
    )
    app.page.get_by_text(f"Open on day {app.day()}").wait_for()


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_classroom_preset_opens_the_moderated_community_and_people_move_in(app):
    app.page.set_viewport_size({"width": 1280, "height": 720})
    app.open(f"/classroom?{BRISK}")
    line = app.page.locator(".pw-moving span[data-members]")
    line.wait_for()
    assert line.get_attribute("data-open") == "0" and line.get_attribute("data-members") == "0"
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.button("A moderated community opens").click()
    _expect_text(app, "A moderated community opens today")
    _expect_text(app, "From day 1: community.horyzons.opens = 1.")
    for day in (2, 3, 4):
        app.button("Step").click()
        app.wait_day(lambda d, day=day: d == day)
    app.page.wait_for_function(
        "() => +document.querySelector('.pw-moving span[data-members]').dataset.members > 0"
    )
    assert "In the moderated community:" in line.inner_text()
    # in view on a projector, without scrolling
    box = line.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720
    app.shot("classroom-moderated-opens")
    app.button("Back to the baseline").click()
    _expect_text(app, "Today's mix of platforms")
    app.button("Step").click()
    app.wait_day(lambda d: d == 5)
    app.page.wait_for_function(
        "() => document.querySelector('.pw-moving span[data-members]').dataset.members === '0'"
    )
    assert "closed" in line.inner_text()
