"""Interactive explorer in the browser, built from Mesa's SolaraViz pieces: `python -m sim.explorer`.

The page is this module's `Page`: Mesa's `ModelController` (Reset, Play ▶ / Pause ❚❚, Step) in the
sidebar with a "days per step" choice (how many simulated days Step and each move of Play advance),
and the model's settings (region policy, opt-out route, prompt framing and blocking, one-click link,
notice channel, feed face boost, retroactive removal, agents, seed, every behaviour mechanism off)
as controls that show their value and range; Reset builds a model with them. The main area shows
the date, the settings the model in use was built with, each region's phase in force and its
shares, then the consent curves, the consent gap and its parts, the face share of new posts, the
training set and the behaviour panel. The model is the shipped config (conf/) with the chosen
settings, so every other parameter is the shipped default (every behaviour mechanism on).

Start it with `python -m sim.explorer` (sim/explorer/__main__.py): that runs `solara run` on this
file without Solara's version check, telemetry or CDN, so nothing is fetched from the internet.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
# Mesa's own ComponentsView (not used here) trips Solara's hook check when Mesa's module is imported.
warnings.filterwarnings("ignore", message=".*ComponentsView: `use_state` found despite early return")
import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, PercentFormatter  # noqa: E402
from mesa.visualization.solara_viz import ModelController  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from sim.model.config import validate_config  # noqa: E402
from sim.model.engine import ConsentModel  # noqa: E402
from sim.model.metrics import INDEX  # noqa: E402
from sim.model.regions import ALL, REGION_CODES  # noqa: E402
from sim.reports.figures import (  # noqa: E402
    DATASET_PANELS,
    GAP_COLOURS,
    GAP_PARTS,
    TOL_MUTED,
    nice_top,
    percent_axis,
    series_style,
)
from sim.reports.names import (  # noqa: E402
    all_members_note,
    name_codes,
    policy_descriptions,
    policy_name,
    regime_name,
    region_name,
)
from sim.run.compose import CONF_DIR, EVERY_MECHANISM_OFF, compose_raw  # noqa: E402

TITLE = "Consent design explorer"
AS_POLICY = "as in the policy"
POLICIES = sorted(p.stem for p in (CONF_DIR / "policy").glob("*.yaml"))
ROUTES = {
    AS_POLICY: None,
    "settings toggle": "[settings_toggle]",
    "objection form": "[objection_form]",
    "toggle and form": "[settings_toggle,objection_form]",
    "prominent toggle": "[prominent_toggle]",
}
FRAMINGS = {AS_POLICY: None, "pre-set yes": "preset_yes", "pre-set no": "preset_no", "neutral": "neutral"}
BLOCKING = {AS_POLICY: None, "blocking": "true", "dismissible": "false"}
NOTICES = {
    AS_POLICY: None,
    "email": "[email]",
    "in-app": "[in_app]",
    "email and in-app": "[email,in_app]",
    "blocking prompt": "[prompt]",
}
MECHANISMS_OFF_LABEL = "Every behaviour mechanism off (to compare with the shipped model)"
DEFAULT_AGENTS = 20_000  # steps a simulated day in a few milliseconds, so Play stays responsive
# Step and each move of Play advance this many days, then the page redraws (the plots show every day
# whatever the step). Drawing takes about a second, so at 30 Play reaches the horizon in about half a
# minute, at 7 in about two (docs/EXPLORER.md, measured).
DAYS_PER_STEP = (1, 7, 30)
DEFAULT_DAYS_PER_STEP = 30
PLAY_PAUSE_MS = 10  # pause between two moves of Play (drawing the plots takes far longer)
NOT_STARTED = "No day simulated yet: press Step or Play to start."
DPI = 100

logging.getLogger("MESA").setLevel(logging.WARNING)


def explorer_config(
    policy, route, notice, face_boost, retroactive_removal, agents, seed,
    framing=AS_POLICY, blocking=AS_POLICY, one_click=False, mechanisms_off=False,
):  # fmt: skip
    """The shipped config with the explorer's settings (`mechanisms_off`: every behaviour mechanism
    off; the shipped config has every one on)."""
    overrides = [
        *(EVERY_MECHANISM_OFF if mechanisms_off else []),
        f"policy={policy}",
        f"feed.face_boost={face_boost}",
        f"training.retroactive_removal={bool(retroactive_removal)}",
        f"population.agents={int(agents)}",
        f"seed={int(seed)}",
        "progress=false",
    ]
    if ROUTES.get(route):
        overrides.append(f"policy.routes_override={ROUTES[route]}")
    if NOTICES.get(notice):
        overrides.append(f"policy.notice_override={NOTICES[notice]}")
    if FRAMINGS.get(framing, framing):  # the text shown or the config's code
        overrides.append(f"policy.design_override.framing={FRAMINGS.get(framing, framing)}")
    if BLOCKING.get(blocking):
        overrides.append(f"policy.design_override.blocking={BLOCKING[blocking]}")
    if one_click:
        overrides.append("policy.one_click_notices=true")
    return validate_config(compose_raw(overrides))


# ----------------------------------------------------------------- the settings and their controls
@dataclass(frozen=True)
class Choice:
    label: str
    options: dict[str, object]  # text shown -> value given to the model


@dataclass(frozen=True)
class Slider:
    label: str
    lo: float
    hi: float
    step: float
    fmt: str = "{:,}"
    scale: int = 1  # the slider moves value / scale (agents in thousands: its thumb label stays short)


@dataclass(frozen=True)
class Switch:
    label: str
    short: str  # in the run-settings line: "<short> <yes or no>"
    yes: str = "yes"
    no: str = "no"


CONTROLS: dict[str, Choice | Slider | Switch] = {
    "policy": Choice("Region policy", {policy_name(p): p for p in POLICIES}),
    "route": Choice("Opt-out routes open", {k: k for k in ROUTES}),
    "framing": Choice("Prompt framing", {k: k for k in FRAMINGS}),
    "blocking": Choice("Prompt blocking", {k: k for k in BLOCKING}),
    "one_click": Switch("One-click object link in notices", "one-click link"),
    "notice": Choice("Notice channel", {k: k for k in NOTICES}),
    "face_boost": Slider("Feed face boost", 0.5, 3.0, 0.01, "{:.2f}"),
    "retroactive_removal": Switch("Retroactive removal of objectors' data", "retroactive removal"),
    "agents": Slider("Agents", 5_000, 200_000, 5_000, scale=1_000),  # the slider (and its thumb) in thousands
    "seed": Slider("Seed", 0, 99, 1),
    "mechanisms_off": Switch(MECHANISMS_OFF_LABEL, "behaviour mechanisms", "all off", "on (as shipped)"),
}
DEFAULTS: dict[str, object] = {
    "policy": "linkedin_actual",
    "route": AS_POLICY,
    "framing": AS_POLICY,
    "blocking": AS_POLICY,
    "one_click": False,
    "notice": AS_POLICY,
    "face_boost": 1.38,
    "retroactive_removal": False,
    "agents": DEFAULT_AGENTS,
    "seed": 0,
    "mechanisms_off": False,
}


def shown(name: str, value) -> str:
    """A setting's value as the page shows it."""
    spec = CONTROLS[name]
    if isinstance(spec, Choice):
        return next((text for text, v in spec.options.items() if v == value), str(value))
    if isinstance(spec, Slider):
        return spec.fmt.format(value)
    return spec.yes if value else spec.no


