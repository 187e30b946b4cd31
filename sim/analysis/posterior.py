"""The calibrated posterior as data: one home for its file format, its draws and its median.

Files (written by `experiments/calibrate.py`, shipped in the package):

* `sim/data/calibration/posterior.csv`: one row per weighted parameter set; a `weight` column
  (non-negative, summing to 1) and one column per parameter name (then, from experiments/calibrate.py,
  `cloud_log_weight`: the set's log weight in the emulated cloud it was resampled from, which no
  draw reads and tests/test_calibration.py recomputes).
* `sim/data/calibration/posterior.json`: the fit's provenance, `parameters`: a list of
  `{name, keys, prior, reason}` saying which config keys each value is written to (as in
  conf/calibration/targets.yaml), `nuisance`: the names of scenario-only parameters,
  `most_probable`: the shipped defaults (one simulated set whole, chosen among the heaviest by fresh
  runs, with `most_probable_check`: experiments/calibrate.py `_most_probable`), and
  `csv_sha256` and `csv_rows`: posterior.csv's hash and rows as written, so that a cut or edited
  sample is refused, never used (`load_posterior` checks every part; docs/RELIABILITY.md).
* `sim/data/calibration/stage_one.csv` (when posterior.json has `stage_one`): stage one's own
  weighted sample of its parameters (`weight` and one column per name in `stage_one.parameters`),
  its hash and rows recorded in `stage_one` as for posterior.csv.

Beside them, `checks.json` holds the calibration's checks (sim.analysis.checks: the joint fit's
distances, every target's model values over posterior predictive draws and their z-scores,
identification, recovery), written by experiments/calibrate.py with the posterior; the report
(experiments/calibration_report.py) and the brief read it.

A draw of the stage-two parameters is a full row of posterior.csv, never a mix of marginals: the
posterior's correlations (e.g. "rarely aware, easy to act" against "widely aware, hard to act") are
kept. The stage-one parameters (the prompt answers, a hidden layer's difficulty) are drawn from
stage one's own sample, independently: a *cut* (modular) posterior (Plummer 2015, "Cuts in
Bayesian graphical models"; Jacob et al. 2017). Stage one's likelihood pins them with an effective
sample in the hundreds; each stage-two row carries the one stage-one draw it was simulated with,
and with the stage-two weights' far smaller effective sample those few rows are not the evidence
about stage one's parameters but whichever draws the few best-fitting sets happened to carry.
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
CHECKS_FILE = "checks.json"  # the calibration's checks (sim.analysis.checks, experiments/calibrate.py)
# Recorded in posterior.json when posterior.csv is written: a cut or edited sample is refused.
CSV_HASH_KEY, CSV_ROWS_KEY = "csv_sha256", "csv_rows"
STAGE_ONE_FILE, STAGE_ONE_KEY = "stage_one.csv", "stage_one"  # stage one's own sample (the cut), and its record


@dataclass(frozen=True)
class Posterior:
    parameters: list[dict]  # {name, keys, prior}
    values: np.ndarray  # (sets, parameters)
    weights: np.ndarray  # (sets,), sums to 1
    provenance: dict
    stage_one_names: tuple[str, ...] = ()  # parameters drawn from stage one's own sample (the cut)
    stage_one_values: np.ndarray | None = None  # (stage-one sets, stage_one_names)
    stage_one_weights: np.ndarray | None = None  # (stage-one sets,), sums to 1

    @property
    def names(self) -> list[str]:
        return [p["name"] for p in self.parameters]

    def marginal(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """One parameter's weighted sample (values, weights): stage one's own for a stage-one parameter."""
        if name in self.stage_one_names:
            return self.stage_one_values[:, self.stage_one_names.index(name)], self.stage_one_weights
        return self.values[:, self.names.index(name)], self.weights

    def median(self) -> dict[str, float]:
        """Weighted median of each parameter's marginal."""
        return {name: weighted_quantile(*self.marginal(name), 0.5) for name in self.names}

    def effective_sample_size(self) -> float:
        return effective_sample_size(self.weights)

    def draws(self, n: int, seed: int = 0) -> list[dict[str, float]]:
        """`n` parameter sets: rows of posterior.csv resampled by weight, their stage-one parameters
        replaced by stage one's own sample resampled the same way on a stream of its own (the cut of
        the module docstring). Fixed by `n` and `seed`."""
        if n <= 0:
            return []
        rows = systematic(self.weights, n, seed, stream=0)
        out = [dict(zip(self.names, map(float, self.values[i]), strict=True)) for i in rows]
        if self.stage_one_names:
            for values, i in zip(out, systematic(self.stage_one_weights, n, seed, stream=1), strict=True):
                values.update(zip(self.stage_one_names, map(float, self.stage_one_values[i]), strict=True))
        return out

    @property
    def shipped_parameters(self) -> list[dict]:
        """The parameters a run takes: scenario-only (nuisance) ones apply to their calibration scenario only."""
        nuisance = set(self.provenance.get("nuisance", []))
        return [p for p in self.parameters if p["name"] not in nuisance]

    def overrides(self, values: dict[str, float]) -> dict[str, float]:
        """Dotted config keys and their values for one parameter set (scenario-only parameters left out)."""
        return {key: values[p["name"]] for p in self.shipped_parameters for key in p["keys"]}


