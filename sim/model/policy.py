"""Region policies: a list of dated events compiled into a per-day, per-region phase table.

A policy config mirrors data/timeline.csv: an initial phase for every region, then dated events,
each naming regions and what changes (the consent design, whether the phase trains, the routes
open for opting out and in, notices and whether they carry a one-click choice, media attention).
Counterfactual policies reuse the actual timeline and substitute designs or routes in some
regions. Compiling yields, for each day and region, the design's code, whether training pulls
run, and the routes open (bitmasks over the friction routes); plus the notices fired each day.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np

from sim.model.policy_schema import (  # noqa: F401 (expand_regions and EVENT_PARTS: imported from here too)
    EVENT_PARTS,
    ROUTE_NONE,
    PolicyConfig,
    PolicyEvent,
    Routes,
    event_conflicts,
    expand_regions,
)
from sim.model.regimes import TABLE, Regime, RegimeTable, with_parts
from sim.model.regions import REGION_CODES

ONE_CLICK_CHANNELS = ("email", "in_app")  # a notice that can carry a one-click choice
NO_DEADLINE = -1  # deadline_days where no deadline lies ahead


@dataclass(frozen=True)
class Phase:
    start: dt.date | None  # None: in force before any event
    regime: str  # a preset or a design of the policy
    training: bool
    routes_out: tuple[str, ...]  # routes open for opting out
    routes_in: tuple[str, ...]  # routes open for opting in
    notice: tuple[str, ...] = ()
    one_click: bool = False  # the notice carries a one-click "object" link
    media: str = "none"
    label: str = ""

    @property
    def route(self) -> str:
        """The routes in one word, for reports: the opt-out routes joined with '+', or 'none'."""
        return "+".join(self.routes_out) or ROUTE_NONE


@dataclass(frozen=True)
class Notice:
    day: int  # index into the horizon
    region: int
    channels: tuple[str, ...]
    one_click: bool = False


@dataclass(frozen=True)
class PolicyTable:
    """The compiled policy: arrays [day, region] and the notices to fire."""

    regime: np.ndarray  # int8 codes: indices into `designs`
    training: np.ndarray  # bool
    routes_out: np.ndarray  # uint32 bitmask over route_names: routes open for opting out
    routes_in: np.ndarray  # uint32 bitmask over route_names: routes open for opting in
    route_names: tuple[str, ...]
    notices: tuple[Notice, ...]
    phases: dict[str, tuple[Phase, ...]]  # per region, for reports
    designs: RegimeTable  # the presets, then the policy's own designs (design_override applied)
    deadline_days: np.ndarray  # int32: days left to the deadline in force (0 on its day); NO_DEADLINE: none

    def training_starts(self, day: int) -> np.ndarray:
        """Regions whose training phase begins today (first day of the horizon included)."""
        if day == 0:
            return self.training[0].copy()
        return self.training[day] & ~self.training[day - 1]


def design_rows(policy: PolicyConfig) -> tuple[Regime, ...]:
    """The presets then the policy's designs, each with the policy's design_override applied where
    members have a choice (a sweep knob applies where it means something: docs/RELIABILITY.md)."""
    by_name = {r.name: r for r in TABLE}
    own = [with_parts(by_name[d.like], name, d.description, **_parts(d)) for name, d in policy.designs.items()]
    override = _parts(policy.design_override)
    return tuple(with_parts(r, r.name, r.description, **override) if offers_choice(r) else r for r in (*TABLE, *own))


def offers_choice(design: Regime) -> bool:
    """Whether members have a choice under a design: a route to record it, and an enrolment that
    follows it. Not `excluded` (nobody enrolled) nor `no_option` (everyone): a consent request,
    its framing, its blocking or a prompt means nothing there, and the sweep knobs leave them be."""
    return design.route_offered and design.enrolment in ("unless_opted_out", "if_opted_in")


def _parts(parts) -> dict:
    return {k: getattr(parts, k) for k in ("enrolment", "request", "framing", "blocking")}


def _routes(spec: Routes, out: tuple[str, ...], into: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The routes after an event (or the initial phase): `route` sets both directions."""
    if spec.route is not None:
        out = into = () if spec.route == ROUTE_NONE else (spec.route,)
    if spec.routes_out is not None:
        out = tuple(r for r in spec.routes_out if r != ROUTE_NONE)
    if spec.routes_in is not None:
        into = tuple(r for r in spec.routes_in if r != ROUTE_NONE)
    return out, into


