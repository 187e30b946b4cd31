"""Per-region counts of members by status, kept up to date instead of recounted every day.

The day's record needs, per region, how many eligible members are aware, enrolled, opted out or in
(by channel), and how many enrolled objectors are unaware, intending or gave up. Recounting every
agent every day was the engine's largest cost (docs/PERFORMANCE.md). Instead every member carries
a one-byte *status code* (eligible, choice, channel, objector, aware, gave up, intending) and the
tally holds, per region, how many members have each code. Whoever changes one of those fields
`touch`es the members; at the day's record the touched members are re-coded and moved between
counts (cost: the members touched, not the population). Enrolment is not in the code: it follows
from (regime, choice) alone, so a regime switch needs no recount, the counts by choice are read
through today's regime table.

Intent lapses without anybody touching the member (`intent_until` passes), so a member coded as
intending is put in a calendar at the day their intent ends and re-coded then.

`full_pass` recomputes the same quantities from the whole state, the slow way the engine used to;
the tests check the two agree every day on a run with every mechanism on.
"""

from __future__ import annotations

import numpy as np

from sim.model.regions import REGION_CODES
from sim.model.rules import consent
from sim.model.rules.consent import CHANNELS, NO_CHOICE, OBJECT, OPTED_IN, OPTED_OUT
from sim.model.search import unique
from sim.model.state import NOT_YET

N_REGIONS = len(REGION_CODES)
# code = 0 for a member not eligible, else 1 + index over the axes below (C order); "intending" is
# coded for aware objectors only (the one count that reads it: gap_intending)
AXES = (3, len(CHANNELS), 2, 2, 2, 2)  # choice, channel, objector, aware, gave up, intending
N_CODES = 1 + int(np.prod(AXES))  # 193: fits a uint8
COUNT_NAMES = (
    "aware", "enrolled", "opted_out", "opted_in", "undecided", "gap", "gap_unaware", "gap_intending",
    "gap_gave_up", "gap_not_trying", *(f"{d}_via_{c}" for d in ("opted_out", "opted_in") for c in CHANNELS),
)  # fmt: skip


def status_code(eligible, choice, channel, objector, aware, gave_up, intending) -> np.ndarray:
    """Each member's status code (uint8); 0 when not eligible."""
    code = ((((choice.astype(np.int32) * AXES[1] + channel) * 2 + objector) * 2 + aware) * 2 + gave_up) * 2 + intending
    return np.where(eligible, code + 1, 0).astype(np.uint8)


def enrolled_by_choice(regime: np.ndarray, designs) -> np.ndarray:
    """[region, choice]: whether an eligible member with that choice is enrolled under today's regime."""
    choices = np.arange(3)
    return consent.is_enrolled(regime[:, None], choices[None, :], True, designs)


def counts_from_codes(counts: np.ndarray, enrolled_if: np.ndarray) -> dict[str, np.ndarray]:
    """The record's member counts per region from the counts by status code."""
    e = counts[:, 1:].reshape(len(counts), *AXES)  # region, choice, channel, objector, aware, gave up, intending
    by_choice = e.sum(axis=(2, 3, 4, 5, 6))
    objector = e[:, :, :, 1].sum(axis=2)  # region, choice, aware, gave up, intending
    gap_of = (objector * enrolled_if[:, :, None, None, None]).sum(axis=1)  # region, aware, gave up, intending
    channel = e.sum(axis=(3, 4, 5, 6))  # region, choice, channel
    c = {
        "aware": e[:, :, :, :, 1].sum(axis=(1, 2, 3, 4, 5)),
        "enrolled": (by_choice * enrolled_if).sum(axis=1),
        "opted_out": by_choice[:, OPTED_OUT],
        "opted_in": by_choice[:, OPTED_IN],
        "undecided": by_choice[:, NO_CHOICE],
        "gap": gap_of.sum(axis=(1, 2, 3)),
        "gap_unaware": gap_of[:, 0].sum(axis=(1, 2)),
        "gap_intending": gap_of[:, 1, 0, 1],
        "gap_gave_up": gap_of[:, 1, 1].sum(axis=1),
    }
    c["gap_not_trying"] = c["gap"] - c["gap_unaware"] - c["gap_intending"] - c["gap_gave_up"]
    for direction, code in (("opted_out", OPTED_OUT), ("opted_in", OPTED_IN)):
        for k, name in enumerate(CHANNELS):
            c[f"{direction}_via_{name}"] = channel[:, code, k]
    return c


