"""An up-front memory estimate: refuse, before any work, a run this machine cannot hold.

Measured (experiments/bench.py, docs/performance/bench.json, 2026-12-01, every mechanism on):
per agent, the population arrays (`model.pop`) take 26.4 bytes, the state (`model.state`) 44.9
bytes and the contact graph (`model.graph`) 48.0 bytes at `population.graph.mean_contacts=10`
(4.8 bytes per contact). The process's peak resident memory while building the model and stepping
it, above the interpreter with its libraries, was 213 bytes per agent at 11,399,589 agents (the
arrays, each day's temporaries and the run's running lists): 1.79 times the arrays; 261 at
1,139,958, where about 50 MB of libraries loaded on first use still weigh. The estimate takes 2.1
times the arrays (a margin of about 17% at scale), plus the daily records and the interpreter with
its libraries (BASE_BYTES, whose margin covers the libraries at small sizes). A posterior ensemble
counts its batch of draws and every draw's series (`run_bytes`), and a run may count on only
USABLE_SHARE of the memory available (docs/RELIABILITY.md).
"""

from __future__ import annotations

import os

from sim.model.config import SimConfig

ARRAY_BYTES_PER_AGENT = 26.4 + 44.9  # population attributes + agent state (measured)
GRAPH_BYTES_PER_CONTACT = 4.81  # per agent and mean contact (measured: 48.0-48.1 bytes at 10 contacts)
PEAK_FACTOR = 2.1  # peak resident / arrays: measured 1.79 at 10^7 agents, with a margin
BASE_BYTES = 400e6  # Python, numpy, pandas, Mesa, Hydra loaded (measured about 150 MB), with a margin
RECORD_BYTES = 8  # one float64 per day, region and metric
# A posterior ensemble also holds, per draw and per (day, region, metric) cell: its records (8 bytes),
# their stack for the median (8) and three copies of its series rows (the frames, their concatenation
# and the Parquet table; date, region, metric, value and draw: about 40 bytes a row).
ENSEMBLE_BYTES_PER_CELL = 8 + 8 + 3 * 40
# Only this share of the memory available is counted on: what is available moves while a run grows
# (a run estimated at 22.1 GB against 22.6 GB available was killed at 21.9 GB).
USABLE_SHARE = 0.85


class NotEnoughMemory(RuntimeError):
    """The run would need more memory than the machine has available."""


def estimate_bytes(config: SimConfig, n_regions: int = 11, n_metrics: int = 22) -> float:
    """Peak memory of a run of `config`, in bytes (an upper estimate)."""
    agents = config.population.agents
    arrays = agents * (ARRAY_BYTES_PER_AGENT + GRAPH_BYTES_PER_CONTACT * config.population.graph.mean_contacts)
    records = config.horizon_days * n_regions * n_metrics * RECORD_BYTES * 3  # records, series frame, parquet
    return BASE_BYTES + PEAK_FACTOR * arrays + records


def available_bytes() -> float | None:
    """Memory available to a new allocation now (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _gb(x: float) -> str:
    return f"{x / 1e9:.1f} GB"


def run_bytes(config: SimConfig, available: float | None = None) -> float:
    """Peak memory of the whole run, in bytes: one simulation (`estimate_bytes`), or for a posterior
    ensemble the draws simulated together in one batch (as many as sim.model.batch puts in one,
    within its share of `available`) plus every draw's records and series."""
    one = estimate_bytes(config)
    if config.uncertainty.mode != "posterior":
        return one
    from sim.model.batch import BATCH_AGENTS, BATCH_MEMORY_SHARE
    from sim.model.metrics import METRIC_NAMES
    from sim.model.regions import REGION_CODES

    draws, per_sim = config.uncertainty.draws, one - BASE_BYTES
    together = min(draws, max(BATCH_AGENTS // config.population.agents, 1)) * per_sim
    if available is not None:  # a batch is cut to its share of the memory (sim.model.batch.batch_size)
        together = min(together, max(per_sim, BATCH_MEMORY_SHARE * available))
    cells = config.horizon_days * (len(REGION_CODES) + 1) * len(METRIC_NAMES)
    return BASE_BYTES + together + draws * cells * ENSEMBLE_BYTES_PER_CELL


def check_memory(config: SimConfig, available: float | None = None) -> float:
    """Raise NotEnoughMemory (with the estimate, the limit and what would fit) if the run cannot fit
    in USABLE_SHARE of the memory available; return the estimate."""
    free = available_bytes() if available is None else available
    need = run_bytes(config, free)
    if free is None or need <= USABLE_SHARE * free:
        return need
    limit = USABLE_SHARE * free
    from sim.model.regions import REGION_CODES

    per_agent = (estimate_bytes(config) - BASE_BYTES) / config.population.agents
    fits = max(len(REGION_CODES), int((limit - BASE_BYTES) / per_agent))
    hint = f"use at most about population.agents={fits:,}, or a machine with more memory"
    what = f"population.agents={config.population.agents:,}"
    if config.uncertainty.mode == "posterior":
        what += f" with uncertainty.draws={config.uncertainty.draws:,}"
        draws = _draws_that_fit(config, free, limit)
        hint = f"use at most about uncertainty.draws={draws:,}" if draws >= 2 else hint
    raise NotEnoughMemory(
        f"{what} needs about {_gb(need)} of memory (estimate), but {_gb(free)} is available on this machine "
        f"and a run may count on {USABLE_SHARE:.0%} of it ({_gb(limit)}): {hint}"
    )


def _draws_that_fit(config: SimConfig, free: float, limit: float) -> int:
    """The most posterior draws of `config` whose run fits in `limit` (0 if not even one)."""
    low, high = 0, config.uncertainty.draws
    while low < high:  # run_bytes grows with the draws
        mid = (low + high + 1) // 2
        trial = config.model_copy(update={"uncertainty": config.uncertainty.model_copy(update={"draws": mid})})
        low, high = (mid, high) if run_bytes(trial, free) <= limit else (low, mid - 1)
    return low


def floor_note(config: SimConfig) -> str | None:
    """When the automatic per-region floor is scaled down (a small sample), the precision it gives:
    the agents in the smallest region and the sampling error of a 50% share there."""
    pop = config.population
    if pop.min_agents_per_region is not None or pop.agents_floor >= pop.auto_floor_cap:
        return None
    import numpy as np

    from sim.model.population import allocate_agents
    from sim.model.regions import REGION_CODES, REGIONS

    members = np.array([r.members_millions for r in REGIONS])
    counts = allocate_agents(pop.members * members / members.sum(), pop.agents, pop.agents_floor)
    smallest = int(np.argmin(counts))
    n = int(counts[smallest])
    error = 1.96 * (0.25 / n) ** 0.5
    return (
        f"note: population.agents={pop.agents:,} gives an automatic per-region floor of {pop.agents_floor:,} agents "
        f"(below {pop.auto_floor_cap:,}): the smallest region, {REGION_CODES[smallest]}, has {n:,} agents, so a 50% "
        f"share there is known to about ±{100 * error:.1f} percentage points (95% sampling error of one run)"
    )
