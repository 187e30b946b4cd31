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

import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.core.files import atomic_write, write_json, write_text
from sim.core.provenance import software
from sim.core.run_folder import (
    COMPLETE_FILE,
    CONFIG,
    DERIVED_DIRS,
    DRAWS,
    PROVENANCE,
    RESULT_FILES,
    RUN_INFO,
    SERIES,
    policy_hash,
    policy_identity,
)
from sim.model.config import SimConfig
from sim.model.engine import ConsentModel
from sim.model.metrics import HEADLINE, METRIC_NAMES
from sim.model.policy import region_phases
from sim.model.records import Records
from sim.model.regions import OUTPUT_REGIONS
from sim.run.claim import check, claimed, pid_alive

STAGING_PREFIX = ".staging-"


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


def series_frame(records: Records | ConsentModel) -> pd.DataFrame:
    """The run's records as a tidy long table: date, region, metric, value."""
    records = records if isinstance(records, Records) else Records.of_model(records)
    n_days, n_regions, n_metrics = records.values.shape
    return pd.DataFrame(
        {
            "date": pd.to_datetime(np.repeat(records.dates[:n_days], n_regions * n_metrics)),
            "region": np.tile(np.repeat(np.array(OUTPUT_REGIONS), n_metrics), n_days),
            "metric": np.tile(np.array(METRIC_NAMES), n_days * n_regions),
            "value": records.values.reshape(-1),
        }
    )


def summary(config: SimConfig, records: Records) -> dict:
    """Every metric per region on the last simulated day, plus what the run was."""
    return {
        "policy": config.policy.name,
        "seed": config.seed,
        "start": str(config.start),
        "end": str(config.end),
        "horizon_date": str(records.dates[-1]),
        "agents": records.agents,
        "joiners": records.joiners,
        "agents_per_region": records.agents_per_region,
        "members": config.population.members,
        "regions": records.on_day(-1),
    }


def provenance(config: SimConfig, records: Records, wall_time_s: float, started: datetime) -> dict:
    return {
        "seed": config.seed,
        "policy": config.policy.name,
        "agents": records.agents,
        "joiners": records.joiners,
        "members": config.population.members,
        "days": len(records.dates),
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall_time_s, 3),
        **software(),
    }


