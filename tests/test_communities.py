"""Named communities with their own settings, opening and closing days (issue 18, first slice).

ODD §7.1 (membership): a community not open on a day takes no members; its members leave on the
day it closes; a joiner whose pick is not open picks uniformly among the open ones with the same
draw, so with every community open the picks are today's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerwell.scenarios.catalogue import load_scenario
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import (
    ModelParams,
    changes_mid_run,
    community_names,
    get_param,
    iter_fields,
    with_overrides,
)
from peerwell.simulation.population import init_state

PEERWELL = str(Path(sys.executable).with_name("peerwell"))
DEFAULT_NAMES = ["facebook_group_1", "youtube_1", "twitter_1", "forum_1", "facebook_group_2", "youtube_2"]  # fmt: skip


def small(**overrides) -> ModelParams:
    return with_overrides(ModelParams(), {"population.size": 1500, "steps": 40, **overrides})


def peerwell(*args, cwd=None):
    return subprocess.run(
        [PEERWELL, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy()
    )


# --- names and settings ---------------------------------------------------------------------


def test_default_names_are_platform_and_running_number():
    assert community_names(ModelParams()) == DEFAULT_NAMES
    p = with_overrides(ModelParams(), {"communities.count": 3, "communities.platforms": ["forum"]})
    assert community_names(p) == ["forum_1", "forum_2", "forum_3"]


def test_added_communities_come_after_the_generic_ones_in_the_order_given():
    p = small(**{
        "community.horyzons.platform": "moderated_platform",
        "community.clinic.platform": "forum",
        "community.youtube_1.moderation": 0.5,
    })  # fmt: skip
    assert community_names(p) == [*DEFAULT_NAMES, "horyzons", "clinic"]
    st = init_state(p)
    assert st.n_communities == 8
    assert st.comm["platform"][6] == 4  # moderated_platform
    assert st.comm["moderation"][6] == 0.8  # its platform's floor over communities.moderation
    # homes and day-0 memberships stay among the generic communities: added ones start empty
    assert st.static["home"].max() < 6
    assert not np.isin(st.cur["community"], [6, 7]).any()


def test_own_moderation_changes_only_that_community():
    base = init_state(small())
    own = init_state(small(**{"community.youtube_1.moderation": 0.95}))
    k = DEFAULT_NAMES.index("youtube_1")
    assert own.comm["moderation"][k] == 0.95
    others = np.arange(6) != k
    assert np.array_equal(own.comm["moderation"][others], base.comm["moderation"][others])
    for name in ("hostility", "misinfo_prevalence", "supporters", "intervention", "anti_stigma"):
        assert np.array_equal(own.comm[name], base.comm[name]), name


def test_own_platform_sets_the_hostility_multiplier_and_moderation_floor():
    st = init_state(small(**{"community.twitter_1.platform": "moderated_platform"}))
    k = DEFAULT_NAMES.index("twitter_1")
    assert st.comm["hostility"][k] == pytest.approx(0.04 * 0.5)  # not twitter's x1.6
    assert st.comm["moderation"][k] == 0.8


def test_get_param_and_iter_fields():
    p = small(**{"community.youtube_1.moderation": 0.9})
    assert get_param(p, "community.youtube_1.moderation") == 0.9
    assert get_param(p, "community.twitter_1.moderation") == 0.1  # as communities.moderation
    assert get_param(p, "community.twitter_1.platform") == "twitter"
    names = [n for n, _, _ in iter_fields(p)]
    assert names[-1] == "community.youtube_1.moderation"
    # the defaults set none: the sensitivity space and the dashboard's controls are unchanged
    assert not [n for n, _, _ in iter_fields(ModelParams()) if n.startswith("community.")]
    assert changes_mid_run("community.youtube_1.moderation")
    assert not changes_mid_run("community.youtube_1.platform")


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"community.nowhere.moderation": 0.5}, ["nowhere", "youtube_1", "platform"]),
        ({"community.youtube_1.moderaton": 0.5}, ["moderaton", "moderation", "closes"]),
        ({"community.youtube_1.moderation": 1.5}, ["community.youtube_1.moderation", "[0, 1]"]),
        ({"community.youtube_1.platform": "myspace"}, ["myspace", "moderated_platform"]),
        (
            {"community.youtube_1.opens": 10, "community.youtube_1.closes": 5},
            ["closes=5", "opens=10"],
        ),
    ],
)
def test_clear_errors(overrides, words):
    with pytest.raises(ConfigError) as err:
        small(**overrides)
    for word in words:
        assert word in str(err.value)


def test_an_event_for_an_unknown_community_names_the_known_ones():
    p = small()
    p.scenario.events = [_event(5, "community.nowhere.moderation", 0.5)]
    with pytest.raises(ConfigError, match=r"known communities: .*youtube_1"):
        PeerwellModel(p)


def _event(day, param, value):
    from peerwell.simulation.params import Event

    return Event(day=day, param=param, value=value)


# --- timed events and set_params ------------------------------------------------------------


def test_an_event_on_day_20_changes_only_that_community_from_day_20():
    p = small(steps=25)
    p.scenario.events = [_event(20, "community.youtube_1.moderation", 0.95)]
    m = PeerwellModel(p)
    base = m.state.comm["moderation"].copy()
    k = DEFAULT_NAMES.index("youtube_1")
    while m.day < 20:
        m.step()
        assert np.array_equal(m.state.comm["moderation"], base)
    m.step()  # day 20: the event fires before the day's step
    assert m.state.comm["moderation"][k] == 0.95
    others = np.arange(6) != k
    assert np.array_equal(m.state.comm["moderation"][others], base[others])
    assert (20, "community.youtube_1.moderation", 0.95) in m.events_fired


def test_set_params_takes_a_community_setting():
    m = PeerwellModel(small(steps=5))
    m.set_params({"community.forum_1.hostility": 0.5})
    k = DEFAULT_NAMES.index("forum_1")
    assert m.state.comm["hostility"][k] == pytest.approx(0.5 * 0.8)  # forum multiplier
    with pytest.raises(ConfigError, match="cannot change during a run"):
        m.set_params({"community.forum_1.platform": "twitter"})


# --- opening and closing --------------------------------------------------------------------


def test_a_community_opening_on_day_30_takes_members_from_day_30_at_the_expected_rate():
    # Leaving at a fixed 0.2 a day keeps many people offline, so many join each day.
    p = small(**{
        "community.horyzons.platform": "moderated_platform",
        "community.horyzons.opens": 30,
        "population.size": 3000,
        "population.initial_online_share": 0.0,
        "entry.join_rate": 0.2,
        "entry.home_bias": 0.0,
        "entry.leave_rate": 0.2,
        "entry.leave_after_hostility": 0.0,
        "entry.belonging_retention": 0.0,
        "entry.switch_share": 0.0,
    })  # fmt: skip
    m = PeerwellModel(p)
    h = community_names(p).index("horyzons")
    while m.day < 30:
        m.step()
        assert (m.state.cur["community"] == h).sum() == 0
    # ODD §7.1: an offline person joins with chance join_rate * use, and with home_bias 0 picks
    # among the 7 open communities with weight e^(1 * moderation - 10 * hostility).
    mu, host = m.state.comm["moderation"], m.state.comm["hostility"]
    weight = np.exp(1.0 * mu - 10.0 * host)
    assert weight[h] > weight[:h].max()  # moderated, less hostile: the most attractive
    offline = m.state.cur["community"] < 0
    p_join = 0.2 * m.state.static["use"][offline] * weight[h] / weight.sum()
    expected, sd = p_join.sum(), math.sqrt((p_join * (1 - p_join)).sum())
    assert expected > 20  # enough joiners for the check to mean something
    m.step()
    joined = int((m.state.cur["community"] == h).sum())
    assert abs(joined - expected) < 4 * sd, (joined, expected, sd)
    m.run_model()
    assert (m.state.cur["community"] == h).sum() > 0


def test_leavers_move_by_switch_share_to_the_others_by_attraction():
    # ODD §7.1: a member leaves with chance leave_rate (here fixed: no hostility or belonging
    # terms); a share switch_share of leavers move the same day to another open community,
    # chosen with weight e^(attract_moderation * moderation - attract_hostility * hostility)
    # among the others; the rest go offline.
    p = small(**{
        "population.size": 6000,
        "population.initial_online_share": 1.0,
        "mechanisms.entry": False,  # nobody offline joins: every join below is a move
        "entry.leave_rate": 0.3,
        "entry.leave_after_hostility": 0.0,
        "entry.belonging_retention": 0.0,
        "entry.switch_share": 0.4,
        "entry.attract_moderation": 3.0,
        "community.forum_1.moderation": 0.9,
    })  # fmt: skip
    m = PeerwellModel(p)
    before = m.state.cur["community"].copy()
    m.step()
    after = m.state.cur["community"]
    online = before >= 0
    left = online & (after != before)
    moved = left & (after >= 0)
    n = int(online.sum())
    # leaving: binomial(n, 0.3); moving among leavers: binomial(leavers, 0.4)
    assert abs(left.sum() - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7)
    k = int(left.sum())
    assert abs(moved.sum() - 0.4 * k) < 4 * math.sqrt(k * 0.4 * 0.6)
    assert (m.state.scratch["joined"].astype(bool) == moved).all()  # a move is also a join
    # where movers from elsewhere go: forum_1 in proportion to its weight among the others
    w = np.exp(3.0 * m.state.comm["moderation"] - 10.0 * m.state.comm["hostility"])
    f = DEFAULT_NAMES.index("forum_1")
    from_elsewhere = moved & (before != f)
    p_f = np.array([w[f] / (w.sum() - w[c]) for c in before[from_elsewhere]])
    to_f = int((after[from_elsewhere] == f).sum())
    assert abs(to_f - p_f.sum()) < 4 * math.sqrt((p_f * (1 - p_f)).sum()), (to_f, p_f.sum())
    assert p_f.mean() > 2 / 5  # the moderated forum draws far more than its 1 in 5 of others


def test_when_a_community_closes_a_switch_share_of_its_members_move():
    p = small(**{"community.youtube_1.closes": 10, "entry.switch_share": 0.5,
                 "population.size": 6000})  # fmt: skip
    m = PeerwellModel(p)
    k = DEFAULT_NAMES.index("youtube_1")
    while m.day < 10:
        m.step()
    members = m.state.cur["community"] == k
    m.step()
    after = m.state.cur["community"][members]
    n = int(members.sum())
    moved = int((after >= 0).sum())
    assert (after != k).all()
    assert abs(moved - 0.5 * n) < 4 * math.sqrt(n * 0.25), (moved, n)


def test_a_teacher_opens_a_community_mid_run_and_it_takes_members_from_the_next_day():
    # The Classroom preset "a moderated community opens": the community is laid out closed
    # (opening far in the future) and set_params opens it on the day the teacher chooses.
    p = small(**{
        "community.horyzons.platform": "moderated_platform",
        "community.horyzons.opens": 10_000,
        "population.size": 3000,
        "population.initial_online_share": 0.0,
        "entry.join_rate": 0.2,
        "entry.home_bias": 0.0,
        "entry.leave_rate": 0.2,
    })  # fmt: skip
    m = PeerwellModel(p)
    h = community_names(p).index("horyzons")
    for _ in range(5):
        m.step()
    assert (m.state.cur["community"] == h).sum() == 0
    m.set_params({"community.horyzons.opens": m.day})  # "today": counts from the next step
    m.step()
    assert (m.state.cur["community"] == h).sum() > 3  # about 10 expected (ODD §7.1)
    m.set_params({"community.horyzons.closes": m.day})
    m.step()
    assert (m.state.cur["community"] == h).sum() == 0


def test_a_closing_community_loses_all_its_members_that_day():
    p = small(**{"community.youtube_1.closes": 10, "entry.switch_share": 0.0})
    m = PeerwellModel(p)
    k = DEFAULT_NAMES.index("youtube_1")
    while m.day < 10:
        m.step()
    members = m.state.cur["community"] == k
    assert members.sum() > 50
    m.step()  # day 10
    assert (m.state.cur["community"] == k).sum() == 0
    left = m.state.scratch["left"].astype(bool)
    assert left[members].all()  # every member left, counted in `left`
    m.run_model()
    assert (m.state.cur["community"] == k).sum() == 0  # nobody joins it again


def test_a_generic_community_closed_on_day_0_has_no_day_0_members():
    p = small(**{"community.forum_1.opens": 5})
    st = init_state(p)
    k = DEFAULT_NAMES.index("forum_1")
    assert (st.cur["community"] == k).sum() == 0
    base = init_state(small())
    assert (st.cur["community"] >= 0).sum() == (base.cur["community"] >= 0).sum()


def test_settings_equal_to_the_defaults_give_the_same_run_to_the_bit():
    same = small(**{
        "community.youtube_1.moderation": 0.1,
        "community.twitter_1.opens": 0,
        "community.forum_1.intervention": False,
    })  # fmt: skip
    a, b = PeerwellModel(small()), PeerwellModel(same)
    a.run_model()
    b.run_model()
    pd.testing.assert_frame_equal(a.trajectories(), b.trajectories(), check_exact=True)
    for name in ("community", "activation", "stigma"):
        assert np.array_equal(a.state.cur[name], b.state.cur[name])


# --- Hydra and the command line -------------------------------------------------------------


def test_hydra_takes_community_settings_without_plus():
    p = load_scenario("baseline", ["community.youtube_1.moderation=0.95", "population.size=300"])
    assert p.community["youtube_1"].moderation == 0.95
    p = load_scenario("baseline", ["+community.horyzons.platform=moderated_platform"])
    assert community_names(p)[-1] == "horyzons"
    p = load_scenario("baseline", ["community.horyzons.platform=moderated_platform"])
    assert community_names(p)[-1] == "horyzons"


def test_cli_run_with_a_community_setting(tmp_path):
    r = peerwell("run", "steps=3", "population.size=200", "community.youtube_1.moderation=0.95",
                 f"output_dir={tmp_path / 'run'}")  # fmt: skip
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "arg, words",
    [
        ("community.nowhere.moderation=0.5", ["nowhere", "youtube_1", "facebook_group_2"]),
        ("community.youtube_1.moderaton=0.5", ["moderaton", "anti_stigma_content"]),
    ],
)
def test_cli_refuses_an_unknown_community_or_property(tmp_path, arg, words):
    r = peerwell("run", "steps=3", "population.size=200", arg, f"output_dir={tmp_path / 'x'}")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("peerwell: error:"), r.stderr
    for word in words:
        assert word in lines[0]


def test_scenario_file_from_anywhere_with_a_community_event(tmp_path):
    scenario = tmp_path / "elsewhere" / "my.yaml"
    scenario.parent.mkdir()
    scenario.write_text(
        "# @package _global_\n"
        "scenario:\n"
        "  name: my_moderation\n"
        "  description: one community gets moderators on day 2\n"
        "  events:\n"
        "    - {day: 2, param: community.youtube_1.moderation, value: 0.95}\n"
        "community:\n"
        "  horyzons: {platform: moderated_platform, opens: 1}\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    r = peerwell("run", f"scenario_file={scenario}", "steps=4", "population.size=200",
                 f"output_dir={out}", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "run.json").read_text())
    assert "my_moderation" in json.dumps(meta)


def test_scenario_file_missing_is_one_clear_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    r = peerwell("run", f"scenario_file={missing}", f"output_dir={tmp_path / 'x'}")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(missing) in lines[0], r.stderr


def test_reference_opens_and_closes_communities_as_the_kernels_do():
    # The reference is written from the ODD's rule, person by person: with a community that opens
    # on day 3 and one that closes on day 5, it must end where the kernels end, to the bit.
    from peerwell.simulation.model import PeerwellModel
    from peerwell.simulation.params import (
        CommunitySettings,
        ModelParams,
        community_names,
        with_overrides,
    )
    from peerwell.simulation.reference import ReferenceModel

    p = with_overrides(
        ModelParams(),
        {"population.size": 300, "steps": 8, "entry.join_rate": 0.2, "seed": 5},
    )
    p.community = {
        "youtube_1": CommunitySettings(opens=3),
        "twitter_1": CommunitySettings(closes=5),
    }
    fast, ref = PeerwellModel(p, threads=1), ReferenceModel(p)
    for _ in range(p.steps):
        fast.step()
        ref.step()
    got, want = fast.state.cur, ref.to_state().cur
    assert np.array_equal(got["community"], want["community"])
    assert community_names(p)[1:3] == ["youtube_1", "twitter_1"]
    assert (got["community"] == 2).sum() == 0  # twitter_1 closed on day 5: nobody is left in it
    assert (got["community"] == 1).sum() > 0  # youtube_1 opened on day 3 and took members
