"""The calibrated posterior as data: one home for its file format, its draws and its median.

Files (written by `experiments/calibrate.py`, shipped in the package):

* `sim/data/calibration/posterior.csv`: one row per weighted parameter set; a `weight` column
  (non-negative, summing to 1) and one column per parameter name.
* `sim/data/calibration/posterior.json`: the fit's provenance, `parameters`: a list of
  `{name, keys, prior, reason}` saying which config keys each value is written to (as in
  conf/calibration/targets.yaml), and `nuisance`: the names of scenario-only parameters.

Beside them, `predictive.json` holds the posterior predictive check: every target's model values over
posterior draws (written by experiments/calibration_report.py; the brief reads it).

A draw is a full parameter set (a row), never a mix of marginals: the posterior's correlations
(e.g. "rarely aware, easy to act" against "widely aware, hard to act") are kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.compose import DATA_DIR

POSTERIOR_DIR = DATA_DIR / "calibration"
PREDICTIVE_FILE = "predictive.json"  # the posterior predictive check (experiments/calibration_report.py)


@dataclass(frozen=True)
class Posterior:
    parameters: list[dict]  # {name, keys, prior}
    values: np.ndarray  # (sets, parameters)
    weights: np.ndarray  # (sets,), sums to 1
    provenance: dict

    @property
    def names(self) -> list[str]:
        return [p["name"] for p in self.parameters]

    def median(self) -> dict[str, float]:
        """Weighted median of each parameter's marginal."""
        return {name: weighted_quantile(self.values[:, j], self.weights, 0.5) for j, name in enumerate(self.names)}

    def effective_sample_size(self) -> float:
        return effective_sample_size(self.weights)

    def draws(self, n: int, seed: int = 0) -> list[dict[str, float]]:
        """`n` parameter sets resampled by weight (systematic resampling: fixed by `n` and `seed`,
        and the first draws of a longer ensemble are not those of a shorter one only by chance)."""
        if n <= 0:
            return []
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x505354,)))
        positions = (rng.random() + np.arange(n)) / n
        rows = np.searchsorted(np.cumsum(self.weights), positions, side="right").clip(0, len(self.weights) - 1)
        rows = rows[rng.permutation(n)]  # systematic resampling orders rows: shuffle so draw k is not sorted
        return [dict(zip(self.names, map(float, self.values[i]), strict=True)) for i in rows]

    @property
    def shipped_parameters(self) -> list[dict]:
        """The parameters a run takes: scenario-only (nuisance) ones apply to their calibration scenario only."""
        nuisance = set(self.provenance.get("nuisance", []))
        return [p for p in self.parameters if p["name"] not in nuisance]

    def overrides(self, values: dict[str, float]) -> dict[str, float]:
        """Dotted config keys and their values for one parameter set (scenario-only parameters left out)."""
        return {key: values[p["name"]] for p in self.shipped_parameters for key in p["keys"]}


def posterior_sha256(directory: Path = POSTERIOR_DIR) -> str:
    """The identity of a posterior: the hash of its weighted sample (posterior.csv)."""
    return hashlib.sha256((Path(directory) / "posterior.csv").read_bytes()).hexdigest()


def effective_sample_size(weights) -> float:
    """Kish's effective sample size: what a weighted sample is worth in independent draws (all
    weights equal: its size; one weight dominating: about 1)."""
    w = np.asarray(weights, float) / np.sum(weights)
    return float(1.0 / np.sum(w**2))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, q * cw[-1])])


def load_posterior(directory: Path = POSTERIOR_DIR) -> Posterior:
    csv, meta = Path(directory) / "posterior.csv", Path(directory) / "posterior.json"
    if not csv.exists() or not meta.exists():
        raise FileNotFoundError(
            f"no posterior in {directory} (posterior.csv and posterior.json): run experiments/calibrate.py"
        )
    provenance = json.loads(meta.read_text(encoding="utf-8"))
    table = pd.read_csv(csv)
    parameters = provenance["parameters"]
    names = [p["name"] for p in parameters]
    missing = [n for n in ["weight", *names] if n not in table.columns]
    if missing:
        raise ValueError(f"{csv}: columns {missing} missing")
    weights = table["weight"].to_numpy(float)
    if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ValueError(f"{csv}: weights must be finite, non-negative and not all zero")
    return Posterior(parameters, table[names].to_numpy(float), weights / weights.sum(), provenance)


def write_posterior(directory: Path, parameters: list[dict], values: np.ndarray, weights: np.ndarray, provenance: dict):
    """Write the two files atomically (see the module docstring for their format)."""
    from sim.core.files import write_json, write_text

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(values, columns=[p["name"] for p in parameters])
    table.insert(0, "weight", np.asarray(weights, float) / np.sum(weights))
    write_text(directory / "posterior.csv", table.to_csv(index=False, float_format="%.8g"))
    write_json(directory / "posterior.json", {**provenance, "parameters": parameters})
