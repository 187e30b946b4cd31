"""Numbers as a brief shows them, and the register of every number shown.

A `Quantity` is one value from the outputs (median, 10% and 90% quantiles over replicates) with where
it came from (`source` file and `selector`: which rows). Templates print quantities; printing one
records the text shown in the brief's `Register`, which is written next to the brief
(brief_numbers.csv) so that every number in the brief is traceable to the table it came from.

Formats are for readers: "212 million", "1.4 billion tokens", "38% (35–41%)". A value is given to
two significant figures at most where the model's precision is about that (shares of a 50,000-agent
run move by tenths of a point between seeds), three for counts of hundreds of millions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

DASH = "\u2013"  # en dash, for ranges
SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))


# ---------------------------------------------------------------- formatting
def scale_of(value: float) -> tuple[float, str]:
    """(factor, word) for a count: 2.1e8 -> (1e6, "million"); below a million, (1, "")."""
    for factor, word in SCALES:
        if abs(value) >= factor:
            return factor, word
    return 1.0, ""


def _scaled_digits(scaled: float) -> int:
    """Decimals for a scaled count: "1.4 billion", "38 million", "212 million"."""
    return 1 if abs(scaled) < 10 else 0


def _plain(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _small_count(value: float) -> str:
    """Counts below a million: whole numbers, thousands to three significant figures (12,300)."""
    if abs(value) < 1:
        return f"{value:.2g}" if value else "0"
    magnitude = math.floor(math.log10(abs(value)))
    return _plain(round(value, -(magnitude - 2)) if magnitude >= 3 else value, 0)


def count_text(value: float, unit: str = "") -> str:
    """A count for readers: 212 million, 1.4 billion tokens, 12,300 images."""
    factor, word = scale_of(value)
    body = _small_count(value) if factor == 1 else f"{_plain(value / factor, _scaled_digits(value / factor))} {word}"
    return f"{body} {unit}".strip()


def count_range(median: float, q10: float, q90: float, unit: str = "") -> str:
    """A count with its interval, both ends in the median's scale: 1.4 billion tokens (1.3–1.5 billion)."""
    factor, word = scale_of(median)
    if factor == 1:
        low, high = _small_count(q10), _small_count(q90)
        if low == high == _small_count(median):
            return count_text(median, unit)
        return f"{count_text(median, unit)} ({low}{_to(q10)}{high})"
    digits = _scaled_digits(median / factor)
    low, high = _plain(q10 / factor, digits), _plain(q90 / factor, digits)
    if low == high == _plain(median / factor, digits):
        return count_text(median, unit)
    return f"{count_text(median, unit)} ({low}{_to(q10)}{high} {word})"


def _to(low: float) -> str:
    """The range sign: an en dash, or " to " when the range starts below zero (-3 to -1)."""
    return DASH if low >= 0 else " to "


def share_digits(share: float) -> int:
    """Decimals of a percentage: 38%, 4.2%, 0.35%."""
    points = abs(share) * 100
    if points >= 10 or points == 0:
        return 0
    return 1 if points >= 1 else 2


def share_text(share: float, digits: int | None = None) -> str:
    digits = share_digits(share) if digits is None else digits
    return f"{share * 100:.{digits}f}%"


def share_range(median: float, q10: float, q90: float) -> str:
    """A share with its interval: 38% (35–41%); the value alone if the interval rounds to it."""
    digits = share_digits(median)
    if share_text(q10, digits) == share_text(q90, digits) == share_text(median, digits):
        return share_text(median, digits)
    if q10 < 0:
        return f"{share_text(median, digits)} ({share_text(q10, digits)} to {share_text(q90, digits)})"
    return f"{share_text(median, digits)} ({q10 * 100:.{digits}f}{DASH}{share_text(q90, digits)})"


def points_text(text: str) -> str:
    """A difference of two shares, in percentage points: "0.81 (0.79–0.83) percentage points"."""
    return text.replace("%", "") + " percentage points"


