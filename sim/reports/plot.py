"""Publication figures of a sweep (or one run): `python -m sim.reports.plot SWEEP_DIR [--out DIR]`.

Reads SWEEP_DIR/aggregate/reduced.parquet (aggregating first if it is missing) or, for a run
folder, its series.parquet. Draws, in PNG and SVG, into SWEEP_DIR/figures/:

- opt_out_curves / opt_in_curves: one panel per region, one line per setting combination (e.g.
  policy), median with the 10-90% band over replicates, policy dates marked;
- enrolled_and_in_use: per region, the share in use for training now (solid) beside the share
  enrolled, set to be used whether or not training runs yet (dashed);
- dataset_by_type: the whole membership's training set over time by type, in readable units;
- consent_gap_<series>: the consent gap and its parts (unaware, intending, gave up, not trying) per region;
- face_share: the face share of new posts over time, one line per setting (e.g. face_boost);
- objector_data: the share of the set that came from members who later objected, per region,
  one line per setting (e.g. with and without retroactive removal).

Colours are Paul Tol's muted palette (colour-blind safe); every axis says its unit.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import yaml  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from sim.analysis.aggregate import AGGREGATE_DIR, REDUCED_FILE, SEED, SERIES_FILE, aggregate  # noqa: E402
from sim.core.run_folder import CONFIG  # noqa: E402
from sim.model.metrics import CHOICE_CHANNELS  # noqa: E402
from sim.model.regions import ALL, REGION_CODES  # noqa: E402
from sim.reports.figures import DATASET_PANELS, GAP_PARTS, TOL_MUTED, panel_grid, series_style  # noqa: E402

plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7})
_CAPTION: list[str] = []  # a line every figure of the current plot() carries (jobs failed or missing)


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
    for run in index[index.status == "ok"].drop_duplicates("policy").run:
        configs.append(yaml.safe_load((path / run / CONFIG).read_text()))
    return reduced, varying, _phase_dates(configs)


def figure_metrics() -> list[str]:
    """Every metric a figure of a sweep draws: plot() reads only these rows of the reduced table."""
    channels = [f"{d}_via_{c}_share" for d in ("opted_out", "opted_in") for c in CHOICE_CHANNELS]
    named = ["opted_out_share", "opted_in_share", "face_post_share", "dataset_from_objectors_share", "new_opt_outs"]
    return [*named, *DATASET_PANELS, *GAP_PARTS, *channels]


def read_metrics(reduced_file: Path) -> pd.DataFrame:
    """The reduced table's rows of the figures' metrics (all of an older, smaller table's columns)."""
    try:
        return pd.read_parquet(reduced_file, filters=[("metric", "in", figure_metrics())])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):  # an empty table has no metric column
        return pd.read_parquet(reduced_file)


def _phase_dates(configs: list[dict]) -> dict[str, list[pd.Timestamp]]:
    """Days a region's policy phase changed, in any of the configs' policies."""
    from sim.model.config import validate_config
    from sim.model.policy import region_phases

    dates: dict[str, set] = {code: set() for code in REGION_CODES}
    for raw in configs:
        for code, phases in region_phases(validate_config(raw).policy).items():
            dates[code] |= {pd.Timestamp(p.start) for p in phases if p.start is not None}
    dates[ALL] = set().union(*dates.values())
    return {code: sorted(d) for code, d in dates.items()}


def series_label(varying: list[str], key: tuple) -> str:
    """A setting combination's label in legends and file names: "linkedin_actual, face_boost=2.0"."""
    return ", ".join(
        str(v) if k == "policy" else story_label(v) if k == STORY else f"{k.split('.')[-1]}={v}"
        for k, v in zip(varying, key, strict=True)
    )


def slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def _series(reduced: pd.DataFrame, varying: list[str]):
    """(label, frame) per combination of the varying settings."""
    for key, frame in reduced.groupby(varying, sort=True, dropna=False):
        yield series_label(varying, key if isinstance(key, tuple) else (key,)), frame


def _draw(ax, frame: pd.DataFrame, metric: str, region: str, scale: float, label: str, style: dict) -> None:
    part = frame[(frame.metric == metric) & (frame.region == region)].sort_values("date")
    ax.plot(part.date, part["median"] / scale, lw=1.3, label=label, **style)
    ax.fill_between(part.date, part.q10 / scale, part.q90 / scale, color=style["color"], alpha=0.2, lw=0)


