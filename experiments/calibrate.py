"""Calibrate the model to its targets in two stages (docs/CALIBRATION.md).

    python experiments/calibrate.py                    # the shipped fit -> sim/data/calibration/
    python experiments/calibrate.py --max-minutes 100  # stop starting chunks after this (resume later)
    python experiments/calibrate.py --write-conf       # also ship the posterior's most probable set as the defaults
    python experiments/calibrate.py --conf-only        # no inference: ship the most probable set of --out

The targets, the parameters and their priors (with reasons) are data: conf/calibration/targets.yaml.
Stage one (sim.analysis.stage_one) fits, by likelihood, what needs no simulation: the prompt
answers (ANCHORS 1, 12, 13) and a hidden layer's difficulty (ANCHORS 3). Stage two infers the
dynamic behaviour from the simulated targets with stage one's sample as the prior of its
parameters. It simulates a reference table in waves of adaptive importance sampling (each wave's
proposal fitted to the sets so far, weighted by the table's own ABC posterior with a tempered
kernel: sim.analysis.waves), then emulates each target's mean over seeds from the whole table (a
quadratic mean and a Gaussian process on its residuals, its error measured on held-out sets:
sim.analysis.emulator), and weighs a cloud of half a million emulated sets by prior / proposal x a
Gaussian kernel of the targets' measurement errors and the emulators' errors. The shipped defaults
are the most probable of the emulated sets of highest posterior density, each simulated at fresh seeds
(`_most_probable`); every check simulates the posterior's draws afresh rather than trust the
emulators.

Stage one's parameters are drawn from stage one's own sample wherever the posterior is used
(ensembles, the predictive checks, the sensitivity ranges): a cut posterior (Plummer 2015;
sim.analysis.posterior).
Each stage-two set carries the one stage-one draw it was simulated (or emulated) with; the cut keeps
stage two's targets from re-weighing what stage one's likelihood says of those parameters. The
defaults are one set as simulated, its stage-one draw included (a draw from stage one's sample, as
every set's is), chosen with stage one's likelihood counted.

Why this method (measured here, 2026-12-01 and 02): a parameter set costs about 2.2 s through the
twelve stage-two scenarios (two of them 4 and 17 years long) at 12,000 agents on 2 workers, so a
fit affords a few thousand sets. ABC-SMC with pyabc (the method before) collapsed its importance
weights over generations with 15 parameters (effective sample size 500, 57, 14) and its rejection
variant left the prior in place. Waves whose proposals were fitted to history matching's
not-implausible region (the fit until 2026-12-02) left an effective sample of 8.8 from 3,600 sets:
that region is far wider than the posterior, and at 3,000 agents each set's one run carried a seed
noise of 0.6-1.2 of the targets' errors. So the fit now runs at 12,000 agents (four times the
agents halve the seed noise for about 1.7 times the cost per set, where replicate runs would cost
four times) and tempers its proposals toward the posterior; the reference table the waves leave is
what the recovery check refits, so that check costs no simulations. The refit of 2026-12-03 (the
first without the nuisance defect, docs/INFERENCE.md) measured what tempering does not cure: from the
fifth wave on, the posterior's effective sample stayed between 1 and 8 while the sets not implausible
grew from 29 of 2,000 to 141 of 4,000; at the errors stated the table's own posterior rests on the few
sets whose one run fit best (an effective sample of 1.3), so no interval could be read from it and
its recovery check covered 57%. The emulators (2026-12-04) learn each target's mean from all 4,000
runs at once, so the seed noise averages out over neighbouring sets instead of choosing the winner:
on the same table the emulated posterior has an effective sample in the thousands, with no new
simulation. History matching's emulators were chosen over ABC-SMC or neural posterior estimation
because the table was already simulated (both would need new simulations, and sbi needs torch)
and because an emulator's held-out error is a measured number the kernel can carry. Its cost: about
two minutes to train the emulators (2 cores) and three to weigh the cloud.

Everything is resumable: the table is kept chunk by chunk in --store (sim/data/calibration/table/, shipped);
run the same command again to go on. Then the checks (joint fit, identification, recovery)
are computed and written with the posterior (sim/data/calibration/checks.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from sim.analysis.calibration import CALIBRATED_SEP, load_targets, shipped_raw
from sim.analysis.posterior import CHECKS_FILE, POSTERIOR_DIR, write_posterior
from sim.core.conf_yaml import ConfFile, scalar
from sim.core.files import write_json
from sim.core.provenance import software

ROOT = Path(__file__).resolve().parent.parent
STORE = POSTERIOR_DIR / "table"  # the reference table, shipped: the posterior can be checked and the fit resumed


def fit(args) -> int:
    from sim.analysis import emulator, waves
    from sim.analysis.checks import calibration_checks
    from sim.analysis.posterior import effective_sample_size, systematic
    from sim.analysis.stage_one import StageOne

    started = time.perf_counter()
    targets, parameters, nuisance = load_targets()
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    base = _fit_base(store)
    stage_file = store / "stage_one.npz"
    one = StageOne(targets, parameters, base, seed=args.seed)
    if not stage_file.exists():
        x1, w1 = one.sample(args.stage_one_draws, np.random.default_rng([args.seed, 1]))
        np.savez(stage_file, x=x1, w=w1)
    with np.load(stage_file) as z:
        x1, w1 = z["x"], z["w"]
    print(f"stage one: {len(w1)} weighted sets, effective sample size {1 / np.sum(w1**2):.0f}")
    table = waves.ReferenceTable(
        store, targets, parameters, nuisance, (one.parameters, x1, w1), args.agents, args.seed, base
    )
    table.check_store()
    seed_sd = _seed_sd(table, store, args)
    proposals, temperatures = [waves.Proposal(table.bounds)], []  # temperatures: wave 2 on
    deadline = started + 60 * args.max_minutes if args.max_minutes else None
    for wave in range(1, args.waves + 1):
        if wave > 1:
            t = table.table()
            t = {k: v[t["wave"] < wave] for k, v in t.items()}
            proposal, temperature = _proposal(store, wave, table, t, proposals, seed_sd)
            w = waves.posterior_weights(table.targets, t["y"], t["u"], t["wave"], proposals, table.bounds, seed_sd)
            keep = waves.not_implausible(table.targets, t["y"], seed_sd)
            print(f"after wave {wave - 1}: {keep.sum()} of {len(keep)} sets not implausible, posterior's effective "
                  f"sample {1 / np.sum(w**2):.1f}; wave {wave} proposal at temperature {temperature:.3g}")  # fmt: skip
            proposals.append(proposal)
            temperatures.append(temperature)
        if deadline and time.perf_counter() > deadline:
            print("--max-minutes reached: run the same command again to go on")
            return 3
        table.run_wave(wave, proposals[-1], args.sets_per_wave, args.chunk, args.workers)
    write_json(store / "proposals.json", [q.to_json() for q in proposals])
    t = table.table()
    t = {k: v[t["wave"] <= args.waves] for k, v in t.items()}  # a later wave cut off (fewer --waves) is left out
    table_w = waves.posterior_weights(table.targets, t["y"], t["u"], t["wave"], proposals, table.bounds, seed_sd)
    table_ess = effective_sample_size(table_w)
    print(f"the table's own importance-weighted posterior: effective sample {table_ess:.1f}")
    emulators = emulator.Emulators(table, t, seed_sd, args.seed)
    sample = emulator.cloud(emulators, t, proposals, args.cloud, args.emulated_rounds, args.seed)
    w = sample.weights(table.targets, emulators.error_sd)
    kept, multiplicity = np.unique(systematic(w, args.resample, args.seed, stream=2), return_counts=True)
    names = table.fitted + one.parameters
    values = np.array([[v[p["name"]] for p in names] for v in table.values_of(sample.u[kept], sample.row[kept])])
    ess = effective_sample_size(w)
    print(f"posterior: {len(sample.u)} emulated sets, effective sample size {ess:.0f}; resampled to {args.resample} "
          f"draws, {len(kept)} distinct sets written")  # fmt: skip
    stage_one_names = [p["name"] for p in one.parameters]
    stage_one_loglik = np.array([one.log_likelihood(dict(zip(stage_one_names, x, strict=True))) for x in x1])
    log_density = sample.log_kernel(table.targets, emulators.error_sd) + stage_one_loglik[sample.row]
    best, best_check = _most_probable(table, sample, log_density, one, seed_sd, args)
    print(
        f"most probable: candidate {best_check['chosen'] + 1} of {best_check['candidates']} (densest first), "
        f"chi-square {best_check['chi_square'][best_check['chosen']]:.1f} over {args.replicates} fresh runs"
    )
    ran = software()
    provenance = {
        "method": "two stages: likelihood (stage one); a reference table simulated in tempered waves of adaptive "
        "importance sampling, emulated per target (a quadratic mean and a Gaussian process on its residuals), and "
        "the posterior by importance sampling over a cloud of emulated sets with a Gaussian kernel of the "
        "measurement errors and the emulators' errors (stage two; sim.analysis.emulator)",
        "agents": args.agents,
        "waves": args.waves,
        "sets_per_wave": args.sets_per_wave,
        "total_simulations": int(len(t["u"])),
        "proposal_temperatures": temperatures,  # wave 2 on (wave 1 is the prior)
        "not_implausible_share": float(np.mean(waves.not_implausible(table.targets, t["y"], seed_sd))),
        "effective_sample_size": ess,  # of the whole emulated cloud, what the posterior is worth
        "resampled_draws": args.resample,  # posterior.csv: the cloud resampled (its weights: each set's share)
        "table_effective_sample_size": table_ess,  # the table's own ABC weights
        "cloud_sets": int(len(sample.u)),
        "emulated_rounds": args.emulated_rounds,
        "cloud_proposals": [q.to_json() for q in sample.proposals[len(proposals) :]],  # the rounds' (after the waves')
        "cloud_counts": np.bincount(sample.label, minlength=len(sample.proposals) + 1)[1:].tolist(),  # per proposal
        "emulators": emulators.record(),
        "stage_one_effective_sample_size": float(1 / np.sum(w1**2)),
        "median_seconds_per_parameter_set": float(np.median(t["seconds"])),
        "seed": args.seed,
        "workers": args.workers,
        "wall_seconds_this_session": round(time.perf_counter() - started, 1),
        # the reference table's simulation time as its chunks measured it (a worker's seconds, summed over the
        # sets; over --workers, about its wall time): the files' own times do not survive a checkout
        "table_worker_seconds": round(float(np.sum(t["seconds"])), 1),
        "date": dt.date.today().isoformat(),
        "git_commit": ran["git"]["commit"] or "unknown",
        "command": "python experiments/calibrate.py " + " ".join(args.argv),
        "targets": {
            x.id: {
                "value": x.value,
                "tolerance": x.tolerance,
                "anchor": x.anchor,
                "stage": x.stage,
                "check": x.check,
                "one_sided": x.one_sided,
            }
            for x in targets
        },  # fmt: skip
        "distance_targets": [x.id for x in table.targets],
        "seed_sd": dict(zip([x.id for x in table.targets], map(float, seed_sd), strict=True)),
        "nuisance": [p["name"] for p in nuisance],
        "most_probable": best,
        "most_probable_check": best_check,
        "software": ran,
    }
    kept_one = w1 > 1e-12 * w1.max()
    stage_one = ([p["name"] for p in one.parameters], x1[kept_one], w1[kept_one])
    log_w = np.log(np.maximum(w[kept], 1e-300))
    write_posterior(args.out, names, values, multiplicity, provenance, stage_one, {"cloud_log_weight": log_w})
    checks = calibration_checks(table, t, emulators, sample, seed_sd, args)
    write_json(Path(args.out) / CHECKS_FILE, checks)
    print(f"checks: joint fit {checks['joint_fit']['share']:.0%} of predictive draws, "
          f"identified {checks['identification']['identified']}/{checks['identification']['inferred']}, "
          f"recovery {checks['recovery']['coverage']:.0%} -> {args.out}")  # fmt: skip
    return _write_most_probable(args.out) if args.write_conf else 0


def _proposal(store: Path, wave: int, table, t: dict, proposals: list, seed_sd: np.ndarray):
    """Wave `wave`'s proposal and temperature: as kept in the store when the wave was first drawn, so
    that a resumed fit weighs every set by the density it was drawn from whatever the code says now;
    else fitted to the table so far (sim.analysis.waves.next_proposal) and kept."""
    from sim.analysis import waves

    path = store / f"proposal_wave{wave}.json"
    if path.exists():
        kept = json.loads(path.read_text(encoding="utf-8"))
        return waves.Proposal.from_json(table.bounds, kept), kept["temperature"]
    proposal, temperature = waves.next_proposal(table.bounds, t["u"], t["wave"], proposals, table.targets, t["y"],
                                                seed_sd)  # fmt: skip
    write_json(path, {**proposal.to_json(), "temperature": temperature})
    return proposal, temperature


def _fit_base(store: Path) -> dict:
    """The shipped config the fit started from (kept in the store): a resumed fit goes on from the
    same one, and says so if conf/ has changed since."""
    path = store / "base.json"
    now = shipped_raw()
    if not path.exists():
        write_json(path, now)
        return now
    base = json.loads(path.read_text(encoding="utf-8"))
    if json.loads(json.dumps(now, default=str)) != base:
        print(f"note: conf/ has changed since this fit started; it goes on from the config it started with ({path})")
    return base


def _seed_sd(table, store: Path, args) -> np.ndarray:
    """Each stage-two target's seed noise at the prior's centre of the dynamic parameters and stage
    one's most probable set, from `args.noise_seeds` seeds (kept in the store)."""
    path = store / "seed_sd.json"
    if path.exists():
        return np.array(json.loads(path.read_text())["sd"])
    from sim.analysis.waves import _simulate_chunk

    centre = table.bounds.mean(axis=1)
    row = int(np.argmax(table.stage_one_weights))
    values = table.values_of(np.tile(centre, (args.noise_seeds, 1)), np.full(args.noise_seeds, row))
    seeds = list(range(10_000, 10_000 + args.noise_seeds))
    params = table.fitted + table.stage_one_parameters
    out = _simulate_chunk((values, seeds, table.targets, table.nuisance, params, args.agents, table.base))["outputs"]
    y = np.array([[o[t.id] for t in table.targets] for o in out])
    sd = np.nan_to_num(np.nanstd(y, axis=0, ddof=1)) if len(y) > 1 else np.zeros(len(table.targets))
    write_json(path, {"targets": [t.id for t in table.targets], "sd": sd.tolist(), "seeds": seeds})
    return sd


