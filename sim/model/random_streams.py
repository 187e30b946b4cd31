"""Random numbers: one root seed, named independent streams, and keyed draws.

Two kinds of draw come from the one root seed (`numpy.random.SeedSequence(seed)`):

* **Set-up streams** (`Streams.generator(name)`): a numpy Generator per named purpose
  (population attributes, graph), spawned from the root so adding a stream never shifts another.
* **Keyed draws** (`Streams.uniform(name, agent_index, day)`): inside the step, every uniform is a
  pure function of (root seed, stream name, agent, day), a counter-based generator (the splitmix64
  finaliser over the key). Why: a policy that changes *who* draws today must not shift anybody
  else's numbers. With a sequential generator, one extra draw in the EU would re-deal every later
  draw in the US; with keyed draws, an agent whose circumstances are the same under two policies
  gets exactly the same numbers (common random numbers), so a difference between policies is the
  policy's effect.
"""

from __future__ import annotations

import zlib

import numpy as np

from sim.model.compiled import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DAY_MULT = np.uint64(0xD6E8FEB86659FD93)
_TO_UNIT = 2.0**-53


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place: a bijective mix of 64-bit integers (wraps modulo 2**64)."""
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


class Streams:
    """The model's random numbers, all derived from one integer seed."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._root = np.random.SeedSequence(self.seed)
        self._keys: dict[str, np.uint64] = {}

    def _sequence(self, name: str) -> np.random.SeedSequence:
        # A stable child per name: the spawn key is the name's CRC, not its order of first use.
        return np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))

    def generator(self, name: str) -> np.random.Generator:
        """A fresh Generator for a set-up purpose (same name, same numbers)."""
        return np.random.default_rng(self._sequence(name))

    def key(self, name: str) -> np.uint64:
        """The 64-bit key of a keyed stream."""
        if name not in self._keys:
            self._keys[name] = np.uint64(self._sequence(name).generate_state(1, np.uint64)[0])
        return self._keys[name]

    def uniform(self, name: str, agent_index: np.ndarray, day: int) -> np.ndarray:
        """Uniforms in (0, 1), one per agent index, fixed by (seed, name, agent, day).

        For one (stream, day) the draws over agents are consecutive outputs of the SplitMix64
        generator (a Weyl sequence step of the golden gamma, then the finaliser: it passes BigCrush),
        started at a position that hashes (seed, name, day); two (stream, day) pairs share numbers
        only if their positions fall within a population's length of each other, a chance of about
        agents / 2**64 per pair. One finaliser round per draw, in place (few passes over memory).
        """
        start = self._start(name, day, agent_index)
        if _keyed_uniform_compiled is not None:
            index = np.asarray(agent_index, np.int64)  # methods, not np.ravel: this runs ~15 times a day
            return _keyed_uniform_compiled(index.reshape(-1), np.asarray(start).reshape(-1)).reshape(index.shape)
        x = np.asarray(agent_index).astype(np.uint64)
        x *= _GOLDEN
        x += start
        return _to_unit(x)

    def uniforms(self, names: list[str], agent_index: np.ndarray, day: int) -> np.ndarray:
        """`uniform` for several streams at once: row k is exactly `uniform(names[k], agent_index, day)`.
        Compiled, one call per stream (each one pass); in numpy, one finaliser pass over a
        (streams, agents) array instead of one per stream."""
        if _keyed_uniform_compiled is not None:
            return np.stack([self.uniform(name, agent_index, day) for name in names])
        x = np.asarray(agent_index).astype(np.uint64)
        x *= _GOLDEN
        rows = np.empty((len(names), *x.shape), np.uint64)
        for k, name in enumerate(names):  # one pass per row, no broadcast copy of the positions
            np.add(x, self._start(name, day, agent_index), out=rows[k])
        return _to_unit(rows)

    def _start(self, name: str, day: int, agent_index: np.ndarray) -> np.uint64:
        """What `uniform` adds to agent x golden gamma: the (stream, day) position."""
        return np.uint64(self._position(name, day))

    def _position(self, name: str, day: int) -> int:
        """Where the (stream, day) pair starts in the Weyl sequence."""
        return (int(self.key(name)) + (day + 1) * int(_DAY_MULT) + int(_GOLDEN)) % 2**64

    def exponential(self, name: str, agent_index: np.ndarray, day: int) -> np.ndarray:
        """Unit-rate exponential draws, keyed like `uniform`."""
        return -np.log(self.uniform(name, agent_index, day))

    def geometric_days(self, name: str, agent_index: np.ndarray, day: int, p) -> np.ndarray:
        """Days until the next success of a daily Bernoulli(p) process (1 = tomorrow).

        Drawn once per event instead of one uniform per agent per day: the event-time form of a
        daily coin flip. p = 0 gives a gap beyond any horizon.
        """
        u = self.uniform(name, agent_index, day)
        p = np.asarray(p, dtype=np.float64)
        with np.errstate(divide="ignore"):
            # log(u) < 0 over log(1 - p) <= 0: p = 0 gives log(1 - 0) = -0.0 and +inf (never), p >= 1
            # gives -inf and 0 (tomorrow); no NaN for p in [0, 1].
            gaps = np.log(u)
            gaps /= np.log1p(-np.minimum(p, 1.0))
        np.floor(gaps, out=gaps)
        np.minimum(gaps, NEVER - 1, out=gaps)
        return gaps.astype(np.int64) + 1


