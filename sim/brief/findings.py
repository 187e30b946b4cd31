"""The brief's key findings, as numbers for the template's sentences.

Each finding is a function of the sweeps given; it picks the sweep that varies what the finding
compares (policy, the feed's face boost, retroactive removal), holds that sweep's other settings at
their defaults, and returns a dict of quantities (sim.brief.numbers.Quantity) and labels. A finding
whose comparison is in none of the sweeps raises MissingData with what to run; the template then
prints that message in the finding's place. The wording of the sentences is in the template.
"""

from __future__ import annotations

from sim.brief.sources import MissingData, Sweep, norm
from sim.model.regions import REGION_CODES
from sim.reports.names import EXCLUDED_REGIONS, policy_name, region_name
from sim.reports.plot import GUIDANCE, story_of, strongest_story
from sim.reports.plot import STORY as EXTRA_MEDIA

POLICY = "policy"
FACE_BOOST = "feed.face_boost"
RETROACTIVE = "training.retroactive_removal"
NEUTRAL_FACE_BOOST = 1.0  # a feed that does not reward faces (conf/feed/default.yaml)


def sweep_varying(sweeps: list[Sweep], setting: str, experiment: str) -> Sweep:
    """The first sweep that varies `setting`, else MissingData naming the experiment that does."""
    for sweep in sweeps:
        if setting in sweep.varying:
            return sweep
    names = ", ".join(s.name for s in sweeps)
    raise MissingData(
        f"No sweep given ({names}) varies {setting}. Run `python -m sim.run -m +experiment={experiment}` "
        "and pass its folder to `python -m sim.brief` as well."
    )


def _baseline_in(sweep: Sweep, baseline: str) -> None:
    if baseline not in sweep.values(POLICY):
        raise MissingData(
            f"The baseline policy {baseline} is not in the sweep {sweep.name} (policies: "
            f"{', '.join(sweep.values(POLICY))}); choose one with --baseline."
        )


def training_set(sweeps: list[Sweep], baseline: str) -> dict:
    """The training set at the horizon under each policy, and as a share of the baseline's."""
    sweep = sweep_varying(sweeps, POLICY, "regimes")
    _baseline_in(sweep, baseline)

    def of(policy: str) -> dict:
        return {
            "policy": policy,
            "tokens": sweep.get("dataset_text_tokens", kind="count", unit="tokens", policy=policy),
            "faces": sweep.get("dataset_face_images", kind="count", policy=policy),
            "profiles": sweep.get("dataset_profiles", kind="count", policy=policy),
            "enrolled": sweep.get("enrolled_share", policy=policy),
        }

    others = []
    for policy in sweep.values(POLICY):
        if policy == baseline:
            continue
        row = of(policy)
        row["tokens_vs_baseline"] = sweep.compare(
            "ratio", "dataset_text_tokens", of={POLICY: policy}, to={POLICY: baseline}
        )
        others.append(row)
    others.sort(key=lambda r: -r["tokens_vs_baseline"].median)
    return {"sweep": sweep.name, "date": _date(sweep), "baseline": of(baseline), "others": others}


def objectors(sweeps: list[Sweep], baseline: str) -> dict:
    """How many objectors are still enrolled, why, and how much of the set came from later objectors."""
    sweep = sweep_varying(sweeps, POLICY, "regimes")
    _baseline_in(sweep, baseline)
    out = {
        "sweep": sweep.name,
        "date": _date(sweep),
        "objectors": sweep.get("objector_share", policy=baseline),
        "still_enrolled": sweep.get("objectors_enrolled_share", policy=baseline),
        "gap": sweep.get("consent_gap_share", policy=baseline),
        "unaware": sweep.get("gap_unaware_share", policy=baseline),
        "intending": sweep.get("gap_intending_share", policy=baseline),
        "gave_up": sweep.get("gap_gave_up_share", policy=baseline),
        "not_trying": sweep.get("gap_not_trying_share", policy=baseline),
        "via_form": sweep.get("opted_out_via_form_share", policy=baseline),
        "via_settings": sweep.get("opted_out_via_settings_share", policy=baseline),
        "from_later_objectors": sweep.get("dataset_from_objectors_share", policy=baseline),
    }
    by_policy = [
        (policy, sweep.get("objectors_enrolled_share", policy=policy))
        for policy in sweep.values(POLICY)
        if policy != baseline
    ]
    low_policy, low = min(by_policy, key=lambda p: p[1].median)
    out["lowest"] = {"policy": low_policy, "still_enrolled": low}
    return out


