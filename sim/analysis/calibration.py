"""Calibration targets as data (conf/calibration/targets.yaml): scenarios, measures and the loss.

A target puts the model in an anchor's setting (a scenario: dotted keys set on the shipped
defaults), measures one number, and states the anchor's value with its measurement error
(`tolerance`, one standard deviation). `experiments/calibrate.py` infers a posterior over the
behavioural parameters from these targets (in two stages: sim.analysis.stage_one, sim.analysis.waves);
sim.analysis.checks and tests/test_calibration.py check every target against the model over
posterior draws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.core.compose import CONF_DIR, compose_raw, get_key, set_key
from sim.model.batch import simulate_many
from sim.model.config import SimConfig, validate_config
from sim.model.metrics import INDEX
from sim.model.population import sample_population
from sim.model.random_streams import Streams
from sim.model.regions import OUTPUT_REGIONS
from sim.model.rules.consent import prompt_accept_probability
from sim.model.rules.friction import route_completion_probability

TARGETS_FILE = CONF_DIR / "calibration" / "targets.yaml"
SIMULATED = {"series", "flow_ratio", "share_ratio"}  # measures read off a scenario's run
# A calibrated default's comment in conf/ (experiments/calibrate.py --write-conf): the fit, then this,
# then what the value meant before calibration.
CALIBRATED_SEP = "; before calibration:"


@dataclass(frozen=True)
class Target:
    id: str
    anchor: str
    source: str
    value: float
    tolerance: float
    scenario: dict
    measure: dict
    stage: int = 2  # 1: fitted by its likelihood without simulation (sim.analysis.stage_one); 2: by simulation
    check: bool = False  # no free parameter moves it: checked, not part of the distance
    one_sided: str | None = None  # "at_least": only a model value below `value` counts against the model

    def z_score(self, model: float, seed_sd: float = 0.0) -> float:
        """(model - value) / sqrt(tolerance^2 + seed_sd^2); 0 on the side a one-sided target allows."""
        return float(self.z_score_array(np.array([model]), seed_sd)[0])

    def z_score_array(self, model: np.ndarray, seed_sd: float = 0.0) -> np.ndarray:
        """`z_score` of each value; a value the model could not measure (nan) counts as a miss of 1000."""
        z = (np.asarray(model, float) - self.value) / np.sqrt(self.tolerance**2 + seed_sd**2)
        z = np.minimum(z, 0.0) if self.one_sided == "at_least" else z
        return np.where(np.isfinite(z), z, 1e3)


def load_targets(path: Path = TARGETS_FILE) -> tuple[list[Target], list[dict], list[dict]]:
    """Targets, fitted parameters and scenario-only (nuisance) parameters."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    targets = [Target(**{k: t[k] for k in Target.__dataclass_fields__ if k in t}) for t in data["targets"]]
    return targets, data["parameters"], data.get("nuisance", [])


def load_prior_only(path: Path = TARGETS_FILE) -> list[dict]:
    """Parameters no target informs (`unfitted`): posterior ensembles draw them from their priors."""
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("unfitted", [])


def shipped_raw(overrides: list[str] | None = None) -> dict:
    """The shipped config as a plain dict (composed by Hydra from conf/)."""
    return compose_raw(["progress=false", *(overrides or [])])


def with_values(raw: dict, parameters: list[dict], values: dict[str, float]) -> dict:
    """A copy of `raw` with each named parameter written to every key it maps to."""
    out = copy.deepcopy(raw)
    for p in parameters:
        if p["name"] in values:
            for key in p["keys"]:
                current = get_key(out, key)
                v = float(values[p["name"]])
                set_key(out, key, {"default": v} if isinstance(current, dict) else v)
    return out


def scenario_config(base: dict, target: Target, agents: int, seed: int) -> SimConfig:
    raw = copy.deepcopy(base)
    for key, value in target.scenario.items():
        set_key(raw, key, copy.deepcopy(value))
    set_key(raw, "population.agents", agents)
    set_key(raw, "seed", seed)
    return validate_config(raw)


