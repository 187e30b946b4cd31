"""Region policies: a list of dated events compiled into a per-day, per-region phase table.

A policy config mirrors data/timeline.csv: an initial phase for every region, then dated events,
each naming regions and what changes (regime, whether the phase trains, opt-out route, notices,
media attention). Counterfactual policies reuse the actual timeline and substitute regimes or
routes in some regions. Compiling yields, for each day and region, the regime, whether training
pulls run, and the opt-out route; plus the notices fired on each day.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np

from sim.model.config import ROUTE_NONE, PolicyConfig, PolicyEvent
from sim.model.regimes import BY_NAME, CODE
from sim.model.regions import REGION_CODES


@dataclass(frozen=True)
class Phase:
    start: dt.date | None  # None: in force before any event
    regime: str
    training: bool
    route: str
    notice: tuple[str, ...] = ()
    media: str = "none"
    label: str = ""


@dataclass(frozen=True)
class Notice:
    day: int  # index into the horizon
    region: int
    channels: tuple[str, ...]


@dataclass(frozen=True)
class PolicyTable:
    """The compiled policy: arrays [day, region] and the notices to fire."""

    regime: np.ndarray  # int8 codes: indices into sim.model.regimes.REGIMES
    training: np.ndarray  # bool
    route: np.ndarray  # int8 index into route_names, -1 for no route
    route_names: tuple[str, ...]
    notices: tuple[Notice, ...]
    phases: dict[str, tuple[Phase, ...]]  # per region, for reports

    def training_starts(self, day: int) -> np.ndarray:
        """Regions whose training phase begins today (first day of the horizon included)."""
        if day == 0:
            return self.training[0].copy()
        return self.training[day] & ~self.training[day - 1]


def expand_regions(regions: list[str]) -> list[str]:
    return list(REGION_CODES) if "all" in regions else list(dict.fromkeys(regions))


def region_phases(policy: PolicyConfig) -> dict[str, tuple[Phase, ...]]:
    """Each region's phases in date order, substitutions applied."""
    events = sorted(policy.events, key=lambda e: e.date)  # stable: same-day events keep list order
    out = {}
    for code in REGION_CODES:
        phase = Phase(None, policy.initial.regime, BY_NAME[policy.initial.regime].trains, policy.initial.route)
        phases = [phase]
        for event in events:
            if code in expand_regions(event.regions):
                phase = _next_phase(phase, event)
                phases.append(phase)
        out[code] = tuple(_substitute(p, code, policy) for p in phases)
    return out


def _next_phase(prev: Phase, event: PolicyEvent) -> Phase:
    regime = prev.regime if event.regime == "unchanged" else event.regime
    if event.training is not None:
        training = event.training
    elif regime != prev.regime:
        training = BY_NAME[regime].trains
    else:
        training = prev.training
    return Phase(
        start=event.date,
        regime=regime,
        training=training,
        route=prev.route if event.route is None else event.route,
        notice=tuple(event.notice),
        media=event.media,
        label=event.label,
    )


def _substitute(phase: Phase, code: str, policy: PolicyConfig) -> Phase:
    regime, route = phase.regime, phase.route
    for sub in policy.substitutions:
        if code in expand_regions(sub.regions):
            regime = sub.regime.get(regime, regime)
            route = sub.route.get(route, route)
    if policy.route_override is not None and route != ROUTE_NONE:
        route = policy.route_override
    notice = phase.notice
    if policy.notice_override is not None and notice:
        notice = tuple(policy.notice_override)
    training = phase.training and BY_NAME[regime].trains
    return Phase(phase.start, regime, training, route, notice, phase.media, phase.label)


def regions_never_named(policy: PolicyConfig) -> list[str]:
    """Regions that no event or substitution names (other than through `all`) and that the policy
    does not list as unchanged on purpose: they keep the initial phase for the whole horizon."""
    named = {code for e in policy.events if "all" not in e.regions for code in e.regions}
    named |= {code for sub in policy.substitutions if "all" not in sub.regions for code in sub.regions}
    return [code for code in REGION_CODES if code not in named and code not in policy.unchanged_regions]


def compile_policy(policy: PolicyConfig, start: dt.date, n_days: int, route_names: list[str]) -> PolicyTable:
    """Per-day tables over the horizon; phases that began before `start` are in force at day 0."""
    never = regions_never_named(policy)
    if never and len(never) < len(REGION_CODES):
        warnings.warn(
            f"policy {policy.name!r}: no event names region(s) {never}; they keep the initial phase "
            f"({policy.initial.regime}) throughout. Add their phases, or list them in policy.unchanged_regions.",
            stacklevel=2,
        )
    route_index = {name: i for i, name in enumerate(route_names)}
    route_index[ROUTE_NONE] = -1
    n_regions = len(REGION_CODES)
    regime = np.zeros((n_days, n_regions), np.int8)
    training = np.zeros((n_days, n_regions), bool)
    route = np.full((n_days, n_regions), -1, np.int8)
    notices = []
    phases = region_phases(policy)
    for r, code in enumerate(REGION_CODES):
        previous = None
        for phase in phases[code]:
            first = 0 if phase.start is None else (phase.start - start).days
            if first >= n_days:
                break
            lo = max(first, 0)
            regime[lo:, r] = CODE[phase.regime]
            training[lo:, r] = phase.training
            route[lo:, r] = route_index[phase.route]
            channels = phase.notice
            asks_on_entry = BY_NAME[phase.regime].request == "on_entry"
            if asks_on_entry and previous != phase.regime and "prompt" not in channels:
                # A regime that asks on entry (affirmative consent) fires a one-time consent request.
                channels = (*channels, "prompt")
            if first >= 0 and channels:
                notices.append(Notice(first, r, channels))
            previous = phase.regime
    notices.sort(key=lambda n: (n.day, n.region))
    return PolicyTable(regime, training, route, tuple(route_names), tuple(notices), phases)


def media_events(policy: PolicyConfig) -> list[tuple[dt.date, str, str]]:
    """(date, region, level) of the media shocks that the policy's events carry."""
    return [
        (event.date, code, event.media)
        for event in policy.events
        if event.media != "none"
        for code in expand_regions(event.regions)
    ]
