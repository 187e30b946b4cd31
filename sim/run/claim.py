"""A run folder's claim: one run writes into a folder at a time.

A run (or a sweep job) creates `.run.lock` in its folder with O_CREAT | O_EXCL before any work, so
of two runs started into one folder at once exactly one gets it; the other stops with a message
naming the folder and the run that holds it. The claim is checked again just before results are
moved in, and released (the file removed) when the run ends, however it ends. A claim whose
process no longer runs on this host (a killed run) is taken over; one of another host is never
guessed at: its message says which host and process to check.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".run.lock"


class FolderBusy(RuntimeError):
    """Another run holds the folder (the message names the folder, the holder and what to do)."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _read(lock: Path) -> dict:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}  # being written this instant, or damaged: the holder is unknown
    return data if isinstance(data, dict) else {}


def _holder_gone(holder: dict) -> bool:
    """Whether a claim's process is known to have ended (same host, no such process)."""
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)


def _busy(out_dir: Path, holder: dict) -> FolderBusy:
    who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started {holder.get('started_utc', '?')}"
    return FolderBusy(
        f"{out_dir} is being written by another run ({who}): wait for it to finish, or choose another "
        f"folder (hydra.run.dir=DIR); if no run is going there, remove {out_dir / LOCK_FILE}"
    )


def acquire(out_dir: Path) -> str:
    """Claim `out_dir` (created if needed); return the claim's token. Raise FolderBusy if another
    live run holds it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / LOCK_FILE
    token = uuid.uuid4().hex
    record = {"pid": os.getpid(), "host": socket.gethostname(), "token": token,
              "started_utc": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    for _ in range(2):  # a second try after taking over a dead run's claim
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(lock)
            if not _holder_gone(holder):
                raise _busy(out_dir, holder) from None
            lock.unlink(missing_ok=True)  # a killed run's claim; `holds` catches a racing takeover
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
        return token
    raise _busy(out_dir, _read(lock))


def holds(out_dir: Path, token: str) -> bool:
    """Whether the claim on `out_dir` is still the one `token` names."""
    return _read(Path(out_dir) / LOCK_FILE).get("token") == token


def check(out_dir: Path, token: str) -> None:
    """Raise FolderBusy unless `token` still holds `out_dir` (called before results are moved in)."""
    if not holds(out_dir, token):
        raise _busy(Path(out_dir), _read(Path(out_dir) / LOCK_FILE))


def release(out_dir: Path, token: str) -> None:
    if holds(out_dir, token):
        (Path(out_dir) / LOCK_FILE).unlink(missing_ok=True)


@contextmanager
def claimed(out_dir: Path):
    """`with claimed(folder) as token:` the folder is this run's until the block ends."""
    token = acquire(out_dir)
    try:
        yield token
    finally:
        release(out_dir, token)