def at_a_glance(sweeps: list[Sweep], baseline: str) -> dict:
    """The brief's first answer: how many opted out under the baseline, where most and fewest did
    (regions excluded from training left out), and under which other policy most objectors are out."""
    sweep = sweep_varying(sweeps, POLICY, "regimes")
    _baseline_in(sweep, baseline)
    by_region = [
        (code, sweep.get("opted_out_share", region=code, policy=baseline))
        for code in REGION_CODES
        if code not in EXCLUDED_REGIONS
    ]
    most, fewest = max(by_region, key=lambda r: r[1].median), min(by_region, key=lambda r: r[1].median)
    others = [(p, sweep.get("objectors_enrolled_share", policy=p)) for p in sweep.values(POLICY) if p != baseline]
    best_policy, best = min(others, key=lambda p: p[1].median) if others else (None, None)
    return {
        "sweep": sweep.name,
        "date": _date(sweep),
        "policy": baseline,
        "policy_name": policy_name(baseline),
        "opted_out": sweep.get("opted_out_share", policy=baseline),
        "objectors_enrolled": sweep.get("objectors_enrolled_share", policy=baseline),
        "tokens": sweep.get("dataset_text_tokens", kind="count", unit="tokens", policy=baseline),
        "faces": sweep.get("dataset_face_images", kind="count", policy=baseline),
        "most": {"region": region_name(most[0]), "opted_out": most[1]},
        "fewest": {"region": region_name(fewest[0]), "opted_out": fewest[1]},
        "best": None
        if best_policy is None
        else {"policy": best_policy, "policy_name": policy_name(best_policy), "objectors_enrolled": best},  # fmt: skip
    }


def faces(sweeps: list[Sweep], baseline: str) -> dict:
    """Identity-labelled face images ingested, and what the feed's reward for faces adds."""
    sweep = sweep_varying(sweeps, FACE_BOOST, "attention")
    policy = sweep.default_of(POLICY)
    boosts = sorted(sweep.values(FACE_BOOST), key=float)
    neutral = norm(NEUTRAL_FACE_BOOST) if norm(NEUTRAL_FACE_BOOST) in boosts else boosts[0]
    shipped = sweep.held()[FACE_BOOST]
    if shipped == neutral:
        raise MissingData(f"The sweep {sweep.name} holds the face boost at the neutral value {neutral} only.")
    at = {POLICY: policy, FACE_BOOST: shipped}
    without = {POLICY: policy, FACE_BOOST: neutral}
    return {
        "sweep": sweep.name,
        "date": _date(sweep),
        "policy": policy,
        "boost": shipped,
        "neutral": neutral,
        "boosts": boosts,
        "faces": sweep.get("dataset_face_images", kind="count", **at),
        "faces_neutral": sweep.get("dataset_face_images", kind="count", **without),
        "face_post_share": sweep.get("face_post_share", **at),
        "face_post_share_neutral": sweep.get("face_post_share", **without),
        "added": sweep.compare("difference", "dataset_face_images", kind="count", of=at, to=without),
        "added_share": sweep.compare("change", "dataset_face_images", of=at, to=without),
    }


