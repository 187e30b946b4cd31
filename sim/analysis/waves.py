"""Stage two of the calibration's reference table: adaptive importance sampling in waves, and the
table's own importance-weighted ABC posterior, which fits each wave's proposal (the shipped
posterior is the emulated one built on this table: sim.analysis.emulator).

Every parameter set is simulated once, at a seed of its own, through every stage-two scenario
(`sim.analysis.calibration.evaluate_many`: one batch per chunk). The sets and their model values
are the reference table, kept chunk by chunk in `store` (one `.npz` per chunk, written atomically),
so an interrupted fit resumes where it stopped and a finished chunk is never run twice.

Waves (adaptive importance sampling with tempering: Cornuet et al. 2012's AMIS, whose deterministic
mixture it keeps, with the adaptive tempering of Del Moral, Doucet & Jasra 2012):
- wave 1 draws from the prior; the stage-one parameters from stage one's weighted sample;
- each later wave draws from a Gaussian fitted to every set so far, weighted as the posterior
  below but with its kernel raised to 1/T: T >= 1 the least temperature that leaves `TEMPER_ESS`
  effective sets (so the Gaussian is estimated from dozens of sets, not from the few that
  carry the posterior's weight), on the sampling scale (the log of a log-uniform parameter),
  covariance inflated by `INFLATE`, truncated to the prior's box and mixed with the prior
  (`DEFENSIVE`) so no region the prior allows is shut for good. As the table grows T falls toward
  1, where the proposal is the posterior itself: importance sampling is then efficient. (Before
  2026-12-02 the proposal was fitted to history matching's not-implausible sets, every target within
  3 errors, a region far wider than the posterior in every direction a target pins: a proposal
  twice as wide as the posterior in ten directions keeps about 1% of its sets effective.)
- a set is *implausible* (history matching's measure, Vernon et al. 2010, reported, not used to
  draw) when a target misses by more than 3 standard deviations,
  I_t = |model_t - value_t| / sqrt(tolerance_t^2 + seed_sd_t^2) > 3 (Pukelsheim's three-sigma
  rule; seed_sd_t is the model's own noise at the fit's agent count, measured once).

The table's own posterior is every set of the table, weighted by
    w = prior(theta) / q(theta) x exp(-1/2 sum_t (model_t - value_t)^2 / (tolerance_t^2 + seed_sd_t^2)),
q the deterministic mixture of the waves' proposals (Owen & Zhou 2000): ABC with a Gaussian kernel
of each target's measurement error (Wilkinson 2013) and of the simulator's own noise. A set is
simulated once at the fit's agent count, so its output is the model's value plus a seed-to-seed
noise that a population of millions would not have; that noise is the variance of an estimate of
the model, as an emulator's is in history matching, and the kernel carries it as the implausibility
and the joint-fit distance do. Without it, a few sets whose one noisy run happened to land on the
targets carry nearly all the weight (an effective sample of 3.5 from 2,400 sets on 2026-12-02);
with it they still did (1.3 from 4,000 on 2026-12-03), which is why the shipped posterior is
emulated: an emulator averages the seed noise over neighbouring sets instead.
A one-sided target counts only on its wrong side.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from sim.analysis.calibration import Target, evaluate_many, shipped_raw, with_values
from sim.analysis.priors import prior_support

IMPLAUSIBLE = 3.0  # standard deviations
INFLATE = 1.2  # a later wave's proposal covariance, over its tempered weighted sample's covariance
DEFENSIVE = 0.1  # share of each later wave drawn from the prior
# effective sets a later wave's proposal is fitted to: of 30, 60 and 200, 60 gave the largest final
# effective sample on a synthetic linear case of 16 parameters and 12 targets (6 waves of 400, 4 seeds)
TEMPER_ESS = 60


def log_scale(p: dict) -> bool:
    return "loguniform" in p["prior"]


def to_sampling(p: dict, x):
    return np.log(x) if log_scale(p) else np.asarray(x, float)


def to_natural(p: dict, u):
    return np.exp(u) if log_scale(p) else np.asarray(u, float)


def box(parameters: list[dict]) -> np.ndarray:
    """[parameter, (low, high)] on the sampling scale."""
    return np.array([to_sampling(p, np.array(prior_support(p["prior"]))) for p in parameters])


@dataclass
class Proposal:
    """A wave's proposal on the sampling scale: the prior's box (mean None) or a truncated Gaussian
    mixed with it."""

    bounds: np.ndarray
    mean: np.ndarray | None = None
    cov: np.ndarray | None = None
    _inside: float | None = field(default=None, repr=False, compare=False)  # the Gaussian's mass in the box

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        uniform = lo + (hi - lo) * rng.random((n, len(lo)))
        if self.mean is None:
            return uniform
        out = uniform.copy()
        gaussian = rng.random(n) >= DEFENSIVE
        need = int(gaussian.sum())
        got = np.empty((0, len(lo)))
        while len(got) < need:
            x = rng.multivariate_normal(self.mean, self.cov, size=4 * need + 16)
            got = np.vstack([got, x[np.all((x >= lo) & (x <= hi), axis=1)]])
        out[gaussian] = got[:need]
        return out

    def log_density(self, u: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        log_uniform = -np.sum(np.log(hi - lo))
        if self.mean is None:
            return np.full(len(u), log_uniform)
        mvn = stats.multivariate_normal(self.mean, self.cov, allow_singular=True)
        if self._inside is None:  # computed once: the recovery check asks for the density a hundred times
            self._inside = self._inside_mass(mvn)
        gaussian = mvn.logpdf(u) - np.log(self._inside)
        return np.logaddexp(np.log(DEFENSIVE) + log_uniform, np.log1p(-DEFENSIVE) + gaussian)

    def _inside_mass(self, mvn, n: int = 200_000) -> float:
        """The Gaussian's mass inside the box (Monte Carlo at a fixed seed: the same every time)."""
        x = mvn.rvs(size=n, random_state=np.random.default_rng(12345))
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        return max(float(np.mean(np.all((x >= lo) & (x <= hi), axis=1))), 1.0 / n)

    @classmethod
    def from_json(cls, bounds: np.ndarray, kept: dict) -> Proposal:
        if kept["mean"] is None:
            return cls(bounds)
        return cls(bounds, np.array(kept["mean"]), np.array(kept["cov"]))

    def to_json(self) -> dict:
        return {
            "mean": None if self.mean is None else self.mean.tolist(),
            "cov": None if self.cov is None else self.cov.tolist(),
        }


