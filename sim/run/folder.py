"""Running a validated config and writing its run folder, atomically.

A run folder holds: config.yaml (the resolved, validated config), provenance.json (seed, versions,
commit, agents, wall time), series.parquet (tidy: date, region, metric, value) and summary.json
(every metric per region at the horizon). Every file is written under a temporary name and renamed,
so an interrupted run never leaves a file that looks complete. Only provenance.json holds anything
that varies between two runs of the same config and seed (times, host).
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.model.config import SimConfig
from sim.model.engine import ConsentModel
from sim.model.metrics import HEADLINE, METRIC_NAMES
from sim.model.regions import ALL, REGION_CODES
from sim.run.files import atomic_write, write_json, write_text

OUTPUT_REGIONS = (*REGION_CODES, ALL)
PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "hydra-core", "matplotlib")


def run_model(config: SimConfig, progress: bool | None = None) -> ConsentModel:
    """Build and run the model over the whole horizon."""
    model = ConsentModel(config)
    show = config.progress if progress is None else progress
    from tqdm import tqdm

    with tqdm(total=model.n_days, desc=f"{config.policy.name}", unit="day", disable=not show, file=sys.stderr) as bar:
        while model.running:
            model.step()
            bar.update(1)
    return model


def series_frame(model: ConsentModel) -> pd.DataFrame:
    """The run's records as a tidy long table: date, region, metric, value."""
    n_days, n_regions, n_metrics = model.records.shape
    return pd.DataFrame(
        {
            "date": pd.to_datetime(np.repeat(model.dates[:n_days], n_regions * n_metrics)),
            "region": np.tile(np.repeat(np.array(OUTPUT_REGIONS), n_metrics), n_days),
            "metric": np.tile(np.array(METRIC_NAMES), n_days * n_regions),
            "value": model.records.reshape(-1),
        }
    )


def summary(model: ConsentModel) -> dict:
    """Every metric per region on the last simulated day, plus what the run was."""
    last = model.day - 1
    cfg = model.config
    return {
        "policy": cfg.policy.name,
        "seed": cfg.seed,
        "start": str(cfg.start),
        "end": str(cfg.end),
        "horizon_date": str(model.dates[last]),
        "agents": int(model.pop.n),
        "agents_per_region": {
            code: int(s.stop - s.start) for code, s in zip(REGION_CODES, model.pop.slices, strict=True)
        },
        "members": cfg.population.members,
        "regions": {
            code: {name: float(model.records[last, r, k]) for k, name in enumerate(METRIC_NAMES)}
            for r, code in enumerate(OUTPUT_REGIONS)
        },
    }


def provenance(config: SimConfig, model: ConsentModel, wall_time_s: float, started: datetime) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "seed": config.seed,
        "policy": config.policy.name,
        "agents": int(model.pop.n),
        "members": config.population.members,
        "days": int(model.day),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
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


def execute(config: SimConfig, out_dir: Path) -> dict:
    """Run one config and write its run folder; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    model = run_model(config)
    wall = time.perf_counter() - t0
    frame = series_frame(model)
    atomic_write(out_dir / "series.parquet", lambda p: frame.to_parquet(p, index=False))
    result = summary(model)
    write_json(out_dir / "summary.json", result)
    write_json(out_dir / "provenance.json", provenance(config, model, wall, started))
    if config.figures:
        from sim.reports.figures import draw_headline_figures

        draw_headline_figures(frame, model.policy.phases, out_dir, config.policy.name)
    print(summary_table(result))
    print(f"\nwrote {out_dir.resolve()}  ({model.pop.n:,} agents, {wall:.1f} s)")
    return result


def _readable(x: float) -> str:
    for scale, unit in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million"), (1e3, " thousand")):
        if abs(x) >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


def summary_table(result: dict) -> str:
    """A short table per region at the horizon."""
    head = f"{'region':<8}{'enrolled':>10}{'opted out':>11}{'consent gap':>13}{'text tokens':>18}{'face images':>17}"
    lines = [f"{result['policy']} at {result['horizon_date']} (shares of eligible members)", head, "-" * len(head)]
    for code, m in result["regions"].items():
        lines.append(
            f"{code:<8}{m[HEADLINE[0]]:>10.1%}{m[HEADLINE[1]]:>11.1%}{m[HEADLINE[2]]:>13.1%}"
            f"{_readable(m[HEADLINE[3]]):>18}{_readable(m[HEADLINE[4]]):>17}"
        )
    return "\n".join(lines)
