"""Cached documents come back as the caller's own, however often the same value is read."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphql_api.cache import codecs
from graphql_api.state import AppState
from models import Event, Goal, Target, base


def test_documents_decoded_from_one_cached_value_are_each_callers_own(
    app_state: AppState,  # Beanie initialised
) -> None:
    # given: a user's goals, cached
    goals = [
        Goal(user_id="u", title="Read"),
        Goal(user_id="u", title="Run", target=Target(value=5, unit="km")),
    ]
    codec = codecs.documents(Goal)
    raw = codec.encode(goals)

    # when: two requests read the value, and one changes its goal as a write does
    first, second = codec.decode(raw), codec.decode(raw)
    first[1].title = "Swim"
    first[1].target = Target(value=1, unit="km")

    # then: neither the other request nor a later one sees the change
    expected = [g.model_dump() for g in goals]
    assert [g.model_dump() for g in second] == expected
    assert [g.model_dump() for g in codec.decode(raw)] == expected
    assert first[0] is not second[0]


def test_a_cached_document_decodes_to_what_was_encoded(app_state: AppState) -> None:
    goal = Goal(user_id="u", title="Read", target=Target(value=5, unit="km"))
    codec = codecs.document(Goal)
    assert codec.decode(codec.encode(goal)).model_dump() == goal.model_dump()


def test_a_value_with_one_document_changed_builds_only_that_one_again(
    app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a list of documents read once (decoded, kept in this process)
    goals = [Goal(user_id="u", title=f"Goal {i}") for i in range(5)]
    codec = codecs.documents(Goal, read_only=True)
    before = codec.decode(codec.encode(goals))
    built: list[object] = []

    def counted(model: type[Goal], item: object) -> Goal:
        built.append(item)
        return base.built(model, item)

    monkeypatch.setattr(codecs, "built", counted)

    # when: the value is stored again with one document changed and one added
    goals[2] = goals[2].model_copy(update={"title": "Renamed"})
    goals.append(Goal(user_id="u", title="New"))
    after = codec.decode(codec.encode(goals))

    # then: only those two were built; the others are the ones already decoded
    assert [g.title for g in after] == ["Goal 0", "Goal 1", "Renamed", "Goal 3", "Goal 4", "New"]
    assert len(built) == 2
    assert all(after[i] is before[i] for i in (0, 1, 3, 4))


def test_documents_kept_decoded_hold_less_than_the_documents_alone(app_state: AppState) -> None:
    # Kept documents share what every one of them holds alike (the names of the fields
    # given, the private attributes), and the memo finds them by a digest of their JSON:
    # kept as it came, orjson's JSON of each (in a buffer of 4 KB or more, never trimmed)
    # held more than its document; kept trimmed, 30% of it.
    goals = [Goal(user_id="u", title=f"Goal {i}", description="x" * 200) for i in range(200)]
    raw = codecs.documents(Goal).encode(goals)

    def held(make: Callable[[], object]) -> int:
        """The memory what `make` builds holds, while codecs' memos hold what it built."""
        gc.collect()
        tracemalloc.start()
        try:
            made = make()
            with_it = tracemalloc.get_traced_memory()[0]
            del made
            codecs._DECODED.clear()
            gc.collect()
            return with_it - tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    alone = held(lambda: [base.built(Goal, item) for item in orjson.loads(raw)])
    kept = held(lambda: codecs.documents(Goal, read_only=True).decode(raw))
    assert len(codecs._DOCUMENTS) == 0  # the documents died with the memo
    assert kept < 0.8 * alone, (kept, alone)


def test_kept_documents_share_their_private_attributes_and_a_callers_copy_has_its_own(
    app_state: AppState,
) -> None:
    # given: goals cached, decoded once and kept
    raw = orjson.dumps([{"userId": "u", "title": f"Goal {i}"} for i in range(3)])
    kept = codecs.documents(Goal, read_only=True).decode(raw)
    # when: a caller takes its copies, and sets a private attribute on one, as Beanie's
    # state management would on a save
    copies = codecs.documents(Goal).decode(raw)
    copies[0]._saved_state = {"title": "Goal 0"}
    # then: the kept documents hold one dict of them between them, untouched
    assert kept[0].__pydantic_private__ is kept[1].__pydantic_private__
    assert all(g._saved_state is None for g in kept + copies[1:])
    assert copies[0].__pydantic_private__ is not kept[0].__pydantic_private__


