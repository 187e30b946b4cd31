"""docs/ODD.md stays true to conf/: the parameter table is current, complete, and every number has a source."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from sim.model.metrics import METRICS
from sim.reports import parameter_table as parameters

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
ODD = ROOT / "docs" / "ODD.md"

# A default's source must name where the number comes from.
SOURCE_WORDS = ("ANCHORS", "assumption", "MODEL.md", "timeline", "regions.csv", "PERFORMANCE.md", "CALIBRATION.md")


def _flatten(value, prefix: str) -> dict:
    """Leaves of a loaded YAML value by dotted key (written independently of sim.reports.parameter_table)."""
    if isinstance(value, dict) and value:
        return {k: v for key, sub in value.items() for k, v in _flatten(sub, f"{prefix}.{key}").items()}
    if isinstance(value, list) and value:
        return {k: v for i, sub in enumerate(value) for k, v in _flatten(sub, f"{prefix}.{i}").items()}
    return {prefix: value}


def _default_leaves() -> dict[str, object]:
    """Every leaf of conf/<group>/default.yaml, keyed `group.dotted.key`."""
    out = {}
    for path in sorted(CONF.glob("*/default.yaml")):
        out.update(_flatten(yaml.safe_load(path.read_text(encoding="utf-8")), path.parent.name))
    return out


def _run_leaves() -> set[str]:
    """The run's own keys of conf/config.yaml (Hydra's `defaults` and `hydra` excluded)."""
    config = yaml.safe_load((CONF / "config.yaml").read_text(encoding="utf-8"))
    return {k for key, v in config.items() if key not in ("defaults", "hydra") for k in _flatten(v, key)}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _table_keys(doc: str) -> set[str]:
    start, end = doc.index(parameters.START_MARKER), doc.index(parameters.END_MARKER)
    return set(re.findall(r"^\| `([^`]+)` \|", doc[start:end], flags=re.MULTILINE))


def test_parameter_table_check_passes_on_the_repository():
    assert parameters.main(["--check"]) == 0, "docs/ODD.md is stale: run `python -m sim.reports.parameter_table`"


def test_check_detects_a_stale_table_and_rewriting_fixes_it(tmp_path):
    doc = tmp_path / "ODD.md"
    text = ODD.read_text(encoding="utf-8")
    doc.write_text(text.replace("| `feed.face_boost` | ", "| `feed.face_boost` | 9", 1), encoding="utf-8")
    assert doc.read_text(encoding="utf-8") != text
    assert not parameters.is_current(doc)
    assert parameters.write(doc)
    assert parameters.is_current(doc)
    assert doc.read_text(encoding="utf-8") == text


def test_check_detects_a_changed_default_in_conf(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    feed = conf / "feed" / "default.yaml"
    feed.write_text(feed.read_text(encoding="utf-8").replace("face_boost: 1.38", "face_boost: 2.5"), encoding="utf-8")
    assert parameters.is_current(ODD, CONF)
    assert not parameters.is_current(ODD, conf)


def test_table_lists_every_leaf_key():
    listed = _table_keys(ODD.read_text(encoding="utf-8"))
    expected = set(_default_leaves()) | _run_leaves()
    assert expected - listed == set(), "keys of conf/ missing from the table in docs/ODD.md"
    assert listed - expected == set(), "keys in the table of docs/ODD.md that conf/ no longer has"


def test_every_numeric_default_has_a_source():
    rows = {p.key: p for p in parameters.parameters()}
    numeric = {k for k, v in _default_leaves().items() if _is_number(v)}
    assert numeric, "no numeric defaults found in conf/*/default.yaml"
    assert numeric <= set(rows)
    unsourced = sorted(k for k in numeric if not any(w.lower() in rows[k].source.lower() for w in SOURCE_WORDS))
    assert not unsourced, (
        f"defaults without a source comment naming one of {SOURCE_WORDS} "
        f"(add `# ANCHORS n: ...` or `# assumption: ...` on the key's line): {unsourced}"
    )


def test_every_numeric_default_has_a_unit():
    unknown = [p.key for p in parameters.parameters() if p.is_numeric and p.unit == parameters.UNKNOWN_UNIT]
    assert not unknown, (
        f"no unit for {unknown}: name the key with a unit suffix or add it to sim.reports.parameter_table.UNITS"
    )


def test_source_is_the_keys_own_line_comment_else_the_enclosing_blocks():
    text = "\n".join(
        [
            "# file header: not a source",
            "block:                # block source",
            "  own: 1              # own source",
            "  inherits: 2",
            "  flow: {a: 3, b: 4}  # flow source",
            "  quoted: 'x # y'     # after the quote",
            "  steps:",
            "    - {name: s, difficulty: 0.5}  # step source",
            "top: 5",
        ]
    )
    comments = parameters.line_comments(text)
    assert parameters.source_of("block.own", comments) == "own source"
    assert parameters.source_of("block.inherits", comments) == "block source"
    assert parameters.source_of("block.flow.b", comments) == "flow source"
    assert parameters.source_of("block.quoted", comments) == "after the quote"
    assert parameters.source_of("block.steps.0.difficulty", comments) == "step source"
    assert parameters.source_of("top", comments) == ""


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("awareness.word_of_mouth.window_days", "days"),
        ("awareness.notices.email_read_prob", "probability"),
        ("population.object_share.EU_EEA", "share"),
        ("friction.routes.prompt.steps.0.difficulty", "log-odds"),
        ("training.tokens_per_post", "tokens per post"),
        ("population.login_segments.daily.rate_per_day", "visits per day"),
    ],
)
def test_units_follow_the_key_name(key, unit):
    assert parameters.unit_of(key.split(".", 1)[1]) == unit


def test_odd_has_the_protocol_sections_and_describes_every_metric():
    doc = ODD.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", doc, flags=re.MULTILINE)
    for section in (
        "Purpose and patterns",
        "Entities, state variables and scales",
        "Process overview and scheduling",
        "Design concepts",
        "Initialization",
        "Input data",
        "Submodels",
        "Outputs",
        "Departures from MODEL.md and why",
        "Limitations",
        "Sources",
    ):
        assert any(section in h for h in headings), f"docs/ODD.md lacks a section '{section}'"
    missing = [m for m in METRICS if f"`{m}`" not in doc]
    assert not missing, f"metrics of sim/model/metrics.py not described in docs/ODD.md: {missing}"


def test_docstrings_point_at_odd_sections_that_exist():
    headings = {m.group(1) for m in re.finditer(r"^#{2,3} (\d+[a-z]?(?:\.\d+)?)\.? ", ODD.read_text(), re.M)}
    cited = {}
    for path in (ROOT / "sim").rglob("*.py"):
        for section in re.findall(r"docs/ODD\.md §(\d+[a-z]?(?:\.\d+)?)", path.read_text()):
            cited.setdefault(section, []).append(path.name)
    assert cited, "no docstring cites docs/ODD.md"
    missing = {s: files for s, files in cited.items() if s not in headings}
    assert not missing, f"docstrings cite sections docs/ODD.md does not have: {missing}"
