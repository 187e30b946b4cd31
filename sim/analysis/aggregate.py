"""A sweep's runs as one table: `python -m sim.analysis.aggregate SWEEP_DIR`, and at the end of every multirun.

Finds every run folder under SWEEP_DIR (a folder with a run's files, or with failure.json for a
job that failed) and every job the sweep planned (from SWEEP_DIR/multirun.yaml), and writes
SWEEP_DIR/aggregate/:

- runs.parquet/: a folder of Parquet files, one per complete run (read it whole with
  `pd.read_parquet`, or only the columns and rows needed: docs/SWEEPS.md): every run's series
  (date, region, metric, value) with the run's settings as columns: every key the sweep overrode,
  plus the settings the plots use (policy, seed, feed.face_boost, training.retroactive_removal,
  policy.route_override, policy.notice_override); `policy` is the `policy=` choice (the file in
  conf/policy/), not the policy's free `name`;
- horizon.parquet: the same rows on the sweep's last day only (what per-replicate comparisons read);
- reduced.parquet: replicates (seeds, and posterior draws when runs have them) reduced, per setting
  combination other than the seed, to the median
  and the 10% and 90% quantiles (`median`, `q10`, `q90`, `replicates`);
- runs.csv: one row per run or planned job: its folder, settings, status and error. Status is
  `ok` (complete), `failed` (failure.json, or result files that cannot be read), `missing` (planned
  or started but never finished: no result and no failure.json, e.g. a killed worker or an
  interrupted sweep) or `duplicate` (the same settings and seed as another run: never merged);
- uncertainty.parquet (posterior ensembles only): per headline number at the horizon, the 10-90%
  width over all replicates (seeds x posterior draws), over seeds alone, and the behavioural share
  of the variance (sim.analysis.uncertainty);
- summary.json: every metric per region on each setting combination's last day (so a sweep over
  `end` keeps every horizon), with its median and 10% and 90% quantiles over replicates;
- manifest.json: which runs were aggregated (each run's files' sizes and modification times, its
  series' SHA-256) and the software that did it; `aggregate_is_current(sweep_dir)` compares it
  with the sweep folder as it is now.

The tables are computed out of core (sim.analysis.columnar, DuckDB) in bounded memory, written
into a staging folder and swapped in whole, so a reader never sees half of an aggregate.

Only `ok` runs enter runs.parquet, reduced.parquet and summary.json. The end-of-sweep callback,
and this command, exit non-zero when any run is not `ok`, so a sweep with a problem never looks clean:
exit 0 when every run is `ok`, 1 when any is not, 2 on bad input (no such folder, a file instead
of a folder, no run folders in it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from tqdm import tqdm

from sim.analysis import columnar
from sim.analysis.tables import (  # noqa: F401 (the aggregate's names, imported from here by plot and brief)
    HORIZON_FILE,
    REDUCED_FILE,
    RUNS_DATASET,
    SEED,
    SERIES_FILE,
    SUMMARY_FILE,
    horizon_summary,
    plain_columns,
    unreadable,
    write_tables,
)
from sim.core.compose import get_key
from sim.core.files import write_json
from sim.core.run_folder import CONFIG, FAILURE, NOTES_DIR, RUN_INFO, policy_identity

try:  # the callback needs Hydra; aggregation itself does not
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object

FAILURE_FILE, RUN_INFO_FILE = FAILURE, RUN_INFO  # a run folder's names (sim.core.run_folder), as before
MULTIRUN_FILE = "multirun.yaml"
DEFAULT_SUBDIR = "${hydra.job.num}"
PROBLEMS = ("failed", "missing", "duplicate")
AGGREGATE_DIR = "aggregate"
INDEX_FILE = "runs.csv"
MANIFEST_FILE = "manifest.json"
LAYOUT = 2  # the aggregate folder's layout (1: runs.parquet one file, no manifest)
# A run folder's files whose change changes the aggregate (its status, settings or series).
TRACKED = (SERIES_FILE, SUMMARY_FILE, FAILURE_FILE, RUN_INFO_FILE, CONFIG, ".hydra/config.yaml",
           ".hydra/overrides.yaml")  # fmt: skip
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


def record_failure(run_dir: Path, overrides: list[str], err: BaseException, info: dict | None = None) -> None:
    """Write failure.json for a job that failed (its settings and its error), atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    info = info or {}
    record = {
        "overrides": overrides,
        "choices": info.get("choices", {}),
        "job": info.get("job"),
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }
    write_json(run_dir / FAILURE_FILE, record)
    print(f"job failed, recorded in {run_dir / FAILURE_FILE}: {record['error']}", file=sys.stderr)


