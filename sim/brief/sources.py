"""The outputs a brief is built from: one or more sweeps' aggregated tables, with their runs' records.

A `Sweep` holds a sweep's reduced table (median, 10% and 90% quantiles over replicates, from
sim.analysis.aggregate), every run's values on the horizon day (for quantities derived per replicate, such as
a policy's training set as a share of the baseline's with the same seed), the runs' configs and
provenance. Every lookup that finds nothing raises `MissingData`, whose message the brief prints in
the section that needed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.analysis.aggregate import (
    AGGREGATE_DIR,
    HORIZON_FILE,
    REDUCED_FILE,
    RUNS_DATASET,
    SEED,
    aggregate,
    aggregate_is_current,
)
from sim.analysis.uncertainty import DRAW
from sim.brief.numbers import Quantity, Register
from sim.core.run_folder import CONFIG, PROVENANCE

STATS = ("date", "region", "metric", "median", "q10", "q90", "replicates")
QUANTILES = (0.1, 0.5, 0.9)  # as sim.analysis.aggregate.reduce_replicates


class MissingData(LookupError):
    """What a section needs is not in the outputs given; the message says what is missing."""


def norm(value) -> str:
    """Settings compared as text: None, "None", "none" and NaN are all "none"."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) in ("None", "nan"):
        return "none"
    return str(value)


@dataclass
class Sweep:
    path: Path
    reduced: pd.DataFrame  # aggregate/reduced.parquet on the horizon day, settings as text (norm)
    horizon_runs: pd.DataFrame | None  # aggregate/runs.parquet on the horizon day (None if absent)
    index: pd.DataFrame  # aggregate/runs.csv
    settings: list[str]  # setting columns of the reduced table
    configs: dict[str, dict]  # run config per policy (the first run of each)
    provenance: list[dict]  # every run's provenance.json
    register: Register
    defaults: dict[str, str] = field(default_factory=dict)  # value each varying setting is held at
    uncertainty: pd.DataFrame | None = None  # aggregate/uncertainty.parquet: a posterior ensemble's width split

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def horizon(self) -> pd.Timestamp:
        return self.reduced.date.max()

    @property
    def varying(self) -> list[str]:
        return [c for c in self.settings if c != SEED and self.reduced[c].nunique() > 1]

    def values(self, setting: str) -> list[str]:
        if setting not in self.reduced.columns:
            return []
        return sorted(self.reduced[setting].unique())

    def default_of(self, setting: str) -> str:
        """The value a setting is held at: its default (shipped, or the baseline policy) if the sweep
        has it, else the sweep's first value."""
        values = self.values(setting)
        if not values:
            raise MissingData(f"the sweep {self.name} has no setting {setting}")
        return self.defaults[setting] if self.defaults.get(setting) in values else values[0]

    def held(self, **chosen) -> dict[str, str]:
        """The full setting combination: the chosen values, every other varying setting at its default."""
        out = {s: self.default_of(s) for s in self.varying}
        out.update({k: norm(v) for k, v in chosen.items()})
        return out

    def _rows(self, frame: pd.DataFrame, settings: dict[str, str]) -> pd.DataFrame:
        mask = np.ones(len(frame), dtype=bool)
        for key, value in settings.items():
            if key not in frame.columns:
                raise MissingData(f"the sweep {self.name} has no setting {key}")
            mask &= frame[key].to_numpy() == value
        return frame[mask]

    def get(self, metric: str, region: str = "ALL", kind: str = "share", unit: str = "", **chosen) -> Quantity:
        """A metric on the horizon day for one setting combination, from reduced.parquet."""
        settings = self.held(**chosen)
        rows = self._rows(self.reduced, settings)
        rows = rows[(rows.region == region) & (rows.metric == metric)]
        if len(rows) != 1:
            raise MissingData(f"{metric} for {region} at {_label(settings)} is not in {self.name}")
        row = rows.iloc[0]
        selector = {"date": str(self.horizon.date()), "region": region, "metric": metric, **settings}
        return Quantity(
            float(row["median"]), float(row.q10), float(row.q90), int(row.replicates), kind,
            what=f"{metric}, {region}, {_label(settings)}", source=self.file("reduced.parquet"),
            selector=selector, register=self.register, unit=unit,
        )  # fmt: skip

    def per_seed(self, metric: str, region: str, settings: dict[str, str]) -> pd.Series:
        """A metric on the horizon day, one value per seed, for one setting combination."""
        if self.horizon_runs is None:
            raise MissingData(f"{self.name} has no aggregate/runs.parquet, which per-replicate comparisons need")
        rows = self._rows(self.horizon_runs, settings)
        rows = rows[(rows.region == region) & (rows.metric == metric)]
        if rows.empty:
            raise MissingData(f"{metric} for {region} at {_label(settings)} is not in {self.name}")
        replicate = [SEED, DRAW] if DRAW in rows.columns and rows[DRAW].notna().any() else SEED
        return rows.set_index(replicate)["value"].sort_index()  # posterior draws pair by (seed, draw)

    def compare(self, how: str, metric: str, region: str = "ALL", kind: str = "share", unit: str = "", *, of, to):
        """A per-seed comparison of one setting combination (`of`) with another (`to`), paired by seed
        (common random numbers), reduced over seeds like the aggregate's quantiles.

        how: "ratio" (of / to), "difference" (of - to) or "change" (of / to - 1).
        """
        a_settings, b_settings = self.held(**of), self.held(**to)
        a, b = self.per_seed(metric, region, a_settings), self.per_seed(metric, region, b_settings)
        a, b = a.align(b, join="inner")
        if a.empty:
            raise MissingData(f"no seed is shared by {_label(a_settings)} and {_label(b_settings)}")
        with np.errstate(divide="ignore", invalid="ignore"):
            per_seed = {"ratio": a / b, "difference": a - b, "change": a / b - 1}[how]
        if not np.isfinite(per_seed).all():
            raise MissingData(f"{metric} is zero under {_label(b_settings)}, so the {how} is undefined")
        q10, median, q90 = (float(per_seed.quantile(q)) for q in QUANTILES)
        selector = {
            "date": str(self.horizon.date()), "region": region, "metric": metric, "how": how,
            "of": a_settings, "to": b_settings, "replicates": [str(s) for s in a.index],
        }  # fmt: skip
        return Quantity(
            median, q10, q90, len(per_seed), kind, what=f"{how} of {metric}, {region}: {_label(a_settings)} "
            f"to {_label(b_settings)}", source=self.file("runs.parquet"), selector=selector,
            register=self.register, unit=unit,
        )  # fmt: skip

    def band_width(self, metric: str, region: str = "ALL") -> Quantity:
        """The widest 10-90% band of a share on the horizon day over the sweep's setting combinations."""
        r = self.reduced
        rows = r[(r.region == region) & (r.metric == metric)]
        if rows.empty:
            raise MissingData(f"{metric} for {region} is not in {self.name}")
        width = float((rows.q90 - rows.q10).max())
        selector = {"date": str(self.horizon.date()), "region": region, "metric": metric, "statistic": "max(q90-q10)"}
        return Quantity(width, width, width, 1, "share", f"widest 10-90% band of {metric}, {region}",
                        self.file("reduced.parquet"), selector, self.register)  # fmt: skip

    def file(self, name: str) -> str:
        return str(self.path / AGGREGATE_DIR / name)

    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.index[SEED].dropna().unique())

    def replicates(self) -> int:
        return int(self.reduced.replicates.min())

    def agents(self) -> int | None:
        counts = {p.get("agents") for p in self.provenance}
        return counts.pop() if len(counts) == 1 else None


