"""Everything the brief's template prints, gathered from the sweeps and the project's reports.

`build_context` returns one dict: the question, the findings (sim.brief.findings), a table per
setting combination of the first sweep, the figures the findings refer to, the drivers of each
finding from the sensitivity analysis, methods (sample size, precision, calibration), assumptions
with their sources, limitations and reproducibility. A part whose data is absent is
{"missing": why}, which the template prints instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.analysis.calibration import CALIBRATED_SEP
from sim.analysis.posterior import CHECKS_FILE, PosteriorError, load_posterior
from sim.analysis.sensitivity import NOISE_WARN, SPEC_FILE, load_spec
from sim.brief.findings import POLICY, build_findings
from sim.brief.numbers import Quantity, Register, table_factor
from sim.brief.sources import MissingData, Sweep
from sim.model.config import validate_config
from sim.model.policy import region_phases
from sim.model.regions import ALL, REGIONS
from sim.reports.parameter_table import format_value, parameters
from sim.reports.plot import series_label, slug
from sim.run.compose import CONF_DIR, get_key

TABLE_COLUMNS = (  # metric, header, kind
    ("enrolled_share", "Enrolled", "share"),
    ("opted_out_share", "Opted out", "share"),
    ("opted_in_share", "Opted in", "share"),
    ("consent_gap_share", "Consent gap", "share"),
    ("dataset_profiles", "Profiles", "count"),
    ("dataset_text_tokens", "Text tokens", "count"),
    ("dataset_face_images", "Face images", "count"),
    ("dataset_other_images", "Other images", "count"),
    ("dataset_from_objectors_share", "Text from later objectors", "share"),
)
# The figures of `python -m sim.reports.plot` each finding refers to, with their captions.
FIGURES = {
    "training_set": {
        "dataset_by_type": "The training set of the whole membership by data type, per policy",
        "opt_out_curves": "Share of eligible members who opted out, per region and policy",
    },
    "objectors": {
        "consent_gap_{baseline}": "The consent gap under {baseline} and its parts, per region",
        "objector_data": "Share of the training set's text from members who later opted out",
    },
    "faces": {"face_share": "Face-image share of new posts, per face boost and policy"},
    "retroactive": {"objector_data": "Share of the training set's text from later objectors, with and without removal"},
    "publicity": {
        "publicity_daily_opt_outs": "Opt-outs per day after a national story, with and without the steps printed"
    },
}
# The sensitivity analysis's output behind each finding (docs/sensitivity/*.csv, "policy/group/metric").
DRIVER_OUTPUTS = {
    "training_set": "dataset_text_tokens",
    "objectors": "consent_gap_share",
    "faces": "dataset_face_images",
}
TOP_DRIVERS = 3
MIN_TOTAL_INDEX = 0.05  # assumption: below 5% of the output's variance a parameter is not called a driver
TARGETS_FILE = CONF_DIR / "calibration" / "targets.yaml"
RATIO_MEASURES = {"layer_ratio", "flow_ratio", "share_ratio", "prompt_log_odds_ratio"}  # targets that are not shares


PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) that holds sim/


def _shown(path: Path) -> str:
    """A path as the reader should see it: relative to the working folder when under it, else to the
    project (the packaged calibration and sensitivity results: sim/data/...), never this machine's."""
    path = Path(path).resolve()
    for root in (Path.cwd(), PROJECT_ROOT):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def lookup(config, dotted: str):
    """A dotted config key's value (list indices included), or None where the config has none."""
    try:
        return get_key(config, dotted)
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def _safe(part, *args):
    try:
        return part(*args)
    except MissingData as why:
        return {"missing": str(why)}