def table_factor(values: list[float]) -> tuple[float, str]:
    """The scale of a table column of counts: the largest (million, billion, ...) in which the
    smallest non-zero value is still at least 0.1, so small regions do not round to 0."""
    nonzero = [abs(v) for v in values if v]
    for factor, word in SCALES:
        if nonzero and min(nonzero) >= 0.1 * factor:
            return factor, word
    return 1.0, ""


def cell_count(value: float, factor: float) -> str:
    """A count in a table column whose header gives the scale: 1,318 / 4.4 / 0.46."""
    scaled = value / factor
    if scaled == 0 or abs(scaled) >= 100:
        return _plain(scaled, 0)
    return _plain(scaled, 1) if abs(scaled) >= 1 else f"{scaled:.2g}"


def index_text(value: float) -> str:
    """A sensitivity index or other unitless value: 0.54."""
    return f"{value:.2f}"


# ---------------------------------------------------------------- quantities and the register
@dataclass
class Register:
    """Every number printed in the brief: its text, value and where it came from."""

    rows: list[dict] = field(default_factory=list)

    def record(self, quantity: Quantity, text: str, style: str) -> str:
        self.rows.append(
            {
                "text": text,
                "style": style,
                "what": quantity.what,
                "source": quantity.source,
                "selector": json.dumps(quantity.selector, sort_keys=True, default=str),
                "median": quantity.median,
                "q10": quantity.q10,
                "q90": quantity.q90,
                "replicates": quantity.replicates,
            }
        )
        return text

    def frame(self) -> pd.DataFrame:
        columns = ["text", "style", "what", "source", "selector", "median", "q10", "q90", "replicates"]
        return pd.DataFrame(self.rows, columns=columns).drop_duplicates(ignore_index=True)


@dataclass
class Quantity:
    """One number from the outputs with its interval over replicates and its provenance.

    kind: "share" (a fraction, shown as %), "points" (a difference of shares, in percentage points),
    "count" (shown with million/billion), "index" (shown
    to two decimals). `str(q)` is the value with its interval when there are replicates.
    """

    median: float
    q10: float
    q90: float
    replicates: int
    kind: str
    what: str
    source: str
    selector: dict
    register: Register
    unit: str = ""

    def __str__(self) -> str:
        if self.replicates <= 1:
            return self.value
        if self.kind == "share":
            text = share_range(self.median, self.q10, self.q90)
        elif self.kind == "points":
            text = points_text(share_range(self.median, self.q10, self.q90))
        elif self.kind == "count":
            text = count_range(self.median, self.q10, self.q90, self.unit)
        else:
            low, high = index_text(self.q10), index_text(self.q90)
            text = index_text(self.median) if low == high else f"{index_text(self.median)} ({low}{_to(self.q10)}{high})"
        return self.register.record(self, text, "interval")

    @property
    def value(self) -> str:
        """The median alone (for a number whose interval is shown elsewhere, or a single run)."""
        if self.kind in ("share", "points"):
            text = share_text(self.median)
            text = points_text(text) if self.kind == "points" else text
        elif self.kind == "count":
            text = count_text(self.median, self.unit)
        else:
            text = index_text(self.median)
        return self.register.record(self, text, "value")

    def cell(self, factor: float = 1.0) -> str:
        """A table cell: median (q10–q90), counts divided by the column's factor, no unit; the
        median alone when the interval rounds to it."""
        if self.kind == "share":
            digits = share_digits(self.median)
            parts = [f"{v * 100:.{digits}f}" for v in (self.median, self.q10, self.q90)]
            unit = "%"
        else:
            parts, unit = [cell_count(v, factor) for v in (self.median, self.q10, self.q90)], ""
        single = self.replicates <= 1 or parts[0] == parts[1] == parts[2]
        text = f"{parts[0]}{unit}" if single else f"{parts[0]}{unit} ({parts[1]}{DASH}{parts[2]}{unit})"
        return self.register.record(self, text, f"cell/{factor:g}")
