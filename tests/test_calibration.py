"""The calibration (conf/calibration/targets.yaml, experiments/calibrate.py): targets and priors as
data, the shipped posterior and its checks, the checks able to fail, its most probable set as the
defaults, and the fit itself end to end on a tiny budget (resumable)."""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sim.analysis import checks, emulator, waves
from sim.analysis.calibration import Target, load_prior_only, load_targets, shipped_raw, with_values
from sim.analysis.posterior import CHECKS_FILE, POSTERIOR_DIR, load_posterior
from sim.core.compose import get_key, set_key

ROOT = Path(__file__).resolve().parent.parent
TARGETS, PARAMETERS, NUISANCE = load_targets()
NEW_TARGETS = ("care_data_objections", "mes_personal_notice", "elga_objections", "elga_story_ratio",
               "dmp_opt_in_unasked", "leave_versus_post_less", "pooled_default_odds_ratio",
               "equal_effort_refusal")  # fmt: skip


@functools.cache
def _posterior():
    return load_posterior()


@functools.cache
def _checks() -> dict:
    return json.loads((POSTERIOR_DIR / CHECKS_FILE).read_text(encoding="utf-8"))


def _support(prior: dict) -> tuple[float, float]:
    ((kind, (low, high)),) = prior.items()
    assert kind in ("uniform", "loguniform")
    return low, high


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- targets and priors as data
def test_every_target_names_its_anchor_and_every_parameter_its_prior_reason_and_targets():
    ids = {t.id for t in TARGETS}
    assert len(ids) == len(TARGETS)
    assert all(t.anchor.startswith("ANCHORS") and t.source and t.tolerance > 0 for t in TARGETS)
    assert all(t.stage in (1, 2) and t.one_sided in (None, "at_least") for t in TARGETS)
    for p in PARAMETERS + NUISANCE + load_prior_only():
        low, high = _support(p["prior"])
        assert low < high and len(p["reason"]) > 20 and p["keys"], p["name"]
    assert all(set(p["targets"]) <= ids for p in PARAMETERS)
    assert all(set(p["scenarios"]) <= ids for p in NUISANCE)
    fitted = {p["name"] for p in PARAMETERS + NUISANCE}
    assert not fitted & {p["name"] for p in load_prior_only()}  # a parameter is fitted or prior only, not both


def test_every_anchors_10_to_13_target_is_there_with_a_source_and_an_error():
    by_id = {t.id: t for t in TARGETS}
    assert set(NEW_TARGETS) <= set(by_id)
    for tid in NEW_TARGETS:
        t = by_id[tid]
        assert t.anchor in ("ANCHORS 10", "ANCHORS 11", "ANCHORS 12", "ANCHORS 13"), tid
        assert len(t.source) > 40 and t.tolerance > 0 and np.isfinite(t.value), tid
    assert by_id["equal_effort_refusal"].one_sided == "at_least"  # a floor (ANCHORS 13)
    assert by_id["pooled_default_odds_ratio"].stage == by_id["equal_effort_refusal"].stage == 1


def test_johnson_and_goldsteins_errors_are_the_binomial_error_of_about_54_people():
    """161 people in three arms: each share's error is sqrt(p (1 - p) / 54), 0.05 to 0.07."""
    arms = [t for t in TARGETS if t.id.startswith("jg_")]
    assert len(arms) == 3
    for t in arms:
        assert 0.05 <= t.tolerance <= 0.07, t.id
        assert t.tolerance == pytest.approx(np.sqrt(t.value * (1 - t.value) / 54), abs=0.001), t.id


def test_scenario_settings_replace_rather_than_merge():
    raw = shipped_raw()
    set_key(raw, "population.login_segments", {"daily": {"share": 1.0, "rate_per_day": 24.0}})
    assert list(raw["population"]["login_segments"]) == ["daily"]
    changed = with_values(raw, PARAMETERS, {"try_prob": 0.123})
    assert get_key(changed, "friction.try_prob") == 0.123
    assert get_key(raw, "friction.try_prob") != 0.123  # the input is not modified


# ---------------------------------------------------------------- the shipped posterior and its checks
def test_the_shipped_posterior_is_a_weighted_sample_inside_the_priors_with_its_checks():
    post = _posterior()
    assert post.provenance["method"].startswith("two stages")
    assert np.isclose(post.weights.sum(), 1.0) and (post.weights >= 0).all()
    priors = {p["name"]: p["prior"] for p in PARAMETERS + NUISANCE}
    assert set(post.names) == set(priors) == set(post.provenance["most_probable"])
    for j, name in enumerate(post.names):
        low, high = _support(priors[name])
        assert (post.values[:, j] >= low).all() and (post.values[:, j] <= high).all(), name
    # posterior.csv: the emulated cloud resampled by weight, each distinct set weighted by its share of the draws
    draws = post.provenance["resampled_draws"]
    np.testing.assert_allclose(post.weights * draws, np.round(post.weights * draws), atol=1e-4)
    assert post.effective_sample_size() <= draws and post.provenance["effective_sample_size"] <= draws
    assert (POSTERIOR_DIR / CHECKS_FILE).exists()
    assert not (POSTERIOR_DIR / "predictive.json").exists()  # one format: checks.json


