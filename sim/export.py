"""`python -m sim.export FOLDER --format csv|xlsx [--out PATH] [--metrics a,b] [--wide] [--runs] [--force]`:
a run's or a sweep's numbers as a table for a spreadsheet.

FOLDER is a run folder (series.parquet and summary.json: `python -m sim.run`), a sweep folder (its
aggregate/: `python -m sim.run -m ...`, aggregated at the sweep's end or by
`python -m sim.analysis.aggregate`) or a sweep's aggregate/ folder itself.

The table is **tidy** by default, one row per date x region x metric:

- a run: `date, region, metric, value` (a posterior ensemble adds `draw` after `date`);
- a sweep: the settings that differ between its setting combinations (always `policy`), then
  `date, region, metric, median, q10, q90, replicates`: the median and 10%-90% quantiles over the
  seeds (and posterior draws) of aggregate/reduced.parquet;
- a sweep with `--runs`: every run's own values instead (aggregate/runs.parquet/): `run`, the
  settings that differ between runs (the seed among them), then `date, region, metric, value`.

`--wide` pivots it for a spreadsheet: one column per metric (rows: date x region, in that order);
with one metric (`--metrics NAME`), one column per region (rows: dates), ready to chart. A sweep's
quantiles come as blocks: the medians first (named as the metric or region), then `NAME_q10`, then
`NAME_q90`. Regions are always in the order of sim/data/regions.csv, then `ALL`; metrics in the
metric registry's order (or the order given to `--metrics`).

What each column and metric is (unit, kind, description, from the metric registry in
sim/model/metrics.py), and the settings every run of a sweep shares, go in a second sheet
`columns` (xlsx) or a sidecar `NAME_columns.csv` beside the table (csv).

Default output: FOLDER/export/NAME.EXT, NAME being `series`, `reduced` or `runs` (with `_wide`
for --wide). An existing output is never overwritten unless --force is given.

Exit codes: 0 written, 2 bad input (not a run nor a sweep, an unknown metric, an existing output
without --force, xlsx without openpyxl, more rows than a worksheet holds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.core.files import atomic_write
from sim.core.run_folder import SERIES, SUMMARY

FORMATS = ("csv", "xlsx")
EXPORT_DIR = "export"
AGGREGATE_DIR = "aggregate"  # sim.analysis.aggregate.AGGREGATE_DIR
REDUCED_FILE = "reduced.parquet"  # sim.analysis.tables.REDUCED_FILE
RUNS_DATASET = "runs.parquet"  # sim.analysis.tables.RUNS_DATASET
INDEX_FILE = "runs.csv"  # sim.analysis.aggregate.INDEX_FILE
QUANTILE_COLUMNS = ("median", "q10", "q90")
XLSX_MAX_ROWS = 1_048_576  # rows of one worksheet (Excel's limit), the header included
XLSX_PACKAGE = "openpyxl"
EXIT_BAD_INPUT = 2

# The table's own columns, described in the columns sheet (a setting's column is described there too).
COLUMN_TEXT = {
    "date": ("day", "the simulated day (YYYY-MM-DD)"),
    "region": ("region code", "a region of sim/data/regions.csv, or ALL (the whole membership)"),
    "metric": ("metric name", "a metric of the registry (listed below, with its unit)"),
    "value": ("the metric's unit", "the metric's value on that day in that region"),
    "draw": ("draw index", "the posterior draw of an ensemble run (docs/INFERENCE.md)"),
    "run": ("run folder", "the run's folder in the sweep (aggregate/runs.csv)"),
    "median": ("the metric's unit", "median over the combination's replicates (seeds x posterior draws)"),
    "q10": ("the metric's unit", "10% quantile over the replicates"),
    "q90": ("the metric's unit", "90% quantile over the replicates"),
    "replicates": ("runs", "replicates the quantiles are over"),
}


class ExportError(Exception):
    """Bad input: the message says what to do (exit 2)."""


@dataclass
class Export:
    """A table to write and what its columns are."""

    table: pd.DataFrame
    name: str  # the default file name's stem
    key_columns: list[str]  # the columns before `metric` (settings, run, draw, date, region)
    value_columns: list[str]  # value, or median/q10/q90
    metrics: list[str]
    settings: dict = field(default_factory=dict)  # settings every run of a sweep shares: name -> value
    notes: list[str] = field(default_factory=list)  # warnings to print (a stale aggregate, failed runs)


def region_order() -> list[str]:
    from sim.model.regions import OUTPUT_REGIONS

    return list(OUTPUT_REGIONS)


def metric_registry():
    from sim.model.metrics import BY_NAME

    return BY_NAME


# -- what the folder is ------------------------------------------------------------------------------------------


def folder_kind(folder: Path) -> tuple[str, Path]:
    """('run', folder) or ('sweep', its aggregate folder); ExportError for anything else."""
    folder = Path(folder)
    if not folder.exists():
        raise ExportError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise ExportError(f"{folder} is a file: give a run folder or a sweep folder")
    if (folder / SERIES).is_file() and (folder / SUMMARY).is_file():
        return "run", folder
    for agg in (folder / AGGREGATE_DIR, folder):
        if (agg / REDUCED_FILE).is_file() and (agg / INDEX_FILE).is_file():
            return "sweep", agg
    if (folder / SERIES).is_file():
        raise ExportError(f"{folder} holds a {SERIES} but no {SUMMARY}: the run did not finish; run it again")
    if (folder / "multirun.yaml").is_file() or any((p / SERIES).is_file() for p in folder.iterdir() if p.is_dir()):
        raise ExportError(f"{folder} is a sweep that has not been aggregated: run "
                          f"`python -m sim.analysis.aggregate {folder}` first")  # fmt: skip
    raise ExportError(f"{folder} is neither a run folder ({SERIES} and {SUMMARY}) nor a sweep folder "
                      f"({AGGREGATE_DIR}/{REDUCED_FILE}): give the folder `python -m sim.run` printed, "
                      "or a sweep's folder (hydra.sweep.dir)")  # fmt: skip


def chosen_metrics(text: str | None, present: list[str]) -> list[str]:
    """The metrics to export: the given names in their order, or every metric present in registry order."""
    registry = metric_registry()
    ordered = [m for m in registry if m in present] + sorted(m for m in present if m not in registry)
    if not text:
        return ordered
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in present]
    if unknown or not names:
        raise ExportError(f"--metrics: unknown metric(s) {unknown or text!r}; allowed: {', '.join(ordered)}")
    return names


def _ordered(frame: pd.DataFrame, metrics: list[str], by: list[str]) -> pd.DataFrame:
    """Regions in the regions file's order, metrics in the chosen order, rows sorted by `by`."""
    regions = region_order() + sorted(set(frame.region.astype(str)) - set(region_order()))
    frame = frame.assign(
        region=pd.Categorical(frame.region.astype(str), categories=regions, ordered=True),
        metric=pd.Categorical(frame.metric.astype(str), categories=metrics, ordered=True),
    )
    frame = frame.sort_values(by, kind="stable").reset_index(drop=True)
    return frame.assign(region=frame.region.cat.remove_unused_categories(),
                        metric=frame.metric.cat.remove_unused_categories())  # fmt: skip


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _split_settings(frame: pd.DataFrame, settings: list[str], keep: tuple[str, ...]) -> tuple[list[str], dict]:
    """The settings that differ between rows (and `keep`, when present) stay columns; the others are
    the same in every run: returned as name -> value for the columns sheet."""
    varying, shared = [], {}
    for name in settings:
        values = frame[name].drop_duplicates()
        if len(values) > 1 or name in keep:
            varying.append(name)
        else:
            shared[name] = _plain(values.iloc[0]) if len(values) else None
    return varying, shared