def setting_text(name: str, value) -> str:
    """'agents 20,000', 'behaviour mechanisms on (as shipped)': one setting in a line of prose."""
    spec = CONTROLS[name]
    label = spec.short if isinstance(spec, Switch) else spec.label[0].lower() + spec.label[1:]
    return f"{label} {shown(name, value)}"


def settings_line(settings: dict, only: dict | None = None) -> str:
    """'region policy …, agents 20,000, seed 0, …': what a model was (or will be) built with; with
    `only`, just the settings that differ from it."""
    names = [n for n in CONTROLS if only is None or settings[n] != only[n]]
    return ", ".join(setting_text(n, settings[n]) for n in names)


class ExplorerModel(ConsentModel):
    """ConsentModel built from the explorer's settings (Mesa's ModelController re-creates it on Reset)."""

    def __init__(
        self,
        policy: str = "linkedin_actual",
        route: str = AS_POLICY,
        notice: str = AS_POLICY,
        face_boost: float = 1.38,
        retroactive_removal: bool = False,
        agents: int = DEFAULT_AGENTS,
        seed: int = 0,
        framing: str = AS_POLICY,
        blocking: str = AS_POLICY,
        one_click: bool = False,
        mechanisms_off: bool = False,
    ):
        self.settings = {
            "policy": policy,
            "route": route,
            "framing": framing,
            "blocking": blocking,
            "one_click": bool(one_click),
            "notice": notice,
            "face_boost": float(face_boost),
            "retroactive_removal": bool(retroactive_removal),
            "agents": int(agents),
            "seed": int(seed),
            "mechanisms_off": bool(mechanisms_off),
        }
        super().__init__(
            explorer_config(
                policy,
                route,
                notice,
                face_boost,
                retroactive_removal,
                agents,
                seed,
                framing,
                blocking,
                one_click,
                mechanisms_off,
            )
        )
        self.date_nums = mdates.date2num(self.dates)
        start, end = self.dates[0], self.dates[-1]
        firsts = np.arange(start.astype("datetime64[M]"), end.astype("datetime64[M]") + 1).astype("datetime64[D]")
        firsts = firsts[firsts >= start]  # the first day of each month within the horizon
        month = firsts.astype("datetime64[M]").astype(int) % 12 + 1
        self.date_ticks = (  # (1 January of each year, the other quarters' first days) on the date axis
            mdates.date2num(firsts[month == 1]),
            mdates.date2num(firsts[np.isin(month, (4, 7, 10))]),
        )

    def step(self) -> None:
        """One simulated day; nothing past the horizon (a step of several days may reach it early)."""
        if self.day < self.n_days:
            super().step()