def _simulate_chunk(args) -> dict:
    """A chunk of parameter sets through every scenario (in a worker process), from the shipped
    config as the fit composed it when it started (conf/ edited meanwhile changes nothing)."""
    values, seeds, targets, nuisance, parameters, agents, base = args
    # a scenario-only (nuisance) parameter reaches its own scenarios only, through the values
    # (sim.analysis.calibration.scenario_raw); before 2026-12-02 it was written into every scenario's config
    scenario_only = {p["name"] for p in nuisance}
    shared = [p for p in parameters if p["name"] not in scenario_only]
    sets = [(with_values(base, shared, v), seed, v) for v, seed in zip(values, seeds, strict=True)]
    start = time.perf_counter()
    out = evaluate_many(sets, targets, agents, nuisance)
    return {"outputs": out, "seconds": time.perf_counter() - start}


class ReferenceTable:
    """The waves' simulations, chunk by chunk in `store` (resumable)."""

    def __init__(self, store: Path, targets: list[Target], parameters: list[dict], nuisance: list[dict],
                 stage_one: tuple[list[dict], np.ndarray, np.ndarray], agents: int, seed: int,
                 base: dict | None = None):  # fmt: skip
        self.store, self.agents, self.seed = Path(store), agents, seed
        self.base = shipped_raw() if base is None else base
        self.targets = [t for t in targets if t.stage == 2 and not t.check]
        self.fitted = [p for p in parameters if p.get("stage") != 1] + list(nuisance)  # sampled here
        self.nuisance = list(nuisance)
        self.stage_one_parameters, self.stage_one_values, self.stage_one_weights = stage_one
        self.bounds = box(self.fitted)
        self.store.mkdir(parents=True, exist_ok=True)

    # ---- the table
    def identity(self) -> str:
        """What the table's simulations depend on: a store made for other targets or priors is refused."""
        spec = {
            "targets": [(t.id, t.scenario, t.measure) for t in self.targets],
            "parameters": [(p["name"], p["keys"], p["prior"]) for p in self.fitted],
            "stage_one": hashlib.sha256(np.ascontiguousarray(self.stage_one_values).tobytes()).hexdigest(),
            "agents": self.agents,
            "seed": self.seed,
            "base": self.base,
            "nuisance": "own scenarios only",  # a table of the fits before this fix is refused
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def check_store(self) -> None:
        mark = self.store / "identity.txt"
        if mark.exists() and mark.read_text().strip() != self.identity():
            raise ValueError(
                f"{self.store} holds a fit of other targets, priors, agents or simulation: remove it or use --store"
            )
        mark.write_text(self.identity() + "\n")

    def chunks(self) -> list[dict]:
        out = []
        for path in sorted(self.store.glob("wave*_chunk*.npz")):
            with np.load(path, allow_pickle=False) as z:
                out.append({k: z[k] for k in z.files})
        return out

    def table(self) -> dict[str, np.ndarray]:
        """Every simulated set: wave, sampling-scale values `u` [set, fitted], stage-one row index,
        model values `y` [set, target], seconds per set."""
        chunks = self.chunks()
        if not chunks:
            raise ValueError(f"{self.store}: no simulations yet")
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}

    # ---- a wave
    def run_wave(self, wave: int, proposal: Proposal, sets: int, chunk: int, workers: int, progress=print) -> None:
        rng = np.random.default_rng([self.seed, wave])
        u = proposal.sample(sets, rng)
        row = rng.choice(len(self.stage_one_weights), size=sets, p=self.stage_one_weights)
        seeds = rng.integers(0, 2**31, size=sets)
        todo = [i for i in range(0, sets, chunk) if not self._chunk_path(wave, i).exists()]
        if not todo:
            return
        jobs = [self._job(u[i : i + chunk], row[i : i + chunk], seeds[i : i + chunk]) for i in todo]
        resumed_at = sets - sum(min(chunk, sets - i) for i in todo)  # sets already in the store
        done, started = resumed_at, time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, result in zip(todo, pool.map(_simulate_chunk, jobs), strict=True):
                y = np.array([[o[t.id] for t in self.targets] for o in result["outputs"]])
                n = len(y)
                self._save(wave, i, u[i : i + n], row[i : i + n], seeds[i : i + n], y, result["seconds"] / n)
                done += n
                rate = (time.perf_counter() - started) / (done - resumed_at)
                progress(f"wave {wave}: {done}/{sets} sets, {rate:.2f} s per set on {workers} workers")

    def values_of(self, u: np.ndarray, rows: np.ndarray) -> list[dict[str, float]]:
        """Parameter values (natural scale) of sampled sets, stage-one parameters included."""
        out = []
        for ui, r in zip(u, rows, strict=True):
            v = {p["name"]: float(to_natural(p, x)) for p, x in zip(self.fitted, ui, strict=True)}
            names = [p["name"] for p in self.stage_one_parameters]
            v.update(dict(zip(names, map(float, self.stage_one_values[r]), strict=True)))
            out.append(v)
        return out

    def _job(self, u, rows, seeds):
        values = self.values_of(u, rows)
        params = self.fitted + self.stage_one_parameters
        return values, [int(s) for s in seeds], self.targets, self.nuisance, params, self.agents, self.base

    def _chunk_path(self, wave: int, start: int) -> Path:
        return self.store / f"wave{wave}_chunk{start:06d}.npz"

    def _save(self, wave, start, u, rows, seeds, y, seconds_per_set) -> None:
        path = self._chunk_path(wave, start)
        tmp = path.with_suffix(".tmp.npz")
        n = len(u)
        np.savez(tmp, wave=np.full(n, wave), u=u, row=rows, seed=seeds, y=y, seconds=np.full(n, seconds_per_set))
        os.replace(tmp, path)


