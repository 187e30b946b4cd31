"""Agent-based model of consent design for AI-training use of a professional network's member data.

The package, by role, in layers that import one way (core, model, analysis, then the rest;
tests/test_layers.py):

- `sim.core`: below every layer. The configs and data found through the package, plain-dict
  config plumbing (`compose`), atomic writes (`files`).
- `sim.model`: the model. `engine.ConsentModel` (a `mesa.Model` over arrays), `world` (what both
  engines build from a config), `rules/` (awareness, consent, friction, content, ledger),
  `regimes` (the regime table), `metrics` (the metric registry), `config` (the pydantic schema).
- `sim.run`: one run. `python -m sim.run` (Hydra entry point) and the run folder writer (`folder`).
- `sim.analysis`: many runs. Sweep aggregation, calibration (targets, priors, the two-stage fit and its
  checks), sensitivity (the design runner, Morris and Sobol).
- `sim.reports`: figures, sweep plots and the docs' parameter table.
- `sim.brief`: policy briefs from sweeps (`python -m sim.brief`).
- `sim.explorer`: the browser explorer (`python -m sim.explorer`).
- `sim.verification`: the per-object Mesa reference that checks the array engine.
- `sim/conf` (the project's `conf/`) and `sim/data`: configs and data, found through the package.

Importable without Hydra: `sim.model.config.validate_config` turns a plain dict into a validated
config, `sim.run.folder.run_model` runs it, `sim.run.folder.execute` also writes a run folder.
"""
