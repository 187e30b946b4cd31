"""The world both engines are built from: population, graph, compiled policy, media, ledger.

The array engine (`sim.model.engine`) and the per-object Mesa reference
(`sim.verification.reference`) build the same world from a config and read the same per-day
schedules from it (notices, training pulls, the first event times), so the reference holds only
what is per-object.

A batch of simulations (`build_batch_world`, sim.model.batch) is one world whose region axis runs
over *cells*, (simulation, region) pairs: cell k x 10 + r is region r of simulation k. Each
simulation's population, graph, media and policy are built alone from its own config and seed and
laid end to end; every per-region array of the engine is then per cell. For one simulation, cells
are regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.config import SimConfig
from sim.model.graph import Graph, sample_graph
from sim.model.mechanisms.membership import joiner_share
from sim.model.policy import Notice, PolicyTable, compile_policy, media_events
from sim.model.population import Population, sample_population
from sim.model.random_streams import BatchStreams, Streams
from sim.model.regions import REGION_CODES
from sim.model.rules import awareness, guidance
from sim.model.rules.ledger import Ledger
from sim.model.stacking import batch_key, stack_graphs, stack_policies, stack_populations


@dataclass
class NoticeRecipients:
    """Who a notice reaches today: email readers (exposed now), in-app viewers (at their next
    visit) and, for a consent request, every member of the region (asked at their next visit)."""

    read_email: np.ndarray
    see_in_app: np.ndarray
    prompted: slice | None


@dataclass
class DayContext:
    """What the policy and the schedules say of one day, read by both engines: today's regime and
    routes per cell, the regions whose regime switched, the notices sent with who they reach, and
    whether (and where) a training pull runs."""

    t: int
    regime: np.ndarray  # [cell] regime index
    routes_out: np.ndarray  # [cell] bitmask of the routes open for opting out
    routes_in: np.ndarray  # [cell] bitmask of the routes open for opting in
    switched: np.ndarray  # cells whose regime changes today
    notices: list[tuple[Notice, NoticeRecipients]]
    pull: bool  # a training pull runs somewhere today
    pulled: np.ndarray  # the cells pulled


@dataclass
class World:
    config: SimConfig  # the first simulation's: what a batch's simulations share (sim.model.batch)
    streams: Streams
    n_days: int
    dates: np.ndarray  # datetime64[D] of each simulated day
    pop: Population
    graph: Graph
    route_names: list[str]
    policy: PolicyTable
    media_hazard_cum: np.ndarray  # [day, region] cumulative media hazard
    ledger: Ledger
    configs: list[SimConfig] | None = None  # one per simulation of a batch (None: [config])
    sim_streams: list[Streams] | None = None  # each simulation's own streams (set-up draws)
    agent_starts: np.ndarray | None = None  # first agent of each simulation, then the total

    def __post_init__(self):
        self.configs = self.configs or [self.config]
        self.sim_streams = self.sim_streams or [self.streams]
        if self.agent_starts is None:
            self.agent_starts = np.array([0, self.pop.n])
        self._event_attention = None
        self._phase_days = None  # [day, cell] days into the training phase (pull_today)
        self._notices_by_day: dict[int, list[Notice]] = {}
        for n in self.policy.notices:
            self._notices_by_day.setdefault(n.day, []).append(n)

    def event_attention(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(event shocks, their how-to part, all media attention) [day, cell] of every simulation, from
        its own media config and policy events (computed once; read by the mechanisms of coverage)."""
        if self._event_attention is None:
            parts = []
            for cfg in self.configs:
                media, events = cfg.awareness.media, media_events(cfg.policy)
                attention = awareness.media_attention(media, cfg.start, self.n_days, events)
                shocks, guided = guidance.event_attention(
                    media, cfg.start, self.n_days, events, cfg.guidance.coverage_share
                )
                parts.append((shocks, guided, attention))
            self._event_attention = tuple(np.hstack([p[k] for p in parts]) for k in range(3))
        return self._event_attention

    @property
    def n_sims(self) -> int:
        return len(self.configs)

    @property
    def n_cells(self) -> int:
        return self.n_sims * len(REGION_CODES)

    def notices_on(self, t: int) -> list[Notice]:
        return self._notices_by_day.get(t, [])

    def recipients(self, notice: Notice, t: int) -> NoticeRecipients:
        """The members a notice reaches (keyed draws: the same members in both engines)."""
        probs = self.configs[notice.region // len(REGION_CODES)].awareness.notices
        s = self.pop.slices[notice.region]
        members = np.arange(s.start, s.stop)
        empty = np.empty(0, np.int64)
        read = see = empty
        if "email" in notice.channels:
            read = members[self.streams.uniform("email", members, t) < probs.email_read_prob]
        if "in_app" in notice.channels:
            see = members[self.streams.uniform("in_app", members, t) < probs.in_app_seen_prob]
        return NoticeRecipients(read, see, s if "prompt" in notice.channels else None)

    def day(self, t: int) -> DayContext:
        """Day `t`'s context (notice recipients are keyed draws: the same members in both engines)."""
        pull, pulled = self.pull_today(t)
        return DayContext(
            t=t,
            regime=self.policy.regime[t],
            routes_out=self.policy.routes_out[t],
            routes_in=self.policy.routes_in[t],
            switched=self.regime_switched(t),
            notices=[(n, self.recipients(n, t)) for n in self.notices_on(t)],
            pull=pull,
            pulled=pulled,
        )

    def regime_switched(self, t: int) -> np.ndarray:
        """Regions whose regime changes today (their unanswered consent requests are withdrawn)."""
        if t == 0:
            return np.empty(0, np.int64)
        return np.flatnonzero(self.policy.regime[t] != self.policy.regime[t - 1])

    def pull_today(self, t: int) -> tuple[bool, np.ndarray]:
        """(whether a pull happens today anywhere, the regions pulled): in regions that train, a
        phase's first pull runs `training.first_pull_lag_days` (L) days after the phase starts, then
        pulls run on the training schedule; a scheduled day in a phase's first L days has no pull
        there, and a phase shorter than L days has none. With L = 0: the first day of every phase
        and the scheduled days. The schedule is the first simulation's: a batch shares it."""
        every, lag = self.config.training.ingest_every_days, self.config.training.first_pull_lag_days
        scheduled = t % every == 0  # a pull day (retroactive removal runs) even where no region pulls
        if lag == 0:
            first, regular = self.policy.training_starts(t), scheduled
        else:
            days_in = self._days_into_phase(t)
            first, regular = days_in == lag, scheduled & (days_in > lag)
        if not (scheduled or first.any()):
            return False, np.empty(0, np.int64)
        return True, np.flatnonzero(self.policy.training[t] & (regular | first))

    def _days_into_phase(self, t: int) -> np.ndarray:
        """[cell] days since the cell's current training phase began (day 0: its first day; the
        horizon's first day begins a phase that trains then); -1 where the cell does not train."""
        if self._phase_days is None:
            training = self.policy.training
            days = np.full(training.shape, -1, np.int64)
            run = np.full(training.shape[1], -1, np.int64)
            for d in range(training.shape[0]):
                run = np.where(training[d], run + 1, -1)
                days[d] = run
            self._phase_days = days
        return self._phase_days[t]

    def first_event_times(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every member's first visit day, every poster's first post day, and every member's first
        exposure threshold (the event-time forms of daily coin flips)."""
        pop, everyone = self.pop, np.arange(self.pop.n)
        next_visit = self.streams.geometric_days("visit", everyone, -1, pop.visit_prob) - 1
        next_post = self.streams.geometric_days("post", pop.poster, -1, pop.poster_post_prob) - 1
        return next_visit, next_post, self.streams.exponential("exposure", everyone, -1)


def sample_members(config: SimConfig, streams: Streams | None = None) -> Population:
    """The population a simulation of `config` samples (its first draws: the same for every config
    with the same seed and population)."""
    streams = Streams(config.seed) if streams is None else streams
    return sample_population(config.population, config.feed.reach_cost_belief_share, streams, joiner_share(config))


def simulated_dates(config: SimConfig) -> np.ndarray:
    return np.datetime64(config.start) + np.arange(config.horizon_days).astype("timedelta64[D]")


def build_world(config: SimConfig) -> World:
    streams = Streams(config.seed)
    n_days = config.horizon_days
    pop = sample_members(config, streams)
    graph = sample_graph(config.population.graph, pop.slices, pop.n, streams)
    route_names = list(config.friction.routes)
    attention = awareness.media_attention(config.awareness.media, config.start, n_days, media_events(config.policy))
    return World(
        config=config,
        streams=streams,
        n_days=n_days,
        dates=simulated_dates(config),
        pop=pop,
        graph=graph,
        route_names=route_names,
        policy=compile_policy(config.policy, config.start, n_days, route_names),
        media_hazard_cum=awareness.cumulative_media_hazard(attention, config.awareness.media.reach),
        ledger=Ledger(len(REGION_CODES)),
    )


def build_batch_world(configs: list[SimConfig]) -> World:
    """One world for a batch of simulations (see the module's docstring): each built alone, then laid
    end to end. The configs must share everything `sim.model.stacking.batch_key` keeps."""
    if len({batch_key(c) for c in configs}) > 1:
        raise ValueError(
            "these configs differ in what one batch must share (the policy, horizon, switches...: "
            "sim.model.batch.batch_key); run them through sim.model.batch.simulate_many, which groups them"
        )
    worlds = [build_world(c) for c in configs]
    if len(worlds) == 1:
        return worlds[0]

    first = worlds[0]
    pop, starts = stack_populations([w.pop for w in worlds])
    return World(
        config=first.config,
        streams=BatchStreams([w.streams for w in worlds], starts),
        n_days=first.n_days,
        dates=first.dates,
        pop=pop,
        graph=stack_graphs([w.graph for w in worlds], starts),
        route_names=first.route_names,
        policy=stack_policies([w.policy for w in worlds]),
        media_hazard_cum=np.hstack([w.media_hazard_cum for w in worlds]),
        ledger=Ledger(len(worlds) * len(REGION_CODES)),
        configs=list(configs),
        sim_streams=[w.streams for w in worlds],
        agent_starts=starts,
    )