# ---------------------------------------------------------------- question
def question(sweeps: list[Sweep], baseline: str) -> dict:
    policies = {}
    for sweep in sweeps:
        for name, config in sweep.configs.items():
            policies.setdefault(name, config["policy"].get("description", ""))
    first = next(iter(sweeps[0].configs.values()), {})
    order = sorted(policies, key=lambda n: (n != baseline, n))
    return {
        "policies": [{"name": n, "description": policies[n], "baseline": n == baseline} for n in order],
        "regions": [{"code": r.code, "name": r.name} for r in REGIONS],
        "start": _day(first.get("start")),
        "horizons": sorted({f"{s.horizon:%-d %B %Y}" for s in sweeps}),
        "compared": sorted({v for s in sweeps for v in s.varying}),
        "sweeps": [s.name for s in sweeps],
    }


def _day(value) -> str:
    return f"{pd.Timestamp(value):%-d %B %Y}" if value else "unknown"


# ---------------------------------------------------------------- tables
def tables(sweep: Sweep, baseline: str) -> dict:
    """One table per setting combination of the sweep: every region on the horizon day."""
    varying = sweep.varying or [POLICY]
    combos = sweep.reduced[varying].drop_duplicates().itertuples(index=False, name=None)
    combos = sorted(combos, key=lambda c: (dict(zip(varying, c, strict=True)).get(POLICY) != baseline, c))
    regions = [r.code for r in REGIONS] + [ALL]
    cells = {}
    for combo in combos:
        chosen = dict(zip(varying, combo, strict=True))
        for metric, _, kind in TABLE_COLUMNS:
            for region in regions:
                cells[combo, metric, region] = sweep.get(metric, region, kind=kind, **chosen)
    factors = {}
    for metric, _, kind in TABLE_COLUMNS:
        if kind == "count":
            factors[metric] = table_factor([q.median for (_, m, _), q in cells.items() if m == metric])
    columns = [
        {"header": f"{header} ({factors[m][1]})" if kind == "count" and factors[m][1] else header}
        for m, header, kind in TABLE_COLUMNS
    ]
    out = []
    for combo in combos:
        chosen = dict(zip(varying, combo, strict=True))
        regimes = _regimes_at(sweep, chosen.get(POLICY, sweep.default_of(POLICY)))
        rows = []
        for region in regions:
            row = [regimes.get(region, "")]
            for metric, _, _ in TABLE_COLUMNS:
                row.append(cells[combo, metric, region].cell(factors.get(metric, (1.0, ""))[0]))
            rows.append({"region": region, "cells": row})
        out.append({"label": series_label(varying, combo), "settings": chosen, "rows": rows})
    return {"sweep": sweep.name, "date": f"{sweep.horizon:%-d %B %Y}", "columns": columns, "tables": out}


def _regimes_at(sweep: Sweep, policy: str) -> dict[str, str]:
    """Each region's regime on the horizon day under the policy ("default_on", "excluded", ...)."""
    config = sweep.configs.get(policy)
    if config is None:
        return {}
    day = sweep.horizon.date()
    out = {}
    for code, phases in region_phases(validate_config(config).policy).items():
        phase = [p for p in phases if p.start is None or p.start <= day][-1]
        out[code] = phase.regime.replace("_", " ") + ("" if phase.training else " (not training)")
    return out


# ---------------------------------------------------------------- figures
def figures(sweeps: list[Sweep], findings: dict, baseline: str) -> list[dict]:
    """The sweep figures each available finding refers to, numbered in order of first mention."""
    from sim.reports.plot import plot

    out, seen, plotted = [], {}, set()
    for finding, names in FIGURES.items():
        data = findings[finding]
        if "missing" in data:
            continue
        sweep = next(s for s in sweeps if s.name == data["sweep"])
        refs = []
        for name, caption in names.items():
            file_name = name.format(baseline=slug(_gap_label(sweep, baseline)))
            path = sweep.path / "figures" / f"{file_name}.png"
            if not path.exists() and sweep.name not in plotted:
                plot(sweep.path)  # draws every figure of the sweep (sim.reports.plot)
                plotted.add(sweep.name)
            if not path.exists():
                continue  # e.g. no opt-in curves when nobody can opt in
            key = (sweep.name, file_name)
            if key not in seen:
                seen[key] = len(out) + 1
                out.append(
                    {
                        "number": seen[key],
                        "path": path,
                        "file": f"{sweep.name}_{file_name}.png",
                        "caption": caption.format(baseline=_gap_label(sweep, baseline)) + f" (sweep {sweep.name}).",
                    }
                )
            refs.append(seen[key])
        data["figures"] = refs
    return out