def write_conf(
    medians: dict[str, float], note_targets: dict[str, list[str]], conf_dir: Path = ROOT / "conf"
) -> list[str]:
    """Make each calibrated default in conf/ its value in `medians` (the posterior's most probable set,
    4 significant digits) and say so in its line's comment, keeping what the value meant before
    calibration; return what changed.
    Read and written through sim.core.conf_yaml: every other byte of each file stays as it was."""
    _, params, _ = load_targets()
    files: dict[Path, ConfFile] = {}
    changed = []
    for p in params:
        shown = f"{medians[p['name']]:.4g}"
        against = ", ".join(note_targets[p["name"]])
        note = f"posterior's most probable set, calibrated against {against} (experiments/calibrate.py, docs/CALIBRATION.md)"  # noqa: E501
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
    parser.add_argument("--agents", type=int, default=12_000, help="agents per scenario run (see docs/CALIBRATION.md)")
    parser.add_argument("--waves", type=int, default=10, help="waves (the shipped fit: 10; more go on from the table)")
    parser.add_argument(
        "--sets-per-wave", type=int, default=400, help="parameter sets simulated per wave (the shipped fit: 400)"
    )
    parser.add_argument("--chunk", type=int, default=24, help="sets simulated together (one batch, one file)")
    parser.add_argument("--workers", type=int, default=2, help="local processes")
    parser.add_argument("--stage-one-draws", type=int, default=2_000, help="stage one's importance sample")
    parser.add_argument("--noise-seeds", type=int, default=8, help="seeds for the targets' seed noise")
    parser.add_argument("--cloud", type=int, default=emulator_default("CLOUD"), help="emulated sets per round")
    parser.add_argument(
        "--emulated-rounds",
        type=int,
        default=emulator_default("ROUNDS"),
        help="adaptive rounds of the emulated cloud after the first",
    )
    parser.add_argument(
        "--resample",
        type=int,
        default=10_000,
        help="draws of the emulated cloud written to posterior.csv (systematic resampling)",
    )
    parser.add_argument("--predictive-draws", type=int, default=48, help="posterior draws for the joint-fit check")
    parser.add_argument("--recovery-truths", type=int, default=100, help="synthetic datasets for the recovery check")
    parser.add_argument("--recovery-cloud", type=int, default=emulator_default("RECOVERY_CLOUD"),
                        help="emulated sets per round of each synthetic dataset's own fit")  # fmt: skip
    parser.add_argument("--recovery-rounds", type=int, default=emulator_default("RECOVERY_ROUNDS"),
                        help="adaptive rounds of a synthetic dataset's own fit, after the real cloud")  # fmt: skip
    parser.add_argument(
        "--candidates",
        type=int,
        default=16,
        help="sets of highest emulated density simulated afresh to choose the defaults",
    )
    parser.add_argument("--replicates", type=int, default=4, help="fresh runs per candidate for the defaults")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop starting waves after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", type=Path, default=STORE, help="the reference table (resumable)")
    parser.add_argument("--out", type=Path, default=POSTERIOR_DIR, help="where posterior.csv, .json and checks.json go")
    parser.add_argument("--write-conf", action="store_true", help="make the most probable set the shipped defaults")
    parser.add_argument("--conf-only", action="store_true", help="no inference: ship the most probable set of --out")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command as given, for the provenance
    if args.conf_only:
        return _write_most_probable(args.out)
    return fit(args)


