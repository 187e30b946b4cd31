"""A design's parameter sets run in parallel chunks, each kept in a store so a run cut off resumes.

`run_design` runs the sets of a design (one row per set) in chunks through
`sim.analysis.sensitivity.run_chunk` (each chunk's runs go to `sim.model.batch.simulate_many`
together), on joblib's processes or a Ray cluster. With a store folder, each finished chunk is saved
under a key of everything its outputs depend on (`design_key`), so the same command run again
resumes where it stopped, and a changed design or code never reuses stale outputs. A stored chunk
is used only when it reads back whole, with the shape its sets give and the digest recorded when it
was written; a damaged one (cut short, unreadable, altered) is reported and run again.

The store's layout, per design: `{stage}-{key}/00000.npy`... (one float64 array per chunk: sets x
outputs) and `timing.jsonl` (one line per finished chunk: its sets, wall seconds, processes and the
chunk file's sha256).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

TIMING = "timing.jsonl"  # in a design's store folder: one line per finished chunk, so a resumed run's time adds up
CODE_PARTS = ("core", "model", "run", "analysis", "conf", "data")  # the parts of sim a design's outputs depend on


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


def chunk_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"{index:05d}.npy"


def save_chunk(folder: Path, index: int, outputs: np.ndarray, timing: dict) -> None:
    """Store a finished chunk (written whole, then renamed: a cut-off write leaves no chunk) and its
    timing line with the file's digest."""
    from sim.core.files import atomic_write

    path = chunk_path(folder, index)
    atomic_write(path, lambda tmp: _save_npy(tmp, outputs))
    record = {"chunk": index, **timing, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    with open(Path(folder) / TIMING, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _save_npy(path: Path, outputs: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would add ".npy" to a temporary name
        np.save(f, outputs, allow_pickle=False)


def stored_chunks(folder: Path, shapes: list[tuple[int, int]]) -> dict[int, np.ndarray]:
    """The chunks of a store that read back whole, by index; a damaged one is reported on stderr,
    removed and left out (to be run again). `shapes`: each chunk's (sets, outputs)."""
    digests = {r["chunk"]: r.get("sha256") for r in _timing_records(folder)}
    out = {}
    for i, shape in enumerate(shapes):
        path = chunk_path(folder, i)
        if not path.exists():
            continue
        values, problem = _read_chunk(path, shape, digests.get(i))
        if problem is None:
            out[i] = values
        else:
            print(f"  {path}: damaged chunk ({problem}); running its {shape[0]} sets again", file=sys.stderr)
            path.unlink()
    return out


def _read_chunk(path: Path, shape: tuple[int, int], digest: str | None) -> tuple[np.ndarray | None, str | None]:
    """The chunk's outputs, or None and what is wrong with it."""
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:  # cut short, or not a .npy file
        return None, f"unreadable: {error}"
    if values.dtype != np.float64 or values.shape != shape:
        return None, f"{values.dtype} array of shape {values.shape}, expected float64 of shape {shape}"
    if digest is not None and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        return None, "its sha256 differs from the one recorded when it was written"
    return values, None


def _timing_records(folder: Path) -> list[dict]:
    """The store's timing lines in order; a cut-off line (a run killed while writing it) is skipped."""
    path = Path(folder) / TIMING
    records = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def design_time(folder: Path) -> dict:
    """The wall time its stored chunks took, summed over the invocations that ran them: the sets
    timed, their wall seconds and the process counts used. A chunk stored without a timing line
    (an older store) is left out of both, so the pace stays right."""
    per_chunk = {}
    for record in _timing_records(folder):
        if chunk_path(folder, record["chunk"]).exists():
            per_chunk[record["chunk"]] = record  # the last run of a chunk is the one stored
    records = per_chunk.values()
    return {
        "sets": sum(r["sets"] for r in records),
        "wall_s": sum(r["wall_s"] for r in records),
        "jobs": sorted({r["jobs"] for r in records}),
    }


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


def design_key(X, names, bases, spec, agents, seed, n_chunks) -> str:
    """A hash of what a design's outputs depend on: the sample, the configs, the spec, the size,
    the seed, the chunking and the code that computes them (the modules, configs and data of
    CODE_PARTS; not the briefs, reports or explorer, whose changes leave the outputs as they are)."""
    import sim

    digest = hashlib.sha256()
    settings = {"names": names, "bases": bases, "spec": spec, "agents": agents, "seed": seed, "chunks": n_chunks}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    package = Path(sim.__file__).parent
    for part in CODE_PARTS:
        for path in sorted((package / part).rglob("*")):
            if path.suffix in {".py", ".csv", ".yaml", ".json"} and path.parent != package / "data" / "sensitivity":
                digest.update(str(path.relative_to(package)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]
