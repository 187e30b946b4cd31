"""An up-front memory estimate: refuse, before any work, a run this machine cannot hold.

Measured (experiments/bench.py, docs/performance/bench.json, 2026-12-01, every mechanism on):
per agent, the population arrays (`model.pop`) take 26.4 bytes, the state (`model.state`) 44.9
bytes and the contact graph (`model.graph`) 48.0 bytes at `population.graph.mean_contacts=10`
(4.8 bytes per contact). The process's peak resident memory while building the model and stepping
it, above the interpreter with its libraries, was 213 bytes per agent at 11,399,589 agents (the
arrays, each day's temporaries and the run's running lists): 1.79 times the arrays; 261 at
1,139,958, where about 50 MB of libraries loaded on first use still weigh. The estimate takes 2.1
times the arrays (a margin of about 17% at scale), plus what the run's records become (the
records of every simulation it holds, its series table and the parquet write; one record is a
float64 per day, output region and registered metric) and the interpreter with its libraries
(BASE_BYTES, whose margin covers the libraries at small sizes). A run may count on only
USABLE_SHARE of the memory available (docs/RELIABILITY.md).

Imports only the model (sim.model), so the model's batching may read it (sim.model.batch).
"""

from __future__ import annotations

import os

from sim.model.config import SimConfig
from sim.model.metrics import METRIC_NAMES
from sim.model.regions import REGION_CODES

ARRAY_BYTES_PER_AGENT = 26.4 + 44.9  # population attributes + agent state (measured)
GRAPH_BYTES_PER_CONTACT = 4.81  # per agent and mean contact (measured: 48.0-48.1 bytes at 10 contacts)
PEAK_FACTOR = 2.1  # peak resident / arrays: measured 1.79 at 10^7 agents, with a margin
BASE_BYTES = 400e6  # Python, numpy, pandas, Mesa, Hydra loaded (measured about 150 MB), with a margin
RECORD_BYTES = 8  # one float64 per day, output region and metric
# A run's series table (sim.run.folder.series_frame) and its parquet write, beyond the records,
# measured by resident memory on 2,000 days x 11 output regions x 63 metrics (2026-12-01): 325 bytes per
# record for one simulation, 129 for four posterior draws (their tables and the concatenation). The
# difference is the text arrays built while one table is made, freed before the next.
SERIES_BYTES_PER_RECORD = 130  # every simulation's table, kept until the run is written
TABLE_BUILD_BYTES_PER_RECORD = 200  # the temporaries of building one simulation's table
# Only this share of the memory available is counted on: what is available moves while a run grows
# (a run estimated at 22.1 GB against 22.6 GB available was killed at 21.9 GB).
USABLE_SHARE = 0.85


def records_per_simulation(config: SimConfig) -> int:
    """Records one simulation of `config` holds: days x output regions (each region and ALL) x the
    metric registry's metrics."""
    return config.horizon_days * (len(REGION_CODES) + 1) * len(METRIC_NAMES)


def simulations(config: SimConfig) -> int:
    """Simulations a run of `config` holds the records of: its posterior draws, or one."""
    return config.uncertainty.draws if config.uncertainty.mode == "posterior" else 1


def array_bytes(config: SimConfig) -> float:
    """One simulation's population, state and graph arrays at their peak, in bytes."""
    per_agent = ARRAY_BYTES_PER_AGENT + GRAPH_BYTES_PER_CONTACT * config.population.graph.mean_contacts
    return PEAK_FACTOR * config.population.agents * per_agent


def simulation_bytes(config: SimConfig) -> float:
    """One simulation's share of a batch (sim.model.batch), in bytes: its arrays at their peak and
    its records (a batch keeps records only, no series table)."""
    return array_bytes(config) + records_per_simulation(config) * RECORD_BYTES


def estimate_bytes(config: SimConfig) -> float:
    """Peak memory of one simulation of `config` with the interpreter, in bytes (an upper estimate):
    what sim.model.batch.batch_size counts per simulation (minus BASE_BYTES)."""
    return BASE_BYTES + simulation_bytes(config)


def run_bytes(config: SimConfig) -> float:
    """Peak memory of a run of `config` (`python -m sim.run`), in bytes (an upper estimate): one
    simulation (a posterior ensemble's batches are sized within the memory available by
    sim.model.batch.batch_size) and, for every simulation the run holds, its records again (the
    series table's copy, or an ensemble's stack for its median) and its series table."""
    records = records_per_simulation(config)
    tables = simulations(config) * records * (RECORD_BYTES + SERIES_BYTES_PER_RECORD)
    if simulations(config) > 1:  # the draws' records beside the one simulation's counted above
        tables += (simulations(config) - 1) * records * RECORD_BYTES
    return estimate_bytes(config) + tables + records * TABLE_BUILD_BYTES_PER_RECORD


class NotEnoughMemory(RuntimeError):
    """The run would need more memory than the machine has available."""


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


def check_memory(config: SimConfig, available: float | None = None) -> float:
    """Raise NotEnoughMemory (with the estimate, the limit and what would fit) if the run cannot fit
    in USABLE_SHARE of the memory available; return the estimate (`run_bytes`)."""
    need = run_bytes(config)
    free = available_bytes() if available is None else available
    if free is None or need <= USABLE_SHARE * free:
        return need
    limit = USABLE_SHARE * free
    agents = config.population.agents
    room = limit - (need - array_bytes(config))  # what the arrays may take beside the rest
    fits = int(room / (array_bytes(config) / agents))
    what = f"population.agents={agents:,}"
    if config.uncertainty.mode == "posterior":
        what += f" with uncertainty.draws={config.uncertainty.draws:,}"
    draws = _draws_that_fit(config, limit) if simulations(config) > 1 else 0
    if draws >= 2:
        advice = f"use at most about uncertainty.draws={draws:,}"
    elif fits >= len(REGION_CODES):
        advice = f"use at most about population.agents={fits:,}"
    else:
        advice = (
            f"the records of its {simulations(config):,} simulation(s) over {config.horizon_days:,} days "
            "alone do not fit: fewer uncertainty.draws or a shorter horizon"
        )
    raise NotEnoughMemory(
        f"{what} needs about {_gb(need)} of memory (estimate), but {_gb(free)} is available on this machine "
        f"and a run may count on {USABLE_SHARE:.0%} of it ({_gb(limit)}): {advice}, or a machine with more memory"
    )


def _draws_that_fit(config: SimConfig, limit: float) -> int:
    """The most posterior draws of `config` whose run fits in `limit` (0 if not even one)."""
    low, high = 0, config.uncertainty.draws
    while low < high:  # run_bytes grows with the draws
        mid = (low + high + 1) // 2
        trial = config.model_copy(update={"uncertainty": config.uncertainty.model_copy(update={"draws": mid})})
        low, high = (mid, high) if run_bytes(trial) <= limit else (low, mid - 1)
    return low


def floor_note(config: SimConfig) -> str | None:
    """When the automatic per-region floor is scaled down (a small sample), the precision it gives:
    the agents in the smallest region and the sampling error of a 50% share there."""
    pop = config.population
    if pop.min_agents_per_region is not None or pop.agents_floor >= pop.auto_floor_cap:
        return None
    import numpy as np

    from sim.model.population import allocate_agents
    from sim.model.regions import REGIONS

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
