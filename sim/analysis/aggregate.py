"""A sweep's runs as one table: `python -m sim.analysis.aggregate SWEEP_DIR`, and at the end of every multirun.

Finds every run folder under SWEEP_DIR (a folder with series.parquet, or with failure.json for a
job that failed), and writes SWEEP_DIR/aggregate/:

- runs.parquet: every run's series (date, region, metric, value) with the run's settings as
  columns: every key the sweep overrode, plus the settings the plots use (policy, seed,
  feed.face_boost, training.retroactive_removal, policy.route_override, policy.notice_override);
- reduced.parquet: replicates reduced, per setting combination other than the seed, to the median
  and the 10% and 90% quantiles (`median`, `q10`, `q90`, `replicates`);
- runs.csv: one row per run: its folder, settings, status (ok or failed) and error;
- summary.json: every metric per region on the last day, per setting combination, with its
  median and 10% and 90% quantiles over replicates.

A failed job leaves failure.json (settings and error) in its folder; aggregation lists it, and the
end-of-sweep callback then exits non-zero so a sweep with a failure never looks clean.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

try:  # the callback needs Hydra; aggregation itself does not
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object

FAILURE_FILE = "failure.json"
SERIES_FILE = "series.parquet"
AGGREGATE_DIR = "aggregate"
SEED = "seed"
# Settings every run reports (from its config), whether swept or not: the plots use them.
KEY_SETTINGS = {
    "policy": ("policy", "name"),
    "seed": ("seed",),
    "feed.face_boost": ("feed", "face_boost"),
    "training.retroactive_removal": ("training", "retroactive_removal"),
    "policy.route_override": ("policy", "route_override"),
    "policy.notice_override": ("policy", "notice_override"),
}
NOT_SETTINGS = ("hydra", "progress", "figures", "experiment")


def record_failure(run_dir: Path, overrides: list[str], err: BaseException) -> None:
    """Write failure.json for a job that failed (its settings and its error), atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "overrides": overrides,
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }
    tmp = run_dir / f".{FAILURE_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / FAILURE_FILE)
    print(f"job failed, recorded in {run_dir / FAILURE_FILE}: {record['error']}", file=sys.stderr)


def _lookup(config: dict, path: tuple[str, ...]):
    node = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _setting_value(value):
    """Settings as plain scalars (lists joined with '+', e.g. notice channels)."""
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, dict):
        return value.get("name", json.dumps(value, sort_keys=True))
    return value


def run_settings(run_dir: Path) -> dict:
    """The run's settings: the plots' key settings and every key the sweep overrode."""
    config_file = run_dir / "config.yaml"
    if not config_file.exists():
        config_file = run_dir / ".hydra" / "config.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.exists() else {}
    settings = {name: _setting_value(_lookup(config, path)) for name, path in KEY_SETTINGS.items()}
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
    for item in overrides or []:
        key, _, raw = item.lstrip("+~").partition("=")
        if key.split(".")[0] in NOT_SETTINGS or key in settings:
            continue
        found = _lookup(config, tuple(key.split(".")))
        settings[key] = _setting_value(found if found is not None else yaml.safe_load(raw))
    return settings


def find_runs(sweep_dir: Path) -> list[Path]:
    """Run folders under the sweep, in a stable order."""
    found = {p.parent for p in sweep_dir.rglob(SERIES_FILE)} | {p.parent for p in sweep_dir.rglob(FAILURE_FILE)}
    return sorted((p for p in found if AGGREGATE_DIR not in p.relative_to(sweep_dir).parts), key=str)


@dataclass
class Aggregate:
    runs: pd.DataFrame  # long series with settings columns
    reduced: pd.DataFrame  # quantiles over replicates
    index: pd.DataFrame  # one row per run: folder, settings, status, error
    setting_columns: list[str]

    @property
    def failures(self) -> pd.DataFrame:
        return self.index[self.index.status == "failed"]


def aggregate(sweep_dir: Path, write: bool = True) -> Aggregate:
    """Aggregate every run under sweep_dir; write the tables into sweep_dir/aggregate."""
    sweep_dir = Path(sweep_dir)
    run_dirs = find_runs(sweep_dir)
    if not run_dirs:
        raise FileNotFoundError(f"no run folders (with {SERIES_FILE} or {FAILURE_FILE}) under {sweep_dir}")
    rows, frames = [], []
    for run_dir in run_dirs:
        settings = run_settings(run_dir)
        row = {"run": str(run_dir.relative_to(sweep_dir)) or ".", **settings}
        if (run_dir / SERIES_FILE).exists():
            frame = pd.read_parquet(run_dir / SERIES_FILE)
            frames.append(frame.assign(**{k: v for k, v in row.items()}))
            row.update(status="ok", error="")
        else:
            failure = json.loads((run_dir / FAILURE_FILE).read_text())
            row.update(status="failed", error=failure["error"])
        rows.append(row)
    index = pd.DataFrame(rows)
    setting_columns = [c for c in index.columns if c not in ("run", "status", "error")]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    reduced = reduce_replicates(runs, setting_columns) if frames else pd.DataFrame()
    result = Aggregate(runs, reduced, index, setting_columns)
    if write:
        _write(result, sweep_dir / AGGREGATE_DIR)
    return result


