"""Shared helpers: configs composed from the real conf/ with Hydra, and cached small runs.

`make_config` composes conf/config.yaml exactly as `python -m sim.run` does (Hydra compose, resolve,
validate with the one pydantic schema), with a small population and no progress bar unless told
otherwise. Runs are cached per override list, so tests that look at the same scenario share one run;
the models are read-only for tests (never step a cached model further).
"""

from __future__ import annotations

import copy
import functools
import shutil
import tempfile

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from sim.model.config import SimConfig, validate_config
from sim.run.compose import compose_raw as compose_shipped
from sim.run.folder import run_model, series_frame

# Hypothesis keeps caches in ./.hypothesis by default: keep them (and any example database) out of
# the repository, in a temporary folder removed at the end of the session.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="consent-sim-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
hypothesis_settings.register_profile("consent-sim", database=None, deadline=None)
hypothesis_settings.load_profile("consent-sim")


def pytest_unconfigure(config):
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)


# A small population that still gives every region a usable sample.
SMALL_AGENTS = 20_000
SMALL_FLOOR = 1_000
SMALL = (f"population.agents={SMALL_AGENTS}", f"population.min_agents_per_region={SMALL_FLOOR}", "progress=false")


def _override_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def overrides_of(overrides: tuple[str, ...], named: dict, small: bool) -> tuple[str, ...]:
    """Override strings: the small defaults first, then the given ones (later ones win in Hydra).

    Named overrides use `__` for the dots of a key: `training__retroactive_removal=True`.
    """
    named_strings = tuple(f"{key.replace('__', '.')}={_override_value(v)}" for key, v in named.items())
    return (*(SMALL if small else ()), *overrides, *named_strings)


@functools.cache
def _compose_raw(overrides: tuple[str, ...]) -> dict:
    return compose_shipped(overrides)


def compose_raw(*overrides: str, small: bool = True, **named) -> dict:
    """The composed, resolved config as a plain dict (a fresh copy: free to edit), not validated."""
    return copy.deepcopy(_compose_raw(overrides_of(overrides, named, small)))


@functools.cache
def _make_config(overrides: tuple[str, ...]) -> SimConfig:
    return validate_config(copy.deepcopy(_compose_raw(overrides)))


def make_config(*overrides: str, small: bool = True, **named) -> SimConfig:
    """A validated config of conf/ with Hydra override strings, e.g.
    `make_config("policy=eu_affirmative", "end=2025-01-31")` or `make_config(feed__face_boost=1.0)`.

    With `small=True` (default) the population is 20,000 agents with a floor of 1,000 per region and
    progress is off; given overrides come after, so they can change those too. The returned config is
    frozen and cached: equal overrides give the same object.
    """
    return _make_config(overrides_of(overrides, named, small))


@functools.cache
def _run(overrides: tuple[str, ...]):
    return run_model(_make_config(overrides), progress=False)


def run_cached(*overrides: str, small: bool = True, **named):
    """The model after a full run of `make_config(...)`, shared by every test that asks for it."""
    return _run(overrides_of(overrides, named, small))


@functools.cache
def _frame(overrides: tuple[str, ...]):
    return series_frame(_run(overrides))


def frame_cached(*overrides: str, small: bool = True, **named):
    """The tidy series (date, region, metric, value) of `run_cached(...)`."""
    return _frame(overrides_of(overrides, named, small))


def wide(frame, metric: str):
    """One metric as a table: one row per date, one column per region (and ALL)."""
    return frame[frame.metric == metric].pivot(index="date", columns="region", values="value")


@pytest.fixture(scope="session")
def actual_model():
    """A small full-horizon run of the default policy (linkedin_actual), shared by many tests."""
    return run_cached()


@pytest.fixture(scope="session")
def actual_frame(actual_model):
    """The tidy series of `actual_model`."""
    return frame_cached()
