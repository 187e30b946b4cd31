"""Many simulations in one call: the interface every many-runs user goes through.

`simulate_many(configs)` returns, for each config, the records array its run gives alone
(`ConsentModel.records`: days x (regions + ALL) x metrics), in order. Calibration, posterior
ensembles and sensitivity call this, never the model in a loop of their own, so one place decides
how simulations are grouped (docs/ODD.md §3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.model.config import SimConfig
from sim.model.engine import ConsentModel


def simulate_many(configs: Sequence[SimConfig]) -> list[np.ndarray]:
    """Records per config, each exactly as the config's run alone gives them."""
    out = []
    for config in configs:
        model = ConsentModel(config)
        while model.running:
            model.step()
        out.append(model.records)
    return out
