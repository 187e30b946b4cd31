"""The aggregate's tables from a sweep's run index: the run dataset, the reduced table, the
horizon rows, the summary and the uncertainty split (sim.analysis.aggregate calls `write_tables`;
sim.analysis.columnar does the out-of-core work)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sim.analysis import columnar
from sim.analysis.uncertainty import DRAW, decompose, has_draws
from sim.core.files import write_json
from sim.core.run_folder import SERIES, SUMMARY
from sim.model.metrics import HEADLINE

SERIES_FILE, SUMMARY_FILE = SERIES, SUMMARY  # a run folder's series and summary (the aggregate's has that name too)
RUNS_DATASET = "runs.parquet"  # a folder: one Parquet file per run (sim.analysis.columnar)
REDUCED_FILE = "reduced.parquet"
HORIZON_FILE = "horizon.parquet"
UNCERTAINTY_FILE = "uncertainty.parquet"
SEED = "seed"


def unreadable(err: BaseException) -> str:
    return f"unreadable {SERIES_FILE}: {type(err).__name__}: {err}"


def _per_run(ok: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per run of `columns`, with the types a table of every run's rows gets when each
    run's constant settings are stacked (a setting None in one run and text in another is mixed)."""
    parts = [pd.DataFrame(index=[0]).assign(**{k: row[k] for k in columns}) for _, row in ok.iterrows()]
    return pd.concat(parts, ignore_index=True)


def group_keys(per_run: pd.DataFrame, setting_columns: list[str]) -> pd.DataFrame:
    """`run` and the settings replicates are reduced over (all but the seed; a setting missing in
    every run is dropped, one missing in some is the group "none")."""
    keys = [c for c in setting_columns if c != SEED and per_run[c].notna().any()]
    filled = per_run[["run", *keys]].copy()
    for k in keys:  # a setting that is None is still a group
        if filled[k].isna().any():
            filled[k] = filled[k].astype(object).where(filled[k].notna(), "none")
    return filled


def write_tables(index: pd.DataFrame, setting_columns: list[str], sweep_dir: Path, stage: Path,
                 schemas: dict[str, pa.Schema]) -> dict:  # fmt: skip
    """The run dataset, reduced, horizon, summary and uncertainty tables into `stage`; returns
    each aggregated run's series hash. A series that cannot be read after all is a failed run
    (marked so in `index`)."""
    ok = index[index.status == "ok"]
    if ok.empty:
        pd.DataFrame().to_parquet(stage / REDUCED_FILE)
        return {}
    per_run = _per_run(ok, ["run", *setting_columns])
    settings = columnar.settings_table(plain_columns(per_run))
    series_schema = pa.unify_schemas([schemas[r] for r in ok.run], promote_options="permissive")
    schema = columnar.part_schema(series_schema, settings.schema)
    files, parts, hashes, keep = [], [], {}, []
    for i, run in enumerate(tqdm(list(ok.run), desc="copying series", unit="run", disable=None, leave=False)):
        try:
            data = (sweep_dir / run / SERIES_FILE).read_bytes()
            table = pq.read_table(pa.BufferReader(data))
        except Exception as err:
            index.loc[index.run == run, ["status", "error"]] = ["failed", unreadable(err)]
            continue
        path = stage / RUNS_DATASET / f"run-{i:06d}.parquet"  # names in the runs' order
        parts.append(columnar.write_part(table, settings.slice(i, 1), schema, path))
        files.append(path)
        hashes[run] = hashlib.sha256(data).hexdigest()
        keep.append(i)
    if not files:
        pd.DataFrame().to_parquet(stage / REDUCED_FILE)
        return hashes
    raw = group_keys(per_run.iloc[keep], setting_columns).reset_index(drop=True)
    keys = plain_columns(raw)  # the reduced table's columns (text where mixed)
    names = [c for c in keys.columns if c != "run"]
    combos = keys[names].drop_duplicates().sort_values(names, kind="stable")
    raw_combos = raw.loc[combos.index, names].reset_index(drop=True)  # the summary's values, as before
    combos = combos.reset_index(drop=True)
    combo_of = keys[names].merge(combos.reset_index(), on=names, how="left")["index"].tolist() if names else []
    combo_of = combo_of or [0] * len(keys)
    table = columnar.settings_table(combos)
    combos_list, combos_schema = (table.to_pylist(), table.schema) if names else ([{}], pa.schema([]))
    total = sum(len(columnar.plan_blocks(parts, [i for i, x in enumerate(combo_of) if x == c])) for c in set(combo_of))
    with tqdm(total=total, desc="reducing", unit="chunk", disable=None, leave=False) as bar:
        last = columnar.reduce_to(files, parts, combo_of, combos_list, combos_schema, stage / REDUCED_FILE, bar)
    last = [f.assign(**dict(raw_combos.iloc[c])) if names else f for c, f in enumerate(last) if f is not None]
    write_json(stage / SUMMARY_FILE, horizon_summary(_last_frame(last, names)), default=str)
    columnar.horizon_rows(files, parts, max(p.last_day for p in parts), stage / HORIZON_FILE)
    # the split needs only a posterior sweep's headline rows: a seed-only sweep's horizon is not read at all
    if DRAW not in pq.read_schema(stage / HORIZON_FILE).names:
        return hashes
    horizon = pd.read_parquet(stage / HORIZON_FILE, filters=[("metric", "in", list(HEADLINE))])
    if has_draws(horizon):
        horizon = horizon.astype({name: str for name in columnar.DICTIONARY})
        split = decompose(horizon, setting_columns)
        plain_columns(split).to_parquet(stage / UNCERTAINTY_FILE, index=False)
    return hashes


def _last_frame(last: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Each combination's last-day rows as one frame in the reduced table's columns."""
    frame = pd.concat(last, ignore_index=True).astype({c: str for c in columnar.DICTIONARY})
    return frame[[*names, "date", "region", "metric", "median", "q10", "q90", "replicates"]]


def horizon_summary(reduced: pd.DataFrame) -> list[dict]:
    """Every metric per region on the last day, per setting combination, with its interval over
    replicates (median, q10, q90): the sweep's headline numbers."""
    keys = [c for c in reduced.columns if c not in ("date", "region", "metric", "median", "q10", "q90", "replicates")]
    if keys:  # each setting combination's own last day (a sweep over `end` keeps every horizon)
        combo_key = reduced[keys].map(str).agg("|".join, axis=1)
        last = reduced[reduced.date == reduced.groupby(combo_key).date.transform("max")]
    else:
        last = reduced[reduced.date == reduced.date.max()]
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


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: mixed setting columns become strings."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(type).nunique() > 1:
            out[c] = out[c].astype(str)
    return out
