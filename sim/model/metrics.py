"""The metric registry (docs/ODD.md §9a): what a run records each day, per region and for all.

Each metric is declared once: its name (the `metric` column of series.parquet), description, unit,
kind and how it is computed, as a numerator and (for a share) a denominator, both named
*quantities* that the engine measures per region each day in real units (weighted members, or
items from the ledger). Recording (`record`), the docs' metric table, aggregation weights and the
tests all read this registry. The core's metrics are declared here (`CORE`), a mechanism's in its
own module (`metrics` of sim.model.mechanisms); a new quantity is measured by the engine's
`_quantities` or the mechanism's `quantities`.

Kinds: a `count` is a level that adds up across regions (members, items; cumulative where it
says so); a `flow` is a count per day; a `share` is numerator / denominator, and its
whole-membership value is the ratio of the summed numerator and denominator.
"""

from __future__ import annotations

import numpy as np

from sim.model import mechanisms
from sim.model.declarations import Kind, Metric  # noqa: F401 (Metric and Kind are declared there)

ELIGIBLE = "share of eligible"
CORE: tuple[Metric, ...] = (
    Metric("eligible_members", "members aged 18+", "members", "count", "eligible"),
    Metric("aware_share", "eligible members aware of the AI-training use", ELIGIBLE, "share", "aware", "eligible"),
    Metric(
        "enrolled_share",
        "set to be used: eligible members enrolled under the regime, whether or not training runs yet"
        " (in use now: `in_use_share`)",
        ELIGIBLE,
        "share",
        "enrolled",
        "eligible",
    ),
    Metric(
        "opted_out_share",
        "eligible members who have recorded an objection",
        ELIGIBLE,
        "share",
        "opted_out",
        "eligible",
    ),
    Metric("opted_in_share", "eligible members who have recorded consent", ELIGIBLE, "share", "opted_in", "eligible"),
    Metric("undecided_share", "eligible members with no recorded choice", ELIGIBLE, "share", "undecided", "eligible"),
    Metric("objector_share", "eligible members who object to the use", ELIGIBLE, "share", "objectors", "eligible"),
    Metric(
        "objectors_enrolled_share",
        "objectors enrolled under the regime (set to be used, whether or not training runs yet)",
        "share of objectors",
        "share",
        "gap",
        "objectors",
    ),
    Metric(
        "consent_gap_share",
        "objectors who are enrolled: unaware + intending + gave up",
        ELIGIBLE,
        "share",
        "gap",
        "eligible",
    ),
    Metric("gap_unaware_share", "enrolled objectors still unaware", ELIGIBLE, "share", "gap_unaware", "eligible"),
    Metric(
        "gap_intending_share",
        "enrolled objectors aware and intending to act",
        ELIGIBLE,
        "share",
        "gap_intending",
        "eligible",
    ),
    Metric(
        "gap_gave_up_share",
        "enrolled objectors aware who gave up after failing a route",
        ELIGIBLE,
        "share",
        "gap_gave_up",
        "eligible",
    ),
    Metric(
        "gap_not_trying_share",
        "enrolled objectors aware, not intending and not given up: never tried, intent lapsed, no route, or waiting",
        ELIGIBLE,
        "share",
        "gap_not_trying",
        "eligible",
    ),
    Metric(
        "failed_attempts",
        "failed opt-out or opt-in attempts so far (cumulative)",
        "attempts",
        "count",
        "failed_attempts",
    ),
    Metric(
        "face_post_share",
        "expected face-image share of new posts",
        "share of posts",
        "share",
        "face_post_rate",
        "post_rate",
    ),
    Metric(
        "training_active",
        "eligible members in regions whose phase trains",
        ELIGIBLE,
        "share",
        "eligible_training",
        "eligible",
    ),
    Metric(
        "in_use_share",
        "in use now: eligible members whose data training uses today, enrolled and in a region whose phase"
        " trains today (set to be used: `enrolled_share`)",
        ELIGIBLE,
        "share",
        "in_use",
        "eligible",
    ),
    Metric("dataset_profiles", "profiles ingested (cumulative)", "profiles", "count", "ingested_profiles"),
    Metric("dataset_text_tokens", "text tokens ingested (cumulative)", "tokens", "count", "ingested_text_tokens"),
    Metric(
        "dataset_face_images",
        "identity-labelled face images ingested (cumulative)",
        "images",
        "count",
        "ingested_face_images",
    ),
    Metric("dataset_other_images", "other images ingested (cumulative)", "images", "count", "ingested_other_images"),
    Metric(
        "dataset_from_objectors_share",
        "text tokens in the set from members who later opted out",
        "share of tokens",
        "share",
        "objector_text_tokens",
        "ingested_text_tokens",
    ),
    Metric(
        "dataset_face_images_from_objectors",
        "face images in the set from members who later opted out",
        "images",
        "count",
        "objector_face_images",
    ),
    Metric(
        "dataset_removed_text_tokens",
        "text tokens removed by retroactive removal (cumulative)",
        "tokens",
        "count",
        "removed_text_tokens",
    ),
    # behaviour beyond the toggle and a changing membership (docs/ODD.md §7.10-7.15)
    Metric(
        "members",
        "the model's horizon population: members joined and not closed, minors included",
        "members",
        "count",
        "members",
    ),
    Metric("accounts_closed_today", "accounts closed today", "members per day", "flow", "closed_today"),
    Metric("accounts_closed", "accounts closed since the start (cumulative)", "members", "count", "closed_total"),
    Metric("new_opt_outs", "opt-outs that took effect today", "members per day", "flow", "opt_outs_today"),
    Metric("opt_outs_recorded", "opt-outs that took effect (cumulative)", "members", "count", "opt_outs_total"),
    Metric("new_opt_ins", "opt-ins that took effect today", "members per day", "flow", "opt_ins_today"),
    Metric("opt_ins_recorded", "opt-ins that took effect (cumulative)", "members", "count", "opt_ins_total"),
    Metric("new_profiles", "profiles ingested today", "profiles per day", "flow", "profiles_today"),
    Metric("new_text_tokens", "text tokens ingested today", "tokens per day", "flow", "text_tokens_today"),
    Metric("new_face_images", "face images ingested today", "images per day", "flow", "face_images_today"),
    Metric("new_other_images", "other images ingested today", "images per day", "flow", "other_images_today"),
    Metric(
        "objectors_acted_share",
        "eligible objectors who have recorded an objection (any channel)",
        "share of objectors",
        "share",
        "objectors_opted_out",
        "objectors",
    ),
    Metric("active_members", "eligible members who visited in the last 30 days", "members", "count", "active"),
    Metric(
        "opted_out_share_active",
        "active eligible members (visited in 30 days) who have recorded an objection",
        "share of active eligible",
        "share",
        "active_opted_out",
        "active",
    ),
    Metric(
        "enrolled_share_active",
        "active eligible members (visited in 30 days) enrolled under the regime (set to be used)",
        "share of active eligible",
        "share",
        "active_enrolled",
        "active",
    ),
    Metric(
        "consent_gap_share_active",
        "active eligible members (visited in 30 days) who object and are enrolled",
        "share of active eligible",
        "share",
        "active_gap",
        "active",
    ),
)

