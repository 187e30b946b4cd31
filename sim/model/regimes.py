"""The regime table: every consent regime as one row of named properties (docs/ODD.md §2).

A regime says who is enrolled by default, whether a member can change that through a route,
whether and when members are asked (a consent request), which answer the request presets, and
whether it blocks the site until answered. The config's allowed regime names, the consent rules
(`sim.model.rules.consent`), the policy compiler and the docs' regime table all read this table:
adding a regime is one row here (plus its test and its line in docs/ODD.md). In the model a
regime is its index in `REGIMES`; the rules look up a property by that index, so a code outside
the table cannot be used (it raises IndexError).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np

Enrolment = Literal["nobody", "unless_opted_out", "if_opted_in", "everyone"]
Request = Literal["none", "on_entry", "every_visit"]
Framing = Literal["preset_yes", "preset_no", "neutral"]


@dataclass(frozen=True)
class Regime:
    name: str
    enrolment: Enrolment  # whose data training may use: nobody, all but those who opted out, ...
    route_offered: bool  # a member can change their own status through a route (settings, form)
    request: Request  # consent request: none, once on entering the regime, or at every visit until answered
    framing: Framing  # which answer the request presets for a member without a strong view
    blocking: bool  # the request must be answered to go on using the site
    description: str

    @property
    def trains(self) -> bool:
        """Whether a phase under this regime can train at all (nobody enrolled: nothing to train on)."""
        return self.enrolment != "nobody"


TABLE: tuple[Regime, ...] = (
    Regime("excluded", "nobody", False, "none", "neutral", False, "no training on the region's members"),
    Regime(
        "default_on",
        "unless_opted_out",
        True,
        "none",
        "preset_yes",
        False,
        "enrolled unless opted out; the route to opt out is the region's route",
    ),  # fmt: skip
    Regime(
        "affirmative",
        "if_opted_in",
        True,
        "on_entry",
        "preset_no",
        False,
        "enrolled only after opting in; entering it asks once (a prompt, preset to no)",
    ),  # fmt: skip
    Regime(
        "forced_choice",
        "if_opted_in",
        True,
        "every_visit",
        "neutral",
        True,
        "enrolled only after opting in; asked at every visit until answered, neutral buttons",
    ),  # fmt: skip
    Regime("no_option", "everyone", False, "none", "neutral", False, "every eligible member enrolled, no way out"),
)
REGIMES: tuple[str, ...] = tuple(r.name for r in TABLE)  # a regime's code is its index here
CODE: dict[str, int] = {name: i for i, name in enumerate(REGIMES)}
BY_NAME: dict[str, Regime] = {r.name: r for r in TABLE}
# Codes of the shipped regimes, for code that names one (tests, reports).
EXCLUDED, DEFAULT_ON, AFFIRMATIVE, FORCED_CHOICE, NO_OPTION = (
    CODE[n] for n in ("excluded", "default_on", "affirmative", "forced_choice", "no_option")
)


class RegimeTable:
    """Regime rows as per-property lookup arrays indexed by regime code, so the consent rules work
    on arrays of codes. A policy's table is the presets followed by its own designs."""

    def __init__(self, rows: tuple[Regime, ...]):
        self.rows = rows
        self.names = tuple(r.name for r in rows)
        self.enrols_unless_opted_out = np.array([r.enrolment == "unless_opted_out" for r in rows])
        self.enrols_if_opted_in = np.array([r.enrolment == "if_opted_in" for r in rows])
        self.enrols_everyone = np.array([r.enrolment == "everyone" for r in rows])
        self.route_offered = np.array([r.route_offered for r in rows])
        self.asks_every_visit = np.array([r.request == "every_visit" for r in rows])
        self.blocking = np.array([r.blocking for r in rows])
        self.framing = np.array([r.framing for r in rows])

    def code(self, name: str) -> int:
        return self.names.index(name)


PRESETS = RegimeTable(TABLE)


def with_parts(base: Regime, name: str, description: str = "", **parts) -> Regime:
    """A design: the preset `base` with some parts replaced (None keeps the preset's part)."""
    chosen = {k: v for k, v in parts.items() if v is not None}
    return replace(base, name=name, description=description or base.description, **chosen)


def markdown_table() -> str:
    """The regime table as Markdown, for docs/ODD.md (generated, so it cannot drift)."""
    names = [f.name for f in fields(Regime)]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for r in TABLE:
        cells = [f"`{r.name}`", *(str(getattr(r, k)) for k in names[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