class BatchStreams(Streams):
    """Keyed draws for a batch of simulations laid end to end in one agent array (sim.model.batch).

    Simulation k's agents are the global indices starts[k] .. starts[k + 1] - 1, and its agent i
    (global starts[k] + i) draws exactly what agent i draws in simulation k run alone with its own
    seed: the Weyl position is shifted by -starts[k] x golden gamma (mod 2**64), so
    global x gamma + shifted position == local x gamma + position, bit for bit.
    """

    def __init__(self, streams: list[Streams], starts: np.ndarray):
        self.streams = streams
        self.starts = np.asarray(starts, np.int64)
        sizes = np.diff(self.starts)
        self.sim_of_agent = np.repeat(np.arange(len(streams), dtype=np.int32), sizes)
        self._shift = self.starts[:-1].astype(np.uint64) * _GOLDEN  # wraps mod 2**64
        self._stream_keys: dict[str, np.ndarray] = {}

    def generator(self, name: str) -> np.random.Generator:
        raise TypeError("set-up streams are per simulation: use BatchStreams.streams[k].generator")

    def _start(self, name: str, day: int, agent_index: np.ndarray) -> np.ndarray:
        keys = self._stream_keys.get(name)
        if keys is None:
            keys = np.array([int(s.key(name)) for s in self.streams], np.uint64) - self._shift
            self._stream_keys[name] = keys
        day_part = np.uint64(((day + 1) * int(_DAY_MULT) + int(_GOLDEN)) % 2**64)
        return (keys + day_part)[self.sim_of_agent[np.asarray(agent_index)]]


def _to_unit(x: np.ndarray) -> np.ndarray:
    """SplitMix64-finalise Weyl positions in place and map the top 53 bits to uniforms in (0, 1)."""
    _splitmix64(x)
    x >>= np.uint64(11)
    u = x.astype(np.float64)
    u += 0.5
    u *= _TO_UNIT
    return u


def _keyed_uniform_loop(index, start):
    """`Streams.uniform` in one pass: agent index x golden gamma + its start (one for all, or one
    per agent), the SplitMix64 finaliser, the top 53 bits to (0, 1). Unsigned 64-bit arithmetic
    wraps as numpy's does, and the last step is exact, so the result is numpy's bit for bit."""
    out = np.empty(index.size, np.float64)
    per_agent = start.size > 1
    for i in range(index.size):
        x = np.uint64(index[i]) * _GOLDEN + start[i if per_agent else 0]
        x ^= x >> np.uint64(30)
        x *= _MIX1
        x ^= x >> np.uint64(27)
        x *= _MIX2
        x ^= x >> np.uint64(31)
        out[i] = (np.float64(x >> np.uint64(11)) + 0.5) * _TO_UNIT
    return out


_keyed_uniform_compiled = njit(cache=True, nogil=True)(_keyed_uniform_loop) if njit else None

# A day index beyond any horizon the config allows (days are int16 in the state arrays).
NEVER = 32_000