CHOICE_CHANNELS = ("prompt", "settings", "form", "one_click")  # sim.model.rules.consent.CHANNELS
_DIRECTIONS = {"opted_out": "an objection", "opted_in": "consent"}
CORE += tuple(
    Metric(
        f"{d}_via_{c}_share",
        f"eligible members whose recorded choice is {what}, made through the {c} channel",
        ELIGIBLE,
        "share",
        f"{d}_via_{c}",
        "eligible",
    )
    for d, what in _DIRECTIONS.items()
    for c in CHOICE_CHANNELS
) + tuple(
    Metric(
        f"new_{d}_via_{c}",
        f"choices recorded today as {what} through the {c} channel",
        "members per day",
        "flow",
        f"new_{d}_via_{c}",
    )
    for d, what in _DIRECTIONS.items()
    for c in CHOICE_CHANNELS
)

# The order of the metric axis of every record and series file written so far, kept so that stored
# series and baselines stay comparable; a metric not named here (a new one) follows, in the order
# declared (the core's, then each mechanism's in the registry's order).
SERIES_ORDER = (
    "eligible_members", "aware_share", "enrolled_share", "opted_out_share", "opted_in_share", "undecided_share",
    "objector_share", "objectors_enrolled_share", "consent_gap_share", "gap_unaware_share", "gap_intending_share",
    "gap_gave_up_share", "gap_not_trying_share", "failed_attempts", "face_post_share", "training_active",
    "dataset_profiles", "dataset_text_tokens", "dataset_face_images", "dataset_other_images",
    "dataset_from_objectors_share", "dataset_face_images_from_objectors", "dataset_removed_text_tokens", "members",
    "new_members", "members_joined", "accounts_closed_today", "accounts_closed", "new_opt_outs", "opt_outs_recorded",
    "new_opt_ins", "opt_ins_recorded", "new_profiles", "new_text_tokens", "new_face_images", "new_other_images",
    "posts_deleted_today", "posts_deleted", "objectors_acted_share", "active_members", "opted_out_share_active",
    "enrolled_share_active", "consent_gap_share_active", "mean_salience", "guided_share", "chilled_share",
    "deleted_old_posts_share", "opted_out_via_prompt_share", "opted_out_via_settings_share",
    "opted_out_via_form_share", "opted_out_via_one_click_share", "opted_in_via_prompt_share",
    "opted_in_via_settings_share", "opted_in_via_form_share", "opted_in_via_one_click_share",
    "new_opted_out_via_prompt", "new_opted_out_via_settings", "new_opted_out_via_form", "new_opted_out_via_one_click",
    "new_opted_in_via_prompt", "new_opted_in_via_settings", "new_opted_in_via_form", "new_opted_in_via_one_click",
)  # fmt: skip


