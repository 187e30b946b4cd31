"""Publication figures of a sweep (or one run): `python -m sim.reports.plot SWEEP_DIR [--out DIR]`.

Reads SWEEP_DIR/aggregate/reduced.parquet (aggregating first if it is missing) or, for a run
folder, its series.parquet. Draws, in PNG and SVG, into SWEEP_DIR/figures/:

- opt_out_curves / opt_in_curves: one panel per region, one line per setting combination (e.g.
  policy), median with the 10-90% band over replicates, policy dates marked;
- enrolled_and_in_use: per region, the share in use for training now (solid) beside the share
  enrolled, set to be used whether or not training runs yet (dashed);
- dataset_by_type: the whole membership's training set over time by type, in readable units;
- consent_gap_<series>: the consent gap's median (black) and each part's median (unaware,
  intending, gave up, not trying) per region, as lines: medians of parts need not add up;
- face_share: the face share of new posts over time, one line per setting (drawn only when the
  sweep varies a feed setting, e.g. feed.face_boost);
- objector_data: the share of the set that came from members who later objected, per region,
  one line per setting (e.g. with and without retroactive removal).

Colours are Paul Tol's palettes (colour-blind safe); the baseline (the real policy) is drawn last in
black dashed; shares are in percent on axes scaled to the data; policy events are numbered lines
with a key of their dates and labels; names are readable (sim.reports.names); every figure's
foot gives the seeds, agents, dates and what the bands cover. The `*_figure` functions return the
matplotlib Figure (tests read its texts); the others save it.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import yaml  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from sim.analysis.aggregate import AGGREGATE_DIR, REDUCED_FILE, SEED, SERIES_FILE, aggregate  # noqa: E402
from sim.core.run_folder import CONFIG  # noqa: E402
from sim.model.metrics import CHOICE_CHANNELS  # noqa: E402
from sim.model.regions import ALL, REGION_CODES  # noqa: E402
from sim.reports import names  # noqa: E402
from sim.reports.figures import (  # noqa: E402
    BASELINE_STYLE,
    DATASET_PANELS,
    DPI,
    FONT,
    GAP_COLOURS,
    GAP_PARTS,
    QUANTITY_COLOURS,
    add_footer,
    caption,
    counterfactual_note,
    dates_axis,
    draw_events,
    event_key,
    event_numbers,
    human,
    nice_top,
    panel_grid,
    percent_axis,
    series_style,
)

plt.rcParams.update(FONT)
_CAPTION: list[str] = []  # a line every figure of the current plot() carries (jobs failed or missing)
_META: dict = {}  # the current plot()'s seeds, agents, dates, uncertainty and each policy's design words


def jobs_note(path: Path) -> str | None:
    """A line on the sweep's jobs that failed, never finished or duplicated another (from runs.csv),
    or None when every job is complete."""
    index_file = Path(path) / AGGREGATE_DIR / "runs.csv"
    if not index_file.exists():
        return None
    status = pd.read_csv(index_file, dtype={"run": str}).status.value_counts()
    parts = [f"{int(status[s])} {s}" for s in ("failed", "missing", "duplicate") if status.get(s, 0)]
    if not parts:
        return None
    return (
        f"{', '.join(parts)} of {int(status.sum())} jobs: the figures show the {int(status.get('ok', 0))} "
        "complete runs only (aggregate/runs.csv lists the others)"
    )


def load(path: Path) -> tuple[pd.DataFrame, list[str], dict]:
    """Reduced table, the settings that vary between its series, and policy dates per region."""
    path = Path(path)
    if (path / SERIES_FILE).exists() and not (path / AGGREGATE_DIR).exists():
        try:
            series = pd.read_parquet(path / SERIES_FILE)
            config = yaml.safe_load((path / CONFIG).read_text())
        except Exception as err:  # a corrupt run folder: say so, no traceback
            raise ValueError(f"unreadable run folder {path}: {type(err).__name__}: {err}") from None
        reduced = series.rename(columns={"value": "median"}).assign(
            q10=lambda d: d["median"], q90=lambda d: d["median"], replicates=1, policy=config["policy"]["name"]
        )
        _META.update(_meta([config], [config["seed"]], 1))
        return reduced, ["policy"], _phase_dates([config])
    reduced_file = path / AGGREGATE_DIR / REDUCED_FILE
    if not reduced_file.exists():
        aggregate(path)
    reduced = read_metrics(reduced_file)
    index = pd.read_csv(path / AGGREGATE_DIR / "runs.csv", dtype={"run": str})
    settings = [
        c for c in reduced.columns if c not in ("date", "region", "metric", "median", "q10", "q90", "replicates")
    ]
    varying = [c for c in settings if c != SEED and reduced[c].nunique() > 1] or ["policy"]
    configs = []
    ok = index[index.status == "ok"]
    for run in ok.drop_duplicates("policy").run:
        configs.append(yaml.safe_load((path / run / CONFIG).read_text()))
    replicates = int(reduced.replicates.max()) if len(reduced) else None
    _META.update(_meta(configs, ok[SEED].tolist() if SEED in ok else [], replicates))
    return reduced, varying, _phase_dates(configs)


def figure_metrics() -> list[str]:
    """Every metric a figure of a sweep draws: plot() reads only these rows of the reduced table."""
    channels = [f"{d}_via_{c}_share" for d in ("opted_out", "opted_in") for c in CHOICE_CHANNELS]
    named = [
        "opted_out_share",
        "opted_in_share",
        "consent_gap_share",
        "in_use_share",
        "enrolled_share",
        "face_post_share",
        "dataset_from_objectors_share",
        "new_opt_outs",
    ]
    return [*named, *DATASET_PANELS, *GAP_PARTS, *channels]


def read_metrics(reduced_file: Path) -> pd.DataFrame:
    """The reduced table's rows of the figures' metrics (all of an older, smaller table's columns)."""
    try:
        return pd.read_parquet(reduced_file, filters=[("metric", "in", figure_metrics())])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):  # an empty table has no metric column
        return pd.read_parquet(reduced_file)


