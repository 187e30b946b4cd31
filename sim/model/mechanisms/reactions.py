"""What objectors do besides the toggle (docs/ODD.md §7.14): delete old posts, post less, close the
account. Each is drawn for eligible objectors on an exposure with its `share`, raised by salience
like intent (p -> 1 - (1 - p)^(1 + intent_gain x S)); each has its own switch under `reactions`.
"""

from __future__ import annotations

import numpy as np

from sim.model.days import NEVER
from sim.model.declarations import Metric, StateField
from sim.model.mechanisms.base import Mechanism
from sim.model.rules import reactions, salience
from sim.model.rules.consent import OBJECT, OPTED_OUT
from sim.model.schema import Probability, Strict, unit

ELIGIBLE = "share of eligible"


class Reaction(Strict):
    enabled: bool
    share: Probability = unit("probability per exposure of an objector")


class DeleteReaction(Reaction):
    kept_share: Probability = unit("share of old posts kept")


class PostLessReaction(Reaction):
    post_factor: Probability = unit("share of posts")


class _Reaction(Mechanism):
    stream: str

    def reacting(self, t: int, exposed: np.ndarray, can) -> np.ndarray:
        """The exposed objectors for whom `can(objectors)` holds and today's draw says they react."""
        m = self.model
        objectors = exposed[m.pop.preference[exposed] == OBJECT]
        if objectors.size == 0:
            return objectors
        objectors = objectors[can(objectors)]
        share = self.param("share", objectors)
        salient = m.mechanism("salience")
        if salient is None:
            p = salience.scaled_probability(share, np.zeros(objectors.size), 0.0)
        else:
            p = salience.scaled_probability(
                share, salient.now(objectors, t), m.param("salience.intent_gain", objectors)
            )
        return objectors[m.streams.uniform(self.stream, objectors, t) < p]


class DeleteOldPosts(_Reaction):
    key = "reactions.delete_old_posts"
    Params = DeleteReaction
    stream = "delete_old_posts"
    state = (StateField("backlog_kept", np.uint8, reactions.KEPT_ALL, "share of the backlog kept (255: all)"),)
    cumulative = ("posts_deleted",)
    metrics = (
        Metric(
            "posts_deleted_today", "old posts deleted today (reaction)", "posts per day", "flow", "posts_deleted_today"
        ),
        Metric("posts_deleted", "old posts deleted (reaction, cumulative)", "posts", "count", "posts_deleted_total"),
        Metric(
            "deleted_old_posts_share",
            "eligible members who deleted old posts (reaction)",
            ELIGIBLE,
            "share",
            "deleted",
            "eligible",
        ),
    )

    def __init__(self, model):
        super().__init__(model)
        self.count = np.zeros(model.n_cells, np.int64)  # eligible members who deleted old posts

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        m = self.model
        s, pop = m.state, m.pop
        deleting = self.reacting(t, exposed, lambda o: s.backlog_kept[o] == reactions.KEPT_ALL)
        s.backlog_kept[deleting] = self.param(
            "kept_code", deleting, lambda c: reactions.kept_code(c.reactions.delete_old_posts.kept_share)
        ).astype(np.uint8)
        self.count += np.bincount(pop.region[deleting], minlength=m.n_cells)
        at, is_poster = pop.poster_slots(deleting)
        posters = deleting[is_poster]
        old_posts = pop.poster_rate_per_day[at[is_poster]] * pop.tenure_days[posters]
        deleted = old_posts * (1.0 - reactions.backlog_after_deletion(1.0, s.backlog_kept[posters]))
        m.counts.add("posts_deleted", m.weighted(posters, deleted))

    def first_pull_backlog(self, members: np.ndarray, backlog: np.ndarray) -> np.ndarray:
        return reactions.backlog_after_deletion(backlog, self.model.state.backlog_kept[members])

    def leaving(self, agents: np.ndarray, region: np.ndarray) -> None:
        deleted = self.model.state.backlog_kept[agents] < reactions.KEPT_ALL
        self.count -= np.bincount(region[deleted], minlength=self.model.n_cells)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        return {"deleted": self.count}

    def counters(self) -> dict[str, np.ndarray]:
        return {"deleted": self.count}

    def recount(self) -> dict[str, np.ndarray]:
        m = self.model
        return {"deleted": self.per_cell_count(m.pop.eligible & (m.state.backlog_kept < reactions.KEPT_ALL))}


