"""Policy briefs (sim.brief) from tiny sweeps: every number traceable, missing parts said, templates
the user's, HTML self-contained, PDF readable."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.brief.numbers import (
    count_range,
    count_text,
    share_range,
    share_text,
    table_factor,
)
from sim.brief.sources import norm
from sim.run.compose import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
# seeds only (uncertainty=none): the brief of a seed-only sweep (a posterior one: tests/test_ensembles.py)
TINY = ["population.agents=1500", "population.min_agents_per_region=100", "end=2024-10-31", "progress=false",
        "uncertainty=none"]  # fmt: skip
DATE = "2026-11-23"


# ---------------------------------------------------------------- formats (analytic cases)
@pytest.mark.parametrize(
    "value, unit, text",
    [
        (212e6, "", "212 million"),
        (1.4e9, "tokens", "1.4 billion tokens"),
        (38.2e6, "", "38 million"),
        (2.5e12, "tokens", "2.5 trillion tokens"),
        (12_345, "images", "12,300 images"),
        (950, "", "950"),
        (0, "", "0"),
    ],
)
def test_counts_read_as_words(value, unit, text):
    assert count_text(value, unit) == text


def test_ranges_use_the_medians_scale_and_collapse_when_rounding_hides_them():
    assert count_range(1.4e9, 1.3e9, 1.5e9, "tokens") == "1.4 billion tokens (1.3\u20131.5 billion)"
    assert count_range(212e6, 208e6, 215e6) == "212 million (208\u2013215 million)"
    assert share_range(0.38, 0.35, 0.41) == "38% (35\u201341%)"
    assert share_range(0.042, 0.040, 0.045) == "4.2% (4.0\u20134.5%)"
    assert share_range(0.381, 0.379, 0.383) == "38%"  # the interval is narrower than the rounding
    assert share_range(-0.029, -0.032, -0.023) == "-2.9% (-3.2% to -2.3%)"
    assert share_text(0.0035) == "0.35%"


def test_table_columns_use_the_largest_scale_that_keeps_small_regions_visible():
    assert table_factor([1.3e12, 4.4e9, 4.6e8]) == (1e9, "billion")
    assert table_factor([8.6e8, 2.9e5, 0.0]) == (1e6, "million")
    assert table_factor([0.0, 0.0]) == (1.0, "")


def test_settings_compare_as_text():
    assert norm(None) == norm("None") == norm(float("nan")) == "none"
    assert norm(True) == "True" and norm(1.38) == "1.38"


# ---------------------------------------------------------------- tiny sweeps and their brief
def _sweep(root: Path, name: str, *overrides: str) -> Path:
    sweep_dir = root / name
    cmd = [sys.executable, "-m", "sim.run", "-m", *overrides, *TINY, "hydra.launcher.n_jobs=2",
           f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return sweep_dir


def _brief(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sim.brief", *args, "--date", DATE]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("brief")
    return {
        "root": root,
        "regimes": _sweep(root, "regimes", "+experiment=regimes",
                          "policy=linkedin_actual,affirmative_everywhere,forced_choice_everywhere", "seed=range(0,3)"),
        "attention": _sweep(root, "attention", "+experiment=attention", "policy=linkedin_actual",
                            "feed.face_boost=1.0,1.38", "seed=range(0,2)"),
        "retroactive": _sweep(root, "retroactive", "+experiment=retroactive", "policy=linkedin_actual",
                              "seed=range(0,2)"),
    }  # fmt: skip


@pytest.fixture(scope="module")
def brief(sweeps) -> Path:
    """The full brief: three sweeps, the shipped sensitivity and calibration results."""
    out = sweeps["root"] / "brief"
    done = _brief(sweeps["root"], str(sweeps["regimes"]), str(sweeps["attention"]), str(sweeps["retroactive"]),
                  "--out", str(out), "--sensitivity", str(DATA_DIR / "sensitivity"),
                  "--calibration", str(DATA_DIR / "calibration"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _numbers(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "brief_numbers.csv", keep_default_na=False)


def _select(frame: pd.DataFrame, selector: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for key, value in selector.items():
        if key == "date":
            mask &= frame.date == pd.Timestamp(value)
        else:
            mask &= frame[key].astype(str) == norm(value)
    return frame[mask]


VALUES = {"date", "region", "metric", "median", "q10", "q90", "replicates", "value", "seed"}


@functools.cache
def _table(path: str) -> pd.DataFrame:
    """A table once per file, its setting columns as text (norm) for the selectors."""
    if not path.endswith(".parquet"):
        return pd.read_csv(path)
    frame = pd.read_parquet(path)
    for column in set(frame.columns) - VALUES:
        frame[column] = frame[column].map(norm)
    return frame


def _recompute(row) -> tuple[float, float, float]:
    """The value a register row claims, recomputed from the file it names (independently of sim.brief)."""
    selector = json.loads(row.selector)
    source = Path(row.source)
    if source.name == "reduced.parquet":
        reduced = _table(row.source)
        if selector.get("statistic") == "max(q90-q10)":
            rows = _select(reduced, {k: v for k, v in selector.items() if k != "statistic"})
            width = float((rows.q90 - rows.q10).max())
            return width, width, width
        rows = _select(reduced, selector)
        assert len(rows) == 1, (row.what, len(rows))
        r = rows.iloc[0]
        return float(r["median"]), float(r.q10), float(r.q90)
    if source.name == "runs.parquet":
        runs = _table(row.source)
        base = {"date": selector["date"], "region": selector["region"], "metric": selector["metric"]}
        a = _select(runs, {**base, **selector["of"]}).set_index("seed")["value"]
        b = _select(runs, {**base, **selector["to"]}).set_index("seed")["value"]
        a, b = a.align(b, join="inner")
        per_seed = {"ratio": a / b, "difference": a - b, "change": a / b - 1}[selector["how"]]
        return tuple(float(per_seed.quantile(q)) for q in (0.5, 0.1, 0.9))
    if source.name == "sobol.csv":
        sobol = _table(row.source)
        rows = sobol[sobol.output == selector["output"]]
        if "parameter" in selector:  # an index; the seed-noise share is per output
            rows = rows[rows.parameter == selector["parameter"]]
        value = float(rows[selector["column"]].iloc[0])
        return value, value, value
    if source.name == "checks.json":  # the calibration's checks (sim.analysis.checks)
        checks = json.loads(source.read_text())
        if selector.get("part") == "predictive":  # the model over posterior predictive draws (measured ones)
            values = pd.Series(checks["predictive"][selector["target"]], dtype=float).dropna()
            values = values[np.isfinite(values)]
            return tuple(float(values.quantile(q)) for q in (0.5, 0.1, 0.9))
        if selector.get("part") == "z_scores":
            z = checks["z_scores"][selector["target"]]
            return z["median"], z["q10"], z["q90"]
        if selector["check"] == "joint_fit":  # recomputed from the distances, not the recorded share
            from scipy import stats

            fit = checks["joint_fit"]
            share = float(np.mean(np.array(fit["distances"]) < stats.chi2.ppf(0.95, len(fit["targets"]))))
            return share, share, share
        if selector["check"] == "identification":
            rows, assessable = checks["identification"]["rows"], checks["identification"].get("assessable", True)
            identified = sum(r["ratio"] < 0.5 for r in rows) if assessable else 0  # too few effective sets: none
            value = identified if selector["key"] == "identified" else len(rows)
            return value, value, value
        value = checks[selector["check"]][selector["key"]]
        return value, value, value
    if source.name == "posterior.json":
        value = json.loads(source.read_text())[selector["key"]]
        return value, value, value
    if source.name == "targets.yaml":
        target = next(t for t in yaml.safe_load(source.read_text())["targets"] if t["id"] == selector["target"])
        value = target[selector["key"]]
        return value, value, value
    raise AssertionError(f"unknown source {source}")


def test_every_number_in_the_brief_equals_the_table_value_it_claims_to_show(brief):
    numbers = _numbers(brief)
    text = (brief / "brief.md").read_text()
    assert len(numbers) > 100
    assert set(Path(s).name for s in numbers.source) >= {"reduced.parquet", "runs.parquet", "sobol.csv"}
    for row in numbers.itertuples():
        assert row.text in text, row.text
        median, q10, q90 = _recompute(row)
        assert (row.median, row.q10, row.q90) == pytest.approx((median, q10, q90), rel=1e-12, abs=1e-15), row.what


def test_a_headline_number_is_the_aggregates_value_formatted(brief, sweeps):
    reduced = pd.read_parquet(sweeps["regimes"] / "aggregate" / "reduced.parquet")
    last = reduced[(reduced.date == reduced.date.max()) & (reduced.region == "ALL")]
    row = last[(last.metric == "dataset_text_tokens") & (last.policy == "linkedin_actual")].iloc[0]
    expected = count_range(row["median"], row.q10, row.q90, "tokens")
    findings = _section((brief / "brief.md").read_text(), "Key findings")
    assert f"under linkedin_actual the training set holds\n   {expected} of post text" in findings


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_findings_and_tables_print_no_number_that_is_not_from_the_outputs(brief):
    """Take out every registered number, the dates, figure references and settings (the face boost
    factor): no digit may be left in the findings, the tables or the drivers (each finding's line;
    the paragraph above them describes the analysis's design)."""
    markdown = (brief / "brief.md").read_text()
    texts = sorted(set(_numbers(brief).text), key=len, reverse=True)
    for heading in ("Key findings", "Tables by region policy", "What drives the findings"):
        body = _section(markdown, heading)
        if heading.startswith("What drives"):
            body = "\n".join(line for line in body.splitlines() if line.startswith("- **"))
        body = re.sub(r"\|(\s*\S+\s*)\|\s*[a-z ()]+\|", "|", body)  # region and regime columns
        body = re.sub(r"\d{1,2} (January|February|March|April|May|June|July|August|September|October|"
                      r"November|December) \d{4}", "", body)  # fmt: skip
        body = re.sub(r"(?m)^\d\. ", "", body)  # the findings' list numbers
        body = re.sub("10%?\u201390%", "", body)  # the quantiles the intervals are
        body = re.sub(r"Figures? [\d, ]+", "", body)
        body = re.sub(r"factor\s+(of\s+)?[\d.]+", "", body)
        body = re.sub(r"\w*_\w*\d\w*", "", body)  # identifiers such as default_on_2024
        for t in texts:  # whole numbers only: "0%" must not eat the 0 of another number
            body = re.sub(rf"(?<![\w.,]){re.escape(t)}(?![\w%])", "", body)
        assert not re.search(r"\d", body), (heading, re.findall(r".{30}\d.{30}", body)[:5])


def test_every_finding_is_given_when_the_sweeps_support_it(brief):
    findings = _section((brief / "brief.md").read_text(), "Key findings")
    for title in ("The training set by policy", "Objectors whose data is still used", "Identity-labelled faces",
                  "Retroactive removal"):  # fmt: skip
        assert f"**{title}.**" in findings
    given = findings.split("5. **Publicity and reactions.**")[0]  # the three sweeps have no publicity sweep
    assert "No sweep given" not in given
    assert "+experiment=publicity" in findings  # the missing one names the experiment to run
    assert "Figure" in findings


def test_the_limitations_say_what_the_runs_had_on(brief):
    from types import SimpleNamespace

    from sim.brief.context import model_limitations

    limits = _section((brief / "brief.md").read_text(), "Limitations")
    assert "Preferences move only among the indifferent" in limits and "Preferences are fixed" not in limits
    assert "Membership changes" in limits and "one opt-out route at a time" not in limits
    assert "UK's 2024 data rests on an assumption" in limits  # the real policy is among the runs
    off = {"concern": {"enabled": False}, "membership": {"enabled": False}, "policy": {"name": "prominent_toggle"}}
    on = {"concern": {"enabled": True}, "membership": {"enabled": False}, "policy": {"name": "prominent_toggle"}}
    fixed = " ".join(model_limitations([SimpleNamespace(configs={"a": off})]))
    assert "Preferences are fixed" in fixed and "minors never age into eligibility" in fixed and "UK" not in fixed
    mixed = " ".join(model_limitations([SimpleNamespace(configs={"a": off, "b": on})]))
    assert "the concern switch differs" in mixed


def test_a_seed_only_brief_says_so_before_its_first_number(brief):
    text = (brief / "brief.md").read_text()
    notice = text.index("**Seed-only intervals.**")
    assert notice < text.index("## The question") < text.index("## Key findings")
    assert "uncertainty=posterior" in text[notice : text.index("## The question")]


def test_html_is_self_contained_with_every_figure_embedded(brief):
    html = (brief / "brief.html").read_text()
    figures = list((brief / "figures").glob("*.png"))
    assert figures
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing fetched from elsewhere
    assert "<table>" in html and 'class="wide"' in html


def test_pdf_has_the_briefs_text(brief):
    from pypdf import PdfReader

    pdf = brief / "brief.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 4
    text = " ".join(page.extract_text() for page in reader.pages)
    for words in ("Key findings", "Tables by region policy", "Methods", "Limitations", "Reproducibility"):
        assert words in text
    portrait, landscape = (
        reader.pages[0].mediabox,
        [p.mediabox for p in reader.pages if p.mediabox.width > p.mediabox.height],
    )
    assert portrait.height > portrait.width and landscape  # the region tables on landscape pages


def test_reproducibility_section_names_the_command_seeds_and_commit(brief, sweeps):
    repro = _section((brief / "brief.md").read_text(), "Reproducibility")
    assert "python -m sim.run -m +experiment=regimes" in repro
    assert "seeds 0, 1, 2" in repro
    provenance = json.loads(next(sweeps["regimes"].glob("*/provenance.json")).read_text())
    assert (provenance["git"]["commit"] or "unknown") in repro
    assert "mesa 3.3" in repro and "python -m sim.brief" in repro


def test_the_same_outputs_give_the_same_brief(brief, sweeps, tmp_path):
    again = tmp_path / "again"
    done = _brief(sweeps["root"], str(sweeps["regimes"]), str(sweeps["attention"]), str(sweeps["retroactive"]),
                  "--out", str(again), "--formats", "md,html", "--sensitivity", str(DATA_DIR / "sensitivity"),
                  "--calibration", str(DATA_DIR / "calibration"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    strip = lambda s: re.sub(r"`python -m sim.brief [^`]*`", "", s)  # noqa: E731 (the command names --out)
    assert strip((again / "brief.md").read_text()) == strip((brief / "brief.md").read_text())
    assert (again / "brief_numbers.csv").read_bytes() == (brief / "brief_numbers.csv").read_bytes()


# ---------------------------------------------------------------- a brief from less
def test_a_brief_from_one_sweep_says_what_is_missing_instead_of_failing(sweeps, tmp_path):
    out = tmp_path / "regimes-only"
    done = _brief(sweeps["root"], str(sweeps["regimes"]), "--out", str(out), "--sensitivity", "none",
                  "--calibration", "none", "--formats", "md,html")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    markdown = (out / "brief.md").read_text()
    findings = _section(markdown, "Key findings")
    assert "varies feed.face_boost. Run `python -m sim.run -m +experiment=attention`" in findings
    assert "varies training.retroactive_removal. Run `python -m sim.run -m +experiment=retroactive`" in findings
    assert "No sensitivity analysis was given" in _section(markdown, "What drives the findings")
    assert "No calibration results were given" in _section(markdown, "Methods")
    assert "### linkedin_actual (baseline)" in _section(markdown, "Tables by region policy")


def test_a_sweep_without_the_baseline_or_with_one_policy_gives_a_brief_that_says_so(sweeps, tmp_path):
    out = tmp_path / "no-baseline"  # a baseline given that no sweep ran: an error, before anything is written
    done = _brief(sweeps["root"], str(sweeps["regimes"]), "--baseline", "eu_affirmative", "--out", str(out),
                  "--formats", "md")  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--baseline eu_affirmative" in done.stderr and not out.exists()
    one = tmp_path / "one-policy"
    done = _brief(sweeps["root"], str(sweeps["retroactive"]), "--out", str(one), "--formats", "md")
    assert done.returncode == 0, done.stderr[-2000:]
    findings = _section((one / "brief.md").read_text(), "Key findings")
    assert "varies policy. Run `python -m sim.run -m +experiment=regimes`" in findings
    assert "**Retroactive removal.** Under linkedin_actual" in findings


def test_an_aggregate_table_path_is_accepted(sweeps, tmp_path):
    out = tmp_path / "from-table"
    table = sweeps["regimes"] / "aggregate" / "reduced.parquet"
    done = _brief(sweeps["root"], str(table), "--out", str(out), "--formats", "md")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "brief.md").exists()


def test_bad_input_is_a_clear_error(sweeps, tmp_path):
    done = _brief(tmp_path, str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "no such file or folder" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _brief(tmp_path, str(empty))
    assert done.returncode == 2 and "no run folders" in done.stderr
    done = _brief(tmp_path, str(sweeps["regimes"]), "--formats", "docx")
    assert done.returncode == 2 and "subset of md,html,pdf" in done.stderr


# ---------------------------------------------------------------- templates are the user's
def test_a_copied_and_edited_template_changes_the_brief(sweeps, tmp_path):
    templates = tmp_path / "templates"
    done = subprocess.run([sys.executable, "-m", "sim.brief", "--copy-templates", str(templates)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0
    assert {p.name for p in templates.iterdir()} == {"brief.md.j2", "page.html.j2", "brief.css"}
    source = (templates / "brief.md.j2").read_text()
    (templates / "brief.md.j2").write_text(source.replace("## The question", "## Our question"))
    (templates / "brief.css").write_text("body { color: #123456; }\n")
    out = tmp_path / "custom"
    done = _brief(sweeps["root"], str(sweeps["regimes"]), "--templates", str(templates), "--out", str(out),
                  "--formats", "md,html")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "## Our question" in (out / "brief.md").read_text()
    assert "#123456" in (out / "brief.html").read_text()


def test_a_misspelt_name_in_a_template_is_an_error_not_a_blank(sweeps, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "brief.md.j2").write_text("# {{ title }}\n{{ findings.training_set.baseline.tokenz }}\n")
    done = _brief(sweeps["root"], str(sweeps["regimes"]), "--templates", str(templates), "--out",
                  str(tmp_path / "out"), "--formats", "md")  # fmt: skip
    assert done.returncode == 2 and "template error" in done.stderr and "tokenz" in done.stderr


# ---------------------------------------------------------------- publicity and reactions (issue 14)
def test_publicity_finding_compares_a_story_and_printed_steps_paired_by_seed(tmp_path):
    """A tiny publicity sweep: the finding's story and guidance effects are the per-seed paired differences
    of the runs, printed in percentage points, and a guided story converts more than an unguided one."""
    sweep_dir = tmp_path / "publicity"
    story = "[{date:'2024-11-01',regions:[all],level:high,label:campaign}]"
    cmd = [sys.executable, "-m", "sim.run", "-m", "+experiment=publicity",
           f"awareness.media.extra_events=choice([],{story})", "guidance.coverage_share=0.0,1.0",
           "policy.route_override=settings_toggle", "seed=range(0,2)", "uncertainty=none",
           # printed steps that help clearly more than a search of one's own: the direction is testable
           # at 3,000 agents whatever the fit puts the two offsets at
           "guidance.search_offset=6.0", "friction.motivated_search_offset=1.0",
           "population.agents=3000", "population.min_agents_per_region=200", "end=2025-01-31",
           "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "brief"
    done = _brief(tmp_path, str(sweep_dir), "--out", str(out), "--formats", "md", "--sensitivity", "none")
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "brief.md").read_text(encoding="utf-8")
    assert "5. **Publicity and reactions.** Under" in text and "high national story on 2024-11-01" in text

    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    runs = runs[(runs.date == runs.date.max()) & (runs.region == "ALL") & (runs.metric == "opted_out_share")]

    def per_seed(has_story: bool, guidance: float) -> pd.Series:
        rows = runs[(runs["awareness.media.extra_events"].astype(str).str.contains("high") == has_story)
                    & (runs["guidance.coverage_share"].astype(float) == guidance)]  # fmt: skip
        return rows.set_index("seed")["value"].sort_index()

    story_adds = per_seed(True, 0.0) - per_seed(False, 0.0)
    guidance_adds = per_seed(True, 1.0) - per_seed(True, 0.0)
    numbers = _numbers(out)
    printed = numbers[numbers.what.str.startswith("difference of opted_out_share")]
    assert sorted(printed["median"].round(12)) == sorted(
        [round(story_adds.quantile(0.5), 12), round(guidance_adds.quantile(0.5), 12)]
    )
    assert printed.text.str.endswith("percentage points").all()
    # the printed path converts more at the same reach where a guided search beats an unguided one
    # (ODD §7.11: a guided member uses the larger offset)
    assert (guidance_adds > 0).all()


def _with_seed_noise(folder: Path, rough: str) -> pd.DataFrame:
    """A copy of the shipped sensitivity analysis in `folder` whose output `rough` has a seed-noise
    share above NOISE_WARN and every other output one below it."""
    from sim.analysis.sensitivity import NOISE_WARN

    shipped = DATA_DIR / "sensitivity"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("morris.csv", "sensitivity.json"):
        (folder / name).write_bytes((shipped / name).read_bytes())
    sobol = pd.read_csv(shipped / "sobol.csv")
    sobol["seed_noise"] = np.where(sobol.output == rough, NOISE_WARN + 0.1, NOISE_WARN / 2)
    sobol.to_csv(folder / "sobol.csv", index=False)
    return sobol


def test_the_brief_gives_each_drivers_seed_noise_and_calls_the_noisy_ones_rough(sweeps, tmp_path):
    _with_seed_noise(tmp_path / "sensitivity", "linkedin_actual/default_on_2024/dataset_text_tokens")
    out = tmp_path / "brief"
    done = _brief(sweeps["root"], str(sweeps["regimes"]), "--out", str(out), "--formats", "md",
                  "--sensitivity", str(tmp_path / "sensitivity"), "--calibration", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    drivers = _section((out / "brief.md").read_text(), "What drives the findings")
    training = next(line for line in drivers.splitlines() if line.startswith("- **The training set"))
    assert training.count("Seed noise") == 2 and training.count("read these indices as rough") == 1
    numbers = _numbers(out)
    assert numbers.what.str.startswith("seed-noise share of").sum() >= 2  # each printed one is registered


def test_drivers_carry_each_outputs_seed_noise_and_flag_the_rough_ones(tmp_path):
    """Where the sensitivity analysis measured the population draw's noise, each output's drivers
    carry it (registered with its source), and a share above NOISE_WARN marks its indices rough."""
    from sim.analysis.sensitivity import NOISE_WARN
    from sim.brief.context import drivers
    from sim.brief.numbers import Register

    rough = "linkedin_actual/default_on_2024/dataset_text_tokens"
    sobol = _with_seed_noise(tmp_path, rough)
    register = Register()
    entries = drivers(tmp_path, {}, "linkedin_actual", register)["findings"]["training_set"]
    by_group = {e["group"]: e for e in entries}
    assert by_group["default_on_2024"]["noisy"] and not by_group["enrolled_2025"]["noisy"]
    assert by_group["default_on_2024"]["seed_noise"].median == pytest.approx(NOISE_WARN + 0.1)
    text = by_group["default_on_2024"]["seed_noise"].value  # printing registers it, with its source
    assert register.rows[-1]["text"] == text and register.rows[-1]["source"] == str(tmp_path / "sobol.csv")
    sobol.drop(columns="seed_noise").to_csv(tmp_path / "sobol.csv", index=False)  # an older analysis
    entries = drivers(tmp_path, {}, "linkedin_actual", Register())["findings"]["training_set"]
    assert all(e["seed_noise"] is None and not e["noisy"] for e in entries)


# ---------------------------------------------------------------- the calibration's worth
def _calibration_folder(folder: Path, *, distances: list[float], coverage: float) -> Path:
    """A posterior folder in experiments/calibrate.py's format, over the shipped targets and
    parameters: three weighted sets at the priors' centres, and checks with the given distances
    and recovery coverage (every stage-one parameter identified, every stage-two one not)."""
    from sim.analysis.calibration import load_targets
    from sim.analysis.posterior import write_posterior
    from sim.core.files import write_json

    targets, params, nuisance = load_targets()
    every = params + nuisance
    centre = {p["name"]: float(np.mean(next(iter(p["prior"].values())))) for p in every}
    values = np.array([[centre[p["name"]] for p in every]] * 3)
    distance = [t.id for t in targets if t.stage == 2 and not t.check]
    provenance = {
        "method": "two stages (a test's)", "agents": 300, "total_simulations": 96,
        "effective_sample_size": 12.3, "stage_one_effective_sample_size": 40.0, "distance_targets": distance,
        "nuisance": [p["name"] for p in nuisance],
        "most_probable": centre, "targets": {t.id: {"value": t.value, "tolerance": t.tolerance} for t in targets},
    }  # fmt: skip
    write_posterior(folder, every, values, np.array([0.5, 0.3, 0.2]), provenance)
    predictive = {t.id: [t.value - 3 * t.tolerance, t.value, t.value + t.tolerance, float("nan")] for t in targets}
    rows = [{"name": p["name"], "stage": p.get("stage", 2), "ratio": 0.2 if p.get("stage") == 1 else 0.9,
             "posterior_90": [0, 1], "prior": p["prior"], "identified": p.get("stage") == 1}
            for p in every]  # fmt: skip
    write_json(folder / "checks.json", {
        "joint_fit": {"share": 1.0, "passes": True, "draws": len(distances), "threshold": 0.0, "targets": distance,
                      "distances": distances},  # the recorded share and flag are wrong on purpose
        "z_scores": {t.id: {"median": 3.0 if t.id == distance[0] else 0.5, "q10": -1.0, "q90": 3.5} for t in targets},
        "predictive": predictive,
        "identification": {"inferred": len(rows), "identified": 99, "passes": True, "rows": rows,
                           "effective_sample_size": 100.0},
        "recovery": {"truths": 10, "coverage": coverage, "passes": True, "per_parameter": {}},
    })  # fmt: skip
    return folder


def test_the_brief_states_what_the_posterior_is_worth_and_traces_every_number(tmp_path):
    """The brief's calibration part: effective sample size, the joint fit recomputed from its
    distances (a wrong recorded flag is not believed), identification, recovery coverage and the
    prior-only parameters, every number registered with the file and entry it came from."""
    from sim.analysis.calibration import load_prior_only, load_targets
    from sim.brief.context import calibration
    from sim.brief.numbers import Register

    targets, params, nuisance = load_targets()
    distance = [t.id for t in targets if t.stage == 2 and not t.check]
    folder = _calibration_folder(tmp_path / "cal", distances=[1.0, 500.0, 600.0, 700.0], coverage=0.6)
    register = Register()
    cal = calibration(folder, [], register)
    assert cal["joint"].median == pytest.approx(0.25) and not cal["joint_passes"]  # 1 of 4 below chi-square's 95%
    assert str(cal["coverage"]) == "60%" and not cal["recovery_passes"]
    assert str(cal["effective"]) == "12" and str(cal["stage_one_effective"]) == "40"
    stage_one = [p["name"] for p in params if p.get("stage") == 1]
    assert (cal["identified"].median, cal["inferred"].median) == (len(stage_one), len(params) + len(nuisance))
    assert not cal["identification_passes"]  # fewer than two thirds
    assert set(cal["not_identified"]) == {p["name"] for p in params} - set(stage_one)  # the nuisance is not shipped
    assert cal["unfitted"] == [p["name"] for p in load_prior_only()] and cal["unfitted"]
    assert [t["id"] for t in cal["conflicts"]] == distance[:1]  # the one target off by more than two errors
    for t in cal["targets"]:  # print every number, as the template does
        str(t["model"]), str(t["z"]), t["target"].value, t["tolerance"].value
    for key in ("joint", "identified", "inferred", "coverage", "effective", "stage_one_effective", "evaluations"):
        str(cal[key])
    frame = register.frame()
    assert set(Path(s).name for s in frame.source) == {"checks.json", "posterior.json", "targets.yaml"}
    for row in frame.itertuples():
        assert (row.median, row.q10, row.q90) == pytest.approx(_recompute(row), rel=1e-12, abs=1e-15), row.what

    passing = _calibration_folder(tmp_path / "pass", distances=[1.0, 2.0, 3.0, 500.0], coverage=0.9)
    cal = calibration(passing, [], Register())
    assert cal["joint_passes"] and cal["recovery_passes"]


def test_a_posterior_without_its_checks_is_said_to_be_missing(tmp_path):
    from sim.brief.context import calibration
    from sim.brief.numbers import Register
    from sim.brief.sources import MissingData

    folder = _calibration_folder(tmp_path / "cal", distances=[1.0], coverage=0.9)
    (folder / "checks.json").unlink()
    with pytest.raises(MissingData, match="run experiments/calibrate.py"):
        calibration(folder, [], Register())


def test_a_sensitivity_analysis_over_another_posterior_is_said_to_be(tmp_path):
    """The brief's limitations name a sensitivity analysis whose ranges came from another fit than the
    calibration it reports (posterior.csv's hash), or that does not record which; none when they match."""
    from sim.brief.context import _sensitivity_over_another_posterior

    (tmp_path / "posterior.json").write_text(json.dumps({"csv_sha256": "a" * 64}))
    drivers = {"ranges_from_posterior": ["try_prob"], "posterior": {"csv_sha256": "a" * 64, "date": "2026-12-02"}}
    assert _sensitivity_over_another_posterior(drivers, tmp_path) is None
    drivers["posterior"] = {"csv_sha256": "b" * 64, "date": "2026-11-30"}
    said = _sensitivity_over_another_posterior(drivers, tmp_path)
    assert "another posterior (the fit of 2026-11-30 whose posterior.csv has sha256 bbbbbbbbbbbb)" in said
    drivers["posterior"] = None
    assert "does not record which posterior" in _sensitivity_over_another_posterior(drivers, tmp_path)
    drivers["ranges_from_posterior"] = []  # hand-set ranges only: no posterior to match
    assert _sensitivity_over_another_posterior(drivers, tmp_path) is None
