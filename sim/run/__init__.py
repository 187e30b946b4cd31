"""The run: `python -m sim.run` (the Hydra entry point, `__main__`), the run folder (`folder`),
atomic file writes (`files`) and the shipped configs found through the package (`compose`)."""