def _gap_label(sweep: Sweep, baseline: str) -> str:
    """The label sim.reports.plot gives the baseline's consent-gap figure."""
    varying = sweep.varying or [POLICY]
    held = sweep.held(**({POLICY: baseline} if baseline in sweep.values(POLICY) else {}))
    return series_label(varying, tuple(held.get(v, sweep.default_of(v)) for v in varying))


# ---------------------------------------------------------------- drivers (sensitivity analysis)
def drivers(sensitivity_dir: Path | None, findings: dict, baseline: str, register: Register) -> dict:
    if sensitivity_dir is None:
        raise MissingData("No sensitivity analysis was given (--sensitivity DIR).")
    files = {n: Path(sensitivity_dir) / n for n in ("sobol.csv", "morris.csv", "sensitivity.json")}
    absent = [str(p) for p in files.values() if not p.exists()]
    if absent:
        raise MissingData(f"The sensitivity analysis's results are not there: {', '.join(absent)}.")
    sobol, morris = pd.read_csv(files["sobol.csv"]), pd.read_csv(files["morris.csv"])
    design = json.loads(files["sensitivity.json"].read_text())
    policy = baseline if baseline in design.get("policies", []) else design["policies"][0]
    spec = load_spec() if SPEC_FILE.exists() else {}
    groups = spec.get("region_groups", {})
    per_finding = {}
    for finding, metric in DRIVER_OUTPUTS.items():
        entries = []
        for output in sorted(
            o for o in sobol.output.unique() if o.startswith(f"{policy}/") and o.endswith(f"/{metric}")
        ):
            group = output.split("/")[1]
            top = sobol[(sobol.output == output) & (sobol.ST >= MIN_TOTAL_INDEX)]
            top = top.sort_values("ST", ascending=False).head(TOP_DRIVERS)
            ranked = morris[morris.output == output].sort_values("mu_star", ascending=False).parameter.head(TOP_DRIVERS)
            entries.append(
                {
                    "group": group,
                    "regions": ", ".join(groups.get(group, [])) or group,
                    "sobol": [_driver(files["sobol.csv"], output, row, register) for row in top.itertuples()],
                    "morris": list(ranked),
                    **_seed_noise(files["sobol.csv"], sobol, output, register),
                }
            )
        per_finding[finding] = entries or {"missing": f"The sensitivity analysis has no output {policy}/*/{metric}."}
    for finding in findings:
        per_finding.setdefault(finding, {"missing": "The sensitivity analysis has no output for this finding."})
    return {
        "policy": policy,
        "agents": design.get("agents"),
        "morris_runs": design.get("morris_runs"),
        "sobol_runs": design.get("sobol_runs"),
        "n_parameters": design.get("n_parameters"),
        "command": design.get("command", ""),
        "posterior": design.get("posterior"),  # which fit its ranges came from (None: not recorded)
        "ranges_from_posterior": design.get("ranges_from_posterior", []),
        "dir": _shown(sensitivity_dir),
        "findings": per_finding,
    }


def _seed_noise(source: Path, sobol: pd.DataFrame, output: str, register: Register) -> dict:
    """The share of the output's spread over parameter sets that another population draw does not
    reproduce (sim.analysis.sensitivity.seed_noise); None where the analysis did not measure it."""
    values = sobol.loc[sobol.output == output, "seed_noise"] if "seed_noise" in sobol else pd.Series(dtype=float)
    if values.dropna().empty:
        return {"seed_noise": None, "noisy": False}
    value = float(values.iloc[0])
    quantity = Quantity(value, value, value, 1, "index", f"seed-noise share of {output}", str(source),
                        {"output": output, "column": "seed_noise"}, register)  # fmt: skip
    return {"seed_noise": quantity, "noisy": value > NOISE_WARN}


def _driver(source: Path, output: str, row, register: Register) -> dict:
    def index(column: str) -> Quantity:
        value = float(getattr(row, column))
        selector = {"output": output, "parameter": row.parameter, "column": column}
        return Quantity(value, value, value, 1, "index", f"Sobol {column} of {row.parameter} for {output}",
                        str(source), selector, register)  # fmt: skip

    return {"parameter": row.parameter, "st": index("ST"), "st_conf": index("ST_conf"), "s1": index("S1")}


# ---------------------------------------------------------------- methods
def methods(sweeps: list[Sweep], calibration_dir: Path | None, register: Register) -> dict:
    main = sweeps[0]
    first = next(iter(main.configs.values()), {})
    members = float(lookup(first, "population.members") or 0)
    agents = main.agents()
    out = {
        "agents": f"{agents:,}" if agents else "varies between runs",
        "members": _members(members),
        "members_per_agent": f"{members / agents:,.0f}" if agents and members else "unknown",
        "replicates": min(s.replicates() for s in sweeps),
        "band": main.band_width("enrolled_share"),
        "calibration": _safe(calibration, calibration_dir, sweeps, register),
        "ensembles": ensembles(sweeps),
        "problems": [text for text in (incomplete(sweep) for sweep in sweeps) if text],
    }
    return out


def incomplete(sweep: Sweep) -> str | None:
    """A sentence on a sweep's jobs that failed, never finished or duplicated another (runs.csv)."""
    counts = sweep.index.status.value_counts()
    parts = [f"{int(counts[s])} {s}" for s in ("failed", "missing", "duplicate") if counts.get(s, 0)]
    if not parts:
        return None
    ok = int(counts.get("ok", 0))
    return (
        f"Sweep {sweep.name}: {', '.join(parts)} of {len(sweep.index)} jobs; its numbers come from the {ok} complete "
        f"runs only (see {sweep.file('runs.csv')})."
    )


def _members(members: float) -> str:
    return f"{members / 1e6:,.0f} million" if members >= 1e6 else f"{members:,.0f}"


