"""The out-of-core aggregation (sim.analysis.columnar) against the in-memory one it replaced.

The old algorithm is kept below as it was (commit 0345a82's runs concat, reduce_replicates and
uncertainty split). Quantiles are compared exactly (check_exact): the new code evaluates pandas'
own interpolation, v[i] + (v[i+1] - v[i]) * frac, on the same sorted values, so no tolerance is
needed; DuckDB's SQL path (`sql_reduce`) interpolates differently, lo * (1 - f) + hi * f, so it is
compared at rtol 1e-12 (the two differ by a few ulps; 1e-12 is far above that and far below any
difference a brief could print).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from sim.analysis import columnar
from sim.analysis.aggregate import AGGREGATE_DIR, SEED, aggregate, aggregate_is_current, horizon_summary
from sim.analysis.tables import plain_columns as _plain_columns
from sim.analysis.uncertainty import decompose, has_draws

REGIONS = ["US", "EU_EEA", "ALL"]  # the model's order, not sorted: the reduced table sorts by name
METRICS = ["enrolled_share", "opted_out_share", "consent_gap_share", "dataset_text_tokens", "a_metric"]


# ------------------------------------------------------------------ the old, in-memory algorithm
def old_reduce_replicates(runs: pd.DataFrame, setting_columns: list[str]) -> pd.DataFrame:
    keys = [c for c in setting_columns if c != SEED]
    group_keys = [k for k in keys if runs[k].notna().any()] + ["date", "region", "metric"]
    filled = runs.copy()
    for k in group_keys:
        if filled[k].isna().any():
            filled[k] = filled[k].astype(object).where(filled[k].notna(), "none")
    grouped = filled.groupby(group_keys, sort=True, observed=True)["value"]
    out = grouped.quantile([0.1, 0.5, 0.9]).unstack()
    out.columns = ["q10", "median", "q90"]
    out["replicates"] = grouped.size()
    return out.reset_index()[[*group_keys, "median", "q10", "q90", "replicates"]]


def old_tables(sweep_dir: Path) -> dict:
    result = aggregate(sweep_dir, write=False)  # statuses and duplicates: unchanged code
    ok = result.index[result.index.status == "ok"]
    cols = ["run", *result.setting_columns]
    parts = [
        pd.read_parquet(sweep_dir / row["run"] / "series.parquet").assign(**{k: row[k] for k in cols})
        for _, row in ok.iterrows()
    ]
    runs = pd.concat(parts, ignore_index=True)
    reduced = old_reduce_replicates(runs, result.setting_columns)
    tables = {"runs": _plain_columns(runs), "reduced": _plain_columns(reduced), "summary": horizon_summary(reduced)}
    if has_draws(runs):
        tables["uncertainty"] = _plain_columns(decompose(runs, result.setting_columns))
    return tables


# ------------------------------------------------------------------ small synthetic sweeps
def write_run(folder: Path, seed: int, policy: str, days: int = 70, extra: dict | None = None, draws: int = 0,
              nan_every: int = 0) -> None:  # fmt: skip
    """A run folder as sim.run writes one (config, run.json, summary, series), with made-up values."""
    folder.mkdir(parents=True)
    overrides = [f"seed={seed}", f"policy={policy}", *(f"{k}={v}" for k, v in (extra or {}).items())]
    config = {"seed": seed, "policy": {"name": policy}, "feed": {"face_boost": 1.0},
              "training": {"retroactive_removal": False}}  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "run.json").write_text(json.dumps({"overrides": overrides, "policy": policy}))
    (folder / "summary.json").write_text("{}")
    rng = np.random.default_rng(seed * 7919 + len(policy))
    dates = pd.date_range("2024-09-01", periods=days, freq="D").astype("datetime64[ms]")
    frames = []
    for k in range(max(draws, 1)):
        grid = pd.MultiIndex.from_product([dates, REGIONS, METRICS], names=["date", "region", "metric"]).to_frame(
            index=False
        )
        grid["value"] = np.round(rng.normal(size=len(grid)), 2)  # rounded: ties, as shares at small counts
        if nan_every:
            grid.loc[::nan_every, "value"] = np.nan
        if draws:
            grid["draw"] = k
        frames.append(grid)
    pd.concat(frames, ignore_index=True).to_parquet(folder / "series.parquet", index=False)


@pytest.fixture
def sweep(tmp_path) -> Path:
    root = tmp_path / "sweep"
    for i, (policy, seed) in enumerate([(p, s) for p in ("b_policy", "a_policy") for s in range(4)]):
        write_run(root / str(i), seed, policy, nan_every=37 if i == 2 else 0)
    return root


def new_tables(sweep_dir: Path) -> dict:
    agg = sweep_dir / AGGREGATE_DIR
    out = {
        "runs": pd.read_parquet(agg / "runs.parquet"),
        "reduced": pd.read_parquet(agg / "reduced.parquet"),
        "summary": json.loads((agg / "summary.json").read_text()),
    }
    if (agg / "uncertainty.parquet").exists():
        out["uncertainty"] = pd.read_parquet(agg / "uncertainty.parquet")
    return out


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Dictionary columns (categoricals) as the old table's text, to compare frames."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def assert_same_as_old(sweep_dir: Path) -> None:
    old = old_tables(sweep_dir)
    aggregate(sweep_dir)
    new = new_tables(sweep_dir)
    pd.testing.assert_frame_equal(as_text(new["reduced"]), old["reduced"].astype({"region": str, "metric": str}),
                                  check_exact=True, check_dtype=False)  # fmt: skip
    assert new["summary"] == json.loads(json.dumps(old["summary"], default=str))
    keys = ["run", "date", "region", "metric", *(["draw"] if "draw" in old["runs"] else [])]
    a = as_text(new["runs"]).sort_values(keys).reset_index(drop=True)
    b = old["runs"].astype({"region": str, "metric": str}).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b[a.columns], check_exact=True, check_dtype=False)
    assert set(old) == set(new)
    if "uncertainty" in old:
        pd.testing.assert_frame_equal(new["uncertainty"], old["uncertainty"], check_exact=True)


def test_the_reduced_table_summary_and_runs_equal_the_in_memory_ones(sweep):
    assert_same_as_old(sweep)
    reduced = pd.read_parquet(sweep / AGGREGATE_DIR / "reduced.parquet")
    assert isinstance(reduced.region.dtype, pd.CategoricalDtype)  # dictionary-encoded for readers
    assert len(list((sweep / AGGREGATE_DIR / "runs.parquet").glob("*.parquet"))) == 8  # one file per run


def test_small_chunks_give_the_same_numbers(sweep, monkeypatch):
    monkeypatch.setattr(columnar, "CHUNK_VALUES", 2_000)  # many chunks of few days: the bound at work
    assert_same_as_old(sweep)
    monkeypatch.setattr(columnar, "CHUNK_VALUES", 300)  # and runs that differ in a block over the budget
    write_run(sweep / "short", 9, "a_policy", days=50)
    assert_same_as_old(sweep)


def test_a_block_over_the_budget_is_reduced_in_pieces_with_the_same_numbers(sweep, monkeypatch):
    monkeypatch.setattr(columnar, "CHUNK_VALUES", 300)  # under one block of a combination's 4 replicates
    assert columnar.plan_blocks([columnar.PartInfo(32 * 15, [0])] * 4, [0, 1, 2, 3]) == [([0], 7)]
    assert_same_as_old(sweep)


def test_a_block_reduced_in_pieces_equals_it_reduced_whole_reading_each_footer_and_cells_once(tmp_path, monkeypatch):
    """The pieces path gives the reduced table of whole blocks to the last bit (posterior draws, NaN
    values, uneven pieces, a run whose cells differ), each run's footer is parsed once for the
    reduction (not once per chunk and piece), and only the first run's cells are read in a chunk:
    the others' digests say their cells are the same, so only their values are read."""
    root = tmp_path / "sweep"
    for seed in range(5):
        write_run(root / f"p{seed}", seed, "p", draws=2, nan_every=11 if seed == 3 else 0)
        write_run(root / f"q{seed}", seed, "q", days=60 if seed == 4 else 70)  # q4: a shorter run
    monkeypatch.setattr(columnar, "CHUNK_VALUES", 10**9)  # every combination one chunk of whole blocks
    aggregate(root)
    whole = pq.read_table(root / AGGREGATE_DIR / "reduced.parquet")

    pieces, parses, reads = [], collections.Counter(), collections.Counter()
    reduce_block, parquet_file, read = columnar._reduce_block, pq.ParquetFile, columnar._read

    def spy_block(runs, keys, tables, n, replicates=1):
        pieces.append(n)
        return reduce_block(runs, keys, tables, n, replicates)

    def spy_file(source, *args, metadata=None, **kwargs):
        parses[str(source)] += metadata is None
        return parquet_file(source, *args, metadata=metadata, **kwargs)

    def spy_read(path, part, blocks, columns, footers=None):
        reads["horizon" if columns is None else "cells" if "metric" in columns else "values"] += 1
        return read(path, part, blocks, columns, footers)

    monkeypatch.setattr(columnar, "_reduce_block", spy_block)
    monkeypatch.setattr(columnar.pq, "ParquetFile", spy_file)
    monkeypatch.setattr(columnar, "_read", spy_read)
    monkeypatch.setattr(columnar, "CHUNK_VALUES", 1_000)  # a 32-day block: 480 cells x 5 or 10 replicates
    aggregate(root)
    in_pieces = pq.read_table(root / AGGREGATE_DIR / "reduced.parquet")
    assert min(pieces) > 1 and len(pieces) == 8, pieces  # each combination's 4 blocks (1, 32, 32, 5 days), in pieces
    assert in_pieces.equals(whole)
    files = {k: v for k, v in parses.items() if "runs.parquet" in k}
    assert len(files) == 10 and max(files.values()) <= 2  # the reduction's and the horizon's: not once a piece
    # cells read: each chunk's first run (8), q4's in its last two blocks (its digests differ: 27 days
    # of 32, and none), and q's third block again whole, by pandas, once q4 differs (5); values alone:
    # the other runs in the first piece of each chunk (4 each, 3 in q's last two) and every run in
    # each further piece (5 each; none in q's third block, reduced whole). Before: over 100 of cells.
    assert reads["cells"] == 8 + 2 + 5
    assert reads["values"] == 4 * (4 + 2 * 5) + 2 * (4 + 5) + 3 + (3 + 5)
    assert_same_as_old(root)


