"""Fit the behavioural parameters without a direct measurement to the calibration targets.

    python experiments/calibrate.py                 # fit, print, write sim/data/calibration/calibration.json
    python experiments/calibrate.py --write-conf    # also make the fitted values the shipped defaults

The targets, the parameters and their bounds are data: conf/calibration/targets.yaml. The loss is
the sum over targets of ((model - target) / tolerance)^2 at fixed seeds (keyed random draws make
it a deterministic function of the parameters); scipy's Nelder-Mead minimises it in the unit box
of the bounds. With --write-conf each fitted value replaces the default in conf/ on its own line,
with a comment saying it was calibrated and against which targets.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from sim.analysis.calibration import evaluate, load_targets, loss, shipped_raw
from sim.run.compose import DATA_DIR, get_key

ROOT = Path(__file__).resolve().parent.parent


def fit(agents: int, seeds: list[int], maxiter: int) -> dict:
    targets, params, nuisance = load_targets()
    base = shipped_raw()
    every = params + nuisance
    lo = np.array([p["bounds"][0] for p in every], float)
    hi = np.array([p["bounds"][1] for p in every], float)

    def start_value(p):
        value = get_key(base, p["keys"][0])
        return value["default"] if isinstance(value, dict) else value

    x0 = np.clip((np.array([start_value(p) for p in every], float) - lo) / (hi - lo), 0, 1)
    evaluations = []

    def values_of(u):
        return {p["name"]: float(v) for p, v in zip(every, lo + np.clip(u, 0, 1) * (hi - lo), strict=True)}

    def objective(u):
        from sim.analysis.calibration import with_values

        values = values_of(u)
        results = evaluate(with_values(base, params, values), targets, agents, seeds, nuisance, values)
        value = loss(results, targets) + 100.0 * float(np.sum(np.clip(-u, 0, None) + np.clip(u - 1, 0, None)))
        evaluations.append(value)
        if len(evaluations) % 20 == 0:
            print(f"  evaluation {len(evaluations)}: loss {min(evaluations):.3f}", file=sys.stderr, flush=True)
        return value

    simplex = np.vstack(
        [x0] + [np.clip(x0 + 0.25 * np.eye(len(x0))[i] * np.sign(0.5 - x0[i] + 1e-9), 0, 1) for i in range(len(x0))]
    )
    t0 = time.perf_counter()
    result = minimize(
        objective,
        x0,
        method="Nelder-Mead",
        options={"maxiter": maxiter, "initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-3},
    )
    values = values_of(result.x)
    from sim.analysis.calibration import with_values

    final = evaluate(with_values(base, params, values), targets, agents, seeds, nuisance, values)
    return {
        "agents": agents,
        "seeds": seeds,
        "evaluations": len(evaluations),
        "seconds": round(time.perf_counter() - t0, 1),
        "loss": loss(final, targets),
        "parameters": {p["name"]: values[p["name"]] for p in params},
        "nuisance": {p["name"]: values[p["name"]] for p in nuisance},
        "results": {t.id: float(np.mean(final[t.id])) for t in targets},
    }


def _locate(lines: list[str], dotted: str) -> int:
    """Line index of a dotted key in a block-style YAML file (list items may be flow mappings)."""
    parts = dotted.split(".")
    i, indent, depth = 0, -1, 0
    while depth < len(parts):
        part = parts[depth]
        for j in range(i, len(lines)):
            stripped = lines[j].lstrip()
            this_indent = len(lines[j]) - len(stripped)
            if not stripped or stripped.startswith("#") or this_indent <= indent and j > i:
                if stripped and not stripped.startswith("#") and this_indent <= indent:
                    raise KeyError(dotted)
                continue
            if part.isdigit():
                items = [k for k in range(i, len(lines)) if lines[k].lstrip().startswith("- ")]
                k = items[int(part)]
                if depth + 1 == len(parts) - 1 and "{" in lines[k]:
                    return k  # a flow mapping: the leaf is on this line
                i, indent, depth = k + 1, len(lines[k]) - len(lines[k].lstrip()), depth + 1
                break
            if re.match(rf"{re.escape(part)}\s*:", stripped):
                if depth == len(parts) - 1:
                    return j
                i, indent, depth = j + 1, this_indent, depth + 1
                break
        else:
            raise KeyError(dotted)
    raise KeyError(dotted)


CALIBRATED_SEP = "; before calibration:"


def write_conf(fit_result: dict, note_targets: dict[str, list[str]]) -> list[str]:
    """Replace each fitted default in conf/ on its line; return what changed."""
    _, params, _ = load_targets()
    changed = []
    for p in params:
        value = fit_result["parameters"][p["name"]]
        shown = f"{value:.4g}"
        for key in p["keys"]:
            group, rest = key.split(".", 1)
            path = ROOT / "conf" / group / "default.yaml"
            lines = path.read_text(encoding="utf-8").splitlines()
            k = _locate(lines, rest)
            leaf = rest.split(".")[-1]
            code, _, comment = lines[k].partition("#")
            code = re.sub(rf"(\b{re.escape(leaf)}\s*:\s*)[-+0-9.eE]+", rf"\g<1>{shown}", code.rstrip(), count=1)
            meaning = comment.strip().split(CALIBRATED_SEP)[-1].strip()  # keep what the value means
            against = ", ".join(note_targets[p["name"]])
            note = f"calibrated against {against} (experiments/calibrate.py, docs/CALIBRATION.md)"
            lines[k] = f"{code}  # {note}{CALIBRATED_SEP} {meaning}" if meaning else f"{code}  # {note}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            changed.append(f"{key} = {shown}")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--maxiter", type=int, default=300)
    parser.add_argument("--out", type=Path, default=DATA_DIR / "calibration" / "calibration.json")
    parser.add_argument("--write-conf", action="store_true", help="make the fitted values the shipped defaults")
    args = parser.parse_args(argv)
    result = fit(args.agents, args.seeds, args.maxiter)
    targets, params, _ = load_targets()
    print(f"loss {result['loss']:.3f} after {result['evaluations']} evaluations ({result['seconds']} s)")
    for name, value in {**result["parameters"], **result["nuisance"]}.items():
        print(f"  {name:26s} {value:.4g}")
    for t in targets:
        v = result["results"][t.id]
        print(f"  {t.id:26s} model {v:.4f}  target {t.value} ± {t.tolerance}  {'ok' if t.within(v) else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.write_conf:
        for line in write_conf(result, {p["name"]: p["targets"] for p in params}):
            print(f"  wrote {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
