"""The heavy half of a sweep's aggregation, out of core: every run's series into a dataset of one
Parquet file per run, then the replicate quantiles a chunk (one setting combination, a block of
days) at a time, with pyarrow reading only the chunk's row groups and numpy ranking the values.

Why this and not a query engine (docs/SWEEPS.md has the measurements): DuckDB's exact grouped
quantile costs about 500 bytes and 2 us a group, and the 30-run `regimes` sweep has 3.5 million
groups (8 s, and over 1 GB in one query); Polars' streaming engine took 12 s and 3.1 GB for a
sixth of the groups; pyarrow has no exact grouped quantile. Here a chunk's values are a matrix
(replicates x cells) sorted down its columns, and each quantile is pandas' own formula
(v[i] + (v[i+1] - v[i]) * frac), so the numbers are bit for bit the in-memory implementation's.
Memory stays bounded: only one chunk (at most about CHUNK_VALUES values) and one run's series are
held at a time. DuckDB is the engine for sweeps past one machine (`sql_reduce`: the same table by
SQL over any glob DuckDB reads, a shared folder or object storage).

Each run's file keeps the series' order (day, then region and metric) in row groups of
DAYS_PER_GROUP days, so a chunk reads a few row groups of each of its runs. Region and metric are
dictionary-encoded, in the files and for readers (pandas categoricals); text settings too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SERIES_COLUMNS = ("date", "region", "metric", "value")
DICTIONARY = ("region", "metric")  # a handful of values repeated on every row
DATE_TYPE = pa.timestamp("ms")  # the runs' series' day (sim.run.folder writes pandas' datetime64[ms])
DAYS_PER_GROUP = 32  # a row group: 32 days x 11 regions x 63 metrics, about 22,000 rows
# Values one reduction chunk holds: 8 bytes each in the replicates x cells matrix (sorted in place),
# about as much again in the stacking and the output: 8 million keep a chunk near 0.15 GB.
CHUNK_VALUES = 8_000_000
QUANTILES = (0.1, 0.5, 0.9)  # q10, median, q90
DRAW = "draw"  # a posterior ensemble's series column (sim.run.ensemble)
EPOCH_DAY = np.datetime64("1970-01-01", "D")


def _dictionary(table: pa.Table) -> pa.Table:
    """Region and metric as dictionary columns (int16 codes into a string dictionary)."""
    for name in DICTIONARY:
        if name in table.column_names:
            i = table.column_names.index(name)
            column = table.column(i)
            if not pa.types.is_dictionary(column.type):
                column = column.cast(pa.string()).dictionary_encode()
            table = table.set_column(i, name, column.cast(pa.dictionary(pa.int16(), pa.string())))
    return table


def part_schema(series: pa.Schema, settings: pa.Schema) -> pa.Schema:
    """The schema every run's part shares: the series' columns (dictionary-encoded region and
    metric), then `run` and the settings (text as dictionaries)."""
    fields = [
        pa.field(f.name, pa.dictionary(pa.int16(), pa.string()) if f.name in DICTIONARY else f.type) for f in series
    ]
    text = [pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if pa.types.is_string(f.type) else f for f in settings]
    return pa.schema([*fields, *text])


@dataclass
class PartInfo:
    """What the reduction needs to know of a run's file without opening it."""

    rows: int = 0
    blocks: list[int] = field(default_factory=list)  # each row group's block of days (day // DAYS_PER_GROUP)
    last_day: np.datetime64 | None = None


def _days(table: pa.Table) -> np.ndarray:
    return (table.column("date").to_numpy().astype("datetime64[D]") - EPOCH_DAY).astype(np.int64)