def _dates_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(alpha=0.3)


def _save(fig, out_dir: Path, name: str) -> list[Path]:
    for line in _CAPTION:
        fig.text(0.01, 0.002, f"Warning: {line}", fontsize=6, color="#882255", va="bottom")
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    fig.savefig(paths[0], dpi=200)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def _region_grid():
    """A panel per region and the whole membership, and a last panel for the legend (sized from
    the regions file); returns the figure, the panels and the legend panel."""
    regions = [*REGION_CODES, ALL]
    rows, cols = panel_grid(len(regions) + 1)
    fig, axes = plt.subplots(rows, cols, figsize=(7.2, 2.07 * rows), sharex=True, sharey=True, layout="constrained")
    for ax in axes.flat[len(regions) :]:
        ax.axis("off")
    return fig, axes, list(zip(axes.flat, regions, strict=False)), axes.flat[-1]


def region_panels(
    reduced, varying, dates, metric: str, ylabel: str, title: str, out_dir: Path, name: str, beside=None, keys=()
):
    """A panel per region, a line (median, 10-90% band) per setting combination. `beside(ax, frame,
    region, style)` draws more of each combination; `keys` are extra (handle, label) pairs of the legend."""
    fig, axes, panels, legend_ax = _region_grid()
    for ax, region in panels:
        for i, (label, frame) in enumerate(_series(reduced, varying)):
            _draw(ax, frame, metric, region, 1.0, label, series_style(i))
            if beside is not None:
                beside(ax, frame, region, series_style(i))
        for day in dates.get(region, []):
            if reduced.date.min() <= day <= reduced.date.max():
                ax.axvline(day, color="0.55", ls=(0, (2, 2)), lw=0.6)
        ax.set_title(region)
        _dates_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles, labels = handles + [k[0] for k in keys], labels + [k[1] for k in keys]
    legend_ax.legend(handles, labels, loc="center", frameon=False, title=", ".join(varying))
    fig.suptitle(f"{title}\nmedian and 10-90% band over replicates; dotted lines: policy phase changes")
    return _save(fig, out_dir, name)


def enrolled_and_in_use(reduced, varying, dates, out_dir: Path) -> list[Path]:
    """Per region, each series' share of eligible members in use for training now (solid, with its
    band) and enrolled, set to be used whether or not training runs yet (dashed, same colour): the
    two part where a region is enrolled before its training starts (docs/ODD.md §8)."""

    def enrolled(ax, frame, region, style):
        part = frame[(frame.metric == "enrolled_share") & (frame.region == region)].sort_values("date")
        ax.plot(part.date, part["median"], lw=1.0, color=style["color"], ls="--")

    keys = (
        (Line2D([], [], color="0.3", lw=1.3), "solid: in use for training now"),
        (Line2D([], [], color="0.3", lw=1.0, ls="--"), "dashed: enrolled, set to be used (training or not)"),
    )
    title = "Data in use for training now (solid, with its band) and enrolled, set to be used (dashed)"
    ylabel = "share of eligible members"
    return region_panels(
        reduced, varying, dates, "in_use_share", ylabel, title, out_dir, "enrolled_and_in_use", enrolled, keys
    )


def dataset_by_type(reduced, varying, out_dir: Path) -> list[Path]:
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.2), sharex=True, layout="constrained")
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        for i, (series_label, frame) in enumerate(_series(reduced, varying)):
            _draw(ax, frame, metric, ALL, scale, series_label, series_style(i))
        ax.set_title(f"{label}, cumulative")
        ax.set_ylabel(unit)
        _dates_axis(ax)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle("Training set of the whole membership by data type (median, 10-90% band)")
    return _save(fig, out_dir, "dataset_by_type")


