"""The names of the scopes that more than one module bumps or reads.

A scope names what a cached value or answer was read from (graphql_api.cache.request);
a write bumps the scopes of what it changed (graphql_api.changes, and a sync's
`graphql_api.sync.runs.retire_events`).
"""

from __future__ import annotations

from datetime import date

# One calendar's events in one week, as the events' service keeps them
# (graphql_api.events.service): retired by a change of one event in that week.
WEEK_SCOPE = "week:"


def calendar_scope(calendar_id: str) -> str:
    """Whatever shows the calendar's events: retired by every change to them."""
    return f"cal:{calendar_id}"


def days_scope(calendar_id: str) -> str:
    """Every week of the calendar's events the events' service keeps (the name is from
    when it kept days): retired by a change to the calendar's events as a whole (a sync,
    a series, many events at once)."""
    return f"days:{calendar_id}"


def calendar_scopes(calendar_id: str) -> tuple[str, str]:
    """What a change to a calendar's events as a whole retires."""
    return calendar_scope(calendar_id), days_scope(calendar_id)


def week_scope(calendar_id: str, day: date) -> str:
    """The calendar's events in the week of `day` (a UTC date; ISO weeks, from Monday):
    retired by a change of one event in that week, and what the events' service keeps of
    that week with it. A week rather than a day: a page of events reads a version or two
    per calendar, and a value or two, where a day each would be a dozen."""
    year, week, _ = day.isocalendar()
    return f"{WEEK_SCOPE}{calendar_id}:{year}-W{week:02d}"