# ----------------------------------------------------------------- figures
def _recorded(model: ExplorerModel) -> tuple[np.ndarray, np.ndarray]:
    """The simulated days so far (as matplotlib date numbers) and their records."""
    return model.date_nums[: model.day], model.records[: model.day]


def _horizon(ax, model: ExplorerModel) -> None:
    """The whole horizon on the date axis, so the lines grow from left to right (fixed ticks: years
    labelled, quarters marked, as sim.reports.figures.dates_axis draws them, without its locators'
    cost at every redraw)."""
    ax.set_xlim(model.date_nums[0], model.date_nums[-1])
    years, quarters = model.date_ticks
    ax.xaxis.set_major_locator(FixedLocator(years))
    ax.xaxis.set_major_formatter(FixedFormatter([str(mdates.num2date(y).year) for y in years]))
    ax.xaxis.set_minor_locator(FixedLocator(quarters))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)


def _share_axis(ax, values: np.ndarray) -> None:
    """Percent on 0..just above the largest share so far (two decimals below 0.5%)."""
    top = nice_top(float(np.nanmax(values))) if np.isfinite(values).any() else 0.01
    percent_axis(ax, top)
    if top < 0.005:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=2))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})  # fast to encode
    return buf.getvalue()


@solara.component
def Plot(model: ExplorerModel, title: str, draw):
    """A figure drawn by `draw(model)`, redrawn when the model or its day changes; before the first
    day, its title and a line saying how to start instead of empty axes."""
    update_counter.get()
    png = solara.use_memo(lambda: _png(draw(model)) if model.day else None, [id(model), model.day])
    with solara.Div(classes=["explorer-figure"]):
        if png is None:
            solara.Markdown(f"**{title}**\n\n{NOT_STARTED}")
        else:
            solara.Image(png, format="png", width="100%")


def draw_consent_curves(model: ExplorerModel) -> Figure:
    dates, rec = _recorded(model)
    fig = Figure(figsize=(6.4, 4.6))
    fig.subplots_adjust(left=0.08, right=0.77, top=0.9, bottom=0.09, hspace=0.32, wspace=0.12)
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    panels = (
        ("aware_share", "aware"),
        ("enrolled_share", "enrolled (set to be used)"),
        ("opted_out_share", "opted out"),
        ("opted_in_share", "opted in"),
    )
    for ax, (metric, label) in zip(axes.flat, panels, strict=True):
        for r, code in enumerate(REGION_CODES):
            ax.plot(dates, rec[:, r, INDEX[metric]], lw=1.1, label=region_name(code), **series_style(r))
        ax.plot(dates, rec[:, -1, INDEX[metric]], color="black", lw=2, label=region_name(ALL))
        ax.set_title(label, fontsize=9)
        percent_axis(ax, 1.0)
        ax.tick_params(axis="y", labelsize=8)
        _horizon(ax, model)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.78, 0.5), fontsize=8, frameon=False)
    fig.suptitle("Consent by region (share of eligible members)", fontsize=10)
    return fig