def write_part(series: pa.Table, settings: pa.Table, schema: pa.Schema, path: Path) -> PartInfo:
    """One run's series with its settings (`settings`: one row) as columns, in row groups of a
    block of DAYS_PER_GROUP days, into `path`."""
    n = series.num_rows
    days = _days(series)
    if n and np.any(np.diff(days) < 0):  # the model writes day by day; any other order: sort it
        order = np.argsort(days, kind="stable")
        series, days = series.take(pa.array(order)), days[order]
    for name in schema.names:  # a column the series lacks (e.g. `draw` of an ensemble): nulls
        if name not in series.column_names and name not in settings.column_names:
            series = series.append_column(name, pa.nulls(n, schema.field(name).type))
    zeros = pa.array(np.zeros(n, dtype=np.int32))
    for name in settings.column_names:  # constant columns: text a one-entry dictionary (no copies)
        value = settings.column(name).combine_chunks()
        column = pa.DictionaryArray.from_arrays(zeros, value) if pa.types.is_string(value.type) else value.take(zeros)
        series = series.append_column(name, column)
    table = _dictionary(series.select(schema.names)).cast(schema)
    blocks = days // DAYS_PER_GROUP
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]]) if n else np.array([], dtype=np.int64)
    bounds = [*starts.tolist(), n]
    with pq.ParquetWriter(path, schema) as writer:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            writer.write_table(table.slice(lo, hi - lo), row_group_size=hi - lo)
    last = EPOCH_DAY + int(days.max()) if n else None
    return PartInfo(n, blocks[starts].tolist(), last)


def plan_blocks(parts: list[PartInfo], runs: list[int]) -> list[tuple[list[int], int]]:
    """The chunks of one setting combination (its runs' indices into `parts`): consecutive
    blocks of days, each holding about CHUNK_VALUES values at most (more runs, fewer days), and
    in how many pieces of its cells a block is reduced (more than one when even one block of
    every replicate is over the budget: the bound holds whatever the number of replicates)."""
    blocks = sorted({b for i in runs for b in parts[i].blocks})
    if not blocks:
        return []
    values = sum(parts[i].rows for i in runs)
    per_block = values / len(blocks)
    if per_block > CHUNK_VALUES:
        return [([b], math.ceil(per_block / CHUNK_VALUES)) for b in blocks]
    per_chunk = max(1, math.floor(CHUNK_VALUES / max(per_block, 1)))
    return [(blocks[i : i + per_chunk], 1) for i in range(0, len(blocks), per_chunk)]


def _read(path: Path, part: PartInfo, blocks: list[int], columns: list[str]) -> pa.Table:
    wanted = set(blocks)
    groups = [g for g, b in enumerate(part.blocks) if b in wanted]
    return pq.ParquetFile(path).read_row_groups(groups, columns=columns).unify_dictionaries()


def _cells(table: pa.Table) -> tuple:
    """A chunk's cells as arrays to compare runs by: days (int64), region and metric codes, and
    the two dictionaries (codes are only comparable under the same dictionary)."""
    days = table.column("date").combine_chunks().cast(pa.int64()).to_numpy()
    region, metric = (table.column(n).combine_chunks() for n in DICTIONARY)
    return (days, region.indices.to_numpy(zero_copy_only=False), metric.indices.to_numpy(zero_copy_only=False),
            region.dictionary.to_pylist(), metric.dictionary.to_pylist())  # fmt: skip


def _same(a: tuple, b: tuple) -> bool:
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b, strict=True))


