"""The heavy half of a sweep's aggregation, out of core: every run's series into a dataset of one
Parquet file per run, then the replicate quantiles a chunk (one setting combination, a block of
days) at a time, with pyarrow reading only the chunk's row groups and numpy ranking the values.

Why this and not a query engine (docs/SWEEPS.md has the measurements): DuckDB's exact grouped
quantile costs about 500 bytes and 2 us a group, and the 30-run `regimes` sweep has 3.5 million
groups (8 s, and over 1 GB in one query); Polars' streaming engine took 12 s and 3.1 GB for a
sixth of the groups; pyarrow has no exact grouped quantile. Here a chunk's values are a matrix
(replicates x cells) sorted down its columns, and each quantile is pandas' own formula
(v[i] + (v[i+1] - v[i]) * frac), so the numbers are bit for bit the in-memory implementation's.
Memory stays bounded: only one chunk (at most about CHUNK_VALUES values), one run's series and
the parsed footers of one combination's files (at most FOOTER_BYTES) are held at a time. Time
grows with the runs, not faster, although a combination with more replicates is read in more
chunks (each of fewer days): each file's footer is parsed once per combination, not once per
chunk; a chunk reads the cells (date, region, metric) of its first run only, and of the others
only their values, when their row groups' digests of their cells (written with them, PartInfo.cells)
say they are the first's; and a block reduced in pieces reads only the values again for each
further piece. DuckDB is the engine for sweeps past one machine (`sql_reduce`: the same table by
SQL over any glob DuckDB reads, a shared folder or object storage).

Each run's file keeps the series' order (day, then region and metric) in row groups of
DAYS_PER_GROUP days, so a chunk reads a few row groups of each of its runs. Region and metric are
dictionary-encoded, in the files and for readers (pandas categoricals); so are `string` settings
(pandas 3's text settings arrive as `large_string`, and are written as they are).
"""

from __future__ import annotations

import hashlib
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
# Values one reduction chunk holds: 8 bytes each in the replicates x cells matrix (each replicate's
# values copied into its row as it is read, then sorted in place), plus about 100 bytes per cell of
# the chunk for its output: 16 million keep a chunk near 0.15 GB, and one 32-day block of up to 721
# replicates in one chunk (a block over the budget is reduced in pieces, each reading its values
# again: at 500 replicates, 8 million took 30.5 ms a run to reduce, 16 million 18.0).
CHUNK_VALUES = 16_000_000
# A combination's chunks read each of its runs' files once per chunk (and piece), and opening a
# Parquet file parses its footer: about 0.5 ms for a run's 28 row groups x 13 columns, a cost the
# number of chunks multiplies, and that number grows with the combination's replicates. So the
# footers are parsed once per combination and kept until its last chunk, up to FOOTER_BYTES of them:
# a parsed footer holds about FOOTER_BYTES_PER_CHUNK bytes per column chunk (row group x column),
# 0.33 MB for such a run (measured).
FOOTER_BYTES = 256_000_000
FOOTER_BYTES_PER_CHUNK = 900
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
    replicates: int = 1  # the replicates the run holds: its posterior draws, or one
    cells: list[bytes | None] = field(default_factory=list)  # each row group's digest of its cells (_digests)


def _days(table: pa.Table) -> np.ndarray:
    return (table.column("date").to_numpy().astype("datetime64[D]") - EPOCH_DAY).astype(np.int64)


