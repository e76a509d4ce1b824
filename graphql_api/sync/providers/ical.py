"""iCalendar (CalDAV objects, ICS feeds) into RemoteEvents, with recurrence in one form.

Recurrence lines are normalized so dateutil reads them against the series'
zone: RRULE's UNTIL in UTC, RDATE/EXDATE as UTC instants (or dates for all-day
series), whatever TZID the source used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from graphql_api.recurrence import instance_key
from graphql_api.sync.providers.base import RemoteEvent

log = logging.getLogger(__name__)

_LINE = re.compile(r"^(?P<name>[A-Z-]+)(?P<params>(;[^:]*)?):(?P<value>.*)$")
_UNTIL = re.compile(r"UNTIL=(\d{8}(T\d{6}Z?)?)")
STATUS = {"CONFIRMED": "CONFIRMED", "TENTATIVE": "TENTATIVE", "CANCELLED": "CANCELLED"}


def zone_of(name: str | None, fallback: str) -> str:
    if name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            log.info("unknown time zone %r; using %s", name, fallback)
    return fallback


def _parse_value(value: str, zone: ZoneInfo) -> datetime | date:
    if "T" not in value:
        return datetime.strptime(value, "%Y%m%d").date()
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone)


def _utc(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def normalize_recurrence(lines: Iterable[str], zone_name: str) -> list[str]:
    """RRULE/RDATE/EXDATE lines with every instant in UTC (dates stay dates)."""
    out = []
    for raw in lines:
        match = _LINE.match(raw.strip())
        if not match:
            continue
        name, params, value = match["name"], match["params"] or "", match["value"]
        tzid = re.search(r"TZID=([^;:]+)", params)
        zone = ZoneInfo(zone_of(tzid[1] if tzid else None, zone_name))
        if name == "RRULE":
            until = _UNTIL.search(value)
            if until and "T" in until[1] and not until[1].endswith("Z"):
                value = value.replace(until[0], f"UNTIL={_utc(_parse_value(until[1], zone))}")
            out.append(f"RRULE:{value}")
        elif name in ("RDATE", "EXDATE"):
            values = [_parse_value(v, zone) for v in value.split(",") if v]
            if values and all(not isinstance(v, datetime) for v in values):
                out.append(f"{name};VALUE=DATE:{','.join(_utc(v) for v in values)}")
            elif values:
                out.append(f"{name}:{','.join(_utc(v) for v in values)}")
    return out


def _when(prop: object) -> datetime | date | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime | date):
        return value
    return None


def _aware(value: datetime | date, zone: str) -> datetime | date:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(zone))  # floating time: the calendar's zone
    return value


def remote_events(ics: str | bytes | icalendar.Calendar, calendar_zone: str) -> list[RemoteEvent]:
    """Every VEVENT of an iCalendar document, or of one already parsed (series masters and
    their overrides)."""
    parsed = ics if isinstance(ics, icalendar.Calendar) else icalendar.Calendar.from_ical(ics)
    events = []
    for component in parsed.walk("VEVENT"):
        event = _remote_event(component, calendar_zone)
        if event is not None:
            events.append(event)
    return events


def _remote_event(component: icalendar.cal.Component, calendar_zone: str) -> RemoteEvent | None:
    uid = str(component.get("UID", "")).strip()
    start = _when(component.get("DTSTART"))
    if not uid or start is None:
        return None
    tzinfo = getattr(start, "tzinfo", None)
    zone = zone_of(getattr(tzinfo, "key", None) or str(tzinfo) if tzinfo else None, calendar_zone)
    start = _aware(start, zone)
    end = _when(component.get("DTEND"))
    if end is None:
        duration = component.get("DURATION")
        length = getattr(duration, "dt", None)
        if isinstance(length, timedelta):
            end = start + length
        else:
            end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    end = _aware(end, zone)
    instance = ""
    recurrence_id = _when(component.get("RECURRENCE-ID"))
    if recurrence_id is not None:
        instance = instance_key(_aware(recurrence_id, zone))
    lines: list[str] = []
    for name in ("RRULE", "RDATE", "EXDATE"):
        props = component.get(name)
        for prop in props if isinstance(props, list) else [props] if props is not None else []:
            lines.append(
                f"{name}:{prop.to_ical().decode()}" if name == "RRULE" else _dates_line(name, prop)
            )
    status = STATUS.get(str(component.get("STATUS", "CONFIRMED")).upper(), "CONFIRMED")
    return RemoteEvent(
        external_id=uid,
        instance=instance,
        title=str(component.get("SUMMARY", "")) or "(no title)",
        start=start,
        end=end,
        description=_text(component.get("DESCRIPTION")),
        location=_text(component.get("LOCATION")),
        status=status,
        busy=str(component.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT",
        timezone=zone if isinstance(start, datetime) else None,
        recurrence=normalize_recurrence(lines, zone) if not instance else [],
    )


def _dates_line(name: str, prop: object) -> str:
    """An RDATE/EXDATE property as a content line (values in UTC or as dates)."""
    values = [_utc(_when(d) or date.min) for d in getattr(prop, "dts", [])]
    if values and all("T" not in v for v in values):
        return f"{name};VALUE=DATE:{','.join(values)}"
    return f"{name}:{','.join(values)}"


def _text(value: object) -> str | None:
    return str(value) if value is not None and str(value) else None
