"""The Mesa way: the same model with one `mesa.Agent` per member, for reference and benchmarking.

This is what a Mesa user would write: each member is an object whose `step` lives one day, and
the model loops over them with `agents.do`. It calls the same rule functions as the array engine
(`sim.model.rules`), samples the same
population and graph, and draws the same keyed random numbers, so for the same config and seed
it gives the same curves (up to float summation order in the ledger). It is slow by design: use
it for small populations only (tests, `experiments/bench.py`).

It reads each day's context from the same world as the array engine (`World.day`: regime and
routes, switched regions, notices and who they reach, the training pull) and records its metrics
through the metric registry (`sim.model.metrics.record_some`). It covers the core model
(docs/ODD.md §7.1-7.9): awareness, intent, prompts, routes and one-click links, posts and the feed,
training pulls and the ledger with retroactive removal. It covers none of the mechanisms of
§7.10-7.15 (`sim.model.mechanisms`): compare it with the array engine with them switched off
(`sim.run.compose.EVERY_MECHANISM_OFF`); `ReferenceModel` refuses a config that switches one on.
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.model import mechanisms, metrics
from sim.model.config import SimConfig
from sim.model.random_streams import NEVER
from sim.model.regions import REGION_CODES
from sim.model.rules import awareness, consent, content, friction
from sim.model.rules.consent import NO_CHOICE, OBJECT, OPTED_IN, OPTED_OUT
from sim.model.rules.ledger import DATA_TYPES, first_pull_data, new_posts_data
from sim.model.state import NOT_YET
from sim.model.world import build_world

REFERENCE_METRICS = (
    "aware_share",
    "enrolled_share",
    "opted_out_share",
    "opted_in_share",
    "consent_gap_share",
    "face_post_share",
    "dataset_text_tokens",
    "dataset_face_images",
)


class Member(mesa.Agent):
    """One member: fixed attributes and changing state as plain Python values."""

    def __init__(self, model: ReferenceModel, index: int, first_events: tuple[np.ndarray, np.ndarray, np.ndarray]):
        super().__init__(model)
        pop, graph = model.pop, model.graph
        first_visit, first_post, exposure_level = first_events
        self.index = index
        self.region = int(pop.region[index])
        self.eligible = bool(pop.eligible[index])
        self.visit_prob = float(pop.visit_prob[index])
        self.tenure_days = int(pop.tenure_days[index])
        self.has_photo = bool(pop.has_photo[index])
        self.concern = float(pop.concern[index])
        self.preference = int(pop.preference[index])
        self.skill = float(pop.skill[index])
        self.visibility_motive = float(pop.visibility_motive[index])
        self.believes_reach_cost = bool(pop.believes_reach_cost[index])
        self.contacts = [int(c) for c in graph.indices[graph.indptr[index] : graph.indptr[index + 1]]]
        slot = int(np.searchsorted(pop.poster, index))
        self.posts = slot < pop.poster.size and int(pop.poster[slot]) == index
        self.post_prob = float(pop.poster_post_prob[slot]) if self.posts else 0.0
        self.post_rate = float(pop.poster_rate_per_day[slot]) if self.posts else 0.0

        self.next_visit = int(first_visit[index])
        self.next_post = int(first_post[slot]) if self.posts else NEVER
        self.exposure_level = np.float32(exposure_level[index])
        self.aware_since = NOT_YET
        self.choice = NO_CHOICE
        self.intent_until = NOT_YET
        self.gave_up = False
        self.in_app_pending = False
        self.prompt_pending = False
        self.one_click_pending = False  # the in-app notice to be seen carries a one-click link
        self.one_click_today = False  # read a one-click link today
        self.awaiting_decision = False
        self.email_read_today = False
        self.profile_ingested = False
        self.ingested = np.zeros(len(DATA_TYPES))
        self.face_share = np.float32(model.config.feed.initial_face_share)
        self.pending_posts = [0, 0, 0]  # text only, other image, face image

    def draw(self, stream: str, t: int) -> float:
        return float(self.model.streams.uniform(stream, np.array([self.index]), t)[0])

    def regime(self) -> int:
        return int(self.model.regime_today[self.region])

    def enrolled(self) -> bool:
        return bool(consent.is_enrolled(self.regime(), self.choice, self.eligible, self.model.designs))

    def open_routes(self, desired: int) -> list[int]:
        """Indices of the routes open today for the choice the member wants (none if the design
        offers no route)."""
        if not consent.has_route_to_act(self.regime(), self.model.designs):
            return []
        today = self.model.routes_in_today if desired == OPTED_IN else self.model.routes_out_today
        mask = int(today[self.region])
        return [k for k in range(len(self.model.route_names)) if mask >> k & 1]

    def step(self) -> None:
        """One day of this member's life, in the order of docs/ODD.md §3."""
        t = self.model.day
        visits = self.next_visit == t
        if visits:
            gap = int(self.model.streams.geometric_days("visit", np.array([self.index]), t, self.visit_prob)[0])
            self.next_visit = min(t + gap, NEVER)
        if self.exposed_today(t, visits):
            self.form_intent(t)
        if visits:
            self.answer_prompt(t)
            self.attempt_route(t)
        if self.one_click_today:
            self.one_click(t)
        self.one_click_today = False
        if self.posts and self.next_post == t:
            self.post(t)

    def exposed_today(self, t: int, visits: bool) -> bool:
        model, wom = self.model, self.model.config.awareness.word_of_mouth
        exposed = self.email_read_today
        self.email_read_today = False
        if visits and self.in_app_pending:
            self.in_app_pending = False
            exposed = True
            if self.one_click_pending:
                self.one_click_pending = False
                self.one_click_today = True
        telling = sum(1 for c in self.contacts if c in model.sharers_today)
        if telling and wom.strength > 0:
            p = awareness.daily_exposure_probability(0.0, 0.0, 0.0, wom.strength, telling, len(self.contacts))
            self.exposure_level = np.float32(self.exposure_level - np.float32(awareness.hazard(p)))
        level_today = model.media_hazard_cum[t, self.region]
        if self.exposure_level <= level_today:
            exposed = True
        if exposed:
            if self.aware_since == NOT_YET:
                self.aware_since = t
            draw = model.streams.exponential("exposure", np.array([self.index]), t)[0]
            self.exposure_level = np.float32(level_today + draw)
        return exposed

    def form_intent(self, t: int) -> None:
        cfg = self.model.config.consent
        if not self.eligible or self.gave_up or self.awaiting_decision:
            return
        desired = int(consent.desired_choice(self.preference, self.enrolled()))
        if not self.open_routes(desired) and not self.one_click_today:
            return
        p = consent.intent_probability(
            desired,
            self.concern,
            self.believes_reach_cost,
            self.visibility_motive,
            cfg.object_intent_scale,
            cfg.accept_intent_prob,
        )
        if self.draw("intent", t) < p:
            fade = consent.intent_fade_probability(cfg.intent_half_life_days)
            duration = int(self.model.streams.geometric_days("intent_duration", np.array([self.index]), t, fade)[0])
            self.intent_until = min(t + duration - 1, NEVER)

    def passes(self, steps, stream: str, t: int, motivated: bool = True) -> bool:
        fr = self.model.config.friction
        offset = self.model.search_offset if motivated else 0.0
        d = [float(friction.searched_difficulty(st.difficulty, offset, fr.hidden_above)) for st in steps]
        p = [friction.step_success_probability(self.skill, x, fr.skill_weight) for x in d]
        u = [self.draw(f"{stream}_{k}", t) for k in range(len(steps))]
        return bool(friction.attempt_succeeds(u, p))

    def answer_prompt(self, t: int) -> None:
        designs = self.model.designs
        due = self.prompt_pending or consent.asks_every_visit(self.regime(), designs)
        asked = due and consent.has_route_to_act(self.regime(), designs) and self.eligible and self.choice == NO_CHOICE
        self.prompt_pending = False
        if not asked:
            return
        if self.aware_since == NOT_YET:
            self.aware_since = t
        passes = self.passes(self.model.config.friction.routes["prompt"].steps, "prompt_step", t, motivated=False)
        if designs.blocking[self.regime()] or passes:
            p = consent.prompt_accept_probability(
                self.preference, self.concern, designs.framing[self.regime()], self.model.config.consent.prompt_answer
            )
            self.set_choice(int(consent.prompt_answer(self.draw("prompt_answer", t), p)))

    def attempt_route(self, t: int) -> None:
        fr = self.model.config.friction
        if self.intent_until < t or self.gave_up:
            return
        desired = int(consent.desired_choice(self.preference, self.enrolled()))
        routes = self.open_routes(desired)
        if not routes or desired == NO_CHOICE:
            return
        if not self.draw("try", t) < fr.try_prob:
            return
        names = self.model.route_names
        passed = [
            k in routes and self.passes(fr.routes[names[k]].steps, f"step_{names[k]}", t) for k in range(len(names))
        ]
        order = [
            self.draw(f"route_order_{names[k]}", t) if k in routes and len(routes) > 1 else 0.0
            for k in range(len(names))
        ]
        used = int(friction.first_route_passed(passed, order))
        if used >= 0:
            self.route_done(t, desired, names[used])
        else:
            if self.draw("give_up", t) < friction.give_up_probability(fr.attempts_per_intent):
                self.gave_up = True
                self.intent_until = NOT_YET

    def route_done(self, t: int, choice: int, route: str) -> None:
        spec = self.model.config.friction.routes[route]
        self.intent_until = NOT_YET
        if spec.wait_days:
            self.awaiting_decision = True
            self.model.pending_choices.setdefault(t + spec.wait_days, []).append((self, choice))
        else:
            self.set_choice(choice)
        if self.draw("share", t) < self.model.config.awareness.word_of_mouth.share_prob:
            self.model.new_sharers.add(self.index)

    def one_click(self, t: int) -> None:
        """A one-click "object" link read today: act on an intent to opt out without a visit."""
        fr, route = self.model.config.friction, self.model.one_click_route
        if route is None or self.intent_until < t or self.gave_up or self.awaiting_decision:
            return
        if consent.desired_choice(self.preference, self.enrolled()) != OPTED_OUT:
            return
        if self.draw("one_click_try", t) < fr.try_prob:
            if self.passes(fr.routes[route].steps, f"step_{route}", t):
                self.route_done(t, OPTED_OUT, route)

    def set_choice(self, choice: int) -> None:
        if choice == OPTED_OUT and self.choice != OPTED_OUT:
            self.model.ledger.objected(self.region, self.ingested, self.model.pop.weight_by_region[self.region])
        self.choice = choice
        self.intent_until = NOT_YET
        self.awaiting_decision = False

    def post(self, t: int) -> None:
        feed = self.model.config.feed
        kind = int(content.post_type(self.draw("post_type", t), self.face_share, feed.other_image_share))
        self.pending_posts[kind] += 1
        self.face_share = np.float32(
            content.face_share_update(
                self.face_share,
                feed.face_boost,
                self.visibility_motive,
                feed.adaptation_rate,
                feed.min_face_share,
                feed.max_face_share,
            )
        )
        gap = int(self.model.streams.geometric_days("post", np.array([self.index]), t, self.post_prob)[0])
        self.next_post = min(t + gap, NEVER)

    def ingest(self) -> np.ndarray:
        """This member's data taken by a pull in their region (zeros if not enrolled)."""
        tr, feed = self.model.config.training, self.model.config.feed
        data = np.zeros(len(DATA_TYPES))
        if not self.enrolled():
            return data
        if not self.profile_ingested:
            data += first_pull_data(
                self.has_photo,
                self.post_rate * self.tenure_days,
                tr.profile_tokens,
                tr.tokens_per_post,
                feed.initial_face_share,
                feed.other_image_share,
                tr.backlog_share,
            )
            self.profile_ingested = True
        data += new_posts_data(*self.pending_posts, tr.tokens_per_post)
        self.pending_posts = [0, 0, 0]
        self.ingested += data
        return data


