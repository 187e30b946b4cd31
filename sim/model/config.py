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
from sim.model.policy import design_problems, same_day_conflicts
from sim.model.policy_schema import (  # noqa: F401 (the policy's schema, re-exported: SimConfig's `policy`)
    ROUTE_NONE,
    Design,
    DesignParts,
    InitialPhase,
    MediaLevel,
    NoticeChannel,
    PolicyConfig,
    PolicyEvent,
    Routes,
    Substitution,
    _check_event_regions,
)
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
    unit,
)

MAX_HORIZON_DAYS = 30_000  # day indices are int16 in the state arrays
MAX_DRAWS = 10_000  # posterior draws per run: 20 times the shipped posterior's 500 parameter sets


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
    post_rate_scale: PositiveFloat = unit("multiplier on every post segment's rate")
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
    try_prob: Probability = unit("probability per visit with intent")
    attempts_per_intent: float = unit("attempts", ge=1.0, le=1000.0)
    motivated_search_offset: float = unit("log-odds per hidden step", ge=0.0, le=30.0)
    hidden_above: float = unit("log-odds", ge=-20.0, le=20.0)

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
    first_pull_lag_days: int = unit("days", ge=0, le=MAX_HORIZON_DAYS)
    retroactive_removal: bool
    profile_tokens: Annotated[float, Field(ge=0.0)]
    tokens_per_post: Annotated[float, Field(ge=0.0)]
    backlog_share: Probability = unit("share of pre-existing posts")


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
        if self.draws > MAX_DRAWS:  # a run holds every draw's series (sim.model.memory counts them too)
            raise ValueError(f"uncertainty.draws={self.draws}: at most {MAX_DRAWS:,} (a run holds every draw's "
                             "series; 50 draws put a 10-90% interval's ends within a few percent)")  # fmt: skip
        ignored = {"draws": self.draws != 0, "draw_seed": self.draw_seed != 0, "posterior_dir": self.posterior_dir}
        ignored = [f"uncertainty.{k}" for k, v in ignored.items() if v]
        if self.mode == "none" and ignored:  # a setting that would be ignored is refused (docs/RELIABILITY.md)
            raise ValueError(f"{', '.join(ignored)} set with uncertainty.mode=none, which runs the shipped "
                             "defaults once and ignores them: add uncertainty=posterior for a posterior "
                             "ensemble, or leave them out")  # fmt: skip
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
        conflicts = same_day_conflicts(policy)
        if conflicts:
            raise ValueError("events that contradict each other: " + "; ".join(conflicts))
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
