"""The mechanism interface: what one behaviour declares and the engine's fixed points it runs at.

A mechanism (docs/ODD.md §7.10-7.15) is one class in one module of this package. It declares, in
one place:
- `key` and `Params`: the config group of its parameters (a `sim.model.schema.Strict` model with
  units; conf/<group>/default.yaml holds the defaults and their sources) and its `enabled` switch;
- `batched`: which of its parameters may differ between the simulations of one batch (read per
  member through `model.param`, never through `model.config`);
- `state`: its per-agent arrays (`StateField`), allocated on `AgentState` under their names;
- `metrics`: the series it adds to the metric registry (sim.model.metrics), measured by
  `quantities` (levels) or by `cumulative` counters that the engine turns into totals and flows;
- `counters` and `recount`: its running counts and the same counts rebuilt from the state (the
  generic test checks they agree);
- hooks: methods named in `HOOKS`, run by the engine at its fixed points of the day, in the
  registry's order. A mechanism overrides only the hooks it needs; one that is switched off is not
  built, so its hooks never run and its draws are never made (keyed draws: a stream never shifts
  another), and its quantities are zeros.

A mechanism reads and changes the model through the model's public names (`state`, `pop`,
`streams`, `param`, `per_cell`, `tally`, `counts`, ...); it never imports the engine.
"""

from __future__ import annotations

from operator import attrgetter
from typing import ClassVar

import numpy as np

from sim.model.declarations import Metric, StateField
from sim.model.schema import Strict

# The engine's fixed points, in the order of a day (docs/ODD.md §3), and what each receives/returns.
# Hooks that return a value chain in the registry's order: each mechanism gets what the one before
# returned (so the registry's order decides, e.g., whether a chance is scaled before or after another).
HOOKS = (
    "start_of_day",  # (t): before membership changes; decays and expiries
    "members_changing",  # (t) -> members whose join, coming of age or closing may fall today
    "shift_preferences",  # (t): after membership changes; preferences that move with coverage
    "after_exposure",  # (t, exposed, from_notice): eligible members exposed today, each once; from_notice:
    # by today's email notice (an in-app notice is an exposure on the visit it is seen)
    "told",  # (t, told, telling, p): eligible contacts told by members who acted
    "scale_chance",  # (kind, p, members, t) -> p: a chance of "intent" or "try", scaled
    "after_intent",  # (t, exposed, from_notice): after intent (4), before action (5): the members and
    # flags of after_exposure, with today's intents formed (a response that needs an intent)
    "search_offset",  # (members, offset, t) -> log-odds a motivated member's search takes off each hidden
    # route step (sim.model.rules.friction; the core's is `friction.motivated_search_offset`)
    "posts_made",  # (due, t) -> the posters (poster indices) among `due` who post today
    "first_pull_backlog",  # (members, backlog) -> posts of the backlog the first pull still finds
    "removed_with",  # (gone) -> members whose data retroactive removal takes besides opted-out ones
    "leaving",  # (agents, region): members leaving eligibility; what they added to counters leaves
)


class Mechanism:
    key: ClassVar[str]
    Params: ClassVar[type[Strict]]
    batched: ClassVar[tuple[str, ...]] = ("*",)  # "*": every parameter but `enabled`
    state: ClassVar[tuple[StateField, ...]] = ()
    metrics: ClassVar[tuple[Metric, ...]] = ()
    cumulative: ClassVar[tuple[str, ...]] = ()  # counters added to with `model.counts.add`

    def __init__(self, model):
        self.model = model

    @property
    def name(self) -> str:
        return self.key.rsplit(".", 1)[-1]

    @classmethod
    def is_on(cls, config) -> bool:
        return bool(attrgetter(cls.key)(config).enabled)

    @classmethod
    def provides(cls) -> tuple[str, ...]:
        """The quantities `quantities` measures: its metrics' numerators not made from `cumulative`."""
        made = {f"{c}_{end}" for c in cls.cumulative for end in ("total", "today")}
        return tuple(dict.fromkeys(m.numerator for m in cls.metrics if m.numerator not in made))

    def param(self, field: str, members: np.ndarray, value_of=None) -> np.ndarray:
        """Parameter `field` of this mechanism for each of these members' simulation."""
        return self.model.param(f"{self.key}.{field}", members, value_of)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        """This mechanism's quantities today, per cell, unweighted (the engine weights them)."""
        return {}

    def counters(self) -> dict[str, np.ndarray]:
        """Running counts kept up to date as members change."""
        return {}

    def recount(self) -> dict[str, np.ndarray]:
        """The same counts as `counters`, rebuilt from the state (slow; for tests)."""
        return {}

    def per_cell_count(self, mask: np.ndarray) -> np.ndarray:
        """Members where `mask` (over all members) holds, counted by cell."""
        return np.bincount(self.model.pop.region[mask], minlength=self.model.n_cells)


def overrides_hook(mechanism: type[Mechanism], hook: str) -> bool:
    return getattr(mechanism, hook, None) is not getattr(Mechanism, hook, None)