def test_a_chunk_stack_grows_past_the_replicates_expected():
    rows = np.arange(12.0).reshape(4, 3)
    stack = columnar._Stack(1)
    for row in rows:
        stack.add(row)
    np.testing.assert_array_equal(stack.values(), rows)


def test_a_setting_some_runs_lack_runs_missing_days_and_posterior_draws_equal_the_old_tables(tmp_path):
    root = tmp_path / "sweep"
    for seed in range(3):
        write_run(root / str(seed), seed, "p", extra={"awareness.x": 0.5} if seed else None, draws=3)
        write_run(root / f"short/{seed}", seed + 10, "p", days=40 if seed == 1 else 70, draws=3)
    assert_same_as_old(root)


def test_statuses_and_duplicates_are_kept_and_only_ok_runs_are_reduced(sweep):
    (sweep / "1" / "series.parquet").write_bytes(b"PAR1 truncated")
    shutil.copytree(sweep / "0", sweep / "extra" / "0")
    (sweep / "3" / "summary.json").unlink()
    assert_same_as_old(sweep)
    index = pd.read_csv(sweep / AGGREGATE_DIR / "runs.csv", dtype={"run": str}).set_index("run")
    assert index.loc["1", "status"] == "failed" and index.loc["3", "status"] == "missing"
    assert index.loc["0", "status"] == index.loc["extra/0", "status"] == "duplicate"