def calibration(calibration_dir: Path | None, sweeps: list[Sweep], register: Register) -> dict:
    """The posterior's provenance and what it is worth: its effective sample size, the three checks
    (joint fit, identification, recovery; sim.analysis.checks) and the parameters that keep their
    prior, from posterior.json and checks.json (experiments/calibrate.py writes both)."""
    from sim.analysis.calibration import load_prior_only
    from sim.analysis.checks import (
        COVERAGE_BAND,
        IDENTIFIED_SHARE,
        JOINT_FIT_SHARE,
        identified_names,
        joint_fit_share,
    )

    if calibration_dir is None:
        raise MissingData("No calibration results were given (--calibration DIR).")
    try:
        post = load_posterior(Path(calibration_dir))
    except PosteriorError as why:  # missing (NoPosterior) or damaged
        raise MissingData(f"The calibration results cannot be used: {why}.") from why
    check_file = Path(calibration_dir) / CHECKS_FILE
    prov = post.provenance
    if not check_file.exists() or "most_probable" not in prov:
        raise MissingData(f"No calibration checks in {_shown(Path(calibration_dir))} ({CHECKS_FILE} and the most "
                          "probable set in posterior.json): the posterior is from an earlier fit; run "
                          "experiments/calibrate.py.")  # fmt: skip
    checks = json.loads(check_file.read_text(encoding="utf-8"))
    meta, checks_source = str(Path(calibration_dir) / "posterior.json"), str(check_file)

    def recorded(value: float, kind: str, what: str, source: str, selector: dict) -> Quantity:
        return Quantity(value, value, value, 1, kind, what, source, selector, register)

    spec = yaml.safe_load(TARGETS_FILE.read_text())
    targets = []
    for t in spec["targets"]:
        if t["id"] not in checks["predictive"]:
            continue
        kind = "index" if RATIO_MEASURES & t["measure"].keys() else "share"
        v = np.asarray(checks["predictive"][t["id"]], float)
        v = v[np.isfinite(v)]

        def point(value: float, key: str, kind=kind, target=t["id"]) -> Quantity:
            return recorded(value, kind, f"calibration {key} of {target}", str(TARGETS_FILE),
                            {"target": target, "key": key})  # fmt: skip

        z = checks["z_scores"][t["id"]]
        model = None
        if v.size:
            q10, median, q90 = (float(x) for x in np.quantile(v, [0.1, 0.5, 0.9]))
            model = Quantity(median, q10, q90, v.size, kind, f"posterior predictive values of {t['id']}",
                             checks_source, {"part": "predictive", "target": t["id"]}, register)  # fmt: skip
        zq = Quantity(z["median"], z["q10"], z["q90"], len(checks["predictive"][t["id"]]), "index",
                      f"z-score of {t['id']} over posterior predictive draws", checks_source,
                      {"part": "z_scores", "target": t["id"]}, register)  # fmt: skip
        role = "check" if t.get("check") else f"stage {t.get('stage', 2)}"
        role += ", one-sided" if t.get("one_sided") else ""
        targets.append({"id": t["id"], "anchor": t["anchor"], "source": t["source"], "model": model, "z": zq,
                        "role": role, "target": point(t["value"], "value"),
                        "tolerance": point(t["tolerance"], "tolerance"), "off": abs(z["median"]) > 2})  # fmt: skip

    # the joint fit, recomputed from its distances (the recorded flag is not what the brief reports)
    fit = checks["joint_fit"]
    k = len(fit["targets"])
    share = joint_fit_share(np.asarray(fit["distances"], float), k)
    joint = recorded(share, "share", f"share of posterior predictive distances below chi2.ppf(0.95, {k})",
                     checks_source, {"check": "joint_fit", "statistic": "share below chi2.ppf(0.95, k)"})  # fmt: skip
    rows = checks["identification"]["rows"]
    pinned = identified_names(checks["identification"])  # 90% width under half the prior's, from enough sets
    assessable = checks["identification"].get("assessable", True)  # too few effective stage-two sets: cannot tell
    identified = recorded(len(pinned), "count", "parameters identified", checks_source,
                          {"check": "identification", "key": "identified"})  # fmt: skip
    inferred = recorded(len(rows), "count", "parameters inferred", checks_source,
                        {"check": "identification", "key": "inferred"})  # fmt: skip
    rec = checks["recovery"]
    coverage = recorded(rec["coverage"], "share", "recovery coverage of the 90% intervals", checks_source,
                        {"check": "recovery", "key": "coverage"})  # fmt: skip
    conflicts = sorted(
        (t for t in targets if t["off"] and t["id"] in fit["targets"]), key=lambda t: -abs(t["z"].median)
    )

    # Do the runs use the shipped values (the posterior's most probable set, 4 significant figures in conf/)?
    best, differing = prov["most_probable"], []
    for sweep in (s for s in sweeps if s.uncertainty is None):  # an ensemble's runs use the draws
        for config in sweep.configs.values():
            for p in post.shipped_parameters:
                used = lookup(config, p["keys"][0])
                used = used.get("default") if isinstance(used, dict) else used
                if isinstance(used, int | float) and not math.isclose(used, best[p["name"]], rel_tol=1e-3):
                    differing.append(
                        f"{p['keys'][0]} = {used} (posterior's most probable {best[p['name']]:.4g}) in {sweep.name}"
                    )
    nuisance = set(prov.get("nuisance", []))
    return {
        "agents": f"{prov['agents']:,}",
        "evaluations": recorded(
            prov["total_simulations"], "count", "simulated parameter sets", meta, {"key": "total_simulations"}
        ),
        "method": prov["method"],
        "sets": len(post.weights),
        "stage_one": list(post.stage_one_names),  # drawn from stage one's own sample (the cut)
        "effective": recorded(
            prov["effective_sample_size"],
            "count",
            "effective sample size of the posterior",
            meta,
            {"key": "effective_sample_size"},
        ),
        "stage_one_effective": recorded(
            prov["stage_one_effective_sample_size"],
            "count",
            "effective sample size of stage one's sample",
            meta,
            {"key": "stage_one_effective_sample_size"},
        ),
        "draws": len(fit["distances"]),
        "distance_targets": k,
        "joint": joint,
        "joint_passes": share >= JOINT_FIT_SHARE,
        "joint_needed": f"{JOINT_FIT_SHARE:.0%}",
        "identified": identified,
        "inferred": inferred,
        "identification_passes": assessable and len(pinned) >= IDENTIFIED_SHARE * len(rows),
        "identification_assessable": assessable,
        "identification_needed": "two thirds",
        "coverage": coverage,
        "truths": rec["truths"],
        "recovery_passes": COVERAGE_BAND[0] <= rec["coverage"] <= COVERAGE_BAND[1],
        "recovery_band": f"{COVERAGE_BAND[0]:.0%}\u2013{COVERAGE_BAND[1]:.0%}",
        "fitted": [p["name"] for p in post.shipped_parameters],
        "scenario_only": sorted(nuisance),
        "not_identified": [r["name"] for r in rows if r["name"] not in pinned | nuisance],
        "unfitted": [p["name"] for p in load_prior_only()],
        "conflicts": conflicts,
        "targets": targets,
        "differing": sorted(set(differing)),
        "file": _shown(Path(calibration_dir) / "posterior.csv"),
    }


