"""A design's parameter sets run in parallel chunks, each kept in a store so a run cut off resumes.

`run_design` runs the sets of a design (one row per set) in chunks through
`sim.analysis.sensitivity.run_chunk` (each chunk's runs go to `sim.model.batch.simulate_many`
together), on joblib's processes or a Ray cluster. With a store folder, each finished chunk is kept
there (sim.analysis.chunk_store), so the same command run again resumes where it stopped; a
damaged stored chunk is reported and run again, never used.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sim.analysis.chunk_store import design_key, design_time, save_chunk, stored_chunks


def run_design(stage, X, names, parameters, bases, spec, agents, seed, jobs, backend="loky", store=None):
    """The outputs of every parameter set of the design X (one row per set, spec order), how many
    of the sets were run here (the others came from the store), and the design's run time
    (`design_time`: over every invocation that ran its chunks when there is a store)."""
    from joblib import effective_n_jobs, parallel_backend

    from sim.analysis.sensitivity import output_names, run_chunk
    from sim.model.batch import BATCH_AGENTS

    if backend == "ray":  # a Ray cluster (RAY_ADDRESS, or a local Ray): the [ray] extra
        from ray.util.joblib import register_ray

        register_ray()
    rows = [dict(zip(names, x, strict=True)) for x in X]
    # at least one chunk per job, and no more sets in a chunk than a batch of BATCH_AGENTS holds
    per_chunk = max(BATCH_AGENTS // (agents * len(spec["policies"])), 1)
    n_chunks = max(effective_n_jobs(jobs), -(-len(rows) // per_chunk))
    chunks = [list(c) for c in np.array_split(np.array(rows, dtype=object), n_chunks) if len(c)]
    folder = None
    if store is not None:
        folder = Path(store) / f"{stage}-{design_key(X, names, bases, spec, agents, seed, len(chunks))}"
        folder.mkdir(parents=True, exist_ok=True)
    shape = len(output_names(spec))
    done = {} if folder is None else stored_chunks(folder, [(len(c), shape) for c in chunks])
    if done:
        print(f"  {stage}: resuming, {len(done)} of {len(chunks)} chunks already in {folder}", file=sys.stderr)
    todo = [i for i in range(len(chunks)) if i not in done]
    n_jobs = effective_n_jobs(jobs)
    t0 = last = time.perf_counter()
    progress = _Progress(stage, len(rows), len(chunks), len(chunks) - len(todo))
    with parallel_backend(backend, n_jobs=jobs):
        calls = [(run_chunk, (i, bases, parameters, chunks[i], spec, agents, seed)) for i in todo]
        for i, outputs in _as_finished(calls, backend, n_jobs):
            now = time.perf_counter()
            done[i] = np.array(outputs, dtype=np.float64)
            if folder is not None:  # wall time since the previous chunk finished: over an invocation, its wall time
                save_chunk(folder, i, done[i], {"sets": len(chunks[i]), "wall_s": round(now - last, 3), "jobs": n_jobs})
            last = now
            progress.chunk_done(len(done), now - t0)
    ran = sum(len(chunks[i]) for i in todo)
    print(f"  {stage}: {ran} of {len(rows)} sets run in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    timed = design_time(folder) if folder is not None else {"sets": ran, "wall_s": last - t0, "jobs": [n_jobs]}
    return np.concatenate([done[i] for i in range(len(chunks))]), ran, timed


class _Progress:
    """A line on stderr every 5% of a design's chunks, with the time left at this invocation's pace."""

    def __init__(self, stage: str, sets: int, chunks: int, stored: int):
        self.stage, self.sets, self.chunks, self.stored, self.reported = stage, sets, chunks, stored, -1

    def chunk_done(self, done: int, elapsed: float) -> None:
        percent = 100 * done // self.chunks
        if percent // 5 > self.reported:
            self.reported = percent // 5
            left = elapsed / max(done - self.stored, 1) * (self.chunks - done)
            print(f"  {self.stage}: {percent}% of {self.sets} sets, {elapsed:.0f} s, about {left:.0f} s left",
                  file=sys.stderr, flush=True)  # fmt: skip


def _as_finished(calls, backend, n_jobs):
    """(chunk index, outputs) as chunks finish. Ray's joblib backend cannot hand results back one by
    one, so there they come in waves of a few chunks per worker."""
    from joblib import Parallel, delayed

    calls = [delayed(function)(*args) for function, args in calls]
    if backend != "ray":
        yield from Parallel(return_as="generator_unordered")(calls)
        return
    wave = 4 * n_jobs
    for start in range(0, len(calls), wave):
        yield from Parallel()(calls[start : start + wave])