def emulator_default(name: str) -> int:
    from sim.analysis import emulator

    return getattr(emulator, name)


def _most_probable(table, sample, log_density: np.ndarray, one, seed_sd: np.ndarray, args) -> tuple[dict, dict]:
    """The shipped defaults, and the check that chose them. The `--candidates` sets of the emulated
    cloud `sample` of highest emulated posterior density (`log_density`: the emulated kernel plus
    stage one's log-likelihood; not the importance weight, whose prior / proposal factor says how
    thinly a set's region was drawn, not how probable the set is), each whole (its stage-two values
    with its stage-one draw), are simulated at `--replicates` fresh seeds; the most probable is the
    one of least chi-square: the mean over its runs of the joint-fit distance over stage two's
    targets, plus stage one's -2 log-likelihood of its draw (the priors are flat on the sampling
    scale, so this is the posterior's density up to a constant). Why not simply the densest emulated
    set: the emulators only estimate the model; and why not a mix of a set's stage-two values with
    stage one's most likely draw (the defaults until 2026-12-02): that mix was never simulated, so
    nothing said how it fits."""
    from sim.analysis.checks import simulate_sets

    order = np.argsort(log_density, kind="stable")[::-1][: args.candidates]
    candidates = table.values_of(sample.u[order], sample.row[order])
    runs = [v for v in candidates for _ in range(args.replicates)]
    rng = np.random.default_rng([args.seed, 98])
    seeds = [int(s) for s in rng.integers(2**31, 2**32 - 1, size=len(runs))]
    model = simulate_sets(table, runs, seeds, table.targets, args.workers)
    z = np.column_stack([x.z_score_array(model[x.id], sd) for x, sd in zip(table.targets, seed_sd, strict=True)])
    z_runs = z.reshape(len(candidates), args.replicates, len(table.targets))  # [candidate, run, target]
    distance = np.sum(z_runs**2, axis=2)
    stage_one = [p["name"] for p in one.parameters]
    stage_one_chi2 = -2 * np.array([one.log_likelihood({k: v[k] for k in stage_one}) for v in candidates])
    chi2 = distance.mean(axis=1) + stage_one_chi2
    best = int(np.argmin(chi2))
    check = {
        "candidates": len(candidates),
        "replicates": args.replicates,
        "seeds": seeds[best * args.replicates : (best + 1) * args.replicates],
        "chi_square": chi2.tolist(),  # per candidate, densest first
        "chosen": best,
        "distance_runs": distance[best].tolist(),  # the chosen set's joint-fit distance, run by run
        "z_mean": dict(zip([x.id for x in table.targets], map(float, z_runs[best].mean(axis=0)), strict=True)),
        "stage_one_chi_square": float(stage_one_chi2[best]),
    }
    return candidates[best], check


def _write_most_probable(directory: Path) -> int:
    from sim.analysis.posterior import load_posterior

    _, params, _ = load_targets()
    best = load_posterior(directory).provenance["most_probable"]
    for line in write_conf(best, {p["name"]: p["targets"] for p in params}):
        print(f"  wrote {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
