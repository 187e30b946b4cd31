"""The two headline figures of a run: consent curves per region, and the dataset by type.

Drawn from the run's tidy series (never from typed numbers), with the shared pieces every figure
of a run or a sweep (sim.reports.plot) uses: one colour per quantity (Paul Tol's vibrant palette,
colour-blind safe) in every figure, shares in percent on axes scaled to the data, the policy's
events as numbered vertical lines with a key of dates and labels below, readable names
(sim.reports.names) and a caption line with the seeds, agents, dates and what a band covers.
Enrolment (set to be used) is dashed beside the data in use for training now (solid).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from sim.model.regions import ALL, REGION_CODES  # noqa: E402
from sim.reports import names  # noqa: E402

TOL_MUTED = [
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#555555",
]
TOL_VIBRANT = {
    "orange": "#EE7733",
    "blue": "#0077BB",
    "cyan": "#33BBEE",
    "magenta": "#EE3377",
    "red": "#CC3311",
    "teal": "#009988",
    "grey": "#BBBBBB",
}
# One colour per quantity, the same in every figure of a run or a sweep.
QUANTITY_COLOURS = {
    "aware_share": TOL_VIBRANT["orange"],
    "enrolled_share": TOL_VIBRANT["teal"],
    "in_use_share": TOL_VIBRANT["teal"],
    "opted_out_share": TOL_VIBRANT["magenta"],
    "opted_in_share": TOL_VIBRANT["blue"],
    "consent_gap_share": "#000000",
}
BASELINE_STYLE = {"color": "#000000", "ls": (0, (4, 1.5)), "lw": 1.6, "zorder": 5}  # the real policy, on top
FONT = {"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "axes.labelsize": 8}
DPI = 200
CONSENT_LINES = {
    "aware_share": "aware",
    "enrolled_share": "enrolled: set to be used, training or not (dashed)",
    "in_use_share": "in use: enrolled where training runs now",
    "opted_out_share": "opted out",
    "opted_in_share": "opted in",
    "consent_gap_share": "consent gap",
}
REACH_LINES = ("aware_share", "enrolled_share", "in_use_share")
CHOICE_LINES = ("opted_out_share", "opted_in_share", "consent_gap_share")
# Enrolment is drawn dashed and the data in use solid, in one colour: a region can be enrolled
# (set to be used) before its training starts (docs/ODD.md §8), and the two lines part there.
LINE_STYLES = {
    "aware_share": {"color": QUANTITY_COLOURS["aware_share"]},
    "enrolled_share": {"color": QUANTITY_COLOURS["enrolled_share"], "ls": "--"},
    "in_use_share": {"color": QUANTITY_COLOURS["in_use_share"]},
    "opted_out_share": {"color": QUANTITY_COLOURS["opted_out_share"]},
    "opted_in_share": {"color": QUANTITY_COLOURS["opted_in_share"]},
    "consent_gap_share": {"color": QUANTITY_COLOURS["consent_gap_share"]},
}
DATASET_PANELS = {
    "dataset_profiles": ("profiles", 1e6, "millions"),
    "dataset_text_tokens": ("text tokens", 1e9, "billions"),
    "dataset_face_images": ("face images (identity-labelled)", 1e6, "millions"),
    "dataset_other_images": ("other images", 1e6, "millions"),
}
# The consent gap's parts (they sum to consent_gap_share), with their labels.
GAP_PARTS = {
    "gap_unaware_share": "unaware",
    "gap_intending_share": "aware, intending",
    "gap_gave_up_share": "aware, gave up after failing",
    "gap_not_trying_share": "aware, not trying",
}
GAP_COLOURS = dict(zip(GAP_PARTS, (TOL_MUTED[0], TOL_MUTED[2], TOL_MUTED[6], TOL_MUTED[4]), strict=True))


def panel_grid(panels: int, columns: int = 4) -> tuple[int, int]:
    """Rows and columns of a grid that holds `panels` panels (regions come from the data)."""
    return -(-panels // columns), columns


def series_style(i: int) -> dict:
    """Colour and line style of the i-th series: the palette's colours, then again dashed, ..."""
    styles = ("-", "--", ":", "-.")
    return {"color": TOL_MUTED[i % len(TOL_MUTED)], "ls": styles[(i // len(TOL_MUTED)) % len(styles)]}


# ---------------------------------------------------------------- shared pieces
def nice_top(value: float) -> float:
    """An axis's upper limit just above `value` (a share): 1 for shares near 1, else a round step."""
    if not value or value <= 0 or not math.isfinite(value):
        return 0.01
    if value > 0.8:
        return 1.0
    step = 10 ** math.floor(math.log10(value * 1.1))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value * 1.08 <= m * step:
            return min(1.0, round(m * step, 10))
    return 1.0


def percent_axis(ax, top: float) -> None:
    """Shares in percent on 0..top, with readable ticks."""
    ax.set_ylim(0, top * 1.02)  # a line at the top (100%) stays visible
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    decimals = 1 if top < 0.05 else 0
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))


def dates_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(alpha=0.3)


def short_label(label: str, width: int = 80) -> str:
    """An event's label without its sources (the part in parentheses), region codes in it named,
    shortened to `width`."""
    text = label.split(" (")[0].strip() or label.strip()
    text = names.name_codes(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def events_of(phases: dict) -> dict[str, list[tuple[pd.Timestamp, str]]]:
    """Per region, its policy events (date, label) from a policy's compiled phases; the whole
    membership gets every region's events."""
    out = {code: [(pd.Timestamp(p.start), p.label) for p in phases.get(code, ()) if p.start] for code in phases}
    out[ALL] = sorted({e for events in out.values() for e in events})
    return out


def _event(item) -> tuple[pd.Timestamp, str]:
    return (pd.Timestamp(item[0]), item[1]) if isinstance(item, tuple) else (pd.Timestamp(item), "")


def event_numbers(events: dict, start, end) -> dict[pd.Timestamp, tuple[int, str]]:
    """A number per event date in the window (date order), with the date's first label."""
    found: dict[pd.Timestamp, str] = {}
    for items in events.values():
        for item in items:
            day, label = _event(item)
            if start <= day <= end and (day not in found or (label and not found[day])):
                found[day] = label
    return {day: (k + 1, found[day]) for k, day in enumerate(sorted(found))}


def draw_events(ax, items, numbers: dict) -> None:
    """A region's event lines, each with its number near the top (staggered so close days'
    numbers do not overlap)."""
    for item in items:
        day, _ = _event(item)
        if day not in numbers:
            continue
        k = numbers[day][0]
        ax.axvline(day, color="0.5", ls=(0, (2, 2)), lw=0.6, zorder=1)
        ax.text(day, 0.97 - 0.1 * ((k - 1) % 3), str(k), transform=ax.get_xaxis_transform(), fontsize=6,
                ha="center", va="top", color="0.25", bbox={"boxstyle": "circle,pad=0.15", "fc": "white",
                "ec": "0.6", "lw": 0.4}, zorder=6)  # fmt: skip


def event_key(numbers: dict) -> str:
    """The key of the numbered event lines: number, date and short label, one per line."""
    return "\n".join(
        f"{k}  {day.strftime('%-d %b %Y')}: {short_label(label) or 'policy phase changes'}"
        for day, (k, label) in numbers.items()
    )


def counterfactual_note(policies) -> str:
    """A note for the event key where a counterfactual policy is drawn: its events' labels are the
    real timeline's (it keeps the dates and substitutes its own design)."""
    if any(p and p != names.BASELINE_POLICY for p in policies):
        return (
            "Event labels are those of the real timeline; a counterfactual policy keeps its dates and "
            "substitutes its own design."
        )
    return ""


def add_footer(fig, lines: list[str]) -> None:
    """The caption lines at the foot of the figure (its supxlabel, so the layout keeps room for it)."""
    width = int(fig.get_figwidth() * 21)  # characters of 6 pt type across the figure
    text = "\n".join(textwrap.fill(line, width, subsequent_indent="   ") for block in lines if block
                      for line in block.split("\n"))  # fmt: skip
    fig.supxlabel(text, x=0.01, ha="left", fontsize=6, color="0.15", linespacing=1.3)


def interval_note(uncertainty: dict | None, replicates: int | None, seeds: int = 1) -> str:
    """What a band covers: seeds only, or posterior draws (and seeds). `replicates`: per setting (a
    posterior sweep's are its seeds x its draws)."""
    mode = (uncertainty or {}).get("mode", "none")
    draws = (uncertainty or {}).get("draws", 0)
    if mode == "posterior" and replicates and replicates > 1 and seeds > 1:
        return f"bands: 10-90% over {replicates} replicates ({seeds} seeds x {draws} posterior draws)"
    if mode == "posterior":
        return f"bands: 10-90% over {draws} posterior draws (parameter uncertainty, one seed)"
    if replicates and replicates > 1:
        return f"bands: 10-90% over {replicates} replicate seeds (seed noise only, parameters at the shipped defaults)"
    return "one simulation: no interval (seed noise and parameter uncertainty not shown)"


def caption(seeds, agents, start, end, uncertainty: dict | None, replicates: int | None) -> str:
    seeds = sorted({int(s) for s in seeds}) if seeds is not None else []
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}" if seeds else ""
    agents_text = ", ".join(f"{int(a):,}" for a in sorted({int(a) for a in agents})) if agents else "?"
    span = f"{pd.Timestamp(start):%-d %b %Y} to {pd.Timestamp(end):%-d %b %Y}"
    return f"{seed_text}; {agents_text} agents; {span}; {interval_note(uncertainty, replicates, max(len(seeds), 1))}."


def human(value: float, unit: str, scale: float | None = None) -> str:
    """A count in readable units: "1,284 billion text tokens", "12.3 million profiles" (in the
    given scale's word if one is given, e.g. the panel's axis unit)."""
    scales = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
    for scale, word in [s for s in scales if scale is None or s[0] == scale]:
        if abs(value) >= scale:
            v = value / scale
            return f"{v:,.0f} {word} {unit}" if v >= 100 else f"{v:,.3g} {word} {unit}"
        if scale is not None:
            return f"{value / scale:,.3g} {word} {unit}"
    return f"{value:,.0f} {unit}"


# ---------------------------------------------------------------- a run's figures
def draw_headline_figures(frame: pd.DataFrame, phases: dict, out_dir: Path, policy: str, config=None) -> list[Path]:
    """Write consent_curves.png and dataset_by_type.png into out_dir; return their paths.
    `config` (the run's SimConfig) gives the caption's seed, agents and uncertainty and the design's
    regimes (the words for its choices)."""
    out_dir = Path(out_dir)
    paths = []
    for name, fig in (
        ("consent_curves", consent_curves_figure(frame, phases, policy, config)),
        ("dataset_by_type", dataset_figure(frame, policy, config)),
    ):
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        paths.append(path)
    return paths


def _run_caption(frame: pd.DataFrame, config) -> str:
    if config is None:
        return caption(None, None, frame.date.min(), frame.date.max(), None, None)
    unc = {"mode": config.uncertainty.mode, "draws": config.uncertainty.draws}
    return caption([config.seed], [config.population.agents], config.start, config.end, unc, None)


def _design_words(config) -> dict[str, str]:
    if config is None:
        return {}
    from sim.model.policy import design_rows, region_phases

    rows = {r.name: r for r in design_rows(config.policy)}
    used = {p.regime for ps in region_phases(config.policy).values() for p in ps}
    return names.choice_words(rows[r] for r in used if r in rows)


def _wide(frame: pd.DataFrame, metric: str, q: float = 0.5) -> pd.DataFrame:
    """[date x region] of a metric (the median, or quantile q, over posterior draws if any)."""
    part = frame[frame.metric == metric]
    if "draw" in part.columns and part["draw"].nunique() > 1:
        return part.groupby(["date", "region"])["value"].quantile(q).unstack("region")
    return part.pivot_table(index="date", columns="region", values="value", aggfunc="first")


def consent_curves_figure(frame: pd.DataFrame, phases: dict, policy: str, config=None):
    """Two grids of a panel per region and the whole membership: reach (aware, enrolled, in use;
    0-100%) above choices (opted out, opted in, consent gap; on an axis scaled to the data)."""
    plt.rcParams.update(FONT)
    regions = [*REGION_CODES, ALL]
    rows, cols = panel_grid(len(regions) + 1)
    words = {**{m: names.metric_name(m) for m in CONSENT_LINES}, **_design_words(config)}
    recorded = set(frame.metric.unique())  # a series of an older run may lack a line (in_use_share)
    start, end = frame.date.min(), frame.date.max()
    events = events_of(phases) if phases else {}
    numbers = event_numbers(events, start, end)
    bands = "draw" in frame.columns and frame["draw"].nunique() > 1
    fig = plt.figure(figsize=(7.2, 2 * 1.45 * rows + 1.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, hspace=0.02)
    for sub, group, title in (
        (top, REACH_LINES, "Awareness and enrolment"),
        (bottom, CHOICE_LINES, "Choices and the consent gap (axis scaled to the data)"),
    ):
        axes = sub.subplots(rows, cols, sharex=True, sharey=True)
        series = {m: _wide(frame, m) for m in group if m in recorded}
        upper = max((float(w.max().max()) for w in series.values()), default=0.0)
        for ax, code in zip(axes.flat, regions, strict=False):
            for metric, wide in series.items():
                ax.plot(wide.index, wide[code], lw=1.2, label=words[metric], **LINE_STYLES[metric])
                if bands:
                    lo, hi = _wide(frame, metric, 0.1)[code], _wide(frame, metric, 0.9)[code]
                    ax.fill_between(lo.index, lo, hi, color=LINE_STYLES[metric]["color"], alpha=0.2, lw=0)
            draw_events(ax, events.get(code, ()), numbers)
            ax.set_title(names.region_title(code))
            dates_axis(ax)
        percent_axis(axes.flat[0], 1.0 if group is REACH_LINES else nice_top(upper))
        for ax in axes.flat[len(regions) :]:
            ax.axis("off")
        for ax in axes[:, 0]:
            ax.set_ylabel("% of eligible members")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        axes.flat[-1].legend(handles, labels, loc="center", frameon=False, fontsize=6.5)
        sub.suptitle(title, fontsize=8)
    fig.suptitle(f"Consent curves per region: {names.policy_name(policy)}", fontsize=9)
    add_footer(
        fig,
        [
            event_key(numbers) if numbers else "",
            counterfactual_note([policy]) if numbers else "",
            f"{names.policy_name(policy)}: {names.name_codes(names.policy_descriptions().get(policy, ''))}"
            if names.policy_descriptions().get(policy)
            else "",
            names.all_members_note(),
            _run_caption(frame, config),
        ],
    )
    return fig


def dataset_figure(frame: pd.DataFrame, policy: str, config=None):
    """The training set per region by type, each panel's title with the whole membership's total
    at the horizon in readable units."""
    plt.rcParams.update(FONT)
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.4), sharex=True, layout="constrained")
    end = frame.date.max()
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        wide = _wide(frame, metric)
        for i, code in enumerate(REGION_CODES):
            ax.plot(wide.index, wide[code] / scale, lw=1.2, label=names.region_name(code), **series_style(i))
        total = float(wide[ALL].iloc[-1]) if ALL in wide else float(wide[list(REGION_CODES)].iloc[-1].sum())
        ax.set_title(
            f"{label.capitalize()}, cumulative\ntotal {human(total, label.split(' (')[0], scale)} by {end:%-d %b %Y}"
        )
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
        dates_axis(ax)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", title="region", frameon=False)
    fig.suptitle(f"Training set per region by data type: {names.policy_name(policy)}", fontsize=9)
    add_footer(fig, [_run_caption(frame, config)])
    return fig