def _lookup(config: dict, path: tuple[str, ...]):
    return get_key(config, ".".join(path), default=None)


def _setting_value(value):
    """Settings as plain scalars (lists joined with '+', e.g. notice channels)."""
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, dict):
        return value.get("name", json.dumps(value, sort_keys=True))
    return value


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ten times as fast on 3,000 configs


def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(), Loader=_LOADER) if path.exists() else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def run_settings(run_dir: Path, overrides: list[str] | None = None, choices: dict | None = None) -> dict:
    """The run's settings: the plots' key settings and every key the sweep overrode.

    `policy` is the run's `policy=` choice (from run.json or failure.json), or, for a run that
    recorded none, its policy's name with a hash of the policy's content."""
    config = _read_yaml(run_dir / CONFIG) or _read_yaml(run_dir / ".hydra" / "config.yaml") or {}
    if not isinstance(config, dict):
        config = {}
    info = _read_json(run_dir / RUN_INFO_FILE) or _read_json(run_dir / FAILURE_FILE) or {}
    settings = {name: _setting_value(_lookup(config, path)) for name, path in KEY_SETTINGS.items()}
    if overrides is None:
        overrides = info.get("overrides")
    if overrides is None:
        overrides = _read_yaml(run_dir / ".hydra" / "overrides.yaml") or []
    overridden = {}
    for item in overrides or []:
        key, _, raw = str(item).lstrip("+~").partition("=")
        overridden[key] = raw
    policy_section = config.get("policy")
    policy = info.get("policy") or (info.get("choices") or {}).get("policy") or overridden.get("policy")
    if not policy and (choices or {}).get("policy") and (not config or "name" not in (policy_section or {})):
        policy = choices["policy"]
    if not policy and isinstance(policy_section, dict):
        policy = policy_identity(policy_section, None)
    settings["policy"] = policy or settings["policy"]
    for key, raw in overridden.items():
        if key.split(".")[0] in NOT_SETTINGS or key == "replace" or key == "policy":
            continue
        if key in settings and settings[key] is not None:
            continue
        found = _lookup(config, tuple(key.split(".")))
        try:
            parsed = yaml.safe_load(raw)
        except yaml.YAMLError:
            parsed = raw
        settings[key] = _setting_value(found if found is not None else parsed)
    return settings


def find_runs(sweep_dir: Path) -> list[Path]:
    """Run folders under the sweep (complete, failed or unfinished), in a stable order."""
    found = set()
    for name in (SERIES_FILE, SUMMARY_FILE, FAILURE_FILE, RUN_INFO_FILE):
        found |= {p.parent for p in sweep_dir.rglob(name)}
    found |= {p.parent for p in sweep_dir.rglob(".staging-*") if p.is_dir()}
    found |= {p.parent for p in sweep_dir.rglob(".hydra") if p.is_dir()}
    keep = [p for p in found if not {AGGREGATE_DIR, "figures", "brief"} & set(p.relative_to(sweep_dir).parts)]
    return sorted(keep, key=str)


def planned_jobs(sweep_dir: Path) -> tuple[dict[int, list[str]], dict]:
    """The jobs a Hydra sweep planned, by job number (each with its overrides), from multirun.yaml,
    and the sweep's config-group choices; empty if the sweep's plan cannot be read."""
    plan = _read_yaml(Path(sweep_dir) / MULTIRUN_FILE)
    if not isinstance(plan, dict):
        return {}, {}
    hydra_cfg = plan.get("hydra") or {}
    choices = {k: v for k, v in ((hydra_cfg.get("runtime") or {}).get("choices") or {}).items() if "hydra/" not in k}
    if (hydra_cfg.get("sweep") or {}).get("subdir") != DEFAULT_SUBDIR:
        return {}, choices
    params = (hydra_cfg.get("sweeper") or {}).get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list((hydra_cfg.get("overrides") or {}).get("task") or [])
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        parsed = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(parsed, None)
    except Exception:  # an unusual sweeper or override: fall back on the folders found
        return {}, choices
    jobs = [job for batch in batches for job in batch]
    return dict(enumerate(jobs)), choices


