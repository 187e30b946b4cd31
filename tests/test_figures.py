"""What an analyst sees: the figures of a run (sim.reports.figures) and of a sweep (sim.reports.plot).

The figure functions return matplotlib Figures; these tests read their axes and every Text artist:
readable names only (no code names), shares in percent on axes scaled to the data, numbered event
lines with a key of dates and labels, a caption with seeds, agents, dates and what a band covers,
words generated from the design's regimes, the baseline on top, face_share only when it varies.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.text import Text
from matplotlib.ticker import PercentFormatter

from sim.model.policy import design_rows, region_phases
from sim.model.regimes import BY_NAME, REGIMES
from sim.model.regions import ALL, REGION_CODES
from sim.reports import figures, names, plot
from tests.conftest import compose_raw, make_config

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
SHIPPED_POLICIES = sorted(p.stem for p in (ROOT / "conf" / "policy").glob("*.yaml"))
DATES = pd.date_range("2024-09-01", "2026-12-31", freq="14D").append(pd.DatetimeIndex(["2026-12-31"]))


def texts(fig) -> list[str]:
    """Every text of a figure (titles, labels, ticks, legends, captions, event numbers)."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def code_names_in(fig) -> set[str]:
    codes = names.code_names()
    return {token for text in texts(fig) for token in re.findall(r"[A-Za-z_]+", text) if token in codes}


def _value(metric: str, day_index: int, policy: str) -> float:
    grow = min(1.0, day_index / 10)
    small = {"opted_out_share": 0.04, "opted_in_share": 0.01, "consent_gap_share": 0.08}
    if metric in small:
        return small[metric] * grow * (2 if policy == "affirmative_everywhere" else 1)
    if metric.startswith("gap_"):
        return 0.02 * grow
    if metric.startswith("dataset_") and metric != "dataset_from_objectors_share":
        return 1e9 * (1 + day_index) * (0.5 if policy == "affirmative_everywhere" else 1)
    if metric == "new_opt_outs":
        return 1000.0
    if "_via_" in metric:
        return 0.01 * grow
    return 0.5 * grow


def reduced_table(policies=("linkedin_actual", "no_option_everywhere", "affirmative_everywhere"), boosts=(1.38,)):
    metrics = [*plot.figure_metrics(), "in_use_share", "enrolled_share"]
    rows = []
    for policy in policies:
        for boost in boosts:
            for k, day in enumerate(DATES):
                for region in (*REGION_CODES, ALL):
                    for metric in dict.fromkeys(metrics):
                        v = _value(metric, k, policy)
                        rows.append(
                            {"policy": policy, "feed.face_boost": boost, "date": day, "region": region,
                             "metric": metric, "median": v, "q10": 0.9 * v, "q90": 1.1 * v, "replicates": 3}
                        )  # fmt: skip
    return pd.DataFrame(rows)