def region_phases(policy: PolicyConfig) -> dict[str, tuple[Phase, ...]]:
    """Each region's phases in date order, substitutions and sweep knobs applied."""
    events = sorted(policy.events, key=lambda e: e.date)  # stable: same-day events keep list order
    rows = {r.name: r for r in design_rows(policy)}
    out = {}
    for code in REGION_CODES:
        routes_out, routes_in = _routes(policy.initial, (), ())
        phase = Phase(None, policy.initial.regime, rows[policy.initial.regime].trains, routes_out, routes_in)
        phases = [phase]
        for event in events:
            if code in expand_regions(event.regions):
                phase = _next_phase(phase, event, rows)
                phases.append(phase)
        for sub in policy.substitutions:
            if sub.date is not None and code in expand_regions(sub.regions):
                phases = _split_at(phases, sub.date)
        out[code] = tuple(_substitute(p, code, policy, rows) for p in phases)
    return out


def _split_at(phases: list[Phase], day: dt.date) -> list[Phase]:
    """The phases with the one in force on `day` split there (a dated substitution starts there):
    the second part is the same phase, with no notice or media of its own (the event's were sent)."""
    if any(p.start == day for p in phases):
        return phases
    before = [p for p in phases if p.start is None or p.start < day]
    after = [p for p in phases if p.start is not None and p.start > day]
    current = before[-1]
    split = Phase(day, current.regime, current.training, current.routes_out, current.routes_in,
                  label=f"substitution from {day}")  # fmt: skip
    return [*before, split, *after]


def _next_phase(prev: Phase, event: PolicyEvent, rows: dict[str, Regime]) -> Phase:
    regime = prev.regime if event.regime == "unchanged" else event.regime
    if event.training is not None:
        training = event.training
    elif regime != prev.regime:
        training = rows[regime].trains
    else:
        training = prev.training
    routes_out, routes_in = _routes(event, prev.routes_out, prev.routes_in)
    return Phase(
        event.date,
        regime,
        training,
        routes_out,
        routes_in,
        tuple(event.notice),
        event.one_click,
        event.media,
        event.label,
    )


def _substitute(phase: Phase, code: str, policy: PolicyConfig, rows: dict[str, Regime]) -> Phase:
    regime, routes_out, routes_in = phase.regime, phase.routes_out, phase.routes_in
    for sub in policy.substitutions:
        in_force = sub.date is None or (phase.start is not None and phase.start >= sub.date)
        if in_force and code in expand_regions(sub.regions):
            regime = sub.regime.get(regime, regime)
            routes_out = tuple(r for r in (sub.route.get(r, r) for r in routes_out) if r != ROUTE_NONE)
            routes_in = tuple(r for r in (sub.route.get(r, r) for r in routes_in) if r != ROUTE_NONE)
    # A list knob that is given replaces: `[]` is an empty list (no route, no notice), as in an event.
    override = policy.routes_override  # (both route knobs at once are refused: config.py)
    if override is None and policy.route_override is not None:
        override = [policy.route_override]
    if override is not None:
        chosen = tuple(r for r in override if r != ROUTE_NONE)
        routes_out = chosen if routes_out else routes_out
        routes_in = chosen if routes_in else routes_in
    notice = phase.notice
    if policy.notice_override is not None and notice:  # a prompt only where it can be answered
        if "prompt" not in policy.notice_override or offers_choice(rows[regime]):
            notice = tuple(policy.notice_override)
    carries = bool(set(ONE_CLICK_CHANNELS) & set(notice))
    one_click = carries and (phase.one_click or policy.one_click_notices)
    training = phase.training and rows[regime].trains
    return Phase(phase.start, regime, training, routes_out, routes_in, notice, one_click, phase.media, phase.label)


def design_problems(policy: PolicyConfig) -> list[str]:
    """Phases whose design cannot work: a consent request with no way to record an answer, or an
    opt-in design with no way in (no route to opt in, no request)."""
    rows = {r.name: r for r in design_rows(policy)}
    problems = []
    for code, phases in region_phases(policy).items():
        for phase in phases:
            design, when = rows[phase.regime], phase.start or "the start"
            asks = design.request != "none" or "prompt" in phase.notice
            if asks and not design.route_offered:
                problems.append(f"{code} from {when}: {phase.regime} asks for consent but offers no way to answer")
            elif asks and design.enrolment in ("nobody", "everyone"):
                problems.append(f"{code} from {when}: {phase.regime} asks for consent, but its enrolment "
                                f"({design.enrolment}) does not depend on the answer")  # fmt: skip
            if design.enrolment == "if_opted_in" and not phase.routes_in and not asks and design.route_offered:
                problems.append(f"{code} from {when}: {phase.regime} enrols only on opt-in, but no route opts in")
    return sorted(set(problems))


