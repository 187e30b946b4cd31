"""Running a validated config and writing its run folder, atomically.

A run folder holds: config.yaml (the resolved, validated config), run.json (how it was asked for:
overrides, Hydra's config-group choices, the policy's identity), provenance.json (seed, versions,
commit, agents, wall time), series.parquet (tidy: date, region, metric, value) and summary.json
(every metric per region at the horizon). One folder holds one run: every file is written into a
staging folder inside the run folder (`.staging-PID-...`) and moved into place only when the run is
complete, summary.json last, after removing any earlier run's results; an interrupted run leaves no
result file at all (its staging folder is removed by the next run there). The run holds the
folder's claim (sim.run.claim) throughout, so two runs never write into one folder at once; results
replaced remove what was derived from them (DERIVED_DIRS). Only provenance.json holds anything that
varies between two runs of the same config and seed (times, host).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.model.config import SimConfig
from sim.model.engine import ConsentModel
from sim.model.metrics import HEADLINE, METRIC_NAMES
from sim.model.regions import OUTPUT_REGIONS, REGION_CODES
from sim.run.claim import check, claimed, pid_alive
from sim.run.files import atomic_write, write_json, write_text

RUN_INFO_FILE = "run.json"
DRAWS_FILE = "draws.csv"  # a posterior ensemble's parameter values, one row per draw (sim.run.ensemble)
# Every file a run (or a failed job) leaves in its folder; an earlier run's are removed before a new
# run's are moved in, so a folder never mixes two runs.
RESULT_FILES = (
    "config.yaml",
    RUN_INFO_FILE,
    "provenance.json",
    "series.parquet",
    DRAWS_FILE,
    "summary.json",
    "failure.json",
    "consent_curves.png",
    "dataset_by_type.png",
)
# What other commands derive from a folder's results (sim.reports.plot, sim.analysis.aggregate,
# sim.brief): stale once the results are replaced, so removed with them.
DERIVED_DIRS = ("figures", "aggregate", "brief")
COMPLETE_FILE = "summary.json"  # written last: a folder with it holds a complete run
STAGING_PREFIX = ".staging-"
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
    return {
        "seed": config.seed,
        "policy": config.policy.name,
        "agents": int(model.pop.n),
        "members": config.population.members,
        "days": int(model.day),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        **software(),
    }


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


def policy_hash(config: SimConfig) -> str:
    """A short hash of the policy section's content (the same policy, the same hash)."""
    text = json.dumps(config.policy.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def policy_identity(config: SimConfig, choice: str | None) -> str:
    """What names the run's policy in aggregation: the `policy=` choice (the file in conf/policy/),
    or, for a run without one (Python API), its name with the hash of its content, so two different
    policies that carry the same free `name` are never taken for one."""
    return choice if choice else f"{config.policy.name}~{policy_hash(config)}"


def holds_results(out_dir: Path) -> bool:
    """Whether a folder already holds a run's (or a failed job's) results."""
    return any((Path(out_dir) / name).exists() for name in ("series.parquet", "summary.json", "failure.json"))


def clear_stale(out_dir: Path) -> None:
    """Remove what interrupted runs left in a folder: staging folders and temporary files of
    processes that no longer run."""
    for path in Path(out_dir).glob(".*"):
        name = path.name
        if name.startswith(STAGING_PREFIX):
            pid = name.removeprefix(STAGING_PREFIX).split("-")[0]
        elif ".tmp" in name:
            pid = name.rsplit("-", 1)[-1] if ".tmp-" in name else ""
        else:
            continue
        if pid.isdigit() and pid_alive(int(pid)):  # this process's own, or a run still going
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def clear_results(out_dir: Path) -> None:
    """Remove an earlier run's results from a folder (before a new run's are moved in)."""
    for name in RESULT_FILES:
        (Path(out_dir) / name).unlink(missing_ok=True)
    for name in DERIVED_DIRS:  # figures, an aggregate or a brief of that run would describe the old one
        shutil.rmtree(Path(out_dir) / name, ignore_errors=True)


def execute(config: SimConfig, out_dir: Path, run_info: dict | None = None, token: str | None = None) -> dict:
    """Run one config and write its run folder; returns the summary.

    The files are made in a staging folder and moved in only when the run is complete (any earlier
    run's results in out_dir are removed first, summary.json comes last), so the folder holds either
    one complete run or no result at all. The run holds the folder's claim (sim.run.claim) all along:
    `token` is the caller's, else the folder is claimed here; it is checked again before the move.
    """
    if token is None:
        with claimed(out_dir) as own:
            return execute(config, out_dir, run_info, own)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clear_stale(out_dir)
    stage = out_dir / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        info = dict(run_info or {})
        info.setdefault("policy", policy_identity(config, (info.get("choices") or {}).get("policy")))
        info["policy_name"] = config.policy.name
        info["policy_hash"] = policy_hash(config)
        write_text(stage / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        write_json(stage / RUN_INFO_FILE, info)
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        if config.uncertainty.mode == "posterior":
            model, frame, ensemble = _run_ensemble(config, stage)
        else:
            model, ensemble = run_model(config), None
            frame = series_frame(model)
        wall = time.perf_counter() - t0
        atomic_write(stage / "series.parquet", lambda p: frame.to_parquet(p, index=False))
        result = summary(model)
        record = provenance(config, model, wall, started)
        if ensemble:
            result["posterior_ensemble"] = record["posterior_ensemble"] = ensemble
        write_json(stage / "provenance.json", record)
        if config.figures:
            from sim.reports.figures import draw_headline_figures

            draw_headline_figures(frame, model.policy.phases, stage, config.policy.name)
        write_json(stage / COMPLETE_FILE, result)
        check(out_dir, token)  # still this run's folder: never move results over another run's
        clear_results(out_dir)
        for path in sorted(stage.iterdir(), key=lambda p: p.name == COMPLETE_FILE):
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(summary_table(result))
    print(f"\nwrote {out_dir.resolve()}  ({model.pop.n:,} agents, {wall:.1f} s)")
    return result


def _run_ensemble(config: SimConfig, stage: Path) -> tuple[ConsentModel, pd.DataFrame, dict]:
    """Every posterior draw of the run (sim.run.ensemble): the series of all draws with a `draw`
    column, the draws' values in draws.csv, and a model whose records are the median over draws
    for the run's summary (its population and calendar are those of every draw: the same seed)."""
    from sim.run.ensemble import DRAW, simulate_draws

    records, table, ensemble = simulate_draws(config)
    atomic_write(stage / DRAWS_FILE, lambda p: table.to_csv(p, index=False, float_format="%.8g"))
    model = ConsentModel(config)  # not stepped: its population and dates name the summary's rows
    frames = []
    for k, draw_records in enumerate(records):
        model.records = draw_records
        frames.append(series_frame(model).assign(**{DRAW: k}))
    model.records, model.day = np.median(np.stack(records), axis=0), model.n_days
    ensemble["summary"] = "median over the posterior draws"
    return model, pd.concat(frames, ignore_index=True), ensemble


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
