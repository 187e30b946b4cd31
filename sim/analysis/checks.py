"""The calibration's checks, each able to fail (docs/CALIBRATION.md; issue 27's thresholds):

- joint fit: posterior predictive draws, each simulated at a fresh seed, with their distance
  D = sum_t ((model_t - value_t) / sqrt(tolerance_t^2 + seed_sd_t^2))^2 over the distance targets;
  passes when at least half have D below the 95% point of chi-square with one degree per target;
- identification: a parameter is identified when its posterior's 90% interval is under half the
  prior's (on the sampling scale; a stage-one parameter's from stage one's own sample, the cut of
  sim.analysis.posterior); passes when at least two thirds of the inferred ones are. A stage-two
  weighted sample of fewer than MIN_ESS effective sets cannot tell (its intervals shrink because
  a few sets carry the weight, not because the targets pin anything): then no parameter counts as
  identified and the check fails, saying why;
- recovery: simulated datasets from known parameters, refitted the same way, with the same
  emulators over the real data's cloud and adaptive rounds of each dataset's own
  (sim.analysis.emulator.recovery); passes when the 90% intervals cover the truth in 80-95% of cases.

The posterior they check is the emulated one (sim.analysis.emulator): a weighted cloud of parameter
sets, `sample` below (its `u` on the sampling scale and its stage-one `row`s), and its weights.

With them, not checks: the screening (sim.analysis.screening), what the targets could pin at best, and
the conflicts (sim.analysis.conflicts), which targets the simulated sets cannot meet together.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

from sim.analysis import emulator, waves
from sim.analysis.calibration import load_targets
from sim.analysis.conflicts import conflicts
from sim.analysis.screening import screening

JOINT_FIT_SHARE = 0.5
IDENTIFIED_RATIO = 0.5
IDENTIFIED_SHARE = 2 / 3
COVERAGE_BAND = (0.80, 0.95)
MIN_ESS = 30  # effective sets below which a posterior's intervals say nothing about identification


def row_sample_size(row: dict, ident: dict) -> float:
    """The effective sample a parameter's interval in checks.json's identification comes from: stage
    one's own for a stage-one parameter (the cut, sim.analysis.posterior), the stage-two weights' else."""
    if str(row.get("stage")) == "1" and "stage_one_effective_sample_size" in ident:
        return ident["stage_one_effective_sample_size"]
    return ident["effective_sample_size"]


def identified_names(ident: dict) -> set[str]:
    """The parameters identified, recomputed from checks.json's identification rows (the recorded flag
    is not trusted): width ratio under IDENTIFIED_RATIO from a sample of at least MIN_ESS effective sets."""
    return {r["name"] for r in ident["rows"] if row_sample_size(r, ident) >= MIN_ESS and r["ratio"] < IDENTIFIED_RATIO}


def joint_fit_share(distances: np.ndarray, n_targets: int) -> float:
    return float(np.mean(distances < stats.chi2.ppf(0.95, n_targets)))


def predictive(table, sample, w: np.ndarray, draws: int, seed: int, workers: int):
    """Model values of every target (checks included) over `draws` posterior draws at fresh seeds."""
    all_targets, _, _ = load_targets()
    rng = np.random.default_rng([seed, 99])
    pick = rng.choice(len(w), size=draws, p=w)
    # the cut (sim.analysis.posterior): stage one's parameters from stage one's own sample, as ensembles draw them
    rows = rng.choice(len(table.stage_one_weights), size=draws, p=table.stage_one_weights)
    values = table.values_of(sample.u[pick], rows)
    seeds = [int(s) for s in rng.integers(2**31, 2**32 - 1, size=draws)]
    return all_targets, simulate_sets(table, values, seeds, all_targets, workers)


def simulate_sets(table, values: list[dict], seeds: list[int], targets, workers: int) -> dict[str, np.ndarray]:
    """{target id: model value per set}: parameter sets (natural scale, stage-one parameters included)
    through `targets`' scenarios at the table's agents and base config, split over `workers`."""
    params = table.fitted + table.stage_one_parameters
    size = -(-len(values) // workers)
    jobs = [(values[i : i + size], seeds[i : i + size], targets, table.nuisance, params, table.agents, table.base)
            for i in range(0, len(values), size)]  # fmt: skip
    with ProcessPoolExecutor(max_workers=workers) as pool:
        outputs = [o for r in pool.map(waves._simulate_chunk, jobs) for o in r["outputs"]]
    return {x.id: np.array([o[x.id] for o in outputs]) for x in targets}


def calibration_checks(table, t: dict, emulators, sample, seed_sd: np.ndarray, args) -> dict:
    """Every check of the posterior `sample` (an emulated cloud, sim.analysis.emulator.Cloud) fitted
    with `emulators` to the reference table `t`."""
    w = sample.weights(table.targets, emulators.error_sd)
    all_targets, values = predictive(table, sample, w, args.predictive_draws, args.seed, args.workers)
    sd = dict(zip([x.id for x in table.targets], seed_sd, strict=True))
    distance_ids = [x.id for x in table.targets]
    z = {x.id: x.z_score_array(values[x.id], sd.get(x.id, 0.0)) for x in all_targets}
    distances = np.sum([z[i] ** 2 for i in distance_ids], axis=0)
    share = joint_fit_share(distances, len(distance_ids))

    # identification, on the sampling scale, for every inferred parameter
    rows = []
    ess = float(1.0 / np.sum((w / w.sum()) ** 2))
    assessable = ess >= MIN_ESS
    one_ess = float(1.0 / np.sum(table.stage_one_weights**2))
    # stage two's parameters from the emulated cloud; stage one's from its own sample (the cut)
    one = table.stage_one_parameters
    samples = [(sample.u[:, j], w) for j in range(len(table.fitted))]
    w1 = table.stage_one_weights
    samples += [(waves.to_sampling(p, table.stage_one_values[:, j]), w1) for j, p in enumerate(one)]
    bounds = np.vstack([table.bounds, waves.box(one)])
    for j, p in enumerate(table.fitted + one):
        lo, hi = waves.weighted_interval(*samples[j])
        prior_width = 0.9 * (bounds[j, 1] - bounds[j, 0])
        ratio = (hi - lo) / prior_width
        rows.append({
            "name": p["name"], "stage": p.get("stage", 2), "ratio": float(ratio),
            "posterior_90": [float(waves.to_natural(p, lo)), float(waves.to_natural(p, hi))],
            "prior": p["prior"],
        })  # fmt: skip
    sizes = {"effective_sample_size": ess, "stage_one_effective_sample_size": one_ess}
    pinned = identified_names({**sizes, "rows": rows})  # the one rule, as the report and the brief apply it
    for r in rows:
        r["identified"] = r["name"] in pinned
    identified = sum(r["identified"] for r in rows)

    covered, recovery_ess = emulator.recovery(emulators, sample, t, args.recovery_truths,
                                              np.random.default_rng([args.seed, 7]), args.recovery_cloud,
                                              args.recovery_rounds)  # fmt: skip
    coverage = float(covered.mean())
    return {
        "joint_fit": {
            "share": share, "passes": share >= JOINT_FIT_SHARE, "draws": int(len(distances)),
            "threshold": float(stats.chi2.ppf(0.95, len(distance_ids))), "targets": distance_ids,
            "distances": distances.tolist(),
        },
        "z_scores": {i: {"median": float(np.median(v)), "q10": float(np.quantile(v, 0.1)),
                         "q90": float(np.quantile(v, 0.9))} for i, v in z.items()},
        "predictive": {i: v.tolist() for i, v in values.items()},
        "identification": {
            "inferred": len(rows), "identified": int(identified), "effective_sample_size": ess,
            "stage_one_effective_sample_size": one_ess,
            "assessable": assessable, "passes": assessable and identified >= IDENTIFIED_SHARE * len(rows),
            "rows": rows,
        },
        "screening": screening(table, t, seed_sd),
        "conflicts": conflicts(table, t, seed_sd),
        "recovery": {
            "truths": int(covered.shape[0]), "coverage": coverage,
            "passes": COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1],
            "per_parameter": {p["name"]: float(c) for p, c in zip(table.fitted, covered.mean(axis=0), strict=True)},
            "rounds": args.recovery_rounds, "sets_per_round": args.recovery_cloud,
            "effective_sample_size": {"median": float(np.median(recovery_ess)), "min": float(recovery_ess.min())},
        },
    }  # fmt: skip
