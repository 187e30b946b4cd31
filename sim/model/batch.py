"""Many simulations in one run: parameter sets as arrays (docs/ODD.md §3, "Batches").

`simulate_many(configs)` returns, for each config, the records array its run gives alone
(`ConsentModel.records`: days x (regions + ALL) x metrics), in order. Calibration, posterior
ensembles, sensitivity and validation call this, never the model in a loop of their own, so this
is the one place that decides how simulations are grouped.

Why batches: a run pays a fixed cost per simulated day (hundreds of small array operations) however
few its agents. A batch runs several simulations as one model whose region axis runs over cells,
(simulation, region) pairs (sim.model.world.build_batch_world): every array operation of a day then
serves all of them. Each simulation keeps its own population, graph, seed and keyed draws
(sim.model.random_streams.BatchStreams), and every parameter that may differ within a batch
(`BATCHED`) is held per cell and read per member, so a simulation in a batch gives exactly, bit for
bit, the series it gives alone (tests/test_batch.py).

Configs that differ in anything else (the policy, the horizon, a mechanism switched on or off, a
route's steps, the training schedule...) cannot share a day's operations: `batch_key` tells them
apart and they run in separate batches. Batches are sized by `batch_size` to a number of agents
(the fixed cost is paid once per batch) within the memory available.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.model.config import SimConfig
from sim.model.engine import ConsentModel
from sim.model.stacking import BATCHED, batch_key  # noqa: F401 (part of this module's interface)

BATCH_AGENTS = 1_000_000  # agents per batch by default: beyond it the fixed cost per day is negligible (bench)
BATCH_MEMORY_SHARE = 0.5  # at most this share of the memory available to one batch


def batch_size(config: SimConfig, agents: int = BATCH_AGENTS, available: float | None = None) -> int:
    """Simulations of `config`'s size per batch: about `agents` agents, within
    BATCH_MEMORY_SHARE of the memory available now (sim.model.memory's measured bytes per agent)."""
    from sim.model.memory import BASE_BYTES, available_bytes, estimate_bytes

    per_sim = max(config.population.agents, 1)
    by_agents = max(agents // per_sim, 1)
    limit = available_bytes() if available is None else available
    if limit is None:
        return by_agents
    per_sim_bytes = estimate_bytes(config) - BASE_BYTES
    return int(max(min(by_agents, BATCH_MEMORY_SHARE * limit // per_sim_bytes), 1))


def batches(configs: Sequence[SimConfig], agents: int = BATCH_AGENTS) -> list[list[int]]:
    """Indices of `configs` grouped into batches: equal `batch_key`, at most `batch_size` each, in order."""
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(batch_key(config), []).append(i)
    out = []
    for members in groups.values():
        size = batch_size(configs[members[0]], agents)
        out += [members[i : i + size] for i in range(0, len(members), size)]
    return out


def run_batch(configs: Sequence[SimConfig]) -> np.ndarray:
    """Records of each config (simulations x days x (regions + ALL) x metrics), run as one batch."""
    model = ConsentModel(list(configs))
    while model.running:
        model.step()
    return model.records_by_sim


def simulate_many(configs: Sequence[SimConfig], agents: int = BATCH_AGENTS) -> list[np.ndarray]:
    """Records per config, each exactly as the config's run alone gives them, run in batches of
    about `agents` agents (1 agent: one simulation at a time)."""
    out: list[np.ndarray | None] = [None] * len(configs)
    for members in batches(configs, agents):
        for i, records in zip(members, run_batch([configs[i] for i in members]), strict=True):
            out[i] = records
    return out


class Gatherer:
    """Gathers the `simulate_many` calls of several threads into one (for callers that make one
    simulation request at a time, each in its own thread).

    `threads` threads call `run(configs)`; each call waits until every thread still working has
    made its call (or left), then one of them runs all the configs together with `simulate_many`
    and every caller gets its own records back. A thread that stops calling must `leave()`.
    `Gatherer.active` is the one a worker process has installed for its model calls (or None)."""

    active: Gatherer | None = None

    def __init__(self, threads: int, agents: int = BATCH_AGENTS):
        import threading

        self._ready = threading.Condition()
        self._waiting: list[dict] = []
        self._active = threads
        self._agents = agents

    def run(self, configs: Sequence[SimConfig]) -> list[np.ndarray]:
        slot = {"configs": list(configs), "out": None, "error": None}
        with self._ready:
            self._waiting.append(slot)
            if len(self._waiting) >= self._active:
                self._flush()
            while slot["out"] is None and slot["error"] is None:
                self._ready.wait()
        if slot["error"] is not None:
            raise slot["error"]
        return slot["out"]

    def leave(self) -> None:
        with self._ready:
            self._active -= 1
            if self._waiting and len(self._waiting) >= self._active:
                self._flush()

    def _flush(self) -> None:
        """Run every waiting call's configs as one `simulate_many` (the lock is held: all others wait)."""
        slots, self._waiting = self._waiting, []
        try:
            records = simulate_many([c for s in slots for c in s["configs"]], self._agents)
            at = 0
            for s in slots:
                s["out"], at = records[at : at + len(s["configs"])], at + len(s["configs"])
        except Exception as error:  # every caller sees the failure
            for s in slots:
                s["error"] = error
        self._ready.notify_all()
