"""Stage one of the calibration: what needs no simulation, fitted by its likelihood.

The targets marked `stage: 1` in conf/calibration/targets.yaml are functions of the prompt-answer
rule (docs/ODD.md §7.5) and of the friction rule's step difficulties (§7.6) over a sampled
population, so each is computed exactly, in milliseconds, for any parameter set:
- Johnson & Goldstein's three arms (ANCHORS 1): the population mean of P(yes) under each framing,
  in their population (85% approve, everyone asked, a click always works);
- the pooled default effect (ANCHORS 12): the log odds ratio between the two presets' means;
- refusal at equal effort (ANCHORS 13): 1 - the mean of P(yes) under neutral framing, in this
  population (one-sided: a floor);
- the hidden layer's ratio (ANCHORS 3): completion without a hidden step over completion with it.

The likelihood is Gaussian in each target's z-score (`Target.z_score`, the target's tolerance its
measurement error). The posterior of the stage-one parameters (those of `parameters` with
`stage: 1`) is sampled by importance sampling in two rounds: from the prior, then from a Gaussian
fitted to the first round's weighted sample (covariance doubled, truncated to the prior's box),
weighted by prior / proposal. Stage two (sim.analysis.waves) draws these parameters from this
sample, so the simulated targets never count the same evidence twice.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.analysis.calibration import Target, mean_yes, prompt_measure, scenario_config, with_values
from sim.analysis.priors import draw_natural, prior_support
from sim.model.config import PromptAnswerConfig
from sim.model.population import sample_population
from sim.model.random_streams import Streams
from sim.model.rules.friction import route_completion_probability

STAGE_ONE_AGENTS = 20_000  # the population the exact measures average over (a weighted sample)


def jg_share(m: dict, pop, answer, regime: str) -> float:
    """Johnson & Goldstein's arms: the share that ends up in, under the scenario's regime's framing."""
    framing = {"affirmative": "preset_no", "default_on": "preset_yes", "forced_choice": "neutral"}[regime]
    return mean_yes(pop, answer, framing)


class StageOne:
    """The stage-one targets and parameters, with each target's population sampled once."""

    def __init__(self, targets: list[Target], parameters: list[dict], base: dict, seed: int = 0):
        self.targets = [t for t in targets if t.stage == 1]
        self.parameters = [p for p in parameters if p.get("stage") == 1]
        self.base = base
        self.settings = []
        for t in self.targets:
            config = scenario_config(base, t, STAGE_ONE_AGENTS, seed)
            pop = sample_population(config.population, config.feed.reach_cost_belief_share, Streams(seed))
            self.settings.append((config, pop))

    def values(self, theta: dict[str, float]) -> dict[str, float]:
        """Every stage-one target's model value for the parameter values `theta`."""
        raw = with_values(self.base, self.parameters, theta)
        answer = PromptAnswerConfig.model_validate(raw["consent"]["prompt_answer"])
        steps = [s["difficulty"] for s in raw["friction"]["routes"]["settings_toggle"]["steps"]]
        out = {}
        for t, (config, pop) in zip(self.targets, self.settings, strict=True):
            m = t.measure
            if "layer_ratio" in m:
                fewer = steps[: m["drop_step"]] + steps[m["drop_step"] + 1 :]
                w = config.friction.skill_weight
                full = np.average(route_completion_probability(pop.skill, steps, w), weights=pop.weight)
                less = np.average(route_completion_probability(pop.skill, fewer, w), weights=pop.weight)
                out[t.id] = float(less / full)
            elif "series" in m:  # an arm of Johnson & Goldstein's: everyone asked once, a click always works
                out[t.id] = jg_share(m, pop, answer, t.scenario["policy.initial.regime"])
            else:
                out[t.id] = prompt_measure(m, pop, answer)
        return out

    def log_likelihood(self, theta: dict[str, float]) -> float:
        v = self.values(theta)
        return -0.5 * sum(t.z_score(v[t.id]) ** 2 for t in self.targets)

    def sample(self, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(values [draw, parameter], normalised weights): the stage-one posterior, two rounds."""
        names = [p["name"] for p in self.parameters]
        box = np.array([prior_support(p["prior"]) for p in self.parameters])
        first = np.column_stack([draw_natural(p["prior"], rng, draws) for p in self.parameters])
        w1 = self._weights(first, names, np.zeros(draws))
        mean = np.average(first, axis=0, weights=w1)
        cov = 2.0 * np.atleast_2d(np.cov(first.T, aweights=w1)) + 1e-9 * np.eye(len(names))
        proposal = stats.multivariate_normal(mean, cov)
        second = proposal.rvs(size=4 * draws, random_state=rng).reshape(-1, len(names))
        second = second[np.all((second >= box[:, 0]) & (second <= box[:, 1]), axis=1)][:draws]
        # the prior is uniform in the box for every stage-one parameter: prior / proposal = 1 / q
        w2 = self._weights(second, names, -proposal.logpdf(second))
        return second, w2

    def _weights(self, x: np.ndarray, names: list[str], log_correction: np.ndarray) -> np.ndarray:
        if any("loguniform" in p["prior"] for p in self.parameters):
            raise ValueError("stage one samples uniform priors only")
        logw = np.array([self.log_likelihood(dict(zip(names, row, strict=True))) for row in x]) + log_correction
        w = np.exp(logw - logw.max())
        return w / w.sum()
