"""Fit the prompt-answer rule (docs/ODD.md §7.5) to Johnson & Goldstein 2003 (ANCHORS 1), in that
study's own population, and say what it predicts for this one.

    python experiments/fit_prompt_answers.py           # print the fit and its predictions
    python experiments/fit_prompt_answers.py --write   # also record it in sim/data/calibration/calibration.json

The rule: P(yes) = logistic(lean + framing shift), lean = the preference's log-odds + concern
term. In Johnson & Goldstein's population 85% approved of organ donation (accept_share 0.85,
object_share 0.15, no one indifferent); everyone was asked once and a click always worked, so the
share that ends up "in" is the population mean of P(yes) under each framing: neutral 79%, preset
yes 82%, preset no 42%. Three equations fix the three fitted parameters (accepter_logit,
preset_yes_shift, preset_no_shift); objector_logit, indifferent_logit and concern_logit_per_unit
are assumptions (conf/consent/default.yaml). Nothing here is a scenario-only parameter: the same
values run every policy. The calibration targets jg_* (conf/calibration/targets.yaml) check the
fit by simulation.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.optimize import fsolve

from sim.analysis.calibration import evaluate, load_targets
from sim.model.config import PopulationConfig, PromptAnswerConfig
from sim.model.population import sample_population
from sim.model.random_streams import Streams
from sim.model.rules.consent import prompt_accept_probability
from sim.run.compose import DATA_DIR, compose_raw

JG = {"neutral": 0.79, "preset_yes": 0.82, "preset_no": 0.42}  # ANCHORS 1


def mean_yes(pop, answer: dict, framing: str) -> float:
    p = prompt_accept_probability(pop.preference, pop.concern, framing, PromptAnswerConfig(**answer))
    return float(np.average(p, weights=pop.weight * pop.eligible))


FITTED = ("accepter_logit", "preset_yes_shift", "preset_no_shift")
REPLACED = ("default_acquiescence", "neutral_acquiescence")  # the constants this rule replaced


def record(answer: dict, path=DATA_DIR / "calibration" / "calibration.json") -> None:
    """Write the fit into the calibration record, with the jg_* targets simulated at it."""
    result = json.loads(path.read_text())
    for name in REPLACED:
        result["parameters"].pop(name, None)
    result["parameters"].update({k: float(answer[k]) for k in FITTED})
    result["nuisance"] = {}
    targets = [t for t in load_targets()[0] if t.id.startswith("jg_")]
    overrides = [f"consent.prompt_answer.{k}={answer[k]}" for k in FITTED]
    simulated = evaluate(compose_raw(["progress=false", *overrides]), targets, result["agents"], result["seeds"])
    result["results"].update({t: float(np.mean(v)) for t, v in simulated.items()})
    result["prompt_answers"] = "fitted in closed form by experiments/fit_prompt_answers.py; jg_* simulated at the fit"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}: " + ", ".join(f"{t} {v:.3f}" for t, v in result["results"].items() if t.startswith("jg_")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="record the fit in sim/data/calibration/calibration.json")
    args = parser.parse_args(argv)
    raw = compose_raw(["population.agents=200000"])
    answer = dict(raw["consent"]["prompt_answer"])
    jg_raw = {**raw["population"], "object_share": {"default": 0.15}, "accept_share": {"default": 0.85}}
    jg = sample_population(PopulationConfig.model_validate(jg_raw), raw["feed"]["reach_cost_belief_share"], Streams(0))

    def residuals(x):
        trial = {**answer, "accepter_logit": x[0], "preset_yes_shift": x[1], "preset_no_shift": x[2]}
        return [mean_yes(jg, trial, f) - v for f, v in JG.items()]

    fitted = fsolve(residuals, [2.5, 0.7, 2.5])
    answer.update(accepter_logit=fitted[0], preset_yes_shift=fitted[1], preset_no_shift=fitted[2])
    print("fitted to Johnson & Goldstein 2003 (their population):")
    for k in ("accepter_logit", "preset_yes_shift", "preset_no_shift"):
        print(f"  consent.prompt_answer.{k} = {answer[k]:.4g}")
    ours = sample_population(PopulationConfig.model_validate(raw["population"]), 0.3, Streams(0))
    print("predicted share answering yes in this population (everyone asked, a click always works):")
    for framing in JG:
        print(f"  {framing:11s} {mean_yes(ours, answer, framing):.1%}")
    if args.write:
        record(answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