# ---- what the table says
def z_scores(targets: list[Target], y: np.ndarray, seed_sd: np.ndarray | None = None) -> np.ndarray:
    """[set, target] z-scores (`Target.z_score_array`: one-sided targets count on their wrong side
    only; nan counts as a miss)."""
    sd = np.zeros(len(targets)) if seed_sd is None else seed_sd
    return np.column_stack([t.z_score_array(y[:, j], sd[j]) for j, t in enumerate(targets)])


def not_implausible(targets, y, seed_sd) -> np.ndarray:
    return np.max(np.abs(z_scores(targets, y, seed_sd)), axis=1) <= IMPLAUSIBLE


def next_proposal(
    bounds: np.ndarray, u: np.ndarray, waves: np.ndarray, proposals: list[Proposal], targets, y, seed_sd,
    log_ratio: np.ndarray | None = None,
) -> tuple[Proposal, float]:  # fmt: skip
    """The next wave's proposal and its temperature: a Gaussian fitted to the table's importance-weighted
    sets under a tempered kernel, kernel^(1/T) (the module docstring), T >= 1 the least that leaves
    TEMPER_ESS effective sets (half the table's, if fewer), covariance inflated by INFLATE.
    `log_ratio`: the sets' log_importance where already known."""
    if log_ratio is None:
        log_ratio = log_importance(u, waves, proposals, bounds)
    log_kernel = _log_kernel(targets, y, seed_sd)
    beta = _temper(log_ratio, log_kernel, min(TEMPER_ESS, len(u) / 2))
    w = normalised(log_ratio + beta * log_kernel)
    mean = w @ u
    cov = INFLATE * np.cov(u.T, aweights=w) + 1e-9 * np.eye(u.shape[1])
    return Proposal(bounds, mean, cov), 1.0 / beta if beta > 0 else float("inf")


