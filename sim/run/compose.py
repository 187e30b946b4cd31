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

# Overrides that switch on every behaviour mechanism of docs/ODD.md §7.10-7.15 (they ship off).
EVERY_MECHANISM_ON = (
    "salience.enabled=true",
    "guidance.enabled=true",
    "return_visits.enabled=true",
    "concern.enabled=true",
    "reactions.delete_old_posts.enabled=true",
    "reactions.post_less.enabled=true",
    "reactions.close_account.enabled=true",
    "membership.enabled=true",
)