# -- reading -----------------------------------------------------------------------------------------------------


def from_run(folder: Path, metrics_text: str | None) -> Export:
    import pyarrow.parquet as pq

    names = pq.read_schema(folder / SERIES).names
    present = pq.read_table(folder / SERIES, columns=["metric"]).column("metric").unique().to_pylist()
    metrics = chosen_metrics(metrics_text, [str(m) for m in present])
    frame = pd.read_parquet(folder / SERIES, filters=[("metric", "in", metrics)])
    keys = ["date", "draw", "region"] if "draw" in names else ["date", "region"]
    frame = _ordered(frame, metrics, [*keys, "metric"])
    frame = frame[[*keys, "metric", "value"]]
    return Export(frame, "series", keys, ["value"], metrics)


def _aggregate_notes(agg: Path) -> list[str]:
    notes = []
    try:
        from sim.analysis.aggregate import aggregate_is_current

        if not aggregate_is_current(agg.parent):
            notes.append(f"warning: {agg} may be older than the sweep's run folders; "
                         f"`python -m sim.analysis.aggregate {agg.parent}` brings it up to date")  # fmt: skip
    except Exception:  # noqa: BLE001 - a copy of an aggregate alone: nothing to compare it with
        pass
    index = pd.read_csv(agg / INDEX_FILE)
    bad = index[index.status != "ok"] if "status" in index else index.iloc[0:0]
    if len(bad):
        notes.append(f"warning: {len(bad)} of the sweep's {len(index)} run(s) are not ok "
                     f"({', '.join(sorted(set(bad.status)))}); the export holds the ok runs only "
                     f"(see {agg / INDEX_FILE})")  # fmt: skip
    return notes