def test_the_aggregate_records_its_runs_and_knows_when_it_is_stale(sweep):
    assert not aggregate_is_current(sweep)  # never aggregated
    aggregate(sweep)
    assert aggregate_is_current(sweep)
    manifest = json.loads((sweep / AGGREGATE_DIR / "manifest.json").read_text())
    assert {r["run"] for r in manifest["runs"]} == {str(i) for i in range(8)}
    assert all(len(r["series_sha256"]) == 64 for r in manifest["runs"])
    series = sweep / "4" / "series.parquet"  # a replaced run: new files under the same name
    data = series.read_bytes()
    series.unlink()
    series.write_bytes(data)
    os.utime(series, ns=(1, 1))
    assert not aggregate_is_current(sweep)
    aggregate(sweep)
    assert aggregate_is_current(sweep)
    write_run(sweep / "8", 9, "a_policy")  # a run added
    assert not aggregate_is_current(sweep)


def test_duckdb_over_a_glob_gives_the_reduced_table(sweep, tmp_path):
    """The path past one machine: the same table by SQL over the run dataset's files, wherever
    DuckDB reads them (here a local folder; a shared folder or s3:// in the same way)."""
    aggregate(sweep)
    out = tmp_path / "sql.parquet"
    keys = ["policy", "feed.face_boost", "training.retroactive_removal"]
    columnar.sql_reduce(str(sweep / AGGREGATE_DIR / "runs.parquet" / "*.parquet"), keys, str(out))
    ours = as_text(pd.read_parquet(sweep / AGGREGATE_DIR / "reduced.parquet"))
    theirs = pd.read_parquet(out)
    pd.testing.assert_frame_equal(theirs[ours.columns], ours, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("module", ["sim.analysis.aggregate", "sim.reports.plot"])
def test_a_file_instead_of_a_folder_says_so_with_exit_2(sweep, module):
    done = subprocess.run([sys.executable, "-m", module, str(sweep / "0" / "series.parquet")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr
