"""Which targets conflict: every set the fit simulated (the reference table) asked which distance
targets it meets together (docs/CALIBRATION.md, "Which targets conflict").

A set meets a target when its z-score, counting the seed noise of the set's one run, is within
MET_Z. For each target, leave it out: how many sets meet every other target, how many of those also
meet it, and its median z among them. A target that the sets meeting all the others miss, all on
one side, is in conflict with them: where the model reaches the rest, it does not reach this one.
Then, greedily, the targets whose removal lets the most sets meet what is left, until MIN_SETS do:
the fewest targets to reconsider (a mechanism, a scenario's setting or a measurement error) for
the model to meet the rest. This is evidence from the sets simulated, not a proof: a set the fit
did not simulate may meet them all. The joint-fit check (sim.analysis.checks) is the verdict; this
says where it fails.
"""

from __future__ import annotations

import numpy as np

from sim.analysis.waves import z_scores

MET_Z = 2.0  # a set meets a target within this many of its errors (sqrt(error^2 + seed sd^2))
MIN_SETS = 20  # sets meeting the remaining targets at which the greedy removal stops


def leave_one_out(z: np.ndarray, ids: list[str]) -> list[dict]:
    met = np.abs(z) < MET_Z
    rows = []
    for k, tid in enumerate(ids):
        rest = np.delete(met, k, axis=1).all(axis=1)
        rows.append({
            "target": tid, "sets_meeting_the_rest": int(rest.sum()), "of_which_meet_it": int((rest & met[:, k]).sum()),
            "its_median_z_there": float(np.median(z[rest, k])) if rest.any() else None,
        })  # fmt: skip
    return rows


def fewest_to_drop(met: np.ndarray, ids: list[str], min_sets: int = MIN_SETS) -> list[dict]:
    """Targets removed one at a time, each the one whose removal lets the most sets meet the rest,
    until `min_sets` sets meet what is left (or one target is left); `met`: [set, target] booleans."""
    left, dropped = list(range(len(ids))), []
    while met[:, left].all(axis=1).sum() < min_sets and len(left) > 1:
        counts = [np.delete(met[:, left], i, axis=1).all(axis=1).sum() for i in range(len(left))]
        k = left.pop(int(np.argmax(counts)))
        dropped.append({"target": ids[k], "sets_meeting_the_rest": int(max(counts))})
    return dropped


def conflicts(table, t: dict, seed_sd: np.ndarray) -> dict:
    """The conflict diagnosis of a reference table (`t`: its arrays)."""
    ids = [x.id for x in table.targets]
    z = z_scores(table.targets, t["y"], seed_sd)
    met = np.abs(z) < MET_Z
    return {
        "sets": int(len(z)), "met_z": MET_Z, "sets_meeting_all": int(met.all(axis=1).sum()),
        "leave_one_out": leave_one_out(z, ids), "fewest_to_drop": fewest_to_drop(met, ids),
    }  # fmt: skip