def systematic(weights: np.ndarray, n: int, seed: int, stream: int) -> np.ndarray:
    """`n` row indices resampled by weight (systematic resampling, then shuffled so that draw k is
    not sorted by row); `stream` keeps stage one's draws independent of stage two's (0 and 1 here;
    experiments/calibrate.py resamples the emulated cloud on 2)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x505354, stream)))
    positions = (rng.random() + np.arange(n)) / n
    rows = np.searchsorted(np.cumsum(weights), positions, side="right").clip(0, len(weights) - 1)
    return rows[rng.permutation(n)]


def posterior_sha256(directory: Path = POSTERIOR_DIR) -> str:
    """The identity of a posterior: the hash of its weighted samples (posterior.csv, then stage_one.csv
    where there is one)."""
    parts = [Path(directory) / name for name in ("posterior.csv", STAGE_ONE_FILE)]
    return hashlib.sha256(b"".join(p.read_bytes() for p in parts if p.exists())).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def effective_sample_size(weights) -> float:
    """Kish's effective sample size: what a weighted sample is worth in independent draws (all
    weights equal: its size; one weight dominating: about 1)."""
    w = np.asarray(weights, float) / np.sum(weights)
    return float(1.0 / np.sum(w**2))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, q * cw[-1])])


class PosteriorError(ValueError):
    """A posterior that cannot be used: the message names the file, the value and what is allowed."""


class NoPosterior(PosteriorError, FileNotFoundError):
    """No posterior where one was asked for."""


def load_posterior(directory: Path = POSTERIOR_DIR) -> Posterior:
    """The posterior of a folder, every part checked: both files there and whole (posterior.csv's
    hash and row count as posterior.json records them), each parameter named and mapped to keys,
    every value finite and inside its prior, the weights non-negative and not all zero."""
    directory = Path(directory)
    csv, meta = directory / "posterior.csv", directory / "posterior.json"
    if not directory.is_dir():
        what = "a file, not a folder" if directory.exists() else "no such folder"
        raise NoPosterior(f"{directory}: {what} (a posterior is a folder of posterior.csv and posterior.json, "
                          "written by experiments/calibrate.py)")  # fmt: skip
    missing = [p.name for p in (csv, meta) if not p.exists()]
    if missing:
        raise NoPosterior(f"no posterior in {directory}: {' and '.join(missing)} missing "
                          "(posterior.csv and posterior.json): run experiments/calibrate.py")  # fmt: skip
    provenance = _read_provenance(meta)
    parameters = provenance["parameters"]
    values, weights = _read_sample(csv, meta, provenance, parameters)
    cut = provenance.get(STAGE_ONE_KEY)
    if cut is None:
        return Posterior(parameters, values, weights, provenance)
    by_name = {p["name"]: p for p in parameters}
    if not isinstance(cut, dict) or not cut.get("parameters") or set(cut["parameters"]) - set(by_name):
        raise PosteriorError(f"{meta}: `{STAGE_ONE_KEY}` must name some of the parameters ({', '.join(by_name)})")
    names = tuple(cut["parameters"])
    one_values, one_weights = _read_sample(directory / STAGE_ONE_FILE, meta, cut, [by_name[n] for n in names])
    return Posterior(parameters, values, weights, provenance, names, one_values, one_weights)


def _read_sample(csv: Path, meta: Path, record: dict, parameters: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """A weighted sample's values and normalised weights, checked whole against its `record` (hash
    and rows, as written) and every value against its parameter's prior."""
    if not csv.exists():
        raise NoPosterior(f"{csv} missing: {meta.name} describes it; restore it or rerun experiments/calibrate.py")
    _check_whole(csv, meta, record)
    try:
        table = pd.read_csv(csv)
    except (ValueError, UnicodeDecodeError) as why:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise PosteriorError(f"{csv}: not a readable table ({why})") from None
    names = [p["name"] for p in parameters]
    missing = [n for n in ["weight", *names] if n not in table.columns]
    if missing:
        raise PosteriorError(f"{csv}: columns {missing} missing ({meta.name}'s parameters need "
                             f"weight, {', '.join(names)})")  # fmt: skip
    _check_values(csv, table, parameters)
    weights = table["weight"].to_numpy(float)
    return table[names].to_numpy(float), weights / weights.sum()