def _series_schema(run_dir: Path) -> pa.Schema:
    """The series' schema from its footer (the data is read once, when it is copied)."""
    schema = pq.read_schema(run_dir / SERIES_FILE)
    missing = set(columnar.SERIES_COLUMNS) - set(schema.names)
    if missing:
        raise ValueError(f"no column(s) {sorted(missing)}")
    return schema


@dataclass
class Aggregate:
    index: pd.DataFrame  # one row per run: folder, settings, status, error
    setting_columns: list[str]
    out_dir: Path | None = None  # where the tables are (None: aggregate(write=False), the index only)

    @property
    def failures(self) -> pd.DataFrame:
        return self.index[self.index.status == "failed"]

    @property
    def problems(self) -> pd.DataFrame:
        """Every run or planned job that is not a complete, unique run."""
        return self.index[self.index.status != "ok"]


def _status(run_dir: Path) -> tuple[str, str, pa.Schema | None]:
    """(status, error, series schema) of one run folder."""
    if (run_dir / FAILURE_FILE).exists():  # a failure wins over any file an earlier run left
        failure = _read_json(run_dir / FAILURE_FILE)
        return "failed", (failure or {}).get("error", f"unreadable {FAILURE_FILE}"), None
    if not (run_dir / SERIES_FILE).exists() or not (run_dir / SUMMARY_FILE).exists():
        return "missing", "no result: the run did not finish (interrupted or killed)", None
    try:
        schema = _series_schema(run_dir)
    except Exception as err:  # a corrupt or truncated file: a failed run, not a crash
        return "failed", unreadable(err), None
    if _read_json(run_dir / SUMMARY_FILE) is None:
        return "failed", f"unreadable {SUMMARY_FILE}", None
    return "ok", "", schema


def _check_folder(sweep_dir: Path) -> None:
    """A file where a sweep folder is expected: say what was given and what is wanted."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        # the sweep folder it is in: the first with the sweep's plan, or the one holding a run folder
        hint = next((p if (p / MULTIRUN_FILE).exists() else p.parent for p in sweep_dir.parents
                     if (p / MULTIRUN_FILE).exists() or p.name.isdigit()), None)  # fmt: skip
        raise NotADirectoryError(
            f"{sweep_dir} is a file, not a folder: give a sweep folder (the folder that holds the run "
            f"folders and {MULTIRUN_FILE})" + (f", e.g. {hint}" if hint else "")
        )


def fingerprint(sweep_dir: Path) -> dict:
    """What the aggregate of sweep_dir depends on: every run folder's tracked files (size and
    modification time, in ns) and the sweep's plan; equal fingerprints, equal aggregates."""
    sweep_dir = Path(sweep_dir)
    runs = {}
    for run_dir in find_runs(sweep_dir):
        files = {}
        for name in TRACKED:
            try:
                st = (run_dir / name).stat()
            except OSError:
                continue
            files[name] = [st.st_size, st.st_mtime_ns]
        runs[str(run_dir.relative_to(sweep_dir)) or "."] = files
    try:
        st = (sweep_dir / MULTIRUN_FILE).stat()
        plan = [st.st_size, st.st_mtime_ns]
    except OSError:
        plan = None
    return {"runs": runs, "plan": plan}


def aggregate_is_current(sweep_dir) -> bool:
    """True when sweep_dir/aggregate holds this layout's tables of exactly the run files there now
    (no run added, removed, replaced or rerun since), so a reader may use it without aggregating.
    An aggregate kept alone (a copy without any of its run folders) is taken as it is: there is
    nothing to compare it with, and nothing to aggregate again."""
    agg = Path(sweep_dir) / AGGREGATE_DIR
    manifest = _read_json(agg / MANIFEST_FILE)
    if not manifest or manifest.get("layout") != LAYOUT:
        return False
    if not all((agg / name).exists() for name in (INDEX_FILE, REDUCED_FILE, RUNS_DATASET)):
        return False
    now = fingerprint(sweep_dir)
    listed = (manifest.get("fingerprint") or {}).get("runs", {})
    if listed and not now["runs"] and not any((Path(sweep_dir) / run).is_dir() for run in listed if run != "."):
        return True
    return manifest.get("fingerprint") == now


