"""The registry of behaviour mechanisms (docs/ODD.md §7.10-7.15, §7.17), in the order their hooks run.

Everything that lists mechanisms reads this tuple: the config schema's groups (sim.model.config),
the keys a batch may vary (sim.model.stacking), the state arrays (sim.model.state), the metric
registry (sim.model.metrics), the "every mechanism on/off" override sets, the explorer's switch and
the regression baseline. Adding a mechanism: one module here (see `base.Mechanism`), its entry
below, its conf group (conf/<group>/default.yaml, listed in conf/config.yaml's defaults) and its
section of docs/ODD.md.
"""

from __future__ import annotations

import numpy as np

from sim.model.mechanisms.base import HOOKS, Mechanism, overrides_hook
from sim.model.mechanisms.concern import Concern
from sim.model.mechanisms.deadline import Deadline
from sim.model.mechanisms.guidance import Guidance
from sim.model.mechanisms.membership import Membership
from sim.model.mechanisms.opt_in_interest import OptInInterest
from sim.model.mechanisms.reactions import CloseAccount, DeleteOldPosts, PostLess
from sim.model.mechanisms.return_visits import ReturnVisits
from sim.model.mechanisms.salience import Salience

REGISTRY: tuple[type[Mechanism], ...] = (
    Salience,
    Guidance,
    ReturnVisits,
    Concern,
    DeleteOldPosts,
    PostLess,
    CloseAccount,
    Membership,
    OptInInterest,
    Deadline,
)
BY_KEY: dict[str, type[Mechanism]] = {m.key: m for m in REGISTRY}


def switches(on: bool) -> tuple[str, ...]:
    """Hydra overrides that switch every mechanism on (or off)."""
    return tuple(f"{m.key}.enabled={'true' if on else 'false'}" for m in REGISTRY)


def batched_keys() -> tuple[str, ...]:
    """The config keys of mechanism parameters a batch may vary ("*": every one of a group but `enabled`)."""
    return tuple(m.key if field == "*" else f"{m.key}.{field}" for m in REGISTRY for field in m.batched)


def state_fields():
    return tuple(f for m in REGISTRY for f in m.state)


def markdown_table() -> str:
    """The registry as Markdown, for docs/ODD.md (generated, so it cannot drift)."""
    lines = [
        "| mechanism | module | hooks (in a day's order) | state arrays | metrics | a batch may vary |",
        "|---|---|---|---|---|---|",
    ]
    for m in REGISTRY:
        hooks = ", ".join(h for h in HOOKS if overrides_hook(m, h)) or "(set-up only)"
        state = ", ".join(f"`{f.name}` ({np.dtype(f.dtype).name})" for f in m.state) or "-"
        metrics = ", ".join(f"`{x.name}`" for x in m.metrics) or "-"
        batched = ", ".join("every parameter" if b == "*" else f"`{b}`" for b in m.batched) or "nothing"
        module = f"`sim/model/mechanisms/{m.__module__.rsplit('.', 1)[-1]}.py`"
        lines.append(f"| `{m.key}` | {module} | {hooks} | {state} | {metrics} | {batched} |")
    return "\n".join(lines)


__all__ = [
    "BY_KEY", "HOOKS", "REGISTRY", "Mechanism", "batched_keys", "markdown_table", "overrides_hook", "state_fields",
    "switches",
]  # fmt: skip