# The fit of 2026-12-01 failed this (0 of 48 draws: no set met mhr_window_end with the 8-week figure,
# care.data and the DMP's opt-in at once); the model changed (issue 26: a deadline's cue, visits made
# to act, the GP letter) and the refit of 2026-12-02 passed, but with the nuisance defect
# (docs/INFERENCE.md); without it, 5 waves gave 15% (it failed), 10 waves passed (98%) on a posterior
# whose heaviest set carried 88% of the weight; the emulated posterior of 2026-12-04 (effective sample
# 2,899) passes with 67%. The check can fail: see test_the_joint_fit_fails_when_the_model_misses_the_targets.
def test_the_shipped_posterior_fits_the_targets_jointly():
    """At least half the posterior predictive draws have their distance below chi-square's 95% point
    with one degree per distance target, recomputed here from the recorded distances."""
    fit = _checks()["joint_fit"]
    assert fit["targets"] == _posterior().provenance["distance_targets"]
    distances = np.asarray(fit["distances"], float)
    share = float(np.mean(distances < stats.chi2.ppf(0.95, len(fit["targets"]))))
    assert len(distances) >= 20
    assert share >= 0.5, f"joint fit: {share:.0%} of {len(distances)} draws below chi2.ppf(0.95, {len(fit['targets'])})"


def test_the_shipped_identification_and_recovery_verdicts_are_as_recorded():
    """The recorded verdicts follow from the recorded numbers: a parameter is identified when its
    width ratio is under 1/2, the posterior when at least 2/3 are; recovery passes inside 80-95%."""
    recorded = _checks()
    ident = recorded["identification"]
    assert {r["name"] for r in ident["rows"]} == {p["name"] for p in PARAMETERS + NUISANCE}
    assessable = ident["effective_sample_size"] >= checks.MIN_ESS
    assert ident["assessable"] == assessable
    assert all(r["identified"] == (assessable and r["ratio"] < 0.5) for r in ident["rows"])
    identified = sum(r["identified"] for r in ident["rows"])
    assert ident["identified"] == identified and ident["inferred"] == len(ident["rows"])
    assert ident["passes"] == (assessable and identified >= 2 / 3 * len(ident["rows"]))
    rec = recorded["recovery"]
    assert rec["passes"] == (0.8 <= rec["coverage"] <= 0.95)
    fitted = [p["name"] for p in PARAMETERS if p.get("stage") != 1] + [p["name"] for p in NUISANCE]
    assert set(rec["per_parameter"]) == set(fitted)
    assert rec["coverage"] == pytest.approx(np.mean(list(rec["per_parameter"].values())), abs=1e-9)


def test_the_shipped_defaults_are_the_posteriors_most_probable_set_and_say_so():
    from sim.reports.parameter_table import parameters

    raw, best = shipped_raw(), _posterior().provenance["most_probable"]
    sources = {p.key: p.source for p in parameters()}
    for p in PARAMETERS:
        for key in p["keys"]:
            value = get_key(raw, key)
            value = value["default"] if isinstance(value, dict) else value
            assert value == float(f"{best[p['name']]:.4g}"), key
            assert sources[key].startswith("posterior's most probable set"), f"{key}: {sources[key]}"


# The defaults until 2026-12-02 could not be checked so: they joined the heaviest set's stage-two
# values to stage one's most likely draw, a mix never simulated; the choice is now a whole set,
# checked on fresh runs.
def test_the_shipped_defaults_fit_the_targets_jointly_on_fresh_runs():
    """The set shipped as the defaults, simulated at fresh seeds when it was chosen, has a mean
    joint-fit distance below chi-square's 95% point (the joint-fit check's threshold) and is one set
    whole: its stage-one values are one draw of stage one's sample, never a mix of marginals."""
    post = _posterior()
    check, best = post.provenance["most_probable_check"], post.provenance["most_probable"]
    k = len(post.provenance["distance_targets"])
    assert len(check["distance_runs"]) >= 2
    assert np.mean(check["distance_runs"]) < stats.chi2.ppf(0.95, k), check["distance_runs"]
    row = np.array([best[n] for n in post.stage_one_names])
    assert np.isclose(post.stage_one_values, row, rtol=1e-6, atol=0).all(axis=1).any()  # the CSV keeps 8 digits


def _shipped_table():
    """The reference table the shipped fit left (sim/data/calibration/table/), its sets, proposals and seed noise."""
    store = POSTERIOR_DIR / "table"
    prov = _posterior().provenance
    with np.load(store / "stage_one.npz") as z:
        x1, w1 = z["x"], z["w"]
    base = json.loads((store / "base.json").read_text())
    stage_one = [p for p in PARAMETERS if p.get("stage") == 1]
    table = waves.ReferenceTable(store, TARGETS, PARAMETERS, NUISANCE, (stage_one, x1, w1), prov["agents"],
                                 prov["seed"], base)  # fmt: skip
    t = table.table()
    t = {k: v[t["wave"] <= prov["waves"]] for k, v in t.items()}
    proposals = [waves.Proposal(table.bounds)]
    for wave in range(2, prov["waves"] + 1):
        kept = json.loads((store / f"proposal_wave{wave}.json").read_text())
        proposals.append(waves.Proposal.from_json(table.bounds, kept))
    seed_sd = np.array(json.loads((store / "seed_sd.json").read_text())["sd"])
    return table, t, proposals, seed_sd