def _phase_dates(configs: list[dict]) -> dict[str, list[tuple[pd.Timestamp, str]]]:
    """Per region, the days its policy phase changed in any of the configs' policies, each with the
    event's label (the first policy's label of that day)."""
    from sim.model.config import validate_config
    from sim.model.policy import region_phases

    dates: dict[str, dict] = {code: {} for code in REGION_CODES}
    for raw in configs:
        for code, phases in region_phases(validate_config(raw).policy).items():
            for p in phases:
                if p.start is not None:
                    dates[code].setdefault(pd.Timestamp(p.start), p.label)
    merged: dict = {}
    for found in dates.values():
        for day, label in found.items():
            merged.setdefault(day, label)
    out = {code: sorted(found.items()) for code, found in dates.items()}
    out[ALL] = sorted(merged.items())
    return out


def _meta(configs: list[dict], seeds: list, replicates: int | None) -> dict:
    """Seeds, agents, dates and uncertainty of the runs, and each policy's words for its choices
    (generated from its regimes: sim.reports.names.choice_words)."""
    from sim.model.config import validate_config
    from sim.model.policy import design_rows, region_phases

    words, agents = {}, set()
    for raw in configs:
        config = validate_config(raw)
        rows = {r.name: r for r in design_rows(config.policy)}
        used = {p.regime for ps in region_phases(config.policy).values() for p in ps}
        words[config.policy.name] = names.choice_words(rows[r] for r in used if r in rows)
        agents.add(config.population.agents)
    first = configs[0] if configs else {}
    return {
        "seeds": seeds,
        "agents": sorted(agents),
        "start": first.get("start"),
        "end": first.get("end"),
        "uncertainty": first.get("uncertainty") or {"mode": "none", "draws": 0},
        "replicates": replicates,
        "words": words,
    }