def _rank(codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank of its name among the dictionary's (to sort by name), and the sorted names."""
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank[codes], np.array(names, dtype=object)[order]


def quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `values` (replicates x cells, sorted in place): q10, median, q90 skipping NaN,
    and the count of rows, by pandas' groupby formula (so the floats are the same to the last bit)."""
    present = (~np.isnan(values)).sum(axis=0)
    values.sort(axis=0)  # in place (NaN last): the chunk's largest array is not copied
    ordered = values
    cells = np.arange(values.shape[1])
    out = np.full((len(QUANTILES), values.shape[1]), np.nan)
    ok = present > 0
    for k, q in enumerate(QUANTILES):
        position = q * (present - 1).astype(np.float64)
        index = position.astype(np.int64)  # truncation, as pandas
        frac = position % 1
        low = ordered[np.clip(index, 0, None), cells]
        high = ordered[np.clip(np.minimum(index + 1, present - 1), 0, None), cells]
        out[k] = np.where(frac == 0.0, low, low + (high - low) * frac)
    out[:, ~ok] = np.nan
    return out, np.full(values.shape[1], values.shape[0], dtype=np.int64)


class _Unaligned(Exception):
    """Runs whose rows differ, met in a piece of a block (where row positions are not cells)."""


def _piece(table: pa.Table, piece: int, pieces: int) -> pa.Table:
    """Rows [piece * n / pieces, (piece + 1) * n / pieces) of a replicate's block."""
    lo, hi = table.num_rows * piece // pieces, table.num_rows * (piece + 1) // pieces
    return table.slice(lo, hi - lo)


def _reduce_block(read, pieces: int) -> pd.DataFrame:
    """A block reduced whole, or piece by piece (its cells in slices, then sorted together)."""
    if pieces == 1:
        return _reduce_chunk(read)
    try:
        frames = [_reduce_chunk(lambda k=k: read(piece=k, pieces=pieces), strict=True) for k in range(pieces)]
    except _Unaligned:  # rows differ between runs: this block whole, by pandas (over the budget, rare)
        return _reduce_unaligned([t for t in read() if t.num_rows])
    frame = pd.concat(frames, ignore_index=True).astype({c: str for c in DICTIONARY})
    frame = frame.sort_values(["date", "region", "metric"], kind="stable", ignore_index=True)
    return frame.astype({c: "category" for c in DICTIONARY})


def _reduce_chunk(read, strict: bool = False) -> pd.DataFrame:
    """One combination's runs on a block of days (`read()`: their tables, one per replicate, as an
    iterator): the cells (date, region, metric) sorted by day, region and metric names, with q10,
    median, q90 and the replicate count. Only the values of each replicate are kept as it is read."""
    first, values = None, []
    for table in read():
        if not table.num_rows:
            continue
        cells = _cells(table)
        if first is None:
            first = cells
        elif not _same(cells, first):  # runs whose series differ in their rows: pandas' groupby
            if strict:
                raise _Unaligned
            return _reduce_unaligned([t for t in read() if t.num_rows])
        values.append(table.column("value").to_numpy())
    if first is None:
        return _reduce_unaligned(list(read()))
    matrix = np.vstack(values)
    del values
    (q10, median, q90), replicates = quantiles(matrix)
    del matrix
    days, region_codes, metric_codes, regions, metrics = first
    region_rank, region_names = _rank(region_codes, regions)
    metric_rank, metric_names = _rank(metric_codes, metrics)
    order = np.lexsort((metric_rank, region_rank, days))
    return pd.DataFrame(
        {
            "date": days[order].astype("datetime64[ms]"),
            "region": pd.Categorical(region_names[region_rank[order]]),
            "metric": pd.Categorical(metric_names[metric_rank[order]]),
            "median": median[order],
            "q10": q10[order],
            "q90": q90[order],
            "replicates": replicates[order],
        }
    )


def _reduce_unaligned(tables: list[pa.Table]) -> pd.DataFrame:
    rows = pd.concat([t.to_pandas() for t in tables], ignore_index=True).astype({c: str for c in DICTIONARY})
    grouped = rows.groupby(["date", "region", "metric"], sort=True, observed=True)["value"]
    out = grouped.quantile(list(QUANTILES)).unstack()
    out.columns = ["q10", "median", "q90"]
    out["replicates"] = grouped.size()
    return out.reset_index()[["date", "region", "metric", "median", "q10", "q90", "replicates"]]


def reduce_to(files: list[Path], parts: list[PartInfo], combo_of: list[int], combos: list[dict],
              schema: pa.Schema, out: Path, progress=None) -> list[pd.DataFrame]:  # fmt: skip
    """Median, q10 and q90 over replicates per setting combination (`combos`: their settings, in
    sorted order, of types `schema`; `combo_of[i]`: the combination of files[i]), day, region and metric, into `out`,
    sorted as the combination, day, region, metric. Returns each combination's last-day rows
    (None for a combination without rows)."""
    writer, last_rows = None, []
    columns = [*SERIES_COLUMNS, *([DRAW] if files and DRAW in pq.read_schema(files[0]).names else [])]
    try:
        for c, keys in enumerate(combos):
            runs = [i for i, x in enumerate(combo_of) if x == c]
            last = None
            for blocks, pieces in plan_blocks(parts, runs):

                def read(blocks=blocks, runs=runs, piece=0, pieces=1):
                    return (_piece(d, piece, pieces) for i in runs
                            for d in _by_draw(_read(files[i], parts[i], blocks, columns)))  # fmt: skip

                frame = _reduce_block(read, pieces)
                table = _with_keys(frame, keys, schema)
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema)
                writer.write_table(table.cast(writer.schema), row_group_size=1 << 20)
                last = frame
                if progress is not None:
                    progress.update(1)
            last_rows.append(None if last is None else last[last.date == last.date.max()])
    finally:
        if writer is not None:
            writer.close()
    return last_rows


