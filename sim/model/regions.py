"""The regions of the membership, from the packaged copy of regions.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    members_millions: float
    policy_group: str
    basis: str


def load_regions() -> tuple[Region, ...]:
    """Regions in file order (the order of every per-region array in the model)."""
    text = resources.files("sim").joinpath("data/regions.csv").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(
        Region(
            code=row["region"],
            name=row["name"],
            members_millions=float(row["members_millions"]),
            policy_group=row["policy_group"],
            basis=row["basis"],
        )
        for row in csv.DictReader(rows)
    )


REGIONS: tuple[Region, ...] = load_regions()
REGION_CODES: tuple[str, ...] = tuple(r.code for r in REGIONS)
ALL = "ALL"  # the region label of whole-membership rows in the outputs
OUTPUT_REGIONS: tuple[str, ...] = (*REGION_CODES, ALL)  # the region axis of the records: regions, then ALL