def series_label(varying: list[str], key: tuple) -> str:
    """A setting combination's code label, for file names: "linkedin_actual, face_boost=2.0"
    (legends use display_label)."""
    return ", ".join(
        str(v) if k == "policy" else story_label(v) if k == STORY else f"{k.split('.')[-1]}={v}"
        for k, v in zip(varying, key, strict=True)
    )


def display_label(varying: list[str], key: tuple) -> str:
    """A setting combination's label in legends: "Actual LinkedIn policy (baseline), face boost of
    the feed = 2.0"."""
    parts = []
    for k, v in zip(varying, key, strict=True):
        if k == "policy":
            baseline = v == names.BASELINE_POLICY and len(varying) >= 1
            parts.append(names.policy_name(v) + (" (baseline)" if baseline else ""))
        elif k == STORY:
            parts.append(story_label(v))
        else:
            parts.append(f"{names.setting_name(k)} = {v}")
    return ", ".join(parts)


def slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def _policy_of(varying: list[str], key: tuple, frame: pd.DataFrame) -> str | None:
    if "policy" in varying:
        return str(key[varying.index("policy")])
    if "policy" in frame.columns and frame.policy.nunique() == 1:
        return str(frame.policy.iloc[0])
    return None


def _groups(reduced: pd.DataFrame, varying: list[str]):
    """(display label, style, policy, frame) per combination of the varying settings, the baseline
    (the real policy, when policies are compared) last and in its own style."""
    out = []
    for i, (key, frame) in enumerate(reduced.groupby(varying, sort=True, dropna=False)):
        key = key if isinstance(key, tuple) else (key,)
        policy = _policy_of(varying, key, frame)
        baseline = "policy" in varying and policy == names.BASELINE_POLICY
        style = dict(BASELINE_STYLE) if baseline else {**series_style(i), "lw": 1.2}
        out.append((display_label(varying, key), style, policy, frame, baseline))
    out.sort(key=lambda g: g[4])
    return [g[:4] for g in out]


def _series(reduced: pd.DataFrame, varying: list[str]):
    """(code label, frame) per combination of the varying settings (file names)."""
    for key, frame in reduced.groupby(varying, sort=True, dropna=False):
        yield series_label(varying, key if isinstance(key, tuple) else (key,)), frame


def _words(policy: str | None) -> dict[str, str]:
    return _META.get("words", {}).get(policy, {}) if policy else {}


def _draw(ax, frame: pd.DataFrame, metric: str, region: str, scale: float, label: str, style: dict) -> float:
    """The median line and 10-90% band of a series; returns the band's top (for the axis)."""
    part = frame[(frame.metric == metric) & (frame.region == region)].sort_values("date")
    ax.plot(part.date, part["median"] / scale, label=label, **{"lw": 1.2, **style})
    band = {"zorder": style.get("zorder", 2) - 0.5} if "zorder" in style else {}
    ax.fill_between(part.date, part.q10 / scale, part.q90 / scale, color=style["color"], alpha=0.15, lw=0, **band)
    return float((part.q90 / scale).max()) if len(part) else 0.0


def _dates_axis(ax) -> None:
    dates_axis(ax)


def _caption_lines(reduced: pd.DataFrame, bands: bool = True) -> list[str]:
    meta = _META
    start = meta.get("start") or reduced.date.min()
    end = meta.get("end") or reduced.date.max()
    replicates = meta.get("replicates") or (int(reduced.replicates.max()) if "replicates" in reduced else None)
    seeds = meta.get("seeds") or None
    agents = meta.get("agents") or (
        sorted(reduced["population.agents"].unique()) if "population.agents" in reduced else None
    )
    line = caption(seeds, agents, start, end, meta.get("uncertainty"), replicates)
    if not bands:
        over = f"over {replicates} replicates" if replicates and replicates > 1 else "of one run"
        line = line.rsplit(";", 1)[0] + f"; lines: medians {over}, no bands."
    return [line, *(f"Warning: {w}" for w in _CAPTION)]