def test_a_field_set_on_one_callers_copy_is_unset_on_every_other_document(
    app_state: AppState,
) -> None:
    # given: goals cached without a target (their JSON does not name it), decoded once
    # and kept (the kept documents share what pydantic records of the fields given)
    raw = orjson.dumps([{"userId": "u", "title": f"Goal {i}"} for i in range(3)])
    codec = codecs.documents(Goal)
    first = codec.decode(raw)
    # when: a caller sets the target on its copy of one of them, as a write does
    first[0].target = Target(value=5, unit="km")
    # then: only that copy has it set; the other documents and later reads do not
    assert "target" in first[0].model_dump(exclude_unset=True)
    assert all("target" not in g.model_dump(exclude_unset=True) for g in first[1:])
    again = codec.decode(raw) + codecs.documents(Goal, read_only=True).decode(raw)
    assert all("target" not in g.model_dump(exclude_unset=True) for g in again)


# Stored events as the week's query reads them: times without zones (UTC, to the
# millisecond, as BSON keeps them), ids as ObjectIds, references as strings.
_MILLISECOND_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
_TEXT = st.text(max_size=12)


@st.composite
def _stored_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(_MILLISECOND_TIMES)
        rows.append(
            {
                "_id": ObjectId(),
                "userId": "u",
                "calendarId": str(ObjectId()),
                "title": draw(_TEXT),
                "description": draw(st.none() | _TEXT),
                "startTime": start,
                "endTime": start + timedelta(minutes=draw(st.integers(0, 10_000))),
                "allDay": draw(st.booleans()),
                "busy": draw(st.booleans()),
                "recurrence": draw(st.lists(_TEXT, max_size=2)),
                "durationS": draw(st.none() | st.integers(0, 10**6)),
                "createdAt": draw(_MILLISECOND_TIMES),
                "updatedAt": draw(_MILLISECOND_TIMES),
                "rev": draw(st.integers(0, 5)),
            }
        )
    return rows


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_stored_events())
def test_a_week_built_from_its_rows_is_the_week_its_json_decodes_to(
    app_state: AppState, rows: list[dict[str, Any]]
) -> None:
    # given: a week's events read from Mongo, and the JSON the cache keeps of them
    raw = codecs.stored(rows)
    # when: the reader builds the documents from the rows, as it stores the JSON
    from_rows = codecs.documents_of_rows(Event, raw, rows)
    # then: they are the documents the JSON decodes to, their times in UTC
    from_json = [base.built(Event, item) for item in orjson.loads(raw)]
    assert [e.model_dump() for e in from_rows] == [e.model_dump() for e in from_json]
    assert all(e.start_time.tzinfo is UTC and e.updated_at.tzinfo is UTC for e in from_rows)
    assert [e.model_fields_set for e in from_rows] == [e.model_fields_set for e in from_json]


def test_the_next_read_of_a_week_built_from_its_rows_builds_nothing_again(
    app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a week read from Mongo (its documents built from the rows) and cached
    start = datetime(2026, 12, 7, 9)
    rows = [
        {
            "_id": ObjectId(),
            "userId": "u",
            "calendarId": "c",
            "title": f"Event {i}",
            "startTime": start + timedelta(hours=i),
            "endTime": start + timedelta(hours=i + 1),
        }
        for i in range(4)
    ]
    first = codecs.documents_of_rows(Event, codecs.stored(rows), rows)
    built: list[object] = []

    def counted(model: type[Event], item: object) -> Event:
        built.append(item)
        return base.built(model, item)

    monkeypatch.setattr(codecs, "built", counted)
    codec = codecs.documents(Event, read_only=True)
    # when: the week is read again from the cache, then with one more event
    again = codec.decode(codecs.stored(rows))
    added = {**rows[0], "_id": ObjectId(), "title": "Added"}
    grown = codec.decode(codecs.stored([*rows, added]))
    # then: both share the documents built from the rows; only the new event is built
    assert all(a is b for a, b in zip(again, first, strict=True))
    assert all(a is b for a, b in zip(grown, first, strict=False))
    assert [e.title for e in grown] == ["Event 0", "Event 1", "Event 2", "Event 3", "Added"]
    assert len(built) == 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_stored_events(), added=_stored_events(), at=st.integers(0, 4))