def _digests(table: pa.Table, bounds: list[int]) -> list[bytes | None]:
    """Per row group (rows bounds[k] to bounds[k + 1]): a digest of its cells as written (the date,
    region and metric of each row, in order, and the draw when there is one). Two runs' row groups
    with equal digests hold the same cells in the same order, so a chunk reads and checks the cells
    of one of them and only the values of the others. None: no digest (the cells are always read)."""
    blocks = len(bounds) - 1
    names = [n for n in ("date", *DICTIONARY, DRAW) if n in table.column_names]
    if not table.num_rows or not blocks:
        return [None] * blocks
    table = table.select(names).unify_dictionaries().combine_chunks()
    flat = []  # per column: its values as numbers (codes for a dictionary), nulls and what else says them
    for name in names:
        column = table.column(name).chunk(0)
        kind = column.type
        if pa.types.is_dictionary(kind):
            extra = repr(column.dictionary.to_pylist()).encode()
            column = column.indices
        elif pa.types.is_timestamp(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
            extra = str(kind).encode()
            column = column.cast(pa.int64()) if pa.types.is_timestamp(kind) else column
        elif pa.types.is_null(kind):
            extra, column = b"null", pa.array(np.zeros(len(column), dtype=np.int8))
        else:  # a type not digested here (text draws): the cells are read
            return [None] * blocks
        nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
        values = column.fill_null(0).to_numpy(zero_copy_only=False) if column.null_count else column.to_numpy()
        flat.append((name, values, nulls, extra))
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        digest = hashlib.blake2b(digest_size=16)
        for name, values, nulls, extra in flat:
            part = np.ascontiguousarray(values[lo:hi])
            digest.update(f"{name}:{part.dtype.str}:{hi - lo}:".encode() + extra)
            if name == "date":  # sorted days of many rows each: (value, length) of each run of a day
                starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
                digest.update(part[starts].tobytes() + np.diff(np.r_[starts, hi - lo]).tobytes())
            else:
                digest.update(part.tobytes())
            digest.update(b"nulls:" + (np.packbits(nulls[lo:hi]).tobytes() if nulls is not None else b"none"))
        out.append(digest.digest())
    return out


def write_part(series: pa.Table, settings: pa.Table, schema: pa.Schema, path: Path) -> PartInfo:
    """One run's series with its settings (`settings`: one row) as columns, in row groups of a
    block of DAYS_PER_GROUP days, into `path`."""
    n = series.num_rows
    days = _days(series)
    replicates = len(pc.unique(series.column(DRAW))) if DRAW in series.column_names and n else 1
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
    return PartInfo(n, blocks[starts].tolist(), last, max(replicates, 1), _digests(table, bounds))


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


class _Footers:
    """The parsed footers of one setting combination's files, kept from its first chunk to its last
    (at most `keep` of them): each file's footer is then parsed once per combination, not once per
    chunk and piece, so the time to open the files grows with the runs, not with runs x replicates."""

    def __init__(self, keep: int = 0):
        self.keep, self.kept = keep, {}

    def open(self, path: Path) -> pq.ParquetFile:
        metadata = self.kept.get(path)
        if metadata is not None:
            return pq.ParquetFile(path, metadata=metadata)
        file = pq.ParquetFile(path)
        if len(self.kept) < self.keep:
            self.kept[path] = file.metadata
        return file


def _footers(parts: list[PartInfo], runs: list[int], chunks: list[tuple[list[int], int]], columns: int) -> _Footers:
    """Footers to keep for a combination read in `chunks`: none for one chunk (each file is opened
    once), else as many as FOOTER_BYTES holds."""
    if len(chunks) <= 1 and all(pieces == 1 for _, pieces in chunks):
        return _Footers()
    groups = max((len(parts[i].blocks) for i in runs), default=1)
    return _Footers(FOOTER_BYTES // max(FOOTER_BYTES_PER_CHUNK * groups * columns, 1))


def _read(path: Path, part: PartInfo, blocks, columns: list[str], footers: _Footers | None = None) -> pa.Table:
    wanted = set(blocks)
    groups = [g for g, b in enumerate(part.blocks) if b in wanted]
    file = footers.open(path) if footers is not None else pq.ParquetFile(path)
    return file.read_row_groups(groups, columns=columns).unify_dictionaries()


def _key(part: PartInfo, wanted: set[int]):
    """What a run's cells in a chunk are known by without reading them: its row groups' blocks and
    cell digests (None when a row group has no digest)."""
    key = tuple((b, d) for b, d in zip(part.blocks, part.cells or [None] * len(part.blocks), strict=True)
                if b in wanted)  # fmt: skip
    return None if any(d is None for _, d in key) else key


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
    present = np.zeros(values.shape[1], dtype=np.int64)
    for row in values:  # row by row: no matrix of flags beside the values
        present += ~np.isnan(row)
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


def _piece(n: int, piece: int, pieces: int) -> slice:
    """Rows [piece * n / pieces, (piece + 1) * n / pieces) of a replicate's block of n rows."""
    return slice(n * piece // pieces, n * (piece + 1) // pieces)


class _Stack:
    """The replicates' values as the rows of one matrix, each copied into its row as it is read:
    the chunk's values are held once (not as a list of arrays and again stacked), and a replicate's
    read table is freed before the next is read. `rows`: the replicates expected (it grows past)."""

    def __init__(self, rows: int):
        self.expected, self.matrix, self.rows = max(rows, 1), None, 0

    def add(self, values: np.ndarray) -> None:
        if self.matrix is None:
            self.matrix = np.empty((self.expected, len(values)), dtype=values.dtype)
        elif self.rows == len(self.matrix):  # more replicates than expected: room for twice as many
            grown = np.empty((2 * len(self.matrix), self.matrix.shape[1]), dtype=self.matrix.dtype)
            grown[: self.rows] = self.matrix
            self.matrix = grown
        self.matrix[self.rows] = values
        self.rows += 1

    def values(self) -> np.ndarray:
        return self.matrix[: self.rows]


def _values(table: pa.Table, rows: slice | None = None) -> np.ndarray:
    column = table.column("value")
    return (column if rows is None else column.slice(rows.start, rows.stop - rows.start)).to_numpy()


def _reduce_block(runs: list[int], keys: list, tables, pieces: int, replicates: int = 1) -> pd.DataFrame:
    """A chunk of one combination (`runs`; `tables(i, values)`: run i's tables in the chunk, one per
    replicate, with every column or, values=True, its values alone; `keys`: what each run's cells
    are known by, from `_key`), reduced whole or, `pieces` > 1, in slices of its cells, each a matrix
    of its own (the block of every replicate is over the budget), then sorted together.

    The first replicate's cells are read; a run whose key is the first's holds the same cells (its
    digests say so), so only its values are read; any other run's cells are read and compared. Runs
    whose rows differ: the chunk whole, by pandas (sorted and reduced as pandas' groupby). A further
    piece reads only the values again."""
    first, first_key, stack = None, None, _Stack(replicates)
    for i, key in zip(runs, keys, strict=True):
        known = first is not None and key is not None and key == first_key
        for table in tables(i, values=known):
            if not table.num_rows:
                continue
            if not known:
                cells = _cells(table)
                if first is None:
                    first, first_key = cells, key
                elif not _same(cells, first):  # runs whose series differ in their rows: pandas' groupby
                    del stack
                    return _reduce_unaligned([t for j in runs for t in tables(j) if t.num_rows])
            stack.add(_values(table, _piece(len(first[0]), 0, pieces) if pieces > 1 else None))
            del table
    if first is None:
        return _reduce_unaligned([t for j in runs for t in tables(j)])
    if pieces == 1:
        return _frame(first, stack.values())
    n = len(first[0])
    frames = [_frame(_cut(first, _piece(n, 0, pieces)), stack.values())]
    del stack
    for k in range(1, pieces):
        rows, stack = _piece(n, k, pieces), _Stack(replicates)
        for i in runs:
            for table in tables(i, values=True):
                if table.num_rows:  # the same replicates in the same order as above, each of n rows
                    stack.add(_values(table, rows))
        frames.append(_frame(_cut(first, rows), stack.values()))
        del stack
    frame = pd.concat(frames, ignore_index=True).astype({c: str for c in DICTIONARY})
    frame = frame.sort_values(["date", "region", "metric"], kind="stable", ignore_index=True)
    return frame.astype({c: "category" for c in DICTIONARY})


def _cut(cells: tuple, rows: slice) -> tuple:
    days, region_codes, metric_codes, regions, metrics = cells
    return days[rows], region_codes[rows], metric_codes[rows], regions, metrics


def _frame(cells: tuple, matrix: np.ndarray) -> pd.DataFrame:
    """The reduced rows of a chunk's cells (`cells`: from _cells) and their values (replicates x
    cells, sorted in place): sorted by day, region and metric names, with q10, median, q90 and the
    replicate count."""
    (q10, median, q90), replicates = quantiles(matrix)
    del matrix
    days, region_codes, metric_codes, regions, metrics = cells
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
    names = pq.read_schema(files[0]).names if files else []
    columns, width = [*SERIES_COLUMNS, *([DRAW] if DRAW in names else [])], max(len(names), 1)
    members = [[] for _ in combos]  # each combination's runs, in one pass (not one per combination)
    for i, c in enumerate(combo_of):
        members[c].append(i)
    try:
        for keys, runs in zip(combos, members, strict=True):
            last = None
            for frame in _reduce_combination(files, parts, runs, columns, width):
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


def _reduce_combination(files: list[Path], parts: list[PartInfo], runs: list[int], columns: list[str], width: int):
    """One combination's reduced chunks in order (its footers kept from the first to the last)."""
    chunks = plan_blocks(parts, runs)
    footers = _footers(parts, runs, chunks, width)
    replicates = sum(parts[i].replicates for i in runs)
    values_columns = ["value", *([DRAW] if DRAW in columns else [])]  # a run's values alone (and its draws)
    for blocks, pieces in chunks:
        wanted = set(blocks)

        def tables(i, values=False, wanted=wanted):
            return _by_draw(_read(files[i], parts[i], wanted, values_columns if values else columns, footers))

        yield _reduce_block(runs, [_key(parts[i], wanted) for i in runs], tables, pieces, replicates)


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
