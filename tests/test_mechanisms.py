"""Generic checks over the mechanism registry (sim.model.mechanisms): whatever a mechanism is, its
running counters equal their recount from the state, every parameter a batch may vary gives bit for
bit in a batch what it gives alone, and everything that lists mechanisms lists all of them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.model import mechanisms
from sim.model.batch import simulate_many
from sim.model.config import ConfigError, SimConfig, declared_unit, validate_config
from sim.model.engine import ConsentModel
from sim.model.stacking import batch_key
from sim.run.compose import CONF_DIR, EVERY_MECHANISM_ON, compose_raw

ROOT = Path(__file__).resolve().parents[1]
# one region (ROW) opt-in unasked from 2024-09-18 (the rest the real policy), so accepters have
# something to opt in to and opting in unasked moves the run
OPT_IN_ROW = ("policy=opt_in_unasked", "policy.substitutions=[{regions:[ROW],regime:{default_on:unticked_box}}]",
              "opt_in_interest.rate_per_year=0.9")  # fmt: skip
# every mechanism on, with joiners, closures and moving concern, so every counter moves
BUSY = (
    *EVERY_MECHANISM_ON, "population.agents=4000", "population.min_agents_per_region=200", "progress=false",
    "end=2025-11-30", "concern.sensitivity=5", "membership.growth_per_year.default=0.2",
    "membership.dormant_close_per_year=0.3", "reactions.close_account.share=0.05", "training.retroactive_removal=true",
    *OPT_IN_ROW,
)  # fmt: skip


def _components(model):
    """(name, counters, recount) of the core's counts and of every mechanism switched on."""
    yield "core", model.counts.counters, model.counts.recount
    for m in model.mechanisms:
        yield m.key, m.counters, m.recount


def _check_counters(model) -> None:
    for name, counters, recount in _components(model):
        have, want = counters(), recount()
        assert have.keys() == want.keys(), f"{name}: counters and recount name different counts"
        for key in have:
            if np.issubdtype(np.asarray(have[key]).dtype, np.floating):
                np.testing.assert_allclose(have[key], want[key], rtol=1e-9, atol=1e-9, err_msg=f"{name}.{key}")
            else:
                np.testing.assert_array_equal(have[key], want[key], err_msg=f"{name}.{key} on day {model.day - 1}")


@pytest.mark.parametrize("switched", ["on", "off"])
def test_every_running_counter_equals_its_recount(switched):
    overrides = BUSY if switched == "on" else BUSY[len(EVERY_MECHANISM_ON) :]
    model = ConsentModel(validate_config(compose_raw(list(overrides))))
    checked = 0
    while model.running:
        model.step()
        if model.day % 61 == 0 or not model.running:
            _check_counters(model)
            checked += 1
    assert checked >= 7
    if switched == "on":  # the run exercised what the counters follow
        assert len(model.mechanisms) == len(mechanisms.REGISTRY)
        closed = model.counts.cumulative["closed"].sum()
        joined = model.counts.cumulative["joined"].sum()
        assert closed > 0 and joined > 0
        assert model.mechanism("post_less").count.sum() > 0 and model.mechanism("guidance").count.sum() >= 0


def test_a_counter_left_out_of_what_leaves_with_a_member_is_caught(monkeypatch):
    """The check above can fail: a mechanism that forgets to take a leaving member's count away
    (the drift a reviewer once found in the eligibility update) disagrees with its recount."""
    from sim.model.mechanisms.reactions import PostLess

    monkeypatch.setattr(PostLess, "leaving", lambda self, agents, region: None)
    model = ConsentModel(validate_config(compose_raw(list(BUSY))))
    with pytest.raises(AssertionError, match="chilled"):
        while model.running:
            model.step()
            if model.day % 61 == 0:
                _check_counters(model)
        _check_counters(model)


# ---------------------------------------------------------------- batched parameters
# The shipped deadline (2025-11-03) lies beyond this run: the 2024-11-20 notice gets one inside it, so the
# deadline mechanism has something to scale.
SMALL = (*EVERY_MECHANISM_ON, "population.agents=1200", "population.min_agents_per_region=60", "progress=false",
         "end=2025-03-31", "concern.sensitivity=5", "reactions.close_account.share=0.05", *OPT_IN_ROW,
         "+policy.events.2.deadline=2025-01-31")  # fmt: skip
RUN_KEYS = ("seed", "progress", "figures", "uncertainty")  # batched, but not model parameters