def run_frame() -> pd.DataFrame:
    rows = [
        {"date": day, "region": region, "metric": metric, "value": _value(metric, k, "linkedin_actual")}
        for k, day in enumerate(DATES)
        for region in (*REGION_CODES, ALL)
        for metric in (*figures.CONSENT_LINES, *figures.DATASET_PANELS)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sweep_meta():
    """plot's metadata of a sweep of three policies, seeds 0-2 (as plot() sets it from the runs)."""
    configs = [
        compose_raw(f"policy={p}") for p in ("linkedin_actual", "no_option_everywhere", "affirmative_everywhere")
    ]
    plot._META.clear()
    plot._META.update(plot._meta(configs, [0, 1, 2], 3))
    yield plot._phase_dates(configs)
    plot._META.clear()


@pytest.fixture(scope="module")
def run_figures():
    config = make_config("end=2026-12-31")
    phases = region_phases(config.policy)
    frame = run_frame()
    curves = figures.consent_curves_figure(frame, phases, config.policy.name, config)
    dataset = figures.dataset_figure(frame, config.policy.name, config)
    yield curves, dataset
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- the names table
def test_the_names_table_covers_every_policy_region_regime_and_figure_metric():
    assert set(SHIPPED_POLICIES) <= set(names.POLICY_NAMES), set(SHIPPED_POLICIES) - set(names.POLICY_NAMES)
    for code in (*REGION_CODES, ALL):
        assert code in names.REGION_NAMES and names.region_name(code) != code
    assert names.region_name("EU_EEA") == "EU/EEA" and names.region_name("CN") == "Mainland China"
    for regime in REGIMES:
        assert regime in names.REGIME_NAMES
    for policy in SHIPPED_POLICIES:  # every shipped design's name too
        for row in design_rows(make_config(f"policy={policy}").policy):
            assert row.name in names.REGIME_NAMES, (policy, row.name)
    drawn = {*plot.figure_metrics(), *figures.CONSENT_LINES, *figures.DATASET_PANELS, *figures.GAP_PARTS}
    for metric in drawn:
        assert "_" not in names.metric_name(metric), metric
    assert names.policy_descriptions()["linkedin_actual"].startswith("The real policy")


def test_the_words_for_a_choice_follow_the_design():
    assert names.choice_words([BY_NAME["default_on"]])["opted_out_share"] == "opted out"
    assert names.choice_words([BY_NAME["affirmative"]])["opted_out_share"] == "declined the request"
    assert names.choice_words([BY_NAME["default_on"], BY_NAME["excluded"]])["gap_not_trying_share"] == (
        "aware, not trying"
    )
    no_option = names.choice_words([BY_NAME["no_option"], BY_NAME["excluded"]])
    assert no_option["gap_not_trying_share"] == "aware, no way to refuse"
    assert "not trying" not in no_option["gap_not_trying_share"]


# ---------------------------------------------------------------- a run's figures
def test_the_run_figures_show_no_code_name(run_figures):
    for fig in run_figures:
        assert not code_names_in(fig), code_names_in(fig)
    assert "Actual LinkedIn policy" in " ".join(texts(run_figures[0]))


def test_the_runs_choice_panels_are_scaled_to_small_opt_outs_in_percent(run_figures):
    curves, _ = run_figures
    reach, choices = curves.subfigs
    top = choices.axes[0].get_ylim()[1]
    assert top < 1 and top >= 0.08  # opt-outs of 4%, a gap of 8%: an axis to 10%, not 0-1
    assert isinstance(choices.axes[0].yaxis.get_major_formatter(), PercentFormatter)
    assert reach.axes[0].get_ylim()[1] >= 1.0  # awareness and enrolment keep 0-100%


def test_opted_out_and_opted_in_have_distinct_colours_the_same_in_every_figure():
    colours = figures.QUANTITY_COLOURS
    assert colours["opted_out_share"] != colours["opted_in_share"]
    assert len({colours[m] for m in ("aware_share", "in_use_share", "opted_out_share", "opted_in_share",
                                     "consent_gap_share")}) == 5  # fmt: skip
    for metric, style in figures.LINE_STYLES.items():
        assert style["color"] == colours[metric]


def test_the_runs_event_lines_are_numbered_with_dates_and_labels(run_figures):
    curves, _ = run_figures
    joined = "\n".join(texts(curves))
    assert "18 Sep 2024: setting 'Data for Generative AI Improvement' found on by default" in joined
    assert "3 Nov 2025: training starts" in joined
    assert "timeline.csv" not in joined  # the sources are left out of the short labels
    assert (
        "Actual LinkedIn policy: The real policy: default-on from 18 Sep 2024 (United States, India" in joined
    )  # its description
    us = curves.subfigs[0].axes[0]
    numbers = [t.get_text() for t in us.texts]
    assert numbers and all(n.isdigit() for n in numbers)
    uk = curves.subfigs[0].axes[REGION_CODES.index("UK")]
    heights = [t.get_position()[1] for t in uk.texts]
    assert len(set(heights)) > 1  # 18 and 20 Sep 2024: staggered, not on top of each other


def test_the_run_dataset_figure_gives_totals_with_units(run_figures):
    _, dataset = run_figures
    titles = [ax.get_title() for ax in dataset.axes]
    assert any("billion text tokens by 31 Dec 2026" in t for t in titles), titles
    assert any("million profiles" in t for t in titles) or any("billion profiles" in t for t in titles)


def test_every_run_figure_has_a_caption_with_seed_agents_dates_and_interval(run_figures):
    for fig in run_figures:
        joined = " ".join(texts(fig))
        assert "seed 0" in joined and "20,000 agents" in joined
        assert "1 Sep 2024 to 31 Dec 2026" in joined
        assert "no interval" in joined
    assert "Mainland China included in the denominator" in " ".join(texts(run_figures[0]))


# ---------------------------------------------------------------- a sweep's figures
def test_the_sweeps_figures_show_no_code_name(sweep_meta):
    reduced = reduced_table()
    built = plot.build_figures(reduced, ["policy"], sweep_meta)
    for name, fig in built:
        assert not code_names_in(fig), (name, code_names_in(fig))
        joined = " ".join(texts(fig))
        assert "seeds 0, 1, 2" in joined and "over 3 replicate seeds" in joined, name
    matplotlib.pyplot.close("all")


def test_the_opt_out_panel_is_scaled_below_one_with_percent_ticks(sweep_meta):
    fig = plot.opt_out_figure(reduced_table(), ["policy"], sweep_meta)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 1
    assert ax.get_ylim()[1] >= 0.08 * 1.1  # the largest band top (affirmative: 8% x 1.1) is shown
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)
    joined = " ".join(texts(fig))
    assert "declined the request" in joined and "opted out" in joined  # words from each design
    assert "18 Sep 2024" in joined and "20 Sep 2024: United Kingdom training suspended" in joined
    assert "labels are those of the real timeline" in joined  # counterfactuals keep its dates
    matplotlib.pyplot.close(fig)


