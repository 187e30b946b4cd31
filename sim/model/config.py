"""The run's configuration: one pydantic model, the only gate between a config and the model.

Hydra composes `conf/`; `SimConfig.model_validate` checks every key, bound and choice at once.
The defaults and their sources live in `conf/` (each with an anchor of ANCHORS.md or "assumption");
the schema only states what is allowed.
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from sim.model import mechanisms
from sim.model.regimes import BY_NAME, Enrolment, Framing, Request
from sim.model.regions import REGION_CODES
from sim.model.schema import (
    ByRegionProbability,
    PositiveFloat,
    Probability,
    RegionShift,
    Strict,
    _regions_with_default,
    field_unit,
    for_region,
)

NoticeChannel = Literal["email", "in_app", "prompt"]
MediaLevel = Literal["none", "moderate", "high"]
ROUTE_NONE = "none"
MAX_HORIZON_DAYS = 30_000  # day indices are int16 in the state arrays


class Segment(Strict):
    share: Probability
    rate_per_day: Annotated[float, Field(ge=0.0, le=24.0)]


class ConcernSegment(Strict):
    share: Probability
    mean: Annotated[float, Field(gt=0.0, lt=1.0)]
    concentration: PositiveFloat  # Beta(a, b) with a + b = concentration


class BetaShape(Strict):
    a: PositiveFloat
    b: PositiveFloat


def _shares_sum_to_one(segments: dict, label: str) -> None:
    total = sum(s.share for s in segments.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{label} shares must sum to 1, got {total:.6g}")


class GraphConfig(Strict):
    mean_contacts: Annotated[float, Field(ge=0.0, le=200.0)]
    same_region_share: Probability


class PopulationConfig(Strict):
    members: Annotated[float, Field(gt=0.0, le=1e10)]
    agents: Annotated[int, Field(ge=1, le=200_000_000)]
    min_agents_per_region: Annotated[int, Field(ge=1)] | None  # None: the automatic floor
    auto_floor_cap: Annotated[int, Field(ge=1)]
    minor_share: ByRegionProbability
    login_segments: dict[str, Segment]
    post_segments: dict[str, Segment]
    post_rate_spread: Annotated[float, Field(ge=0.0, le=3.0)]
    tenure_mean_days: PositiveFloat
    tenure_max_days: Annotated[int, Field(ge=1, le=MAX_HORIZON_DAYS)]
    photo_share: Probability
    concern_segments: dict[str, ConcernSegment]
    concern_shift: Annotated[dict[str, RegionShift], AfterValidator(_regions_with_default)]
    object_share: ByRegionProbability
    accept_share: ByRegionProbability
    preference_noise: Annotated[float, Field(ge=0.0, le=5.0)]
    skill: BetaShape
    visibility_motive: BetaShape
    graph: GraphConfig

    @model_validator(mode="after")
    def _consistent(self):
        _shares_sum_to_one(self.login_segments, "population.login_segments")
        _shares_sum_to_one(self.post_segments, "population.post_segments")
        _shares_sum_to_one(self.concern_segments, "population.concern_segments")
        floor_total = self.agents_floor * len(REGION_CODES)
        if self.agents < floor_total:
            raise ValueError(
                f"population.agents={self.agents} is below the per-region floor "
                f"({self.agents_floor} x {len(REGION_CODES)} regions = {floor_total}): set "
                f"population.min_agents_per_region to at most {self.agents // len(REGION_CODES)}, or to null "
                "(automatic: the floor scales with the sample)"
            )
        for region in REGION_CODES:
            total = for_region(self.object_share, region) + for_region(self.accept_share, region)
            if total > 1.0:
                raise ValueError(f"population.object_share + accept_share = {total:.3g} > 1 in {region}")
        return self

    @property
    def agents_floor(self) -> int:
        """Agents at least in every region: as configured, or automatically half an equal share
        (agents / (2 x regions)) capped at `auto_floor_cap`, so any sample size runs."""
        if self.min_agents_per_region is not None:
            return self.min_agents_per_region
        return max(1, min(self.auto_floor_cap, self.agents // (2 * len(REGION_CODES))))


class MediaEvent(Strict):
    date: dt.date
    regions: list[str]
    level: MediaLevel
    label: str = ""
    guidance: Probability | None = None  # share of its coverage printing the opt-out steps; None: guidance's default

    @field_validator("regions")
    @classmethod
    def _regions(cls, v):
        return _check_event_regions(v)


def _check_event_regions(regions: list[str]) -> list[str]:
    if not regions:
        raise ValueError("names no region")
    unknown = sorted(set(regions) - set(REGION_CODES) - {"all"})
    if unknown:
        raise ValueError(f"unknown region(s) {unknown}; allowed: {list(REGION_CODES)} or 'all'")
    return regions


class MediaConfig(Strict):
    reach: Probability
    base_per_day: ByRegionProbability
    shock_per_day: dict[Literal["moderate", "high"], Probability]
    decay_days: PositiveFloat
    extra_events: list[MediaEvent] = []


class NoticeConfig(Strict):
    email_read_prob: Probability
    in_app_seen_prob: Probability


class WordOfMouthConfig(Strict):
    strength: Probability
    share_prob: Probability
    window_days: Annotated[int, Field(ge=1, le=3650)]


class AwarenessConfig(Strict):
    media: MediaConfig
    notices: NoticeConfig
    word_of_mouth: WordOfMouthConfig


class PromptAnswerConfig(Strict):
    """The answer to a consent prompt (docs/ODD.md §7.5): P(yes) = logistic(lean + framing shift),
    lean = the preference's log-odds + concern_logit_per_unit x (0.5 - concern)."""

    accepter_logit: Annotated[float, Field(ge=-20.0, le=20.0)]
    indifferent_logit: Annotated[float, Field(ge=-20.0, le=20.0)]
    objector_logit: Annotated[float, Field(ge=-20.0, le=20.0)]
    concern_logit_per_unit: Annotated[float, Field(ge=0.0, le=20.0)]
    preset_yes_shift: Annotated[float, Field(ge=0.0, le=20.0)]
    preset_no_shift: Annotated[float, Field(ge=0.0, le=20.0)]