def from_sweep(agg: Path, metrics_text: str | None, runs: bool) -> Export:
    import pyarrow.dataset as ds

    source = agg / (RUNS_DATASET if runs else REDUCED_FILE)
    if runs and not source.exists():
        raise ExportError(f"{agg} has no {RUNS_DATASET}: aggregate the sweep again")
    dataset = ds.dataset(source, format="parquet")
    columns = dataset.schema.names
    if "metric" not in columns:  # the aggregate of a sweep none of whose runs finished
        raise ExportError(f"{source} holds no rows: no run of the sweep finished (see {agg / INDEX_FILE})")
    present = dataset.to_table(columns=["metric"]).column("metric").unique().to_pylist()
    metrics = chosen_metrics(metrics_text, [str(m) for m in present])
    frame = pd.read_parquet(source, filters=[("metric", "in", metrics)])
    if frame.empty:
        raise ExportError(f"{source} holds no rows (no run of the sweep finished)")
    values = ["value"] if runs else [*QUANTILE_COLUMNS]
    tail = ["date", "draw", "region"] if "draw" in columns else ["date", "region"]
    extra = [] if runs else ["replicates"]
    lead = ["run"] if runs else []
    settings = [c for c in columns if c not in {*tail, *values, *extra, *lead, "metric"}]
    varying, shared = _split_settings(frame, settings, keep=("policy", "seed") if runs else ("policy",))
    keys = [*lead, *varying, *tail]
    if runs:  # runs in runs.csv's order (run-000000.parquet, ...), not as text
        order = {r: i for i, r in enumerate(pd.read_csv(agg / INDEX_FILE, dtype={"run": str}).run)}
        frame = frame.assign(_order=frame.run.astype(str).map(order))
        frame = _ordered(frame, metrics, ["_order", *tail, "metric"]).drop(columns="_order")
    else:  # combinations as reduced.parquet holds them (sorted by their settings)
        frame = frame.assign(_combo=frame.groupby(varying, sort=False, dropna=False).ngroup() if varying else 0)
        frame = _ordered(frame, metrics, ["_combo", *tail, "metric"]).drop(columns="_combo")
    frame = frame[[*keys, "metric", *values, *extra]]
    notes = _aggregate_notes(agg)
    return Export(frame, "runs" if runs else "reduced", keys, values + extra, metrics, shared, notes)


# -- wide --------------------------------------------------------------------------------------------------------