def test_the_shipped_posterior_follows_from_the_shipped_reference_table():
    """The reference table the fit left (every simulated set, each wave's proposal, the seed noise)
    and the emulators' recorded hyperparameters give posterior.csv's weights again, with nothing
    simulated: each kept set's weight is prior / mixture x the kernel of its emulated means, up to
    one constant. The shipped posterior can be checked, and the fit resumed, from a clean checkout."""
    table, t, proposals, seed_sd = _shipped_table()
    post, prov = _posterior(), _posterior().provenance
    assert len(t["u"]) == prov["total_simulations"]
    table_w = waves.posterior_weights(table.targets, t["y"], t["u"], t["wave"], proposals, table.bounds, seed_sd)
    assert 1 / np.sum(table_w**2) == pytest.approx(prov["table_effective_sample_size"], rel=1e-6)
    emulators = emulator.Emulators(table, t, seed_sd, prov["seed"], recorded=prov["emulators"])
    rounds = [waves.Proposal.from_json(table.bounds, q) for q in prov["cloud_proposals"]]
    names = post.names
    u = np.column_stack([waves.to_sampling(p, post.values[:, names.index(p["name"])]) for p in table.fitted])
    one = np.column_stack([waves.to_sampling(p, post.values[:, names.index(p["name"])])
                           for p in table.stage_one_parameters])  # fmt: skip
    heaviest = np.argsort(post.weights)[::-1][:2_000]  # enough to tell, at a test's cost
    y = emulators.predict(u[heaviest], stage_one=one[heaviest])
    log_ratio = waves.log_importance(u[heaviest], None, proposals + rounds, table.bounds, prov["cloud_counts"])
    log_kernel = -0.5 * np.sum(waves.z_scores(table.targets, y, emulators.error_sd) ** 2, axis=1)
    recorded = pd.read_csv(POSTERIOR_DIR / "posterior.csv")["cloud_log_weight"].to_numpy()[heaviest]
    gap = recorded - (log_ratio + log_kernel)  # one constant: the cloud's normalisation
    assert np.ptp(gap) < 1e-4, np.ptp(gap)


# ---------------------------------------------------------------- the checks can fail
def _target(tid: str, value: float, tolerance: float, **extra) -> Target:
    return Target(id=tid, anchor="ANCHORS 0", source="a test", value=value, tolerance=tolerance, scenario={},
                  measure={}, **extra)  # fmt: skip


def test_the_joint_fit_fails_when_the_model_misses_the_targets():
    targets = [_target(f"t{i}", 0.1 * (i + 1), 0.01) for i in range(5)]
    rng = np.random.default_rng(0)

    def distances(offset: float) -> np.ndarray:
        model = {t.id: t.value + offset + t.tolerance * rng.standard_normal(200) for t in targets}
        return np.sum([t.z_score_array(model[t.id]) ** 2 for t in targets], axis=0)

    assert checks.joint_fit_share(distances(0.0), len(targets)) > 0.9  # the errors as measured: about 95%
    assert checks.joint_fit_share(distances(0.1), len(targets)) == 0.0  # ten errors off: no draw fits
    one_sided = _target("floor", 0.39, 0.05, one_sided="at_least")
    assert one_sided.z_score(0.9) == 0.0 and one_sided.z_score(0.29) == pytest.approx(-2.0)


def _synthetic_case(informed: int, tolerance: float, noise: float, seed: int = 0, seed_sd=None):
    """A linear model on a unit box: target j reads parameter j (plus `noise`), measured with
    `tolerance`; `informed` of the three stage-two parameters have a target, the stage-one
    parameter none; `seed_sd`: the noise the fit is told the simulator has. Returns what
    sim.analysis.checks.calibration_checks takes: the table, its sets, the emulators and their cloud."""
    rng = np.random.default_rng(seed)
    fitted = [{"name": f"p{j}", "prior": {"uniform": [0.0, 1.0]}} for j in range(3)]
    stage_one = [{"name": "s", "stage": 1, "prior": {"uniform": [0.0, 1.0]}}]
    targets = [_target(f"t{j}", 0.5, tolerance) for j in range(informed)]
    n = 4_000
    u = rng.random((n, 3))
    y = u[:, :informed] + noise * rng.standard_normal((n, informed))
    table = SimpleNamespace(targets=targets, fitted=fitted, stage_one_parameters=stage_one,
                            stage_one_values=rng.random((n, 1)), stage_one_weights=np.full(n, 1 / n),
                            bounds=waves.box(fitted))  # fmt: skip
    t = {"u": u, "y": y, "row": np.arange(n), "wave": np.ones(n, int)}
    sd = np.zeros(informed) if seed_sd is None else seed_sd
    emulators = emulator.Emulators(table, t, sd, seed, progress=lambda *_: None)
    sample = emulator.cloud(emulators, t, [waves.Proposal(table.bounds)], 20_000, 1, seed, progress=lambda *_: None)
    return table, t, emulators, sample


def _run_checks(monkeypatch, table, t, emulators, sample, predictive: dict, seed_sd=None) -> dict:
    monkeypatch.setattr(checks, "predictive", lambda *a, **k: (table.targets, predictive))
    args = SimpleNamespace(
        predictive_draws=len(next(iter(predictive.values()))),
        seed=0,
        workers=1,
        recovery_truths=40,
        recovery_cloud=2_000,
        recovery_rounds=1,
    )
    sd = np.zeros(len(table.targets)) if seed_sd is None else seed_sd
    return checks.calibration_checks(table, t, emulators, sample, sd, args)


