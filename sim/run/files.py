"""Atomic writes live in `sim.core.files` (below the model, so that the analysis may use them);
imported here for the callers not yet updated (sim.analysis.aggregate, sim.run.folder, sim.brief,
sim.reports.parameter_table, sim.validate)."""

from __future__ import annotations

from sim.core.files import atomic_write, write_json, write_text  # noqa: F401 - re-exported