def _temper(log_importance: np.ndarray, log_kernel: np.ndarray, ess: float) -> float:
    """The largest beta = 1/T in [0, 1] whose weights exp(log_importance + beta log_kernel) keep `ess`
    effective sets (bisection: the effective sample falls as beta rises)."""

    def sample_size(beta: float) -> float:
        w = normalised(log_importance + beta * log_kernel)
        return 1.0 / np.sum(w**2)

    if sample_size(1.0) >= ess:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sample_size(mid) >= ess else (lo, mid)
    return lo


def _log_kernel(targets, y, seed_sd) -> np.ndarray:
    return -0.5 * np.sum(z_scores(targets, y, seed_sd) ** 2, axis=1)


def normalised(logw: np.ndarray) -> np.ndarray:
    w = np.exp(logw - np.max(logw))
    return w / w.sum()


def log_importance(u, waves, proposals: list[Proposal], bounds, counts=None, log_density=None) -> np.ndarray:
    """log prior(theta) - log q(theta), q the deterministic mixture of the waves' proposals, each in
    proportion to its sets in the table (`counts`; None: counted from `waves`, the sets' wave numbers).
    `log_density`: each proposal's log density at `u` ([proposal, set]) where it is already known."""
    if counts is None:
        counts = [np.sum(waves == k) for k in range(1, len(proposals) + 1)]
    counts = np.asarray(counts, float)
    if log_density is None:
        log_density = [q.log_density(u) for q in proposals]
    mix = np.logaddexp.reduce(
        [np.log(c / counts.sum()) + d for c, d in zip(counts, log_density, strict=True) if c > 0], axis=0
    )
    return log_prior(bounds, u) - mix


def log_prior(bounds: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The prior's density on the sampling scale (uniform in the box: a log-uniform parameter is
    uniform in its log)."""
    inside = np.all((u >= bounds[:, 0]) & (u <= bounds[:, 1]), axis=1)
    return np.where(inside, -np.sum(np.log(bounds[:, 1] - bounds[:, 0])), -np.inf)


def posterior_weights(targets, y, u, waves, proposals: list[Proposal], bounds, seed_sd=None) -> np.ndarray:
    """The importance weights of the module docstring, normalised (`seed_sd`: per target; None: 0)."""
    return normalised(log_importance(u, waves, proposals, bounds) + _log_kernel(targets, y, seed_sd))


def weighted_interval(x: np.ndarray, w: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    order = np.argsort(x)
    c = np.cumsum(w[order])
    lo = x[order][min(np.searchsorted(c, (1 - level) / 2), len(x) - 1)]
    hi = x[order][min(np.searchsorted(c, 1 - (1 - level) / 2), len(x) - 1)]
    return float(lo), float(hi)
