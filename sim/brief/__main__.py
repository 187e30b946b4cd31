"""`python -m sim.brief SWEEP_DIR [SWEEP_DIR ...]`: a policy brief from sweeps' outputs.

Each SWEEP_DIR is a Hydra multirun folder of `python -m sim.run -m` (aggregated first if it has no
aggregate/), its aggregate/ folder, or its aggregate/reduced.parquet table. The first sweep gives
the question and the tables; each finding comes from the first sweep that varies what it compares:
the policy (+experiment=regimes), the feed's face boost (+experiment=attention), retroactive removal
(+experiment=retroactive). A finding no sweep supports says so in the brief.

Writes brief.md (+ figures/), brief.html (self-contained), brief.pdf and brief_numbers.csv into
SWEEP_DIR/brief/ (or --out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from pathlib import Path

import jinja2

from sim.brief.build import DEFAULT_BASELINE, DEFAULT_TITLE, FORMATS, BadArguments, build_brief
from sim.brief.render import TEMPLATE_DIR, TEMPLATES
from sim.brief.sources import MissingData
from sim.run.compose import DATA_DIR


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"formats are a comma-separated subset of {','.join(FORMATS)}")
    return chosen


def _optional_dir(text: str) -> Path | None:
    return None if text.lower() == "none" else Path(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim.brief", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("sweeps", type=Path, nargs="*", help="sweep folders (or their aggregate tables)")
    p.add_argument("--out", type=Path, help="output folder (default: FIRST_SWEEP/brief)")
    p.add_argument("--baseline", help=f"policy others are compared with ({DEFAULT_BASELINE})")
    p.add_argument("--sensitivity", type=_optional_dir, default=DATA_DIR / "sensitivity",
                   help="folder of sobol.csv, morris.csv, sensitivity.json ('none' to leave out)")  # fmt: skip
    p.add_argument("--calibration", type=_optional_dir, default=DATA_DIR / "calibration",
                   help="folder of the posterior and its checks, checks.json ('none' to leave out)")  # fmt: skip
    p.add_argument("--templates", type=Path, help="folder of templates that replace the shipped ones")
    p.add_argument("--copy-templates", type=Path, metavar="DIR", help="copy the shipped templates to DIR and stop")
    p.add_argument("--formats", type=_formats, default=FORMATS, help="comma-separated subset of md,html,pdf")
    p.add_argument("--date", type=dt.date.fromisoformat, help="the brief's date, YYYY-MM-DD (default: today)")
    p.add_argument("--title", default=DEFAULT_TITLE)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.copy_templates:
        args.copy_templates.mkdir(parents=True, exist_ok=True)
        for name in TEMPLATES:
            shutil.copyfile(TEMPLATE_DIR / name, args.copy_templates / name)
            print(args.copy_templates / name)
        return 0
    if not args.sweeps:
        print("give at least one sweep folder (see --help)", file=sys.stderr)
        return 2
    for path in [*args.sweeps, *([args.templates] if args.templates else [])]:
        if not path.exists():
            print(f"no such file or folder: {path}", file=sys.stderr)
            return 2
    try:
        written = build_brief(
            args.sweeps, args.out, args.baseline or DEFAULT_BASELINE, args.sensitivity, args.calibration,
            args.templates, args.formats, args.date, args.title, log=lambda m: print(m, file=sys.stderr),
            require_baseline=args.baseline is not None,
        )  # fmt: skip
    except BadArguments as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, MissingData) as err:
        print(f"cannot build the brief: {err}", file=sys.stderr)
        return 2
    except jinja2.TemplateError as err:  # a user's template: say where
        where = f" ({err.filename}, line {err.lineno})" if getattr(err, "lineno", None) else ""
        print(f"template error{where}: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # the PDF could not be made; the other files are written
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
