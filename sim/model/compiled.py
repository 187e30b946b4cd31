"""Optional compiled loops: numba's `njit` when numba is installed, else None.

A few inner loops (a binary search per query, the keyed draws' hash, the scan for the members
whose event day is today, the graph's row layout at set-up) are one pass in compiled code but many
passes over memory, or a sort, in numpy. Each has a numpy twin that gives the same result bit
for bit (tests/test_compiled.py runs both); the numpy one runs without numba or with the
environment variable SIM_COMPILED=0.
Compiled code is cached beside the modules (numba's cache=True), so a process pays the compile
once per machine, not once per run.
"""

from __future__ import annotations

import os

njit = None
if os.environ.get("SIM_COMPILED", "1") != "0":
    try:
        from numba import njit
    except ImportError:  # numba is a dependency; a build without it still runs, on numpy
        njit = None
