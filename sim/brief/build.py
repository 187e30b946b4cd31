"""Build a brief: read the sweeps, gather the context, write the files."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from sim.brief.context import build_context, incomplete
from sim.brief.numbers import Register
from sim.brief.render import write_brief, write_pdf
from sim.brief.sources import load_sweep, resolve
from sim.core.files import atomic_write

DEFAULT_BASELINE = "linkedin_actual"  # the policy as it happened (conf/policy/linkedin_actual.yaml)
DEFAULT_TITLE = "Consent design and AI training on a professional network's member data"
FORMATS = ("md", "html", "pdf")
NUMBERS_FILE = "brief_numbers.csv"


class BadArguments(ValueError):
    """An argument the sweeps cannot serve (e.g. a baseline none of them ran)."""


def shipped_defaults() -> dict[str, str]:
    """The shipped value of every setting a sweep may vary, as text (to hold unvaried settings at)."""
    from sim.analysis.calibration import shipped_raw
    from sim.brief.sources import norm

    raw = shipped_raw()

    def flat(node, prefix=""):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                yield from flat(value, f"{name}.")
            else:
                yield name, norm(value)

    return dict(flat({k: v for k, v in raw.items() if k != "hydra"}))


def build_brief(
    sweep_dirs: list[Path],
    out_dir: Path | None = None,
    baseline: str = DEFAULT_BASELINE,
    sensitivity_dir: Path | None = None,
    calibration_dir: Path | None = None,
    templates: Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    date: dt.date | None = None,
    title: str = DEFAULT_TITLE,
    command: str | None = None,
    log=print,
    require_baseline: bool = False,
) -> dict[str, Path]:
    """Write the brief of the sweeps into out_dir (default: the first sweep's brief/).

    With `require_baseline`, a baseline that no sweep ran is an error (BadArguments) raised before
    any file of the brief is written."""
    register = Register()
    defaults = shipped_defaults() | {"policy": baseline}
    sweeps = []
    for path in sweep_dirs:
        log(f"reading {path}")
        sweeps.append(load_sweep(path, register, defaults, log))
    ran = sorted({str(p) for sweep in sweeps for p in sweep.values("policy")})
    if require_baseline and baseline not in ran:
        raise BadArguments(f"--baseline {baseline} is not a policy of the sweeps given; they ran: {', '.join(ran)}")
    for sweep in sweeps:
        problem = incomplete(sweep)
        if problem:
            log(f"warning: {problem}")
    out_dir = Path(out_dir) if out_dir else resolve(sweep_dirs[0]) / "brief"
    command = command or " ".join(["python -m sim.brief", *sys.argv[1:]])
    log("gathering findings, tables and figures")
    context = build_context(sweeps, baseline, sensitivity_dir, calibration_dir, date or dt.date.today(), command, title)
    log(f"writing {', '.join(formats)} into {out_dir}")
    written, page = write_brief(context, out_dir, templates, formats)
    written["numbers"] = out_dir / NUMBERS_FILE
    atomic_write(written["numbers"], lambda p: register.frame().to_csv(p, index=False))
    if "pdf" in formats:
        written["pdf"] = write_pdf(page, out_dir / "brief.pdf")
    return written
