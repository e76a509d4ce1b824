"""Google push channels as they run in production: an API process receives the local
Google's real HTTP notifications, a worker process makes, uses and stops the channels."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from graphql_api.relay import ref_of
from graphql_api.security.dev_tokens import mint_dev_token
from graphql_api.settings import Settings
from graphql_api.sync.channels import channel_token
from models import Calendar, SyncRun
from tests.conftest import api_process, operation, process_env, stop
from tests.fakes.google_calendar import FakeChannel, FakeGoogle
from tests.fakes.serve import serving
from tests.sync.test_worker import graphql, scrape, start_worker

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = {"start": "2026-03-23T00:00:00Z", "end": "2026-03-30T00:00:00Z"}
T = TypeVar("T")
CHANNEL_SECRET = "push-channel-secret-for-the-tests"


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[FakeGoogle, str]]:
    fake = FakeGoogle()
    with serving(fake.app) as url:
        yield fake, url


@pytest.fixture(scope="module")
def env(settings: Settings, google: tuple[FakeGoogle, str]) -> dict[str, str]:
    _, url = google
    return process_env(
        settings,
        GOOGLE_API_URL=f"{url}/calendar/v3",
        GOOGLE_TOKEN_URL=f"{url}/token",
        GOOGLE_CHANNEL_TOKEN=CHANNEL_SECRET,
        SYNC_INTERVAL_S="3600",  # no poll during a test: what arrives, arrives by push
        WEBHOOK_DEBOUNCE_S="0.2",
    )


@pytest.fixture(scope="module")
def api(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_process(env, tmp_path_factory.mktemp("push-api") / "api.log") as url:
        yield url


@pytest.fixture
def worker(env: dict[str, str], api: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker that makes channels to the API process's /webhooks/google."""
    proc = start_worker({**env, "GOOGLE_WEBHOOK_URL": f"{api}/webhooks/google"}, tmp_path / "w")
    yield proc
    stop(proc)


async def until(found: Callable[[], T | None], what: str, within_s: float = 60) -> T:
    deadline = time.monotonic() + within_s
    while (value := found()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
    return value


DISCONNECT = "mutation($id: ID!) { disconnectCalendar(id: $id) }"


async def test_a_change_at_google_reaches_the_api_by_push_and_disconnecting_stops_the_channel(
    api: str, google: tuple[FakeGoogle, str], settings: Settings, worker: Any, app_state: Any
) -> None:
    # given: a calendar of its own at the local Google, and a user who connects it
    fake, _ = google
    external = f"push-{uuid.uuid4().hex[:8]}"
    begins = datetime(2026, 3, 24, 9, tzinfo=BERLIN)
    fake.put("Before", begins, begins.replace(hour=10), calendar_id=external, zone="Europe/Berlin")
    token = mint_dev_token(settings, f"push-{external}")
    connect = {"provider": "GOOGLE", "externalId": external, "oauth": fake.grant()}
    data = graphql(api, token, operation("ConnectCalendar"), {"input": connect})
    calendar_id = ref_of(data["connectCalendar"]["id"], "Calendar")

    def live() -> FakeChannel | None:
        channels = fake.live_channels(external)
        return channels[0] if channels else None

    def titles() -> list[str]:
        listed = graphql(api, token, operation("Events"), {"range": WEEK, "first": 50})
        return sorted(edge["node"]["title"] for edge in listed["events"]["edges"])

    # when: the worker carries out the first sync
    channel = await until(live, "a channel")
    await until(lambda: titles() == ["Before"] or None, "the first sync")
    # then: the channel pushes to the API process, with the calendar's token
    assert channel.address == f"{api}/webhooks/google"
    assert channel.token == channel_token(
        settings.model_copy(update={"google_channel_token": CHANNEL_SECRET}), calendar_id
    )
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.sync_state is not None
    assert stored.sync_state.channel is not None
    assert stored.sync_state.channel.id == channel.id
    # when: an event is added at Google, which tells the API process
    fake.put("Pushed", begins.replace(hour=14), begins.replace(hour=15), calendar_id=external)
    fake.wait_delivered()
    # then: it was answered 200, and the event is listed without a poll: one more run,
    # incremental
    told = [d for d in fake.deliveries if d.channel_id == channel.id]
    assert [(d.state, d.number, d.status) for d in told] == [("sync", 1, 200), ("exists", 2, 200)]
    await until(lambda: titles() == ["Before", "Pushed"] or None, "the pushed event", 30)
    runs = await SyncRun.find({"calendarId": calendar_id}).sort("queuedAt").to_list()
    assert [(r.full, r.status) for r in runs] == [(True, "SUCCEEDED"), (False, "SUCCEEDED")]
    metrics = scrape(f"{api}/metrics")
    assert metrics['google_push_notifications_total{outcome="synced"}'] >= 1
    # when: the user disconnects the calendar
    graphql(api, token, DISCONNECT, {"id": data["connectCalendar"]["id"]})
    # then: the worker stops its channel at Google
    await until(lambda: ("stop", channel.id, 204) in fake.channel_calls or None, "the stop", 30)
    assert fake.live_channels(external) == []


async def test_a_forged_notification_reaches_the_api_process_and_starts_nothing(
    api: str, google: tuple[FakeGoogle, str], settings: Settings, app_state: Any
) -> None:
    # given: a calendar of the API's (no worker: nothing runs)
    fake, _ = google
    external = f"forged-{uuid.uuid4().hex[:8]}"
    fake.calendar(external)
    token = mint_dev_token(settings, f"push-{external}")
    connect = {"provider": "GOOGLE", "externalId": external, "oauth": fake.grant()}
    data = graphql(api, token, operation("ConnectCalendar"), {"input": connect})
    calendar_id = ref_of(data["connectCalendar"]["id"], "Calendar")
    before = await SyncRun.find({"calendarId": calendar_id}).count()
    # when: someone posts notifications with a token signed by another secret, and with
    # the calendar's true token for a channel it does not have
    forged = channel_token(settings, calendar_id)  # JWT_SECRET, not GOOGLE_CHANNEL_TOKEN
    true = channel_token(
        settings.model_copy(update={"google_channel_token": CHANNEL_SECRET}), calendar_id
    )
    answers = []
    async with httpx.AsyncClient(timeout=10) as http:
        for channel_token_ in (forged, true):
            headers = {
                "X-Goog-Channel-ID": "guessed",
                "X-Goog-Channel-Token": channel_token_,
                "X-Goog-Resource-ID": "r",
                "X-Goog-Resource-State": "exists",
            }
            answer = await http.post(f"{api}/webhooks/google", headers=headers)
            answers.append(answer.status_code)
    # then: both answered 200, counted, and no sync was asked for
    assert answers == [200, 200]
    assert await SyncRun.find({"calendarId": calendar_id}).count() == before
    metrics = scrape(f"{api}/metrics")
    assert metrics['google_push_notifications_total{outcome="forged_token"}'] >= 1
    assert metrics['google_push_notifications_total{outcome="unknown_channel"}'] >= 1
