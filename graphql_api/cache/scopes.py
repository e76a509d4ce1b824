"""The cache scopes of a calendar's events (graphql_api.cache.request: what a write bumps
retires everything cached under it).

- `cal:<id>`: anything in the calendar. Every write of its events bumps it; what is
  derived from the calendar as a whole (recommendations, an event read by its ID) is
  cached under it.
- `day:<id>:<UTC date>`: the calendar's events overlapping that UTC day, as pages of
  events read them (one cached bucket per calendar and day). A write of one event bumps
  the days the event touched, before and after the write.
- `days:<id>`: every day of the calendar at once: a write that may touch many days
  (a recurring series, a changed instance, a sync, the planner's blocks) bumps it.

A day's bucket is read under `days:<id>` and its `day:` scope, so an answer that shows
some days of a calendar is not retired by a write of an event on other days.
"""

from __future__ import annotations

from datetime import date


def calendar(calendar_id: str) -> str:
    return f"cal:{calendar_id}"


def all_days(calendar_id: str) -> str:
    return f"days:{calendar_id}"


def day(calendar_id: str, utc_day: date) -> str:
    return f"day:{calendar_id}:{utc_day.isoformat()}"
