"""What a run records each day, per region and for the whole membership (MODEL.md "Outputs").

Counts are in real members (weighted) or real items; shares are of eligible members; dataset
metrics are cumulative (net of retroactive removal). The names here are the `metric` column of
series.parquet.
"""

from __future__ import annotations

METRICS: dict[str, str] = {
    "eligible_members": "members aged 18+ (count, real members)",
    "aware_share": "eligible members aware of the AI-training use (share of eligible)",
    "enrolled_share": "eligible members whose data the regime lets training use (share of eligible)",
    "opted_out_share": "eligible members who have recorded an objection (share of eligible)",
    "opted_in_share": "eligible members who have recorded consent (share of eligible)",
    "undecided_share": "eligible members with no recorded choice (share of eligible)",
    "objector_share": "eligible members who object to the use (share of eligible)",
    "objectors_enrolled_share": "objectors whose data the regime lets training use (share of objectors)",
    "consent_gap_share": "objectors who are enrolled: unaware + intending + gave up (share of eligible)",
    "gap_unaware_share": "enrolled objectors still unaware (share of eligible)",
    "gap_intending_share": "enrolled objectors aware and intending to act (share of eligible)",
    "gave_up_share": "enrolled objectors aware but not trying: gave up, intent lapsed, or no route (share of eligible)",
    "failed_attempts": "failed opt-out or opt-in attempts so far (count, real attempts, cumulative)",
    "face_post_share": "expected face-image share of new posts (share of posts)",
    "training_active": "eligible members in regions whose phase trains (share of eligible)",
    "dataset_profiles": "profiles ingested (count, cumulative)",
    "dataset_text_tokens": "text tokens ingested (tokens, cumulative)",
    "dataset_face_images": "identity-labelled face images ingested (images, cumulative)",
    "dataset_other_images": "other images ingested (images, cumulative)",
    "dataset_from_objectors_share": "text tokens in the set from members who later opted out (share of tokens)",
    "dataset_face_images_from_objectors": "face images in the set from members who later opted out (images)",
    "dataset_removed_text_tokens": "text tokens removed by retroactive removal (tokens, cumulative)",
}
METRIC_NAMES = tuple(METRICS)
INDEX = {name: i for i, name in enumerate(METRIC_NAMES)}

# Metrics that add up across regions (counts); every other metric is a share whose whole-membership
# value is a ratio of the summed numerator and denominator.
COUNT_METRICS = frozenset(
    {
        "eligible_members",
        "failed_attempts",
        "dataset_profiles",
        "dataset_text_tokens",
        "dataset_face_images",
        "dataset_other_images",
        "dataset_face_images_from_objectors",
        "dataset_removed_text_tokens",
    }
)
HEADLINE = ("enrolled_share", "opted_out_share", "consent_gap_share", "dataset_text_tokens", "dataset_face_images")