def draw_consent_gap(model: ExplorerModel) -> Figure:
    dates, rec = _recorded(model)
    fig = Figure(figsize=(6.4, 3.4))
    fig.subplots_adjust(left=0.09, right=0.97, top=0.9, bottom=0.12)
    ax = fig.subplots()
    parts = [rec[:, -1, INDEX[m]] for m in GAP_PARTS]
    ax.stackplot(dates, parts, colors=[GAP_COLOURS[m] for m in GAP_PARTS], labels=list(GAP_PARTS.values()))
    _share_axis(ax, np.sum(parts, axis=0))
    ax.set_title("Consent gap, all members: objectors enrolled, by why (share of eligible)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    _horizon(ax, model)
    return fig


def draw_face_share(model: ExplorerModel) -> Figure:
    dates, rec = _recorded(model)
    fig = Figure(figsize=(6.4, 3.4))
    fig.subplots_adjust(left=0.09, right=0.97, top=0.9, bottom=0.12)
    ax = fig.subplots()
    face = rec[:, -1, INDEX["face_post_share"]]
    ax.plot(dates, face, color=TOL_MUTED[6], lw=1.8)
    _share_axis(ax, face)
    boost = model.config.feed.face_boost
    ax.set_title(f"Face-image share of new posts, all members (feed face boost {boost:.2f})", fontsize=9)
    _horizon(ax, model)
    return fig


def draw_dataset(model: ExplorerModel) -> Figure:
    dates, rec = _recorded(model)
    fig = Figure(figsize=(6.4, 4.6))
    fig.subplots_adjust(left=0.08, right=0.97, top=0.86, bottom=0.09, hspace=0.4, wspace=0.22)
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        ax.plot(dates, rec[:, -1, INDEX[metric]] / scale, color=TOL_MUTED[0], lw=1.5)
        ax.set_title(f"{label} ({unit})", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(axis="y", labelsize=8)
        _horizon(ax, model)
    fig.suptitle("Training set, all regions, cumulative", fontsize=10)
    return fig


def draw_behaviour(model: ExplorerModel) -> Figure:
    """Salience and guidance, daily opt-outs, and the reactions beyond the toggle (all members)."""
    dates, rec = _recorded(model)
    fig = Figure(figsize=(6.4, 4.6))
    fig.subplots_adjust(left=0.08, right=0.97, top=0.86, bottom=0.09, hspace=0.4, wspace=0.22)
    axes = fig.subplots(2, 2, sharex=True)
    panels = (
        ("mean_salience", "mean salience and guided share", 1.0),
        ("new_opt_outs", "opt-outs per day (millions)", 1e6),
        ("posts_deleted", "old posts deleted (millions)", 1e6),
        ("accounts_closed", "accounts closed (millions)", 1e6),
    )
    for ax, (metric, label, scale) in zip(axes.flat, panels, strict=True):
        ax.plot(dates, rec[:, -1, INDEX[metric]] / scale, color=TOL_MUTED[2], lw=1.5)
        ax.set_ylim(bottom=0)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        _horizon(ax, model)
    axes.flat[0].plot(dates, rec[:, -1, INDEX["guided_share"]], color=TOL_MUTED[4], lw=1.2, label="guided share")
    axes.flat[0].legend(fontsize=8, frameon=False)
    fig.suptitle(behaviour_title(model), fontsize=10)
    return fig


def behaviour_title(model: ExplorerModel) -> str:
    if model.settings["mechanisms_off"]:
        return "Salience and reactions: every behaviour mechanism off in this run (flat)"
    return "Salience and reactions (behaviour mechanisms on, as shipped)"


@solara.component
def ConsentCurves(model: ExplorerModel):
    Plot(model, "Consent by region", draw_consent_curves)


@solara.component
def ConsentGap(model: ExplorerModel):
    Plot(model, "Consent gap, all members", draw_consent_gap)


@solara.component
def FaceShare(model: ExplorerModel):
    Plot(model, "Face-image share of new posts", draw_face_share)


@solara.component
def Dataset(model: ExplorerModel):
    Plot(model, "Training set, all regions", draw_dataset)


@solara.component
def Behaviour(model: ExplorerModel):
    Plot(model, "Salience and reactions", draw_behaviour)


# ----------------------------------------------------------------- status and tables
def _routes(model: ConsentModel, mask: int) -> str:
    return " + ".join(n.replace("_", " ") for k, n in enumerate(model.route_names) if mask >> k & 1) or "none"


def phase_table(model: ConsentModel, t: int) -> str:
    """Each region's phase in force on day t: regime, whether training runs, the opt-out routes."""
    rows = ["| Region | Regime | Trains | Opt-out routes |", "|:---|:---|:---|:---|"]
    for r, code in enumerate(REGION_CODES):
        regime = regime_name(model.designs.names[model.policy.regime[t, r]])
        trains = "yes" if model.policy.training[t, r] else "no"
        routes = _routes(model, int(model.policy.routes_out[t, r]))
        rows.append(f"| {region_name(code)} | {regime} | {trains} | {routes} |")
    return "\n".join(rows)


SHARES = {
    "aware_share": "Aware",
    "enrolled_share": "Enrolled",
    "in_use_share": "In use",
    "opted_out_share": "Opted out",
    "opted_in_share": "Opted in",
    "consent_gap_share": "Consent gap",
}


def shares_table(model: ConsentModel, t: int) -> str:
    """Each region's (and all members') shares of eligible members on day t."""
    rows = ["| Region | " + " | ".join(SHARES.values()) + " |", "|:---|" + "---:|" * len(SHARES)]
    for r, code in enumerate([*REGION_CODES, ALL]):
        rec = model.records[t, r]
        cells = " | ".join(f"{rec[INDEX[m]]:.1%}" for m in SHARES)
        name = f"**{region_name(code)}**" if code == ALL else region_name(code)
        rows.append(f"| {name} | {cells} |")
    return "\n".join(rows)


@solara.component
def Status(model: ExplorerModel, pending: dict | None = None):
    """The date, the policy, the training-set size, the settings the model in use was built with,
    and per region the phase in force and the headline shares."""
    update_counter.get()
    day = model.day
    if day == 0:
        when = f"{model.dates[0]} (not started: press Step or Play)"
    elif day >= model.n_days:
        when = f"{model.dates[day - 1]} (day {day:,} of {model.n_days:,}: the horizon; press Reset to run again)"
    else:
        when = f"{model.dates[day - 1]} (day {day:,} of {model.n_days:,})"
    tokens = model.records[day - 1, -1, INDEX["dataset_text_tokens"]] if day else 0.0
    solara.Markdown(
        f"**Date:** {when} &nbsp;·&nbsp; **Policy:** {policy_name(model.settings['policy'])} &nbsp;·&nbsp; "
        f"**Training set (all regions):** {tokens / 1e9:,.{1 if tokens >= 1e10 else 2}f} billion text tokens\n\n"
        f"**Run settings:** {settings_line(model.settings)}."
    )
    if pending is not None and pending != model.settings:
        changed = settings_line(pending, only=model.settings)
        solara.Warning(f"Settings changed ({changed}): press Reset to build a model with them.", dense=True)
    t = max(day - 1, 0)
    with solara.ColumnsResponsive(12, large=[5, 7]):
        with solara.Div(classes=["explorer-table"]):
            solara.Markdown(f"**Phase in force** on {model.dates[t]}\n\n" + phase_table(model, t))
        with solara.Div(classes=["explorer-table", "explorer-shares"]):
            if day == 0:
                solara.Markdown(f"**Shares of eligible members**\n\n{NOT_STARTED}")
            else:
                solara.Markdown(
                    f"**Shares of eligible members** on {model.dates[t]}\n\n"
                    + shares_table(model, t)
                    + "\n\nEnrolled: set to be used, training or not; in use: enrolled where training runs now; "
                    "consent gap: objectors enrolled. " + all_members_note()
                )


# ----------------------------------------------------------------- the page
CSS = """
.explorer-table { overflow-x: auto; max-width: 100%; }
.explorer-table table { table-layout: auto !important; border-collapse: collapse; width: 100%; font-size: 13px; }
.explorer-table th, .explorer-table td { padding: 2px 6px; border-bottom: 1px solid #ddd; white-space: normal; }
.explorer-shares td:not(:first-child), .explorer-shares th:not(:first-child) { white-space: nowrap; }
.explorer-figure img { max-width: 100%; height: auto; }
.explorer-setting { margin-bottom: 30px; font-size: 14px; }
.explorer-setting .range { color: #555; font-size: 12px; }
"""
POLICY_NOTES = {p: name_codes(d) for p, d in policy_descriptions().items()}


@solara.component
def SliderControl(name: str, spec: Slider, settings: solara.Reactive[dict]):
    """A slider with its value and range written above it (and on its thumb)."""
    value = settings.value[name]
    is_float = isinstance(spec.step, float)

    def set_value(v):
        v = round(float(v), 2) if is_float else int(v) * spec.scale
        settings.set({**settings.value, name: v})

    lo, hi = spec.fmt.format(spec.lo), spec.fmt.format(spec.hi)
    scale = ", slider in thousands" if spec.scale == 1_000 else ""
    text = f"{spec.label}: <b>{spec.fmt.format(value)}</b> <span class='range'>(range {lo} to {hi}{scale})</span>"
    solara.HTML(tag="div", unsafe_innerHTML=text, classes=["explorer-setting"])
    if is_float:
        solara.SliderFloat(
            "", value=value, min=spec.lo, max=spec.hi, step=spec.step, on_value=set_value, thumb_label="always"
        )
    else:
        s = spec.scale
        solara.SliderInt(
            "", value=value // s, min=spec.lo // s, max=spec.hi // s, step=spec.step // s,
            on_value=set_value, thumb_label="always",
        )  # fmt: skip


@solara.component
def Controls(settings: solara.Reactive[dict]):
    """Every setting of the next model (Reset builds it)."""
    with solara.Column(classes=["explorer-controls"], gap="4px"):
        for name, spec in CONTROLS.items():
            value = settings.value[name]

            def set_value(v, name=name, spec=spec):
                v = spec.options[v] if isinstance(spec, Choice) else v
                settings.set({**settings.value, name: v})

            if isinstance(spec, Choice):
                solara.Select(spec.label, values=list(spec.options), value=shown(name, value), on_value=set_value)
                if name == "policy":
                    solara.Text(POLICY_NOTES.get(value, ""), style={"font-size": "12px", "color": "#555"})
            elif isinstance(spec, Switch):
                solara.Checkbox(label=spec.label, value=bool(value), on_value=set_value)
            else:
                SliderControl(name, spec, settings)


@solara.component
def DaysPerStep(days: solara.Reactive[int]):
    n = days.value
    solara.Text(f"Days per step: {n} (Step and each move of Play advance {n} simulated days; the plots show every day)")
    solara.ToggleButtonsSingle(value=days, values=list(DAYS_PER_STEP))


@solara.component
def Page():
    first = solara.use_memo(lambda: ExplorerModel(**DEFAULTS), [])
    model = solara.use_reactive(first)
    settings = solara.use_reactive(dict(DEFAULTS))
    days = solara.use_reactive(DEFAULT_DAYS_PER_STEP)
    pause_ms = solara.use_reactive(PLAY_PAUSE_MS)
    threads = solara.use_reactive(False)

    solara.Title(TITLE)
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
    with solara.Sidebar():
        with solara.Card("Run"):
            ModelController(
                model, model_parameters=settings, play_interval=pause_ms, render_interval=days, use_threads=threads
            )
            DaysPerStep(days)
        with solara.Card("Settings", subtitle="for the next run: press Reset to apply them"):
            Controls(settings)
    Status(model.value, settings.value)
    with solara.ColumnsResponsive(12, large=6):
        ConsentCurves(model.value)
        ConsentGap(model.value)
        FaceShare(model.value)
        Dataset(model.value)
        Behaviour(model.value)