def test_face_share_is_drawn_only_when_the_sweep_varies_it(sweep_meta):
    built = dict(plot.build_figures(reduced_table(), ["policy"], sweep_meta))
    assert "face_share" not in built
    varied = reduced_table(policies=("linkedin_actual",), boosts=(1.0, 2.0))
    built = dict(plot.build_figures(varied, ["feed.face_boost"], sweep_meta))
    assert "face_share" in built
    assert "face boost of the feed = 2.0" in " ".join(texts(built["face_share"]))
    matplotlib.pyplot.close("all")


def test_the_baseline_is_drawn_last_on_top_in_its_own_style(sweep_meta):
    fig = plot.dataset_figure(reduced_table(), ["policy"])
    ax = fig.axes[0]
    last = ax.lines[-1]
    assert last.get_label() == "Actual LinkedIn policy (baseline)"
    assert last.get_zorder() > max(line.get_zorder() for line in ax.lines[:-1])
    assert matplotlib.colors.to_hex(last.get_color()) == "#000000" and last.get_linestyle() != "-"
    assert "drawn last, black dashed" in " ".join(texts(fig))
    assert "baseline by " in ax.get_title()
    matplotlib.pyplot.close(fig)


def test_the_consent_gap_draws_median_lines_not_stacked_medians(sweep_meta):
    reduced = reduced_table()
    part = reduced[reduced.policy == "no_option_everywhere"]
    fig = plot.consent_gap_figure(reduced, ["policy"], "No option to refuse", part, "no_option_everywhere", sweep_meta)
    ax = fig.axes[0]
    assert not ax.collections  # no stackplot
    labels = [line.get_label() for line in ax.lines]
    assert "consent gap (total)" in labels and len([lb for lb in labels if not lb.startswith("_")]) == 5
    joined = " ".join(texts(fig))
    assert "not stacked" in joined and "need not add up" in joined
    assert "aware, no way to refuse" in joined and "not trying" not in joined
    matplotlib.pyplot.close(fig)
    actual = reduced[reduced.policy == "linkedin_actual"]
    fig = plot.consent_gap_figure(reduced, ["policy"], "Actual", actual, "linkedin_actual", sweep_meta)
    assert "aware, not trying" in " ".join(texts(fig))
    matplotlib.pyplot.close(fig)


def test_a_posterior_sweep_says_its_bands_cover_draws():
    line = figures.caption([0, 1], [20000], "2024-09-01", "2026-12-31", {"mode": "posterior", "draws": 50}, 100)
    assert "over 100 replicates (2 seeds x 50 posterior draws)" in line
    assert "seed noise only" in figures.caption([0, 1], [20000], "2024-09-01", "2026-12-31", None, 2)


def test_nice_top_keeps_small_shares_off_a_zero_to_one_axis():
    assert figures.nice_top(0.04) < 0.06
    assert figures.nice_top(0.49) <= 0.6
    assert figures.nice_top(0.95) == 1.0
    for v in (0.003, 0.04, 0.13, 0.3, 0.7):
        assert v < figures.nice_top(v) <= 1.0


def test_a_title_names_each_kind_of_choice_once(monkeypatch):
    """Designs whose words overlap ("opted out or declined the request" beside "declined the request")
    give each kind once in the title, and a design where nobody can refuse adds nothing."""
    from sim.reports import plot

    words = {"a": {"opted_out_share": "declined the request"},
             "b": {"opted_out_share": "opted out or declined the request"},
             "c": {"opted_out_share": "none can opt out"}, "d": {"opted_out_share": "opted out"}}  # fmt: skip
    monkeypatch.setitem(plot._META, "words", words)
    groups = [(None, None, p, None) for p in words]
    assert plot._choice_title(groups, "opted_out_share", "opted out") == "declined the request or opted out"
