"""Readable names of the code names a figure shows: policies, regions, regimes, metrics, settings.

One table, used by every figure (sim.reports.figures, sim.reports.plot) so a legend or title never
shows `linkedin_actual`, `EU_EEA` or `opted_out_share`. Region names come from data/regions.csv
(a short form where the file's name is long); a policy's long description is its config's
`description` (conf/policy/*.yaml). A code missing here is shown as itself with underscores as
spaces, and tests/test_figures.py checks that every shipped policy, region and figure metric is here.

The words for a design's choices are generated from what its regimes are (sim.model.regimes):
`choice_words` says whether the design asks (an "opted out" member declined a request), offers a
route, or gives no way to refuse (the consent gap is then not "aware, not trying").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from sim.model.regimes import Regime
from sim.model.regions import ALL, REGIONS

POLICY_NAMES: dict[str, str] = {
    "linkedin_actual": "Actual LinkedIn policy",
    "affirmative_everywhere": "Opt-in (asked once) everywhere",
    "eu_affirmative": "Opt-in in the EU/EEA only",
    "forced_choice_everywhere": "Forced choice everywhere",
    "neutral_blocking_prompt": "Blocking neutral prompt",
    "no_option_everywhere": "No option to refuse",
    "one_click_notice": "One-click object link in notices",
    "opt_in_prompted": "Opt-in, prompted once",
    "opt_in_unasked": "Opt-in, never asked",
    "prominent_toggle": "One-step toggle in the notice",
}
BASELINE_POLICY = "linkedin_actual"  # the real policy: drawn last, in its own style

# Short forms where regions.csv's name is long; every other region uses the file's name.
_REGION_SHORT = {"EU_EEA": "EU/EEA", "ROW": "Rest of world"}
REGION_NAMES: dict[str, str] = {r.code: _REGION_SHORT.get(r.code, r.name) for r in REGIONS}
REGION_NAMES[ALL] = "All members"
EXCLUDED_REGIONS = tuple(r.code for r in REGIONS if r.policy_group == "excluded")

REGIME_NAMES: dict[str, str] = {
    "excluded": "excluded from training",
    "default_on": "default-on (opt-out)",
    "affirmative": "opt-in, asked once",
    "forced_choice": "forced choice",
    "no_option": "no option to refuse",
    "unticked_box": "opt-in, never asked",
    "must_answer": "blocking prompt, neutral buttons",
    "prompted_opt_in": "opt-in, prompted once",
}

METRIC_NAMES: dict[str, str] = {
    "aware_share": "aware of the AI-training use",
    "enrolled_share": "enrolled: set to be used, training or not",
    "in_use_share": "in use: enrolled where training runs now",
    "opted_out_share": "opted out",
    "opted_in_share": "opted in",
    "consent_gap_share": "consent gap (objectors enrolled)",
    "gap_unaware_share": "unaware",
    "gap_intending_share": "aware, intending to act",
    "gap_gave_up_share": "aware, gave up after failing",
    "gap_not_trying_share": "aware, not trying",
    "face_post_share": "face-image share of new posts",
    "dataset_from_objectors_share": "share of text tokens from later objectors",
    "new_opt_outs": "opt-outs per day",
    "dataset_profiles": "profiles",
    "dataset_text_tokens": "text tokens",
    "dataset_face_images": "face images (identity-labelled)",
    "dataset_other_images": "other images",
}
CHANNEL_NAMES: dict[str, str] = {
    "prompt": "a prompt",
    "settings": "settings",
    "form": "the objection form",
    "one_click": "a one-click link",
}
SETTING_NAMES: dict[str, str] = {
    "policy": "policy",
    "feed.face_boost": "face boost of the feed",
    "feed.initial_face_share": "initial face share",
    "feed.adaptation_rate": "face-share adaptation rate",
    "training.retroactive_removal": "retroactive removal",
    "guidance.coverage_share": "coverage printing the steps",
    "awareness.media.extra_events": "extra story",
    "population.agents": "agents",
    "seed": "seed",
}


def _plain(code: str) -> str:
    return str(code).replace("_", " ")


def policy_name(code: str) -> str:
    return POLICY_NAMES.get(str(code), _plain(code))


def region_name(code: str) -> str:
    return REGION_NAMES.get(str(code), _plain(code))


def regime_name(code: str) -> str:
    return REGIME_NAMES.get(str(code), _plain(code))


def metric_name(code: str) -> str:
    if code in METRIC_NAMES:
        return METRIC_NAMES[code]
    for direction in ("opted_out", "opted_in"):  # opted_out_via_<channel>_share
        prefix = f"{direction}_via_"
        if code.startswith(prefix) and code.endswith("_share"):
            channel = code[len(prefix) : -len("_share")]
            return f"{METRIC_NAMES[direction + '_share']} via {CHANNEL_NAMES.get(channel, _plain(channel))}"
    return _plain(code)


def setting_name(code: str) -> str:
    return SETTING_NAMES.get(str(code), _plain(str(code).split(".")[-1]))


def name_codes(text: str) -> str:
    """Prose (an event's label, a policy's description) with its region codes named."""
    return re.sub(r"\b[A-Z][A-Z_]+\b", lambda m: REGION_NAMES.get(m.group(0), m.group(0)), text)


def policy_descriptions(conf_dir: Path | None = None) -> dict[str, str]:
    """Each shipped policy's `description` (conf/policy/*.yaml), by policy file name."""
    if conf_dir is None:
        from sim.run.compose import CONF_DIR

        conf_dir = Path(CONF_DIR)
    out = {}
    for path in sorted((Path(conf_dir) / "policy").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text()) or {}
        out[path.stem] = raw.get("description", "")
    return out


