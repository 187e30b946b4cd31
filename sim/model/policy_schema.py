"""The policy's schema: the timeline of events, substitutions, designs and sweep knobs of `policy`.

Below `sim.model.policy` (which compiles it into per-day tables) and `sim.model.config` (which
holds it in `SimConfig` and adds the checks that need the compiled phases: contradicting events on
one day, designs that cannot work).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.model.regimes import BY_NAME, Enrolment, Framing, Request
from sim.model.regions import REGION_CODES
from sim.model.schema import Strict

NoticeChannel = Literal["email", "in_app", "prompt"]
MediaLevel = Literal["none", "moderate", "high"]
ROUTE_NONE = "none"


def _check_event_regions(regions: list[str]) -> list[str]:
    if not regions:
        raise ValueError("names no region")
    unknown = sorted(set(regions) - set(REGION_CODES) - {"all"})
    if unknown:
        raise ValueError(f"unknown region(s) {unknown}; allowed: {list(REGION_CODES)} or 'all'")
    return regions


class Routes(Strict):
    """The routes a phase offers: `route` sets one route for opting out and in ('none': no route);
    `routes_out` and `routes_in` set each direction's list (several may be open at once)."""

    route: str | None = None
    routes_out: list[str] | None = None
    routes_in: list[str] | None = None

    def route_names(self) -> list[str]:
        return [r for r in (self.route, *(self.routes_out or []), *(self.routes_in or [])) if r is not None]


class PolicyEvent(Routes):
    date: dt.date
    regions: list[str]
    regime: str = "unchanged"  # a preset of sim/model/regimes.py or a design of the policy's `designs`
    training: bool | None = None  # None: the regime decides (a regime that enrols nobody never trains)
    notice: list[NoticeChannel] = []
    one_click: bool = False  # the notice carries a one-click "object" link (email or in-app)
    media: MediaLevel = "none"
    label: str = ""
    # a deadline the event announces (an objection window's close, training's start), after its date and
    # within the horizon or not; urgency rises as it nears (docs/ODD.md §7.18); None: none
    deadline: dt.date | None = None

    @field_validator("regions")
    @classmethod
    def _regions(cls, v):
        return _check_event_regions(v)

    @model_validator(mode="after")
    def _one_click_needs_a_channel(self):
        if self.one_click and not {"email", "in_app"} & set(self.notice):
            raise ValueError(f"one_click needs an email or in_app notice to carry it, got notice={self.notice}")
        return self

    @model_validator(mode="after")
    def _deadline_after_the_event(self):
        if self.deadline is not None and self.deadline <= self.date:
            raise ValueError(f"deadline {self.deadline} must come after the event's date {self.date}")
        return self


class Substitution(Strict):
    """Turns the actual timeline into a counterfactual: replace regimes/routes in some regions,
    over the whole horizon, or from a date on (`date`: the phase in force that day is split there)."""

    regions: list[str]
    regime: dict[str, str] = {}
    route: dict[str, str] = {}
    date: dt.date | None = None  # the substitution applies from this day on; None: throughout

    @field_validator("regions")
    @classmethod
    def _regions(cls, v):
        return _check_event_regions(v)


class InitialPhase(Routes):
    regime: str


class DesignParts(Strict):
    """Parts of a consent design that may replace a preset's (sim/model/regimes.py)."""

    enrolment: Enrolment | None = None
    request: Request | None = None
    framing: Framing | None = None
    blocking: bool | None = None


class Design(DesignParts):
    """A named consent design of a policy: a preset regime with some parts replaced."""

    like: str
    description: str = ""


EVENT_PARTS = ("regime", "training", "route", "routes_out", "routes_in")  # what an event sets in a region


def expand_regions(regions: list[str]) -> list[str]:
    return list(REGION_CODES) if "all" in regions else list(dict.fromkeys(regions))


def event_conflicts(labelled: list[tuple[str, PolicyEvent]]) -> list[str]:
    """Events on one day that set one part of one region's phase to different values (each event
    named by its label, e.g. `policy.events.3`): which would win is no rule a reader can see."""
    unset = {"regime": "unchanged"}
    seen: dict[tuple, tuple[str, object]] = {}
    problems = []
    for label, event in labelled:
        for part in EVENT_PARTS:
            value = getattr(event, part)
            if value is None or value == unset.get(part):
                continue
            for code in expand_regions(event.regions):
                first, other = seen.setdefault((event.date, code, part), (label, value))
                if other != value:
                    problems.append(f"{first} and {label} set {part} in {code} on {event.date} "
                                    f"to {other!r} and {value!r}: give one value, or move one event")  # fmt: skip
    return problems