def _read_provenance(meta: Path) -> dict:
    try:
        provenance = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as why:
        raise PosteriorError(f"{meta}: not valid JSON ({why}): the file is cut or damaged; restore it or "
                             "rerun experiments/calibrate.py") from None  # fmt: skip
    parameters = provenance.get("parameters") if isinstance(provenance, dict) else None
    if not isinstance(parameters, list) or not parameters:
        raise PosteriorError(f"{meta}: no `parameters` list (each {{name, keys, prior}}): not a posterior's file")
    for i, p in enumerate(parameters):
        bad = [k for k in ("name", "keys") if not isinstance(p, dict) or not p.get(k)]
        if bad or not isinstance(p["keys"], list) or not all(isinstance(k, str) for k in p["keys"]):
            raise PosteriorError(f"{meta}: parameters[{i}] = {p!r}: needs a name and keys, a list of dotted "
                                 "config keys (e.g. friction.try_prob)")  # fmt: skip
    return provenance


def _check_whole(csv: Path, meta: Path, record: dict) -> None:
    """A sample file as it was written: its hash (and row count) as its record in posterior.json says."""
    recorded = record.get(CSV_HASH_KEY)
    if recorded is not None and _sha256(csv) != recorded:
        rows = record.get(CSV_ROWS_KEY)
        lines = max(csv.read_bytes().count(b"\n") - 1, 0)
        size = f" ({lines} rows where {rows} were written)" if rows is not None and rows != lines else ""
        raise PosteriorError(f"{csv} is not the file {meta.name} describes: its SHA-256 differs from "
                             f"{CSV_HASH_KEY} {recorded[:12]}...{size}; it was cut or edited: restore it, or "
                             "rerun experiments/calibrate.py")  # fmt: skip