def region_title(code: str) -> str:
    """A panel's title: the region's name; the whole membership says whether excluded regions count."""
    if code == ALL and EXCLUDED_REGIONS:
        return f"All members\n(incl. {', '.join(region_name(c) for c in EXCLUDED_REGIONS)})"
    return region_name(code)


def all_members_note() -> str:
    """How the whole membership's shares are computed (sim.model.metrics.record: summed numerator
    over summed denominator across every region, the excluded ones too)."""
    excluded = ", ".join(region_name(c) for c in EXCLUDED_REGIONS)
    if not excluded:
        return "All members: shares of every eligible member."
    return (
        f"All members: shares of every eligible member, {excluded} included in the denominator "
        "(excluded from training there, so it lowers the shares)."
    )


def choice_words(regimes: Iterable[Regime]) -> dict[str, str]:
    """The words for a design's opted-out share and the consent gap's `not trying` part, generated
    from the regimes that train in it: under opt-in designs that ask, an objection recorded is a
    declined request; where no regime offers a route, nobody can refuse (the gap's aware members are
    not "not trying")."""
    training = [r for r in regimes if r.trains]
    asks_in = [r for r in training if r.enrolment == "if_opted_in" and r.request != "none"]
    unasked_in = [r for r in training if r.enrolment == "if_opted_in" and r.request == "none"]
    opt_out = [r for r in training if r.enrolment == "unless_opted_out"]
    no_route = [r for r in training if not r.route_offered]
    kinds = []
    if opt_out:
        kinds.append("opted out")
    if asks_in:
        kinds.append("declined the request")
    if unasked_in:
        kinds.append("refused in settings")
    if not training or len(no_route) == len(training):
        out_word = "none can opt out"
    else:
        out_word = " or ".join(kinds) or "opted out"
    if training and len(no_route) == len(training):
        gap_word = "aware, no way to refuse"
    elif no_route:
        gap_word = "aware, not trying or no way to refuse"
    else:
        gap_word = "aware, not trying"
    return {"opted_out_share": out_word, "gap_not_trying_share": gap_word}


def code_names() -> set[str]:
    """Every code name a figure must not show (tests look for them in a figure's texts)."""
    from sim.model.regimes import REGIMES

    codes = {*POLICY_NAMES, *(r.code for r in REGIONS), ALL, *REGIMES, *METRIC_NAMES, *policy_descriptions()}
    return {c for c in codes if "_" in c or c.isupper()}  # words like "excluded" may appear as words
