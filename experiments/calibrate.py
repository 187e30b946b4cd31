"""Infer a posterior over the behavioural parameters without a direct measurement, by ABC-SMC.

    python experiments/calibrate.py                      # the shipped fit: sim/data/calibration/posterior.{csv,json}
    python experiments/calibrate.py --resume             # continue the last run in outputs/calibration/abc.db
    python experiments/calibrate.py --write-conf         # also make the posterior medians the shipped defaults
    python experiments/calibrate.py --redis HOST:PORT    # evaluate on a cluster (pyabc's Redis sampler)
    python experiments/calibrate.py --conf-only          # no inference: ship the medians of the posterior there

The targets, the parameters and their priors (with reasons) are data: conf/calibration/targets.yaml.
Approximate Bayesian computation by sequential Monte Carlo (pyabc, Klinger et al. 2018): each
particle is a parameter set drawn from the prior, then from perturbed earlier particles; it is kept
when the distance between the model and the targets, sqrt(sum(((model - value) / tolerance)^2)),
falls below the generation's epsilon (--epsilon-quantile of the last generation's distances; the
first generation's, of a sample from the prior). The tolerance is each target's measurement error,
so the posterior says what else fits the evidence as well.

The shipped fit is one generation at the 12% quantile: rejection ABC, every particle of equal
weight. Further generations collapsed the importance weights when tried here (2026-11-30, 1,000
agents: effective sample size 500, 57, 14 over three generations of 500): with 15 parameters that
the targets leave mostly open, a Gaussian perturbation kernel's density varies by orders of
magnitude across the prior box, and so do the weights. Every parameter set is simulated at one
seed drawn for it (the model is stochastic; its noise is part of the likelihood ABC approximates),
all its scenarios through `sim.model.batch.simulate_many`. pyabc keeps every generation in an
SQLite database (outputs/calibration/abc.db, never in the package), so an interrupted run resumes
with --resume (a generation cut off is run again). --resume on a missing, empty or foreign
database (not this calibration's fit) says so, naming the file, and exits with status 2 before any
work, creating nothing.

The priors are `sim.analysis.priors`, the fit `sim.analysis.abc_fit`; this script is the command
line, and writes the posterior files and (--write-conf) the shipped defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from sim.analysis.calibration import load_targets
from sim.analysis.posterior import POSTERIOR_DIR, write_posterior
from sim.core.conf_yaml import ConfFile, scalar
from sim.core.provenance import software

ROOT = Path(__file__).resolve().parent.parent
DB = ROOT / "outputs" / "calibration" / "abc.db"
EXIT_NOT_RESUMABLE = 2  # --resume given a database that holds no fit of this calibration


def run_abc(args) -> tuple:
    """The fit (sim.analysis.abc_fit.run_abc) with its provenance: a resumed fit is one fit, so
    its sessions (command, wall time, simulations) are listed and summed."""
    from sim.analysis.abc_fit import run_abc as fit_abc

    parameters, values, weights, fit = fit_abc(args)
    targets, _, nuisance = load_targets()
    ran = software()
    this_session = {
        "command": "python experiments/calibrate.py " + " ".join(sys.argv[1:]),
        "wall_seconds": fit["wall_seconds"],
        "date": dt.date.today().isoformat(),
        "git_commit": ran["git"]["commit"] or "unknown",
        "timed_seconds": fit["timed_seconds"],
    }
    sessions = _earlier_sessions(args.out) if args.resume else []
    sessions.append(this_session)
    timed = [d for x in sessions for d in x["timed_seconds"]]
    db = Path(args.db)
    provenance = {
        "method": "ABC-SMC (pyabc), distance sqrt(sum(((model - value) / tolerance)^2))",
        "library": fit["library"],
        "agents": args.agents,
        "population_size": args.population,
        "generations": fit["generations"],
        "epsilon_quantile": args.epsilon_quantile,
        "epsilon_schedule": fit["epsilon_schedule"],
        "total_simulations": fit["total_simulations"],
        "effective_sample_size": fit["effective_sample_size"],
        "median_seconds_per_parameter_set": float(np.median(timed)) if timed else None,
        "timed_parameter_sets": len(timed),
        "wall_seconds": round(sum(x["wall_seconds"] for x in sessions), 1),
        "seed": args.seed,
        "cores": args.cores,
        "batch": None if args.redis else args.batch,
        "git_commit": this_session["git_commit"],
        "date": this_session["date"],
        "database": str(db.relative_to(ROOT)) if db.is_relative_to(ROOT) else str(db),
        "command": " && ".join(x["command"] for x in sessions),
        "sessions": sessions,
        "targets": {t.id: {"value": t.value, "tolerance": t.tolerance, "anchor": t.anchor} for t in targets},
        "nuisance": [p["name"] for p in nuisance],
        "software": ran,  # Python, package versions, the commit with its dirty flag
    }
    return parameters, values, weights, provenance


def _earlier_sessions(out: Path) -> list[dict]:
    """The sessions recorded with the posterior a resumed run continues (none if there is none)."""
    meta = Path(out) / "posterior.json"
    if not meta.exists():
        return []
    return json.loads(meta.read_text(encoding="utf-8")).get("sessions", [])


CALIBRATED_SEP = "; before calibration:"


def write_conf(
    medians: dict[str, float], note_targets: dict[str, list[str]], conf_dir: Path = ROOT / "conf"
) -> list[str]:
    """Make each calibrated default in conf/ its posterior median (4 significant digits) and say so
    in its line's comment, keeping what the value meant before calibration; return what changed.
    Read and written through sim.core.conf_yaml: every other byte of each file stays as it was."""
    _, params, _ = load_targets()
    files: dict[Path, ConfFile] = {}
    changed = []
    for p in params:
        shown = f"{medians[p['name']]:.4g}"
        against = ", ".join(note_targets[p["name"]])
        note = f"posterior median, calibrated against {against} (experiments/calibrate.py, docs/CALIBRATION.md)"
        for key in p["keys"]:
            group, rest = key.split(".", 1)
            path = conf_dir / group / "default.yaml"
            if path not in files:
                files[path] = ConfFile.read(path)
            meaning = files[path].comment(rest).split(CALIBRATED_SEP)[-1].strip()  # keep what the value means
            files[path].set(rest, scalar(shown), f"{note}{CALIBRATED_SEP} {meaning}" if meaning else note)
            changed.append(f"{key} = {shown}")
    for path, conf in files.items():
        conf.write(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000, help="agents per scenario run (see docs/CALIBRATION.md)")
    parser.add_argument("--population", type=int, default=500, help="particles per generation (the posterior's size)")
    parser.add_argument("--generations", type=int, default=1, help="1: rejection ABC (see above)")
    parser.add_argument("--max-simulations", type=int, default=20_000, help="stop after this many parameter sets")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop starting generations after this")
    parser.add_argument(
        "--min-acceptance-rate",
        type=float,
        default=0.0,
        help="stop (keeping the last whole generation) when a generation would need more than population/rate sets",
    )
    parser.add_argument(
        "--epsilon-quantile",
        type=float,
        default=0.12,
        help="each threshold is this quantile of the previous distances (the first: of a prior sample)",
    )
    parser.add_argument("--min-epsilon", type=float, default=1.0, help="stop when the distance threshold is this low")
    parser.add_argument("--cores", type=int, default=None, help="local processes (default: all cores)")
    parser.add_argument(
        "--batch", type=int, default=32, help="particles each local process simulates together (sim.model.batch)"
    )
    parser.add_argument("--redis", help="HOST:PORT of a Redis server: evaluate on pyabc's Redis workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-sets", type=int, default=4, help="parameter sets timed in the main process")
    parser.add_argument("--db", type=Path, default=DB, help="pyabc's database (resumable)")
    parser.add_argument("--resume", action="store_true",
                        help=f"continue the fit in --db (exit {EXIT_NOT_RESUMABLE} if it holds none)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=POSTERIOR_DIR, help="where posterior.csv and .json go")
    parser.add_argument("--write-conf", action="store_true", help="make the posterior medians the shipped defaults")
    parser.add_argument("--conf-only", action="store_true", help="no inference: ship the medians of --out")
    args = parser.parse_args(argv)
    if args.conf_only:
        return _write_medians(args.out)
    if args.cores is None:
        import os

        args.cores = len(os.sched_getaffinity(0))
    from sim.analysis.abc_fit import NotResumable

    try:
        parameters, values, weights, provenance = run_abc(args)
    except NotResumable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_RESUMABLE
    write_posterior(args.out, parameters, values, weights, provenance)
    print(
        f"posterior: {len(weights)} weighted parameter sets after {provenance['generations']} generations, "
        f"{provenance['total_simulations']} simulations, {provenance['wall_seconds']} s -> {args.out}"
    )
    return _write_medians(args.out) if args.write_conf else 0


def _write_medians(directory: Path) -> int:
    from sim.analysis.posterior import load_posterior

    _, params, _ = load_targets()
    medians = load_posterior(directory).median()
    for line in write_conf(medians, {p["name"]: p["targets"] for p in params}):
        print(f"  wrote {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