class ReferenceModel(mesa.Model):
    """Per-object Mesa implementation of ConsentModel's rules (see module docstring)."""

    def __init__(self, config: SimConfig):
        on = [m.key for m in mechanisms.REGISTRY if m.is_on(config)]
        if on:
            raise ValueError(f"the Mesa reference covers the core model only; switch these off: {on}")
        super().__init__(seed=config.seed)
        self.config = config
        self.world = world = build_world(config)
        self.streams, self.n_days = world.streams, world.n_days
        self.pop, self.graph, self.policy, self.ledger = world.pop, world.graph, world.policy, world.ledger
        self.route_names, self.media_hazard_cum = world.route_names, world.media_hazard_cum
        self.day = 0
        self.designs = self.policy.designs
        one_click = [n for n in self.route_names if config.friction.routes[n].channel == "one_click"]
        self.one_click_route = one_click[0] if one_click else None
        self.search_offset = config.friction.motivated_search_offset
        first_events = world.first_event_times()
        self.members = [Member(self, i, first_events) for i in range(self.pop.n)]
        self.sharer_days: dict[int, int] = {}
        self.new_sharers: set[int] = set()
        self.sharers_today: set[int] = set()
        self.pending_choices: dict[int, list] = {}
        self.records = np.zeros((self.n_days, len(REGION_CODES), len(REFERENCE_METRICS)))

    def step(self) -> None:
        t = self.day
        today = self.world.day(t)
        self.regime_today = today.regime
        self.routes_out_today, self.routes_in_today = today.routes_out, today.routes_in
        switched = set(today.switched.tolist())
        for m in self.members:
            if m.region in switched:
                m.prompt_pending = False
        for notice, reached in today.notices:
            for i in reached.read_email:
                self.members[i].email_read_today = True
                self.members[i].one_click_today |= notice.one_click
            for i in reached.see_in_app:
                self.members[i].in_app_pending = True
                self.members[i].one_click_pending |= notice.one_click
            if reached.prompted is not None:
                for m in self.members[reached.prompted]:
                    m.prompt_pending = True
        for member, choice in self.pending_choices.pop(t, []):
            member.set_choice(choice)
        window = self.config.awareness.word_of_mouth.window_days
        self.sharers_today = {i for i, day in self.sharer_days.items() if day >= t - window}
        self.new_sharers = set()
        self.agents.do("step")
        for i in self.new_sharers:
            self.sharer_days[i] = t
        self.training_pull(today.pull, today.pulled)
        self.record(t)
        self.day += 1
        self.running = self.day < self.n_days

    def training_pull(self, pull: bool, regions: np.ndarray) -> None:
        if self.config.training.retroactive_removal and pull:
            for m in self.members:
                if m.choice == OPTED_OUT and m.profile_ingested:
                    self.ledger.remove(m.region, m.ingested, self.pop.weight_by_region[m.region])
                    m.ingested = np.zeros(len(DATA_TYPES))
                    m.profile_ingested = False
        pulling = set(regions.tolist())
        for m in self.members:
            if m.region in pulling:
                self.ledger.ingest(m.region, m.ingest(), self.pop.weight_by_region[m.region])

    def record(self, t: int) -> None:
        """Today's quantities of REFERENCE_METRICS, per region, through the metric registry."""
        n = len(REGION_CODES)
        names = ("eligible", "aware", "enrolled", "opted_out", "opted_in", "gap")
        counts = {name: np.zeros(n) for name in names}
        post_num, post_den = np.zeros(n), np.zeros(n)
        for m in self.members:
            if m.posts:
                post_num[m.region] += m.post_prob * m.face_share
                post_den[m.region] += m.post_prob
            if not m.eligible:
                continue
            enrolled = m.enrolled()
            counted = (
                True,
                m.aware_since != NOT_YET,
                enrolled,
                m.choice == OPTED_OUT,
                m.choice == consent.OPTED_IN,
                enrolled and m.preference == OBJECT,
            )
            for name, c in zip(names, counted, strict=True):
                counts[name][m.region] += c
        quantities = {
            **counts,
            "face_post_rate": post_num,
            "post_rate": post_den,
            "ingested_text_tokens": self.ledger.total[:, DATA_TYPES.index("text_tokens")],
            "ingested_face_images": self.ledger.total[:, DATA_TYPES.index("face_images")],
        }
        self.records[t] = metrics.record_some(quantities, REFERENCE_METRICS)