def test_identification_and_recovery_pass_on_a_well_posed_case_and_fail_on_a_bad_one(monkeypatch):
    """Two of three stage-two parameters informed by precise targets (and a stage-one parameter
    that nothing informs): 2 of 4 identified, under two thirds, fails; all three informed: 3 of 4
    passes. Recovery covers about 90% when the emulators' error is measured, and far less when an
    emulator claims to be exact where the runs carry ten times the targets' errors (an
    over-confident posterior)."""
    case = _synthetic_case(informed=2, tolerance=0.05, noise=0.05)
    near = {x.id: np.full(30, x.value) for x in case[0].targets}
    out = _run_checks(monkeypatch, *case, near)
    rows = {r["name"]: r for r in out["identification"]["rows"]}
    assert rows["p0"]["identified"] and rows["p1"]["identified"] and not rows["p2"]["identified"]
    assert not rows["s"]["identified"] and rows["s"]["stage"] == 1
    assert (out["identification"]["identified"], out["identification"]["inferred"]) == (2, 4)
    assert not out["identification"]["passes"]
    assert out["joint_fit"]["share"] == 1.0 and out["joint_fit"]["passes"]
    assert 0.8 <= out["recovery"]["coverage"] <= 0.97

    case = _synthetic_case(informed=3, tolerance=0.05, noise=0.05)
    far = {x.id: np.full(30, x.value + 10 * x.tolerance) for x in case[0].targets}
    out = _run_checks(monkeypatch, *case, far)
    assert out["identification"]["identified"] == 3 and out["identification"]["passes"]
    assert out["joint_fit"]["share"] == 0.0 and not out["joint_fit"]["passes"]  # ten errors off: fails

    table, t, emulators, sample = _synthetic_case(informed=3, tolerance=0.005, noise=0.05)
    emulators.error_sd[:] = 0.0  # an emulator that claims to be exact
    near = {x.id: np.full(30, x.value) for x in table.targets}
    out = _run_checks(monkeypatch, table, t, emulators, sample, near)
    assert out["recovery"]["coverage"] < 0.5 and not out["recovery"]["passes"]
    # and so few effective sets that its narrow intervals cannot count as identification
    assert not out["identification"]["assessable"] and out["identification"]["identified"] == 0
    assert not out["identification"]["passes"]


def test_an_emulator_learns_a_nonlinear_mean_from_noisy_runs_and_measures_its_own_error():
    """sim.analysis.emulator on log y = sin(3 x0) x1^2 + 0.02 noise (x2 inert): the held-out miss is
    the runs' noise and little more, where the quadratic mean alone misses by more than 2.5 times
    the noise; predictions at fresh points are within a few hundredths of the true mean."""
    rng = np.random.default_rng(4)
    u = rng.random((1500, 3))

    def mean(x):
        return np.sin(3 * x[:, 0]) * x[:, 1] ** 2

    target = _target("y", 0.3, 1.0)
    object.__setattr__(target, "measure", {"share_ratio": ["a", "b"]})  # a ratio: emulated on its log
    y = np.exp(mean(u) + 0.02 * rng.standard_normal(len(u)))
    table = SimpleNamespace(targets=[target], fitted=[{"name": f"p{j}", "prior": {"uniform": [0.0, 1.0]}}
                            for j in range(3)], stage_one_parameters=[{"name": "s", "prior": {"uniform": [0, 1]}}],
                            stage_one_values=np.full((1, 1), 0.5), stage_one_weights=np.ones(1))  # fmt: skip
    table.bounds = waves.box(table.fitted)
    t = {"u": u, "y": y[:, None], "row": np.zeros(len(u), int), "wave": np.ones(len(u), int)}
    emulators = emulator.Emulators(table, t, np.array([0.0]), 0, progress=lambda *_: None)
    held_out_log = emulators.error_sd[0] / np.mean(y)  # the held-out miss on the log scale, roughly
    assert held_out_log < 0.03
    fresh = rng.random((500, 3))
    predicted = emulators.predict(fresh, np.zeros(500, int))[:, 0]
    assert np.max(np.abs(np.log(predicted) - mean(fresh))) < 0.05
    x = emulators.inputs(u, t["row"])
    features = emulator._quadratic_features(x)
    coef = np.linalg.lstsq(features, np.log(y), rcond=None)[0]
    assert np.sqrt(np.mean((features @ coef - np.log(y)) ** 2)) > 2.5 * 0.02


