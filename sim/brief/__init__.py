"""Policy briefs built from a sweep's outputs: `python -m sim.brief SWEEP_DIR [SWEEP_DIR ...]`.

Writes brief.md (with its figures), brief.html (self-contained), brief.pdf and brief_numbers.csv
(every number shown, with the table and rows it came from) into SWEEP_DIR/brief/ or --out.
The modules: sources (reading sweeps), numbers (formats and the register of numbers shown),
findings (the key findings), context (every other part), render (templates to files).
"""

from sim.brief.build import build_brief

__all__ = ["build_brief"]