class ConsentConfig(Strict):
    intent_half_life_days: PositiveFloat
    object_intent_scale: Annotated[float, Field(ge=0.0, le=10.0)]
    accept_intent_prob: Probability
    prompt_answer: PromptAnswerConfig


class RouteStep(Strict):
    name: str
    difficulty: Annotated[float, Field(ge=-20.0, le=20.0)]


class Route(Strict):
    steps: list[RouteStep] = Field(min_length=1)
    channel: Literal["settings", "form", "one_click", "prompt"] = "settings"  # how its choices are counted
    wait_days: Annotated[int, Field(ge=0, le=3650)] = 0


class FrictionConfig(Strict):
    routes: dict[str, Route]
    skill_weight: Annotated[float, Field(ge=0.0, le=50.0)]
    try_prob: Probability
    frustration_factor: Probability
    give_up_prob: Probability

    @field_validator("routes")
    @classmethod
    def _route_names(cls, v):
        if ROUTE_NONE in v:
            raise ValueError(f"'{ROUTE_NONE}' is reserved for 'no route'")
        if "prompt" not in v:
            raise ValueError("needs a 'prompt' route: the steps of answering a consent prompt")
        return v


class FeedConfig(Strict):
    face_boost: Annotated[float, Field(ge=0.0, le=100.0)]
    initial_face_share: Probability
    other_image_share: Probability
    adaptation_rate: Probability
    min_face_share: Probability
    max_face_share: Probability
    reach_cost_belief_share: Probability

    @model_validator(mode="after")
    def _bounds(self):
        if not self.min_face_share <= self.initial_face_share <= self.max_face_share:
            raise ValueError(
                "feed needs min_face_share <= initial_face_share <= max_face_share, got "
                f"{self.min_face_share} <= {self.initial_face_share} <= {self.max_face_share}"
            )
        return self


class TrainingConfig(Strict):
    ingest_every_days: Annotated[int, Field(ge=1, le=3650)]
    retroactive_removal: bool
    profile_tokens: Annotated[float, Field(ge=0.0)]
    tokens_per_post: Annotated[float, Field(ge=0.0)]


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
    # within the horizon or not; urgency rises as it nears (docs/ODD.md §7.17); None: none
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
    """Turns the actual timeline into a counterfactual: replace regimes/routes in some regions."""

    regions: list[str]
    regime: dict[str, str] = {}
    route: dict[str, str] = {}

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


class PolicyConfig(Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"\S")]  # not empty: it labels the run
    description: str = ""
    initial: InitialPhase
    events: list[PolicyEvent]
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
        for i, sub in enumerate(self.substitutions):
            used += [(f"policy.substitutions.{i}.regime", r) for r in (*sub.regime, *sub.regime.values())]
        bad = [f"{where}={name!r}" for where, name in used if name not in allowed]
        if bad:
            raise ValueError(f"unknown regime(s) {bad}; allowed: {allowed} (presets and this policy's designs)")
        for i, e in enumerate(self.events):
            trains = BY_NAME[e.regime].trains if e.regime in BY_NAME else True
            if e.regime in self.designs:
                trains = (
                    self.designs[e.regime].enrolment or BY_NAME[self.designs[e.regime].like].enrolment
                ) != "nobody"
            if e.training and not trains:
                raise ValueError(f"policy.events.{i}: an {e.regime} phase cannot train (it enrols nobody)")
        return self

    @field_validator("unchanged_regions")
    @classmethod
    def _known_regions(cls, v):
        return _check_event_regions(v) if v else v


class UncertaintyConfig(Strict):
    """Posterior ensembles (docs/ODD.md §9a): `mode: posterior` runs `draws` parameter sets from the
    calibrated posterior; `none` runs the shipped defaults once."""

    mode: Literal["none", "posterior"]
    draws: Annotated[int, Field(ge=0)]
    draw_seed: Annotated[int, Field(ge=0)]
    posterior_dir: str | None = None

    @model_validator(mode="after")
    def _enough_draws(self) -> UncertaintyConfig:
        if self.mode == "posterior" and self.draws < 2:
            raise ValueError(f"uncertainty.draws={self.draws}: a posterior ensemble needs at least 2 draws")
        return self


