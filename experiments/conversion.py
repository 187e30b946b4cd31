"""How many aware objectors act: the shipped model's conversion of knowing into refusing (docs/ODD.md §7.12).

    python experiments/conversion.py             # 50,000 agents, seed 0: about two minutes on one core
    python experiments/conversion.py --agents 20000 --json docs/conversion.json

For each case, the cohort is every eligible objector who is aware and not yet opted out (nor
waiting for a form's effect) at the end of the case's day; the share of them who have opted out
(or submitted a form) 30 days later is the conversion. Cases: the heavy US coverage of
2024-09-18 on the four-step toggle, with its printed steps (guidance); the EU/EEA announcement of
2025-09-18 (toggle or objection form, a deadline at training's start); the 2024-11-20 email notice
with a one-step route in it (`policy=prominent_toggle`). The anchors it is read against:
ANCHORS 9 (My Health Record: 3% of all members in 8 weeks under sustained coverage, through a form)
and ANCHORS 10 (a personal notice with a short route: one to a few percent of all within weeks).
Every number is measured here; nothing is typed in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from sim.core.compose import compose_raw
from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.regions import REGION_CODES
from sim.model.rules.consent import OBJECT, OPTED_OUT
from sim.model.state import NOT_YET

CASES = {
    "US coverage of 2024-09-18, four-step toggle with printed steps": ([], "2024-09-18", ["US"]),
    "EU/EEA announcement of 2025-09-18, toggle or form, deadline ahead": ([], "2025-09-18", ["EU_EEA"]),
    "email of 2024-11-20 with a one-step route (prominent_toggle)": (["policy=prominent_toggle"], "2024-11-20", ["US"]),
}
WINDOW_DAYS = 30


def conversion(overrides: list[str], day: str, regions: list[str], agents: int, seed: int) -> dict:
    raw = compose_raw(["progress=false", f"population.agents={agents}", f"seed={seed}", *overrides])
    day_index = (dt.date.fromisoformat(day) - dt.date.fromisoformat(str(raw["start"]))).days
    raw["end"] = (dt.date.fromisoformat(day) + dt.timedelta(days=WINDOW_DAYS)).isoformat()
    model = ConsentModel(validate_config(raw))
    while model.day <= day_index:
        model.step()
    s, pop = model.state, model.pop
    in_regions = np.isin(pop.region, [REGION_CODES.index(r) for r in regions])
    cohort = (pop.eligible & in_regions & (pop.preference == OBJECT) & (s.aware_since != NOT_YET)
              & (s.choice != OPTED_OUT) & ~s.awaiting_decision)  # fmt: skip
    members = np.flatnonzero(cohort)
    while model.running:
        model.step()
    acted = (s.choice[members] == OPTED_OUT) | s.awaiting_decision[members]
    weight = pop.weight[members]
    return {
        "cohort_agents": int(members.size),
        "converted_share": float(np.average(acted, weights=weight)) if members.size else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    out = {}
    for name, (overrides, day, regions) in CASES.items():
        out[name] = conversion(overrides, day, regions, args.agents, args.seed)
        print(f"{out[name]['converted_share']:6.1%} of {out[name]['cohort_agents']:6d} aware objectors "
              f"within {WINDOW_DAYS} days: {name}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"agents": args.agents, "seed": args.seed, "cases": out}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
