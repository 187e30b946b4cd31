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


def test_source_is_the_keys_own_line_comment_else_the_enclosing_blocks(tmp_path):
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
    conf = tmp_path / "conf"
    (conf / "group").mkdir(parents=True)
    (conf / "group" / "default.yaml").write_text(text + "\n", encoding="utf-8")
    (conf / "config.yaml").write_text("defaults:\n  - group: default\n", encoding="utf-8")
    sources = {p.key: p.source for p in parameters.parameters(conf)}  # the table's rows, read through ruamel
    assert sources["group.block.own"] == "own source"
    assert sources["group.block.inherits"] == "block source"
    assert sources["group.block.flow.b"] == "flow source"
    assert sources["group.block.quoted"] == "after the quote"
    assert sources["group.block.steps.0.difficulty"] == "step source"
    assert sources["group.top"] == ""


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


# ---------------------------------------------------------------- the generated lists of the other docs
DOCS = ROOT / "docs"


def test_every_doc_holds_its_generated_blocks_and_they_are_current():
    for name, blocks in parameters.DOC_BLOCKS.items():
        doc = (DOCS / name).read_text(encoding="utf-8")
        for block in blocks:
            start, end = doc.find(f"<!-- {block}:start -->"), doc.find(f"<!-- {block}:end -->")
            assert 0 <= start < end, f"docs/{name} lacks the generated block '{block}'"
        assert parameters.is_current(DOCS / name), f"docs/{name} is stale: run `python -m sim.reports.parameter_table`"


def test_check_detects_a_stale_list_in_another_doc_and_rewriting_fixes_it(tmp_path):
    text = (DOCS / "POLICIES.md").read_text(encoding="utf-8")
    doc = tmp_path / "POLICIES.md"
    doc.write_text(text.replace("| `prominent_toggle` |", "| `hand_edited` |", 1), encoding="utf-8")
    assert doc.read_text(encoding="utf-8") != text
    assert not parameters.is_current(doc)
    assert parameters.write(doc)
    assert doc.read_text(encoding="utf-8") == text


def test_a_doc_that_lost_its_markers_is_an_error(tmp_path):
    doc = tmp_path / "OUTPUTS.md"
    doc.write_text("# Outputs\n\nno generated block here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="metrics:start"):
        parameters.is_current(doc)


def test_the_lists_follow_a_new_policy_and_a_new_experiment_in_conf(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "policy" / "my_design.yaml").write_text(
        "defaults:\n  - linkedin_actual\n  - _self_\n\nname: my_design\ndescription: a design of my own\n",
        encoding="utf-8",
    )
    (conf / "experiment" / "mine.yaml").write_text(
        "# @package _global_\n# My comparison. Run: python -m sim.run -m +experiment=mine\n"
        "hydra:\n  sweeper:\n    params:\n      seed: range(0,2)\n",
        encoding="utf-8",
    )
    policies = parameters.policy_list(conf)
    assert "| `my_design` | a design of my own | `linkedin_actual` |" in policies
    assert "| `mine` | My comparison. | `seed=range(0,2)` | - |" in parameters.experiment_list(conf)
    assert parameters.is_current(DOCS / "POLICIES.md", CONF)
    assert not parameters.is_current(DOCS / "POLICIES.md", conf)
    assert not parameters.is_current(DOCS / "EXPERIMENTS.md", conf)


def test_the_lists_name_everything_their_registries_hold():
    """Written against the registries and conf/ directly, not through the generator."""
    from sim.model import mechanisms, regimes
    from sim.model.metrics import REGISTRY

    def names(doc: str) -> set[str]:
        return set(re.findall(r"^\| `([^`]+)`", (DOCS / doc).read_text(encoding="utf-8"), flags=re.MULTILINE))

    assert {m.name for m in REGISTRY} <= names("OUTPUTS.md")
    assert {p.stem for p in (CONF / "policy").glob("*.yaml")} | set(regimes.REGIMES) <= names("POLICIES.md")
    assert {m.key for m in mechanisms.REGISTRY} <= names("MECHANISMS.md")
    assert {p.stem for p in (CONF / "experiment").glob("*.yaml")} <= names("EXPERIMENTS.md")


# ---------------------------------------------------------------- the README and the links of every doc
README = ROOT / "README.md"
# Pages other branches add (scaling aggregation; the rules of error handling): the README lists them
# already, so they may be absent here until those branches land. No other page may be missing.
PAGES_OF_OTHER_BRANCHES: set[str] = set()  # pages another branch adds (none now: all merged)
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _relative_links(path: Path) -> list[str]:
    targets = LINK.findall(path.read_text(encoding="utf-8"))
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the reference belongs in docs/"


def test_readme_links_every_doc_and_every_doc_it_links_exists():
    linked = {t for t in _relative_links(README) if t.startswith("docs/") and t.endswith(".md")}
    missing = {t for t in linked if not (ROOT / t).exists() and Path(t).name not in PAGES_OF_OTHER_BRANCHES}
    assert not missing, f"README.md links docs that do not exist: {sorted(missing)}"
    unlisted = {f"docs/{p.name}" for p in DOCS.glob("*.md")} - linked
    assert not unlisted, f"docs not listed in the README's 'Where the rest is': {sorted(unlisted)}"


def test_every_relative_link_of_the_readme_and_the_docs_resolves():
    broken = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        for target in _relative_links(path):
            if not (path.parent / target).exists() and not (
                path == README and Path(target).name in PAGES_OF_OTHER_BRANCHES
            ):
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, f"links to nothing: {broken}"


def test_the_readme_test_command_is_what_ci_runs():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    quick = [b.strip() for b in blocks[:2]]
    assert (
        quick[0] == "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/python -m sim.run figures=true"
    )
    assert quick[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines(), (
        "the README's second quick-start command (the tests) must be a line of .ci/run, byte for byte"
    )


def test_the_commands_of_the_readme_and_the_docs_exist():
    import importlib.util

    problems = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        problems += [f"{where}: python -m {m}" for m in re.findall(r"python3? -m ([\w.]+)", text)
                     if importlib.util.find_spec(m) is None]  # fmt: skip
        problems += [f"{where}: {f}" for f in re.findall(r"python3? ((?:experiments|tests)/[\w/]+\.py)", text)
                     if not (ROOT / f).exists()]  # fmt: skip
        problems += [f"{where}: +experiment={e}" for e in re.findall(r"\+experiment=([a-z_]+)\b", text)
                     if not (CONF / "experiment" / f"{e}.yaml").exists()]  # fmt: skip
        problems += [f"{where}: policy={p}" for p in re.findall(r"(?<![\w.])policy=([a-z_]+)\b", text)
                     if not (CONF / "policy" / f"{p}.yaml").exists()]  # fmt: skip
    assert not problems, f"commands naming what does not exist: {problems}"
