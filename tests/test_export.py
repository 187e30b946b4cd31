"""`python -m sim.export`: a run's or a sweep's numbers as a tidy or wide table (csv or xlsx), with
the metrics' units and descriptions beside it (sim/export.py)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from sim import export as ex
from sim.analysis.aggregate import aggregate
from sim.model.metrics import BY_NAME
from sim.model.regions import OUTPUT_REGIONS
from sim.run.folder import execute
from tests.conftest import make_config

TINY = ("population.agents=2000", "population.min_agents_per_region=100", "end=2024-10-10")
DAY, REGION, METRIC = pd.Timestamp("2024-09-25"), "UK", "opted_out_share"


def _run_into(folder, policy="linkedin_actual", seed=0):
    config = make_config(*TINY, f"policy={policy}", f"seed={seed}")
    info = {"overrides": [f"policy={policy}", f"seed={seed}"], "choices": {"policy": policy}, "mode": "run"}
    execute(config, folder, info)
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _run_into(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("export") / "sweep"
    jobs = [("linkedin_actual", 0), ("linkedin_actual", 1), ("eu_affirmative", 0), ("eu_affirmative", 1)]
    for job, (policy, seed) in enumerate(jobs):
        _run_into(sweep / str(job), policy, seed)
    aggregate(sweep)
    return sweep


def _series(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "series.parquet")


def _read_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, parse_dates=["date"])


def test_tidy_csv_holds_every_row_in_region_order(run_dir, tmp_path):
    out = tmp_path / "series.csv"
    assert ex.main([str(run_dir), "--format", "csv", "--out", str(out)]) == 0
    table, series = _read_csv(out), _series(run_dir)
    assert list(table.columns) == ["date", "region", "metric", "value"]
    n_dates, n_metrics = series.date.nunique(), series.metric.nunique()
    assert len(table) == n_dates * len(OUTPUT_REGIONS) * n_metrics
    assert list(dict.fromkeys(table.region)) == list(OUTPUT_REGIONS)  # the regions file's order, not sorted
    assert list(dict.fromkeys(table.metric)) == [m for m in BY_NAME if m in set(series.metric)]
    got = table[(table.date == DAY) & (table.region == REGION) & (table.metric == METRIC)].value
    want = series[(series.date == DAY) & (series.region == REGION) & (series.metric == METRIC)].value
    assert len(got) == 1 and got.iloc[0] == want.iloc[0]  # exactly: csv floats round-trip
    side = pd.read_csv(tmp_path / "series_columns.csv")
    row = side[side.name == METRIC].iloc[0]
    assert row.unit == BY_NAME[METRIC].unit and row.description == BY_NAME[METRIC].description


def test_wide_has_the_same_numbers(run_dir, tmp_path):
    metrics = "opted_out_share,enrolled_share,dataset_text_tokens"
    ex.main([str(run_dir), "--out", str(tmp_path / "tidy.csv"), "--metrics", metrics])
    ex.main([str(run_dir), "--out", str(tmp_path / "wide.csv"), "--metrics", metrics, "--wide"])
    tidy, table = _read_csv(tmp_path / "tidy.csv"), _read_csv(tmp_path / "wide.csv")
    assert list(table.columns) == ["date", "region", *metrics.split(",")]  # the order given
    assert len(table) == tidy.date.nunique() * len(OUTPUT_REGIONS)
    back = table.melt(id_vars=["date", "region"], var_name="metric", value_name="value")
    merged = tidy.merge(back, on=["date", "region", "metric"], suffixes=("", "_wide"))
    assert len(merged) == len(tidy) and (merged.value == merged.value_wide).all()
    # One metric: one column per region, in the regions file's order.
    ex.main([str(run_dir), "--out", str(tmp_path / "one.csv"), "--metrics", METRIC, "--wide"])
    one = _read_csv(tmp_path / "one.csv")
    assert list(one.columns) == ["date", *OUTPUT_REGIONS]
    series = _series(run_dir)
    want = series[(series.date == DAY) & (series.region == REGION) & (series.metric == METRIC)].value.iloc[0]
    assert one.loc[one.date == DAY, REGION].iloc[0] == want


def test_xlsx_round_trips_with_a_columns_sheet(run_dir, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "run.xlsx"
    assert ex.main([str(run_dir), "--format", "xlsx", "--out", str(out), "--metrics", f"{METRIC},members"]) == 0
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["data", "columns"]
    rows = list(book["data"].iter_rows(values_only=True))
    assert rows[0] == ("date", "region", "metric", "value")
    series = _series(run_dir)
    assert len(rows) - 1 == series.date.nunique() * len(OUTPUT_REGIONS) * 2
    found = [r for r in rows[1:] if r[0].date() == DAY.date() and r[1] == REGION and r[2] == METRIC]
    want = series[(series.date == DAY) & (series.region == REGION) & (series.metric == METRIC)].value.iloc[0]
    assert len(found) == 1 and found[0][3] == pytest.approx(want, rel=1e-15, abs=0)  # Excel keeps 15-16 digits
    assert [r[1] for r in rows[1 : len(OUTPUT_REGIONS) * 2 + 1 : 2]] == list(OUTPUT_REGIONS)
    columns = {r[0]: r for r in book["columns"].iter_rows(values_only=True)}
    assert columns["members"][2] == BY_NAME["members"].unit


def test_sweep_tidy_and_wide_quantiles(sweep_dir, tmp_path):
    assert ex.main([str(sweep_dir), "--out", str(tmp_path / "r.csv"), "--metrics", METRIC]) == 0
    table = _read_csv(tmp_path / "r.csv")
    assert list(table.columns) == ["policy", "date", "region", "metric", "median", "q10", "q90", "replicates"]
    reduced = pd.read_parquet(sweep_dir / "aggregate" / "reduced.parquet")
    pick = (reduced.policy == "eu_affirmative") & (reduced.date == DAY) & (reduced.region == REGION)
    want = reduced[pick & (reduced.metric == METRIC)].iloc[0]
    got = table[(table.policy == "eu_affirmative") & (table.date == DAY) & (table.region == REGION)].iloc[0]
    assert (got["median"], got.q10, got.q90, got.replicates) == (want["median"], want.q10, want.q90, 2)
    assert len(table) == 2 * reduced.date.nunique() * len(OUTPUT_REGIONS)
    assert list(dict.fromkeys(table.region)) == list(OUTPUT_REGIONS)
    side = pd.read_csv(tmp_path / "r_columns.csv")
    assert "feed.face_boost" in set(side.name)  # a setting shared by every run: in the sidecar
    ex.main([str(sweep_dir), "--out", str(tmp_path / "w.csv"), "--metrics", METRIC, "--wide"])
    wide = _read_csv(tmp_path / "w.csv")
    regions = list(OUTPUT_REGIONS)
    assert list(wide.columns) == ["policy", "date", "replicates", *regions, *[f"{r}_q10" for r in regions],
                                  *[f"{r}_q90" for r in regions]]  # fmt: skip
    row = wide[(wide.policy == "eu_affirmative") & (wide.date == DAY)].iloc[0]
    assert (row[REGION], row[f"{REGION}_q10"], row[f"{REGION}_q90"]) == (want["median"], want.q10, want.q90)


def test_sweep_runs_give_each_seed(sweep_dir, tmp_path):
    assert ex.main([str(sweep_dir), "--runs", "--out", str(tmp_path / "runs.csv"), "--metrics", METRIC]) == 0
    table = _read_csv(tmp_path / "runs.csv")
    assert list(table.columns) == ["run", "policy", "seed", "date", "region", "metric", "value"]
    series = _series(sweep_dir / "3")
    want = series[(series.date == DAY) & (series.region == REGION) & (series.metric == METRIC)].value.iloc[0]
    got = table[(table.run == 3) & (table.date == DAY) & (table.region == REGION)]
    assert got.policy.iloc[0] == "eu_affirmative" and got.seed.iloc[0] == 1 and got.value.iloc[0] == want


def test_refuses_what_it_cannot_do(run_dir, tmp_path, capsys, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert ex.main([str(plain)]) == 2
    assert "neither a run folder" in capsys.readouterr().err
    assert ex.main([str(tmp_path / "nowhere")]) == 2
    assert ex.main([str(run_dir), "--metrics", "no_such_metric", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown metric" in capsys.readouterr().err
    out = tmp_path / "once.csv"
    assert ex.main([str(run_dir), "--out", str(out), "--metrics", METRIC]) == 0
    before = out.read_bytes()
    assert ex.main([str(run_dir), "--out", str(out), "--metrics", "members"]) == 2  # never overwritten silently
    assert "--force" in capsys.readouterr().err and out.read_bytes() == before
    assert ex.main([str(run_dir), "--out", str(out), "--metrics", "members", "--force"]) == 0
    assert out.read_bytes() != before
    assert ex.main([str(run_dir), "--runs", "--out", str(tmp_path / "r.csv")]) == 2  # --runs is for a sweep
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if not installed
    assert ex.main([str(run_dir), "--format", "xlsx", "--out", str(tmp_path / "x.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "openpyxl" in err and "pip install" in err and not (tmp_path / "x.xlsx").exists()


def test_an_unaggregated_sweep_says_to_aggregate(tmp_path, capsys):
    _run_into(tmp_path / "sweep" / "0")
    assert ex.main([str(tmp_path / "sweep")]) == 2
    assert "sim.analysis.aggregate" in capsys.readouterr().err
