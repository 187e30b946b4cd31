"""Building blocks of the config schema, shared by `sim.model.config` and the mechanisms' parameters.

`Strict` is the one gate every config section passes: unknown keys, infinite numbers and booleans
given for numbers are refused. `unit` attaches a parameter's unit to its field, where the
parameter table (sim/reports/parameter_table.py) reads it.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from sim.model.regions import REGION_CODES

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]


class Strict(BaseModel):
    # allow_inf_nan=False: every number finite (an infinite Beta shape would make every agent NaN).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_input(cls, value, info: ValidationInfo):
        """Booleans are not numbers (`seed=true` is not seed 1); dates say their format."""
        field = cls.model_fields.get(info.field_name)
        kinds = _scalar_kinds(field.annotation) if field is not None else set()
        if isinstance(value, bool) and kinds & {int, float} and bool not in kinds:
            raise ValueError("a boolean is not a number here")
        if isinstance(value, str) and dt.date in kinds:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("not a date: write YYYY-MM-DD, e.g. 2025-03-01") from None
        return value


def _scalar_kinds(annotation) -> set:
    """The plain types a field accepts at its top level (through Annotated, Optional and unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_scalar_kinds(a) for a in typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


def _check_region_keys(values: dict, *, need_default: bool) -> dict:
    unknown = sorted(set(values) - set(REGION_CODES) - {"default"})
    if unknown:
        raise ValueError(f"unknown region(s) {unknown}; allowed: {list(REGION_CODES)} or 'default'")
    if need_default and "default" not in values:
        raise ValueError("needs a 'default' entry (used for every region not named)")
    return values


def _regions_with_default(values: dict) -> dict:
    return _check_region_keys(values, need_default=True)


# A per-region value: {"default": x, "EU_EEA": y, ...}; regions not named take the default.
ByRegionProbability = Annotated[dict[str, Probability], AfterValidator(_regions_with_default)]
RegionShift = Annotated[float, Field(ge=-0.5, le=0.5)]


def for_region(values: dict[str, float], region: str) -> float:
    """The value of a per-region setting for one region."""
    return values.get(region, values["default"])


Strength = Annotated[float, Field(ge=0.0, le=10.0)]
ByRegionRate = Annotated[dict[str, Annotated[float, Field(ge=0.0, le=1.0)]], AfterValidator(_regions_with_default)]


def unit(text: str, **bounds) -> typing.Any:
    """A field with its unit (read by the parameter table), e.g. `half_life_days: float = unit("days", gt=0)`."""
    return Field(json_schema_extra={"unit": text}, **bounds)


def field_unit(model: type[BaseModel], name: str) -> str | None:
    """The unit a field of `model` declares with `unit`, or None."""
    extra = model.model_fields[name].json_schema_extra
    return extra.get("unit") if isinstance(extra, dict) else None