def _finish(fig, reduced: pd.DataFrame, lines: list[str] = (), bands: bool = True):
    add_footer(fig, [*lines, *_caption_lines(reduced, bands)])
    return fig


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    fig.savefig(paths[0], dpi=DPI)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def _region_grid():
    """A panel per region and the whole membership, and a last panel for the legend (sized from
    the regions file); returns the figure, the panels and the legend panel."""
    regions = [*REGION_CODES, ALL]
    rows, cols = panel_grid(len(regions) + 1)
    fig, axes = plt.subplots(
        rows, cols, figsize=(7.2, 2.0 * rows + 1.2), sharex=True, sharey=True, layout="constrained"
    )
    for ax in axes.flat[len(regions) :]:
        ax.axis("off")
    return fig, axes, list(zip(axes.flat, regions, strict=False)), axes.flat[-1]


def _choice_title(groups, metric: str, default: str) -> str:
    """The words for a choice across the series' designs: "opted out" alone, or "declined the
    request or opted out" where opt-in and opt-out designs are compared (no-option ones left out)."""
    phrases = (_words(g[2]).get(metric, default) for g in groups)
    words = list(dict.fromkeys(part for phrase in phrases for part in phrase.split(" or ")))  # each kind once
    shown = [w for w in words if not w.startswith("none can")] or words
    return " or ".join(shown)


def region_panels_figure(
    reduced,
    varying,
    dates,
    metric: str,
    ylabel: str,
    title: str,
    beside=None,
    keys=(),
    share: bool = True,
    solid_baseline: bool = False,
):
    """A panel per region, a line (median, 10-90% band) per setting combination, the policy
    events numbered; returns the Figure. `beside(ax, frame, region, style)` draws more of each
    combination; `keys` are extra (handle, label) pairs of the legend."""
    fig, axes, panels, legend_ax = _region_grid()
    groups = _groups(reduced, varying)
    words = {g[2]: _words(g[2]).get(metric) for g in groups}
    differ = len(set(words.values())) > 1
    numbers = event_numbers(dates, reduced.date.min(), reduced.date.max())
    top = 0.0
    for ax, region in panels:
        for label, style, policy, frame in groups:
            if solid_baseline and "(baseline)" in label:  # where dashes mean something else
                style = {**style, "ls": "-"}
            shown = f"{label}:\n  {words[policy]}" if differ and words[policy] else label
            top = max(top, _draw(ax, frame, metric, region, 1.0, shown, style))
            if beside is not None:
                beside(ax, frame, region, style)
        draw_events(ax, dates.get(region, []), numbers)
        ax.set_title(names.region_title(region))
        _dates_axis(ax)
    if share:
        percent_axis(axes.flat[0], nice_top(top))
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles, labels = handles + [k[0] for k in keys], labels + [k[1] for k in keys]
    legend_ax.legend(handles, labels, loc="center", frameon=False, fontsize=6,
                     title=", ".join(names.setting_name(v) for v in varying), title_fontsize=6.5)  # fmt: skip
    fig.suptitle(f"{title}\nmedian and 10-90% band over replicates; numbered lines: policy events (key below)")
    lines = [event_key(numbers), counterfactual_note(g[2] for g in groups)] if numbers else []
    return _finish(fig, reduced, [*lines, names.all_members_note()])


def region_panels(
    reduced, varying, dates, metric: str, ylabel: str, title: str, out_dir: Path, name: str, beside=None, keys=()
):
    """region_panels_figure, saved as out_dir/name.png and .svg."""
    return _save(region_panels_figure(reduced, varying, dates, metric, ylabel, title, beside, keys), out_dir, name)


def opt_out_figure(reduced, varying, dates):
    groups = _groups(reduced, varying)
    title = f"Eligible members who {_choice_title(groups, 'opted_out_share', 'opted out')}"
    return region_panels_figure(reduced, varying, dates, "opted_out_share", "% of eligible members", title)


