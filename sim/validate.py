"""Validation cases of the user's own: `python -m sim.validate CASES.yaml`.

A case is written like a calibration target (conf/calibration/targets.yaml: `id`, `source`,
`scenario`, `measure`) but with a `band: [low, high]` (what the evidence says) instead of a value
and tolerance. Each case is run over parameter sets drawn from the shipped posterior (each draw at
its own seed, every draw through `sim.model.batch.simulate_many`), and the report gives, per case,
the model's 90% interval over the draws, the band, and whether they overlap. Scenario-only
(nuisance) parameters of the calibration are not applied: a case states its own setting.

Before any simulation, every case is checked (its keys, a unique id, a finite band, its measure's
values, its scenario as a config, a day inside the scenario's horizon, a route and step that exist)
and the posterior read whole; a bad file lists every problem and exits 2 (docs/RELIABILITY.md).

    python -m sim.validate examples/validation_cases.yaml --draws 20 --agents 5000 --out outputs/validation
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.analysis.calibration import Target, evaluate_many, load_targets, scenario_config, shipped_raw, with_values
from sim.analysis.posterior import POSTERIOR_DIR, PosteriorError, load_posterior, posterior_sha256
from sim.core.files import write_json, write_text
from sim.core.provenance import software
from sim.model.config import MAX_DRAWS, ConfigError
from sim.model.metrics import INDEX
from sim.model.regions import OUTPUT_REGIONS

MEASURES = ("series", "flow_ratio", "share_ratio", "visited_within_days", "layer_ratio")
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


CASE_KEYS = ("id", "source", "band", "scenario", "measure")
MEASURE_KEYS = {"series": {"series", "region", "day"}, "visited_within_days": {"visited_within_days"},
                "layer_ratio": {"layer_ratio", "drop_step"}, "flow_ratio": {"flow_ratio", "region", "day", "days"},
                "share_ratio": {"share_ratio", "region", "day"}}  # fmt: skip


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def load_cases(path: Path) -> list[Case]:
    """The cases of a file, every value checked that needs no simulation (BadCase lists every problem)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as why:
        raise BadCase(f"{path}: cannot read the cases ({why})") from why
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise BadCase(f"{path}: expected a mapping with a non-empty list `cases`")
    problems, cases, seen = [], [], {}
    for i, c in enumerate(data["cases"]):
        name = f"case {i + 1}" + (f" ({c['id']})" if isinstance(c, dict) and "id" in c else "")
        found = _case_problems(c)
        if isinstance(c, dict) and "id" in c:
            if c["id"] in seen:  # results are kept by id: two cases with one id would report one's values twice
                found.append(f"id {c['id']!r} is also case {seen[c['id']] + 1}'s: every case needs its own id")
            seen.setdefault(c["id"], i)
        problems += [f"{name}: {p}" for p in found]
        if not found:
            band = (float(c["band"][0]), float(c["band"][1]))
            cases.append(Case(c["id"], c["source"], band, c.get("scenario") or {}, c["measure"]))
    if problems:
        raise BadCase(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    return cases


def _case_problems(c) -> list[str]:
    if not isinstance(c, dict):
        return [f"must be a mapping with {', '.join(CASE_KEYS)}, got {c!r}"]
    out = [f"unknown key {k!r}; allowed: {', '.join(CASE_KEYS)}" for k in c if k not in CASE_KEYS]
    missing = [k for k in ("id", "source", "band", "measure") if k not in c]
    if missing:
        return [*out, f"has no {', '.join(missing)}"]
    if not isinstance(c["id"], str) or not c["id"].strip():
        out.append(f"id must be a non-empty text, got {c['id']!r}")
    band = c["band"]
    if not (isinstance(band, list) and len(band) == 2 and all(_is_number(b) for b in band)):
        out.append(f"band must be [low, high], two finite numbers, got {band!r}")
    elif band[0] > band[1]:
        out.append(f"band {band} has low above high")
    if not isinstance(c.get("scenario") or {}, dict):
        out.append(f"scenario must be a mapping of dotted config keys to values, got {c['scenario']!r}")
    return out + _measure_problems(c["measure"])


def _measure_problems(m) -> list[str]:
    kinds = [k for k in MEASURES if isinstance(m, dict) and k in m]
    if len(kinds) != 1:
        return [f"measure must name one of {', '.join(MEASURES)}, got {m!r}"]
    kind = kinds[0]
    out = [f"measure: unknown key {k!r} for a {kind} measure; allowed: {', '.join(sorted(MEASURE_KEYS[kind]))}"
           for k in m if k not in MEASURE_KEYS[kind]]  # fmt: skip
    if kind == "series":
        if m["series"] not in INDEX:
            out.append(f"unknown metric {m['series']!r} (see docs/ODD.md's metric table)")
        if m.get("region") not in OUTPUT_REGIONS or "day" not in m:
            out.append(f"a series measure needs region (one of {OUTPUT_REGIONS}) and day")
        elif not _is_int(m["day"]) and not _as_date(m["day"]):
            out.append(f"measure.day = {m['day']!r}: must be a day index (0: the scenario's start, -1: its end)")
    elif kind == "flow_ratio":  # the flow of a daily metric in `days` from `day` over the `days` before
        if m["flow_ratio"] not in INDEX:
            out.append(f"unknown metric {m['flow_ratio']!r} (see docs/ODD.md's metric table)")
        if m.get("region") not in OUTPUT_REGIONS or not _is_int(m.get("day")) or not _is_int(m.get("days")):
            out.append(f"a flow_ratio measure needs region (one of {OUTPUT_REGIONS}), day and days (whole numbers)")
    elif kind == "share_ratio":  # a share of eligible over a count per member at the start
        pair = m["share_ratio"]
        if not (isinstance(pair, list) and len(pair) == 2 and all(x in INDEX for x in pair)):
            out.append(f"measure.share_ratio = {pair!r}: must be [share metric, count metric] of docs/ODD.md's table")
        if m.get("region") not in OUTPUT_REGIONS or not _is_int(m.get("day")):
            out.append(f"a share_ratio measure needs region (one of {OUTPUT_REGIONS}) and day")
    elif kind == "visited_within_days" and not (_is_int(m[kind]) and m[kind] >= 1):
        out.append(f"measure.visited_within_days = {m[kind]!r}: must be a whole number of days, at least 1")
    elif kind == "layer_ratio":
        if not isinstance(m[kind], str):
            out.append(f"measure.layer_ratio = {m[kind]!r}: must name a route of friction.routes")
        if "drop_step" not in m:
            out.append("a layer_ratio measure needs drop_step: the index of the step to drop (0: the first)")
        elif not (_is_int(m["drop_step"]) and m["drop_step"] >= 0):
            out.append(f"measure.drop_step = {m['drop_step']!r}: must be a step index, 0 or more")
    return out


def _as_date(value) -> dt.date | None:
    """A day given as a date (YAML reads 2025-03-01 as one), to say which index it is."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def check_scenarios(cases: list[Case], agents: int, path: Path) -> None:
    """Each case's scenario as a config, and its measure against that config (the horizon's days,
    the route's steps), before any simulation: BadCase lists every problem."""
    base, problems = shipped_raw(), []
    for c in cases:
        try:
            config = scenario_config(base, c.as_target(), agents, seed=0)
        except KeyError as key:  # the part of a dotted key that is not there
            part = key.args[0]
            which = next((k for k in c.scenario if k == part or k.startswith(f"{part}.")), part)
            problems.append(
                f"{c.id}: scenario key {which!r}: no such key in the config ({part!r} is not one; see conf/)"
            )
            continue
        except ConfigError as err:
            problems.append(f"{c.id}: its scenario is not a valid config: " + str(err).replace("\n", "\n    "))
            continue
        m, days = c.measure, config.horizon_days
        if "series" in m and _as_date(m["day"]) is not None:
            index = (_as_date(m["day"]) - config.start).days
            problems.append(f"{c.id}: measure.day = {m['day']}: a day is an index, not a date (0: {config.start}, "
                            f"-1: {config.end}); {m['day']} is day {index}")  # fmt: skip
        elif "series" in m and not -days <= m["day"] < days:
            problems.append(f"{c.id}: measure.day = {m['day']}: past the horizon; the scenario runs {days} days "
                            f"({config.start} to {config.end}): allowed {-days} to {days - 1}")  # fmt: skip
        if "layer_ratio" in m:
            routes = config.friction.routes
            if m["layer_ratio"] not in routes:
                problems.append(f"{c.id}: measure.layer_ratio = {m['layer_ratio']!r}: unknown route; "
                                f"allowed: {', '.join(routes)}")  # fmt: skip
            elif m["drop_step"] >= len(routes[m["layer_ratio"]].steps):
                steps = len(routes[m["layer_ratio"]].steps)
                problems.append(f"{c.id}: measure.drop_step = {m['drop_step']}: route {m['layer_ratio']} has "
                                f"{steps} step(s): allowed 0 to {steps - 1}")  # fmt: skip
    if problems:
        raise BadCase(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


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
        if not 2 <= args.draws <= MAX_DRAWS:
            raise BadCase(f"--draws {args.draws}: allowed 2 (an interval needs more than one draw) to {MAX_DRAWS:,}")
        cases = load_cases(args.cases)
        check_scenarios(cases, args.agents, args.cases)
        load_posterior(args.posterior_dir)  # a missing or damaged posterior, before any simulation
        results = run_cases(cases, args.draws, args.agents, args.posterior_dir)
    except (BadCase, PosteriorError) as why:
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