def retroactive(sweeps: list[Sweep], baseline: str) -> dict:
    """What removing opted-out members' data already in the set (not only future use) changes."""
    sweep = sweep_varying(sweeps, RETROACTIVE, "retroactive")
    policy = sweep.default_of(POLICY)
    on, off = {POLICY: policy, RETROACTIVE: "True"}, {POLICY: policy, RETROACTIVE: "False"}
    return {
        "sweep": sweep.name,
        "date": _date(sweep),
        "policy": policy,
        "removed": sweep.get("dataset_removed_text_tokens", kind="count", unit="tokens", **on),
        "tokens_change": sweep.compare("change", "dataset_text_tokens", of=on, to=off),
        "from_later_objectors_kept": sweep.get("dataset_from_objectors_share", **off),
        "from_later_objectors_removed": sweep.get("dataset_from_objectors_share", **on),
        "faces_from_later_objectors_kept": sweep.get("dataset_face_images_from_objectors", kind="count", **off),
    }


def publicity(sweeps: list[Sweep], baseline: str) -> dict:
    """What a national story changes, what printing the opt-out steps adds at the same reach, and the
    reactions beyond the toggle it brings (old posts deleted, accounts closed)."""
    sweep = sweep_varying(sweeps, EXTRA_MEDIA, "publicity")
    values = sweep.values(EXTRA_MEDIA)
    none = [v for v in values if story_of(v) is None]
    strongest = strongest_story(values)
    if not none or strongest is None:
        raise MissingData(f"The sweep {sweep.name} does not compare a story of a known level with no story.")
    level, story_date = story_of(strongest)
    shares = sorted(sweep.values(GUIDANCE), key=float)
    if len(shares) < 2:
        raise MissingData(f"The sweep {sweep.name} does not vary {GUIDANCE}: run `+experiment=publicity`.")
    unguided, guided = shares[0], shares[-1]
    quiet = {EXTRA_MEDIA: none[0], GUIDANCE: unguided}
    story = {EXTRA_MEDIA: strongest, GUIDANCE: unguided}
    guided_story = {EXTRA_MEDIA: strongest, GUIDANCE: guided}
    return {
        "sweep": sweep.name,
        "date": _date(sweep),
        "policy": sweep.default_of(POLICY),
        "route": sweep.default_of("policy.route_override") if "policy.route_override" in sweep.settings else None,
        "level": level,
        "story_date": story_date,
        "unguided": f"{float(unguided):.0%}",
        "guided": f"{float(guided):.0%}",
        "opted_out_quiet": sweep.get("opted_out_share", **quiet),
        "opted_out_story": sweep.get("opted_out_share", **story),
        "opted_out_guided": sweep.get("opted_out_share", **guided_story),
        "story_adds": sweep.compare("difference", "opted_out_share", kind="points", of=story, to=quiet),
        "guidance_adds": sweep.compare("difference", "opted_out_share", kind="points", of=guided_story, to=story),
        "gap_quiet": sweep.get("consent_gap_share", **quiet),
        "gap_guided": sweep.get("consent_gap_share", **guided_story),
        "posts_deleted_quiet": sweep.get("posts_deleted", kind="count", **quiet),
        "posts_deleted_guided": sweep.get("posts_deleted", kind="count", **guided_story),
        "closed_quiet": sweep.get("accounts_closed", kind="count", **quiet),
        "closed_guided": sweep.get("accounts_closed", kind="count", **guided_story),
        "closed_added": sweep.compare("difference", "accounts_closed", kind="count", of=guided_story, to=quiet),
    }


FINDINGS = {
    "at_a_glance": at_a_glance,
    "training_set": training_set,
    "objectors": objectors,
    "faces": faces,
    "retroactive": retroactive,
    "publicity": publicity,
}


def _date(sweep: Sweep) -> str:
    return f"{sweep.horizon:%-d %B %Y}"


def build_findings(sweeps: list[Sweep], baseline: str) -> dict[str, dict]:
    """Every finding, or {"missing": why} for one the sweeps cannot support."""
    out = {}
    for name, finding in FINDINGS.items():
        try:
            out[name] = finding(sweeps, baseline)
        except MissingData as why:
            out[name] = {"missing": str(why)}
    return out