def _leaves(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _leaves(v, (*prefix, i))
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield prefix


def _with(tree, path, value):
    out = copy.deepcopy(tree)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def _perturbed(raw: dict, path) -> SimConfig | None:
    """The config with one number moved (the first of a few moves the schema accepts), or None."""
    node = raw
    for part in path:
        node = node[part]
    value = node
    moves = [value + 1, value - 1] if isinstance(value, int) else [value * 0.6, value * 1.5, value + 0.3, value - 0.3]
    for moved in moves:
        try:
            return validate_config(_with(raw, path, moved))
        except ConfigError:
            continue
    return None


def batched_parameters(raw: dict) -> list[tuple]:
    """Every numeric leaf of the config whose change leaves the batch key unchanged: those a batch may vary."""
    base_key = batch_key(validate_config(raw))
    out = []
    for path in _leaves(raw):
        if path[0] in RUN_KEYS:
            continue
        config = _perturbed(raw, path)
        if config is not None and batch_key(config) == base_key:
            out.append(path)
    return out


def _alone(config) -> np.ndarray:
    model = ConsentModel(config)
    while model.running:
        model.step()
    return model.records


def test_every_batched_parameter_gives_in_a_batch_what_it_gives_alone():
    raw = compose_raw(list(SMALL))
    paths = batched_parameters(raw)
    assert len(paths) > 60, "the batched parameters were not found"
    mechanism_paths = {
        ".".join(map(str, p)) for p in paths if p[0] in {m.key.split(".")[0] for m in mechanisms.REGISTRY}
    }
    assert all(any(k.startswith(m.key + ".") for k in mechanism_paths) for m in mechanisms.REGISTRY)
    configs = [_perturbed(raw, p) for p in paths]
    base = _alone(validate_config(raw))
    batched = simulate_many(configs)
    moved = {}
    for path, config, records in zip(paths, configs, batched, strict=True):
        alone = _alone(config)
        np.testing.assert_array_equal(records, alone, err_msg=".".join(map(str, path)))
        moved[".".join(map(str, path))] = not np.array_equal(alone, base, equal_nan=True)
    # the comparison means something: most parameters change the run they are in, and for every
    # mechanism at least one (else a parameter read the wrong way could pass unnoticed)
    assert sum(moved.values()) >= 0.6 * len(paths), f"only {sum(moved.values())} of {len(paths)} parameters moved"
    for m in mechanisms.REGISTRY:
        mine = [k for k in moved if k.startswith(m.key + ".")]
        assert any(moved[k] for k in mine), f"no parameter of {m.key} changes the test's run: {mine}"


# ---------------------------------------------------------------- lists derived from the registry
def test_every_mechanism_has_its_conf_group_and_switch_in_the_shipped_config():
    defaults = yaml.safe_load((CONF_DIR / "config.yaml").read_text())["defaults"]
    groups = {next(iter(d)) for d in defaults if isinstance(d, dict)}
    config = validate_config(compose_raw([]))
    for m in mechanisms.REGISTRY:
        assert m.key.split(".")[0] in groups, f"conf/config.yaml's defaults must list {m.key.split('.')[0]}"
        assert isinstance(m.is_on(config), bool)


def test_every_mechanism_parameter_declares_its_unit():
    for m in mechanisms.REGISTRY:
        for field in m.Params.model_fields:
            if field != "enabled":
                assert declared_unit(f"{m.key}.{field}"), f"{m.key}.{field} declares no unit (sim.model.schema.unit)"


def test_the_publicity_experiment_switches_on_every_behaviour_mechanism():
    experiment = yaml.safe_load((CONF_DIR / "experiment" / "publicity.yaml").read_text())
    for m in mechanisms.REGISTRY:
        if m.key == "membership":  # the experiment keeps a fixed membership
            continue
        node = experiment
        for part in m.key.split("."):
            node = node.get(part, {})
        assert node.get("enabled") is True, f"conf/experiment/publicity.yaml does not switch on {m.key}"


def test_every_mechanism_has_its_section_in_the_odd():
    headings = [line for line in (ROOT / "docs" / "ODD.md").read_text().splitlines() if line.startswith("### ")]
    for m in mechanisms.REGISTRY:
        module = f"`sim/model/mechanisms/{m.__module__.rsplit('.', 1)[-1]}.py`"
        assert any(module in h for h in headings), f"docs/ODD.md has no section (### heading) naming {module}"


def test_every_mechanism_metric_and_state_array_is_registered():
    from sim.model.metrics import BY_NAME
    from sim.model.state import AgentState

    for m in mechanisms.REGISTRY:
        for metric in m.metrics:
            assert BY_NAME[metric.name] is metric
    model = ConsentModel(validate_config(compose_raw(["population.agents=1100", "population.min_agents_per_region=50",
                                                       "progress=false", "end=2024-09-03"])))  # fmt: skip
    assert isinstance(model.state, AgentState)
    for field in mechanisms.state_fields():
        array = getattr(model.state, field.name)
        assert array.dtype == np.dtype(field.dtype) and (array == field.initial).all()