def _check_values(csv: Path, table: pd.DataFrame, parameters: list[dict]) -> None:
    weights = pd.to_numeric(table["weight"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        raise PosteriorError(f"{csv}: weight = {_cell(table['weight'].iloc[bad[0]])} in row {bad[0] + 1}: weights "
                             "must be finite and non-negative")  # fmt: skip
    if weights.sum() <= 0:
        raise PosteriorError(f"{csv}: all {len(weights)} weights are 0: at least one must be positive")
    for p in parameters:
        values = pd.to_numeric(table[p["name"]], errors="coerce").to_numpy(float)
        low, high = _support(p.get("prior"))
        bad = np.flatnonzero(~np.isfinite(values) | (values < low) | (values > high))
        if len(bad):
            shown = _cell(table[p["name"]].iloc[bad[0]])
            where = f"inside its prior [{low:g}, {high:g}]" if np.isfinite([low, high]).all() else "a finite number"
            raise PosteriorError(f"{csv}: {p['name']} = {shown} in row {bad[0] + 1} ({len(bad)} row(s) like "
                                 f"it): must be {where}; a cut file leaves empty cells")  # fmt: skip


def _cell(value) -> str:
    """A table cell as the user would write it (nan, 1.5, 'x'), not as numpy shows it."""
    return repr(value.item() if hasattr(value, "item") else value)


def _support(prior) -> tuple[float, float]:
    """The range a parameter's prior allows (`{uniform: [low, high]}` or `{loguniform: [...]}`)."""
    if isinstance(prior, dict) and len(prior) == 1:
        ((kind, bounds),) = prior.items()
        if kind in ("uniform", "loguniform") and isinstance(bounds, list) and len(bounds) == 2:
            return float(bounds[0]), float(bounds[1])
    return -np.inf, np.inf


def check_keys(post: Posterior, raw: dict, directory: Path) -> None:
    """Every key a shipped parameter is written to exists in the run's config (a misspelt key in
    posterior.json would otherwise be refused as a key the user never set)."""
    from sim.core.compose import get_key

    absent = object()
    for p in post.shipped_parameters:
        for key in p["keys"]:
            if get_key(raw, key, default=absent) is absent:
                raise PosteriorError(f"{Path(directory) / 'posterior.json'}: parameter {p['name']} is written to "
                                     f"{key!r}, which is not a key of the config (see conf/)")  # fmt: skip


def write_posterior(directory: Path, parameters: list[dict], values: np.ndarray, weights: np.ndarray, provenance: dict,
                    stage_one: tuple[list[str], np.ndarray, np.ndarray] | None = None,
                    extra: dict[str, np.ndarray] | None = None):  # fmt: skip
    """Write the files atomically (see the module docstring for their format); `stage_one`: the
    names, values and weights of stage one's own sample, drawn from for those parameters (the cut);
    `extra`: further columns of posterior.csv, after the parameters (read by no draw)."""
    from sim.core.files import write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = _write_sample(directory / "posterior.csv", [p["name"] for p in parameters], values, weights, extra)
    extra = {}
    if stage_one is not None:
        names, one_values, one_weights = stage_one
        record_one = _write_sample(directory / STAGE_ONE_FILE, names, one_values, one_weights)
        extra[STAGE_ONE_KEY] = {"parameters": list(names), **record_one}
    else:
        (directory / STAGE_ONE_FILE).unlink(missing_ok=True)  # a stale sample of another fit must not be read
    write_json(directory / "posterior.json", {**provenance, **record, **extra, "parameters": parameters})


def _write_sample(path: Path, names: list[str], values: np.ndarray, weights: np.ndarray, extra=None) -> dict:
    """A weighted sample as CSV; returns its record (hash and rows)."""
    from sim.core.files import write_text

    table = pd.DataFrame(np.asarray(values, float), columns=list(names))
    table.insert(0, "weight", np.asarray(weights, float) / np.sum(weights))
    for name, column in (extra or {}).items():
        table[name] = np.asarray(column, float)
    text = table.to_csv(index=False, float_format="%.8g")
    write_text(path, text)
    return {CSV_HASH_KEY: hashlib.sha256(text.encode("utf-8")).hexdigest(), CSV_ROWS_KEY: len(table)}
