"""The consent-design model: a Mesa model over arrays (docs/ODD.md §3 is the order of `step`).

One step is one day. Every rule lives in its own module (awareness, consent, friction, content,
ledger) as a function of arrays; this module only wires them in the scheduled order. No Python
loop runs over agents: loops run over routes (4) or today's notices only.

One model may run a batch of simulations (sim.model.batch): its region axis then runs over cells,
(simulation, region) pairs, and every parameter a batch may vary is read per member through
`_param` (per cell, gathered by the member's cell). A single run is a batch of one, through the
same code, so a simulation gives the same series alone and in a batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from functools import reduce
from operator import attrgetter
from types import SimpleNamespace

import mesa
import numpy as np

from sim.model import metrics
from sim.model.config import SimConfig
from sim.model.counts import CORE_CUMULATIVE, RunningCounts
from sim.model.days import NEVER, NOT_YET
from sim.model.mechanisms import HOOKS, REGISTRY, overrides_hook
from sim.model.metrics import METRIC_NAMES
from sim.model.regions import REGION_CODES
from sim.model.rules import awareness, consent, content, friction, membership
from sim.model.rules.consent import CHANNELS, NO_CHOICE, OPTED_IN, OPTED_OUT
from sim.model.rules.ledger import DATA_TYPES, first_pull_data, new_posts_data
from sim.model.search import equal_indices, lower_bound, unique
from sim.model.state import AgentState
from sim.model.tally import Tally, counts_from_codes, enrolled_by_choice
from sim.model.world import build_batch_world

PROFILES, TEXT, FACES, OTHER = range(len(DATA_TYPES))


class ConsentModel(mesa.Model):
    """Members of a professional network under region consent policies, one day per step."""

    def __init__(self, config: SimConfig | Sequence[SimConfig]):
        """One simulation of `config`, or a batch of simulations of a list of configs that share
        their `sim.model.batch.batch_key` (use `sim.model.batch.simulate_many`, which groups them)."""
        configs = [config] if isinstance(config, SimConfig) else list(config)
        super().__init__(seed=configs[0].seed)
        self.config = config = configs[0]  # what the batch shares is read from the first config
        self.world = world = build_batch_world(configs)
        self.n_sims, self.n_cells = world.n_sims, world.n_cells
        self._cell_params: dict[str, np.ndarray] = {}
        self.streams, self.n_days, self.dates = world.streams, world.n_days, world.dates
        self.pop, self.graph, self.policy, self.ledger = world.pop, world.graph, world.policy, world.ledger
        self.route_names, self.media_hazard_cum = world.route_names, world.media_hazard_cum
        self.day = 0  # index of the next day to simulate
        self.state = AgentState.initial(self.pop, self.param("feed.initial_face_share", self.pop.poster))
        self.failed_attempts = np.zeros(self.n_cells)
        self.designs = self.policy.designs
        one_click = [n for n in self.route_names if config.friction.routes[n].channel == "one_click"]
        self._one_click_route = one_click[0] if one_click else None
        # choices recorded today, per region, direction (opted out, opted in) and channel
        self.choices_today = np.zeros((self.n_cells, 2, len(CHANNELS)))
        self._one_click_readers = np.empty(0, np.int64)
        self._exposed_today = None  # (eligible members exposed today, by an email notice?) for after_intent
        self.sharers: deque[tuple[int, np.ndarray]] = deque()  # (day, agents) who told their contacts
        self.pending_choices: dict[int, list[tuple]] = {}  # (members, choices, channel) of forms awaiting effect
        # per simulation: days x (regions + ALL) x metrics; `records` is the one simulation's
        self.records_by_sim = np.full((self.n_sims, self.n_days, len(REGION_CODES) + 1, len(METRIC_NAMES)), np.nan)
        self.records = self.records_by_sim[0] if self.n_sims == 1 else None
        self.counts = RunningCounts(self, CORE_CUMULATIVE + tuple(c for m in REGISTRY for c in m.cumulative))
        self._post_rate_sum = np.array([self.pop.poster_post_prob[ps].sum() for ps in self.pop.poster_slices])
        self._poster_region = self.pop.region[self.pop.poster]
        # sum over posters of post probability x face share, per region (updated where a face share moves)
        self._face_rate = np.bincount(
            self._poster_region,
            weights=self.pop.poster_post_prob.astype(np.float64) * self.state.face_share,
            minlength=self.n_cells,
        )
        self.state.next_visit[:], self.state.next_post[:], first_level = world.first_event_times()
        # the media hazard is known for every day at set-up: a member's exposure day follows from their level
        self._cum_by_cell = np.ascontiguousarray(self.media_hazard_cum.T)
        self.set_exposure_level(np.arange(self.pop.n), first_level, 0)
        self.datacollector = RecordsCollector()
        # the mechanisms switched on, in the registry's order, and per hook those that run at it
        self.mechanisms = [m(self) for m in REGISTRY if m.is_on(config)]
        self._hooks = {h: [m for m in self.mechanisms if overrides_hook(type(m), h)] for h in HOOKS}
        self.tally = Tally(self.pop.region, self.n_days, self.n_cells)  # counts by status, touched where state changes
        self.tally.everyone()
        self._enrolled_if = (None, None)  # (regime row, [region, choice] enrolled) cached across days

    # ----------------------------------------------------------------- the day
    def step(self) -> None:
        t = self.day
        self.today = self.world.day(t)
        self.regime_today = self.today.regime
        self.routes_out_today, self.routes_in_today = self.today.routes_out, self.today.routes_in
        self.choices_today[:] = 0
        self._start_of_day(t)
        exposed_by_notice = self._apply_policy(t)
        visitors = self._visits(t)
        self._note_visits(t, visitors)
        exposed = self._awareness(t, visitors, exposed_by_notice)
        self._after_exposure(t, exposed, exposed_by_notice)
        self._form_intent(t, exposed)
        self._after_intent(t)
        self._answer_prompts(t, visitors)
        self._attempt_routes(t, visitors)
        self._one_click(t)
        self._post(t)
        self._training_pull(t)
        self._record(t)
        self.day += 1
        self.running = self.day < self.n_days
        self.datacollector.collect(self)

    def mechanism(self, name: str):
        """The mechanism of that name (its key's last part, e.g. "salience") if switched on, else None."""
        return next((m for m in self.mechanisms if m.name == name), None)

    def weighted(self, members: np.ndarray, weights=None) -> np.ndarray:
        """Members (or `weights` of them) counted by cell, in real members."""
        counts = np.bincount(self.pop.region[members], weights=weights, minlength=self.n_cells)
        return counts * self.pop.weight_by_region

    def _scale_chance(self, kind: str, p, members: np.ndarray, t: int):
        """A chance of `kind` ("intent" or "try"), as the mechanisms scale it (unchanged by none)."""
        for m in self._hooks["scale_chance"]:
            p = m.scale_chance(kind, p, members, t)
        return p

    def per_cell(self, name: str, value_of: Callable[[SimConfig], float] | None = None) -> np.ndarray:
        """A parameter that may differ between a batch's simulations, per cell (float64):
        `value_of(config)` (default: the dotted config key `name`) of each simulation, over its
        regions. Computed once, in Python per simulation, so a value is the same alone and batched."""
        values = self._cell_params.get(name)
        if values is None:
            value_of = value_of or attrgetter(name)
            per_sim = np.array([value_of(c) for c in self.world.configs], np.float64)
            values = self._cell_params[name] = np.repeat(per_sim, len(REGION_CODES))
        return values

    def param(self, name: str, members: np.ndarray, value_of=None) -> np.ndarray:
        """The parameter `name` (see `per_cell`) of each of these members' simulation."""
        return self.per_cell(name, value_of).take(self.pop.region[members])  # take: see _agent_regime

    def _agent_regime(self, idx: np.ndarray) -> np.ndarray:
        """Each member's regime today (int8). Small tables are read by `take` here and in
        rules.consent: numpy's `[]` by an int8 array (the regions, the regimes) is ~3x slower."""
        return self.regime_today.take(self.pop.region[idx])

    def _open_routes(self, idx: np.ndarray, desired: np.ndarray) -> np.ndarray:
        """Bitmask of the routes open today to each member for the choice they want (opting in or
        out); 0 where the design offers no route."""
        region = self.pop.region[idx]
        routes = np.where(desired == OPTED_IN, self.routes_in_today.take(region), self.routes_out_today.take(region))
        return np.where(consent.has_route_to_act(self._agent_regime(idx), self.designs), routes, 0)

    def _enrolled(self, idx: np.ndarray) -> np.ndarray:
        return consent.is_enrolled(
            self._agent_regime(idx), self.state.choice[idx], self.pop.eligible[idx], self.designs
        )

    # 1. policy: notices fired by today's phase switches (the consent default follows from the regime)
    def _apply_policy(self, t: int) -> np.ndarray:
        exposed = []
        for r in self.today.switched:  # a consent request belongs to its phase: withdrawn
            self.state.prompt_pending[self.pop.slices[r]] = False
        one_click = []
        for notice, reached in self.today.notices:
            exposed.append(reached.read_email)
            self.state.in_app_pending[reached.see_in_app] = True
            if reached.prompted is not None:
                self.state.prompt_pending[reached.prompted] = True
            if notice.one_click:  # the link is in the email now, in the app at the next visit
                one_click.append(reached.read_email)
                self.state.one_click_pending[reached.see_in_app] = True
        self._one_click_readers = np.concatenate(one_click) if one_click else np.empty(0, np.int64)
        for day_choices in self.pending_choices.pop(t, []):
            self._record_choice(*day_choices)
        return np.concatenate(exposed) if exposed else np.empty(0, np.int64)

    # 0. start of the day: mechanisms' decays and expiries, membership changes, shifting preferences
    def _start_of_day(self, t: int) -> None:
        for m in self._hooks["start_of_day"]:
            m.start_of_day(t)
        self._membership_changes(t)
        for m in self._hooks["shift_preferences"]:
            m.shift_preferences(t)

    def _membership_changes(self, t: int) -> None:
        """Joiners, members turning 18 and closed accounts of today (the days the mechanisms set)."""
        parts = [part for m in self._hooks["members_changing"] for part in m.members_changing(t)]
        if not parts:
            return
        s, pop = self.state, self.pop
        changing = unique(np.concatenate(parts))
        joined = changing[s.join_day[changing] == t]
        if joined.size:  # a joiner starts unaware, with no intent and no notice seen before joining
            s.aware_since[joined] = NOT_YET
            s.intent_until[joined] = NOT_YET
            s.in_app_pending[joined] = False
            self.tally.touch(joined)
            level = self.media_hazard_cum[t - 1].take(pop.region[joined])
            self.set_exposure_level(joined, level + self.streams.exponential("exposure", joined, t), t)
            self.counts.members += np.bincount(pop.region[joined], minlength=self.n_cells)
            self.counts.add("joined", self.weighted(joined))
        closed = changing[s.closed_day[changing] == t]
        if closed.size:
            s.next_visit[closed] = NEVER
            at, is_poster = pop.poster_slots(closed)
            s.next_post[at[is_poster]] = NEVER
            self.counts.members -= np.bincount(pop.region[closed], minlength=self.n_cells)
            self.counts.add("closed", self.weighted(closed))
        now = membership.is_eligible(t, s.join_day[changing], s.adult_day[changing], s.closed_day[changing])
        self._set_eligible(changing[now & ~pop.eligible[changing]], True)
        self._set_eligible(changing[~now & pop.eligible[changing]], False)

    def _set_eligible(self, agents: np.ndarray, value: bool) -> None:
        if agents.size == 0:
            return
        self.tally.touch(agents)
        if not value:  # what a leaving member added to the running counts leaves with them
            region = self.pop.region[agents]
            for m in self._hooks["leaving"]:
                m.leaving(agents, region)
        self.counts.eligibility_changed(agents, value)
        self.pop.eligible[agents] = value

    # 2. logins (event-time form: the next visit is drawn once per visit)
    def _visits(self, t: int) -> np.ndarray:
        s = self.state
        visitors = equal_indices(s.next_visit, t)
        gaps = self.streams.geometric_days("visit", visitors, t, self.pop.visit_prob[visitors])
        s.next_visit[visitors] = np.minimum(t + gaps, NEVER)
        return visitors

    # 3. awareness: notices, word of mouth, media
    def _awareness(self, t: int, visitors: np.ndarray, exposed_by_notice: np.ndarray) -> np.ndarray:
        s, wom = self.state, self.config.awareness.word_of_mouth  # window_days: shared by a batch
        parts = [exposed_by_notice]
        saw_in_app = visitors[s.in_app_pending[visitors]]
        s.in_app_pending[saw_in_app] = False
        parts.append(saw_in_app)
        if s.one_click_pending.any():
            clicked_in_app = saw_in_app[s.one_click_pending[saw_in_app]]
            s.one_click_pending[clicked_in_app] = False
            self._one_click_readers = np.concatenate([self._one_click_readers, clicked_in_app])

        while self.sharers and self.sharers[0][0] < t - wom.window_days:
            self.sharers.popleft()
        if self.sharers and self.per_cell("awareness.word_of_mouth.strength").any():
            sharers = np.concatenate([a for _, a in self.sharers])
            told, telling = awareness.contacts_told(self.graph.indptr, self.graph.indices, sharers)
            strength = self.param("awareness.word_of_mouth.strength", told)
            told, telling, strength = told[strength > 0], telling[strength > 0], strength[strength > 0]
            p = awareness.daily_exposure_probability(0.0, 0.0, 0.0, strength, telling, self.graph.contacts_of(told))
            self.set_exposure_level(told, s.exposure_level[told] - awareness.hazard(p).astype(np.float32), t)
            self._told(t, told, telling, p)

        parts.append(equal_indices(s.exposure_day, t))  # media: members whose level the hazard reaches today

        exposed = unique(np.concatenate(parts))
        newly = exposed[s.aware_since[exposed] == NOT_YET]
        s.aware_since[newly] = t
        self.tally.touch(newly)
        level = self.media_hazard_cum[t].take(self.pop.region[exposed]) + self.streams.exponential(
            "exposure", exposed, t
        )
        self.set_exposure_level(exposed, level, t + 1)
        return exposed

    def _note_visits(self, t: int, visitors: np.ndarray) -> None:
        self.counts.note_visits(t, visitors)

    def _told(self, t: int, told: np.ndarray, telling: np.ndarray, p: np.ndarray) -> None:
        """Contacts told today by members who acted (those eligible), for the mechanisms that use them."""
        if not self._hooks["told"]:
            return
        keep = self.pop.eligible[told]
        told, telling, p = told[keep], telling[keep], p[keep]
        for m in self._hooks["told"]:
            m.told(t, told, telling, p)

    def _after_exposure(self, t: int, exposed: np.ndarray, by_notice: np.ndarray) -> None:
        """The mechanisms' response to today's exposures of eligible members (`from_notice`: by an
        email notice); kept for `after_intent`."""
        self._exposed_today = None
        if not (self._hooks["after_exposure"] or self._hooks["after_intent"]):
            return
        exposed = exposed[self.pop.eligible[exposed]]
        if exposed.size == 0:
            return
        from_notice = np.isin(exposed, by_notice) if by_notice.size else np.zeros(exposed.size, bool)
        self._exposed_today = (exposed, from_notice)
        for m in self._hooks["after_exposure"]:
            m.after_exposure(t, exposed, from_notice)

    def _after_intent(self, t: int) -> None:
        """The mechanisms' response to today's exposures once today's intents are formed (4), before action (5)."""
        if self._exposed_today is None:
            return
        for m in self._hooks["after_intent"]:
            m.after_intent(t, *self._exposed_today)

    @property
    def one_click_readers(self) -> np.ndarray:
        """Members who met a notice's one-click link today (email readers, in-app viewers; may repeat)."""
        return self._one_click_readers

    def bring_to_site(self, members: np.ndarray, day: int, to_act: bool) -> None:
        """Members visit on `day` (their next visit brought forward, never pushed back; the visit
        process restarts from it, memoryless). `to_act`: they come to act on an intent they hold, and
        on that visit they try (docs/ODD.md §7.6); otherwise an intent decides, as on any visit."""
        s = self.state
        s.next_visit[members] = np.minimum(s.next_visit[members], day)
        if to_act:
            s.visit_to_act[members] = True

    def routes_to_act(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the choice each member wants, NO_CHOICE where their status fits their preference; the
        bitmask of routes open to it today, 0 if none): for the mechanisms."""
        desired = consent.desired_choice(self.pop.preference[idx], self._enrolled(idx))
        return desired, self._open_routes(idx, desired)

    def set_exposure_level(self, members: np.ndarray, level: np.ndarray, from_day: int) -> None:
        """Set members' exposure levels (float32) and the day from `from_day` on when their region's
        cumulative media hazard first reaches it (NEVER if not within the horizon): media exposure is
        then a calendar, not a daily comparison of every member."""
        s = self.state
        s.exposure_level[members] = level
        level = s.exposure_level[members].astype(np.float64)  # compared as stored, like the daily check
        # the first day >= from_day whose cumulative hazard in the member's cell reaches the level (it
        # never decreases): one search for all members, in the [cell, day] table laid flat
        row = self.pop.region[members].astype(np.int64) * self.n_days
        day = lower_bound(self._cum_by_cell.reshape(-1), row + from_day, row + self.n_days, level) - row
        s.exposure_day[members] = np.where(day < self.n_days, day, NEVER).astype(np.int16)

    # 4. intent: exposure turns into intent for members whose status differs from their preference
    def _form_intent(self, t: int, exposed: np.ndarray) -> None:
        s, pop = self.state, self.pop
        who = exposed[pop.eligible[exposed] & ~s.gave_up[exposed] & ~s.awaiting_decision[exposed]]
        if who.size == 0:  # a lean day: no work (and no draws) for nobody
            return
        desired = consent.desired_choice(pop.preference[who], self._enrolled(who))
        can_act = (self._open_routes(who, desired) != 0) | np.isin(who, self._one_click_readers)
        who, desired = who[can_act], desired[can_act]
        p = consent.intent_probability(
            desired,
            pop.concern[who],
            pop.believes_reach_cost[who],
            pop.visibility_motive[who],
            self.param("consent.object_intent_scale", who),
            self.param("consent.accept_intent_prob", who),
        )
        p = self._scale_chance("intent", p, who, t)
        forms = who[self.streams.uniform("intent", who, t) < p]
        s.intent_until[forms] = self._intent_lasts_until(forms, t, "intent_duration")
        self.tally.touch(forms)

    def _intent_lasts_until(self, members: np.ndarray, t: int, stream: str) -> np.ndarray:
        """The last day of an intent formed on day t: it fades at `consent.intent_half_life_days`."""
        fade = self.param(
            "intent_fade", members, lambda c: consent.intent_fade_probability(c.consent.intent_half_life_days)
        )
        duration = self.streams.geometric_days(stream, members, t, fade)
        return np.minimum(t + duration - 1, NEVER)

    def set_out_to_act(self, members: np.ndarray, t: int, stream: str) -> None:
        """Members (eligible, with a route open to the choice they want) set out to act on day t, before
        its visits (a `start_of_day` hook): they hold an intent (a fresh one, which ends giving up) and
        come to the site that day to act on it (`bring_to_site`); docs/ODD.md §7.17, §7.18."""
        s = self.state
        s.intent_until[members] = np.maximum(s.intent_until[members], self._intent_lasts_until(members, t, stream))
        s.gave_up[members] = False
        self.tally.touch(members)
        self.bring_to_site(members, t, to_act=True)

    # 5a. consent requests are answered on the spot: a blocking one always, a dismissible one
    # through the `prompt` route's steps (or dismissed); the answer follows the member's lean
    def _answer_prompts(self, t: int, visitors: np.ndarray) -> None:
        s, pop, designs = self.state, self.pop, self.designs
        regime = self._agent_regime(visitors)
        due = s.prompt_pending[visitors] | consent.asks_every_visit(regime, designs)
        can_answer = consent.has_route_to_act(regime, designs) & pop.eligible[visitors]
        asked = visitors[due & can_answer & (s.choice[visitors] == NO_CHOICE)]
        s.prompt_pending[visitors] = False
        if asked.size == 0:
            return
        s.aware_since[asked[s.aware_since[asked] == NOT_YET]] = t
        self.tally.touch(asked)
        blocking = designs.blocking.take(self._agent_regime(asked))
        passes = self._passes_route(asked, "prompt", "prompt_step", t, motivated=False)
        answered = asked[blocking | passes]
        framing = designs.framing.take(self._agent_regime(answered))
        answer_cfg = SimpleNamespace(
            **{
                name: self.param(f"consent.prompt_answer.{name}", answered)
                for name in type(self.config.consent.prompt_answer).model_fields
            }
        )
        accept_p = consent.prompt_accept_probability(
            pop.preference[answered], pop.concern[answered], framing, answer_cfg
        )
        choice = consent.prompt_answer(self.streams.uniform("prompt_answer", answered, t), accept_p)
        self._record_choice(answered, choice, CHANNELS.index("prompt"))

    # 5b. members with intent try their region's route on a visit
    def _attempt_routes(self, t: int, visitors: np.ndarray) -> None:
        s = self.state
        who = visitors[(s.intent_until[visitors] >= t) & ~s.gave_up[visitors]]
        if who.size:
            self._try_routes(t, who)
        s.visit_to_act[visitors] = False  # a visit made to act is made once

    def _try_routes(self, t: int, who: np.ndarray) -> None:
        s, pop = self.state, self.pop
        desired = consent.desired_choice(pop.preference[who], self._enrolled(who))
        routes = self._open_routes(who, desired)
        keep = (routes != 0) & (desired != NO_CHOICE)
        who, routes, desired = who[keep], routes[keep], desired[keep]
        p_try = self._scale_chance("try", self.param("friction.try_prob", who), who, t)
        # a member who came to act has already chosen "now" over "later": no present bias on that visit
        p_try = np.where(s.visit_to_act[who], 1.0, p_try)
        tries = self.streams.uniform("try", who, t) < p_try
        who, routes, desired = who[tries], routes[tries], desired[tries]
        if who.size == 0:
            return

        # Every open route is tried in the member's own random order; the first that works is used.
        n_routes = len(self.route_names)
        passed = np.zeros((n_routes, who.size), bool)
        order = np.zeros((n_routes, who.size))
        several = (routes & (routes - np.uint32(1))) != 0  # more than one bit set
        for k, name in enumerate(self.route_names):
            on_route = ((routes >> np.uint32(k)) & np.uint32(1)).astype(bool)
            if on_route.any():
                passed[k, on_route] = self._passes_route(who[on_route], name, f"step_{name}", t)
            if (on_route & several).any():
                order[k, on_route] = self.streams.uniform(f"route_order_{name}", who[on_route], t)
        used = friction.first_route_passed(passed, order)
        for k, name in enumerate(self.route_names):
            on_route = used == k
            if not on_route.any():
                continue
            done, choice = who[on_route], desired[on_route]
            self._route_done(t, done, choice, name)
        self._record_failures(who[used < 0], t)

    def _route_done(self, t: int, done: np.ndarray, choice: np.ndarray, route: str) -> None:
        """Members who completed a route: their choice takes effect now or after the route's wait."""
        s, spec = self.state, self.config.friction.routes[route]
        channel = CHANNELS.index(spec.channel)
        s.intent_until[done] = NOT_YET
        self.tally.touch(done)
        if spec.wait_days:
            s.awaiting_decision[done] = True
            self.pending_choices.setdefault(t + spec.wait_days, []).append((done, choice, channel))
        else:
            self._record_choice(done, choice, channel)
        shares = self.streams.uniform("share", done, t) < self.param("awareness.word_of_mouth.share_prob", done)
        self.sharers.append((t, done[shares]))

    # 5c. a one-click "object" link in a notice: readers with intent act without visiting settings
    def _one_click(self, t: int) -> None:
        readers = self._one_click_readers
        if readers.size == 0 or self._one_click_route is None:
            return
        s, pop = self.state, self.pop
        who = unique(readers)
        who = who[(s.intent_until[who] >= t) & ~s.gave_up[who] & ~s.awaiting_decision[who]]
        who = who[consent.desired_choice(pop.preference[who], self._enrolled(who)) == OPTED_OUT]
        who = who[self.streams.uniform("one_click_try", who, t) < self.param("friction.try_prob", who)]
        done = who[self._passes_route(who, self._one_click_route, f"step_{self._one_click_route}", t)]
        self._route_done(t, done, np.full(done.size, OPTED_OUT, np.int8), self._one_click_route)

    def _passes_route(self, members: np.ndarray, route: str, stream: str, t: int, motivated: bool = True) -> np.ndarray:
        """Whether each member passes every step of `route` (its steps' count is shared by a batch,
        their difficulties may differ). A motivated member (one acting on intent) searches for the
        hidden steps (sim.model.rules.friction); one answering a prompt does not."""
        skill, weight = self.pop.skill[members], self.param("friction.skill_weight", members)
        n_steps = len(self.config.friction.routes[route].steps)
        difficulty = [
            self.param(f"difficulty:{route}:{i}", members, lambda c, i=i: c.friction.routes[route].steps[i].difficulty)
            for i in range(n_steps)
        ]
        if motivated:
            offset = self.param("friction.motivated_search_offset", members)
            for m in self._hooks["search_offset"]:
                offset = m.search_offset(members, offset, t)
            hidden_above = self.param("friction.hidden_above", members)
            difficulty = [friction.searched_difficulty(d, offset, hidden_above) for d in difficulty]
        p = np.stack([friction.step_success_probability(skill, d, weight) for d in difficulty])
        u = self.streams.uniforms([f"{stream}_{i}" for i in range(n_steps)], members, t)
        return friction.attempt_succeeds(u, p)

    def _record_failures(self, failed: np.ndarray, t: int) -> None:
        if failed.size == 0:
            return
        s = self.state
        give_up = self.param("give_up", failed, lambda c: friction.give_up_probability(c.friction.attempts_per_intent))
        quits = failed[self.streams.uniform("give_up", failed, t) < give_up]
        s.gave_up[quits] = True
        s.intent_until[quits] = NOT_YET
        self.tally.touch(quits)
        self.failed_attempts += np.bincount(self.pop.region[failed], minlength=self.n_cells)

    def _record_choice(self, members: np.ndarray, choice: np.ndarray, channel: int) -> None:
        """Record choices made through a channel (CHANNELS); data already ingested from new
        objectors now counts as theirs."""
        if members.size == 0:
            return
        s = self.state
        new_out = members[(choice == OPTED_OUT) & (s.choice[members] != OPTED_OUT)]
        self.counts.note_choices(members, choice)
        s.choice[members] = choice
        s.choice_channel[members] = channel
        for d, direction in enumerate((OPTED_OUT, OPTED_IN)):
            region = self.pop.region[members[choice == direction]]
            self.choices_today[:, d, channel] += np.bincount(region, minlength=self.n_cells)
        s.intent_until[members] = NOT_YET
        s.awaiting_decision[members] = False
        self.tally.touch(members)
        if new_out.size:
            self.ledger_by_cell(self.ledger.objected, self.data_by_cell(new_out))

    # 6. content: posts, their type, and the face share's drift toward what the feed rewards
    def _post(self, t: int) -> None:
        s, pop = self.state, self.pop
        due = equal_indices(s.next_post, t)
        if due.size == 0:
            return
        for m in self._hooks["posts_made"]:
            due = m.posts_made(due, t)
        agents = pop.poster[due]
        kind = content.post_type(
            self.streams.uniform("post_type", agents, t),
            s.face_share[due],
            self.param("feed.other_image_share", agents),
        )
        s.pending_posts[due, kind] += 1  # a poster posts at most once a day
        before = s.face_share[due]
        s.face_share[due] = content.face_share_update(
            s.face_share[due],
            self.param("feed.face_boost", agents),
            pop.visibility_motive[agents],
            self.param("feed.adaptation_rate", agents),
            self.param("feed.min_face_share", agents),
            self.param("feed.max_face_share", agents),
        )
        change = pop.poster_post_prob[due].astype(np.float64) * (s.face_share[due] - before)
        self._face_rate += np.bincount(self._poster_region[due], weights=change, minlength=self.n_cells)
        gaps = self.streams.geometric_days("post", agents, t, pop.poster_post_prob[due])
        s.next_post[due] = np.minimum(t + gaps, NEVER)

    # 7. training pulls and the ledger
    def _training_pull(self, t: int) -> None:
        pull, regions = self.today.pull, self.today.pulled
        if not pull:
            return
        if self.config.training.retroactive_removal:
            self._remove_objectors_data()
        if regions.size:
            self._ingest(regions)

    def _ingest(self, cells: np.ndarray) -> None:
        """A training pull in these cells (regions): every enrolled member's new data enters the set."""
        s, pop = self.state, self.pop
        pulled = np.zeros(self.n_cells, bool)
        pulled[cells] = True
        in_pull = pop.in_cells(pulled)

        # First pull of a member: profile (and its photo) plus the backlog of posts before the start
        # (the share training.backlog_share of it, after the hooks: a deleted part is not there to take).
        first = np.flatnonzero(in_pull & ~s.profile_ingested)
        first = first[self._enrolled(first)]
        at, is_poster = self.pop.poster_slots(first)
        backlog = np.zeros(first.size)
        backlog[is_poster] = pop.poster_rate_per_day[at[is_poster]] * pop.tenure_days[first[is_poster]]
        for m in self._hooks["first_pull_backlog"]:
            backlog = m.first_pull_backlog(first, backlog)
        first_data = first_pull_data(
            pop.has_photo[first],
            backlog,
            self.param("training.profile_tokens", first),
            self.param("training.tokens_per_post", first),
            self.param("feed.initial_face_share", first),
            self.param("feed.other_image_share", first),
            self.param("training.backlog_share", first),
        )
        s.ingested[at[is_poster]] += first_data[is_poster].astype(np.float32)  # the others: see ingested_of
        s.profile_ingested[first] = True

        # Posts since the last pull, of enrolled posters (only those with posts have any to give).
        # a bitwise or of the content types' columns is nonzero where any is (15x faster than any(axis=1))
        has_posts = reduce(np.bitwise_or, s.pending_posts.T) != 0
        with_posts = np.flatnonzero(pop.in_cells(pulled, posters=True) & has_posts)
        take = with_posts[self._enrolled(pop.poster[with_posts])]
        posts = s.pending_posts[take]
        new_data = new_posts_data(
            posts[:, content.TEXT_ONLY],
            posts[:, content.OTHER_IMAGE],
            posts[:, content.FACE_IMAGE],
            self.param("training.tokens_per_post", pop.poster[take]),
        )
        s.pending_posts[take] = 0
        s.ingested[take] += new_data.astype(np.float32)
        amounts = self._by_cell(first, first_data) + self._by_cell(pop.poster[take], new_data)
        self.ledger_by_cell(self.ledger.ingest, amounts)

    def _remove_objectors_data(self) -> None:
        s = self.state
        gone = np.flatnonzero((s.choice == OPTED_OUT) & s.profile_ingested)
        for m in self._hooks["removed_with"]:
            gone = m.removed_with(gone)
        if gone.size:
            self.ledger_by_cell(self.ledger.remove, self.data_by_cell(gone))
        at, is_poster = self.pop.poster_slots(gone)
        s.ingested[at[is_poster]] = 0
        s.profile_ingested[gone] = False

    def _by_cell(self, members: np.ndarray, data: np.ndarray) -> np.ndarray:
        """[cell, data type]: the rows of `data` (members x DATA_TYPES) summed in float64 by the members' cell."""
        cell = self.pop.region[members]
        return np.stack(
            [
                np.bincount(cell, weights=data[:, k].astype(np.float64), minlength=self.n_cells)
                for k in range(data.shape[1])
            ],
            axis=-1,
        )

    def ledger_by_cell(self, entry, amounts: np.ndarray) -> None:
        """Enter [cell, data type] amounts in the ledger (`entry`: its ingest, objected or remove),
        in the cells with any."""
        cells = np.flatnonzero(amounts.any(axis=1))
        if cells.size:
            entry(cells, amounts[cells], self.pop.weight_by_region[cells])

    def data_by_cell(self, members: np.ndarray) -> np.ndarray:
        """[cell, data type]: these members' data in the set, summed in float64 by cell."""
        return self._by_cell(members, self.ingested_of(members))

    def ingested_of(self, members: np.ndarray) -> np.ndarray:
        """Each member's data in the training set, by DATA_TYPES (float32, members x 4). Kept for
        posters only (`AgentState.ingested`): a member who never posts has, once pulled, exactly the
        first pull's profile part (the profile, its tokens and its photo), so it is not stored."""
        s, members = self.state, np.asarray(members)
        out = np.zeros((members.size, len(DATA_TYPES)), np.float32)
        pulled = members[s.profile_ingested[members]]
        out[s.profile_ingested[members]] = np.stack(
            [
                np.ones(pulled.size, np.float32),
                self.param("training.profile_tokens", pulled).astype(np.float32),
                self.pop.has_photo[pulled].astype(np.float32),
                np.zeros(pulled.size, np.float32),
            ],
            axis=-1,
        )
        at, is_poster = self.pop.poster_slots(members)
        out[is_poster] = s.ingested[at[is_poster]]
        return out

    # 8. record: per-region quantities in real units; the metric registry turns them into metrics
    def _record(self, t: int) -> None:
        regional, whole = metrics.record(self._quantities(t), self.n_sims)
        self.records_by_sim[:, t, :-1] = regional
        self.records_by_sim[:, t, -1] = whole

    def _enrolled_by_choice(self) -> np.ndarray:
        regime, table = self._enrolled_if
        if regime is None or not np.array_equal(regime, self.regime_today):
            table = enrolled_by_choice(self.regime_today, self.designs)
            self._enrolled_if = (self.regime_today.copy(), table)
        return table

    def _quantities(self, t: int) -> dict[str, np.ndarray]:
        """What the metric registry's numerators and denominators name, per region, in real units."""
        pop = self.pop
        self.tally.refresh(t, self.state, pop.eligible, pop.preference)
        counts = counts_from_codes(self.tally.counts, self._enrolled_by_choice())
        counts["face_post_rate"] = self._face_rate
        counts["post_rate"] = self._post_rate_sum
        self._last_counts = counts  # unweighted, for the tests' check against `tally.full_pass`
        weight = pop.weight_by_region
        ledger = self.ledger
        weighted = np.array(list(counts.values()), np.float64) * weight  # one multiplication for all counts
        return {
            **dict(zip(counts, weighted, strict=True)),
            "in_use": counts["enrolled"] * weight * self.policy.training[t],  # enrolled, where the phase trains today
            "eligible": self.counts.eligible * weight,
            "objectors": self.counts.objectors * weight,
            "eligible_training": self.counts.eligible * self.policy.training[t] * weight,
            "failed_attempts": self.failed_attempts * weight,
            "ingested_profiles": ledger.total[:, PROFILES],
            "ingested_text_tokens": ledger.total[:, TEXT],
            "ingested_face_images": ledger.total[:, FACES],
            "ingested_other_images": ledger.total[:, OTHER],
            "objector_text_tokens": ledger.from_objectors[:, TEXT],
            "objector_face_images": ledger.from_objectors[:, FACES],
            "removed_text_tokens": ledger.removed[:, TEXT],
            **{
                f"new_{d}_via_{c}": self.choices_today[:, i, k] * weight
                for i, d in enumerate(("opted_out", "opted_in"))
                for k, c in enumerate(CHANNELS)
            },
            **self.counts.quantities(self._enrolled_by_choice()),
            **self._mechanism_quantities(t),
        }

    def _mechanism_quantities(self, t: int) -> dict[str, np.ndarray]:
        """Every registered mechanism's quantities, weighted: zeros for those switched off."""
        weight, on = self.pop.weight_by_region, {type(m): m for m in self.mechanisms}
        out = {}
        for kind in REGISTRY:
            if kind in on:
                out.update({name: value * weight for name, value in on[kind].quantities(t).items()})
            else:
                out.update({name: np.zeros(self.n_cells) for name in kind.provides()})
        return out


# The methods `step` calls, in order (docs/ODD.md §3): what `time_phases` times.
PHASES = (
    "_start_of_day", "_apply_policy", "_visits", "_note_visits", "_awareness", "_after_exposure", "_form_intent",
    "_after_intent", "_answer_prompts", "_attempt_routes", "_one_click", "_post", "_training_pull", "_record",
)  # fmt: skip


def time_phases(model: ConsentModel) -> dict[str, float]:
    """Accumulate the seconds spent in each step phase of this model (for the benchmark's profile).
    Wraps the instance's methods, so a model not timed pays nothing."""
    import time

    seconds = dict.fromkeys(PHASES, 0.0)

    def timed(name, method):
        def run(*args):
            t0 = time.perf_counter()
            out = method(*args)
            seconds[name] += time.perf_counter() - t0
            return out

        return run

    for name in PHASES:
        setattr(model, name, timed(name, getattr(model, name)))
    return seconds


class RecordsCollector(mesa.DataCollector):
    """Mesa's DataCollector over the model's records: the whole-membership row of each day, read
    from `ConsentModel.records` when asked instead of copied metric by metric every step."""

    def __init__(self):
        super().__init__()
        self.model = None

    def collect(self, model) -> None:
        self.model = model

    def get_model_vars_dataframe(self):
        import pandas as pd

        m = self.model
        rows = m.records[: m.day, -1] if m is not None else np.empty((0, len(METRIC_NAMES)))
        return pd.DataFrame(rows, columns=list(METRIC_NAMES))