def _in_series_order(declared: tuple[Metric, ...]) -> tuple[Metric, ...]:
    names = [m.name for m in declared]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    rank = {name: i for i, name in enumerate(SERIES_ORDER)}
    return tuple(sorted(declared, key=lambda m: (rank.get(m.name, len(rank)), names.index(m.name))))


REGISTRY: tuple[Metric, ...] = _in_series_order(CORE + tuple(m for mech in mechanisms.REGISTRY for m in mech.metrics))
BY_NAME: dict[str, Metric] = {m.name: m for m in REGISTRY}
METRIC_NAMES: tuple[str, ...] = tuple(BY_NAME)
INDEX: dict[str, int] = {name: i for i, name in enumerate(METRIC_NAMES)}
METRICS: dict[str, str] = {m.name: f"{m.description} ({m.unit})" for m in REGISTRY}
COUNT_METRICS = frozenset(m.name for m in REGISTRY if m.additive)
QUANTITIES: frozenset[str] = frozenset(
    q for m in REGISTRY for q in (m.numerator, m.denominator) if q is not None
)  # what the engine must measure
HEADLINE = ("enrolled_share", "opted_out_share", "consent_gap_share", "dataset_text_tokens", "dataset_face_images")

_ADDITIVE = np.array([m.additive for m in REGISTRY])
# The quantities in a fixed order, and each metric's numerator and denominator as a column of it
# (the last column is zeros: the denominator of counts and flows), so recording a day is a few
# whole-array operations rather than one per metric.
_QUANTITY_ORDER: tuple[str, ...] = tuple(sorted(QUANTITIES))
_NUM = np.array([_QUANTITY_ORDER.index(m.numerator) for m in REGISTRY])
_DEN = np.array([_QUANTITY_ORDER.index(m.denominator) if m.denominator else len(_QUANTITY_ORDER) for m in REGISTRY])


def record(quantities: dict[str, np.ndarray], n_sims: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every metric per region and for the whole membership, from per-region quantities.

    The quantities are per cell of a batch of `n_sims` simulations (sim.model.batch: each
    simulation's regions in turn; for one simulation, its regions). Returns
    (regional [sims, regions, metrics], whole [sims, metrics]).
    A share with a zero denominator is 0. A quantity the registry needs and the engine did not
    measure is an error, not a silent zero.
    """
    try:
        columns = [quantities[name] for name in _QUANTITY_ORDER]
    except KeyError:
        raise KeyError(f"quantities not measured: {sorted(QUANTITIES - set(quantities))}") from None
    n_cells = len(columns[0])
    q = np.zeros((n_cells, len(columns) + 1))
    q[:, :-1] = np.array(columns, dtype=np.float64).T
    q = q.reshape(n_sims, n_cells // n_sims, -1)
    num, den = q[..., _NUM], q[..., _DEN]
    with np.errstate(invalid="ignore", divide="ignore"):
        regional = np.where(_ADDITIVE, num, np.where(den > 0, num / den, 0.0))
        total_num, total_den = num.sum(axis=1), den.sum(axis=1)
        whole = np.where(_ADDITIVE, total_num, np.where(total_den > 0, total_num / total_den, 0.0))
    return regional, whole


def record_some(quantities: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """[region, metric]: the metrics `names` per region from the quantities they need alone (for an
    engine that measures only some, like the Mesa reference); a share with a zero denominator is 0."""
    out = np.zeros((len(next(iter(quantities.values()))), len(names)))
    for k, name in enumerate(names):
        m = BY_NAME[name]
        num = np.asarray(quantities[m.numerator], np.float64)
        if m.denominator is None:
            out[:, k] = num
        else:
            den = np.asarray(quantities[m.denominator], np.float64)
            out[:, k] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return out


def markdown_table() -> str:
    """The metric registry as Markdown, for docs/ODD.md (generated, so it cannot drift)."""
    lines = ["| metric | what it is | unit | kind | computed as |", "|---|---|---|---|---|"]
    for m in REGISTRY:
        how = m.numerator if m.denominator is None else f"{m.numerator} / {m.denominator}"
        lines.append(f"| `{m.name}` | {m.description} | {m.unit} | {m.kind} | {how} |")
    return "\n".join(lines)
