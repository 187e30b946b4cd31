"""Per-agent state that changes over time: one array each, the smallest dtype that fits.

The core's arrays are the fields below; each mechanism's arrays (its `state` declarations,
sim.model.mechanisms) are added as attributes of the same name when the state is made, switched on
or not (they are small, and a mechanism switched off never writes them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.days import NEVER, NO_VISIT, NOT_YET
from sim.model.mechanisms import state_fields
from sim.model.population import Population
from sim.model.rules.consent import NO_CHOICE

__all__ = ["NEVER", "NOT_YET", "NO_VISIT", "AgentState"]


@dataclass
class AgentState:
    next_visit: np.ndarray  # int16 day of the next visit
    aware_since: np.ndarray  # int16 day the member became aware, NOT_YET if unaware
    exposure_level: np.ndarray  # float32, exposed when the region's cumulative media hazard reaches it
    exposure_day: np.ndarray  # int16 the day that happens (NEVER: not within the horizon)
    choice: np.ndarray  # int8: NO_CHOICE, OPTED_OUT, OPTED_IN
    choice_channel: np.ndarray  # int8 index into consent.CHANNELS of the recorded choice
    intent_until: np.ndarray  # int16 last day of the current intent, NOT_YET if none
    gave_up: np.ndarray  # bool: stopped trying after a failure
    in_app_pending: np.ndarray  # bool: will see the in-app notice at the next visit
    prompt_pending: np.ndarray  # bool: will be asked a consent prompt at the next visit
    one_click_pending: np.ndarray  # bool: the in-app notice to be seen carries a one-click object link
    awaiting_decision: np.ndarray  # bool: submitted a route with a wait (objection form), not yet in effect
    visit_to_act: np.ndarray  # bool: the next visit is one the member makes to act (ConsentModel.bring_to_site)
    profile_ingested: np.ndarray  # bool: profile and backlog already in the training set
    # posters only, aligned with Population.poster
    ingested: np.ndarray  # float32 (posters, 4): the poster's data in the set, by ledger.DATA_TYPES
    # (a member who never posts has only the profile part: ConsentModel.ingested_of derives it)
    face_share: np.ndarray  # float32 share of the member's posts that are face images
    next_post: np.ndarray  # int16 day of the next post
    pending_posts: np.ndarray  # int16 (posters, 3): posts since the last pull, by content type
    # membership and activity: who is a member, and who visited lately
    last_visit: np.ndarray  # int16 day of the last visit, NO_VISIT if none
    join_day: np.ndarray  # int16 day the member joins (0: a member at the start)
    adult_day: np.ndarray  # int16 day the member turns 18 (0: adult at the start; NEVER beyond the horizon)
    closed_day: np.ndarray  # int16 day the account is closed (NEVER: open)

    @classmethod
    def initial(cls, pop: Population, initial_face_share) -> AgentState:
        """The state at the start; `initial_face_share` is one share, or one per poster (a batch)."""
        n, p = pop.n, pop.poster.size
        state = cls(
            next_visit=np.zeros(n, np.int16),
            aware_since=np.full(n, NOT_YET, np.int16),
            exposure_level=np.zeros(n, np.float32),
            exposure_day=np.full(n, NEVER, np.int16),
            choice=np.full(n, NO_CHOICE, np.int8),
            choice_channel=np.zeros(n, np.int8),
            intent_until=np.full(n, NOT_YET, np.int16),
            gave_up=np.zeros(n, bool),
            in_app_pending=np.zeros(n, bool),
            prompt_pending=np.zeros(n, bool),
            one_click_pending=np.zeros(n, bool),
            awaiting_decision=np.zeros(n, bool),
            visit_to_act=np.zeros(n, bool),
            profile_ingested=np.zeros(n, bool),
            ingested=np.zeros((p, 4), np.float32),
            face_share=np.broadcast_to(np.asarray(initial_face_share, np.float32), (p,)).copy(),
            next_post=np.zeros(p, np.int16),
            pending_posts=np.zeros((p, 3), np.int16),
            last_visit=np.full(n, NO_VISIT, np.int16),
            join_day=np.zeros(n, np.int16),
            adult_day=np.where(pop.eligible, 0, NEVER).astype(np.int16),
            closed_day=np.full(n, NEVER, np.int16),
        )
        for field in state_fields():
            setattr(state, field.name, field.allocate(n, p))
        return state

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values())
