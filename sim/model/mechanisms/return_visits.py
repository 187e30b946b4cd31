"""Acting from a notice or a story (docs/ODD.md §7.12): what a member reads away from the site can
bring them to it the next day, dormant members included (sim.model.rules.return_visits).

- a story in the news: an exposed member visits the next day with probability `response_prob` x
  event(t) / attention(t) (`after_exposure`);
- a contact who acted: a told member visits the next day with probability `contact_response_prob`
  x the day's chance of being told (`told`);
- a notice: a member who read an email notice today (without a one-click link) and whom it moved
  (holds an intent to change a status that differs from their preference, a route open to it, not on
  the site today) visits the next day with probability `notice_response_prob` (`after_intent`: the
  intent is formed after the exposure). An in-app notice is seen on a visit, where the member can
  act at once; a notice's one-click link is the route of §7.6.

The visit is the member's next visit brought forward, never pushed back; the visit process restarts
from it (memoryless). A story or a contact brings a member to look (an intent decides what they do
there, as on any visit: §7.5, §7.6); a notice that moved a member brings them to act, and on that
visit they try (`ConsentModel.bring_to_site`: present bias is the putting off of a step, and they
came to take it).
"""

from __future__ import annotations

import numpy as np

from sim.model.mechanisms.base import Mechanism
from sim.model.rules import guidance, return_visits
from sim.model.rules.consent import NO_CHOICE
from sim.model.schema import Probability, Strict, unit


class ReturnVisitsConfig(Strict):
    """A notice or a story brings members to the site to act (docs/ODD.md §7.12)."""

    enabled: bool
    response_prob: Probability = unit("probability per exposure to event coverage")
    notice_response_prob: Probability = unit("probability per email notice read by a member it moved")
    contact_response_prob: Probability = unit("probability per telling by contacts who acted")


class ReturnVisits(Mechanism):
    key = "return_visits"
    Params = ReturnVisitsConfig

    def __init__(self, model):
        super().__init__(model)
        shocks, _, attention = model.world.event_attention()
        self.event_prob = guidance.share_of_attention(shocks, attention)  # [day, cell]

    def bring_back(self, members: np.ndarray, p: np.ndarray, stream: str, t: int, to_act: bool = False) -> None:
        """Members come to the site on day t + 1 with probabilities p (drawn only where p > 0)."""
        m = self.model
        hit = p > 0
        if not hit.any():  # nothing to draw (e.g. a response probability of 0)
            return
        back = members[hit][m.streams.uniform(stream, members[hit], t) < p[hit]]
        m.bring_to_site(back, t + 1, to_act)

    # hooks
    def told(self, t: int, told: np.ndarray, telling: np.ndarray, p: np.ndarray) -> None:
        chance = return_visits.contact_chance(self.param("contact_response_prob", told), p)
        self.bring_back(told, chance, "return_visit_told", t)

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        share = self.event_prob[t].take(self.model.pop.region[exposed])
        chance = return_visits.story_chance(self.param("response_prob", exposed), share)
        self.bring_back(exposed, chance, "return_visit", t)

    def after_intent(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        m = self.model
        readers = exposed[from_notice]
        readers = readers[self.param("notice_response_prob", readers) > 0]
        if readers.size == 0:
            return
        s = m.state
        readers = readers[(s.intent_until[readers] >= t) & ~s.gave_up[readers] & (s.last_visit[readers] != t)]
        readers = readers[~np.isin(readers, m.one_click_readers)]
        desired, routes = m.routes_to_act(readers)
        moved = (desired != NO_CHOICE) & (routes != 0)
        chance = return_visits.notice_chance(self.param("notice_response_prob", readers), moved)
        self.bring_back(readers, chance, "return_visit_notice", t, to_act=True)
