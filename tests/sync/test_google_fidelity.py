"""Random edits on the local Google, synced after every few: the API shows what Google defines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from graphql_api.relay import ref_of
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.conftest import Client
from tests.fakes.google_calendar import FakeGoogle
from tests.sync.test_google_sync import (
    EVENTS,
    connect,
    google_client,
    pointed_at,
    run_pending,
    sync_now,
)

BERLIN = ZoneInfo("Europe/Berlin")
FIRST = date(2026, 3, 23)  # a Monday; the clocks change on the 29th
RANGE = {"start": "2026-03-20T00:00:00Z", "end": "2026-04-15T00:00:00Z"}


def local(day: int, hour: int) -> datetime:
    return datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), BERLIN).replace(
        hour=hour
    )


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Series:
    title: str
    day: int
    hour: int
    count: int
    moved: dict[int, tuple[str, int]] = field(default_factory=dict)  # k -> (title, hour)
    cancelled: set[int] = field(default_factory=set)


@dataclass
class Model:
    """What the calendar holds, written down independently of our code."""

    singles: dict[str, tuple[str, int, int, int]] = field(
        default_factory=dict
    )  # title, day, hour, minutes
    all_day: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # title, day, days
    series: dict[str, Series] = field(default_factory=dict)

    def expected(self) -> set[tuple[str, str, str]]:
        shown = set()
        for title, day, hour, minutes in self.singles.values():
            begins = local(day, hour)
            shown.add((title, utc(begins), utc(begins + timedelta(minutes=minutes))))
        for title, day, days in self.all_day.values():
            first = FIRST + timedelta(days=day)
            shown.add((title, f"{first}T00:00:00Z", f"{first + timedelta(days=days)}T00:00:00Z"))
        for s in self.series.values():
            for k in range(s.count):
                if k in s.cancelled:
                    continue
                title, hour = s.moved.get(k, (s.title, s.hour))
                begins = local(s.day + k, hour)  # 09:00 stays 09:00 across DST
                shown.add((title, utc(begins), utc(begins + timedelta(minutes=30))))
        return shown


EDIT = st.one_of(
    st.tuples(
        st.just("single"), st.integers(0, 13), st.integers(6, 20), st.sampled_from([30, 60, 90])
    ),
    st.tuples(st.just("all-day"), st.integers(0, 13), st.integers(1, 3), st.just(0)),
    st.tuples(st.just("series"), st.integers(0, 6), st.integers(7, 18), st.integers(2, 9)),
    st.tuples(st.just("move"), st.integers(0, 50), st.integers(6, 20), st.integers(0, 13)),
    st.tuples(st.just("retitle"), st.integers(0, 50), st.just(0), st.just(0)),
    st.tuples(st.just("delete"), st.integers(0, 50), st.just(0), st.just(0)),
    st.tuples(st.just("move instance"), st.integers(0, 50), st.integers(0, 8), st.integers(6, 20)),
    st.tuples(st.just("cancel instance"), st.integers(0, 50), st.integers(0, 8), st.just(0)),
)


def edit(google: FakeGoogle, model: Model, change: tuple[Any, ...], n: int) -> None:
    kind, a, b, c = change
    singles, series = sorted(model.singles), sorted(model.series)
    if kind == "single":
        title = f"single {n}"
        event_id = google.put(
            title, local(a, b), local(a, b) + timedelta(minutes=c), zone="Europe/Berlin"
        )
        model.singles[event_id] = (title, a, b, c)
    elif kind == "all-day":
        title = f"all-day {n}"
        first = FIRST + timedelta(days=a)
        model.all_day[google.put(title, first, first + timedelta(days=b))] = (title, a, b)
    elif kind == "series":
        title = f"series {n}"
        rule = [f"RRULE:FREQ=DAILY;COUNT={c}"]
        event_id = google.put(
            title,
            local(a, b),
            local(a, b) + timedelta(minutes=30),
            zone="Europe/Berlin",
            recurrence=rule,
        )
        model.series[event_id] = Series(title, a, b, c)
    elif kind == "move" and singles:
        event_id = singles[a % len(singles)]
        title, _, _, minutes = model.singles[event_id]
        google.put(
            title,
            local(c, b),
            local(c, b) + timedelta(minutes=minutes),
            zone="Europe/Berlin",
            event_id=event_id,
        )
        model.singles[event_id] = (title, c, b, minutes)
    elif kind == "retitle" and singles:
        event_id = singles[a % len(singles)]
        _, day, hour, minutes = model.singles[event_id]
        google.put(
            f"renamed {n}",
            local(day, hour),
            local(day, hour) + timedelta(minutes=minutes),
            zone="Europe/Berlin",
            event_id=event_id,
        )
        model.singles[event_id] = (f"renamed {n}", day, hour, minutes)
    elif kind == "delete" and (singles or series):
        pool = singles + series
        event_id = pool[a % len(pool)]
        google.delete(event_id)
        model.singles.pop(event_id, None)
        model.series.pop(event_id, None)
    elif kind in ("move instance", "cancel instance") and series:
        event_id = series[a % len(series)]
        s = model.series[event_id]
        k = b % s.count
        original = local(s.day + k, s.hour)
        if kind == "cancel instance":
            google.put_exception(event_id, original, cancelled=True)
            s.cancelled.add(k)
            s.moved.pop(k, None)
        else:
            moved = local(s.day + k, c)
            google.put_exception(
                event_id,
                original,
                summary=f"moved {n}",
                start=moved,
                end=moved + timedelta(minutes=30),
            )
            s.moved[k] = (f"moved {n}", c)
            s.cancelled.discard(k)


async def shown(client: Client) -> set[tuple[str, str, str]]:
    edges = (await client.execute(EVENTS, {"range": RANGE})).data["events"]["edges"]
    return {(e["node"]["title"], e["node"]["start"], e["node"]["end"]) for e in edges}


@examples(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.tuples(st.lists(EDIT, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=5
    )
)
async def test_what_the_api_shows_is_what_google_defines(
    new_user: Any,
    app_state: AppState,
    settings: Settings,
    batches: list[tuple[list[tuple[Any, ...]], bool]],
) -> None:
    # given: a fresh user, a fresh Google calendar, synced once
    google = FakeGoogle()
    google.calendar("primary")
    client: Client = new_user()
    state = pointed_at(app_state, settings)
    async with google_client(google) as local_google:
        calendar = await connect(client, google)
        await run_pending((state, local_google), ref_of(calendar["id"], "Calendar"))
        model = Model()
        n = 0
        # when / then: after each batch of edits and a sync (full or incremental), the same
        for changes, full in batches:
            for change in changes:
                n += 1
                edit(google, model, change, n)
            run = await sync_now(client, (state, local_google), calendar, full=full)
            assert run.status == "SUCCEEDED", run.error
            assert await shown(client) == model.expected()
