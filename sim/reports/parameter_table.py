"""The generated blocks of docs/: the parameter table of docs/ODD.md, built from conf/ (every default,
its unit and its source), and the lists read from their registries (regimes, metrics, mechanisms,
policies, experiments) wherever a doc holds them.

`python -m sim.reports.parameter_table` rewrites the block between `<!-- parameters:start -->` and
`<!-- parameters:end -->` in docs/ODD.md and every block `<!-- NAME:start -->` ... `<!-- NAME:end -->`
of a name in `BLOCKS` in any docs/*.md; `python -m sim.reports.parameter_table --check` exits 1 if
one of them is stale (a doc no longer matches conf/ or the code's registries). `DOC_BLOCKS` names
the blocks each doc must hold, so a doc that lost its markers is an error, not a silent pass.

Values and sources come from `sim.core.conf_yaml` (ruamel.yaml's round-trip loader): the source of a
key is the trailing `# ...` comment of its own line, or, if its line has none, of the nearest
enclosing block's line. A key's name is its dotted config key, as on the Hydra command line
(`friction.routes.prompt.steps.0.difficulty`).
Files read: conf/config.yaml (the run's own keys, not `defaults` or `hydra`), every
conf/<group>/default.yaml (in the order of config.yaml's defaults list), and the default policy
(conf/policy/linkedin_actual.yaml) for the timeline table only. No Hydra import.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.core.conf_yaml import ConfFile, leaves
from sim.core.files import write_text
from sim.model.config import declared_unit
from sim.model.regions import REGION_CODES
from sim.run.compose import CONF_DIR

# The docs live in the source checkout (this is a docs tool); the configs come through the package.
ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = ROOT / "docs"
ODD_PATH = DOCS_DIR / "ODD.md"
START_MARKER = "<!-- parameters:start -->"
END_MARKER = "<!-- parameters:end -->"
DEFAULT_POLICY = "linkedin_actual"
RUN_KEYS_SKIPPED = ("defaults", "hydra")  # Hydra machinery in config.yaml, not model parameters
UNKNOWN_UNIT = "?"

# Units of the core's keys whose name does not say it (a mechanism's parameters declare theirs in
# the schema: `sim.model.config.declared_unit`), by the key's last meaningful part (region codes,
# `default` and list indices are skipped), or by a more specific dotted suffix.
UNITS: dict[str, str] = {
    "seed": "integer",
    "start": "date",
    "end": "date",
    "progress": "switch",
    "figures": "switch",
    "members": "members",
    "agents": "agents",
    "min_agents_per_region": "agents",
    "auto_floor_cap": "agents",
    "login_segments.*.rate_per_day": "visits per day",
    "post_segments.*.rate_per_day": "posts per day",
    "post_rate_spread": "lognormal sigma",
    "concern_segments.*.mean": "concern (0-1)",
    "concentration": "Beta a + b",
    "concern_shift": "concern (0-1)",
    "preference_noise": "concern (0-1), s.d.",
    "skill.a": "Beta shape",
    "skill.b": "Beta shape",
    "visibility_motive.a": "Beta shape",
    "visibility_motive.b": "Beta shape",
    "mean_contacts": "contacts per agent",
    "reach": "share",
    "base_per_day": "probability per day",
    "shock_per_day": "probability per day",
    "extra_events": "list of events",
    "strength": "probability per day",
    "object_intent_scale": "probability per unit of concern",
    "name": "label",
    "difficulty": "log-odds",
    "skill_weight": "log-odds per unit of skill",
    "face_boost": "engagement multiplier",
    "adaptation_rate": "share per post",
    "retroactive_removal": "switch",
    "profile_tokens": "tokens per profile",
    "tokens_per_post": "tokens per post",
}
# Units a key's name says (checked after UNITS), by suffix.
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_per_day", "per day"),
    ("_days", "days"),
    ("_prob", "probability"),
    ("_share", "share"),
    ("share", "share"),
    ("_tokens", "tokens"),
    ("_logit", "log-odds"),
    ("_shift", "log-odds"),
    ("_logit_per_unit", "log-odds per unit"),
)
_SKIPPED_PARTS = {"default", *REGION_CODES}


@dataclass(frozen=True)
class Parameter:
    """One row of the table: a leaf of the config."""

    key: str  # dotted config key
    value: object
    unit: str
    source: str
    file: str  # relative to the repository root

    @property
    def is_numeric(self) -> bool:
        return isinstance(self.value, int | float) and not isinstance(self.value, bool)


# ---------------------------------------------------------------- reading the YAML files
def unit_of(key: str, prefix: str = "") -> str:
    """The unit of a dotted key (of the group `prefix`): the schema's, else from UNITS, else from its
    name's suffix; UNKNOWN_UNIT if none.

    Region codes, `default` and list indices are skipped: `object_share.EU_EEA` is a share.
    """
    declared = declared_unit(f"{prefix}.{key}" if prefix else key)
    if declared is not None:
        return declared
    if key.rsplit(".", 1)[-1] == "enabled":
        return "switch"
    parts = [p for p in key.split(".") if p not in _SKIPPED_PARTS and not p.isdigit()]
    for pattern, unit in UNITS.items():  # dotted patterns first: they are the more specific
        pat = pattern.split(".")
        if len(pat) > 1 and len(pat) <= len(parts):
            if all(want in ("*", got) for want, got in zip(pat, parts[-len(pat) :], strict=False)):
                return unit
    for name in reversed(parts):
        if name in UNITS:
            return UNITS[name]
        for suffix, unit in SUFFIX_UNITS:
            if name.endswith(suffix):
                return unit
    return UNKNOWN_UNIT


def _file_parameters(path: Path, prefix: str, conf_dir: Path, skip: tuple[str, ...] = ()) -> list[Parameter]:
    conf = ConfFile.read(path)
    rel = f"conf/{path.relative_to(conf_dir).as_posix()}" if path.is_relative_to(conf_dir) else str(path)
    return [
        Parameter(
            key=f"{prefix}.{key}" if prefix else key,
            value=value,
            unit=unit_of(key, prefix),
            source=conf.source(key),
            file=rel,
        )
        for key, value in leaves(conf.values(skip)).items()
    ]


def group_files(conf_dir: Path = CONF_DIR) -> list[tuple[str, Path]]:
    """(group, path) of each conf/<group>/default.yaml, in config.yaml's defaults-list order."""
    config = yaml.safe_load((conf_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    order = [next(iter(e)) for e in config.get("defaults", []) if isinstance(e, dict)]
    found = {p.parent.name: p for p in sorted(conf_dir.glob("*/default.yaml"))}
    groups = [g for g in order if g in found] + [g for g in found if g not in order]
    return [(g, found[g]) for g in groups]


def parameters(conf_dir: Path = CONF_DIR) -> list[Parameter]:
    """Every leaf default of conf/config.yaml (the run's keys) and conf/*/default.yaml, in file order."""
    rows = _file_parameters(conf_dir / "config.yaml", "", conf_dir, skip=RUN_KEYS_SKIPPED)
    for group, path in group_files(conf_dir):
        rows += _file_parameters(path, group, conf_dir)
    return rows


# ---------------------------------------------------------------- rendering
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


def _policy_table(conf_dir: Path) -> list[str]:
    path = conf_dir / "policy" / f"{DEFAULT_POLICY}.yaml"
    if not path.exists():
        return []
    policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    initial = policy.get("initial", {})
    lines = [
        "",
        f"**Default policy** `policy={policy.get('name', DEFAULT_POLICY)}` "
        f"(`conf/policy/{DEFAULT_POLICY}.yaml`): before the first event every region is "
        f'`{initial.get("regime")}` with route `{initial.get("route")}`; then (training "rule": a changed '
        "regime trains unless `excluded`, an unchanged one keeps its flag):",
        "",
        "| date | regions | regime | training | route | notice | media | deadline | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in policy.get("events", []):
        training = e.get("training")
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    e.get("date", ""),
                    ", ".join(e.get("regions", [])),
                    e.get("regime", "unchanged"),
                    "rule" if training is None else format_value(training),
                    e.get("route") or "unchanged",
                    ", ".join(e.get("notice", [])) or "none",
                    e.get("media", "none"),
                    e.get("deadline") or "none",
                    e.get("label", ""),
                )
            )
            + " |"
        )
    return lines