def aggregate(sweep_dir: Path, write: bool = True) -> Aggregate:
    """Aggregate every run under sweep_dir; write the tables into sweep_dir/aggregate (with
    write=False, only the run index: statuses and duplicates)."""
    sweep_dir = Path(sweep_dir)
    _check_folder(sweep_dir)
    prints = fingerprint(sweep_dir)  # before reading: a run changed meanwhile makes it stale
    run_dirs = find_runs(sweep_dir)
    planned, choices = planned_jobs(sweep_dir)
    if not run_dirs and not planned:
        raise FileNotFoundError(f"no run folders (with {SERIES_FILE} or {FAILURE_FILE}) under {sweep_dir}")
    rows, schemas = [], {}
    seen = set()
    for run_dir in tqdm(run_dirs, desc="run folders", unit="run", disable=None, leave=False):
        rel = str(run_dir.relative_to(sweep_dir)) or "."
        job = int(rel) if rel.isdigit() and int(rel) in planned else None
        settings = run_settings(run_dir, planned[job] if job is not None else None, choices)
        status, error, schema = _status(run_dir)
        rows.append({"run": rel, **settings, "status": status, "error": error})
        if schema is not None:
            schemas[rel] = schema
        seen.add(rel)
    for job, overrides in planned.items():
        if str(job) not in seen:  # planned, never started (or its folder is gone)
            settings = run_settings(sweep_dir / str(job), overrides, choices)
            rows.append({"run": str(job), **settings, "status": "missing", "error": "no result: the job never ran"})
    index = pd.DataFrame(rows)
    setting_columns = [c for c in index.columns if c not in ("run", "status", "error")]
    index = _mark_duplicates(index, setting_columns)
    index = index[["run", *setting_columns, "status", "error"]]
    result = Aggregate(index, setting_columns)
    if write:
        result.out_dir = sweep_dir / AGGREGATE_DIR
        _write(result, sweep_dir, schemas, prints)
    return result


def _mark_duplicates(index: pd.DataFrame, setting_columns: list[str]) -> pd.DataFrame:
    """Runs with identical settings and seed are never replicates of each other: mark them."""
    index = index.copy()
    ok = index[index.status == "ok"]
    if ok.empty:
        return index
    key = ok[setting_columns].map(str).agg("|".join, axis=1)
    for _, group in ok.groupby(key):
        if len(group) > 1:
            for i in group.index:
                others = ", ".join(str(r) for r in group.run if r != index.at[i, "run"])
                index.at[i, "status"] = "duplicate"
                index.at[i, "error"] = f"same settings and seed as run(s) {others}: not merged"
    return index


