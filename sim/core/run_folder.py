"""What a run folder holds, by name, and a run's identity: the one place every reader and writer
of run folders (sim.run, sim.analysis.aggregate, sim.reports, sim.brief) takes them from.

Below every layer (imports nothing from sim), so the analysis may read run folders without the run
layer. Writing a folder is sim.run.folder's; this module only names what is in it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CONFIG = "config.yaml"  # the resolved, validated config
RUN_INFO = "run.json"  # how the run was asked for: overrides, Hydra's choices, the policy's identity
PROVENANCE = "provenance.json"  # seed, versions, commit, wall time, command
SERIES = "series.parquet"  # the tidy series: date, region, metric, value (and draw, for an ensemble)
DRAWS = "draws.csv"  # a posterior ensemble's parameter values, one row per draw
SUMMARY = "summary.json"  # every metric per region at the horizon; written last: the run is complete
FAILURE = "failure.json"  # a failed job's settings and error (instead of results)
HEADLINE_FIGURES = ("consent_curves.png", "dataset_by_type.png")  # with figures=true
# Every file a run (or a failed job) leaves in its folder; an earlier run's are removed before a new
# run's are moved in, so a folder never mixes two runs.
RESULT_FILES = (CONFIG, RUN_INFO, PROVENANCE, SERIES, DRAWS, SUMMARY, FAILURE, *HEADLINE_FIGURES)
RESULT_NAMES = (SERIES, SUMMARY, FAILURE)  # any of these: the folder holds a run's (or a failed job's) results
# What other commands derive from a folder's results (sim.reports.plot, sim.analysis.aggregate,
# sim.brief, sim.export): stale once the results are replaced, so removed with them.
DERIVED_DIRS = ("figures", "aggregate", "brief", "export")
COMPLETE_FILE = SUMMARY


def holds_results(folder: Path) -> bool:
    """Whether a folder already holds a run's (or a failed job's) results."""
    return any((Path(folder) / name).exists() for name in RESULT_NAMES)


def policy_hash(policy_section: dict) -> str:
    """A short hash of a policy section's content (`config.policy` dumped as JSON, or a config.yaml's
    `policy`): the same policy, the same hash."""
    text = json.dumps(policy_section, sort_keys=True, default=str)  # dates read from YAML: as written
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def policy_identity(policy_section: dict, choice: str | None) -> str:
    """What names a run's policy in aggregation: the `policy=` choice (the file in conf/policy/), or,
    for a run without one (Python API), its name with the hash of its content, so two different
    policies that carry the same free `name` are never taken for one."""
    return choice if choice else f"{policy_section.get('name')}~{policy_hash(policy_section)}"


NOTES_DIR = ".notes"  # in a sweep's folder: the notes its jobs have printed (sim.run.__main__.print_once)