def render_block(conf_dir: Path = CONF_DIR) -> str:
    """The Markdown between the markers (markers excluded), ending in a newline."""
    rows = parameters(conf_dir)
    lines = [
        "<!-- generated by `python -m sim.reports.parameter_table` from conf/; do not edit by hand -->",
        "",
        "| parameter | default | unit | source |",
        "|---|---|---|---|",
    ]
    for p in rows:
        lines.append(
            f"| `{p.key}` | {_cell(format_value(p.value))} | {_cell(p.unit)} | {_cell(p.source) or '(none)'} |"
        )
    lines += _policy_table(conf_dir)
    return "\n".join(lines) + "\n"


def replace_block(doc: str, block: str) -> str:
    """The document with the text between the markers replaced by `block`."""
    start, end = doc.find(START_MARKER), doc.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"markers {START_MARKER} ... {END_MARKER} not found in order")
    head = doc[: start + len(START_MARKER)]
    return f"{head}\n{block}{doc[end:]}"


def policy_list(conf_dir: Path = CONF_DIR) -> str:
    """The policies (`policy=` choices): one row per conf/policy/*.yaml, with its `description`."""
    config = yaml.safe_load((conf_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    default = next((e["policy"] for e in config.get("defaults", []) if isinstance(e, dict) and "policy" in e), None)
    lines = ["| `policy=` | what it is | built on | file |", "|---|---|---|---|"]
    for path in sorted((conf_dir / "policy").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        bases = [b for b in data.get("defaults", []) if isinstance(b, str) and b != "_self_"]
        name = f"`{path.stem}`" + (" (default)" if path.stem == default else "")
        built_on = ", ".join(f"`{b}`" for b in bases) or "its own events"
        link = f"[conf/policy/{path.name}](../conf/policy/{path.name})"
        lines.append(f"| {name} | {_cell(data.get('description', '(no description)'))} | {built_on} | {link} |")
    return "\n".join(lines)


def _header_comment(text: str) -> str:
    """A config file's leading comment block, without Hydra's `@package` line and its `Run:` hint."""
    lines = []
    for raw in text.splitlines():
        if not raw.startswith("#"):
            break
        line = raw.lstrip("#").strip()
        if not line.startswith("@package"):
            lines.append(line)
    return re.sub(r"\s*Run: .*$", "", " ".join(lines)).strip()


def experiment_list(conf_dir: Path = CONF_DIR) -> str:
    """The named experiments (`+experiment=`): one row per conf/experiment/*.yaml, from its header
    comment, its sweeper's parameters and the keys it sets besides."""
    lines = ["| `+experiment=` | what it compares | sweeps | sets besides |", "|---|---|---|---|"]
    for path in sorted((conf_dir / "experiment").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        params = (((data.get("hydra") or {}).get("sweeper") or {}).get("params")) or {}
        sweeps = "<br>".join(f"`{k}={format_value(v)}`" for k, v in params.items()) or "-"
        besides = {k: v for k, v in data.items() if k not in ("defaults", "hydra", "progress")}
        groups = [  # config groups the experiment chooses (its defaults list), Hydra's own aside
            f"`{k.removeprefix('override /')}={v}`"
            for entry in data.get("defaults") or [] if isinstance(entry, dict)
            for k, v in entry.items() if not k.removeprefix("override /").startswith("hydra")
        ]  # fmt: skip
        sets = ", ".join([*groups, *(f"`{k}={format_value(v)}`" for k, v in leaves(besides).items() if k)]) or "-"
        lines.append(f"| `{path.stem}` | {_cell(_header_comment(text))} | {_cell(sweeps)} | {_cell(sets)} |")
    return "\n".join(lines)


def mechanism_switches() -> str:
    """Each mechanism of the registry: its switch, its knobs with their units, its module and its
    section of docs/ODD.md (the first section its module's docstring cites). Links are relative to
    docs/, where the docs holding it live."""
    from sim.model import mechanisms
    from sim.model.schema import field_unit

    lines = ["| mechanism | switch it on | its knobs (unit) | module | specified in |", "|---|---|---|---|---|"]
    for m in mechanisms.REGISTRY:
        knobs = ", ".join(
            f"`{f}` ({field_unit(m.Params, f) or UNKNOWN_UNIT})" for f in m.Params.model_fields if f != "enabled"
        )
        module = m.__module__.rsplit(".", 1)[-1]
        found = re.search(r"§(\d+[a-z]?(?:\.\d+)?)", sys.modules[m.__module__].__doc__ or "")
        section = f"[ODD.md §{found.group(1)}](ODD.md)" if found else "[ODD.md](ODD.md)"
        link = f"[`{module}.py`](../sim/model/mechanisms/{module}.py)"
        lines.append(f"| `{m.key}` | `{m.key}.enabled=true` | {_cell(knobs) or '-'} | {link} | {section} |")
    return "\n".join(lines)


def _registry(name: str) -> Callable[[Path], str]:
    def render(conf_dir: Path) -> str:
        from sim.model import mechanisms, metrics, regimes

        return {"regimes": regimes, "metrics": metrics, "mechanisms": mechanisms}[name].markdown_table()

    return render


# Every generated block but the parameter table: its name, what it is read from, and its renderer.
BLOCKS: dict[str, tuple[str, Callable[[Path], str]]] = {
    "regimes": ("sim/model/regimes.py", _registry("regimes")),
    "metrics": ("sim/model/metrics.py", _registry("metrics")),
    "mechanisms": ("sim/model/mechanisms/", _registry("mechanisms")),
    "mechanism_switches": ("sim/model/mechanisms/", lambda conf_dir: mechanism_switches()),
    "policies": ("conf/policy/*.yaml", policy_list),
    "experiments": ("conf/experiment/*.yaml", experiment_list),
}
# The blocks each doc must hold (docs/ODD.md also holds the parameter table). A doc not named here
# may hold any of BLOCKS too: every block found is filled.
DOC_BLOCKS: dict[str, tuple[str, ...]] = {
    "ODD.md": ("regimes", "metrics", "mechanisms"),
    "OUTPUTS.md": ("metrics",),
    "POLICIES.md": ("policies", "regimes"),
    "MECHANISMS.md": ("mechanism_switches", "mechanisms"),
    "EXPERIMENTS.md": ("experiments",),
}
_MARKER = re.compile(r"<!-- ([a-z_]+):start -->")


def generated_tables(doc: str, required: tuple[str, ...] = DOC_BLOCKS["ODD.md"], conf_dir: Path = CONF_DIR) -> str:
    """The document with every block of BLOCKS it holds regenerated (each between
    `<!-- NAME:start -->` and `<!-- NAME:end -->`); a block of `required` that is missing is an error."""
    note = "<!-- generated by `python -m sim.reports.parameter_table` from {}; do not edit by hand -->\n\n"
    present = [n for n in dict.fromkeys(_MARKER.findall(doc)) if n in BLOCKS]
    for name in [*required, *(n for n in present if n not in required)]:
        source, render = BLOCKS[name]
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        i, j = doc.find(start), doc.find(end)
        if i < 0 or j < i:
            raise ValueError(f"markers {start} ... {end} not found in order")
        doc = f"{doc[: i + len(start)]}\n{note.format(source)}{render(conf_dir)}\n{doc[j:]}"
    return doc


def regenerated(doc: str, conf_dir: Path = CONF_DIR, name: str = "ODD.md") -> str:
    """The document `name` (a file of docs/) with every generated block brought up to date: for
    docs/ODD.md the parameter table too."""
    if name == ODD_PATH.name:
        doc = replace_block(doc, render_block(conf_dir))
    return generated_tables(doc, DOC_BLOCKS.get(name, ()), conf_dir)


def is_current(doc_path: Path = ODD_PATH, conf_dir: Path = CONF_DIR) -> bool:
    """Whether the doc's generated blocks match conf/ and the code's tables."""
    doc = doc_path.read_text(encoding="utf-8")
    return regenerated(doc, conf_dir, doc_path.name) == doc


def write(doc_path: Path = ODD_PATH, conf_dir: Path = CONF_DIR) -> bool:
    """Rewrite the doc's blocks in place; True if the file changed."""
    doc = doc_path.read_text(encoding="utf-8")
    new = regenerated(doc, conf_dir, doc_path.name)
    if new == doc:
        return False
    write_text(doc_path, new)
    return True


def generated_docs(docs_dir: Path = DOCS_DIR) -> list[Path]:
    """The docs with generated blocks: those of DOC_BLOCKS (which must exist) and any other
    docs/*.md holding a block of BLOCKS."""
    missing = [name for name in DOC_BLOCKS if not (docs_dir / name).exists()]
    if missing:
        raise OSError(f"docs with generated blocks missing from {docs_dir}: {missing}")
    others = [
        p
        for p in sorted(docs_dir.glob("*.md"))
        if p.name not in DOC_BLOCKS and any(n in BLOCKS for n in _MARKER.findall(p.read_text(encoding="utf-8")))
    ]
    return [docs_dir / name for name in DOC_BLOCKS] + others


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.reports.parameter_table", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated block in docs/ is stale")
    args = parser.parse_args(argv)
    try:
        docs = generated_docs()
        if args.check:
            stale = [p for p in docs if not is_current(p)]
            for p in docs:
                state = "stale; run `python -m sim.reports.parameter_table`" if p in stale else "current"
                print(f"{p.relative_to(ROOT)}: generated blocks {state}", file=sys.stderr if p in stale else sys.stdout)
            return 1 if stale else 0
        for p in docs:
            print(f"{p.relative_to(ROOT)}: {'rewritten' if write(p) else 'already current'}")
        return 0
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