def test_the_screening_bounds_what_the_targets_can_pin(monkeypatch):
    """sim.analysis.screening on a linear case: a target reading y = a x + noise has a main effect of
    a / sqrt(12) over a unit-uniform prior, a parameter nothing reads has none (the within-bin
    noise subtracted), and the best width ratio is the analytic linear-Gaussian one,
    2 z90 sigma / a over 0.9. On the synthetic calibration case the parameters with a target are
    identifiable at best and the one without cannot be; and the bound is a bound: no parameter's
    posterior (the identification check's width ratio) is much narrower than it."""
    from sim.analysis import screening

    rng = np.random.default_rng(0)
    x, other = rng.random(4000), rng.random(4000)
    y = 0.3 * x + 0.05 * rng.standard_normal(4000)
    assert screening.main_effect_sd(x, y) == pytest.approx(0.3 / np.sqrt(12), rel=0.05)
    assert screening.main_effect_sd(other, y) < 0.003  # under a tenth of the effect read by x
    sigma = 0.02
    expected = 2 * stats.norm.ppf(0.95) * sigma / 0.3 / 0.9
    assert screening.best_width_ratio(x, np.array([0.3 / np.sqrt(12) / sigma])) == pytest.approx(expected, rel=0.02)
    assert screening.best_width_ratio(x, np.zeros(3)) == 1.0

    table, t, w, proposals = _synthetic_case(informed=2, tolerance=0.05, noise=0.05)
    near = {x.id: np.full(30, x.value) for x in table.targets}
    out = _run_checks(monkeypatch, table, t, w, proposals, near)
    bound = {r["name"]: r["best_width_ratio"] for r in out["screening"]["rows"]}
    assert out["screening"]["prior_draws"] == len(t["u"])  # every set of this case is a first-wave prior draw
    assert bound["p0"] < 0.5 and bound["p1"] < 0.5 and bound["p2"] >= 0.5
    assert {r["name"]: r["strongest_target"] for r in out["screening"]["rows"]}["p1"] == "t1"
    actual = {r["name"]: r["ratio"] for r in out["identification"]["rows"]}
    assert all(actual[n] > 0.9 * bound[n] for n in ("p0", "p1")), (actual, bound)

    t["wave"][: len(t["u"]) - 20] = 2  # too few prior draws left: no screening, not a noisy one
    assert screening.screening(table, t, np.zeros(2))["rows"] == []


def test_the_conflict_diagnosis_names_the_target_the_model_cannot_meet_with_the_rest():
    """Two targets read the same parameter but want it at 0.2 and at 0.8 (errors 0.05), a third reads
    another parameter: no simulated set meets all three, the sets meeting the rest miss the one left
    out by about 12 errors, on its side, and removing one of the pair is enough. When both want 0.2,
    nothing conflicts."""
    from sim.analysis.conflicts import conflicts

    rng = np.random.default_rng(1)
    u = rng.random((5000, 2))
    y = np.column_stack([u[:, 0], u[:, 0], u[:, 1]])

    def diagnose(second: float) -> dict:
        targets = [_target("low", 0.2, 0.05), _target("high", second, 0.05), _target("other", 0.5, 0.05)]
        return conflicts(SimpleNamespace(targets=targets), {"y": y}, np.zeros(3))

    out = diagnose(0.8)
    rows = {r["target"]: r for r in out["leave_one_out"]}
    assert out["sets_meeting_all"] == 0
    assert rows["high"]["sets_meeting_the_rest"] > 100 and rows["high"]["of_which_meet_it"] == 0
    assert rows["high"]["its_median_z_there"] == pytest.approx(-12, abs=1)
    assert rows["low"]["its_median_z_there"] == pytest.approx(12, abs=1)
    assert rows["other"]["sets_meeting_the_rest"] == 0
    assert len(out["fewest_to_drop"]) == 1 and out["fewest_to_drop"][0]["target"] in ("low", "high")

    agree = diagnose(0.2)
    assert agree["sets_meeting_all"] > 100 and agree["fewest_to_drop"] == []


def _linear_waves(tempered: bool, seed: int, waves_n: int = 5, per_wave: int = 300):
    """Waves on a linear model of 8 parameters read by 6 targets (errors 0.05, seed noise 0.05):
    with the tempered proposals of sim.analysis.waves, or (`tempered=False`) every wave from the prior."""
    rng = np.random.default_rng(seed)
    dims, k = 8, 6
    a = 0.15 * rng.normal(size=(k, dims))
    bounds = waves.box([{"name": f"p{j}", "prior": {"uniform": [0.0, 1.0]}} for j in range(dims)])
    truth = rng.random(dims)
    targets = [_target(f"t{i}", float(a[i] @ truth), 0.05) for i in range(k)]
    seed_sd = np.full(k, 0.05)

    def simulate(u):
        return u @ a.T + 0.05 * rng.standard_normal((len(u), k))

    proposals, temperatures = [waves.Proposal(bounds)], []
    u = proposals[0].sample(per_wave, rng)
    y, wave = simulate(u), np.ones(per_wave, int)
    for n in range(2, waves_n + 1):
        if tempered:
            q, temperature = waves.next_proposal(bounds, u, wave, proposals, targets, y, seed_sd)
            proposals.append(q)
            temperatures.append(temperature)
        new = proposals[-1].sample(per_wave, rng)
        u, y, wave = np.vstack([u, new]), np.vstack([y, simulate(new)]), np.r_[wave, np.full(per_wave, n)]
    if not tempered:
        wave = np.ones(len(u), int)
    w = waves.posterior_weights(targets, y, u, wave, proposals, bounds, seed_sd)
    return 1.0 / np.sum(w**2), temperatures


