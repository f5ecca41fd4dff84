"""Typed parameters: every value is checked, and errors name the field, the value and the range."""

import dataclasses
import math

import pytest
from util import params

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, iter_fields, validate, with_overrides


def test_every_parameter_is_documented_and_its_default_is_in_range():
    for name, value, meta in iter_fields(ModelParams()):
        assert meta.get("help"), f"{name} has no meaning"
        assert meta.get("box") or name in ("seed", "steps", "record_every"), f"{name} has no box"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = meta["lo"], meta["hi"]
            assert lo is not None and hi is not None, f"{name} has no range"
            assert lo <= value <= hi, name


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("population.size", -5, ["population.size=-5", "[1, 5000000]"]),
        ("communities.moderation", 1.5, ["communities.moderation=1.5", "[0, 1]"]),
        ("exchange.read_rate", math.nan, ["exchange.read_rate", "finite"]),
        ("entry.join_rate", math.inf, ["entry.join_rate", "finite"]),
        ("steps", -1, ["steps=-1"]),
        ("communities.count", 5000, ["communities.count=5000", "population.size=3000"]),
        ("communities.intervention_communities", 7, ["intervention_communities=7", "count=6"]),
        ("communities.platforms", ["myspace"], ["myspace", "twitter"]),
        ("network.kind", "lattice", ["lattice", "sbm"]),
        ("network.kind", "edgelist", ["network.path"]),
        ("network.mean_degree", 5000.0, ["mean_degree=5000.0", "impossible"]),
        ("population.share_superuser", 0.95, ["share_contributor", "at most 1"]),
        ("population.share_in_care", 0.9, ["share_in_care", "at most 1"]),
    ],
)
def test_bad_values_name_field_value_and_what_is_allowed(key, value, words):
    with pytest.raises(ConfigError) as err:
        with_overrides(ModelParams(), {key: value})
    for w in words:
        assert w in str(err.value), f"{w!r} not in {err.value}"


def test_unknown_parameter_lists_known_names():
    with pytest.raises(ConfigError, match="known in this group"):
        with_overrides(ModelParams(), {"communities.moderaton": 0.5})
    with pytest.raises(ConfigError, match="no group"):
        with_overrides(ModelParams(), {"comunities.moderation": 0.5})


def test_diagnosis_mix_must_sum_to_one():
    with pytest.raises(ConfigError, match="sum to 1"):
        with_overrides(ModelParams(), {"population.share_bipolar": 0.5})


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"day": 500, "param": "communities.moderation", "value": 0.9}, ["day 500", "steps=365"]),
        ({"day": 10, "param": "communities.moderaton", "value": 0.9}, ["moderaton", "known"]),
        ({"day": 10, "param": "population.size", "value": 9}, ["GROUP.NAME"]),
        ({"day": 10, "param": "communities.count", "value": 9}, ["cannot change"]),
        ({"day": 10, "param": "communities.moderation", "value": 2.0}, ["2.0", "[0, 1]"]),
    ],
)
def test_bad_timed_events_are_refused(event, words):
    from peerwell.simulation.params import Event

    p = params()
    p.scenario.events = [Event(**event)]
    with pytest.raises(ConfigError) as err:
        validate(p)
    for w in words:
        assert w in str(err.value)


def test_with_overrides_does_not_change_the_original():
    base = ModelParams()
    new = with_overrides(base, {"communities.moderation": 0.7})
    assert base.communities.moderation == 0.1 and new.communities.moderation == 0.7
    assert dataclasses.asdict(base) != dataclasses.asdict(new)