def _by_draw(table: pa.Table) -> list[pa.Table]:
    """A posterior ensemble's run as one table per draw (each draw is a replicate, as a seed is)."""
    if DRAW not in table.column_names:
        return [table]
    draws = pc.unique(table.column(DRAW)).to_pylist()
    if len(draws) <= 1:
        return [table.drop_columns([DRAW])]
    column = table.column(DRAW)
    return [table.filter(pc.equal(column, d) if d is not None else pc.is_null(column)).drop_columns([DRAW])
            for d in sorted(draws, key=lambda d: (d is None, d))]  # fmt: skip


def _with_keys(frame: pd.DataFrame, keys: dict, schema: pa.Schema) -> pa.Table:
    """The chunk's table with the combination's settings first, as the reduced table's columns."""
    table = _dictionary(pa.Table.from_pandas(frame, preserve_index=False))
    n = table.num_rows
    columns = [pa.array([keys[f.name]] * 1, type=f.type).take(pa.array(np.zeros(n, np.int32))) for f in schema]
    table = pa.Table.from_arrays([*columns, *table.columns], names=[*schema.names, *table.column_names])
    return table.set_column(len(schema), "date", table.column("date").cast(DATE_TYPE))


def horizon_rows(files: list[Path], parts: list[PartInfo], day: np.datetime64, out: Path) -> None:
    """Every run's rows on `day` (the sweep's last day) into `out`, run by run: what the brief's
    per-replicate comparisons and the posterior width split read."""
    block = int((day - EPOCH_DAY).astype(np.int64)) // DAYS_PER_GROUP
    writer = None
    try:
        for path, part in zip(files, parts, strict=True):
            table = _read(path, part, [block], None)
            table = table.filter(
                pc.equal(pc.cast(table.column("date"), pa.date32()), pa.scalar(day.item(), pa.date32()))
            )
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def settings_table(rows: pd.DataFrame) -> pa.Table:
    """Per-run settings (one row per run, mixed-type columns already text) as an Arrow table."""
    return pa.Table.from_pandas(rows.reset_index(drop=True), preserve_index=False)


def sql_reduce(runs_glob: str, keys: list[str], out: str, memory_limit: str = "1GB") -> None:
    """The reduced table by DuckDB SQL over any glob of run-dataset files it reads: a shared folder
    (`/shared/sweep/aggregate/runs.parquet/*.parquet`) or object storage (`s3://bucket/...` with
    DuckDB's httpfs). DuckDB caps its memory and spills past it; its quantile interpolates as
    lo*(1-f) + hi*f, so numbers agree with `reduce_to` to about 1e-15 relative, not bit for bit."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory_limit})
    con.execute("SET preserve_insertion_order = false")
    cols = ", ".join([*('"' + k.replace('"', '""') + '"' for k in keys), "date", "region", "metric"])
    con.execute(
        f"""COPY (SELECT {cols}, q[2] AS median, q[1] AS q10, q[3] AS q90, n AS replicates FROM (
                SELECT {cols}, quantile_cont(value, {list(QUANTILES)}) FILTER (WHERE NOT isnan(value)) AS q,
                       count(*) AS n
                FROM read_parquet(?) GROUP BY ALL) ORDER BY {cols}) TO '{out}' (FORMAT parquet)""",
        [runs_glob],
    )
    con.close()