def test_a_scenario_only_parameter_reaches_its_own_scenarios_only(monkeypatch):
    """The health records' objector share (a nuisance parameter) is written into the configs of the
    health-record scenarios alone: the other scenarios keep the shipped AI-training objector share."""
    seen = {}

    def capture(sets, targets, agents, nuisance):
        seen["sets"] = sets
        return [{} for _ in sets]

    monkeypatch.setattr(waves, "evaluate_many", capture)
    shared = {"name": "x", "keys": ["friction.try_prob"], "prior": {"uniform": [0.0, 1.0]}}
    base = shipped_raw()
    waves._simulate_chunk(([{"x": 0.3, NUISANCE[0]["name"]: 0.05}], [1], TARGETS, NUISANCE, [shared, *NUISANCE],
                           300, base))  # fmt: skip
    ((raw, _, values),) = seen["sets"]
    assert get_key(raw, "friction.try_prob") == 0.3
    assert get_key(raw, "population.object_share") == get_key(base, "population.object_share")
    health = next(t for t in TARGETS if t.id in NUISANCE[0]["scenarios"])
    other = next(t for t in TARGETS if t.id == "low_salience_year")
    from sim.analysis.calibration import scenario_raw

    assert get_key(scenario_raw(raw, health, NUISANCE, values), "population.object_share") == {"default": 0.05}
    assert get_key(scenario_raw(raw, other, NUISANCE, values), "population.object_share") == get_key(
        base, "population.object_share"
    )


def test_tempered_waves_close_in_on_the_posterior_and_raise_its_effective_sample():
    """Each wave's proposal is fitted to the table tempered to TEMPER_ESS effective sets: the
    temperature falls wave by wave toward 1, and the same budget keeps several times the effective
    sample of drawing every set from the prior."""
    for seed in (1, 2, 3):
        ess, temperatures = _linear_waves(True, seed)
        prior_only, _ = _linear_waves(False, seed)
        assert temperatures[-1] < temperatures[0] and min(temperatures) >= 1.0
        assert ess > 3 * prior_only, (seed, ess, prior_only)


def test_the_temperature_is_one_where_the_posterior_keeps_enough_sets_and_leaves_exactly_enough_else():
    log_importance = np.zeros(1000)
    flat = -0.5 * np.linspace(0, 0.1, 1000) ** 2
    assert waves._temper(log_importance, flat, 60) == 1.0
    peaked = -0.5 * np.linspace(0, 30, 1000) ** 2
    beta = waves._temper(log_importance, peaked, 60)
    w = waves.normalised(beta * peaked)
    assert 0 < beta < 1 and 1 / np.sum(w**2) == pytest.approx(60, rel=1e-3)


def test_the_defaults_are_the_candidate_whose_fresh_runs_fit_best_with_its_own_stage_one_draw(monkeypatch):
    """_most_probable simulates the densest sets afresh, each whole: a set whose density came from one
    lucky run loses to one whose fresh runs fit, and a stage-one draw that stage one's likelihood
    rules out costs its set the choice."""
    calibrate = _module("calibrate")
    target = _target("t", 0.5, 0.05)
    # stage-two value p and stage-one value s per set; fresh runs read p exactly
    sets = [{"p": 0.9, "s": 0.5}, {"p": 0.51, "s": 0.95}, {"p": 0.52, "s": 0.5}, {"p": 0.1, "s": 0.5}]
    table = SimpleNamespace(targets=[target], values_of=lambda u, rows: [dict(sets[int(i)]) for i in u[:, 0]])
    monkeypatch.setattr(checks, "simulate_sets", lambda table, values, seeds, targets, workers:
                        {"t": np.array([v["p"] for v in values])})  # fmt: skip
    one = SimpleNamespace(parameters=[{"name": "s"}], log_likelihood=lambda th: -0.5 * ((th["s"] - 0.5) / 0.1) ** 2)
    t = SimpleNamespace(u=np.arange(4.0)[:, None], row=np.arange(4))  # the posterior sample (an emulated cloud)
    log_density = np.log([0.5, 0.3, 0.15, 0.05])  # the densest set is the one that misses
    args = SimpleNamespace(candidates=3, replicates=2, seed=0, workers=1)
    best, check = calibrate._most_probable(table, t, log_density, one, np.zeros(1), args)
    assert best == sets[2] and check["chosen"] == 2 and check["candidates"] == 3
    assert check["chi_square"][0] == pytest.approx(64.0) and check["chi_square"][1] == pytest.approx(0.04 + 20.25)
    assert check["distance_runs"] == pytest.approx([0.16, 0.16])