def wide(export: Export) -> Export:
    """One column per metric (rows: the keys, region last), or, for one metric, one column per region
    (rows: the keys without region). Quantiles in blocks: medians, then NAME_q10, then NAME_q90."""
    frame = export.table
    one_metric = len(export.metrics) == 1
    across = "region" if one_metric else "metric"
    index = [k for k in export.key_columns if k != across]
    values = [v for v in export.value_columns if v != "replicates"]
    if "replicates" in export.value_columns:  # one count per row of the wide table (the most of its cells)
        frame = frame.assign(replicates=frame.groupby(index, observed=True, dropna=False, sort=False)
                             .replicates.transform("max"))  # fmt: skip
        index = [*index, "replicates"]
    rows = frame[index].drop_duplicates().reset_index(drop=True)  # in the tidy table's order
    keyed = frame.set_index([*index, across])[values].unstack(across)
    names = list(frame[across].cat.categories)
    ordered, labels = [], []
    for v in values:
        for name in names:
            if (v, name) in keyed.columns:
                ordered.append((v, name))
                labels.append(str(name) if v in ("value", "median") else f"{name}_{v}")
    keyed = keyed[ordered]
    keyed.columns = labels
    table = rows.merge(keyed.reset_index(), on=index, how="left")
    if "region" in table:
        table["region"] = table["region"].astype(str)
    suffix = f"_{export.metrics[0]}" if one_metric else ""
    return Export(table, f"{export.name}_wide{suffix}", index, labels, export.metrics, export.settings, export.notes)


# -- the columns sheet -------------------------------------------------------------------------------------------


def columns_sheet(export: Export, is_wide: bool) -> pd.DataFrame:
    """One row per column of the table (and, for a tidy table, per metric it holds): name, what it
    is (column, setting, or the metric's kind), unit, description; then the shared settings."""
    registry = metric_registry()
    rows = []
    for name in export.table.columns:
        if name in COLUMN_TEXT:
            unit, text = COLUMN_TEXT[name]
            rows.append({"name": name, "kind": "column", "unit": unit, "description": text})
        elif not is_wide or name in export.key_columns:
            rows.append({"name": name, "kind": "setting", "unit": _setting_unit(name),
                         "description": "a setting that differs between the sweep's runs"})  # fmt: skip
        else:
            rows.append(_wide_column(name, export, registry))
    if not is_wide:
        for m in export.metrics:
            rows.append(_metric_row(m, registry))
    for name, value in export.settings.items():
        rows.append({"name": name, "kind": "setting (same in every run)", "unit": _setting_unit(name),
                     "description": f"= {value}"})  # fmt: skip
    return pd.DataFrame(rows, columns=["name", "kind", "unit", "description"])


def _metric_row(name: str, registry) -> dict:
    m = registry.get(name)
    if m is None:
        return {"name": name, "kind": "metric", "unit": "", "description": "(not in the metric registry)"}
    return {"name": name, "kind": f"metric ({m.kind})", "unit": m.unit, "description": m.description}


def _wide_column(label: str, export: Export, registry) -> dict:
    stem, quantile = label, ""
    for q in ("q10", "q90"):
        if label.endswith(f"_{q}"):
            stem, quantile = label[: -len(q) - 1], q
    what = {"q10": "10% quantile over the replicates of ", "q90": "90% quantile over the replicates of "}
    if len(export.metrics) == 1:  # a region's column of one metric
        row = _metric_row(export.metrics[0], registry)
        prefix = what.get(quantile, "median over the replicates of " if "median" in _values(export) else "")
        return {"name": label, "kind": row["kind"], "unit": row["unit"],
                "description": f"{prefix}{export.metrics[0]} in {stem}: {row['description']}"}  # fmt: skip
    row = _metric_row(stem, registry)
    prefix = what.get(quantile, "median over the replicates: " if "median" in _values(export) else "")
    return {**row, "name": label, "description": f"{prefix}{row['description']}"}


def _values(export: Export) -> str:
    return "median" if any(c.endswith("_q10") for c in export.value_columns) else ""


def _setting_unit(name: str) -> str:
    try:
        from sim.model.config import declared_unit

        return declared_unit(name) or ""
    except Exception:  # noqa: BLE001 - a setting the schema does not know (policy, seed)
        return ""


# -- writing -----------------------------------------------------------------------------------------------------


def sidecar_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_columns.csv")


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    if "date" in frame:
        frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"))
    return frame


def write_csv(export: Export, columns: pd.DataFrame, out: Path) -> list[Path]:
    table = _csv_ready(export.table)
    atomic_write(out, lambda p: table.to_csv(p, index=False))
    side = sidecar_path(out)
    atomic_write(side, lambda p: columns.to_csv(p, index=False))
    return [out, side]