class _CoreConfig(Strict):
    """The run's keys and the core model's groups; `SimConfig` adds the mechanisms' groups."""

    # Field order matters: a field validator sees the fields above it (policy routes need friction).
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    start: dt.date
    end: dt.date
    progress: bool
    figures: bool
    population: PopulationConfig
    awareness: AwarenessConfig
    consent: ConsentConfig
    friction: FrictionConfig
    feed: FeedConfig
    training: TrainingConfig
    policy: PolicyConfig

    @field_validator("end")
    @classmethod
    def _horizon(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start")
        if start is not None:
            if end < start:
                raise ValueError(f"end ({end}) is before start ({start})")
            if (end - start).days >= MAX_HORIZON_DAYS:
                raise ValueError(f"horizon of {(end - start).days} days exceeds {MAX_HORIZON_DAYS}")
        return end

    @field_validator("policy")
    @classmethod
    def _routes_exist(cls, policy: PolicyConfig, info: ValidationInfo) -> PolicyConfig:
        friction = info.data.get("friction")
        if friction is None:
            return policy
        known = set(friction.routes) | {ROUTE_NONE}
        used = [("initial.route", r) for r in policy.initial.route_names()]
        used += [("route_override", policy.route_override)] + [
            ("routes_override", r) for r in policy.routes_override or []
        ]
        used += [(f"events[{i}].route", r) for i, e in enumerate(policy.events) for r in e.route_names()]
        for i, sub in enumerate(policy.substitutions):
            used += [(f"substitutions[{i}].route", r) for r in (*sub.route, *sub.route.values())]
        bad = [f"{where}={name!r}" for where, name in used if name is not None and name not in known]
        if bad:
            raise ValueError(f"unknown route(s) {bad}; allowed: {sorted(known)} (routes of friction.routes)")
        if policy.one_click_notices or any(e.one_click for e in policy.events):
            if not any(r.channel == "one_click" for r in friction.routes.values()):
                raise ValueError("one-click notices need a route with channel: one_click in friction.routes")
        from sim.model.policy import design_problems  # the phases, compiled (policy imports this module)

        problems = design_problems(policy)
        if problems:
            raise ValueError("designs that cannot work: " + "; ".join(problems))
        return policy

    @property
    def horizon_days(self) -> int:
        """Number of simulated days, both ends included."""
        return (self.end - self.start).days + 1


def _mechanism_groups() -> dict[str, tuple[type, object]]:
    """The config groups of the mechanisms (sim.model.mechanisms.REGISTRY): a mechanism's key is its
    group (`salience`) or a member of one (`reactions.post_less`, gathered into a `reactions` group)."""
    groups: dict[str, dict[str, type]] = {}
    for m in mechanisms.REGISTRY:
        group, _, member = m.key.partition(".")
        groups.setdefault(group, {})[member] = m.Params
    fields = {}
    for group, members in groups.items():
        if "" in members:
            fields[group] = (members[""], ...)
        else:
            name = "".join(part.title() for part in group.split("_")) + "Config"
            fields[group] = (create_model(name, __base__=Strict, **{k: (v, ...) for k, v in members.items()}), ...)
    return fields


# The whole schema: the core's groups, the mechanisms' groups (in the registry's order), the ensemble.
SimConfig = create_model(
    "SimConfig",
    __base__=_CoreConfig,
    __doc__="A run's whole configuration: the one gate between a config and the model.",
    **_mechanism_groups(),
    uncertainty=(UncertaintyConfig, UncertaintyConfig(mode="none", draws=0, draw_seed=0)),
)


def declared_unit(key: str) -> str | None:
    """The unit the schema declares for a dotted config key (`sim.model.schema.unit`), or None."""
    node, unit_found = SimConfig, None
    for part in key.split("."):
        if not (isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields):
            return unit_found if part.isdigit() or part in REGION_CODES or part == "default" else None
        unit_found = field_unit(node, part)
        node = node.model_fields[part].annotation
    return unit_found


class ConfigError(ValueError):
    """A config that fails validation; the message lists every problem."""


def _allowed_keys(parent: tuple) -> list[str]:
    """Field names of the schema section at `parent` (a pydantic error location)."""
    node = SimConfig
    for part in parent:
        if isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        while typing.get_origin(node) in (list, dict, typing.Annotated):
            node = (
                typing.get_args(node)[-1]
                if typing.get_origin(node) is not typing.Annotated
                else typing.get_args(node)[0]
            )
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def format_validation_error(err: ValidationError) -> str:
    lines = [f"invalid configuration ({err.error_count()} problem(s)):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"] if p != "values") or "(top level)"
        value = e.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key; allowed here: {_allowed_keys(e['loc'][:-1])}"
        lines.append(f"  - {key} = {shown}: {msg}")
    return "\n".join(lines)


def validate_config(raw: dict) -> SimConfig:
    """Validate a plain dict (e.g. Hydra's resolved config); raise ConfigError naming every problem."""
    try:
        return SimConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None
