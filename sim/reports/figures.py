"""The two headline figures of a run: consent curves per region, and the dataset by type.

Drawn from the run's tidy series (never from typed numbers). Colours are Paul Tol's muted
palette (colour-blind safe); dotted vertical lines mark the days a region's policy phase changed;
enrolment (set to be used) is dashed beside the data in use for training now (solid).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sim.model.regions import ALL, REGION_CODES  # noqa: E402

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
CONSENT_LINES = {
    "aware_share": "aware",
    "enrolled_share": "enrolled: set to be used, training or not (dashed)",
    "in_use_share": "in use: enrolled where training runs now",
    "opted_out_share": "opted out",
    "opted_in_share": "opted in",
    "consent_gap_share": "consent gap",
}
# Enrolment is drawn dashed and the data in use solid, in one colour: a region can be enrolled
# (set to be used) before its training starts (docs/ODD.md §8), and the two lines part there.
LINE_STYLES = {
    "aware_share": {"color": TOL_MUTED[0]},
    "enrolled_share": {"color": TOL_MUTED[1], "ls": "--"},
    "in_use_share": {"color": TOL_MUTED[1]},
    "opted_out_share": {"color": TOL_MUTED[2]},
    "opted_in_share": {"color": TOL_MUTED[3]},
    "consent_gap_share": {"color": TOL_MUTED[4]},
}
DATASET_PANELS = {
    "dataset_profiles": ("profiles", 1e6, "millions"),
    "dataset_text_tokens": ("text tokens", 1e9, "billions"),
    "dataset_face_images": ("face images (identity-labelled)", 1e6, "millions"),
    "dataset_other_images": ("other images", 1e6, "millions"),
}


def _wide(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    return frame[frame.metric == metric].pivot(index="date", columns="region", values="value")


def _phase_dates(phases, code: str) -> list:
    return [pd.Timestamp(p.start) for p in phases.get(code, ()) if p.start is not None]


# The consent gap's parts (they sum to consent_gap_share), with their labels.
GAP_PARTS = {
    "gap_unaware_share": "unaware",
    "gap_intending_share": "aware, intending",
    "gap_gave_up_share": "aware, gave up after failing",
    "gap_not_trying_share": "aware, not trying",
}


def panel_grid(panels: int, columns: int = 4) -> tuple[int, int]:
    """Rows and columns of a grid that holds `panels` panels (regions come from the data)."""
    return -(-panels // columns), columns


def series_style(i: int) -> dict:
    """Colour and line style of the i-th series: the palette's colours, then again dashed, ..."""
    styles = ("-", "--", ":", "-.")
    return {"color": TOL_MUTED[i % len(TOL_MUTED)], "ls": styles[(i // len(TOL_MUTED)) % len(styles)]}


def draw_headline_figures(frame: pd.DataFrame, phases: dict, out_dir: Path, policy: str) -> list[Path]:
    """Write consent_curves.png and dataset_by_type.png into out_dir; return their paths."""
    return [_consent_curves(frame, phases, out_dir, policy), _dataset(frame, out_dir, policy)]


def _consent_curves(frame: pd.DataFrame, phases: dict, out_dir: Path, policy: str) -> Path:
    regions = [*REGION_CODES, ALL]
    rows, cols = panel_grid(len(regions) + 1)  # a panel per region, the whole membership, the legend
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.85 * rows), sharex=True, sharey=True, layout="constrained")
    recorded = set(frame.metric.unique())  # a series of an older run may lack a line (in_use_share)
    series = {m: _wide(frame, m) for m in CONSENT_LINES if m in recorded}
    start, end = frame.date.min(), frame.date.max()
    for ax, code in zip(axes.flat, regions, strict=False):
        for metric, wide in series.items():
            ax.plot(wide.index, wide[code], lw=1.6, label=CONSENT_LINES[metric], **LINE_STYLES[metric])
        for day in _phase_dates(phases, code):
            if start <= day <= end:
                ax.axvline(day, color="0.6", ls=":", lw=0.8)
        ax.set_title(code, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    for ax in axes.flat[len(regions) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].legend(handles, labels, loc="center", title="share of eligible members", frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("share of eligible members")
    fig.suptitle(f"Consent curves per region ({policy}); dotted grey: policy phase changes")
    path = out_dir / "consent_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _dataset(frame: pd.DataFrame, out_dir: Path, policy: str) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True, layout="constrained")
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        wide = _wide(frame, metric) / scale
        for i, code in enumerate(REGION_CODES):
            ax.plot(wide.index, wide[code], lw=1.6, label=code, **series_style(i))
        ax.set_title(f"{label}, cumulative")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", title="region", frameon=False)
    fig.suptitle(f"Training dataset per region by type ({policy})")
    path = out_dir / "dataset_by_type.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
