"""Checks shared by the domains' inputs; each failure is a BAD_USER_INPUT naming its field."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import TypeVar
from zoneinfo import available_timezones

from graphql_api.errors import BadUserInput

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
NAME_MAX = 200
SHORT_TEXT_MAX = 100
MAX_RANGE = timedelta(days=366)

T = TypeVar("T")

_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")


def text(value: str, field: str, max_length: int) -> str:
    """A required text: not blank, at most `max_length` characters."""
    if not value.strip():
        raise BadUserInput(f"{field} must not be blank", field=field)
    optional_text(value, field, max_length)
    return value


def optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is not None and len(value) > max_length:
        raise BadUserInput(
            f"{field} is {len(value)} characters long; at most {max_length} are allowed",
            field=field,
        )
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone(name: str, field: str = "timezone") -> str:
    if name not in _zones():
        raise BadUserInput(
            f"{name!r} is not an IANA time zone name such as 'Europe/Berlin'", field=field
        )
    return name


def clock_time(value: str, field: str) -> time | None:
    """Parses "HH:MM"; "24:00" (end of day) comes back as None."""
    if not _HHMM.fullmatch(value):
        raise BadUserInput(f"{field} must be a time as HH:MM, got {value!r}", field=field)
    if value == "24:00":
        return None
    return time(int(value[:2]), int(value[3:]))


def minutes_of_day(value: str, field: str) -> int:
    parsed = clock_time(value, field)
    return 24 * 60 if parsed is None else parsed.hour * 60 + parsed.minute


def time_window(start: str, end: str, field: str) -> tuple[int, int]:
    """A same-day window in minutes from midnight; `end` must come after `start`."""
    start_min = minutes_of_day(start, f"{field}.start")
    end_min = minutes_of_day(end, f"{field}.end")
    if start_min >= 24 * 60 or end_min <= start_min:
        raise BadUserInput(f"{field}: end ({end}) must be after start ({start})", field=field)
    return start_min, end_min


def weekday(value: int, field: str) -> int:
    if not 1 <= value <= 7:
        raise BadUserInput(
            f"{field} must be an ISO weekday, 1 (Monday) to 7, got {value}", field=field
        )
    return value


def time_range(start: datetime, end: datetime, field: str = "range") -> tuple[datetime, datetime]:
    if end <= start:
        raise BadUserInput(f"{field}: end must be after start", field=field)
    if end - start > MAX_RANGE:
        raise BadUserInput(f"{field} may span at most 366 days", field=field)
    return start, end


def date_range(start: date, end: date, field: str = "from") -> tuple[date, date]:
    if end < start:
        raise BadUserInput("to must not be before from", field=field)
    if end - start > MAX_RANGE:
        raise BadUserInput("from and to may be at most 366 days apart", field=field)
    return start, end


def finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise BadUserInput(f"{field} must be a finite number", field=field)
    return value


def not_null(value: T | None, field: str) -> T:
    """For update inputs: a field that may be left out but not set to null."""
    if value is None:
        raise BadUserInput(f"{field} cannot be cleared", field=field)
    return value
