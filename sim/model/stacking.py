"""Laying a batch's simulations end to end (docs/ODD.md §3, "Batches"), and what they must share.

A batch runs several simulations as one model whose region axis runs over cells, (simulation,
region) pairs (sim.model.world.build_batch_world). `batch_key` says which configs may share a batch:
those equal but for the `BATCHED` keys, whose values the engine reads per member (`param`).
The stack functions lay each simulation's population, graph and compiled policy end to end.
"""

from __future__ import annotations

import json

import numpy as np

from sim.model import mechanisms
from sim.model.config import SimConfig
from sim.model.graph import Graph
from sim.model.policy import Notice, PolicyTable
from sim.model.population import Population
from sim.model.regions import REGION_CODES

# Config keys whose values may differ between the simulations of one batch ("*": any key at that
# level; a group's `enabled` switch never may). Everything else is shared (`batch_key`).
CORE_BATCHED = (
    "seed",
    "progress",
    "figures",
    "uncertainty",
    "population",  # each simulation samples its own population and graph
    "awareness.media",  # media attention and its hazard are built per simulation
    "awareness.notices",
    "awareness.word_of_mouth.strength",
    "awareness.word_of_mouth.share_prob",
    "consent",
    "friction.skill_weight",
    "friction.try_prob",
    "friction.attempts_per_intent",
    "friction.motivated_search_offset",
    "friction.hidden_above",
    "friction.routes.*.steps.*.difficulty",
    "feed",
    "training.profile_tokens",
    "training.tokens_per_post",
    "training.backlog_share",
    # not training.first_pull_lag_days: it sets the pull schedule, which a batch's simulations share
    # (World.pull_today reads the first simulation's training config), so it is in batch_key
)
# ... and every mechanism's parameters that it declares batched (sim.model.mechanisms)
BATCHED = CORE_BATCHED + mechanisms.batched_keys()


def _drop(tree, path: list[str]) -> None:
    """Remove the leaves at `path` (with "*" wildcards) from a nested dict/list, keeping `enabled`."""
    head, rest = path[0], path[1:]
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    keys = [k for k, _ in items if head == "*" or str(k) == head]
    for k in keys:
        if not rest:
            if isinstance(tree[k], dict):  # a whole group: all but its switches
                for leaf in [x for x in tree[k] if x != "enabled"]:
                    if isinstance(tree[k][leaf], dict) and "enabled" in tree[k][leaf]:
                        _drop(tree[k], [leaf])
                    else:
                        del tree[k][leaf]
            elif isinstance(tree, dict):
                del tree[k]
            else:
                tree[k] = None
        elif isinstance(tree[k], dict | list):
            _drop(tree[k], rest)


def batch_key(config: SimConfig) -> str:
    """What the simulations of one batch must share: the config without the `BATCHED` keys."""
    tree = config.model_dump(mode="json")
    for path in BATCHED:
        _drop(tree, path.split("."))
    return json.dumps(tree, sort_keys=True)


# ---------------------------------------------------------------- laying simulations end to end
def stack_populations(pops: list[Population]) -> tuple[Population, np.ndarray]:
    """One population of every simulation's agents, simulation after simulation; its `region` is the
    cell (simulation x 10 + region) and its slices and weights are per cell. Returns it and the
    first agent of each simulation (then the total)."""
    n_regions = len(REGION_CODES)
    starts = np.concatenate([[0], np.cumsum([p.n for p in pops])]).astype(np.int64)
    poster_starts = np.concatenate([[0], np.cumsum([p.poster.size for p in pops])])

    def cat(field):
        return np.concatenate([getattr(p, field) for p in pops])

    def shifted(slices, by):
        return [slice(s.start + int(by), s.stop + int(by)) for s in slices]

    return (
        Population(
            region=np.concatenate([p.region.astype(np.int32) + k * n_regions for k, p in enumerate(pops)]),
            slices=[s for k, p in enumerate(pops) for s in shifted(p.slices, starts[k])],
            weight_by_region=cat("weight_by_region"),
            eligible=cat("eligible"),
            visit_prob=cat("visit_prob"),
            tenure_days=cat("tenure_days"),
            has_photo=cat("has_photo"),
            concern=cat("concern"),
            preference=cat("preference"),
            skill=cat("skill"),
            visibility_motive=cat("visibility_motive"),
            believes_reach_cost=cat("believes_reach_cost"),
            poster=np.concatenate([p.poster + np.int32(starts[k]) for k, p in enumerate(pops)]).astype(np.int32),
            poster_post_prob=cat("poster_post_prob"),
            poster_rate_per_day=cat("poster_rate_per_day"),
            poster_slices=[s for k, p in enumerate(pops) for s in shifted(p.poster_slices, poster_starts[k])],
            start_agents=None if pops[0].start_agents is None else cat("start_agents"),
        ),
        starts,
    )


def stack_graphs(graphs: list[Graph], starts: np.ndarray) -> Graph:
    """The simulations' graphs as one block-diagonal graph (no tie crosses simulations)."""
    edge_starts = np.concatenate([[0], np.cumsum([g.indices.size for g in graphs])])
    indptr = np.concatenate([graphs[0].indptr[:1]] + [g.indptr[1:] + edge_starts[k] for k, g in enumerate(graphs)])
    indices = np.concatenate([g.indices + np.int32(starts[k]) for k, g in enumerate(graphs)]).astype(np.int32)
    return Graph(indptr=indptr, indices=indices)


def stack_policies(tables: list[PolicyTable]) -> PolicyTable:
    """The simulations' compiled policies side by side, per cell (their designs are the same)."""
    n_regions = len(REGION_CODES)
    notices = [
        Notice(n.day, n.region + k * n_regions, n.channels, n.one_click)
        for k, p in enumerate(tables)
        for n in p.notices
    ]
    notices.sort(key=lambda n: (n.day, n.region))
    first = tables[0]
    return PolicyTable(
        regime=np.hstack([p.regime for p in tables]),
        training=np.hstack([p.training for p in tables]),
        routes_out=np.hstack([p.routes_out for p in tables]),
        routes_in=np.hstack([p.routes_in for p in tables]),
        route_names=first.route_names,
        notices=tuple(notices),
        phases=first.phases,
        designs=first.designs,
        deadline_days=np.hstack([p.deadline_days for p in tables]),
    )