class Tally:
    """Counts of members by (region, status code), updated for the members touched."""

    def __init__(self, region: np.ndarray, n_days: int, n_regions: int = N_REGIONS):
        """`region`: each member's region (a batch's cell, sim.model.batch), of `n_regions`."""
        self.region = region
        self.n_days = n_days
        self.code = np.zeros(region.size, np.uint8)
        self.counts = np.zeros((n_regions, N_CODES), np.int64)
        self.counts[:, 0] = np.bincount(region, minlength=n_regions)
        self._touched: list[np.ndarray] = []
        self._intent_ends: list[list[np.ndarray]] = [[] for _ in range(n_days + 1)]

    def touch(self, members: np.ndarray) -> None:
        """These members' status may have changed today."""
        if members.size:
            self._touched.append(members)

    def everyone(self) -> None:
        self._touched.append(np.arange(self.region.size))

    def refresh(self, t: int, state, eligible: np.ndarray, preference: np.ndarray) -> None:
        """Re-code today's touched members and those whose intent ended yesterday."""
        parts = self._touched
        if t < len(self._intent_ends):
            parts += self._intent_ends[t]
            self._intent_ends[t] = []  # read once: keeping them would hold every intent ever scheduled
        self._touched = []
        if not parts:
            return
        who = unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        s = state
        intent = s.intent_until[who]
        gave_up = s.gave_up[who]
        objector, aware = preference[who] == OBJECT, s.aware_since[who] != NOT_YET
        # only aware objectors' intent is read (gap_intending): coding it for them alone keeps the
        # calendar of intent ends to the few it matters for
        intending = (intent >= t) & ~gave_up & objector & aware
        new = status_code(eligible[who], s.choice[who], s.choice_channel[who], objector, aware, gave_up, intending)
        old = self.code[who]
        changed = new != old
        if changed.any():
            who_c, region = who[changed], self.region[who[changed]].astype(np.int64)
            flat = self.counts.reshape(-1)
            flat -= np.bincount(region * N_CODES + old[changed], minlength=flat.size)
            flat += np.bincount(region * N_CODES + new[changed], minlength=flat.size)
            self.code[who_c] = new[changed]
        self._schedule(who[intending], intent[intending].astype(np.int64) + 1)

    def _schedule(self, members: np.ndarray, days: np.ndarray) -> None:
        """Re-code members on the day their intent ends (stale entries only re-code: harmless)."""
        keep = days < len(self._intent_ends)
        members, days = members[keep], days[keep]
        if members.size == 0:
            return
        order = np.argsort(days, kind="stable")
        members, days = members[order], days[order]
        first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        ends = np.r_[first[1:], days.size].tolist()
        for d, a, b in zip(days[first].tolist(), first.tolist(), ends, strict=True):
            self._intent_ends[d].append(members[a:b])  # views of one sorted array


def full_pass(model, t: int) -> dict[str, np.ndarray]:
    """The same counts recomputed from every member's state (slow; the tests' check of the tally)."""
    s, pop = model.state, model.pop
    counts = {name: np.zeros(N_REGIONS) for name in (*COUNT_NAMES, "face_post_rate")}
    intending_today = (s.intent_until >= t) & ~s.gave_up
    objector_eligible = pop.eligible & (pop.preference == OBJECT)
    for r, sl in enumerate(pop.slices):
        eligible = pop.eligible[sl]
        aware = s.aware_since[sl] != NOT_YET
        choice = s.choice[sl]
        enrolled = consent.is_enrolled(model.regime_today[r], choice, eligible, model.designs)
        gap = objector_eligible[sl] & enrolled
        c = {
            "aware": np.count_nonzero(aware & eligible),
            "enrolled": np.count_nonzero(enrolled),
            "opted_out": np.count_nonzero((choice == OPTED_OUT) & eligible),
            "opted_in": np.count_nonzero((choice == OPTED_IN) & eligible),
            "undecided": np.count_nonzero((choice == NO_CHOICE) & eligible),
            "gap": np.count_nonzero(gap),
            "gap_unaware": np.count_nonzero(gap & ~aware),
            "gap_intending": np.count_nonzero(gap & aware & intending_today[sl]),
            "gap_gave_up": np.count_nonzero(gap & aware & s.gave_up[sl]),
        }
        c["gap_not_trying"] = c["gap"] - c["gap_unaware"] - c["gap_intending"] - c["gap_gave_up"]
        channel = s.choice_channel[sl]
        for direction, code in (("opted_out", OPTED_OUT), ("opted_in", OPTED_IN)):
            by_channel = np.bincount(channel[(choice == code) & eligible], minlength=len(CHANNELS))
            for k, name in enumerate(CHANNELS):
                c[f"{direction}_via_{name}"] = by_channel[k]
        ps = pop.poster_slice(r)
        c["face_post_rate"] = np.dot(pop.poster_post_prob[ps].astype(np.float64), s.face_share[ps])
        for name, value in c.items():
            counts[name][r] = value
    return counts
