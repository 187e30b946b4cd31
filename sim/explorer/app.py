"""Interactive explorer in the browser, on Mesa's SolaraViz: `solara run sim/explorer/app.py` (localhost).

Controls: region policy, opt-out route, notice channel, feed face boost, retroactive removal,
agent count and seed (press Reset to apply them); Step, Play/Pause and Reset drive the model.
Live views: the date and each region's phase in force, consent curves per region, the consent gap
and its parts, the dataset by type, and the face share of new posts. The explorer composes the
shipped config (conf/) with the chosen settings, so every other parameter is the shipped default.
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import solara  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from sim.model import mechanisms  # noqa: E402
from sim.model.config import validate_config  # noqa: E402
from sim.model.engine import ConsentModel  # noqa: E402
from sim.model.metrics import INDEX  # noqa: E402
from sim.model.regions import ALL, REGION_CODES  # noqa: E402
from sim.reports.figures import DATASET_PANELS, GAP_PARTS, TOL_MUTED, series_style  # noqa: E402
from sim.run.compose import CONF_DIR, EVERY_MECHANISM_ON, compose_raw  # noqa: E402

AS_POLICY = "as in the policy"
POLICIES = sorted(p.stem for p in (CONF_DIR / "policy").glob("*.yaml"))
ROUTES = {
    AS_POLICY: None,
    "settings toggle": "[settings_toggle]",
    "objection form": "[objection_form]",
    "toggle and form": "[settings_toggle,objection_form]",
    "prominent toggle": "[prominent_toggle]",
}
FRAMINGS = [AS_POLICY, "preset_yes", "preset_no", "neutral"]
BLOCKING = {AS_POLICY: None, "blocking": "true", "dismissible": "false"}
NOTICES = {AS_POLICY: None, "email": "[email]", "in-app": "[in_app]", "email and in-app": "[email,in_app]"}
NOTICES["blocking prompt"] = "[prompt]"
MECHANISM_NAMES = ", ".join(m.key.rsplit(".", 1)[-1].replace("_", " ") for m in mechanisms.REGISTRY)
DEFAULT_AGENTS = 20_000  # steps in a few milliseconds a day, so play stays responsive

logging.getLogger("MESA").setLevel(logging.WARNING)


def explorer_config(
    policy, route, notice, face_boost, retroactive_removal, agents, seed,
    framing=AS_POLICY, blocking=AS_POLICY, one_click=False, behaviour=False,
):  # fmt: skip
    """The shipped config with the explorer's settings (`behaviour`: every behaviour mechanism on)."""
    overrides = [
        *(EVERY_MECHANISM_ON if behaviour else []),
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
    if framing != AS_POLICY:
        overrides.append(f"policy.design_override.framing={framing}")
    if BLOCKING.get(blocking):
        overrides.append(f"policy.design_override.blocking={BLOCKING[blocking]}")
    if one_click:
        overrides.append("policy.one_click_notices=true")
    return validate_config(compose_raw(overrides))


class ExplorerModel(ConsentModel):
    """ConsentModel built from the explorer's controls (SolaraViz re-creates it on Reset)."""

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
        behaviour: bool = False,
    ):
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
                behaviour,
            )  # fmt: skip
        )


MODEL_PARAMS = {
    "policy": {"type": "Select", "value": "linkedin_actual", "values": POLICIES, "label": "Region policy"},
    "route": {"type": "Select", "value": AS_POLICY, "values": list(ROUTES), "label": "Routes open"},
    "framing": {"type": "Select", "value": AS_POLICY, "values": FRAMINGS, "label": "Prompt framing"},
    "blocking": {"type": "Select", "value": AS_POLICY, "values": list(BLOCKING), "label": "Prompt blocking"},
    "one_click": {"type": "Checkbox", "value": False, "label": "One-click object link in notices"},
    "notice": {"type": "Select", "value": AS_POLICY, "values": list(NOTICES), "label": "Notice channel"},
    "face_boost": {
        "type": "SliderFloat",
        "value": 1.38,
        "min": 0.5,
        "max": 3.0,
        "step": 0.01,
        "label": "Feed face boost",
    },
    "retroactive_removal": {"type": "Checkbox", "value": False, "label": "Retroactive removal"},
    "agents": {
        "type": "SliderInt",
        "value": DEFAULT_AGENTS,
        "min": 5_000,
        "max": 200_000,
        "step": 5_000,
        "label": "Agents",
    },
    "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "Seed"},
    "behaviour": {"type": "Checkbox", "value": False, "label": "Every mechanism on: " + MECHANISM_NAMES},
}


def _recorded(model: ConsentModel) -> tuple[np.ndarray, np.ndarray]:
    days = max(model.day, 1)
    return model.dates[:days], model.records[:days]


def _show(fig, model: ConsentModel) -> None:
    """Render a matplotlib figure into the page, redrawn when the model or its day changes."""
    solara.FigureMatplotlib(fig, format="png", dependencies=[model.day, id(model)])
    plt.close(fig)


def _date_axis(ax) -> None:
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    ax.grid(alpha=0.3)