class PostLess(_Reaction):
    key = "reactions.post_less"
    Params = PostLessReaction
    stream = "post_less"
    state = (StateField("chilled", bool, False, "posts less (reaction)"),)
    metrics = (
        Metric("chilled_share", "eligible members who post less (reaction)", ELIGIBLE, "share", "chilled", "eligible"),
    )

    def __init__(self, model):
        super().__init__(model)
        self.count = np.zeros(model.n_cells, np.int64)  # eligible members who post less

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        m = self.model
        chilling = self.reacting(t, exposed, lambda o: ~m.state.chilled[o])
        m.state.chilled[chilling] = True
        self.count += np.bincount(m.pop.region[chilling], minlength=m.n_cells)

    def posts_made(self, due: np.ndarray, t: int) -> np.ndarray:
        """A chilled member skips a due post with probability 1 - post_factor (and is rescheduled as
        after a post)."""
        m = self.model
        s, pop = m.state, m.pop
        agents = pop.poster[due]
        chilled = s.chilled[agents]
        u = np.ones(due.size)
        u[chilled] = m.streams.uniform("post_less_skip", agents[chilled], t)
        made = reactions.post_kept(u, chilled, self.param("post_factor", agents))
        skipped = due[~made]
        gaps = m.streams.geometric_days("post", pop.poster[skipped], t, pop.poster_post_prob[skipped])
        s.next_post[skipped] = np.minimum(t + gaps, NEVER)
        return due[made]

    def leaving(self, agents: np.ndarray, region: np.ndarray) -> None:
        self.count -= np.bincount(region[self.model.state.chilled[agents]], minlength=self.model.n_cells)

    def quantities(self, t: int) -> dict[str, np.ndarray]:
        return {"chilled": self.count}

    def counters(self) -> dict[str, np.ndarray]:
        return {"chilled": self.count}

    def recount(self) -> dict[str, np.ndarray]:
        m = self.model
        return {"chilled": self.per_cell_count(m.pop.eligible & m.state.chilled)}


class CloseAccount(_Reaction):
    """Leaving is an objection: data already ingested from a closing member counts as objectors'
    data, and retroactive removal takes it with the opted-out members'."""

    key = "reactions.close_account"
    Params = Reaction
    stream = "close_account"

    def __init__(self, model):
        super().__init__(model)
        self.closing: dict[int, list[np.ndarray]] = {}  # day -> members whose account closes that day
        self.closed: list[np.ndarray] = []  # every member who closed by choice

    def after_exposure(self, t: int, exposed: np.ndarray, from_notice: np.ndarray) -> None:
        m = self.model
        s = m.state
        closing = self.reacting(t, exposed, lambda o: s.closed_day[o] == NEVER)
        if closing.size and t + 1 < m.n_days:
            s.closed_day[closing] = t + 1
            self.closing.setdefault(t + 1, []).append(closing)
            self.closed.append(closing)

    def members_changing(self, t: int) -> list[np.ndarray]:
        """Today's closures by choice; their data in the set becomes objectors' data now, when the
        account closes (with what the last day's pull took), unless it is counted as an opt-out's:
        already opted out, or an objection form awaiting its effect (counted when it takes effect)."""
        closing = self.closing.pop(t, [])
        if closing:
            m, s = self.model, self.model.state
            members = np.concatenate(closing)
            counted = (s.choice[members] == OPTED_OUT) | s.awaiting_decision[members]
            ingested = members[s.profile_ingested[members] & ~counted]
            if ingested.size:
                m.ledger_by_cell(m.ledger.objected, m.data_by_cell(ingested))
        return closing

    def removed_with(self, gone: np.ndarray) -> np.ndarray:
        if not self.closed:
            return gone
        s = self.model.state
        closed = np.concatenate(self.closed)
        closed = closed[(s.closed_day[closed] <= self.model.day) & s.profile_ingested[closed]]
        return np.union1d(gone, closed)
