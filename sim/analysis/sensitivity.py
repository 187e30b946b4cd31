"""One run of the sensitivity design: its headline outputs per policy and region group.

In the package (not in experiments/) so that joblib's and Ray's workers import it by name.
"""

from __future__ import annotations

import numpy as np

from sim.core.compose import CONF_DIR, set_key

SPEC_FILE = CONF_DIR / "calibration" / "sensitivity.yaml"
# assumption: a size for measuring the population draw's noise (Saltelli base rows rerun under
# other seeds), not fitted: a correlation of 0.9 over 32 sets has a standard error of about
# (1 - 0.9^2) / sqrt(32 - 3) = 0.035 for one seed, less averaged over 3
NOISE_SETS = 32
NOISE_SEEDS = 3
NOISE_WARN = 0.05  # assumption: above this seed-noise share, the report and briefs call an output's indices rough


def seed_noise(X2, Y2, n_parameters, run) -> np.ndarray:
    """Per output, the share of its spread over parameter sets that another population draw does
    not reproduce: 1 - the mean correlation between the outputs at the design's seed and at
    NOISE_SEEDS other seeds, over the first NOISE_SETS base rows of the Saltelli sample (independent
    draws of the parameters). Every run shares one seed, so a shift or rescaling that a seed applies
    to all sets alike leaves the indices unchanged; only this share can move them, and an index may
    be inflated by up to it. It shrinks with more agents. `run(X, seed_offset)` runs a design."""
    rows = np.arange(0, len(X2), n_parameters + 2)[:NOISE_SETS]  # layout: A, AB_1..AB_k, B per base row
    corr = []
    for offset in range(1, NOISE_SEEDS + 1):
        other = run(X2[rows], offset)
        with np.errstate(invalid="ignore", divide="ignore"):  # an output constant over the sets: no share
            corr.append([np.corrcoef(Y2[rows, k], other[:, k])[0, 1] for k in range(Y2.shape[1])])
    return 1 - np.mean(corr, axis=0)


def load_spec(path=SPEC_FILE) -> dict:
    """The sensitivity design; its region groups must name known regions, and a region in no
    group (one added to the regions file, say) is reported, not silently left out."""
    import warnings

    import yaml

    from sim.model.regions import REGION_CODES

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    grouped = [code for codes in spec.get("region_groups", {}).values() for code in codes]
    unknown = sorted(set(grouped) - set(REGION_CODES))
    if unknown:
        raise ValueError(f"{path}: region_groups name unknown region(s) {unknown}; known: {list(REGION_CODES)}")
    left_out = [c for c in REGION_CODES if c not in grouped and c not in spec.get("regions_left_out", [])]
    if left_out:
        warnings.warn(f"{path}: region(s) {left_out} are in no region group of the sensitivity design", stacklevel=2)
    return spec


def run_outputs(
    bases: dict, parameters: list[dict], sets: list[dict], spec: dict, agents: int, seed: int
) -> list[list[float]]:
    """For each parameter set of `sets`, the headline outputs at the horizon, per policy, region
    group and output (in spec order). All the sets' runs go to `simulate_many` together (batches)."""
    from sim.analysis.calibration import OUTPUT_REGIONS, with_values
    from sim.model.batch import simulate_many
    from sim.model.config import validate_config
    from sim.model.metrics import COUNT_METRICS, INDEX

    configs = []
    for values in sets:
        for policy in spec["policies"]:
            raw = with_values(bases[policy], parameters, values)
            set_key(raw, "population.agents", agents)
            set_key(raw, "seed", seed)
            configs.append(validate_config(raw))
    out = []
    for records in simulate_many(configs):
        last = records[-1]
        for regions in spec["region_groups"].values():
            rows = [OUTPUT_REGIONS.index(r) for r in regions]
            eligible = last[rows, INDEX["eligible_members"]]
            for metric in spec["outputs"]:
                v = last[rows, INDEX[metric]]
                out.append(float(v.sum() if metric in COUNT_METRICS else np.average(v, weights=eligible)))
    per_set = len(out) // max(len(sets), 1)
    return [out[i * per_set : (i + 1) * per_set] for i in range(len(sets))]


def run_chunk(index: int, bases: dict, parameters: list[dict], sets: list[dict], spec: dict, agents: int, seed: int):
    """`run_outputs` of one chunk of a design, tagged with the chunk's index (chunks come back in
    the order they finish, and each is stored as it does, so an interrupted design resumes)."""
    return index, run_outputs(bases, parameters, sets, spec, agents, seed)


def posterior_record(posterior) -> dict:
    """Which posterior a sensitivity analysis's ranges came from (its posterior.csv's hash and fit date),
    recorded in sensitivity.json so that a brief can tell an analysis over an earlier fit."""
    return {"csv_sha256": posterior.provenance["csv_sha256"], "date": posterior.provenance.get("date")}


def posterior_ranges(parameters: list[dict], posterior, low: float = 0.01, high: float = 0.99) -> list[str]:
    """Replace each parameter's hand-set range by its posterior's weighted 1-99% range where the
    calibration infers it (matched by name); return the names whose range now comes from the posterior."""
    from sim.analysis.posterior import weighted_quantile

    names, done = posterior.names, []
    for p in parameters:
        if p["name"] in names:
            x, w = posterior.marginal(p["name"])
            p["bounds"] = [weighted_quantile(x, w, low), weighted_quantile(x, w, high)]
            p["range_from"] = "posterior"
            done.append(p["name"])
        else:
            p["range_from"] = "conf/calibration/sensitivity.yaml (not calibrated)"
    return done


def output_names(spec: dict) -> list[str]:
    return [f"{p}/{g}/{m}" for p in spec["policies"] for g in spec["region_groups"] for m in spec["outputs"]]
