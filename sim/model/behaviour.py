"""Behaviour beyond the toggle, wired into the array engine (docs/ODD.md §7.10-7.15).

Salience, coverage that teaches the path, coverage that brings members back, concern that moves,
reactions (deleting old posts, posting less, closing the account) and a changing membership. The
rules are functions of arrays in `sim.model.rules` (salience, guidance, concern, reactions,
membership); this mixin holds the engine's side: the per-day schedules built at set-up, the calls
from `ConsentModel.step`, and the quantities of the metrics they add. Every mechanism is switched by
its config group's `enabled` (the reactions one by one); switched off, its method returns before
any draw or write, so the model's results are those without it (keyed draws: a new stream never
shifts an existing one). No Python loop runs over agents.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.model.policy import media_events
from sim.model.random_streams import NEVER
from sim.model.regions import REGION_CODES
from sim.model.rules import awareness, guidance, membership, reactions, salience
from sim.model.rules import concern as concern_rules
from sim.model.rules.consent import INDIFFERENT, OBJECT, OPTED_IN, OPTED_OUT
from sim.model.rules.ledger import DATA_TYPES
from sim.model.search import lower_bound, ranges, unique
from sim.model.state import NOT_YET

N_REGIONS = len(REGION_CODES)
ACTIVE_DAYS = 30  # "active": visited in the last 30 days (ANCHORS 6: monthly active members)
COUNTERS = ("opt_outs", "opt_ins", "joined", "closed", "posts_deleted")


class BehaviourEngine:
    """Mixin of `sim.model.engine.ConsentModel`: the mechanisms of docs/ODD.md §7.10-7.15."""

    # ------------------------------------------------------------------ set-up
    def _init_behaviour(self) -> None:
        cfg, pop = self.config, self.pop
        self._salience_cfg = cfg.salience if cfg.salience.enabled else None
        self._guidance_cfg = cfg.guidance if cfg.guidance.enabled else None
        self._return_cfg = cfg.return_visits if cfg.return_visits.enabled else None
        self._concern_cfg = cfg.concern if cfg.concern.enabled else None
        rx = cfg.reactions
        self._delete_cfg = rx.delete_old_posts if rx.delete_old_posts.enabled else None
        self._post_less_cfg = rx.post_less if rx.post_less.enabled else None
        self._close_cfg = rx.close_account if rx.close_account.enabled else None
        self._membership_cfg = cfg.membership if cfg.membership.enabled else None
        self._cumulative = {name: np.zeros(self.n_cells) for name in COUNTERS}
        self._previous: dict[str, np.ndarray] = {}
        self._closing: dict[int, list[np.ndarray]] = {}  # day -> members whose account closes that day
        self._closed_by_choice: list[np.ndarray] = []  # objectors who closed (their data leaves under removal)
        self._members_count = np.array([s.stop - s.start for s in pop.slices], np.int64)
        self._salience_total = np.zeros(self.n_cells)  # sum of eligible members' salience today (decays daily)
        # Counts kept up to date as members change (no pass over all agents a day): active eligible members
        # by region, choice and objector (0/1); eligible objectors opted out; eligible members guided,
        # chilled, who deleted old posts; and per day the guided whose guidance ends then.
        self._active = np.zeros((self.n_cells, 3, 2), np.int64)
        self._active_from = -ACTIVE_DAYS  # the earliest last visit counted as active now
        self._recent_visitors: deque[tuple[int, np.ndarray]] = deque()  # (day, visitors) of the last 30 days
        self._objectors_out = np.zeros(self.n_cells, np.int64)
        self._guided_count = np.zeros(self.n_cells, np.int64)
        self._guided_ends = np.zeros((self.n_days + 2, self.n_cells), np.int64)
        self._chilled_count = np.zeros(self.n_cells, np.int64)
        self._deleted_count = np.zeros(self.n_cells, np.int64)
        self._schedule = None
        if self._guidance_cfg or self._return_cfg or self._concern_cfg:
            # [day, cell]: each simulation's media events, from its own media config
            parts = [self._event_attention(c) for c in self.world.configs]
            shocks, guided, attention = (np.hstack([p[k] for p in parts]) for k in range(3))
            self._guided_prob = guidance.share_of_attention(guided, attention)
            self._event_prob = guidance.share_of_attention(shocks, attention)
            if self._concern_cfg:
                self._init_concern([p[0] for p in parts])
        if self._membership_cfg:
            # (members, day their eligibility may change) of each simulation: set-up only
            changing = [self._init_membership(k, config.membership) for k, config in enumerate(self.world.configs)]
            self._end_membership_setup(changing)

    def _event_attention(self, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(event shocks, their how-to part, all attention) [day, region] of one simulation."""
        media, events = cfg.awareness.media, media_events(cfg.policy)
        attention = awareness.media_attention(media, cfg.start, self.n_days, events)
        shocks, guided = guidance.event_attention(media, cfg.start, self.n_days, events, cfg.guidance.coverage_share)
        return shocks, guided, attention

    def _init_concern(self, shocks: list[np.ndarray]) -> None:
        pop = self.pop
        self._concern_share = np.hstack(
            [
                concern_rules.objecting_share(concern_rules.pressure(s, c.memory_days), c.sensitivity, c.max_share)
                for s, c in zip(shocks, (cfg.concern for cfg in self.world.configs), strict=True)
            ]
        )
        self._concern_applied = np.zeros(self.n_cells)
        # per cell (region): the indifferent members sorted by their fixed threshold (keyed draw on
        # day -1), cell after cell in one array; cell c's are [_threshold_bounds[c], _threshold_bounds[c + 1])
        indifferent, thresholds = [], []
        for sl in pop.slices:
            members = np.flatnonzero(pop.preference[sl] == INDIFFERENT) + sl.start
            u = self.streams.uniform("concern_threshold", members, -1)
            order = np.argsort(u, kind="stable")
            indifferent.append(members[order])
            thresholds.append(u[order])
        self._indifferent = np.concatenate(indifferent).astype(np.int32)  # agent indices fit (Population.poster)
        self._thresholds = np.concatenate(thresholds)
        self._threshold_bounds = np.concatenate([[0], np.cumsum([a.size for a in indifferent])])

    def _init_membership(self, sim: int, m) -> tuple[np.ndarray, np.ndarray]:
        """Join, coming-of-age and closing days of simulation `sim`'s members (its own set-up draws);
        returns the members whose eligibility may change and the day it may."""
        pop, s, n_days = self.pop, self.state, self.n_days
        rng = self.world.sim_streams[sim].generator("membership")
        cells = slice(sim * N_REGIONS, (sim + 1) * N_REGIONS)
        first, last = self.world.agent_starts[sim], self.world.agent_starts[sim + 1]
        joiners = np.concatenate(
            [
                np.arange(sl.start + int(k), sl.stop)
                for sl, k in zip(pop.slices[cells], pop.start_agents[cells], strict=True)
            ]
        )
        join = membership.uniform_days(rng, joiners.size, 1, n_days)
        s.join_day[joiners] = join
        pop.tenure_days[joiners] = 0  # no backlog before the horizon
        minors = first + np.flatnonzero(~pop.eligible[first:last])
        adult = s.join_day[minors] + membership.uniform_days(rng, minors.size, 1, m.age_in_days + 1)
        s.adult_day[minors] = np.minimum(adult, NEVER)
        dormant = first + np.flatnonzero(pop.visit_prob[first:last] < m.dormant_below_visits_per_day)
        s.closed_day[dormant] = membership.closing_days(rng, s.join_day[dormant], m.dormant_close_per_year)
        # joiners: first visit on the join day (sign-up), first post after it
        s.next_visit[joiners] = join
        at, is_poster = pop.poster_slots(joiners)
        s.next_post[at[is_poster]] = np.minimum(join[is_poster] + s.next_post[at[is_poster]] + 1, NEVER)
        self._members_count -= np.bincount(pop.region[joiners], minlength=self.n_cells)
        return (
            np.concatenate([joiners, minors, dormant]),
            np.concatenate([s.join_day[joiners], s.adult_day[minors], s.closed_day[dormant]]).astype(np.int64),
        )

    def _end_membership_setup(self, changing: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Eligibility on day 0, and the calendar of the days it may change (members in any order:
        a day's changes are taken sorted)."""
        pop, s, n_days = self.pop, self.state, self.n_days
        pop.eligible[:] = membership.is_eligible(0, s.join_day, s.adult_day, s.closed_day)
        self._recount_eligible()
        agents = np.concatenate([a for a, _ in changing])
        days = np.concatenate([d for _, d in changing])
        keep = (days > 0) & (days < n_days)
        order = np.argsort(days[keep], kind="stable")
        self._schedule = (agents[keep][order], np.searchsorted(days[keep][order], np.arange(n_days + 1)))

    def _recount_eligible(self) -> None:
        pop = self.pop
        self._objector_eligible = pop.eligible & (pop.preference == OBJECT)
        self._eligible_count = np.bincount(pop.region[pop.eligible], minlength=self.n_cells)
        self._objector_count = np.bincount(pop.region[self._objector_eligible], minlength=self.n_cells)

    def _weighted(self, members: np.ndarray, weights=None) -> np.ndarray:
        counts = np.bincount(self.pop.region[members], weights=weights, minlength=self.n_cells)
        return counts * self.pop.weight_by_region

    # ------------------------------------------------------------------ 0. start of the day
    def _start_of_day(self, t: int) -> None:
        """Membership changes (joiners, members turning 18, closed accounts) and today's concern shift."""
        if self._salience_cfg is not None and t > 0:
            self._salience_total *= self._per_cell(
                "salience_daily_decay", lambda c: 0.5 ** (1.0 / c.salience.half_life_days)
            )
        if self._guidance_cfg is not None:
            self._guided_count -= self._guided_ends[t]
        if self._schedule is not None or self._closing:
            self._membership_changes(t)
        if self._concern_cfg is not None:
            self._concern_today(t)

    def _membership_changes(self, t: int) -> None:
        s, pop = self.state, self.pop
        parts = self._closing.pop(t, [])
        if self._schedule is not None:
            agents, bounds = self._schedule
            parts.append(agents[bounds[t] : bounds[t + 1]])
        if not parts:
            return
        changing = unique(np.concatenate(parts))
        joined = changing[s.join_day[changing] == t]
        if joined.size:  # a joiner starts unaware, with no intent and no notice seen before joining
            s.aware_since[joined] = NOT_YET
            s.intent_until[joined] = NOT_YET
            s.in_app_pending[joined] = False
            self.tally.touch(joined)
            level = self.media_hazard_cum[t - 1].take(pop.region[joined])
            self._set_exposure_level(joined, level + self.streams.exponential("exposure", joined, t), t)
            self._members_count += np.bincount(pop.region[joined], minlength=self.n_cells)
            self._cumulative["joined"] += self._weighted(joined)
        closed = changing[s.closed_day[changing] == t]
        if closed.size:
            s.next_visit[closed] = NEVER
            at, is_poster = pop.poster_slots(closed)
            s.next_post[at[is_poster]] = NEVER
            self._members_count -= np.bincount(pop.region[closed], minlength=self.n_cells)
            self._cumulative["closed"] += self._weighted(closed)
        now = membership.is_eligible(t, s.join_day[changing], s.adult_day[changing], s.closed_day[changing])
        self._set_eligible(changing[now & ~pop.eligible[changing]], True)
        self._set_eligible(changing[~now & pop.eligible[changing]], False)

    def _set_eligible(self, agents: np.ndarray, value: bool) -> None:
        if agents.size == 0:
            return
        pop, s, sign = self.pop, self.state, 1 if value else -1
        self.tally.touch(agents)
        if not value:  # what a leaving member added to the running counts leaves with them
            region = pop.region[agents]
            if self._salience_cfg is not None:
                self._salience_total -= np.bincount(
                    region, weights=self._salience_now(agents, self.day), minlength=self.n_cells
                )
            if self._guidance_cfg is not None:
                until = s.guided_until[agents].astype(np.int64)
                guided = until >= self.day
                self._guided_count -= np.bincount(region[guided], minlength=self.n_cells)
                np.subtract.at(self._guided_ends, (np.minimum(until[guided] + 1, self.n_days + 1), region[guided]), 1)
            self._chilled_count -= np.bincount(region[s.chilled[agents]], minlength=self.n_cells)
            deleted = s.backlog_kept[agents] < reactions.KEPT_ALL
            self._deleted_count -= np.bincount(region[deleted], minlength=self.n_cells)
        self._count_active(agents[s.last_visit[agents] >= self._active_from], sign)
        objector_out = agents[(pop.preference[agents] == OBJECT) & (s.choice[agents] == OPTED_OUT)]
        self._objectors_out += sign * np.bincount(pop.region[objector_out], minlength=self.n_cells)
        pop.eligible[agents] = value
        self._eligible_count += sign * np.bincount(pop.region[agents], minlength=self.n_cells)
        objectors = agents[pop.preference[agents] == OBJECT]
        self._objector_eligible[objectors] = value
        self._objector_count += sign * np.bincount(pop.region[objectors], minlength=self.n_cells)

    def _concern_today(self, t: int) -> None:
        """Indifferent members whose threshold lies between yesterday's and today's share switch."""
        pop, share = self.pop, self._concern_share[t]
        cells = np.flatnonzero(self._concern_applied != share)
        if cells.size == 0:
            return
        old, new = self._concern_applied[cells], share[cells]
        self._concern_applied[cells] = new
        first, last = self._threshold_bounds[cells], self._threshold_bounds[cells + 1]
        lo = lower_bound(self._thresholds, first, last, np.minimum(old, new))
        hi = lower_bound(self._thresholds, first, last, np.maximum(old, new))
        members = self._indifferent[ranges(lo, hi)]  # thresholds crossed today, cell by cell
        if members.size == 0:
            return
        up = np.repeat(new > old, hi - lo)  # the share rose: they object now
        pop.preference[members] = np.where(up, OBJECT, INDIFFERENT)
        self.tally.touch(members)
        now, up = members[pop.eligible[members]], up[pop.eligible[members]]
        active = self.state.last_visit[now] >= self._active_from
        self._count_active(now[active], -1, objector=~up[active])  # counted under the old preference
        self._count_active(now[active], 1, objector=up[active])
        sign = np.where(up, 1, -1)
        out = self.state.choice[now] == OPTED_OUT
        self._objectors_out += np.bincount(pop.region[now[out]], weights=sign[out], minlength=self.n_cells).astype(
            np.int64
        )
        self._objector_eligible[now] = up
        self._objector_count += np.bincount(pop.region[now], weights=sign, minlength=self.n_cells).astype(np.int64)

    # ------------------------------------------------------------------ 2. visits
    def _note_visits(self, t: int, visitors: np.ndarray) -> None:
        """Today's visitors are active for 30 days; those whose last visit was 30 days ago no longer."""
        s, pop = self.state, self.pop
        if self._recent_visitors and self._recent_visitors[0][0] == t - ACTIVE_DAYS:
            lapsed = self._recent_visitors.popleft()[1]  # the visitors of 30 days ago ...
            lapsed = lapsed[(s.last_visit[lapsed] == t - ACTIVE_DAYS) & pop.eligible[lapsed]]  # ... not since
            self._count_active(lapsed, -1)
        self._recent_visitors.append((t, visitors.astype(np.int32)))
        self._active_from = t - (ACTIVE_DAYS - 1)
        returning = visitors[(s.last_visit[visitors] < self._active_from) & pop.eligible[visitors]]
        self._count_active(returning, 1)
        s.last_visit[visitors] = t

    def _count_active(self, members: np.ndarray, sign: int, choice=None, objector=None) -> None:
        """Add (sign 1) or remove (-1) eligible active members from the active counts, by their region,
        choice and objection (or the given ones)."""
        if members.size == 0:
            return
        pop = self.pop
        choice = self.state.choice[members] if choice is None else choice
        objector = (pop.preference[members] == OBJECT) if objector is None else objector
        code = (pop.region[members].astype(np.int64) * 3 + choice) * 2 + objector
        self._active += sign * np.bincount(code, minlength=self.n_cells * 6).reshape(self.n_cells, 3, 2)

    # ------------------------------------------------------------------ 3. after today's exposures
    def _after_exposure(self, t: int, exposed: np.ndarray, by_notice: np.ndarray) -> None:
        """Salience, guidance, return visits and reactions of the members exposed today."""
        if not (self._salience_cfg or self._guidance_cfg or self._return_cfg or self._reactions_on):
            return
        s, pop = self.state, self.pop
        exposed = exposed[pop.eligible[exposed]]
        if exposed.size == 0:
            return
        from_notice = np.isin(exposed, by_notice) if by_notice.size else np.zeros(exposed.size, bool)
        if self._salience_cfg:
            boost = np.where(
                from_notice,
                self._param("salience.notice_boost", exposed),
                self._param("salience.exposure_boost", exposed),
            )
            self._raise_salience(exposed, boost, t)
        if self._guidance_cfg:
            news = exposed[~from_notice]
            self._guide(news, self._guided_prob[t].take(pop.region[news]), "guided", t)
        if self._return_cfg:
            p = self._param("return_visits.response_prob", exposed) * self._event_prob[t].take(pop.region[exposed])
            hit = p > 0
            back = exposed[hit][self.streams.uniform("return_visit", exposed[hit], t) < p[hit]]
            s.next_visit[back] = np.minimum(s.next_visit[back], t + 1)
        if self._reactions_on:
            self._react(t, exposed)

    @property
    def _reactions_on(self) -> bool:
        return bool(self._delete_cfg or self._post_less_cfg or self._close_cfg)

    def _guide(self, members: np.ndarray, p: np.ndarray, stream: str, t: int) -> None:
        if members.size == 0:
            return
        hit = p > 0
        guided = members[hit][self.streams.uniform(stream, members[hit], t) < p[hit]]
        s, region = self.state, self.pop.region[guided]
        until = s.guided_until[guided].astype(np.int64)
        already = until >= t
        self._guided_count += np.bincount(region[~already], minlength=self.n_cells)
        np.subtract.at(self._guided_ends, (np.minimum(until[already] + 1, self.n_days + 1), region[already]), 1)
        new_until = np.minimum(t + self._param("guidance.memory_days", guided).astype(np.int64) - 1, NEVER)
        s.guided_until[guided] = new_until
        np.add.at(self._guided_ends, (np.minimum(new_until + 1, self.n_days + 1), region), 1)

    def _told(self, t: int, told: np.ndarray, telling: np.ndarray, p: np.ndarray) -> None:
        """Contacts of members who acted: salience from them, and the path they pass on."""
        if not (self._salience_cfg or self._guidance_cfg):
            return
        keep = self.pop.eligible[told]
        told, telling, p = told[keep], telling[keep], p[keep]
        if self._salience_cfg:
            share = telling / np.maximum(self.graph.contacts_of(told), 1)
            self._raise_salience(told, self._param("salience.contact_boost", told) * share, t)
        if self._guidance_cfg:
            self._guide(told, self._param("guidance.word_of_mouth_share", told) * p, "guided_by_contact", t)

    # ------------------------------------------------------------------ salience
    def _salience_now(self, members: np.ndarray, t: int) -> np.ndarray:
        s = self.state
        since = t - s.salience_day[members].astype(np.int64)
        return salience.decayed(s.salience[members], since, self._param("salience.half_life_days", members))

    def _raise_salience(self, members: np.ndarray, boost, t: int) -> None:
        s = self.state
        before = self._salience_now(members, t)
        s.salience[members] = salience.raised(before, boost, self._param("salience.max_salience", members))
        s.salience_day[members] = t
        change = s.salience[members].astype(np.float64) - before
        self._salience_total += np.bincount(self.pop.region[members], weights=change, minlength=self.n_cells)

    def _salience_scaled(self, p, members: np.ndarray, t: int, kind: str):
        """A chance of `kind` ("intent" or "try") raised by the members' salience; unchanged when off."""
        if self._salience_cfg is None:
            return p
        gain = self._param(f"salience.{kind}_gain", members)
        return salience.scaled_probability(p, self._salience_now(members, t), gain)

    # ------------------------------------------------------------------ friction: the printed path
    def _step_difficulty(self, members: np.ndarray, difficulty: np.ndarray, t: int):
        """A route step's difficulty for these members: eased for those who know the printed path."""
        if self._guidance_cfg is None:
            return difficulty
        known = self.state.guided_until[members] >= t
        return guidance.eased_difficulty(
            difficulty,
            known,
            self._param("guidance.difficulty_reduction", members),
            self._param("guidance.hidden_above", members),
        )

    # ------------------------------------------------------------------ reactions
    def _react(self, t: int, exposed: np.ndarray) -> None:
        s, pop = self.state, self.pop
        objectors = exposed[pop.preference[exposed] == OBJECT]
        if objectors.size == 0:
            return
        gain = self._param("salience.intent_gain", objectors) if self._salience_cfg else 0.0
        level = self._salience_now(objectors, t) if self._salience_cfg else np.zeros(objectors.size)

        def draw(reaction: str, stream: str, can: np.ndarray) -> np.ndarray:
            share = self._param(f"reactions.{reaction}.share", objectors[can])
            p = salience.scaled_probability(share, level[can], gain if np.isscalar(gain) else gain[can])
            return objectors[can][self.streams.uniform(stream, objectors[can], t) < p]

        if self._delete_cfg:
            deleting = draw("delete_old_posts", "delete_old_posts", s.backlog_kept[objectors] == reactions.KEPT_ALL)
            s.backlog_kept[deleting] = self._param(
                "kept_code", deleting, lambda c: reactions.kept_code(c.reactions.delete_old_posts.kept_share)
            ).astype(np.uint8)
            self._deleted_count += np.bincount(pop.region[deleting], minlength=self.n_cells)
            at, is_poster = pop.poster_slots(deleting)
            posters = deleting[is_poster]
            old_posts = pop.poster_rate_per_day[at[is_poster]] * pop.tenure_days[posters]
            deleted = old_posts * (1.0 - reactions.backlog_after_deletion(1.0, s.backlog_kept[posters]))
            self._cumulative["posts_deleted"] += self._weighted(posters, deleted)
        if self._post_less_cfg:
            chilling = draw("post_less", "post_less", ~s.chilled[objectors])
            s.chilled[chilling] = True
            self._chilled_count += np.bincount(pop.region[chilling], minlength=self.n_cells)
        if self._close_cfg:
            closing = draw("close_account", "close_account", s.closed_day[objectors] == NEVER)
            if closing.size and t + 1 < self.n_days:
                s.closed_day[closing] = t + 1
                self._closing.setdefault(t + 1, []).append(closing)
                self._closed_by_choice.append(closing)
                ingested = closing[s.profile_ingested[closing] & (s.choice[closing] != OPTED_OUT)]
                if ingested.size:  # leaving is an objection: now counted as such
                    self._ledger_by_cell(self.ledger.objected, self._data_by_cell(ingested))

    def _posts_made(self, due: np.ndarray, t: int) -> np.ndarray:
        """Of the posters due today (indices into the poster arrays), those who post: a chilled member
        skips a post with probability 1 - post_factor (and is rescheduled as after a post)."""
        if self._post_less_cfg is None:
            return due
        s, pop = self.state, self.pop
        agents = pop.poster[due]
        chilled = s.chilled[agents]
        u = np.ones(due.size)
        u[chilled] = self.streams.uniform("post_less_skip", agents[chilled], t)
        made = reactions.post_kept(u, chilled, self._param("reactions.post_less.post_factor", agents))
        skipped = due[~made]
        gaps = self.streams.geometric_days("post", pop.poster[skipped], t, pop.poster_post_prob[skipped])
        s.next_post[skipped] = np.minimum(t + gaps, NEVER)
        return due[made]

    def _backlog_after_deletions(self, first: np.ndarray, backlog: np.ndarray) -> np.ndarray:
        if self._delete_cfg is None:
            return backlog
        return reactions.backlog_after_deletion(backlog, self.state.backlog_kept[first])

    def _with_closed(self, gone: np.ndarray) -> np.ndarray:
        """Members whose data retroactive removal takes: opted out, and objectors who closed their account."""
        if not self._closed_by_choice:
            return gone
        closed = np.concatenate(self._closed_by_choice)
        closed = closed[(self.state.closed_day[closed] <= self.day) & self.state.profile_ingested[closed]]
        return np.union1d(gone, closed)

    def _note_choices(self, members: np.ndarray, choice: np.ndarray) -> None:
        """Count today's recorded opt-outs and opt-ins (before the state takes them)."""
        s, pop = self.state, self.pop
        before = s.choice[members]
        self._cumulative["opt_outs"] += self._weighted(members[(choice == OPTED_OUT) & (before != OPTED_OUT)])
        self._cumulative["opt_ins"] += self._weighted(members[(choice == OPTED_IN) & (before != OPTED_IN)])
        changed = (choice != before) & pop.eligible[members]
        members, choice, before = members[changed], choice[changed], before[changed]
        active = s.last_visit[members] >= self._active_from
        self._count_active(members[active], -1, choice=before[active])
        self._count_active(members[active], 1, choice=choice[active])
        objector = pop.preference[members] == OBJECT
        now_out, was_out = objector & (choice == OPTED_OUT), objector & (before == OPTED_OUT)
        self._objectors_out += np.bincount(pop.region[members[now_out]], minlength=self.n_cells)
        self._objectors_out -= np.bincount(pop.region[members[was_out]], minlength=self.n_cells)

    # ------------------------------------------------------------------ 8. quantities of the new metrics
    def _behaviour_quantities(self, t: int) -> dict[str, np.ndarray]:
        weight = self.pop.weight_by_region
        out: dict[str, np.ndarray] = {"members": self._members_count * weight}
        cumulative = {name: value.copy() for name, value in self._cumulative.items()}
        ledger_in = self.ledger.total + self.ledger.removed
        for k, name in enumerate(DATA_TYPES):  # ingested so far (removal moves data, it does not un-ingest it)
            cumulative[name] = np.maximum(self._previous.get(name, 0.0), ledger_in[:, k])
        for name, value in cumulative.items():
            out[f"{name}_total"] = value
            out[f"{name}_today"] = value - self._previous.get(name, 0.0)
        self._previous = cumulative

        # shares among members active in the last 30 days, from the running counts by choice (whether a
        # choice is enrolled depends on the region's regime only: three entries per region)
        enrolled_if = self._enrolled_by_choice()
        counts = {
            "active": self._active.sum(axis=(1, 2)),
            "active_opted_out": self._active[:, OPTED_OUT, :].sum(axis=1),
            "active_enrolled": (enrolled_if * self._active.sum(axis=2)).sum(axis=1),
            "active_gap": (enrolled_if * self._active[:, :, 1]).sum(axis=1),
            "objectors_opted_out": self._objectors_out,
        }
        out.update({name: value * weight for name, value in counts.items()})
        out["salience_sum"] = self._salience_total * weight
        out["guided"] = self._guided_count * weight
        out["chilled"] = self._chilled_count * weight
        out["deleted"] = self._deleted_count * weight
        return out