def _settings_as_text(frame: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """Setting columns as text (norm), so that lookups compare like with like."""
    out = frame.copy()
    for column in settings:
        if column != SEED:
            out[column] = out[column].map(norm)
    return out.reset_index(drop=True)


def _label(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "the sweep's only setting"


def resolve(path: Path) -> Path:
    """A sweep folder from a sweep folder, its aggregate/ folder or its aggregate table."""
    path = Path(path)
    if path.is_file() or (path.name == RUNS_DATASET and path.parent.name == AGGREGATE_DIR):  # runs.parquet is a folder
        path = path.parent
    if path.name == AGGREGATE_DIR:
        path = path.parent
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a sweep folder, an aggregate/ folder or an aggregate table")
    return path


def _has_rows(table: Path) -> bool:
    import pyarrow.parquet as pq

    return pq.ParquetFile(table).metadata.num_rows > 0 and "date" in pq.read_schema(table).names


def load_sweep(path: Path, register: Register, defaults: dict[str, str], log=None) -> Sweep:
    """Read a sweep's aggregate, aggregating first if it has none or if its run folders changed
    since it was made (a replaced run, a rerun sweep, finished or interrupted:
    sim.analysis.aggregate.aggregate_is_current)."""
    path = resolve(path)
    agg = path / AGGREGATE_DIR
    if not (agg / REDUCED_FILE).exists():
        aggregate(path)
    elif not aggregate_is_current(path):
        if log:
            log(f"{agg} no longer describes the run folders' results: aggregating {path} again")
        aggregate(path)
    dates = pd.read_parquet(agg / REDUCED_FILE, columns=["date"]) if _has_rows(agg / REDUCED_FILE) else None
    if dates is None or dates.empty:
        raise MissingData(f"{path} has no successful run to build a brief from (see {agg / 'runs.csv'})")
    index = pd.read_csv(agg / "runs.csv", dtype={"run": str})
    horizon = dates.date.max()  # only the horizon day's rows are read (the tables can be large)
    reduced = pd.read_parquet(agg / REDUCED_FILE, filters=[("date", "==", horizon)])
    settings = [c for c in reduced.columns if c not in STATS]
    reduced = _settings_as_text(reduced, settings)
    horizon_runs = None
    for name in (HORIZON_FILE, RUNS_DATASET):  # the horizon's rows, or (an older aggregate) every row
        if (agg / name).exists():
            horizon_runs = pd.read_parquet(agg / name, filters=[("date", "==", horizon)])
            horizon_runs = _settings_as_text(horizon_runs, [c for c in settings if c != SEED])
            break
    configs, provenance = {}, []
    for run, policy in index.loc[index.status == "ok", ["run", "policy"]].itertuples(index=False):
        run_dir = path / run
        if (run_dir / PROVENANCE).exists():
            provenance.append(json.loads((run_dir / PROVENANCE).read_text()))
        if (run_dir / CONFIG).exists():  # keyed by the aggregate's policy (the `policy=` choice)
            configs.setdefault(str(policy), yaml.safe_load((run_dir / CONFIG).read_text()))
    split = pd.read_parquet(agg / "uncertainty.parquet") if (agg / "uncertainty.parquet").exists() else None
    return Sweep(path, reduced, horizon_runs, index, settings, configs, provenance, register, dict(defaults), split)