def ensembles(sweeps: list[Sweep]) -> dict:
    """Where the intervals come from: posterior draws and seeds, or seeds only (said plainly)."""
    with_draws = [s for s in sweeps if s.uncertainty is not None]
    if not with_draws:
        return {"posterior": False}
    split = pd.concat([s.uncertainty for s in with_draws], ignore_index=True)
    share = split["behavioural_share"].dropna()
    ratio = (split["width_all"] / split["width_seeds_only"]).replace([np.inf, -np.inf], np.nan).dropna()
    return {
        "posterior": True,
        "sweeps": [s.name for s in with_draws],
        "draws": int(split["draws"].min()),
        "seeds": int(split["seeds"].min()),
        "behavioural_share": f"{share.median():.0%}" if len(share) else None,
        "wider": f"{ratio.median():.1f}" if len(ratio) else None,
    }


# ---------------------------------------------------------------- assumptions, limitations, reproducibility
def assumptions(sweeps: list[Sweep]) -> dict:
    """The uncertain behavioural parameters (those the sensitivity analysis varies) with the values
    the runs used and their sources from conf/."""
    spec = load_spec() if SPEC_FILE.exists() else {"parameters": []}
    sources = {p.key: p for p in parameters()}
    meanings = parameter_meanings()
    config = next(iter(sweeps[0].configs.values()), {})
    rows = []
    for entry in spec["parameters"]:
        key = entry["keys"][0]
        shipped = sources.get(key) or sources.get(key.rsplit(".", 1)[0])
        source = shipped.source if shipped else "not in conf/ (see docs/ODD.md)"
        rows.append({
            "key": key,
            # what it is, in words: targets.yaml's reason, else what conf/ says it meant before calibration
            "meaning": meanings.get(entry["name"]) or _meaning(source.split(CALIBRATED_SEP)[-1]),
            "value": format_value(lookup(config, key)),
            "source": source,
        })  # fmt: skip
    return {"rows": rows, "n_parameters": len(sources)}


def _meaning(comment: str) -> str:
    """What a conf/ comment says a value is, without its "assumption:" label (the Source column has it)."""
    return re.sub(r"^assumption[^:]*:\s*", "", comment.strip())


def parameter_meanings() -> dict[str, str]:
    """Each parameter of conf/calibration/targets.yaml (inferred, scenario-only or prior only) in
    words: its reason up to the first colon or full stop ("chance a visiting member with intent
    tries today (present bias)")."""
    spec = yaml.safe_load(TARGETS_FILE.read_text())
    entries = [*spec.get("parameters", []), *spec.get("nuisance", []), *spec.get("unfitted", [])]
    return {p["name"]: re.split(r": |\. ", p.get("reason", ""), maxsplit=1)[0] for p in entries}


