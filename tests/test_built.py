"""`models.base.built`: a document built from a stored row or its JSON exactly as
`model_validate` builds it (the same fields, fields set, private attributes and
errors), only without Beanie's `__init__` detour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from beanie import Document
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails
from starlette.applications import Starlette

from models import DOCUMENT_MODELS, Calendar, CheckInYear, Event, Goal, Habit, User
from models.base import _fast_of, built

instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
# Each field: a valid value in the forms rows and cached JSON hold it, or a wrong one.
times = st.one_of(instants, instants.map(datetime.isoformat), st.just("not a time"))
ids = st.one_of(st.builds(ObjectId), st.builds(ObjectId).map(str), st.just("xyz"))
events = st.fixed_dictionaries(
    {
        "_id": ids,
        "userId": st.text(min_size=1, max_size=8),
        "calendarId": st.builds(ObjectId).map(str),
        "title": st.one_of(st.text(max_size=20), st.integers()),
        "startTime": times,
        "endTime": times,
        # (Given: their defaults are the time of the build, a microsecond apart.)
        "createdAt": instants,
        "updatedAt": instants,
    },
    optional={
        "externalId": st.one_of(st.just(""), st.text(min_size=1, max_size=8)),
        "allDay": st.one_of(st.booleans(), st.just("maybe")),
        "busy": st.booleans(),
        "status": st.sampled_from(["CONFIRMED", "TENTATIVE", "CANCELLED", "LOST"]),
        "startDate": st.one_of(st.none(), st.dates().map(str)),
        "rev": st.integers(min_value=0, max_value=9),
    },
)


def same_build(model: type[Document], data: dict[str, Any]) -> Document | None:
    """Asserts both build the same document (or fail the same way); returns it."""
    errors: list[ErrorDetails] | None
    try:
        expected = model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_context=False)  # (its context holds each exception)
    else:
        errors = None
    if errors is not None:
        with pytest.raises(ValidationError) as raised:
            built(model, data)
        assert raised.value.errors(include_context=False) == errors
        return None
    doc = built(model, data)
    assert type(doc) is model
    assert doc.__dict__ == expected.__dict__
    assert doc.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert doc.__pydantic_private__ == expected.__pydantic_private__
    assert doc.model_dump() == expected.model_dump()
    return doc


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=events)
async def test_an_event_is_built_as_model_validate_builds_it(
    app: Starlette, data: dict[str, Any]
) -> None:
    doc = same_build(Event, data)
    if doc is not None:
        assert isinstance(doc, Event)
        # The model's "after" validator ran: an event of ours is keyed by its own id.
        assert doc.external_id == (data.get("externalId") or str(doc.id))


async def test_each_kind_of_document_is_built_alike(app: Starlette) -> None:
    now = datetime.now(UTC)
    user, parent = "user-1", str(ObjectId())
    # Every default that is the time of the build given (a microsecond apart otherwise).
    times = {"createdAt": now, "updatedAt": now, "recordedAt": now}
    rows: list[tuple[type[Document], dict[str, Any]]] = [
        (User, {"sub": user, "displayName": "Ada", "timezone": "Europe/Paris"}),
        (Goal, {"userId": user, "title": "Run", "priority": 2, "targetDate": "2027-01-01"}),
        (
            Habit,
            {
                "userId": user,
                "goalId": parent,
                "name": "Jog",
                "frequency": {"times": 3, "per": "WEEK"},
                "preferredWindows": [{"weekdays": [1, 3], "start": "07:00", "end": "09:00"}],
            },
        ),
        (
            CheckInYear,
            {
                "userId": user,
                "habitId": parent,
                "year": 2026,
                "days": {"2026-12-01": "DONE", "2026-12-02": "SKIPPED"},
                "values": {"2026-12-02": 1.5},
            },
        ),
        (Calendar, {"userId": user, "name": "Work", "provider": "ICS", "timezone": "UTC"}),
        (
            Event,
            {
                "userId": user,
                "calendarId": parent,
                "title": "Standup",
                "startTime": now,
                "endTime": now,
            },
        ),
    ]
    for model, row in rows:
        row |= {"_id": ObjectId(), **times}
        assert same_build(model, row) is not None, model.__name__
        # And a wrong value fails both ways alike.
        assert same_build(model, {**row, "_id": "not an id"}) is None, model.__name__


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=instants, offset_minutes=st.integers(-14 * 60, 14 * 60))
async def test_an_instant_in_utc_is_held_in_utc_however_it_was_read(
    app: Starlette, start: datetime, offset_minutes: int
) -> None:
    # given: a cached event's JSON (pydantic reads "+00:00" with a tzinfo of its own), a
    # row read with the client's zones, the same row read without them (UTC, as BSON
    # keeps it), and an input with some other offset
    zone = timezone(timedelta(minutes=offset_minutes))
    row = {"_id": ObjectId(), "userId": "u", "calendarId": str(ObjectId()), "title": "t"}
    naive = start.replace(tzinfo=None)
    sources = {
        "json": {**row, "startTime": start.isoformat(), "endTime": start.isoformat()},
        "row": {**row, "startTime": start, "endTime": start},
        "naive row": {**row, "startTime": naive, "endTime": naive},
    }
    given = {**row, "startTime": start.astimezone(zone), "endTime": start}
    # when
    read = {name: built(Event, data) for name, data in sources.items()}
    entered = built(Event, given)
    # then: the same instants, those in UTC held in `UTC` (so that comparing them with
    # the request's times takes datetime's fast path), another offset kept as it came
    for name, event in read.items():
        assert event.start_time == event.end_time == start, name
        assert event.start_time.tzinfo is UTC, name
        assert event.end_time.tzinfo is UTC, name
    assert entered.start_time == start
    assert entered.start_time.utcoffset() == timedelta(minutes=offset_minutes)


async def test_documents_built_apart_share_no_private_state(app: Starlette) -> None:
    # given: every model builds without pydantic's post-init step (its private
    # attributes set from defaults worked out once)
    assert all(_fast_of(model) is not None for model in DOCUMENT_MODELS)
    row = {"userId": "user-1", "habitId": str(ObjectId()), "year": 2026}
    # when: two documents are built from the same row
    one, two = built(CheckInYear, {**row, "days": {}}), built(CheckInYear, {**row, "days": {}})
    # then: each has private attributes of its own (Beanie's lazy store is a dict)
    assert one.__pydantic_private__ == two.__pydantic_private__
    assert one.__pydantic_private__ is not two.__pydantic_private__
    store = "_store"
    assert one.__pydantic_private__[store] is not two.__pydantic_private__[store]


class _Noted(Document):
    notes: list[str] = Field(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self.notes = [*self.notes, "seen"]


def test_a_model_with_a_post_init_of_its_own_keeps_it() -> None:
    assert _fast_of(_Noted) is None
    doc = built(_Noted, {"_id": ObjectId(), "notes": ["a"]})
    assert doc.notes == ["a", "seen"]