def _write(result: Aggregate, sweep_dir: Path, schemas: dict[str, pa.Schema], prints: dict) -> None:
    """Every table into a staging folder, then swapped in for sweep_dir/aggregate whole."""
    out_dir = sweep_dir / AGGREGATE_DIR
    stage = sweep_dir / f".{AGGREGATE_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / RUNS_DATASET).mkdir(parents=True)
    try:
        runs = write_tables(result.index, result.setting_columns, sweep_dir, stage, schemas)
        result.index.to_csv(stage / INDEX_FILE, index=False)
        write_json(stage / MANIFEST_FILE, _manifest(result, runs, prints), default=str)
        old = sweep_dir / f".{AGGREGATE_DIR}.old-{os.getpid()}"
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(stage, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _manifest(result: Aggregate, hashes: dict[str, str], prints: dict) -> dict:
    """Which runs this aggregate holds (and of which files), and what made it."""
    from sim.core.provenance import software

    runs = [{"run": r, "status": s, "series_sha256": hashes.get(r)} for r, s in result.index[["run", "status"]].values]
    return {
        "layout": LAYOUT,
        "aggregated_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "fingerprint": prints,
        "software": software(),
    }


def swept(result: Aggregate) -> list[str]:
    """The settings that differ between the sweep's runs (the others, such as the plots' settings
    that every run reports, are the same in all of them and say nothing about this sweep)."""
    index = result.index
    return [c for c in result.setting_columns if index[c].astype(str).nunique(dropna=False) > 1]


def report(result: Aggregate, sweep_dir: Path) -> str:
    counts = result.index.status.value_counts()
    ok = int(counts.get("ok", 0))
    lines = [f"aggregated {ok} run(s) of {len(result.index)} into {Path(sweep_dir) / AGGREGATE_DIR}"]
    problems = ", ".join(f"{int(counts[s])} {s}" for s in PROBLEMS if counts.get(s, 0))
    if problems:
        lines[0] += f" ({problems})"
    keys = swept(result) or result.setting_columns
    for _, row in result.problems.iterrows():
        settings = ", ".join(f"{k}={row[k]}" for k in keys)
        lines.append(f"{row['status'].upper()} {row['run']} ({settings}): {row['error']}")
    return "\n".join(lines)


SUMMARY_METRICS = (("enrolled", "enrolled_share"), ("opted out", "opted_out_share"),
                   ("consent gap", "consent_gap_share"))  # fmt: skip


def summary_across_settings(result: Aggregate, sweep_dir: Path) -> str:
    """The sweep's headline at the horizon, one line per setting combination (the swept settings
    but the seed): the whole membership's enrolled, opted-out and consent-gap shares, median over
    the replicates with the 10%-90% range."""
    try:
        combos = json.loads((Path(sweep_dir) / AGGREGATE_DIR / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(combos, list) or not combos:
        return ""
    keys = [k for k in swept(result) if k != SEED]
    labels = [" ".join(str(c.get("settings", {}).get(k)) for k in keys) or "all runs" for c in combos]
    width = max(len(", ".join(keys) or "runs"), *map(len, labels))
    head = f"{', '.join(keys) or 'runs':<{width}}" + "".join(f"{name:>22}" for name, _ in SUMMARY_METRICS)
    replicates = {c["regions"].get("ALL", {}).get(SUMMARY_METRICS[0][1], {}).get("replicates") for c in combos}
    shown = ", ".join(str(r) for r in sorted(r for r in replicates if r is not None))
    lines = [f"at the horizon, all regions: median over the replicates ({shown}) [10%-90%]", head, "-" * len(head)]
    for label, combo in zip(labels, combos, strict=True):
        whole = combo["regions"].get("ALL", {})
        cells = []
        for _, metric in SUMMARY_METRICS:
            m = whole.get(metric)
            cells.append(f"{m['median']:.1%} [{m['q10']:.1%}-{m['q90']:.1%}]" if m else "-")
        lines.append(f"{label:<{width}}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def problem_line(result: Aggregate) -> str | None:
    """One line on the runs that are not ok (None when every run is): for the command's exit."""
    counts = result.index.status.value_counts()
    parts = [f"{int(counts[s])} {'job(s) failed' if s == 'failed' else s}" for s in PROBLEMS if counts.get(s, 0)]
    return "; ".join(parts) if parts else None


class AggregateOnMultirunEnd(Callback):
    """Hydra callback: aggregate the sweep when it ends; fail the command if any job failed, is
    missing or duplicates another, or if the aggregation itself fails."""

    def on_multirun_start(self, config, **kwargs) -> None:
        # a sweep run again into its folder says its notes again (sim.run.__main__.print_once)
        shutil.rmtree(Path(config.hydra.sweep.dir) / NOTES_DIR, ignore_errors=True)

    def on_multirun_end(self, config, **kwargs) -> None:
        # Hydra turns a callback's exception into a warning; SystemExit is how the sweep's command
        # exits non-zero (everything else of the sweep is done by now).
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            result = aggregate(sweep_dir)
        except Exception as err:
            raise SystemExit(f"aggregation of {sweep_dir} failed: {type(err).__name__}: {err}") from err
        print(report(result, sweep_dir))
        print(summary_across_settings(result, sweep_dir))
        problems = problem_line(result)
        if problems:
            raise SystemExit(f"{problems}; see {sweep_dir / AGGREGATE_DIR / 'runs.csv'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun folder (or any folder of run folders)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.exists():
        print(f"no such folder: {args.sweep_dir}", file=sys.stderr)
        return 2
    try:
        result = aggregate(args.sweep_dir)
    except (FileNotFoundError, NotADirectoryError) as err:  # bad input: exit 2, as for any script here
        print(err, file=sys.stderr)
        return 2
    print(report(result, args.sweep_dir))
    print(summary_across_settings(result, args.sweep_dir))
    problems = problem_line(result)
    if problems:
        print(f"{problems}; see {args.sweep_dir / AGGREGATE_DIR / INDEX_FILE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