def enrolled_and_in_use_figure(reduced, varying, dates):
    """Per region, each series' share of eligible members in use for training now (solid, with its
    band) and enrolled, set to be used whether or not training runs yet (dashed, same colour): the
    two part where a region is enrolled before its training starts (docs/ODD.md §8)."""

    def enrolled(ax, frame, region, style):
        part = frame[(frame.metric == "enrolled_share") & (frame.region == region)].sort_values("date")
        ax.plot(part.date, part["median"], lw=0.9, color=style["color"], ls="--", zorder=style.get("zorder", 2))

    keys = (
        (Line2D([], [], color="0.3", lw=1.3), "solid: in use for training now"),
        (Line2D([], [], color="0.3", lw=1.0, ls="--"), "dashed: enrolled, set to be used (training or not)"),
    )
    title = "Data in use for training now (solid, with its band) and enrolled, set to be used (dashed)"
    return region_panels_figure(
        reduced, varying, dates, "in_use_share", "% of eligible members", title, enrolled, keys, solid_baseline=True
    )


def enrolled_and_in_use(reduced, varying, dates, out_dir: Path) -> list[Path]:
    return _save(enrolled_and_in_use_figure(reduced, varying, dates), out_dir, "enrolled_and_in_use")


def _grid_with_legend_row(rows: int, cols: int, size: tuple, sharey: bool):
    """rows x cols panels (shared dates; shared y per row if `sharey`) and a thin row below them for
    the legend (kept clear of the caption at the foot)."""
    fig = plt.figure(figsize=size, layout="constrained")
    grid = fig.add_gridspec(rows + 1, cols, height_ratios=[*([1] * rows), 0.22])
    axes = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for c in range(cols):
            share_x = axes[0, 0] if (r or c) else None
            share_y = axes[r, 0] if sharey and c else None
            axes[r, c] = fig.add_subplot(grid[r, c], sharex=share_x, sharey=share_y)
            if r < rows - 1:
                axes[r, c].tick_params(labelbottom=False)
            if share_y is not None:
                axes[r, c].tick_params(labelleft=False)
    legend_ax = fig.add_subplot(grid[rows, :])
    legend_ax.axis("off")
    return fig, axes, legend_ax


def dataset_figure(reduced, varying):
    """The whole membership's training set by type, the baseline drawn last (black dashed); each
    panel's title gives the baseline's (or the first series') total at the horizon."""
    fig, axes, legend_ax = _grid_with_legend_row(2, 2, (7.2, 5.8), sharey=False)
    groups = _groups(reduced, varying)
    end = reduced.date.max()
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        for series_label_, style, _policy, frame in groups:
            _draw(ax, frame, metric, ALL, scale, series_label_, style)
        ref_label, _, _, ref = groups[-1]
        last = ref[(ref.metric == metric) & (ref.region == ALL) & (ref.date == end)]
        total = human(float(last["median"].iloc[0]), label.split(" (")[0], scale) if len(last) else "n/a"
        if len(last) and last.q90.iloc[0] > last.q10.iloc[0]:  # the interval beside the number
            total += f" ({last.q10.iloc[0] / scale:,.0f}-{last.q90.iloc[0] / scale:,.0f})"
        who = "baseline" if "(baseline)" in ref_label else ref_label.split(",")[0]
        # three short lines: two panels side by side leave no room for the total and its interval on one
        ax.set_title(f"{label.capitalize()}, cumulative\n{who} by {end:%-d %b %Y}:\n{total}", fontsize=9)
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
        _dates_axis(ax)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncol=2, frameon=False, fontsize=6.5)
    fig.suptitle("Training set of all members by data type (median, 10-90% band)")
    note = (
        "The baseline (the real policy) is drawn last, black dashed, on top of any series it equals."
        if any("(baseline)" in g[0] for g in groups)
        else ""
    )
    return _finish(fig, reduced, [note])


