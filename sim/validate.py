"""Validation cases of the user's own: `python -m sim.validate CASES.yaml`.

A case is written like a calibration target (conf/calibration/targets.yaml: `id`, `source`,
`scenario`, `measure`) but with a `band: [low, high]` (what the evidence says) instead of a value
and tolerance. Each case is run over parameter sets drawn from the shipped posterior (each draw at
its own seed, every draw through `sim.model.batch.simulate_many`), and the report gives, per case,
the model's 90% interval over the draws, the band, and whether they overlap. Scenario-only
(nuisance) parameters of the calibration are not applied: a case states its own setting.

    python -m sim.validate examples/validation_cases.yaml --draws 20 --agents 5000 --out outputs/validation
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.analysis.calibration import Target, evaluate_many, load_targets, shipped_raw, with_values
from sim.analysis.posterior import POSTERIOR_DIR, load_posterior, posterior_sha256
from sim.model.metrics import INDEX
from sim.run.files import write_json, write_text
from sim.run.folder import OUTPUT_REGIONS, software

MEASURES = ("series", "visited_within_days", "layer_ratio")
DRAW_SEED = 3  # which posterior draws (draw k then runs at seed k)


class BadCase(ValueError):
    """A case file that cannot be run (the message says which case and why)."""


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    band: tuple[float, float]
    scenario: dict
    measure: dict

    def as_target(self) -> Target:
        """The case in the calibration's own form, so it runs through the same scenario and measure code."""
        return Target(self.id, "case", self.source, float(np.mean(self.band)), 1.0, self.scenario, self.measure)


def load_cases(path: Path) -> list[Case]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as why:
        raise BadCase(f"{path}: cannot read the cases ({why})") from why
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise BadCase(f"{path}: expected a mapping with a non-empty list `cases`")
    cases = []
    for i, c in enumerate(data["cases"]):
        name = c.get("id", f"case {i + 1}") if isinstance(c, dict) else f"case {i + 1}"
        missing = [k for k in ("id", "source", "band", "measure") if not isinstance(c, dict) or k not in c]
        if missing:
            raise BadCase(f"{path}: {name} has no {', '.join(missing)}")
        band = c["band"]
        if not (isinstance(band, list) and len(band) == 2 and all(isinstance(b, int | float) for b in band)):
            raise BadCase(f"{path}: {name}: band must be [low, high], got {band!r}")
        if band[0] > band[1]:
            raise BadCase(f"{path}: {name}: band {band} has low above high")
        measure = c["measure"]
        if not isinstance(measure, dict) or not any(k in measure for k in MEASURES):
            raise BadCase(f"{path}: {name}: measure must name one of {', '.join(MEASURES)}, got {measure!r}")
        if "series" in measure:
            if measure["series"] not in INDEX:
                raise BadCase(f"{path}: {name}: unknown metric {measure['series']!r} (see docs/ODD.md's metric table)")
            if measure.get("region") not in OUTPUT_REGIONS or "day" not in measure:
                raise BadCase(f"{path}: {name}: a series measure needs region (one of {OUTPUT_REGIONS}) and day")
        cases.append(Case(c["id"], c["source"], (float(band[0]), float(band[1])), c.get("scenario") or {}, measure))
    return cases


def run_cases(cases: list[Case], draws: int, agents: int, posterior_dir: Path = POSTERIOR_DIR) -> list[dict]:
    """Model values of every case over posterior draws, and their overlap with the bands."""
    post = load_posterior(posterior_dir)
    _, params, _ = load_targets()
    base, targets = shipped_raw(), [c.as_target() for c in cases]
    sets = [(with_values(base, params, values), k, None) for k, values in enumerate(post.draws(draws, seed=DRAW_SEED))]
    print(f"  {draws} posterior draws of {len(cases)} case(s), in batches", file=sys.stderr, flush=True)
    per_draw = evaluate_many(sets, targets, agents)
    out = []
    for c in cases:
        v = np.array([r[c.id] for r in per_draw])
        low, median, high = (float(x) for x in np.quantile(v, [0.05, 0.5, 0.95]))
        out.append({"id": c.id, "source": c.source, "band": list(c.band), "model_median": median,
                    "model_90": [low, high], "overlap": bool(low <= c.band[1] and c.band[0] <= high),
                    "values": v.tolist()})  # fmt: skip
    return out


def markdown(results: list[dict], draws: int, agents: int, posterior: str) -> str:
    lines = [
        f"# Validation cases ({draws} posterior draws, {agents:,} agents; posterior {posterior})",
        "",
        "| case | band | model median | model 90% over draws | overlap |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        (a, b), (lo, hi) = r["band"], r["model_90"]
        lines.append(f"| {r['id']} | {a:.4g} to {b:.4g} | {r['model_median']:.4g} | {lo:.4g} to {hi:.4g} | "
                     f"{'yes' if r['overlap'] else '**no**'} |")  # fmt: skip
    lines += ["", *[f"- **{r['id']}**: {r['source']}" for r in results]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("cases", type=Path, help="a YAML file of cases (see examples/validation_cases.yaml)")
    parser.add_argument("--draws", type=int, default=20, help="posterior draws (at least 2)")
    parser.add_argument("--agents", type=int, default=5_000)
    parser.add_argument("--posterior-dir", type=Path, default=POSTERIOR_DIR)
    parser.add_argument("--out", type=Path, help="folder for validation.md and validation.json")
    args = parser.parse_args(argv)
    try:
        if args.draws < 2:
            raise BadCase("--draws must be at least 2: an interval needs more than one draw")
        cases = load_cases(args.cases)
        results = run_cases(cases, args.draws, args.agents, args.posterior_dir)
    except (BadCase, FileNotFoundError) as why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    text = markdown(results, args.draws, args.agents, str(args.posterior_dir))
    print(text)
    if args.out:  # the report, the cases as run and what ran them
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.cases, args.out / "cases.yaml")
        write_json(args.out / "validation.json", {
            "cases_file": str(args.cases), "draws": args.draws, "draw_seed": DRAW_SEED, "agents": args.agents,
            "posterior_dir": str(args.posterior_dir),
            "posterior_sha256": posterior_sha256(args.posterior_dir),
            "provenance": software(), "results": results})  # fmt: skip
        write_text(args.out / "validation.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
