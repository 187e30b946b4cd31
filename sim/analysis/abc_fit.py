"""The ABC-SMC fit of the behavioural parameters to the calibration targets (pyabc).

`run_abc` draws parameter sets from the priors (sim.analysis.priors), simulates every target's
scenario for each through `sim.model.batch.simulate_many` (in a `Gatherer`'s batch when pyabc's
workers run in `sim.analysis.abc_sampler.BatchedMulticoreSampler`), and keeps those within each
generation's distance threshold. pyabc keeps every generation in an SQLite database, so a fit cut
off resumes; `check_resumable` says, before any work, whether a database holds this calibration's
fit. `experiments/calibrate.py` is the command line and writes the posterior files.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import evaluate_seed, load_targets, shipped_raw, with_values
from sim.analysis.posterior import effective_sample_size
from sim.analysis.priors import draw_prior, natural, prior_rv
from sim.model.batch import Gatherer

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
PYABC_TABLES = {"abc_smc", "populations", "particles", "parameters", "summary_statistics"}
RUN_ID = 1  # a fit's run in its database (a fresh fit replaces the file, so there is only one)


class Simulator:
    """The model as pyabc calls it: a parameter set in, every target's model value out."""

    def __init__(self, agents: int, durations: list | None = None):
        self.targets, self.params, self.nuisance = load_targets()
        self.base, self.agents = shipped_raw(), agents
        self.durations = durations

    def __call__(self, values) -> dict[str, float]:
        values = natural(values, self.params + self.nuisance)
        # the seed is fixed by the parameter set, so a particle's simulation can be repeated exactly
        seed = zlib.crc32(repr(sorted(values.items())).encode()) % 2**31
        start = time.perf_counter()
        gatherer = Gatherer.active  # in a batched worker: this particle's runs join the others' batch
        out = evaluate_seed(
            with_values(self.base, self.params, values),
            self.targets,
            self.agents,
            seed,
            self.nuisance,
            values,
            simulate=gatherer.run if gatherer else None,
        )
        if self.durations is not None:
            self.durations.append(time.perf_counter() - start)
        return out


def distance_between(targets):
    """sqrt(sum(((model - value) / tolerance)^2)) over the targets."""
    tolerance = {t.id: t.tolerance for t in targets}

    def distance(model: dict, observed: dict) -> float:
        return float(np.sqrt(sum(((model[k] - observed[k]) / tolerance[k]) ** 2 for k in tolerance)))

    return distance


class NotResumable(ValueError):
    """The database given to resume holds no fit of this calibration."""


def check_resumable(db: Path) -> None:
    """Raise NotResumable, naming the file and what is expected, unless `db` is a pyabc database
    holding a fit of this calibration's parameters against its targets. Reads only: a missing file
    is not created."""
    db = Path(db)
    expected = "a pyabc database written by `experiments/calibrate.py` without --resume"
    if not db.is_file():
        raise NotResumable(f"{db}: no such file; --resume continues a fit in {expected} (run without --resume first)")
    with open(db, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        raise NotResumable(f"{db}: the file is empty; --resume needs {expected}")
    if header != SQLITE_HEADER:
        raise NotResumable(f"{db}: not an SQLite database; --resume needs {expected}")
    targets, params, nuisance = load_targets()
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not PYABC_TABLES <= tables:
                raise NotResumable(f"{db}: an SQLite database without pyabc's tables; --resume needs {expected}")
            if not con.execute("SELECT 1 FROM abc_smc WHERE id = ?", (RUN_ID,)).fetchone():
                raise NotResumable(f"{db}: a pyabc database without a fit in it; --resume needs {expected}")
            names = {row[0] for row in con.execute("SELECT DISTINCT name FROM parameters")}
            statistics = {row[0] for row in con.execute("SELECT DISTINCT name FROM summary_statistics")}
    except sqlite3.DatabaseError as error:
        raise NotResumable(f"{db}: unreadable as an SQLite database ({error}); --resume needs {expected}") from None
    wanted, ids = {p["name"] for p in params + nuisance}, {t.id for t in targets}
    if names != wanted or statistics != ids:
        raise NotResumable(
            f"{db}: a fit of other parameters or targets (parameters {sorted(names)}, targets {sorted(statistics)}); "
            f"--resume needs a fit of conf/calibration/targets.yaml's (parameters {sorted(wanted)}, targets "
            f"{sorted(ids)}): run without --resume to start one"
        )


def run_abc(args) -> tuple[list[dict], np.ndarray, np.ndarray, dict]:
    """The fit `args` asks for (experiments/calibrate.py's options): the parameters (name, keys,
    prior, reason), the last generation's values on the model's scale and weights, and what the
    fit was (generations, thresholds, simulations, effective sample size, timings)."""
    db = Path(args.db)
    if args.resume:  # before any work
        check_resumable(db)
    import pyabc

    from sim.analysis.abc_sampler import BatchedMulticoreSampler

    targets, params, nuisance = load_targets()
    every = params + nuisance
    prior = pyabc.Distribution(**{p["name"]: prior_rv(p["prior"]) for p in every})
    durations: list[float] = []
    simulator = Simulator(args.agents, durations)
    rng = np.random.default_rng(args.seed)  # the cost of one parameter set, measured here (workers time nothing)
    for _ in range(args.timing_sets):
        simulator({p["name"]: draw_prior(p["prior"], rng) for p in every})
    if args.redis:
        host, _, port = args.redis.partition(":")
        sampler = pyabc.sampler.RedisEvalParallelSampler(host=host, port=int(port or 6379))
    else:
        sampler = BatchedMulticoreSampler(n_procs=args.cores, batch=args.batch)
    np.random.seed(args.seed)  # pyabc draws from numpy's global generator
    abc = pyabc.ABCSMC(
        simulator,
        prior,
        distance_between(targets),
        population_size=args.population,
        sampler=sampler,
        # a generation keeps the particles whose distance is below this quantile of the last one's
        eps=pyabc.QuantileEpsilon(alpha=args.epsilon_quantile),
    )
    if args.resume:
        history = abc.load(f"sqlite:///{db}", RUN_ID)
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
        history = abc.new(f"sqlite:///{db}", {t.id: t.value for t in targets})
    start = time.perf_counter()
    history = abc.run(
        minimum_epsilon=args.min_epsilon,
        max_nr_populations=args.generations,
        max_total_nr_simulations=args.max_simulations,
        max_walltime=dt.timedelta(minutes=args.max_minutes) if args.max_minutes else None,
        min_acceptance_rate=args.min_acceptance_rate,  # bounds one generation's cost; an unfinished one is dropped
    )
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    populations = history.get_all_populations()
    fit = {
        "library": f"pyabc {pyabc.__version__}",
        "generations": int(history.max_t + 1),
        "epsilon_schedule": [float(e) for e in populations["epsilon"] if np.isfinite(e)],
        "total_simulations": int(history.total_nr_simulations),
        # far below the population, the posterior rests on a few particles
        "effective_sample_size": round(effective_sample_size(weights), 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "timed_seconds": [round(d, 3) for d in durations],
    }
    parameters = [{k: p[k] for k in ("name", "keys", "prior", "reason")} for p in every]
    frame = pd.DataFrame([natural(row, every) for row in frame.to_dict("records")])
    values = frame[[p["name"] for p in every]].to_numpy(float)
    return parameters, values, np.asarray(weights, float), fit
