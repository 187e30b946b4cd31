"""The core's running counts: who is eligible, an objector, opted out, active, a member, and the
cumulative counters of choices, joins and closures (docs/ODD.md §9a).

Kept up to date where members change (no pass over all agents a day), and rebuilt from the state
by `recount` for the tests. Mechanisms add their own counts (sim.model.mechanisms) and add to the
cumulative counters they declare with `add`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sim.model.rules.consent import OBJECT, OPTED_IN, OPTED_OUT
from sim.model.rules.ledger import DATA_TYPES

ACTIVE_DAYS = 30  # "active": visited in the last 30 days (ANCHORS 6: monthly active members)
CORE_CUMULATIVE = ("opt_outs", "opt_ins", "closed")


class RunningCounts:
    def __init__(self, model, cumulative: tuple[str, ...]):
        self.model = model
        pop, n = model.pop, model.n_cells
        self.n_cells = n
        self.members = np.array([s.stop - s.start for s in pop.slices], np.int64)  # joined and not closed
        self.cumulative = {name: np.zeros(n) for name in cumulative}  # weighted, since the start
        self._previous: dict[str, np.ndarray] = {}  # yesterday's cumulative values
        # active eligible members by cell, choice and objector (0/1); eligible objectors opted out
        self.active = np.zeros((n, 3, 2), np.int64)
        self.active_from = -ACTIVE_DAYS  # the earliest last visit counted as active now
        self._recent_visitors: deque[tuple[int, np.ndarray]] = deque()  # (day, visitors) of the last 30 days
        self.objectors_out = np.zeros(n, np.int64)
        self.recount_eligible()

    def recount_eligible(self) -> None:
        pop = self.model.pop
        self.objector_eligible = pop.eligible & (pop.preference == OBJECT)
        self.eligible = np.bincount(pop.region[pop.eligible], minlength=self.n_cells)
        self.objectors = np.bincount(pop.region[self.objector_eligible], minlength=self.n_cells)

    def add(self, name: str, weighted: np.ndarray) -> None:
        """Add weighted members (or items) per cell to the cumulative counter `name`."""
        self.cumulative[name] += weighted

    def count_active(self, members: np.ndarray, sign: int, choice=None, objector=None) -> None:
        """Add (sign 1) or remove (-1) eligible active members from the active counts, by their cell,
        choice and objection (or the given ones)."""
        if members.size == 0:
            return
        m = self.model
        choice = m.state.choice[members] if choice is None else choice
        objector = (m.pop.preference[members] == OBJECT) if objector is None else objector
        code = (m.pop.region[members].astype(np.int64) * 3 + choice) * 2 + objector
        self.active += sign * np.bincount(code, minlength=self.n_cells * 6).reshape(self.n_cells, 3, 2)

    def note_visits(self, t: int, visitors: np.ndarray) -> None:
        """Today's visitors are active for 30 days; those whose last visit was 30 days ago no longer."""
        s, pop = self.model.state, self.model.pop
        if self._recent_visitors and self._recent_visitors[0][0] == t - ACTIVE_DAYS:
            lapsed = self._recent_visitors.popleft()[1]  # the visitors of 30 days ago ...
            lapsed = lapsed[(s.last_visit[lapsed] == t - ACTIVE_DAYS) & pop.eligible[lapsed]]  # ... not since
            self.count_active(lapsed, -1)
        self._recent_visitors.append((t, visitors.astype(np.int32)))
        self.active_from = t - (ACTIVE_DAYS - 1)
        returning = visitors[(s.last_visit[visitors] < self.active_from) & pop.eligible[visitors]]
        self.count_active(returning, 1)
        s.last_visit[visitors] = t

    def eligibility_changed(self, agents: np.ndarray, value: bool) -> None:
        """Members becoming eligible (`value` True) or leaving eligibility, before the flag changes."""
        pop, s, sign = self.model.pop, self.model.state, 1 if value else -1
        self.count_active(agents[s.last_visit[agents] >= self.active_from], sign)
        objector_out = agents[(pop.preference[agents] == OBJECT) & (s.choice[agents] == OPTED_OUT)]
        self.objectors_out += sign * np.bincount(pop.region[objector_out], minlength=self.n_cells)
        self.eligible += sign * np.bincount(pop.region[agents], minlength=self.n_cells)
        objectors = agents[pop.preference[agents] == OBJECT]
        self.objector_eligible[objectors] = value
        self.objectors += sign * np.bincount(pop.region[objectors], minlength=self.n_cells)

    def objection_changed(self, members: np.ndarray, up: np.ndarray) -> None:
        """Members whose preference has just moved to objecting (`up`) or back to indifference."""
        m = self.model
        pop = m.pop
        now, up = members[pop.eligible[members]], up[pop.eligible[members]]
        active = m.state.last_visit[now] >= self.active_from
        self.count_active(now[active], -1, objector=~up[active])  # counted under the old preference
        self.count_active(now[active], 1, objector=up[active])
        sign = np.where(up, 1, -1)
        out = m.state.choice[now] == OPTED_OUT
        self.objectors_out += np.bincount(pop.region[now[out]], weights=sign[out], minlength=self.n_cells).astype(
            np.int64
        )
        self.objector_eligible[now] = up
        self.objectors += np.bincount(pop.region[now], weights=sign, minlength=self.n_cells).astype(np.int64)

    def note_choices(self, members: np.ndarray, choice: np.ndarray) -> None:
        """Count today's recorded opt-outs and opt-ins (before the state takes them)."""
        m = self.model
        s, pop = m.state, m.pop
        before = s.choice[members]
        self.add("opt_outs", m.weighted(members[(choice == OPTED_OUT) & (before != OPTED_OUT)]))
        self.add("opt_ins", m.weighted(members[(choice == OPTED_IN) & (before != OPTED_IN)]))
        changed = (choice != before) & pop.eligible[members]
        members, choice, before = members[changed], choice[changed], before[changed]
        active = s.last_visit[members] >= self.active_from
        self.count_active(members[active], -1, choice=before[active])
        self.count_active(members[active], 1, choice=choice[active])
        objector = pop.preference[members] == OBJECT
        now_out, was_out = objector & (choice == OPTED_OUT), objector & (before == OPTED_OUT)
        self.objectors_out += np.bincount(pop.region[members[now_out]], minlength=self.n_cells)
        self.objectors_out -= np.bincount(pop.region[members[was_out]], minlength=self.n_cells)

    def quantities(self, enrolled_if: np.ndarray) -> dict[str, np.ndarray]:
        """Members, the cumulative counters (totals and today's flows) and the active members' counts,
        per cell (`enrolled_if`: [cell, choice] enrolled under today's regime)."""
        m = self.model
        weight = m.pop.weight_by_region
        out: dict[str, np.ndarray] = {"members": self.members * weight}
        cumulative = {name: value.copy() for name, value in self.cumulative.items()}
        ledger_in = m.ledger.total + m.ledger.removed
        for k, name in enumerate(DATA_TYPES):  # ingested so far (removal moves data, it does not un-ingest it)
            cumulative[name] = np.maximum(self._previous.get(name, 0.0), ledger_in[:, k])
        for name, value in cumulative.items():
            out[f"{name}_total"] = value
            out[f"{name}_today"] = value - self._previous.get(name, 0.0)
        self._previous = cumulative
        # shares among members active in the last 30 days, from the running counts by choice (whether a
        # choice is enrolled depends on the region's regime only: three entries per region)
        counts = {
            "active": self.active.sum(axis=(1, 2)),
            "active_opted_out": self.active[:, OPTED_OUT, :].sum(axis=1),
            "active_enrolled": (enrolled_if * self.active.sum(axis=2)).sum(axis=1),
            "active_gap": (enrolled_if * self.active[:, :, 1]).sum(axis=1),
            "objectors_opted_out": self.objectors_out,
        }
        out.update({name: value * weight for name, value in counts.items()})
        return out

    def counters(self) -> dict[str, np.ndarray]:
        return {
            "members": self.members,
            "active": self.active,
            "objectors_out": self.objectors_out,
            "eligible": self.eligible,
            "objectors": self.objectors,
            "objector_eligible": self.objector_eligible,
        }

    def recount(self) -> dict[str, np.ndarray]:
        """The counts above from the state (after a day's step: `model.day` is the next day)."""
        m = self.model
        s, pop, t = m.state, m.pop, m.day - 1
        objector = pop.preference == OBJECT
        active = pop.eligible & (s.last_visit >= t - (ACTIVE_DAYS - 1))
        code = (pop.region[active].astype(np.int64) * 3 + s.choice[active]) * 2 + objector[active]

        def per_cell(mask):
            return np.bincount(pop.region[mask], minlength=self.n_cells)

        return {
            "members": per_cell((s.join_day <= t) & (s.closed_day > t)),
            "active": np.bincount(code, minlength=self.n_cells * 6).reshape(self.n_cells, 3, 2),
            "objectors_out": per_cell(pop.eligible & objector & (s.choice == OPTED_OUT)),
            "eligible": per_cell(pop.eligible),
            "objectors": per_cell(pop.eligible & objector),
            "objector_eligible": pop.eligible & objector,
        }
