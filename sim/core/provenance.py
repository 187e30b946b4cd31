"""What ran: the code's commit, Python, platform, package versions and the command (every run
folder's, aggregate's, calibration's and sensitivity analysis's provenance). Below every layer."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "hydra-core", "matplotlib")


def software() -> dict:
    """What ran: the code's commit (with a dirty flag), Python, platform, package versions, command."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git": _git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "command": command_line(),
    }


def command_line() -> str:
    """The command as typed: `python -m sim.run ...` for the entry point, else the script's name."""
    script = Path(sys.argv[0])
    head = "python -m sim.run" if (script.name, script.parent.name) == ("__main__.py", "run") else script.name
    return " ".join([head, *sys.argv[1:]])


def _git_state() -> dict:
    """Commit of the code that ran (the repository holding this package), if any."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}