def _all_on(sweeps: list[Sweep], switch: str) -> bool | None:
    """True if every run config of the sweeps has `switch` on, False if none has, None if mixed."""
    values = {bool(lookup(c, switch)) for s in sweeps for c in s.configs.values()}
    return values.pop() if len(values) == 1 else None


def model_limitations(sweeps: list[Sweep]) -> list[str]:
    """What the model leaves out, said for the behaviours these runs had on (docs/ODD.md §11)."""
    concern, membership = _all_on(sweeps, "concern.enabled"), _all_on(sweeps, "membership.enabled")
    out = [
        {
            True: "Preferences move only among the indifferent, who object while coverage lasts (docs/ODD.md "
            "§7.13); objectors and accepters keep theirs over the horizon.",
            False: "Preferences are fixed over the horizon (the concern mechanism is off in these runs).",
            None: "Preferences move with coverage in some runs and are fixed in others (the concern switch "
            "differs between them).",
        }[concern],
        {
            True: "Membership changes: members join, members aged 16-17 turn 18 and enter, dormant accounts "
            "close (docs/ODD.md §7.15); nobody returns after closing.",
            False: "Membership is fixed: nobody joins or leaves, and minors never age into eligibility (the "
            "membership mechanism is off in these runs).",
            None: "Membership changes in some runs and is fixed in others (the membership switch differs).",
        }[membership],
        "A region may offer several opt-out routes at once (the settings toggle and the objection form), "
        "and members try them in an order of their own (docs/ODD.md §7.6).",
        "What a model provider does with the data after ingestion is not modelled.",
    ]
    if any(c.get("policy", {}).get("name") == "linkedin_actual" for s in sweeps for c in s.configs.values()):
        out.append(
            "Under the real policy the UK's 2024 data rests on an assumption: its training phase ended with the "
            "suspension after two days, and the model's first pull of a region comes `training.first_pull_lag_days` "
            "after the phase starts (an assumption; posterior runs draw it from its prior; docs/ODD.md §7.8), so "
            "whether the UK's backlog was pulled before the suspension is the assumption's, not the evidence's."
        )
    return out


def limitations(sweeps: list[Sweep], findings: dict, context_drivers: dict, calibration_dir: Path | None) -> list[str]:
    """The limitations: the model's, for the behaviours these runs had on, then those of what was run."""
    out = model_limitations(sweeps)
    stale = _sensitivity_over_another_posterior(context_drivers, calibration_dir)
    if stale:
        out.append(stale)
    replicates = min(s.replicates() for s in sweeps)
    if replicates < 10:
        out.append(
            f"The fewest replicates of a setting is {replicates}: an interval from {replicates} replicate"
            f"{'s' if replicates > 1 else ''} is a coarse estimate of the spread."
        )
    seed_only = [s.name for s in sweeps if s.uncertainty is None]
    if seed_only:
        out.append(
            f"The intervals of {', '.join(seed_only)} come from seed replicates only and leave out the "
            "behavioural parameters' uncertainty (see the calibration and the drivers sections); "
            "`uncertainty=posterior` runs add it."
        )
    agents = {s.agents() for s in sweeps}
    if any(a is not None and a < 100_000 for a in agents):
        smallest = sorted(REGIONS, key=lambda r: r.members_millions)[:2]
        out.append(
            f"The runs sample fewer than 100,000 agents: the smallest regions ({', '.join(r.name for r in smallest)}) "
            "rest on the per-region floor of agents, and their figures are the least precise."
        )
    if "missing" not in context_drivers and context_drivers.get("agents"):
        out.append(
            f"The sensitivity analysis ran at {context_drivers['agents']:,} agents at the shipped defaults "
            f"for the policy {context_drivers['policy']}; its rankings describe that setting, not every run here."
        )
    for name, data in findings.items():
        if "missing" in data:
            out.append(f"Finding '{name.replace('_', ' ')}' is not given: {data['missing']}")
    return out