def test_posterior_draws_take_stage_one_parameters_from_stage_ones_own_sample(tmp_path):
    """The cut (sim.analysis.posterior): a stage-two row is drawn whole, while a stage-one parameter
    comes from stage one's own sample, not from the value the row was simulated with."""
    from sim.analysis.posterior import PosteriorError, write_posterior

    params = [{"name": "a", "keys": ["x.a"], "prior": {"uniform": [0.0, 1.0]}},
              {"name": "b", "keys": ["x.b"], "prior": {"uniform": [0.0, 1.0]}},
              {"name": "s", "keys": ["x.s"], "prior": {"uniform": [0.0, 1.0]}}]  # fmt: skip
    rows = np.array([[0.1, 0.6, 0.9], [0.2, 0.7, 0.9]])  # both simulated with s = 0.9
    s_values = np.linspace(0.0, 0.6, 61)[:, None]
    s_weights = stats.norm.pdf(s_values[:, 0], 0.3, 0.05)
    write_posterior(tmp_path, params, rows, np.array([0.5, 0.5]), {}, (["s"], s_values, s_weights))
    post = load_posterior(tmp_path)
    draws = post.draws(4_000, seed=1)
    assert {(d["a"], d["b"]) for d in draws} == {(0.1, 0.6), (0.2, 0.7)}  # stage-two rows kept whole
    s = np.array([d["s"] for d in draws])
    assert 0.9 not in s and abs(s.mean() - 0.3) < 0.005 and abs(s.std() - 0.05) < 0.005
    assert post.median()["s"] == pytest.approx(0.3, abs=0.01) and post.median()["a"] in (0.1, 0.2)
    assert post.draws(50, seed=1) == post.draws(50, seed=1)
    (tmp_path / "stage_one.csv").write_text((tmp_path / "stage_one.csv").read_text().replace("0.3", "0.35"))
    with pytest.raises(PosteriorError, match="stage_one.csv.*cut or edited"):
        load_posterior(tmp_path)


def test_the_effective_sample_size_counts_equal_weights_fully_and_one_dominant_weight_once():
    from sim.analysis.posterior import effective_sample_size

    assert effective_sample_size(np.ones(500)) == pytest.approx(500)
    assert effective_sample_size([1.0, 0, 0, 0]) == pytest.approx(1)
    assert effective_sample_size([3.0, 1.0]) == pytest.approx(16 / 10)  # (3+1)^2 / (9+1)


# ---------------------------------------------------------------- --write-conf
def _shipped_values() -> dict[str, float]:
    raw = shipped_raw()
    out = {}
    for p in PARAMETERS:
        value = get_key(raw, p["keys"][0])
        out[p["name"]] = float(value["default"] if isinstance(value, dict) else value)
    return out


def test_write_conf_changes_exactly_the_calibrated_keys(tmp_path):
    """--write-conf on a copy of conf/: each calibrated key's line gets the most probable value (4
    significant digits) and a comment naming its targets and keeping its meaning before
    calibration; every other line of every file is as it was."""
    from sim.core.conf_yaml import ConfFile, leaves

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    before = {p: p.read_text(encoding="utf-8") for p in sorted(conf.rglob("*.yaml"))}
    best = {name: value * 1.01 + 1e-3 for name, value in _shipped_values().items()}  # every value moves
    notes = {p["name"]: p["targets"] for p in PARAMETERS}
    changed = _module("calibrate").write_conf(best, notes, conf_dir=conf)
    calibrated = {key: p for p in PARAMETERS for key in p["keys"]}
    assert changed == [f"{key} = {best[p['name']]:.4g}" for key, p in calibrated.items()]
    for path, text in before.items():
        after, old = path.read_text(encoding="utf-8"), ConfFile(text)
        group = path.parent.name
        mine = {k.split(".", 1)[1]: p for k, p in calibrated.items() if k.startswith(f"{group}.")}
        if path.name != "default.yaml" or not mine:
            assert after == text, path
            continue
        a, b = text.splitlines(), after.splitlines()
        assert len(a) == len(b)
        assert {i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y} == {old.line(k) for k in mine}
        new, was = leaves(yaml.safe_load(after)), leaves(yaml.safe_load(text))
        assert {k for k in was if new[k] != was[k]} == set(mine), path  # only the calibrated values moved
        reread = ConfFile(after)
        for key, p in mine.items():
            assert new[key] == float(f"{best[p['name']]:.4g}")
            meaning = old.comment(key).split("; before calibration:")[-1].strip()
            assert reread.source(key) == (
                f"posterior's most probable set, calibrated against {', '.join(p['targets'])} "
                f"(experiments/calibrate.py, docs/CALIBRATION.md); before calibration: {meaning}"
            )


def test_write_conf_with_the_shipped_most_probable_set_leaves_conf_as_it_is(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    before = {p: p.read_text(encoding="utf-8") for p in sorted(conf.rglob("*.yaml"))}
    best = _posterior().provenance["most_probable"]
    _module("calibrate").write_conf(best, {p["name"]: p["targets"] for p in PARAMETERS}, conf_dir=conf)
    assert {p: p.read_text(encoding="utf-8") for p in before} == before


# ---------------------------------------------------------------- the fit end to end, tiny
TINY = ["--agents", "300", "--waves", "2", "--sets-per-wave", "8", "--chunk", "4", "--workers", "1",
        "--stage-one-draws", "200", "--noise-seeds", "2", "--predictive-draws", "2",
        "--recovery-truths", "3", "--candidates", "2", "--replicates", "2", "--cloud", "2000",
        "--emulated-rounds", "1", "--recovery-cloud", "500", "--recovery-rounds", "1"]  # fmt: skip


def _store_files(store: Path) -> dict[str, tuple[int, bytes]]:
    keep = [
        *store.glob("wave*_chunk*.npz"),
        *store.glob("proposal_wave*.json"),
        store / "stage_one.npz",
        store / "seed_sd.json",
    ]
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in keep}


