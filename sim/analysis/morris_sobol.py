"""The sensitivity analysis (conf/calibration/sensitivity.yaml): Morris screening of every uncertain
parameter, then Sobol indices of the most influential, then the population draw's noise on them.

Every run uses the same seed (common random numbers), so output differences are the parameters'
effect; `seed_noise` measures what another seed's population would change. The designs run through
`sim.analysis.design_runner.run_design` (chunks, a resumable store, joblib or Ray).
`experiments/sensitivity.py` is the command line, and writes the tables and the report.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from sim.analysis.design_runner import run_design
from sim.analysis.sensitivity import NOISE_SEEDS, NOISE_SETS, output_names, seed_noise


def analyse(spec: dict, bases: dict, agents: int, trajectories: int, sobol_n: int, top: int, seed: int,
            jobs: int = -1, backend: str = "loky", store=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:  # fmt: skip
    """Morris indices of every parameter of `spec` (ranges as given there), Sobol indices of the
    `top` most influential on any output, and what the analysis was (sizes, run time, seed noise).
    `bases`: the shipped config per policy of the spec, as plain dicts."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    parameters = spec["parameters"]
    names = [p["name"] for p in parameters]
    outputs = output_names(spec)
    designs = []  # per design run: its sets, those this invocation ran (the rest came from the store), its timing

    def design(stage, X_, parameters_, seed_):
        Y_, ran, timed = run_design(stage, X_, [p["name"] for p in parameters_], parameters_, bases, spec, agents,
                                    seed_, jobs, backend, store)  # fmt: skip
        designs.append({"sets": len(X_), "ran": ran, "timed": timed})
        return Y_

    print(f"Morris: {len(names)} parameters, {trajectories} trajectories", file=sys.stderr)
    problem = {"num_vars": len(names), "names": names, "bounds": [p["bounds"] for p in parameters]}
    X = morris_sample.sample(problem, N=trajectories, num_levels=4, seed=seed)
    Y = design("morris", X, parameters, seed)
    rows = []
    for k, output in enumerate(outputs):
        res = morris_analyze.analyze(problem, X, Y[:, k], num_levels=4, seed=seed)
        for i, name in enumerate(names):
            rows.append({"output": output, "parameter": name, "mu_star": res["mu_star"][i], "sigma": res["sigma"][i],
                         "mu_star_conf": res["mu_star_conf"][i]})  # fmt: skip
    morris = pd.DataFrame(rows)
    relative = morris.assign(rel=morris.mu_star / morris.groupby("output").mu_star.transform("max").replace(0, 1))
    # The most influential on any output (not on average): a parameter that drives only the face
    # images must reach the Sobol stage too.
    chosen_names = relative.groupby("parameter").rel.max().sort_values(ascending=False).head(top).index.tolist()

    print(f"Sobol over {chosen_names}, N={sobol_n}", file=sys.stderr)
    chosen = [p for p in parameters if p["name"] in chosen_names]
    problem2 = {"num_vars": len(chosen), "names": [p["name"] for p in chosen], "bounds": [p["bounds"] for p in chosen]}
    X2 = sobol_sample.sample(problem2, sobol_n, calc_second_order=False, seed=seed)
    Y2 = design("sobol", X2, chosen, seed)

    def other_seed(X_, offset):
        return design(f"noise-seed{seed + offset}", X_, chosen, seed + offset)

    print(f"Seed noise: {min(NOISE_SETS, sobol_n)} sets under {NOISE_SEEDS} other seeds", file=sys.stderr)
    noise = dict(zip(outputs, seed_noise(X2, Y2, len(chosen), other_seed), strict=True))
    rows = []
    for k, output in enumerate(outputs):
        if np.ptp(Y2[:, k]) == 0:  # an output the parameters do not move (e.g. nothing enrolled)
            continue
        # SALib's Sobol analysis ignores a seed of 0 (`if seed:`) and bootstraps from numpy's global
        # state, so the confidence intervals would differ between identical runs: never pass it 0
        res = sobol_analyze.analyze(problem2, Y2[:, k], calc_second_order=False, seed=seed + 1)
        for i, name in enumerate(problem2["names"]):
            rows.append({"output": output, "parameter": name, "S1": res["S1"][i], "S1_conf": res["S1_conf"][i],
                         "ST": res["ST"][i], "ST_conf": res["ST_conf"][i], "seed_noise": noise[output]})  # fmt: skip
    sobol = pd.DataFrame(rows)
    meta = {
        "agents": agents,
        "seed": seed,
        "n_parameters": len(names),
        "morris_trajectories": trajectories,
        "morris_runs": int(len(X)),
        "sobol_n": sobol_n,
        "sobol_runs": int(len(X2)),
        "sobol_parameters": chosen_names,
        "policies": spec["policies"],
        "ranges": {p["name"]: [float(b) for b in p["bounds"]] for p in parameters},
        "max_st_conf": float(sobol["ST_conf"].max()) if len(sobol) else None,
        "seed_noise": {o: (None if np.isnan(v) else round(float(v), 4)) for o, v in noise.items()},
        "seed_noise_sets": min(NOISE_SETS, sobol_n),
        "seed_noise_seeds": NOISE_SEEDS,
        "sets_run": int(sum(d["ran"] for d in designs)),  # by this invocation; the rest came from the store
        "sets_total": int(sum(d["sets"] for d in designs)),
        # the designs' wall time over every invocation that ran them (timed per stored chunk)
        "run_time": {
            "sets_timed": int(sum(d["timed"]["sets"] for d in designs)),
            "wall_seconds": round(sum(d["timed"]["wall_s"] for d in designs), 1),
            "jobs": sorted({j for d in designs for j in d["timed"]["jobs"]}),
        },
    }
    return morris, sobol, meta