def policy_of(config: SimConfig) -> dict:
    """The policy section as written to config.yaml (what `policy_hash` and `policy_identity` read)."""
    return config.policy.model_dump(mode="json")


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
        policy = policy_of(config)
        info.setdefault("policy", policy_identity(policy, (info.get("choices") or {}).get("policy")))
        info["policy_name"] = config.policy.name
        info["policy_hash"] = policy_hash(policy)
        write_text(stage / CONFIG, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        write_json(stage / RUN_INFO, info)
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        if config.uncertainty.mode == "posterior":
            records, frame, ensemble = _run_ensemble(config, stage)
        else:
            records, ensemble = Records.of_model(run_model(config)), None
            frame = series_frame(records)
        wall = time.perf_counter() - t0
        atomic_write(stage / SERIES, lambda p: frame.to_parquet(p, index=False))
        result = summary(config, records)
        record = provenance(config, records, wall, started)
        if ensemble:
            result["interval"] = ensemble.pop("interval")
            result["posterior_ensemble"] = record["posterior_ensemble"] = ensemble
        write_json(stage / PROVENANCE, record)
        if config.figures:
            from sim.reports.figures import draw_headline_figures

            draw_headline_figures(frame, region_phases(config.policy), stage, config.policy.name, config)
        write_json(stage / COMPLETE_FILE, result)
        check(out_dir, token)  # still this run's folder: never move results over another run's
        clear_results(out_dir)
        for path in sorted(stage.iterdir(), key=lambda p: p.name == COMPLETE_FILE):
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if (run_info or {}).get("mode") == "multirun":  # a sweep's job: one line of progress (the summary comes at the end)
        print(f"wrote {out_dir.resolve()}  ({config.policy.name}, seed {config.seed}: {records.agents:,} agents, "
              f"{wall:.1f} s)", flush=True)  # fmt: skip
    else:
        print(summary_table(result))
        print(f"\nwrote {out_dir.resolve()}  ({records.agents:,} agents, {wall:.1f} s)")
    return result


def _run_ensemble(config: SimConfig, stage: Path) -> tuple[Records, pd.DataFrame, dict]:
    """Every posterior draw of the run (sim.run.ensemble): the series of all draws with a `draw`
    column, the draws' values in draws.csv, the median over draws for the run's summary and its
    10%-90% range at the horizon for the printed table (every draw has the run's seed, so the same
    sample and calendar)."""
    from sim.run.ensemble import DRAW, simulate_draws

    draws, table, ensemble = simulate_draws(config)
    atomic_write(stage / DRAWS, lambda p: table.to_csv(p, index=False, float_format="%.8g"))
    frames = [series_frame(r).assign(**{DRAW: k}) for k, r in enumerate(draws)]
    first = draws[0]
    values = np.stack([r.values for r in draws])
    median = Records(np.median(values, axis=0), *_axes_of(first))
    ensemble["summary"] = "median over the posterior draws"
    ensemble["interval"] = {"draws": len(draws)}
    for name, q in (("q10", 10), ("q90", 90)):
        band = Records(np.percentile(values, q, axis=0), *_axes_of(first))
        ensemble["interval"][name] = {
            code: {metric: m[metric] for metric, _ in TABLE_COLUMNS} for code, m in band.on_day(-1).items()
        }
    return median, pd.concat(frames, ignore_index=True), ensemble


def _axes_of(records: Records) -> tuple:
    """What a summary over draws keeps of one draw's records: dates, agents per region, joiners."""
    return records.dates, records.agents_per_region, records.joiners


def _readable(x: float) -> str:
    for scale, unit in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million"), (1e3, " thousand")):
        if abs(x) >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


TABLE_COLUMNS = (  # (metric, heading): the printed table's columns after the region
    (HEADLINE[0], "enrolled"),
    (HEADLINE[1], "opted out"),
    ("objector_share", "objectors"),
    (HEADLINE[2], "consent gap"),
    (HEADLINE[3], "text tokens"),
    (HEADLINE[4], "face images"),
)


def _cell(metric: str, value: float, interval: tuple[float, float] | None) -> str:
    show = _readable if metric.startswith("dataset_") else (lambda x: f"{x:.1%}")
    if interval is None:
        return show(value)
    return f"{show(value)} ({show(interval[0])} to {show(interval[1])})"


def summary_table(result: dict) -> str:
    """A short table per region at the horizon; for a posterior ensemble, the median over its draws
    with the 10%-90% range over them in brackets (`result["interval"]`)."""
    interval = result.get("interval")
    rows, excluded = [], []
    for code, m in result["regions"].items():
        bands = [(interval["q10"][code][k], interval["q90"][code][k]) if interval else None for k, _ in TABLE_COLUMNS]
        rows.append([code, *(_cell(k, m[k], b) for (k, _), b in zip(TABLE_COLUMNS, bands, strict=True))])
        if code != "ALL" and m[HEADLINE[0]] == 0 and m[HEADLINE[1]] == 0:
            excluded.append(code)
    head = ["region", *(h for _, h in TABLE_COLUMNS)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: f"{r[0]:<{widths[0]}}" + "".join(f"  {c:>{w}}" for c, w in zip(r[1:], widths[1:], strict=True))  # noqa: E731
    what = "shares of eligible members"
    if interval:
        what += f"; median over {interval['draws']} posterior draws, 10%-90% over them in brackets"
    lines = [f"{result['policy']} at {result['horizon_date']} ({what})", line(head), "-" * len(line(head))]
    lines += [line(r) for r in rows]
    if excluded:
        lines.append(f"({', '.join(excluded)}: nobody enrolled at the horizon; ALL's shares count their members too)")
    return "\n".join(lines)