def dataset_by_type(reduced, varying, out_dir: Path) -> list[Path]:
    return _save(dataset_figure(reduced, varying), out_dir, "dataset_by_type")


def consent_gap_figure(reduced, varying, label: str, frame: pd.DataFrame, policy: str | None, dates=None):
    """One series' consent gap per region: the median of the total (black) and the median of each
    part (lines, not stacked: medians of parts need not add up to the median total)."""
    fig, axes, panels, legend_ax = _region_grid()
    words = {**GAP_PARTS, **{k: v for k, v in _words(policy).items() if k in GAP_PARTS}}
    numbers = event_numbers(dates or {}, reduced.date.min(), reduced.date.max())
    lines = [event_key(numbers), counterfactual_note([policy])] if numbers else []
    top = 0.0
    for ax, region in panels:
        draw_events(ax, (dates or {}).get(region, []), numbers)
        here = frame[frame.region == region]
        total = here[here.metric == "consent_gap_share"].sort_values("date")
        if len(total):
            ax.plot(total.date, total["median"], color=QUANTITY_COLOURS["consent_gap_share"], lw=1.4,
                    label="consent gap (total)")  # fmt: skip
            top = max(top, float(total["median"].max()))
        for metric in GAP_PARTS:
            part = here[here.metric == metric].sort_values("date")
            ax.plot(part.date, part["median"], color=GAP_COLOURS[metric], lw=1.0, label=words[metric])
            top = max(top, float(part["median"].max()) if len(part) else 0.0)
        ax.set_title(names.region_title(region))
        _dates_axis(ax)
    percent_axis(axes.flat[0], nice_top(top))
    for ax in axes[:, 0]:
        ax.set_ylabel("% of eligible members")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", frameon=False, title="objectors enrolled", fontsize=6.5)
    fig.suptitle(f"Consent gap and its parts: {label}")
    note = (
        "Lines: the median over replicates of the total and of each part, not stacked (medians of the parts "
        "need not add up to the median total)."
    )
    return _finish(fig, reduced, [*lines, note, names.all_members_note()], bands=False)


def consent_gap_parts(reduced, varying, out_dir: Path, max_series: int = 8, dates=None) -> list[Path]:
    paths = []
    codes = [code for code, _ in _series(reduced, varying)]
    for n, (key, frame) in enumerate(reduced.groupby(varying, sort=True, dropna=False)):
        if n >= max_series:
            break
        key = key if isinstance(key, tuple) else (key,)
        policy = _policy_of(varying, key, frame)
        fig = consent_gap_figure(reduced, varying, display_label(varying, key), frame, policy, dates)
        paths += _save(fig, out_dir, f"consent_gap_{slug(codes[n])}")
    return paths


