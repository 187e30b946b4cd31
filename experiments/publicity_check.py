"""A small publicity comparison (docs/PUBLICITY.md): a national story on 2025-05-01 in the shipped model
and with the behaviour mechanisms on, by the share of coverage printing the steps.

    python experiments/publicity_check.py     # about 2 minutes on one core; writes outputs/publicity/check.json

One seed, 100,000 agents: a first look, not a sweep (`+experiment=publicity` is the sweep).
"""

import json
from pathlib import Path

import numpy as np

from sim.model.config import validate_config
from sim.model.engine import ConsentModel
from sim.model.metrics import INDEX
from sim.run.compose import compose_raw

ON = [
    "salience.enabled=true",
    "guidance.enabled=true",
    "return_visits.enabled=true",
    "concern.enabled=true",
    "reactions.delete_old_posts.enabled=true",
    "reactions.post_less.enabled=true",
    "reactions.close_account.enabled=true",
]


def EV(lvl: str) -> str:
    return f"awareness.media.extra_events=[{{date:'2025-05-01',regions:[all],level:{lvl}}}]"


cases = {
    "shipped model, no campaign": [],
    "shipped model, high campaign": [EV("high")],
    "behaviour on, no campaign, guidance 0": ON + ["guidance.coverage_share=0"],
    "behaviour on, high campaign, guidance 0": ON + [EV("high"), "guidance.coverage_share=0"],
    "behaviour on, high campaign, guidance 0.5": ON + [EV("high"), "guidance.coverage_share=0.5"],
    "behaviour on, high campaign, guidance 1": ON + [EV("high"), "guidance.coverage_share=1.0"],
    "behaviour on, moderate campaign, guidance 1": ON + [EV("moderate"), "guidance.coverage_share=1.0"],
}
out = {}
for name, ov in cases.items():
    c = validate_config(compose_raw(["population.agents=100000", "progress=false", "end=2025-08-31", "seed=1", *ov]))
    m = ConsentModel(c)
    while m.running:
        m.step()
    r = m.records[:, -1]
    t0 = int(np.flatnonzero(m.dates == np.datetime64("2025-05-01"))[0])

    def g(k, r=r):
        return r[:, INDEX[k]]

    out[name] = {
        "opted_out_before": g("opted_out_share")[t0 - 1],
        "opted_out_end": g("opted_out_share")[-1],
        "opt_outs_first_week_per_day": g("new_opt_outs")[t0 : t0 + 7].mean(),
        "opt_outs_4wk_before_per_day": g("new_opt_outs")[t0 - 28 : t0].mean(),
        "opt_outs_weeks_7_10_per_day": g("new_opt_outs")[t0 + 42 : t0 + 70].mean(),
        "objectors_acted_end": g("objectors_acted_share")[-1],
        "gap_end": g("consent_gap_share")[-1],
        "gap_active_end": g("consent_gap_share_active")[-1],
        "posts_deleted": g("posts_deleted")[-1],
        "accounts_closed": g("accounts_closed")[-1],
        "chilled": g("chilled_share")[-1],
        "text_tokens_end": g("dataset_text_tokens")[-1],
        "objector_share_max": g("objector_share").max(),
        "objector_share_start": g("objector_share")[0],
    }
    print(name, {k: float(f"{v:.4g}") for k, v in out[name].items()}, flush=True)
path = Path(__file__).resolve().parent.parent / "outputs" / "publicity" / "check.json"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(out, indent=1, default=float) + "\n")
print(f"wrote {path}")
