"""Write docs/CALIBRATION.md from the shipped posterior and its checks: what the evidence pins, what
it leaves open, and whether the fit can be trusted.

    python experiments/calibration_report.py                       # sim/data/calibration/ -> docs/
    python experiments/calibration_report.py --posterior-dir DIR --out OUT.md

Reads a posterior folder as experiments/calibrate.py writes it (posterior.csv, posterior.json and
checks.json; no simulation is run here) and writes: the method and its budget; prior against
posterior per parameter (90% intervals, their width ratio and the verdict; the parameters that no
target informs, `unfitted` in conf/calibration/targets.yaml, as prior only); each target's z-score
over the posterior predictive draws; the three checks (joint fit, identification, recovery) against
their thresholds (sim.analysis.checks), and when one fails, which targets conflict; the pairwise
posterior (docs/calibration/corner.png) and the predictive draws (docs/calibration/predictive.png);
and what remains assumption rather than data (every default in conf/ whose source says so). No
number in the report is typed by hand.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import stats

from sim.analysis import waves
from sim.analysis.calibration import Target, load_prior_only, load_targets
from sim.analysis.checks import (
    COVERAGE_BAND,
    IDENTIFIED_RATIO,
    IDENTIFIED_SHARE,
    JOINT_FIT_SHARE,
    MIN_ESS,
    identified_names,
    joint_fit_share,
    row_sample_size,
)
from sim.analysis.posterior import CHECKS_FILE, POSTERIOR_DIR, Posterior, load_posterior, weighted_quantile
from sim.reports.parameter_table import parameters

ROOT = Path(__file__).resolve().parent.parent
CONFLICT_Z = 2.0  # a target whose median |z| over the predictive draws exceeds this is named as in conflict
MOST_NAMED = 4  # at most this many targets named in a sentence on a failed check
PRIOR_LIKE = 0.9  # a posterior 90% interval at least this share of the prior's: the evidence left it about at its prior


# ---------------------------------------------------------------- reading
def load_checks(directory: Path) -> dict:
    path = Path(directory) / CHECKS_FILE
    if not path.exists():
        raise SystemExit(f"{path}: no checks (written by experiments/calibrate.py with the posterior): rerun it")
    return json.loads(path.read_text(encoding="utf-8"))


def recorded_targets(post: Posterior) -> list[Target]:
    """The targets as the fit used them (posterior.json), with their sources and scenarios from
    conf/calibration/targets.yaml."""
    conf = {t.id: t for t in load_targets()[0]}
    out = []
    for tid, t in post.provenance["targets"].items():
        known = conf.get(tid)
        out.append(Target(id=tid, anchor=t["anchor"], source=known.source if known else "(no longer in targets.yaml)",
                          value=t["value"], tolerance=t["tolerance"], scenario=known.scenario if known else {},
                          measure=known.measure if known else {}, stage=t.get("stage", 2),
                          check=t.get("check", False), one_sided=t.get("one_sided")))  # fmt: skip
    return out


def method_text() -> list[str]:
    """The method and why it was chosen: experiments/calibrate.py's docstring without its title and
    its commands (one home for the argument)."""
    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "experiments" / "calibrate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paragraphs = [p for p in (module.__doc__ or "").split("\n\n")[1:] if not p.strip().startswith("python ")]
    return [" ".join(p.split()) for p in paragraphs]


# ---------------------------------------------------------------- prior against posterior
def prior_quantile(prior: dict, q: float) -> float:
    ((kind, (low, high)),) = prior.items()
    if kind == "loguniform":
        return float(np.exp(np.log(low) + q * (np.log(high) - np.log(low))))
    return float(low + q * (high - low))


def parameter_rows(post: Posterior, checks: dict) -> list[dict]:
    """One row per parameter: inferred ones from checks.json's identification (its width ratio on
    the sampling scale, the verdict), then the `unfitted` ones, prior only."""
    nuisance = set(post.provenance.get("nuisance", []))
    best = post.provenance.get("most_probable", {})
    reasons = {p["name"]: p.get("reason", "") for p in post.parameters}
    rows, ident = [], checks["identification"]
    for r in ident["rows"]:
        name = r["name"]
        median = weighted_quantile(*post.marginal(name), 0.5) if name in post.names else float("nan")
        ess = row_sample_size(r, ident)
        unassessable = f"not assessable: effective sample size {ess:.1f} (under {MIN_ESS})"
        rows.append({
            "name": name, "stage": str(r.get("stage", 2)), "prior": r["prior"],
            "prior_90": (prior_quantile(r["prior"], 0.05), prior_quantile(r["prior"], 0.95)),
            "posterior_90": tuple(r["posterior_90"]), "median": median, "best": best.get(name, float("nan")),
            "ratio": r["ratio"], "identified": r["identified"],
            "verdict": "identified" if r["identified"] else unassessable if ess < MIN_ESS else
            ("not identified: about its prior" if r["ratio"] >= PRIOR_LIKE else "not identified: narrowed, not pinned"),
            "role": "scenario only" if name in nuisance else "shipped", "reason": reasons.get(name, ""),
        })  # fmt: skip
    for p in load_prior_only():
        rows.append({
            "name": p["name"], "stage": "-", "prior": p["prior"],
            "prior_90": (prior_quantile(p["prior"], 0.05), prior_quantile(p["prior"], 0.95)),
            "posterior_90": None, "median": float("nan"), "best": float("nan"), "ratio": float("nan"),
            "identified": False, "verdict": "prior only (no target informs it)", "role": "prior only",
            "reason": p["reason"],
        })  # fmt: skip
    return rows


def _fraction(x: float) -> str:
    return str(Fraction(x).limit_denominator(12))


def prior_only(rows: list[dict]) -> list[str]:
    """The parameters the evidence leaves about where the prior had them: no target informs them, or
    their posterior's 90% interval is still PRIOR_LIKE of the prior's or more."""
    return [r["name"] for r in rows if not r["identified"] and not r["ratio"] < PRIOR_LIKE]


def narrowed(rows: list[dict]) -> list[str]:
    return [r["name"] for r in rows if not r["identified"] and r["ratio"] < PRIOR_LIKE]


# ---------------------------------------------------------------- the checks
def joint_fit(checks: dict) -> dict:
    """The joint fit recomputed from its distances (the recorded flag is not trusted)."""
    fit = checks["joint_fit"]
    distances, k = np.asarray(fit["distances"], float), len(fit["targets"])
    share = joint_fit_share(distances, k)
    return {"share": share, "draws": len(distances), "k": k, "threshold": float(stats.chi2.ppf(0.95, k)),
            "passes": share >= JOINT_FIT_SHARE, "below": int(np.sum(distances < stats.chi2.ppf(0.95, k)))}  # fmt: skip


def identification(checks: dict) -> dict:
    """Recomputed from the rows: identified when the width ratio is under IDENTIFIED_RATIO, and only
    where its weighted sample has at least MIN_ESS effective sets (else it cannot be assessed); the
    check passes only when the stage-two sample can be assessed at all."""
    ident = checks["identification"]
    rows, ess = ident["rows"], ident["effective_sample_size"]
    assessable = ess >= MIN_ESS
    identified = len(identified_names(ident))
    return {"identified": identified, "inferred": len(rows), "ess": ess, "assessable": assessable,
            "passes": assessable and identified >= IDENTIFIED_SHARE * len(rows)}  # fmt: skip


def recovery(checks: dict) -> dict:
    rec = checks["recovery"]
    coverage = float(rec["coverage"])
    return {"coverage": coverage, "truths": rec["truths"], "per_parameter": rec["per_parameter"],
            "rounds": rec["rounds"], "sets_per_round": rec["sets_per_round"],
            "effective_sample_size": rec["effective_sample_size"],
            "passes": COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1]}  # fmt: skip


def conflicting(checks: dict, distance_targets: list[str]) -> list[tuple[str, float]]:
    """The distance targets the posterior misses most (largest median |z| over the predictive
    draws): those above CONFLICT_Z, or the three worst if none is."""
    z = {t: checks["z_scores"][t]["median"] for t in distance_targets if t in checks["z_scores"]}
    worst = sorted(z.items(), key=lambda kv: -abs(kv[1]))
    above = [kv for kv in worst if abs(kv[1]) > CONFLICT_Z]
    return (above or worst[:3])[:MOST_NAMED]


def _temperature_line(prov: dict) -> list[str]:
    temperatures = prov.get("proposal_temperatures")
    if not temperatures:
        return []
    shown = ", ".join(f"{t:.3g}" for t in temperatures)
    return [f"- the proposals' temperatures, wave 2 on (1 is the posterior itself; sim/analysis/waves.py): {shown};"]


def defaults_lines(prov: dict, distance: list[str]) -> list[str]:
    """How the shipped defaults were chosen, and how they fit on fresh runs (experiments/calibrate.py
    `_most_probable`)."""
    check = prov.get("most_probable_check")
    if not check:
        return []
    k, chosen = len(distance), check["chosen"]
    runs = np.asarray(check["distance_runs"], float)
    threshold = stats.chi2.ppf(0.95, k)
    worst = sorted(check["z_mean"].items(), key=lambda kv: -abs(kv[1]))[:MOST_NAMED]
    return [
        "### The shipped defaults",
        "",
        f"The {check['candidates']} sets of the posterior of highest emulated density, each whole (with its "
        f"stage-one draw), were simulated at {check['replicates']} fresh seeds each; the defaults are the one "
        f"of least chi-square (mean joint-fit distance over its runs plus stage one's -2 log-likelihood): "
        f"candidate {chosen + 1} (densest first), chi-square {check['chi_square'][chosen]:.1f}, of which stage "
        f"one {check['stage_one_chi_square']:.1f}. Its runs' distances D: "
        + ", ".join(f"{d:.1f}" for d in runs)
        + f" (chi-square(95%, {k}) = {threshold:.1f}: {int(np.sum(runs < threshold))} of {len(runs)} below). "
        "Its targets furthest off, mean z over the runs: " + ", ".join(f"{t} ({z:+.1f})" for t, z in worst) + ".",
        "",
    ]


def _resample_note(prov: dict, post: Posterior) -> str:
    if "resampled_draws" not in prov:
        return f"; posterior.csv: {len(post.weights):,} weighted sets"
    return (
        f"; posterior.csv: {prov['resampled_draws']:,} draws resampled from them by weight, "
        f"{len(post.weights):,} distinct sets, each weighted by its share of the draws"
    )


def _cloud_lines(prov: dict) -> list[str]:
    if "cloud_sets" not in prov:
        return []
    return [f"- the emulated cloud the posterior weighs: {prov['cloud_sets']:,} sets ({prov['emulated_rounds']} "
            "adaptive rounds after the waves' own mixture), against the table's own importance-weighted posterior "
            f"of effective sample size {prov['table_effective_sample_size']:,.1f};"]  # fmt: skip


def emulator_lines(prov: dict) -> list[str]:
    """How well the emulators (sim.analysis.emulator) learned each target, as measured on held-out sets."""
    e = prov.get("emulators")
    if not e:
        return []
    lines = [
        "## The emulators",
        "",
        f"Each distance target's mean over seeds, emulated from {e['training_sets']:,} simulated sets (those within "
        f"{e['train_within_errors']:g} errors of every target) by a quadratic mean and a Gaussian process on its "
        f"residuals (sim/analysis/emulator.py). Held out {e['folds']} ways, over the sets within "
        f"{e['error_measured_within_errors']:g} errors: the root mean square miss of a held-out run, kept whole "
        "as the emulator's error (its seed noise not taken off: conservative, sim/analysis/emulator.py says "
        "why). The posterior's kernel counts each target as known to sqrt(error^2 + emulator error^2).",
        "",
        "| target | error | seed sd | emulator error (held-out miss) |",
        "|---|---|---|---|",
    ]
    seed = prov.get("seed_sd", {})
    for tid, r in e["targets"].items():
        lines.append(f"| {tid} | {_g(r['tolerance'])} | {_g(seed.get(tid, float('nan')))} | "
                     f"{_g(r['emulator_error_sd'])} |")  # fmt: skip
    return [*lines, ""]


def pinned_combinations(post: Posterior) -> list[dict]:
    """The directions the posterior pins jointly, over the stage-two parameters: the eigenvectors of
    the weighted posterior covariance on the sampling scale with each prior's box scaled to [0, 1]
    (where the prior's sd is 1/sqrt(12) in every direction), each with its posterior sd over the
    prior's, narrowest first. A parameter can be unidentified alone yet pinned in a combination
    (present bias against giving up: what the issue's "fewer, better parameters" asks for)."""
    stage_one = set(post.stage_one_names)
    fitted = [p for p in post.parameters if p["name"] not in stage_one]
    cols = [post.names.index(p["name"]) for p in fitted]
    box = np.array([waves.to_sampling(p, _bounds(p["prior"])) for p in fitted])
    x = np.column_stack([waves.to_sampling(p, post.values[:, c]) for p, c in zip(fitted, cols, strict=True)])
    x = (x - box[:, 0]) / (box[:, 1] - box[:, 0])
    variance, vectors = np.linalg.eigh(np.cov(x.T, aweights=post.weights))
    out = []
    for k in np.argsort(variance):
        loads = vectors[:, k] * np.sign(vectors[np.argmax(np.abs(vectors[:, k])), k])
        top = np.argsort(-np.abs(loads))[:3]
        out.append({"sd_ratio": float(np.sqrt(max(variance[k], 0.0) * 12)),
                    "loadings": [(fitted[i]["name"], float(loads[i])) for i in top]})  # fmt: skip
    return out


def combination_lines(post: Posterior) -> list[str]:
    combos = pinned_combinations(post)
    pinned = [c for c in combos if c["sd_ratio"] < IDENTIFIED_RATIO]
    lines = [
        "## What the targets pin jointly",
        "",
        f"The posterior's principal directions over the {len(combos)} stage-two parameters (each prior's box scaled "
        "to [0, 1], the sampling scale): a direction whose posterior sd is under "
        f"{IDENTIFIED_RATIO:.0%} of the prior's is pinned, as a parameter is identified. {len(pinned)} of "
        f"{len(combos)} directions are pinned; the narrowest, with their three largest loadings:",
        "",
        "| posterior sd / prior sd | largest loadings |",
        "|---|---|",
    ]
    for c in combos[: max(len(pinned), 3)]:
        lines.append(f"| {c['sd_ratio']:.2f} | " + ", ".join(f"{n} {v:+.2f}" for n, v in c["loadings"]) + " |")
    return [*lines, ""]


def screening_lines(checks: dict) -> list[str]:
    """What the targets could pin at best (sim.analysis.screening), from the table's prior draws."""
    screened = checks.get("screening", {})
    if not screened.get("rows"):
        return []
    rows = sorted(screened["rows"], key=lambda r: r["best_width_ratio"])
    cannot = [r["name"] for r in rows if r["best_width_ratio"] >= IDENTIFIED_RATIO]
    out = [
        "## What the targets can pin at best",
        "",
        f"A screening of the reference table's first wave ({screened['prior_draws']} sets drawn from the prior; "
        "sim/analysis/screening.py): each parameter's main effect on each target, the standard deviation over "
        f"the prior of the target's mean given the parameter ({screened['bins']} quantile bins, the within-bin "
        "noise subtracted), in units of the target's sqrt(error^2 + seed sd^2). The *best width ratio* is the "
        "posterior 90% width over the prior's that these effects would give if the model were linear and "
        "every other parameter known: a bound, which trade-offs between parameters, the seed noise of one run "
        f"per set and a small effective sample only widen. A bound not under {IDENTIFIED_RATIO:.0%} means the "
        "targets cannot identify the parameter however many sets are simulated. A main effect does not see "
        "an effect that shows only through another parameter (an interaction): the corner figure's ridges do.",
        "",
        "| parameter | target that moves it most | its main effect (errors) | best width ratio | can be identified |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        can = "no" if r["best_width_ratio"] >= IDENTIFIED_RATIO else "at best"
        out.append(f"| {r['name']} | {r['strongest_target']} | {r['strongest_effect']:.2f} "
                   f"| {r['best_width_ratio']:.2f} | {can} |")  # fmt: skip
    out += [
        "",
        f"**Cannot be identified by these targets:** {', '.join(cannot) or 'none'} "
        f"({len(cannot)} of {len(rows)} stage-two parameters): a fit that infers only the others, these at "
        "their priors (prior only, still carried in ensembles), is the principled 'fewer parameters'.",
        "",
    ]
    return out


def conflict_lines(checks: dict) -> list[str]:
    """Which targets the simulated sets cannot meet together (sim.analysis.conflicts), from the table."""
    c = checks.get("conflicts")
    if not c:
        return []
    out = [
        "## Which targets conflict",
        "",
        f"Every set the fit simulated ({c['sets']:,}, one run each) asked which distance targets it meets "
        f"(|z| under {c['met_z']:g}, the seed sd counted; sim/analysis/conflicts.py): {c['sets_meeting_all']} "
        "meet all of them. Leaving one target out at a time: how many sets meet all the others, how many of "
        "those also meet it, and its median z among them (a z all on one side there is a conflict: where the "
        "model reaches the rest, it misses this one). Evidence from the sets simulated, not a proof.",
        "",
        "| target left out | sets meeting the rest | of which meet it | its median z there |",
        "|---|---|---|---|",
    ]
    for r in c["leave_one_out"]:
        z = "-" if r["its_median_z_there"] is None else f"{r['its_median_z_there']:+.1f}"
        out.append(f"| {r['target']} | {r['sets_meeting_the_rest']} | {r['of_which_meet_it']} | {z} |")
    out += ["", f"**The fewest targets to reconsider**: {_drops(c)}.", ""]
    return out


def _drops(c: dict) -> str:
    if not c["fewest_to_drop"]:
        return "none (enough sets meet every target)"
    return ", then ".join(
        f"{d['target']} ({d['sets_meeting_the_rest']} sets meet the rest)" for d in c["fewest_to_drop"]
    )


def _screening_sentence(checks: dict) -> str:
    rows = checks.get("screening", {}).get("rows", [])
    if not rows:
        return ""
    can = sum(r["best_width_ratio"] < IDENTIFIED_RATIO for r in rows)
    return (f" The targets could identify at best {can} of the {len(rows)} stage-two parameters (the screening "
            "below); the others are prior only whatever the sample.")  # fmt: skip


def verdict_sentences(
    fit: dict, ident: dict, rec: dict, rows: list[dict], checks: dict, distance: list[str], heaviest: float
) -> list[str]:
    """The verdicts in words; `heaviest`: the weight of the posterior's heaviest set."""
    out = []
    conflict = ", ".join(f"{t} (median z {z:+.1f})" for t, z in conflicting(checks, distance))
    if not fit["passes"]:
        out.append(f"**The joint fit fails**: only {fit['share']:.0%} of the predictive draws meet the distance "
                   f"targets together (at least {JOINT_FIT_SHARE:.0%} needed). The targets in conflict, those the "
                   f"posterior misses most: {conflict}. The model cannot meet them at once within its priors: a "
                   "mechanism or a target's setting is wrong, or a measurement error is too small."
                   + (f" Of the sets simulated, removing {_drops(checks['conflicts'])} lets the model meet the "
                      "rest (which targets conflict, below)." if checks.get("conflicts") else ""))  # fmt: skip
    if not ident["assessable"]:
        out.append(f"**Identification cannot be assessed**: the posterior's effective sample size is "
                   f"{ident['ess']:.1f} (under {MIN_ESS}): a few sets carry the weight, so its intervals are "
                   "narrow because of that, not because the targets pin anything. No stage-two parameter counts "
                   "as identified (a stage-one parameter is judged on stage one's own sample). Two things keep it "
                   "small: each set's weight rests on one run at the fit's agent count (its seed noise is the seed "
                   "sd column below), and at the errors stated the posterior rests on the few sets that fit best, "
                   "which a misfit target (the conflicts below) sharpens further; more waves find more sets near "
                   "the best (the sets not implausible, in the budget) without spreading the weight (the fit's log "
                   "prints the effective sample after each wave)." + _screening_sentence(checks))  # fmt: skip
    if fit["passes"] and not ident["assessable"]:
        out.append(f"**The joint fit passes on a posterior of effective sample size {ident['ess']:.1f}**: its "
                   f"heaviest set carries {heaviest:.0%} of the weight, so the predictive draws are mostly that "
                   "set at fresh seeds. It shows that the sets carrying the weight fit the targets together, not "
                   "that the posterior's spread is right: the recovery check says how far its intervals can be "
                   "trusted.")  # fmt: skip
    elif not ident["passes"]:
        fitted = [r for r in rows if r["posterior_90"] is not None]
        out.append(f"**Identification fails**: {ident['identified']} of {ident['inferred']} inferred parameters are "
                   f"identified (at least {_fraction(IDENTIFIED_SHARE)} needed). Narrowed but not pinned: "
                   f"{', '.join(narrowed(fitted)) or 'none'}; about their prior: "
                   f"{', '.join(prior_only(fitted)) or 'none'}. The targets inform combinations of these more "
                   "than each alone (the ridges of the corner figure): fewer or reparametrised parameters are the "
                   "remedy, not narrower errors.")  # fmt: skip
    if not rec["passes"]:
        lo, hi = COVERAGE_BAND
        worst = sorted(rec["per_parameter"].items(), key=lambda kv: abs(kv[1] - 0.9), reverse=True)[:MOST_NAMED]
        side = "too narrow (over-confident)" if rec["coverage"] < lo else "too wide"
        out.append(f"**Recovery fails**: the 90% intervals cover the truth in {rec['coverage']:.0%} of cases, "
                   f"outside {lo:.0%}-{hi:.0%}: the intervals are {side}; furthest from 90%: "
                   + ", ".join(f"{n} ({c:.0%})" for n, c in worst) + ".")  # fmt: skip
    if out and fit["passes"]:
        out.append(f"The targets the posterior misses most: {conflict}.")
    return out


# ---------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bounds(prior: dict) -> np.ndarray:
    ((_, (low, high)),) = prior.items()
    return np.array([float(low), float(high)])


def corner(post: Posterior, path: Path, draws: int = 2_000) -> None:
    """Marginals (diagonal) and pairs of `draws` draws as ensembles make them (Posterior.draws: stage
    one's parameters from its own sample), each axis the prior's range (a log-uniform prior on its
    log scale): what the posterior leaves of the prior shows at a glance."""
    plt = _plt()
    logs = {p["name"] for p in post.parameters if "loguniform" in (p.get("prior") or {})}
    sample = post.draws(draws, seed=0)
    x = np.column_stack([np.log([d[n] for d in sample]) if n in logs else [d[n] for d in sample] for n in post.names])
    labels = [f"log {n}" if n in logs else n for n in post.names]
    box = [np.log(_bounds(p["prior"])) if p["name"] in logs else _bounds(p["prior"]) for p in post.parameters]
    n = len(labels)
    fig, axes = plt.subplots(n, n, figsize=(1.0 * n, 1.0 * n), layout="constrained", squeeze=False)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(x[:, i], bins=np.linspace(*box[i], 21), color="#332288")
                ax.set_xlim(*box[i])
            else:
                ax.scatter(x[:, j], x[:, i], s=2, alpha=0.15, c="#332288", lw=0)
                ax.set_xlim(*box[j]), ax.set_ylim(*box[i])
            if i == n - 1:
                ax.set_xlabel(labels[j], fontsize=5, rotation=30)
            if j == 0:
                ax.set_ylabel(labels[i], fontsize=5, rotation=30, ha="right")
    fig.suptitle(
        f"Posterior: {draws:,} draws as ensembles make them, marginals (diagonal) and pairs; axes span the priors",
        fontsize=9,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predictive_figure(targets: list[Target], checks: dict, seed_sd: dict, path: Path) -> None:
    plt = _plt()
    shown = [t for t in targets if t.id in checks["predictive"]]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(shown) + 1.4), layout="constrained")
    for i, t in enumerate(shown):
        z = t.z_score_array(np.asarray(checks["predictive"][t.id], float), seed_sd.get(t.id, 0.0))
        z = np.clip(z, -8, 8)
        ax.barh(i, 4, left=-2, color="0.9", height=0.6)
        colour = "#999933" if t.check else "#117733" if t.stage == 1 else "#332288"
        ax.plot(z, np.full(z.size, i), "o", ms=3, color=colour, alpha=0.6)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(range(len(shown)), [f"{t.id} ({_role(t, None)})" for t in shown], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-8.5, 8.5)
    ax.set_xlabel("z = (model - target) / sqrt(error^2 + seed sd^2), clipped at 8; grey: within 2\n"
                  "one dot per posterior draw (blue: stage 2, green: stage 1, olive: check)", fontsize=8)  # fmt: skip
    ax.set_title("Posterior predictive check", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)


# ---------------------------------------------------------------- the report
def _g(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _model(values: list) -> str:
    """Median (10-90%) of the finite predictive values, and how many draws the model could not measure."""
    v = np.asarray(values, float)
    finite = v[np.isfinite(v)]
    if not finite.size:
        return f"not measured ({v.size} draws)" if v.size else "-"
    text = f"{np.median(finite):.4g} ({np.quantile(finite, 0.1):.4g} to {np.quantile(finite, 0.9):.4g})"
    return text + (f"; {v.size - finite.size} of {v.size} draws not measured" if finite.size < v.size else "")


def _role(t: Target, distance: set[str] | None) -> str:
    if t.check:
        role = "check"
    elif t.stage == 1:
        role = "stage 1"
    else:
        role = "stage 2" if distance is None or t.id in distance else "stage 2, not in the distance"
    return role + (", one-sided (at least)" if t.one_sided == "at_least" else "")


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def report(post: Posterior, checks: dict, rows: list[dict], targets: list[Target], source: Path, command: str) -> str:
    prov = post.provenance
    fit, ident, rec = joint_fit(checks), identification(checks), recovery(checks)
    distance = list(prov.get("distance_targets", checks["joint_fit"]["targets"]))
    seed_sd = prov.get("seed_sd", {})
    lo, hi = COVERAGE_BAND
    status = lambda ok: "**passes**" if ok else "**fails**"  # noqa: E731
    lines = [
        "# Calibration",
        "",
        f"Generated by `{command}` from the posterior in `{_shown(source)}/` (posterior.csv, posterior.json, "
        "checks.json, written by experiments/calibrate.py); do not edit by hand.",
        "The targets, their scenarios, measurement errors and the priors (with reasons) are data:",
        "`conf/calibration/targets.yaml`. The fit is `experiments/calibrate.py`.",
        "",
        "## Method",
        "",
        f"As recorded with the posterior: {prov['method']}.",
        "",
        *[line for p in method_text() for line in (p, "")],
        "## Budget",
        "",
        f"- {prov['total_simulations']:,} simulated parameter sets ({prov.get('waves', '?')} waves of "
        f"{prov.get('sets_per_wave', '?'):,}) at {prov['agents']:,} agents per scenario run, median "
        f"{prov['median_seconds_per_parameter_set']:.2f} s per parameter set (every stage-two scenario);",
        f"- the posterior: effective sample size {prov['effective_sample_size']:,.1f} (Kish, of the weighted sets "
        f"it was drawn from){_resample_note(prov, post)}; stage one's sample: effective sample size "
        f"{prov['stage_one_effective_sample_size']:,.1f};",
        *_cloud_lines(prov),
        f"- sets not implausible (every distance target within 3 errors): {prov.get('not_implausible_share', 0):.1%};",
        *_temperature_line(prov),
        f"- commit `{str(prov.get('git_commit', 'unknown'))[:10]}`, {prov.get('date', '?')}; "
        f"command `{prov['command']}`.",
        "",
        "## The checks",
        "",
        "| check | result | threshold | verdict |",
        "|---|---|---|---|",
        f"| joint fit | {fit['below']} of {fit['draws']} predictive draws ({fit['share']:.0%}) have D below "
        f"chi-square(95%, {fit['k']}) = {fit['threshold']:.1f} | at least {JOINT_FIT_SHARE:.0%} of draws "
        f"| {status(fit['passes'])} |",
        f"| identification | {ident['identified']} of {ident['inferred']} inferred parameters identified "
        f"| at least {_fraction(IDENTIFIED_SHARE)} (posterior 90% width under {IDENTIFIED_RATIO:.0%} of the prior's) "
        f"| {status(ident['passes'])} |",
        f"| recovery | 90% intervals cover the truth in {rec['coverage']:.0%} ({rec['truths']} synthetic datasets "
        f"x parameters) | {lo:.0%}-{hi:.0%} | {status(rec['passes'])} |",
        "",
        "D = sum over the distance targets of z^2, z = (model - target) / sqrt(error^2 + seed sd^2), each "
        "predictive draw a posterior set simulated at a fresh seed (sim/analysis/checks.py). The joint fit is "
        "recomputed here from checks.json's distances.",
        "",
        *[
            line
            for s in verdict_sentences(fit, ident, rec, rows, checks, distance, float(post.weights.max()))
            for line in (s, "")
        ],
        "## Prior and posterior per parameter",
        "",
        f"90% intervals. *Identified* when the posterior's 90% interval is under {IDENTIFIED_RATIO:.0%} of the "
        "prior's, on the sampling scale (the log of a log-uniform parameter); a parameter not identified keeps "
        "about its prior, and so do the parameters no target informs (`unfitted`): **prior only**, their "
        "uncertainty carried into every result by posterior ensembles (`uncertainty=posterior`), not resolved. "
        "The shipped defaults are the posterior's most probable set (scenario-only parameters excepted; "
        "prior-only ones keep their shipped values).",
        "",
        "| parameter | stage | prior 90% | posterior 90% | posterior median | most probable (shipped) "
        "| width ratio | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        post90 = "-" if r["posterior_90"] is None else f"{_g(r['posterior_90'][0])}-{_g(r['posterior_90'][1])}"
        shipped = _g(r["best"]) + (" (scenario only)" if r["role"] == "scenario only" else "")
        lines.append(
            f"| {r['name']} | {r['stage']} | {_g(r['prior_90'][0])}-{_g(r['prior_90'][1])} | {post90} "
            f"| {_g(r['median'])} | {shipped} | {_g(r['ratio'])} | {r['verdict']} |"
        )
    pinned = [r["name"] for r in rows if r["identified"]]
    lines += [
        "",
        f"**What the evidence pins:** {', '.join(pinned) or 'no parameter'}. "
        f"**Narrowed, not pinned:** {', '.join(narrowed(rows)) or 'none'}. "
        f"**Prior only** (a 90% interval at least {PRIOR_LIKE:.0%} of the prior's, or no target): "
        f"{', '.join(prior_only(rows)) or 'none'}. Pairs that trade off against each other "
        "show as ridges in the corner figure.",
        "",
        "![corner](calibration/corner.png)",
        "",
        *defaults_lines(prov, distance),
        *combination_lines(post),
        *emulator_lines(prov),
        *screening_lines(checks),
        *conflict_lines(checks),
        f"## Targets: z-scores over {fit['draws']} posterior predictive draws",
        "",
        "z = (model - target) / sqrt(error^2 + seed sd^2): median and 10-90% over the draws. *stage 1*: fitted "
        "by its likelihood without simulation (sim/analysis/stage_one.py), simulated here as a check; "
        "*stage 2*: in the distance; *check*: no free parameter moves it, not fitted; *one-sided*: only a "
        "model value below the target counts against the model. `seed sd` is the model's seed-to-seed "
        "standard deviation at the fit's agent count, part of each stage-two target's error.",
        "",
        "| target | anchor | role | value | error | seed sd | model median (10-90%) | z median (10-90%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        z = checks["z_scores"].get(t.id)
        model = _model(checks["predictive"].get(t.id, []))
        zs = f"{z['median']:+.2f} ({z['q10']:+.2f} to {z['q90']:+.2f})" if z else "-"
        zs = zs.replace("+1000.00", "miss").replace("-1000.00", "miss")  # an unmeasured value counts as a z of 1000
        flag = " **(off)**" if z and abs(z["median"]) > CONFLICT_Z else ""
        sd = f"{seed_sd[t.id]:.2g}" if t.id in seed_sd else "-"
        lines.append(f"| {t.id} | {t.anchor} | {_role(t, set(distance))} | {t.value:g} | {t.tolerance:g} | {sd} "
                     f"| {model} | {zs}{flag} |")  # fmt: skip
    lines += [
        "",
        "![predictive](calibration/predictive.png)",
        "",
        "## Recovery per parameter",
        "",
        f"Each synthetic dataset is a simulated set of the last wave taken as the data (its one run plus a "
        f"measurement error drawn from each target's), refitted as the real data are: the same emulators, over the "
        f"real data's cloud and {rec['rounds']} adaptive rounds of {rec['sets_per_round']:,} emulated sets of its "
        f"own (sim/analysis/emulator.py `recovery`); each fit's effective sample: median "
        f"{rec['effective_sample_size']['median']:,.0f}, least {rec['effective_sample_size']['min']:,.0f}. "
        f"Pass band {lo:.0%}-{hi:.0%} overall.",
        "",
        "| parameter | coverage of its 90% interval |",
        "|---|---|",
        *[f"| {n} | {c:.0%} |" for n, c in rec["per_parameter"].items()],
        "",
        "## Sources and scenarios",
        "",
    ]
    for t in targets:
        setting = "sets " + ", ".join(f"`{k}`" for k in t.scenario) if t.scenario else "the shipped defaults"
        lines.append(f"- **{t.id}**: {t.source}. Scenario: {setting}; measures `{t.measure}`.")
    lines += ["", "Priors and their reasons:", ""]
    lines += [f"- **{r['name']}** ({r['role']}): {r['reason']}." for r in rows]
    lines += [
        "",
        "## What is assumption rather than data",
        "",
        "Defaults in `conf/` whose source is an assumption (neither an anchor nor calibrated):",
        "",
    ]
    for p in parameters():
        source = p.source.lower()
        if "assumption" in source and "posterior" not in source:
            lines.append(f"- `{p.key}` = {p.value}: {p.source}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "CALIBRATION.md")
    parser.add_argument("--posterior-dir", type=Path, default=POSTERIOR_DIR)
    args = parser.parse_args(argv)
    post = load_posterior(args.posterior_dir)
    if "most_probable" not in post.provenance:
        raise SystemExit(f"{args.posterior_dir}: a posterior of the earlier fit (no most_probable): "
                         "rerun experiments/calibrate.py")  # fmt: skip
    checks = load_checks(args.posterior_dir)
    targets = recorded_targets(post)
    rows = parameter_rows(post, checks)
    figures = args.out.parent / "calibration"
    figures.mkdir(parents=True, exist_ok=True)
    corner(post, figures / "corner.png")
    predictive_figure(targets, checks, post.provenance.get("seed_sd", {}), figures / "predictive.png")
    command = " ".join(["python experiments/calibration_report.py", *(argv if argv is not None else sys.argv[1:])])
    args.out.write_text(report(post, checks, rows, targets, args.posterior_dir, command), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