def openpyxl_or_exit():
    try:
        import openpyxl
    except ImportError:
        raise ExportError(f"--format xlsx needs the package {XLSX_PACKAGE}: pip install {XLSX_PACKAGE} "
                          "(or pip install -e \".[export]\"); or use --format csv") from None  # fmt: skip
    return openpyxl


def _cell(value):
    if isinstance(value, pd.Timestamp):
        return value.date()
    if value is None or (isinstance(value, float) and value != value):  # NaN: an empty cell
        return None
    return _plain(value)


def write_xlsx(export: Export, columns: pd.DataFrame, out: Path) -> list[Path]:
    openpyxl = openpyxl_or_exit()
    if len(export.table) + 1 > XLSX_MAX_ROWS:
        raise ExportError(f"{len(export.table):,} rows: more than a worksheet holds ({XLSX_MAX_ROWS - 1:,}); "
                          "choose fewer metrics (--metrics), --wide, or --format csv")  # fmt: skip

    def write(path: Path) -> None:
        book = openpyxl.Workbook(write_only=True)
        for title, frame in (("data", export.table), ("columns", columns)):
            sheet = book.create_sheet(title)
            sheet.append([str(c) for c in frame.columns])
            for row in frame.itertuples(index=False, name=None):
                sheet.append([_cell(v) for v in row])
        book.save(path)

    atomic_write(out, write)
    return [out]


def build(folder: Path, metrics: str | None = None, is_wide: bool = False, runs: bool = False) -> Export:
    """The table of a run or sweep folder (tidy, or wide)."""
    kind, where = folder_kind(folder)
    if kind == "run":
        if runs:
            raise ExportError(f"--runs is for a sweep; {folder} is a run folder")
        export = from_run(where, metrics)
    else:
        export = from_sweep(where, metrics, runs)
    return wide(export) if is_wide else export


def default_out(folder: Path, export: Export, fmt: str) -> Path:
    kind, where = folder_kind(folder)
    base = where if kind == "run" else where.parent if where.name == AGGREGATE_DIR else where
    return base / EXPORT_DIR / f"{export.name}.{fmt}"


def export(folder: Path, fmt: str = "csv", out: Path | None = None, metrics: str | None = None,
           is_wide: bool = False, runs: bool = False, force: bool = False) -> list[Path]:  # fmt: skip
    """Write the table (and its columns sheet or sidecar); returns the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: allowed {', '.join(FORMATS)}")
    if fmt == "xlsx":
        openpyxl_or_exit()  # before any work
    table = build(Path(folder), metrics, is_wide, runs)
    out = Path(out) if out is not None else default_out(Path(folder), table, fmt)
    if out.is_dir():
        raise ExportError(f"--out {out} is a folder: give a file name, e.g. {out / (table.name + '.' + fmt)}")
    targets = [out] + ([sidecar_path(out)] if fmt == "csv" else [])
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise ExportError(f"{', '.join(existing)} already exist(s): add --force to replace, or choose --out")
    for note in table.notes:
        print(note, file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = columns_sheet(table, is_wide)
    return write_csv(table, columns, out) if fmt == "csv" else write_xlsx(table, columns, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("folder", type=Path, help="a run folder, a sweep folder, or a sweep's aggregate/ folder")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or xlsx (needs openpyxl)")
    parser.add_argument("--out", type=Path, default=None, help="the file to write (default FOLDER/export/NAME.EXT)")
    parser.add_argument("--metrics", default=None, help="comma-separated metric names (default: every metric)")
    parser.add_argument("--wide", action="store_true",
                        help="one column per metric; with one metric, one column per region")  # fmt: skip
    parser.add_argument("--runs", action="store_true",
                        help="a sweep: every run's values instead of the median and quantiles")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    started = dt.datetime.now()
    try:
        written = export(args.folder, args.format, args.out, args.metrics, args.wide, args.runs, args.force)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    seconds = (dt.datetime.now() - started).total_seconds()
    print(f"wrote {', '.join(str(p) for p in written)} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
