"""Reports: a run's headline figures (`figures`), a sweep's publication plots (`plot`), and the
parameter table of docs/ODD.md (`parameter_table`). Policy briefs are in `sim.brief`."""
