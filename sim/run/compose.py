"""The run layer's config overrides; the config plumbing itself is in `sim.core.compose`.

The names re-exported below live in `sim.core.compose` (below the model, so that the analysis may
use them); the layers above the model (run, brief, reports, explorer) and the tests may import them
from here beside the mechanism switches.
"""

from __future__ import annotations

from sim.core.compose import (  # noqa: F401 - re-exported
    CONF_DIR,
    DATA_DIR,
    UNIQUE_RESOLVER,
    compose_raw,
    get_key,
    register_resolvers,
    set_key,
    unique_tag,
)
from sim.model.mechanisms import switches

# Overrides that switch every behaviour mechanism on or off (from the registry, sim.model.mechanisms).
EVERY_MECHANISM_ON = switches(True)
EVERY_MECHANISM_OFF = switches(False)