def reproducibility(sweeps: list[Sweep], brief_command: str) -> dict:
    out = []
    for sweep in sweeps:
        prov = sweep.provenance
        commands = sorted({_command(p.get("command", "")) for p in prov})
        commits = sorted({(p.get("git") or {}).get("commit") or "unknown" for p in prov})
        dirty = any((p.get("git") or {}).get("dirty") for p in prov)
        packages = {}
        for p in prov:
            for name, version in (p.get("packages") or {}).items():
                packages.setdefault(name, set()).add(str(version))
        out.append(
            {
                "name": sweep.name,
                "path": str(sweep.path),
                "commands": commands or ["unknown (no provenance.json)"],
                "seeds": ", ".join(str(s) for s in sweep.seeds()),
                "runs": int((sweep.index.status == "ok").sum()),
                "failed": int((sweep.index.status == "failed").sum()),
                "missing": int((sweep.index.status == "missing").sum()),
                "duplicate": int((sweep.index.status == "duplicate").sum()),
                "commits": commits,
                "dirty": dirty,
                "python": ", ".join(sorted({p.get("python", "?") for p in prov})),
                "packages": ", ".join(f"{n} {'/'.join(sorted(v))}" for n, v in sorted(packages.items())),
            }
        )
    return {"sweeps": out, "brief_command": brief_command}


def _command(recorded: str) -> str:
    """A run's command line as typed (older run folders recorded the script name, run.py)."""
    parts = recorded.split(" ", 1)
    if parts and parts[0] in ("run.py", "__main__.py"):  # sim/run/__main__.py (earlier: sim/run.py)
        return "python -m sim.run " + (parts[1] if len(parts) > 1 else "")
    return recorded


def _sensitivity_over_another_posterior(context_drivers: dict, calibration_dir: Path | None) -> str | None:
    """A sentence when the sensitivity analysis's ranges came from another posterior than the
    calibration this brief reports (its posterior.csv's hash), or when it does not say which."""
    if "missing" in context_drivers or not context_drivers.get("ranges_from_posterior") or calibration_dir is None:
        return None
    meta = Path(calibration_dir) / "posterior.json"
    if not meta.exists():
        return None
    current = json.loads(meta.read_text(encoding="utf-8")).get("csv_sha256")
    used = context_drivers.get("posterior")
    if used is None:
        return ("The sensitivity analysis does not record which posterior its parameter ranges came from: "
                "its rankings may describe an earlier fit.")  # fmt: skip
    if used.get("csv_sha256") != current:
        return (f"The sensitivity analysis's parameter ranges come from another posterior (the fit of "
                f"{used.get('date', 'an unknown date')} whose posterior.csv has sha256 {used['csv_sha256'][:12]}), "
                "not the one reported here: its rankings describe that fit; `python experiments/sensitivity.py` "
                "reruns it over this one.")  # fmt: skip
    return None


# ---------------------------------------------------------------- the whole context
def build_context(
    sweeps: list[Sweep],
    baseline: str,
    sensitivity_dir: Path | None,
    calibration_dir: Path | None,
    date: dt.date,
    brief_command: str,
    title: str,
) -> dict:
    register = sweeps[0].register
    found = build_findings(sweeps, baseline)
    figure_list = figures(sweeps, found, baseline)
    context_drivers = _safe(drivers, sensitivity_dir, found, baseline, register)
    return {
        "title": title,
        "date": f"{date:%-d %B %Y}",
        "baseline": baseline,
        "question": question(sweeps, baseline),
        "findings": found,
        "tables": _safe(tables, sweeps[0], baseline),
        "figures": figure_list,
        "drivers": context_drivers,
        "methods": methods(sweeps, calibration_dir, register),
        "assumptions": assumptions(sweeps),
        "limitations": limitations(sweeps, found, context_drivers, calibration_dir),
        "reproducibility": reproducibility(sweeps, brief_command),
    }