def same_day_conflicts(policy: PolicyConfig) -> list[str]:
    """Events on one day that set one part of one region's phase to different values: which would
    win (the later, in list order) is no rule a reader can see, so they are refused."""
    return event_conflicts([(f"policy.events.{i}", e) for i, e in enumerate(policy.events)])


def regions_never_named(policy: PolicyConfig) -> list[str]:
    """Regions that no event or substitution names (other than through `all`) and that the policy
    does not list as unchanged on purpose: they keep the initial phase for the whole horizon."""
    named = {code for e in policy.events if "all" not in e.regions for code in e.regions}
    named |= {code for sub in policy.substitutions if "all" not in sub.regions for code in sub.regions}
    return [code for code in REGION_CODES if code not in named and code not in policy.unchanged_regions]


def _mask(routes: tuple[str, ...], route_index: dict[str, int]) -> int:
    return sum(1 << route_index[r] for r in routes)


def compile_policy(policy: PolicyConfig, start: dt.date, n_days: int, route_names: list[str]) -> PolicyTable:
    """Per-day tables over the horizon; phases that began before `start` are in force at day 0."""
    never = regions_never_named(policy)
    if never and len(never) + len(policy.unchanged_regions) < len(REGION_CODES):  # a regional policy
        warnings.warn(
            f"policy {policy.name!r}: no event names region(s) {never}; they keep the initial phase "
            f"({policy.initial.regime}) throughout. Add their phases, or list them in policy.unchanged_regions.",
            stacklevel=2,
        )
    if len(route_names) > 32:
        raise ValueError(f"at most 32 routes (bitmasks of 32 bits), got {len(route_names)}")
    route_index = {name: i for i, name in enumerate(route_names)}
    designs = RegimeTable(design_rows(policy))
    n_regions = len(REGION_CODES)
    regime = np.zeros((n_days, n_regions), np.int8)
    training = np.zeros((n_days, n_regions), bool)
    routes_out = np.zeros((n_days, n_regions), np.uint32)
    routes_in = np.zeros((n_days, n_regions), np.uint32)
    notices = []
    phases = region_phases(policy)
    for r, code in enumerate(REGION_CODES):
        previous = None
        for phase in phases[code]:
            first = 0 if phase.start is None else (phase.start - start).days
            if first >= n_days:
                break
            lo = max(first, 0)
            regime[lo:, r] = designs.code(phase.regime)
            training[lo:, r] = phase.training
            routes_out[lo:, r] = _mask(phase.routes_out, route_index)
            routes_in[lo:, r] = _mask(phase.routes_in, route_index)
            channels = phase.notice
            asks_on_entry = designs.rows[designs.code(phase.regime)].request == "on_entry"
            if asks_on_entry and previous != phase.regime and "prompt" not in channels:
                # A design that asks on entry (affirmative consent) fires a one-time consent request.
                channels = (*channels, "prompt")
            if first >= 0 and channels:
                notices.append(Notice(first, r, channels, phase.one_click))
            previous = phase.regime
    notices.sort(key=lambda n: (n.day, n.region))
    return PolicyTable(
        regime,
        training,
        routes_out,
        routes_in,
        tuple(route_names),
        tuple(notices),
        phases,
        designs,
        deadline_days=deadline_days(policy, start, n_days),
    )


def deadline_days(policy: PolicyConfig, start: dt.date, n_days: int) -> np.ndarray:
    """[day, region] int32: days left to the deadline in force in the region (0 on the deadline's day),
    NO_DEADLINE where none is. An event's deadline is in force from the event's date to the deadline;
    a later event naming the region with a deadline replaces it (an extension moves the close)."""
    out = np.full((n_days, len(REGION_CODES)), NO_DEADLINE, np.int32)
    days = np.arange(n_days)
    for event in sorted(policy.events, key=lambda e: e.date):  # stable: same-day events in list order
        if event.deadline is None:
            continue
        first, close = (event.date - start).days, (event.deadline - start).days
        for code in expand_regions(event.regions):
            r = REGION_CODES.index(code)
            out[max(first, 0) :, r] = NO_DEADLINE  # what an earlier event set is replaced from this one on
            on = days[max(first, 0) : max(min(close + 1, n_days), 0)]
            out[on, r] = close - on
    return out


def media_events(policy: PolicyConfig) -> list[tuple[dt.date, str, str]]:
    """(date, region, level) of the media shocks that the policy's events carry."""
    return [
        (event.date, code, event.media)
        for event in policy.events
        if event.media != "none"
        for code in expand_regions(event.regions)
    ]