def choices_figure(reduced, varying):
    """Opt-outs and opt-ins of the whole membership by channel (prompt, settings, form, one-click)."""
    fig, axes, legend_ax = _grid_with_legend_row(2, len(CHOICE_CHANNELS), (7.2, 5.0), sharey=True)
    groups = _groups(reduced, varying)
    for row, direction in zip(axes, ("opted_out", "opted_in"), strict=True):
        word = _choice_title(groups, f"{direction}_share", names.metric_name(f"{direction}_share"))
        top = 0.0
        for ax, channel in zip(row, CHOICE_CHANNELS, strict=True):
            for label, style, _policy, frame in groups:
                top = max(top, _draw(ax, frame, f"{direction}_via_{channel}_share", ALL, 1.0, label, style))
            ax.set_title(f"via {names.CHANNEL_NAMES.get(channel, channel.replace('_', ' '))}")
            _dates_axis(ax)
        percent_axis(row[0], nice_top(top))
        row[0].set_ylabel(textwrap.fill(word.capitalize(), 24) + "\n(% of eligible members)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncol=2, frameon=False, fontsize=6.5)
    fig.suptitle("Choices by channel, all members (median, 10-90% band)")
    return _finish(fig, reduced, [names.all_members_note()])


def choices_by_channel(reduced, varying, out_dir: Path) -> list[Path]:
    return _save(choices_figure(reduced, varying), out_dir, "choices_by_channel")


def single_panel_figure(reduced, varying, metric, region, ylabel, title, percent: bool = True):
    fig, ax = plt.subplots(figsize=(5.0, 3.6), layout="constrained")
    top = 0.0
    for label, style, _policy, frame in _groups(reduced, varying):
        top = max(top, _draw(ax, frame, metric, region, 1.0, label, style))
    if percent:
        percent_axis(ax, nice_top(top))
    ax.set_ylabel(ylabel)
    _dates_axis(ax)
    ax.legend(frameon=False, title=", ".join(names.setting_name(v) for v in varying), fontsize=6.5)
    ax.set_title(title)
    return _finish(fig, reduced)


def single_panel(reduced, varying, metric, region, ylabel, title, out_dir: Path, name: str) -> list[Path]:
    return _save(single_panel_figure(reduced, varying, metric, region, ylabel, title), out_dir, name)


def varies_face_share(varying: list[str]) -> bool:
    """Whether the sweep varies what sets the face share of new posts (a feed setting, e.g. face_boost)."""
    return any(str(v).startswith("feed.") for v in varying)


STORY = "awareness.media.extra_events"  # the publicity experiment's extra story (text in the aggregate)
GUIDANCE = "guidance.coverage_share"
STORY_LEVELS = ("high", "moderate", "low")  # strongest first (conf/awareness media levels)


def story_of(value: str) -> tuple[str, str] | None:
    """(media level, date) of an extra-events setting as the aggregate writes it (text); None if no story."""
    level, date = re.search(r"'level': '(\w+)'", value), re.search(r"'date': '([\d-]+)'", value)
    return (level.group(1), date.group(1)) if level and date else None


def strongest_story(values: list[str]) -> str | None:
    """Of extra-events settings, the one with the strongest story (STORY_LEVELS order); None if none has one."""
    known = [v for v in values if story_of(v) and story_of(v)[0] in STORY_LEVELS]
    return min(known, key=lambda v: STORY_LEVELS.index(story_of(v)[0])) if known else None


def story_label(value: str) -> str:
    story = story_of(value)
    return f"{story[0]} story on {story[1]}" if story else "no story"


def publicity_daily_opt_outs(reduced, varying, out_dir: Path) -> list[Path]:
    """Opt-outs per day with no story, and with the strongest story without and with its coverage
    printing the steps (other settings at their first value): the spike after a story and its decay
    (docs/ODD.md §7.10)."""
    others = [v for v in varying if v not in (STORY, GUIDANCE)]
    part = reduced
    for setting in others:
        part = part[part[setting] == sorted(part[setting].unique())[0]]
    stories = {value: story_of(value) for value in part[STORY].unique()} if STORY in varying else {}
    levels = ("high", "moderate", "low")
    strongest = (
        min(
            (v for v, s in stories.items() if s),
            key=lambda v: levels.index(stories[v][0]) if stories[v][0] in levels else 9,
        )
        if any(stories.values())
        else None
    )
    shares = sorted(part[GUIDANCE].unique(), key=float) if GUIDANCE in varying else [None]
    lines = [(None, shares[0]), (strongest, shares[0]), (strongest, shares[-1])]
    fig, ax = plt.subplots(figsize=(6.0, 3.6), layout="constrained")
    for i, (story, share) in enumerate(dict.fromkeys(lines)):
        frame = part
        if STORY in varying:
            frame = frame[frame[STORY].map(lambda v, story=story: v == story if story else stories[v] is None)]
        if share is not None:
            frame = frame[frame[GUIDANCE] == share]
        label = story_label(story or "") + (f", {float(share):.0%} of coverage prints the steps" if share else "")
        _draw(ax, frame, "new_opt_outs", ALL, 1e3, label, {**series_style(i), "lw": 1.2})
    ax.set_ylabel("opt-outs per day (thousands)")
    _dates_axis(ax)
    held = ", ".join(
        names.policy_name(v) if k == "policy" else f"{names.setting_name(k)} = {v}"
        for k in others
        for v in [sorted(part[k].unique())[0]]
    )
    ax.legend(frameon=False, fontsize=7, title=held or None, title_fontsize=7)
    ax.set_title("Daily opt-outs by story and printed steps, all members (median, 10-90% band)")
    return _save(_finish(fig, reduced), out_dir, "publicity_daily_opt_outs")


def plot(path: Path, out_dir: Path | None = None) -> list[Path]:
    """Draw every figure for a sweep or run folder; return the files written. Figures of a sweep
    with jobs that failed or never finished say so in a line at their foot."""
    _META.clear()
    reduced, varying, dates = load(path)
    if reduced.empty:
        raise ValueError(f"{path} has no complete run to draw (see {Path(path) / AGGREGATE_DIR / 'runs.csv'})")
    out_dir = Path(out_dir) if out_dir else Path(path) / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    note = jobs_note(path)
    _CAPTION[:] = [note] if note else []
    try:
        return _plot_all(reduced, varying, dates, out_dir)
    finally:
        _CAPTION.clear()
        _META.clear()


def build_figures(reduced, varying, dates) -> list[tuple[str, object]]:
    """(name, Figure) of every figure of a reduced table but the per-series consent gaps and the
    publicity figure (which _plot_all adds)."""
    out = [("opt_out_curves", opt_out_figure(reduced, varying, dates))]
    if reduced[reduced.metric == "opted_in_share"]["median"].max() > 0:
        title = "Eligible members who opted in"
        out.append(
            (
                "opt_in_curves",
                region_panels_figure(reduced, varying, dates, "opted_in_share", "% of eligible members", title),
            )
        )
    if (reduced.metric == "in_use_share").any():  # sweeps of older runs have no in-use series
        out.append(("enrolled_and_in_use", enrolled_and_in_use_figure(reduced, varying, dates)))
    out.append(("dataset_by_type", dataset_figure(reduced, varying)))
    if reduced.metric.str.contains("_via_").any():  # sweeps of older runs have no channels
        out.append(("choices_by_channel", choices_figure(reduced, varying)))
    if varies_face_share(varying):
        fig = single_panel_figure(
            reduced, varying, "face_post_share", ALL, "% of new posts with a face image",
            "Face-image share of new posts, all members",
        )  # fmt: skip
        out.append(("face_share", fig))
    fig = region_panels_figure(
        reduced, varying, dates, "dataset_from_objectors_share", "% of text tokens in the set",
        "Share of the training set's text from members who later objected",
    )  # fmt: skip
    out.append(("objector_data", fig))
    return out


def _plot_all(reduced, varying, dates, out_dir: Path) -> list[Path]:
    paths = []
    for name, fig in build_figures(reduced, varying, dates):
        paths += _save(fig, out_dir, name)
    paths += consent_gap_parts(reduced, varying, out_dir, dates=dates)
    if STORY in varying or GUIDANCE in varying:
        paths += publicity_daily_opt_outs(reduced, varying, out_dir)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a sweep folder (Hydra multirun) or a run folder")
    parser.add_argument("--out", type=Path, help="where to write the figures (default: PATH/figures)")
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"no such folder: {args.path}", file=sys.stderr)
        return 2
    if not args.path.is_dir():  # e.g. a run's series.parquet or an aggregate table
        print(f"{args.path} is a file, not a folder: give a sweep folder (the folder of run folders) or "
              f"a run folder (with {SERIES_FILE}), e.g. {args.path.parent}", file=sys.stderr)  # fmt: skip
        return 2
    try:
        paths = plot(args.path, args.out)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    note = jobs_note(args.path)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