@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory) -> dict:
    """experiments/calibrate.py on a tiny budget, then the same command again on the same store."""
    root = tmp_path_factory.mktemp("fit")
    store, out = root / "store", root / "post"
    calibrate = _module("calibrate")
    args = [*TINY, "--store", str(store), "--out", str(out)]
    assert calibrate.main(args) == 0
    first = {"store": _store_files(store), "csv": (out / "posterior.csv").read_bytes()}
    tempering, waves.TEMPER_ESS = waves.TEMPER_ESS, 1  # a changed rule: the kept proposals are used, not refitted
    try:
        assert calibrate.main(args) == 0  # resumed: every chunk is there
    finally:
        waves.TEMPER_ESS = tempering
    return {"root": root, "store": store, "out": out, "first": first}


def test_a_tiny_fit_writes_the_posterior_and_its_checks(tiny_fit):
    out = tiny_fit["out"]
    post = load_posterior(out)
    assert set(post.names) == {p["name"] for p in PARAMETERS + NUISANCE}
    prov = post.provenance
    assert prov["total_simulations"] == 16 and prov["agents"] == 300 and prov["waves"] == 2
    assert set(prov["most_probable"]) == set(post.names)
    assert prov["most_probable_check"]["candidates"] == 2 and len(prov["most_probable_check"]["distance_runs"]) == 2
    assert 1 <= prov["effective_sample_size"] <= len(post.weights) and prov["stage_one_effective_sample_size"] >= 1
    assert prov["distance_targets"] == [t.id for t in TARGETS if t.stage == 2 and not t.check]
    recorded = json.loads((out / CHECKS_FILE).read_text())
    assert set(recorded) >= {"joint_fit", "z_scores", "predictive", "identification", "recovery"}
    assert recorded["joint_fit"]["draws"] == 2 and set(recorded["predictive"]) == {t.id for t in TARGETS}
    assert recorded["recovery"]["truths"] == 3
    assert len(list(tiny_fit["store"].glob("wave*_chunk*.npz"))) == 4  # 2 waves x 8 sets in chunks of 4


def test_running_the_fit_again_simulates_nothing_new_and_gives_the_same_posterior(tiny_fit):
    """Run again on the same store (with the proposal rule changed in between): no chunk is rewritten,
    each wave is weighed by the proposal it was drawn from (kept in the store), the posterior is the same."""
    assert (tiny_fit["store"] / "proposal_wave2.json").exists()
    assert _store_files(tiny_fit["store"]) == tiny_fit["first"]["store"]  # no chunk rewritten or added
    assert (tiny_fit["out"] / "posterior.csv").read_bytes() == tiny_fit["first"]["csv"]


def test_the_report_gives_every_parameter_target_and_check(tiny_fit):
    """calibration_report.py on the tiny fit: a row per parameter (the prior-only ones too) and per
    target, the three checks with their verdicts, both figures; no simulation."""
    report = _module("calibration_report")
    out = tiny_fit["root"] / "docs" / "CALIBRATION.md"
    assert report.main(["--posterior-dir", str(tiny_fit["out"]), "--out", str(out)]) == 0
    text = out.read_text()
    command = f"python experiments/calibration_report.py --posterior-dir {tiny_fit['out']} --out {out}"
    assert text.startswith(f"# Calibration\n\nGenerated by `{command}` from the posterior in `{tiny_fit['out']}/`")
    assert all(f"| {p['name']} |" in text for p in PARAMETERS + NUISANCE + load_prior_only())
    assert all(f"| {t.id} | {t.anchor} |" in text for t in TARGETS)
    assert text.count("prior only (no target informs it)") == len(load_prior_only())
    for check in ("| joint fit |", "| identification |", "| recovery |"):
        assert check in text
    assert "python experiments/calibrate.py" in text and "effective sample size" in text
    recorded = json.loads((tiny_fit["out"] / CHECKS_FILE).read_text())
    if not recorded["joint_fit"]["passes"]:  # a tiny fit rarely fits: the report says which targets conflict
        assert "**The joint fit fails**" in text and "The targets in conflict" in text
    assert all((out.parent / "calibration" / f).exists() for f in ("corner.png", "predictive.png"))


def test_the_report_finds_a_combination_the_targets_pin_where_neither_parameter_is_pinned_alone():
    """Two parameters whose sum the evidence pins (x0 + x1 = 1 within 0.02) and a third it leaves
    alone: each marginal stays wide, but the narrowest principal direction is the sum, loading both
    equally, with a posterior sd far under half the prior's; the others are not pinned."""
    from sim.analysis.posterior import Posterior

    rng = np.random.default_rng(0)
    x0 = rng.random(20_000)
    x1 = np.clip(1 - x0 + 0.02 * rng.standard_normal(len(x0)), 0, 1)
    values = np.column_stack([x0, x1, rng.random(len(x0))])
    params = [{"name": f"p{j}", "keys": [f"a.p{j}"], "prior": {"uniform": [0.0, 1.0]}} for j in range(3)]
    post = Posterior(params, values, np.full(len(x0), 1 / len(x0)), {})
    combos = _module("calibration_report").pinned_combinations(post)
    assert combos[0]["sd_ratio"] < 0.15
    assert {n for n, _ in combos[0]["loadings"][:2]} == {"p0", "p1"}
    assert abs(abs(combos[0]["loadings"][0][1]) - abs(combos[0]["loadings"][1][1])) < 0.05
    assert all(c["sd_ratio"] > 0.5 for c in combos[1:])
