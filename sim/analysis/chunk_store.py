"""A design's store: each finished chunk of parameter sets, kept so that a design cut off resumes.

Per design, a folder `{stage}-{key}` (`design_key`: a hash of everything the outputs depend on, so
a changed design or code never reuses stale outputs) holds `00000.npy`... (one float64 array per
chunk: sets x outputs) and `timing.jsonl` (one line per finished chunk: its sets, wall seconds,
processes and the chunk file's sha256). A stored chunk is used only when it reads back whole, with
the shape its sets give and the digest recorded when it was written; a damaged one (cut short,
unreadable, altered) is reported and left to be run again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from sim.core.files import atomic_write

TIMING = "timing.jsonl"  # in a design's store folder: one line per finished chunk, so a resumed run's time adds up
CODE_PARTS = ("core", "model", "run", "analysis", "conf", "data")  # the parts of sim a design's outputs depend on


def chunk_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"{index:05d}.npy"


def save_chunk(folder: Path, index: int, outputs: np.ndarray, timing: dict) -> None:
    """Store a finished chunk (written whole, then renamed: a cut-off write leaves no chunk) and its
    timing line with the file's digest."""
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