def reduce_replicates(runs: pd.DataFrame, setting_columns: list[str]) -> pd.DataFrame:
    """Median, 10% and 90% quantiles over seeds, per combination of the other settings."""
    keys = [c for c in setting_columns if c != SEED]
    group_keys = [k for k in keys if runs[k].notna().any()] + ["date", "region", "metric"]
    filled = runs.copy()
    for k in group_keys:  # groupby drops missing keys; a setting that is None is still a group
        if filled[k].isna().any():
            filled[k] = filled[k].astype(object).where(filled[k].notna(), "none")
    grouped = filled.groupby(group_keys, sort=True, observed=True)["value"]
    out = grouped.quantile([0.1, 0.5, 0.9]).unstack()
    out.columns = ["q10", "median", "q90"]
    out["replicates"] = grouped.size()
    return out.reset_index()[[*group_keys, "median", "q10", "q90", "replicates"]]


def _write(result: Aggregate, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame, writer in (
        ("runs.parquet", result.runs, lambda f, p: f.to_parquet(p, index=False)),
        ("reduced.parquet", result.reduced, lambda f, p: f.to_parquet(p, index=False)),
        ("runs.csv", result.index, lambda f, p: f.to_csv(p, index=False)),
    ):
        tmp = out_dir / f".{name}.tmp"
        writer(_plain_columns(frame), tmp)
        os.replace(tmp, out_dir / name)
    if len(result.reduced):
        tmp = out_dir / ".summary.json.tmp"
        tmp.write_text(json.dumps(horizon_summary(result.reduced), indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, out_dir / "summary.json")


def horizon_summary(reduced: pd.DataFrame) -> list[dict]:
    """Every metric per region on the last day, per setting combination, with its interval over
    replicates (median, q10, q90): the sweep's headline numbers."""
    last = reduced[reduced.date == reduced.date.max()]
    keys = [c for c in last.columns if c not in ("date", "region", "metric", "median", "q10", "q90", "replicates")]
    out = []
    for combo, part in last.groupby(keys, sort=True, dropna=False) if keys else [((), last)]:
        combo = combo if isinstance(combo, tuple) else (combo,)
        regions = {}
        for row in part.itertuples(index=False):
            regions.setdefault(row.region, {})[row.metric] = {
                "median": row.median,
                "q10": row.q10,
                "q90": row.q90,
                "replicates": int(row.replicates),
            }
        out.append(
            {"settings": dict(zip(keys, combo, strict=True)), "date": str(part.date.iloc[0].date()), "regions": regions}
        )
    return out


def _plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: mixed setting columns become strings."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(type).nunique() > 1:
            out[c] = out[c].astype(str)
    return out


def report(result: Aggregate, sweep_dir: Path) -> str:
    ok = (result.index.status == "ok").sum()
    lines = [f"aggregated {ok} run(s) of {len(result.index)} into {Path(sweep_dir) / AGGREGATE_DIR}"]
    lines.append(f"settings: {', '.join(result.setting_columns)}")
    for _, row in result.failures.iterrows():
        settings = ", ".join(f"{k}={row[k]}" for k in result.setting_columns)
        lines.append(f"FAILED {row['run']} ({settings}): {row['error']}")
    return "\n".join(lines)


class AggregateOnMultirunEnd(Callback):
    """Hydra callback: aggregate the sweep when it ends; fail the command if a job failed."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        result = aggregate(sweep_dir)
        print(report(result, sweep_dir))
        if len(result.failures):
            # Hydra turns a callback's exception into a warning; SystemExit is how the sweep's
            # command exits non-zero (everything else of the sweep is done by now).
            raise SystemExit(f"{len(result.failures)} job(s) failed; see {sweep_dir / AGGREGATE_DIR / 'runs.csv'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun folder (or any folder of run folders)")
    args = parser.parse_args(argv)
    try:
        result = aggregate(args.sweep_dir)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    print(report(result, args.sweep_dir))
    return 1 if len(result.failures) else 0


if __name__ == "__main__":
    sys.exit(main())