@solara.component
def Status(model: ConsentModel):
    """The current date and, per region, the phase in force and the headline shares."""
    update_counter.get()
    if model.day == 0:
        solara.Markdown("**Date:** 2024-09-01 (not started: press Step or Play)")
        return
    t = model.day - 1
    rows = [
        "| region | regime | trains | opt-out route | aware | enrolled (set to be used) | in use now "
        "| opted out | opted in | consent gap |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r, code in enumerate([*REGION_CODES, ALL]):
        rec = model.records[t, r]
        if code == ALL:
            regime, trains, route = "", "", ""
        else:
            regime = model.designs.names[model.policy.regime[t, r]]
            trains = "yes" if model.policy.training[t, r] else "no"
            mask = int(model.policy.routes_out[t, r])
            route = "+".join(n for k, n in enumerate(model.route_names) if mask >> k & 1) or "none"
        rows.append(
            f"| {code} | {regime} | {trains} | {route} "
            f"| {rec[INDEX['aware_share']]:.1%} | {rec[INDEX['enrolled_share']]:.1%} "
            f"| {rec[INDEX['in_use_share']]:.1%} "
            f"| {rec[INDEX['opted_out_share']]:.1%} | {rec[INDEX['opted_in_share']]:.1%} "
            f"| {rec[INDEX['consent_gap_share']]:.1%} |"
        )
    text_tokens = model.records[t, -1, INDEX["dataset_text_tokens"]]
    solara.Markdown(
        f"**Date:** {model.dates[t]} &nbsp; **Policy:** {model.config.policy.name} &nbsp; "
        f"**Training set (all regions):** {text_tokens / 1e9:,.1f} billion text tokens\n\n" + "\n".join(rows)
    )


@solara.component
def ConsentCurves(model: ConsentModel):
    update_counter.get()
    dates, rec = _recorded(model)
    fig, axes = plt.subplots(2, 2, figsize=(6.5, 5), sharex=True, sharey=True, layout="constrained")
    for ax, metric in zip(
        axes.flat, ("aware_share", "enrolled_share", "opted_out_share", "opted_in_share"), strict=True
    ):
        for r, code in enumerate(REGION_CODES):
            ax.plot(dates, rec[:, r, INDEX[metric]], lw=1.2, label=code, **series_style(r))
        ax.plot(dates, rec[:, -1, INDEX[metric]], color="black", lw=2, label=ALL)
        ax.set_title(metric.replace("_share", "").replace("_", " ") + " (share of eligible)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        _date_axis(ax)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False)
    _show(fig, model)


@solara.component
def ConsentGap(model: ConsentModel):
    update_counter.get()
    dates, rec = _recorded(model)
    fig, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
    parts = [rec[:, -1, INDEX[m]] for m in GAP_PARTS]
    ax.stackplot(dates, parts, colors=TOL_MUTED[: len(parts)], labels=list(GAP_PARTS.values()))
    ax.set_title("Consent gap, all members (share of eligible)")
    ax.legend(fontsize=7, loc="upper left")
    _date_axis(ax)
    _show(fig, model)


@solara.component
def Dataset(model: ConsentModel):
    update_counter.get()
    dates, rec = _recorded(model)
    fig, axes = plt.subplots(2, 2, figsize=(6.5, 5), layout="constrained")
    for ax, (metric, (label, scale, unit)) in zip(axes.flat, DATASET_PANELS.items(), strict=True):
        ax.plot(dates, rec[:, -1, INDEX[metric]] / scale, color=TOL_MUTED[0], lw=1.5)
        ax.set_title(f"{label} ({unit})", fontsize=9)
        _date_axis(ax)
    fig.suptitle("Training set, all regions, cumulative", fontsize=10)
    _show(fig, model)


@solara.component
def FaceShare(model: ConsentModel):
    update_counter.get()
    dates, rec = _recorded(model)
    fig, ax = plt.subplots(figsize=(5.5, 3.2), layout="constrained")
    ax.plot(dates, rec[:, -1, INDEX["face_post_share"]], color=TOL_MUTED[6], lw=1.8)
    ax.set_title(f"Face share of new posts (face boost {model.config.feed.face_boost})")
    _date_axis(ax)
    _show(fig, model)


@solara.component
def Behaviour(model: ConsentModel):
    """Salience and guidance, daily opt-outs, and the reactions beyond the toggle (all regions)."""
    update_counter.get()
    dates, rec = _recorded(model)
    fig, axes = plt.subplots(2, 2, figsize=(6.5, 5), layout="constrained")
    panels = (
        ("mean_salience", "mean salience", 1.0),
        ("new_opt_outs", "opt-outs per day (thousands)", 1e3),
        ("posts_deleted", "old posts deleted (millions)", 1e6),
        ("accounts_closed", "accounts closed (millions)", 1e6),
    )
    for ax, (metric, label, scale) in zip(axes.flat, panels, strict=True):
        ax.plot(dates, rec[:, -1, INDEX[metric]] / scale, color=TOL_MUTED[2], lw=1.5)
        ax.set_title(label, fontsize=9)
        _date_axis(ax)
    axes.flat[0].plot(dates, rec[:, -1, INDEX["guided_share"]], color=TOL_MUTED[4], lw=1.2, label="guided share")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Salience and reactions (switch them on with the checkbox)", fontsize=10)
    _show(fig, model)


page = SolaraViz(
    ExplorerModel(),
    components=[(Status, 0), (ConsentCurves, 0), (ConsentGap, 0), (FaceShare, 0), (Dataset, 0), (Behaviour, 0)],
    model_params=MODEL_PARAMS,
    name="Consent design explorer",
    play_interval=50,
    render_interval=5,
)