def merged_events(events: list[PolicyEvent], added: list[PolicyEvent]) -> list[PolicyEvent]:
    """The inherited events and the added ones in date order; on one day, the inherited first."""
    return sorted([*events, *added], key=lambda e: e.date)  # stable


class PolicyConfig(Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"\S")]  # not empty: it labels the run
    description: str = ""
    initial: InitialPhase
    events: list[PolicyEvent]
    # Events added to the inherited `events` (a policy file on `defaults: [linkedin_actual]` that set
    # `events:` would replace the whole timeline: Hydra replaces lists). Merged into `events` by date
    # when the policy is built, so the built policy holds them in `events` and this list is empty.
    add_events: list[PolicyEvent] = []
    substitutions: list[Substitution] = []
    # Consent designs of this policy beyond the presets: name -> a preset with parts replaced.
    designs: dict[str, Design] = {}
    # Regions that keep the initial phase on purpose (no warning that no event names them).
    unchanged_regions: list[str] = []
    # Sweep knobs (null: as the events say): one route (or a list of routes) for every phase that
    # offers one, one set of notice channels for every event that sends a notice, one-click links
    # in every email or in-app notice, and design parts replaced in every design.
    route_override: str | None = None
    routes_override: list[str] | None = None
    notice_override: list[NoticeChannel] | None = None
    one_click_notices: bool = False
    design_override: DesignParts = DesignParts()

    @model_validator(mode="wrap")
    @classmethod
    def _merge_added_events(cls, data, handler):
        """Merge `add_events` into `events` by date; an added event that contradicts an inherited one
        (or another added one) on the same day and region is refused, naming both."""
        policy = handler(data)
        if not policy.add_events:
            return policy
        labelled = [(f"policy.events.{i} (inherited)", e) for i, e in enumerate(policy.events)]
        labelled += [(f"policy.add_events.{i}", e) for i, e in enumerate(policy.add_events)]
        conflicts = event_conflicts(labelled)
        if conflicts:
            raise ValueError("added events that contradict the timeline: " + "; ".join(conflicts))
        return policy.model_copy(update={"events": merged_events(policy.events, policy.add_events), "add_events": []})

    @model_validator(mode="after")
    def _known_designs(self):
        for name, design in self.designs.items():
            if name in BY_NAME or name == "unchanged":
                raise ValueError(f"design {name!r} would shadow a preset regime; choose another name")
            if design.like not in BY_NAME:
                raise ValueError(f"designs.{name}.like={design.like!r}: not a preset; allowed: {list(BY_NAME)}")
        allowed = [*BY_NAME, *self.designs]
        used = [("policy.initial.regime", self.initial.regime)]
        used += [(f"policy.events.{i}.regime", e.regime) for i, e in enumerate(self.events) if e.regime != "unchanged"]
        used += [(f"policy.add_events.{i}.regime", e.regime) for i, e in enumerate(self.add_events)
                 if e.regime != "unchanged"]  # fmt: skip
        for i, sub in enumerate(self.substitutions):
            used += [(f"policy.substitutions.{i}.regime", r) for r in (*sub.regime, *sub.regime.values())]
        bad = [f"{where}={name!r}" for where, name in used if name not in allowed]
        if bad:
            raise ValueError(f"unknown regime(s) {bad}; allowed: {allowed} (presets and this policy's designs)")
        labelled = [(f"policy.events.{i}", e) for i, e in enumerate(self.events)]
        labelled += [(f"policy.add_events.{i}", e) for i, e in enumerate(self.add_events)]
        for where, e in labelled:
            trains = BY_NAME[e.regime].trains if e.regime in BY_NAME else True
            if e.regime in self.designs:
                trains = (
                    self.designs[e.regime].enrolment or BY_NAME[self.designs[e.regime].like].enrolment
                ) != "nobody"
            if e.training and not trains:
                raise ValueError(f"{where}: an {e.regime} phase cannot train (it enrols nobody)")
        return self

    @field_validator("unchanged_regions")
    @classmethod
    def _known_regions(cls, v):
        return _check_event_regions(v) if v else v

    @model_validator(mode="after")
    def _no_contradictions(self):
        """Two settings that contradict each other are refused, never resolved silently."""
        if self.route_override is not None and self.routes_override is not None:
            raise ValueError(f"policy.route_override={self.route_override!r} and policy.routes_override="
                             f"{self.routes_override!r} are both given: give one (routes_override for "
                             "several routes)")  # fmt: skip
        return self