def consent_gap_parts(reduced, varying, out_dir: Path, max_series: int = 8) -> list[Path]:
    paths = []
    for n, (label, frame) in enumerate(_series(reduced, varying)):
        if n >= max_series:
            break
        fig, axes, panels, legend_ax = _region_grid()
        for ax, region in panels:
            parts = []
            for metric in GAP_PARTS:
                part = frame[(frame.metric == metric) & (frame.region == region)].sort_values("date")
                parts.append(part["median"].to_numpy())
            ax.stackplot(
                part.date, parts, colors=TOL_MUTED[: len(GAP_PARTS)], labels=list(GAP_PARTS.values()), alpha=0.9
            )
            ax.set_title(region)
            _dates_axis(ax)
        for ax in axes[:, 0]:
            ax.set_ylabel("share of eligible members")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        legend_ax.legend(handles, labels, loc="center", frameon=False, title="enrolled objectors")
        fig.suptitle(f"Consent gap and its parts ({label}; medians over replicates)")
        paths += _save(fig, out_dir, f"consent_gap_{slug(label)}")
    return paths


def choices_by_channel(reduced, varying, out_dir: Path) -> list[Path]:
    """Opt-outs and opt-ins of the whole membership by channel (prompt, settings, form, one-click)."""
    fig, axes = plt.subplots(
        2, len(CHOICE_CHANNELS), figsize=(7.2, 4.2), sharex=True, sharey="row", layout="constrained"
    )
    for row, direction in zip(axes, ("opted_out", "opted_in"), strict=True):
        for ax, channel in zip(row, CHOICE_CHANNELS, strict=True):
            for i, (label, frame) in enumerate(_series(reduced, varying)):
                _draw(ax, frame, f"{direction}_via_{channel}_share", ALL, 1.0, label, series_style(i))
            ax.set_title(f"{direction.replace('_', ' ')} via {channel.replace('_', '-')}")
            _dates_axis(ax)
        row[0].set_ylabel("share of eligible members")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle("Choices by channel, all members (median, 10-90% band)")
    return _save(fig, out_dir, "choices_by_channel")


def single_panel(reduced, varying, metric, region, ylabel, title, out_dir: Path, name: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
    for i, (label, frame) in enumerate(_series(reduced, varying)):
        _draw(ax, frame, metric, region, 1.0, label, series_style(i))
    ax.set_ylabel(ylabel)
    _dates_axis(ax)
    ax.legend(frameon=False, title=", ".join(varying))
    ax.set_title(title)
    return _save(fig, out_dir, name)


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
        _draw(ax, frame, "new_opt_outs", ALL, 1e3, label, series_style(i))
    ax.set_ylabel("opt-outs per day (thousands)")
    _dates_axis(ax)
    held = ", ".join(f"{k.split('.')[-1]}={sorted(part[k].unique())[0]}" for k in others)
    ax.legend(frameon=False, fontsize=7, title=held or None, title_fontsize=7)
    ax.set_title("Daily opt-outs by story and printed steps, all members (median, 10-90% band)")
    return _save(fig, out_dir, "publicity_daily_opt_outs")


def plot(path: Path, out_dir: Path | None = None) -> list[Path]:
    """Draw every figure for a sweep or run folder; return the files written. Figures of a sweep
    with jobs that failed or never finished say so in a line at their foot."""
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


def _plot_all(reduced, varying, dates, out_dir: Path) -> list[Path]:
    paths = region_panels(
        reduced, varying, dates, "opted_out_share", "share of eligible members", "Opted out", out_dir, "opt_out_curves"
    )
    if reduced[reduced.metric == "opted_in_share"]["median"].max() > 0:
        paths += region_panels(
            reduced, varying, dates, "opted_in_share", "share of eligible members", "Opted in", out_dir, "opt_in_curves"
        )
    if (reduced.metric == "in_use_share").any():  # sweeps of older runs have no in-use series
        paths += enrolled_and_in_use(reduced, varying, dates, out_dir)
    paths += dataset_by_type(reduced, varying, out_dir)
    paths += consent_gap_parts(reduced, varying, out_dir)
    if reduced.metric.str.contains("_via_").any():  # sweeps of older runs have no channels
        paths += choices_by_channel(reduced, varying, out_dir)
    paths += single_panel(
        reduced,
        varying,
        "face_post_share",
        ALL,
        "face-image share of new posts",
        "Face share of new posts, all members",
        out_dir,
        "face_share",
    )
    paths += region_panels(
        reduced,
        varying,
        dates,
        "dataset_from_objectors_share",
        "share of text tokens in the set",
        "Share of the training set from members who later opted out",
        out_dir,
        "objector_data",
    )
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
