"""Agent-based model of consent design for AI-training use of a professional network's member data.

Importable without Hydra: `sim.config.validate_config` turns a plain dict into a validated config,
`sim.outputs.run_model` runs it, `sim.outputs.execute` also writes a run folder. `python -m sim.run`
is the Hydra entry point.
"""
