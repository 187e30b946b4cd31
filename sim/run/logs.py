"""Hydra's own log on the terminal, trimmed for sweeps (conf/config.yaml, `hydra.hydra_logging`).

A sweep prints its folder, one line per finished job (sim.run.folder.execute: where, which policy
and seed, how long) and at its end the summary across settings (sim.analysis.aggregate). Hydra's
launchers also list every job before it starts (`#12 : policy=... seed=...`) and the joblib
launcher prints its Parallel(...) arguments: with 30 or 3,000 jobs that is a screen of repeats of
what the jobs' own lines say, so this filter drops those two kinds of line and nothing else.
"""

from __future__ import annotations

import logging


class QuietLaunch(logging.Filter):
    """Drops Hydra's per-job launch lines and joblib's Parallel(...) line; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("\t#") or message.startswith("Joblib.Parallel("))
