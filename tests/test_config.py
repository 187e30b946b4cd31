"""The config gate (sim.model.config): the shipped configs validate; bad values are reported with the key,
the value and what is allowed, every problem at once."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import compose_raw, make_config

from sim.model.config import MAX_HORIZON_DAYS, ConfigError, SimConfig, for_region, validate_config
from sim.model.regions import REGION_CODES

POLICIES = [
    "linkedin_actual",
    "affirmative_everywhere",
    "eu_affirmative",
    "forced_choice_everywhere",
    "no_option_everywhere",
    "prominent_toggle",
]


@pytest.mark.parametrize("policy", POLICIES)
def test_every_shipped_policy_validates(policy):
    config = make_config(f"policy={policy}", small=False)
    assert isinstance(config, SimConfig)
    assert config.policy.name == policy


def test_the_default_config_is_the_documented_default():
    config = make_config(small=False)
    assert config.start == dt.date(2024, 9, 1) and config.end == dt.date(2026, 12, 31)
    assert config.horizon_days == 852
    assert config.population.members == 930_000_000
    assert config.policy.name == "linkedin_actual"
    assert config.training.retroactive_removal is False
    assert config.feed.face_boost == pytest.approx(1.38)


def test_the_test_helper_overrides_win_over_the_small_defaults():
    assert make_config().population.agents == 20_000
    assert make_config("population.agents=12000").population.agents == 12_000
    assert make_config(training__retroactive_removal=True).training.retroactive_removal is True


def test_for_region_falls_back_to_the_default():
    values = {"default": 0.1, "EU_EEA": 0.5}
    assert for_region(values, "EU_EEA") == 0.5
    assert for_region(values, "US") == 0.1


def _error(raw) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    return str(info.value)


def test_several_errors_are_reported_at_once():
    raw = compose_raw()
    raw["population"]["agents"] = -5
    raw["awareness"]["notices"]["email_read_prob"] = 1.5
    raw["population"]["foo"] = 1
    raw["feed"]["face_boost"] = -1
    message = _error(raw)
    assert "4 problem(s)" in message
    for key, value in (
        ("population.agents", "-5"),
        ("awareness.notices.email_read_prob", "1.5"),
        ("population.foo", "1"),
        ("feed.face_boost", "-1"),
    ):
        line = next((ln for ln in message.splitlines() if f"{key} = " in ln), None)
        assert line is not None, key
        assert value in line, key
    assert "greater than or equal to 1" in message and "less than or equal to 1" in message


def _set(raw, dotted, value):
    *path, last = dotted.split(".")
    node = raw
    for p in path:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


BAD = [
    ("seed", -1, ["seed", "-1", "greater than or equal to 0"]),
    ("population.agents", 0, ["population.agents", "greater than or equal to 1"]),
    ("population.min_agents_per_region", 5000, ["below the per-region floor"]),
    ("population.minor_share.default", 1.2, ["population.minor_share.default", "1.2", "less than or equal to 1"]),
    ("population.login_segments.daily.share", 0.5, ["population.login_segments", "sum to 1"]),
    ("population.object_share.default", 0.9, ["object_share + accept_share", "> 1"]),
    ("population.graph.same_region_share", -0.1, ["population.graph.same_region_share", "-0.1"]),
    ("awareness.media.reach", 2, ["awareness.media.reach", "2", "less than or equal to 1"]),
    ("consent.prompt_answer.preset_yes_shift", "often", ["consent.prompt_answer.preset_yes_shift", "often", "number"]),
    ("feed.initial_face_share", 0.9, ["min_face_share <= initial_face_share <= max_face_share"]),
    ("training.ingest_every_days", 0, ["training.ingest_every_days", "greater than or equal to 1"]),
    ("training.retroactive_removal", "maybe", ["training.retroactive_removal", "maybe", "bool"]),
    ("end", "2024-01-01", ["end", "2024-01-01", "before start"]),
    ("start", "not a date", ["start", "not a date", "date"]),
    ("policy.initial.regime", "sometimes", ["policy.initial.regime", "sometimes", "default_on"]),
    ("policy.events.0.regime", "sometimes", ["policy.events.0.regime", "sometimes", "forced_choice"]),
    ("policy.events.0.route", "nowhere", ["events[0].route='nowhere'", "settings_toggle", "objection_form"]),
    ("policy.initial.route", "nowhere", ["initial.route='nowhere'", "prominent_toggle"]),
    ("policy.events.0.notice", ["pigeon"], ["policy.events.0.notice", "pigeon", "email"]),
    ("policy.events.0.regions", ["XX"], ["policy.events.0.regions", "XX", "EU_EEA"]),
    ("policy.events.0.media", "viral", ["policy.events.0.media", "viral", "moderate"]),
]


@pytest.mark.parametrize(("key", "value", "expected"), BAD, ids=[b[0] + "=" + str(b[1]) for b in BAD])
def test_a_bad_value_names_the_key_the_value_and_what_is_allowed(key, value, expected):
    message = _error(_set(compose_raw(), key, value))
    assert "invalid configuration" in message
    for text in expected:
        assert text in message, (text, message)


def test_an_unknown_region_in_a_per_region_value_is_named_with_the_allowed_ones():
    raw = compose_raw()
    raw["population"]["minor_share"]["XX"] = 0.1
    message = _error(raw)
    assert "population.minor_share" in message and "'XX'" in message
    for code in REGION_CODES:
        assert code in message
    assert "default" in message


def test_a_per_region_value_needs_a_default():
    raw = compose_raw()
    raw["population"]["object_share"] = {"EU_EEA": 0.5}
    assert "needs a 'default' entry" in _error(raw)


def test_an_excluded_phase_cannot_train():
    raw = compose_raw()
    raw["policy"]["events"].append({"date": "2025-01-01", "regions": ["US"], "regime": "excluded", "training": True})
    assert "an excluded phase cannot train" in _error(raw)


def test_substitutions_are_checked_for_regimes_and_routes():
    raw = compose_raw()
    raw["policy"]["substitutions"] = [{"regions": ["all"], "regime": {"default_on": "sometimes"}, "route": {"x": "y"}}]
    message = _error(raw)
    assert "sometimes" in message
    raw["policy"]["substitutions"] = [{"regions": ["all"], "route": {"settings_toggle": "nowhere"}}]
    message = _error(raw)
    assert "substitutions[0].route='nowhere'" in message


def test_the_prompt_route_is_required():
    raw = compose_raw()
    del raw["friction"]["routes"]["prompt"]
    assert "prompt" in _error(raw)


def test_a_route_needs_a_step_and_none_is_reserved():
    raw = compose_raw()
    raw["friction"]["routes"]["prompt"]["steps"] = []
    assert "friction.routes.prompt.steps" in _error(raw)
    raw = compose_raw()
    raw["friction"]["routes"]["none"] = {"steps": [{"name": "x", "difficulty": 0}]}
    assert "reserved" in _error(raw)


def test_a_horizon_beyond_the_day_counters_is_refused():
    raw = compose_raw()
    raw["end"] = str(dt.date(2024, 9, 1) + dt.timedelta(days=MAX_HORIZON_DAYS))
    assert "exceeds" in _error(raw)


def test_an_unknown_top_level_key_is_refused():
    raw = compose_raw()
    raw["sede"] = 1
    message = _error(raw)
    assert "sede = 1" in message and "unknown key" in message


def test_an_unknown_key_message_lists_the_keys_allowed_in_its_section():
    raw = compose_raw()
    raw["population"]["foo"] = 1
    line = next(ln for ln in _error(raw).splitlines() if "population.foo" in ln)
    assert "min_agents_per_region" in line and "agents" in line


def test_the_config_is_frozen():
    config = make_config()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its ValidationError for a frozen model
        config.seed = 5
