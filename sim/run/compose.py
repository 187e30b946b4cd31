"""The run layer's config overrides; the config plumbing itself is in `sim.core.compose`.

The names re-exported below live in `sim.core.compose` (below the model, so that the analysis may
use them); they are imported here for the callers not yet updated: sim.analysis.aggregate (which
may not import sim.run), sim.run.__main__, sim.brief, sim.reports, sim.explorer and tests.
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