def test_a_list_kept_decoded_with_one_more_document_is_what_its_json_decodes_to(
    app_state: AppState, rows: list[dict[str, Any]], added: list[dict[str, Any]], at: int
) -> None:
    # given: a week read from Mongo (kept decoded), and the same week with one more event
    # where a writer carries it over its write
    raw = codecs.stored(rows)
    kept = codecs.documents_of_rows(Event, raw, rows)
    at = min(at, len(rows))
    [row] = added[:1]
    grown = codecs.stored([*rows[:at], row, *rows[at:]])
    # when: the writer keeps the grown week decoded
    codecs.decoded_with(Event, raw, grown, at=at, row=row, json=codecs.stored_each([row])[0])
    # then: a read of it finds the documents its JSON decodes to, the week's own shared
    read = codecs.documents(Event, read_only=True).decode(grown)
    from_json = [base.built(Event, item) for item in orjson.loads(grown)]
    assert [e.model_dump() for e in read] == [e.model_dump() for e in from_json]
    assert [e.model_fields_set for e in read] == [e.model_fields_set for e in from_json]
    assert all(a is b for a, b in zip([*read[:at], *read[at + 1 :]], kept, strict=True))


def test_a_list_carried_with_one_more_document_is_read_without_parsing_it(
    app_state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a user's goals kept decoded, and the list with a new goal last, as a writer
    # carries it
    goals = [Goal(user_id="u", title=f"Goal {i}") for i in range(3)]
    codec = codecs.documents(Goal, read_only=True)
    raw = codec.encode(goals)
    before = codec.decode(raw)
    new = Goal(user_id="u", title="New")
    item = orjson.dumps(new.model_dump(mode="json", by_alias=True))
    grown = raw[:-1] + b"," + item + b"]"
    codecs.decoded_with(Goal, raw, grown, at=None, row=orjson.loads(item), json=item)
    # when: the list is read
    parsed: list[bytes] = []

    def parse(raw: bytes) -> list[Any]:
        parsed.append(raw)
        return []

    monkeypatch.setattr(orjson, "loads", parse)
    after = codec.decode(grown)
    # then: nothing is parsed, and the list is the old goals and the new one
    assert parsed == []
    assert all(a is b for a, b in zip(after, before, strict=False))
    assert after[3].model_dump() == new.model_dump()
    assert codec.decode(grown)[3] is after[3]
    assert [g.title for g in after] == ["Goal 0", "Goal 1", "Goal 2", "New"]


def test_a_list_cached_as_its_documents_dumped_reads_as_the_same_list_from_rows(
    app_state: AppState,
) -> None:
    # given: a user's goals as a query reads them, and the list as cached before lists
    # were kept as their rows (the documents dumped), as a process of that code left it
    when = datetime(2026, 12, 7, 9, 30, 15, 123_000)
    rows: list[dict[str, Any]] = [
        {"_id": ObjectId(), "userId": "u", "title": "Read", "createdAt": when, "rev": 2},
        {"_id": ObjectId(), "userId": "u", "title": "Run", "target": {"value": 5, "unit": "km"}},
    ]
    from_rows = codecs.listed_rows(Goal, rows, read_only=True)
    dumped = codecs.documents(Goal).encode(from_rows.docs)
    # when: this code reads the older entry
    read = codecs.listed(Goal).decode(dumped)
    # then: the same goals, each the caller's own (a copy)
    assert [g.model_dump() for g in read.docs] == [g.model_dump() for g in from_rows.docs]
    assert all(a is not b for a, b in zip(read.docs, from_rows.docs, strict=True))
    assert from_rows.raw == codecs.stored(rows)