def measure(target: Target, config: SimConfig, records: np.ndarray | None = None) -> float:
    """The model's value for the target in its scenario (`records`: the scenario's run, if done)."""
    m = target.measure
    if SIMULATED & m.keys():
        records = simulate_many([config])[0] if records is None else records
        region = OUTPUT_REGIONS.index(m["region"])
        if "series" in m:
            return float(records[m["day"], region, INDEX[m["series"]]])
        if "flow_ratio" in m:  # the flow in the `days` from `day` over the flow in the `days` before
            flow, d, n = records[:, region, INDEX[m["flow_ratio"]]], m["day"], m["days"]
            before = flow[d - n : d].sum()
            return float(flow[d : d + n].sum() / before) if before > 0 else float("nan")
        share, count = m["share_ratio"]  # a share of eligible over a count per member at the start
        per_member = records[m["day"], region, INDEX[count]] / records[0, region, INDEX["members"]]
        return float(records[m["day"], region, INDEX[share]] / per_member) if per_member > 0 else float("nan")
    pop = sample_population(config.population, config.feed.reach_cost_belief_share, Streams(config.seed))
    weight = pop.weight
    if "prompt_log_odds_ratio" in m or "prompt_refusal" in m:
        return prompt_measure(m, pop, config.consent.prompt_answer)
    if "visited_within_days" in m:
        visited = 1.0 - (1.0 - pop.visit_prob.astype(np.float64)) ** m["visited_within_days"]
        return float(np.average(visited, weights=weight))
    if "layer_ratio" in m:
        steps = [s.difficulty for s in config.friction.routes[m["layer_ratio"]].steps]
        fewer = steps[: m["drop_step"]] + steps[m["drop_step"] + 1 :]
        w = config.friction.skill_weight
        full = np.average(route_completion_probability(pop.skill, steps, w), weights=weight)
        less = np.average(route_completion_probability(pop.skill, fewer, w), weights=weight)
        return float(less / full)
    raise ValueError(f"target {target.id}: unknown measure {m}")


def mean_yes(pop, answer, framing: str) -> float:
    """The population mean (weighted, eligible members) of P(yes) to a prompt under `framing`."""
    p = prompt_accept_probability(pop.preference, pop.concern, framing, answer)
    return float(np.average(p, weights=pop.weight * pop.eligible))


def prompt_measure(m: dict, pop, answer) -> float:
    """A prompt-answer target's value in a population (`prompt_log_odds_ratio` or `prompt_refusal`)."""
    if "prompt_log_odds_ratio" in m:
        a, b = (mean_yes(pop, answer, f) for f in m["prompt_log_odds_ratio"])
        return float(np.log(a / (1 - a)) - np.log(b / (1 - b)))
    return 1.0 - mean_yes(pop, answer, m["prompt_refusal"])


def scenario_raw(base: dict, target: Target, nuisance=(), values=None) -> dict:
    """The shipped config with the scenario-only parameters that apply to this target's scenario."""
    raw = base
    for p in nuisance:
        if target.id in p["scenarios"] and values and p["name"] in values:
            raw = with_values(raw, [p], values)
    return raw


def evaluate_seed(base: dict, targets: list[Target], agents: int, seed: int, nuisance=(), values=None, simulate=None):
    """Model value per target at one seed (`evaluate_many` for one parameter set)."""
    return evaluate_many([(base, seed, values)], targets, agents, nuisance, simulate)[0]


def evaluate_many(sets: list[tuple], targets: list[Target], agents: int, nuisance=(), simulate=None) -> list[dict]:
    """Model value per target for each (base config, seed, parameter values) of `sets`. Targets that
    share a scenario share its one run, and all the sets' runs go together through `simulate_many`
    (the one place that decides how simulations are grouped: batches), or through `simulate` if
    given (a `sim.model.batch.Gatherer`'s `run`: batches across callers)."""
    simulate = simulate or simulate_many
    configs = [
        {t.id: scenario_config(scenario_raw(base, t, nuisance, values), t, agents, seed) for t in targets}
        for base, seed, values in sets
    ]
    runs: dict[str, SimConfig] = {}  # one run per distinct scenario and set, keyed by its config
    for by_target in configs:
        for t in targets:
            if SIMULATED & t.measure.keys():
                runs.setdefault(by_target[t.id].model_dump_json(), by_target[t.id])
    records = dict(zip(runs, simulate(list(runs.values())), strict=True))
    return [
        {
            t.id: measure(t, c[t.id], records.get(c[t.id].model_dump_json()) if SIMULATED & t.measure.keys() else None)
            for t in targets
        }
        for c in configs
    ]
