"""Google push channels, in process: the worker's side against the local Google (over
ASGI), notifications posted to the app's /webhooks/google; tests/sync/test_push_processes.py
runs the same with real processes and real deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_api.lifespan import AppState
from graphql_api.relay import ref_of
from graphql_api.settings import Settings
from graphql_api.sync import jobs
from graphql_api.sync.channels import channel_token
from models import Calendar, PushChannel, SyncRun
from models.base import save_changes
from tests.conftest import Client
from tests.fakes.google_calendar import API, FakeGoogle
from tests.fakes.serve import serving
from tests.sync.test_google_sync import (
    berlin,
    connect,
    google_client,
    pointed_at,
    run_pending,
    sync_now,
    titles,
)

# Nothing listens there: the local Google's deliveries fail at once (this file posts
# the notifications itself; the processes test has them delivered).
WEBHOOK = "http://127.0.0.1:9/webhooks/google"

Worker = tuple[AppState, httpx.AsyncClient]
HOUR = (datetime(2026, 3, 24, 9, tzinfo=UTC), datetime(2026, 3, 24, 10, tzinfo=UTC))


@pytest.fixture
def google() -> FakeGoogle:
    fake = FakeGoogle()
    fake.calendar("primary")
    return fake


def pushing(state: AppState, **changes: Any) -> AppState:
    """A worker's state with push channels configured (and any other setting changed)."""
    settings = state.settings.model_copy(update={"google_webhook_url": WEBHOOK, **changes})
    return replace(state, settings=settings)


@pytest.fixture
async def worker(
    app_state: AppState, settings: Settings, google: FakeGoogle
) -> AsyncIterator[Worker]:
    async with google_client(google) as http:
        yield pushing(pointed_at(app_state, settings)), http


async def stored_channel(calendar_id: str) -> PushChannel | None:
    calendar = await Calendar.get(calendar_id)
    assert calendar is not None
    return calendar.sync_state.channel if calendar.sync_state else None


async def queued(calendar_id: str) -> list[SyncRun]:
    return await SyncRun.find({"calendarId": calendar_id, "status": "QUEUED"}).to_list()


def counted(outcome: str) -> float:
    value = REGISTRY.get_sample_value("google_push_notifications_total", {"outcome": outcome})
    return value or 0.0


def failures(request: str, kind: str) -> float:
    labels = {"request": request, "kind": kind}
    return REGISTRY.get_sample_value("google_push_channel_failures_total", labels) or 0.0


async def notify(
    http: httpx.AsyncClient,
    *,
    token: str,
    channel_id: str,
    resource_id: str,
    state: str = "exists",
) -> httpx.Response:
    """A notification as Google sends it: headers only."""
    headers = {
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Channel-Token": token,
        "X-Goog-Resource-ID": resource_id,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": "2",
    }
    return await http.post("/webhooks/google", headers=headers)


async def connected(
    alice: Client, google: FakeGoogle, worker: Worker
) -> tuple[dict[str, Any], str]:
    """A Google calendar of alice's, connected and through its first sync; it (as the
    API gives it) and its id."""
    calendar = await connect(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    run = await run_pending(worker, calendar_id)
    assert run.status == "SUCCEEDED", run.error
    return calendar, calendar_id


async def test_the_first_sync_of_a_connected_calendar_makes_a_channel_with_our_token(
    alice: Client, google: FakeGoogle, worker: Worker, settings: Settings
) -> None:
    # when
    calendar, calendar_id = await connected(alice, google, worker)
    # then: one live channel at Google, to our webhook, with the calendar's token
    (made,) = google.live_channels()
    assert made.address == WEBHOOK
    assert made.token == channel_token(settings, calendar_id)
    assert google.channel_calls == [("watch", made.id, 200)]
    # and the calendar knows it, with Google's resource id and expiry (a week by default)
    channel = await stored_channel(calendar_id)
    assert channel is not None
    assert (channel.id, channel.resource_id) == (made.id, made.resource_id)
    days = (channel.expiration - datetime.now(UTC)).total_seconds() / 86400
    assert 6.9 < days <= 7
    # and another sync keeps it (no new watch)
    await sync_now(alice, worker, calendar)
    assert google.channel_calls == [("watch", made.id, 200)]


async def test_a_notification_on_the_channel_syncs_the_change_and_nothing_else_does(
    alice: Client, google: FakeGoogle, worker: Worker, settings: Settings, http: httpx.AsyncClient
) -> None:
    # given
    _, calendar_id = await connected(alice, google, worker)
    channel = await stored_channel(calendar_id)
    assert channel is not None
    token = channel_token(settings, calendar_id)
    ours = {"token": token, "channel_id": channel.id, "resource_id": channel.resource_id}
    before = {o: counted(o) for o in ("forged_token", "unknown_channel", "handshake", "synced")}
    # when: forged, unknown and mismatched notifications, and a handshake
    strangers = [
        {**ours, "token": "forged.token"},
        {**ours, "token": channel_token(settings.model_copy(update={"jwt_secret": "x"}), "a")},
        {**ours, "channel_id": "not-ours"},
        {**ours, "resource_id": "another-resource"},
    ]
    for headers in strangers:
        assert (await notify(http, **headers)).status_code == 200
    assert (await notify(http, **ours, state="sync")).status_code == 200
    # then: each answered 200 (Google would retry anything else), counted, nothing queued
    assert await queued(calendar_id) == []
    assert counted("forged_token") - before["forged_token"] == 2
    assert counted("unknown_channel") - before["unknown_channel"] == 2
    assert counted("handshake") - before["handshake"] == 1
    # when: an event changes at Google and the channel says so, five times over
    google.put("Pushed", berlin(24, 15), berlin(24, 16), zone="Europe/Berlin")
    for _ in range(5):
        assert (await notify(http, **ours)).status_code == 200
    # then: one incremental sync, which brings the event
    runs = await queued(calendar_id)
    assert [run.full for run in runs] == [False]
    assert counted("synced") - before["synced"] == 1
    run = await run_pending(worker, calendar_id)
    assert (run.status, run.created) == ("SUCCEEDED", 1)
    assert ("Pushed", "2026-03-24T14:00:00Z") in await titles(alice)


async def test_a_channel_is_renewed_before_it_expires_with_no_gap(
    alice: Client, google: FakeGoogle, worker: Worker, settings: Settings, http: httpx.AsyncClient
) -> None:
    # given: a channel made for an hour
    state, google_http = worker
    hourly = pushing(state, google_channel_ttl_s=3600, google_channel_renew_margin_s=0)
    _, calendar_id = await connected(alice, google, (hourly, google_http))
    old = await stored_channel(calendar_id)
    assert old is not None
    # when: the periodic job runs with a renew margin of two hours
    due = pushing(state, google_channel_ttl_s=3600, google_channel_renew_margin_s=7200)
    await jobs.renew_channels(cast("jobs.JobContext", {"state": due, "http": google_http}))
    # then: the new channel was made before the old one was stopped
    new = await stored_channel(calendar_id)
    assert new is not None
    assert new.id != old.id
    assert new.expiration > old.expiration
    assert google.channel_calls == [
        ("watch", old.id, 200),
        ("watch", new.id, 200),
        ("stop", old.id, 204),
    ]
    assert [c.id for c in google.live_channels()] == [new.id]
    # and the old one's notifications are ignored, the new one's heard
    token = channel_token(settings, calendar_id)
    await notify(http, token=token, channel_id=old.id, resource_id=old.resource_id)
    assert await queued(calendar_id) == []
    await notify(http, token=token, channel_id=new.id, resource_id=new.resource_id)
    assert len(await queued(calendar_id)) == 1
    # and a channel further from its expiry than the margin is left alone
    await jobs.renew_channels(cast("jobs.JobContext", {"state": hourly, "http": google_http}))
    assert len(google.channel_calls) == 3


async def test_an_expired_channel_google_will_not_renew_is_forgotten(
    alice: Client, google: FakeGoogle, worker: Worker
) -> None:
    # given: a channel that expired (no worker renewed it in time)
    state, google_http = worker
    _, calendar_id = await connected(alice, google, worker)
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.sync_state is not None
    assert stored.sync_state.channel is not None
    expired = stored.sync_state.channel.model_copy(update={"expiration": datetime.now(UTC)})
    sync_state = stored.sync_state.model_copy(update={"channel": expired})
    await save_changes(stored, {"userId": stored.user_id}, sync_state=sync_state)
    # when: the renewal job meets a Google that refuses the watch
    google.refuse_watch()
    await jobs.renew_channels(cast("jobs.JobContext", {"state": state, "http": google_http}))
    # then: the channel is forgotten, so the job asks no more (the next sync will)
    assert await stored_channel(calendar_id) is None

    # (the job also renews other tests' calendars: their credentials are unknown here, 401)
    def ours() -> list[tuple[str, str, int]]:
        return [c for c in google.channel_calls if c[2] != 401]

    calls = ours()
    await jobs.renew_channels(cast("jobs.JobContext", {"state": state, "http": google_http}))
    assert ours() == calls


async def test_revoked_credentials_stop_listening_to_the_channel(
    alice: Client, google: FakeGoogle, worker: Worker, settings: Settings, http: httpx.AsyncClient
) -> None:
    # given
    grant = google.grant()
    r = await alice.op("ConnectCalendar", {"input": {"provider": "GOOGLE", "oauth": grant}})
    calendar = r.data["connectCalendar"]
    calendar_id = ref_of(calendar["id"], "Calendar")
    await run_pending(worker, calendar_id)
    channel = await stored_channel(calendar_id)
    assert channel is not None
    # when: the user revokes our access, and the next sync meets invalid_grant
    google.revoke(grant)
    run = await sync_now(alice, worker, calendar)
    # then: the sync failed for good, the channel is forgotten and a stop was tried
    # (Google needs valid credentials to stop a channel: refused, it runs out on its own)
    assert run.status == "FAILED"
    assert await stored_channel(calendar_id) is None
    assert google.channel_calls[-1] == ("stop", channel.id, 401)
    # and its notifications start nothing
    token = channel_token(settings, calendar_id)
    await notify(http, token=token, channel_id=channel.id, resource_id=channel.resource_id)
    assert await queued(calendar_id) == []


@pytest.mark.parametrize(
    ("status", "reason", "times"),
    [(403, "pushNotSupportedForRequestedResource", 1), (503, "backendError", 3)],
)
async def test_a_calendar_google_will_not_watch_is_polled(
    alice: Client, google: FakeGoogle, worker: Worker, status: int, reason: str, times: int
) -> None:
    # given: Google refuses the watch (every attempt of it)
    for _ in range(times):
        google.refuse_watch(status, reason)
    kind = "refused" if status == 403 else "error"
    before = failures("watch", kind)
    google.put("Polled", berlin(24, 11), berlin(24, 12), zone="Europe/Berlin")
    # when
    calendar, calendar_id = await connected(alice, google, worker)
    # then: no channel, counted; the sync went on and the next poll is set
    assert await stored_channel(calendar_id) is None
    assert failures("watch", kind) - before == 1
    assert ("Polled", "2026-03-24T10:00:00Z") in await titles(alice)
    stored = await Calendar.get(calendar_id)
    assert stored is not None
    assert stored.next_sync_at is not None
    # and once Google accepts again, the next sync makes the channel
    await sync_now(alice, worker, calendar)
    assert await stored_channel(calendar_id) is not None


async def test_no_channel_without_a_webhook_url_and_one_at_the_next_sync_with_it(
    alice: Client, google: FakeGoogle, worker: Worker, app_state: AppState, settings: Settings
) -> None:
    # given: a calendar connected while no GOOGLE_WEBHOOK_URL was set
    _, google_http = worker
    polling_only = (pointed_at(app_state, settings), google_http)
    calendar = await connect(alice, google)
    calendar_id = ref_of(calendar["id"], "Calendar")
    await run_pending(polling_only, calendar_id)
    assert google.channel_calls == []
    assert await stored_channel(calendar_id) is None
    # when: the next sync, with it set
    await sync_now(alice, worker, calendar)
    # then
    assert await stored_channel(calendar_id) is not None
    assert [call[0] for call in google.channel_calls] == ["watch"]


def test_production_wants_an_https_webhook_and_a_channel_secret() -> None:
    # given
    production = {
        "env": "production",
        "jwt_public_key": "-----BEGIN PUBLIC KEY-----...",
        "mongodb_uri": "mongodb://db",
        "redis_url": "redis://cache",
        "credentials_key": Fernet.generate_key().decode(),
    }
    # when / then
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({**production, "google_webhook_url": "http://api.example.com/w"})
    assert "GOOGLE_WEBHOOK_URL must be https" in str(refused.value)
    assert "GOOGLE_CHANNEL_TOKEN" in str(refused.value)
    with pytest.raises(ValidationError, match="GOOGLE_WEBHOOK_URL"):
        Settings(google_webhook_url="ftp://api.example.com/webhooks/google")
    accepted = Settings.model_validate(
        {
            **production,
            "google_webhook_url": "https://api.example.com/webhooks/google",
            "google_channel_token": "a-long-random-secret",
        }
    )
    assert accepted.google_channel_ttl_s == 7 * 24 * 3600


async def test_the_local_googles_channels_follow_googles_documented_semantics() -> None:
    # given: a receiver of notifications, and the local Google
    heard: list[dict[str, str]] = []

    async def receive(request: Request) -> Response:
        heard.append(dict(request.headers) | {"body": (await request.body()).decode()})
        return Response(status_code=200)

    fake = FakeGoogle(https_only=False)
    fake.calendar("work")
    grant = fake.grant()
    auth = {"Authorization": f"Bearer {grant['accessToken']}"}
    watch = f"{API}/calendars/work/events/watch"
    with serving(Starlette(routes=[Route("/hook", receive, methods=["POST"])])) as url:
        async with google_client(fake) as google_http:
            body = {"id": "ch-1", "type": "web_hook", "address": f"{url}/hook", "token": "t"}
            # when: a channel is made for an hour
            made = await google_http.post(
                watch, json={**body, "params": {"ttl": "3600"}}, headers=auth
            )
            again = await google_http.post(watch, json=body, headers=auth)
            anonymous = await google_http.post(watch, json={**body, "id": "ch-2"})
            fake.put("Changed", *HOUR, calendar_id="work")
            fake.wait_delivered()
            stop = {"id": "ch-1", "resourceId": made.json()["resourceId"]}
            wrong = await google_http.post(
                f"{API}/channels/stop", json={**stop, "resourceId": "x"}, headers=auth
            )
            stopped = await google_http.post(f"{API}/channels/stop", json=stop, headers=auth)
            twice = await google_http.post(f"{API}/channels/stop", json=stop, headers=auth)
            fake.put("Unheard", *HOUR, calendar_id="work")
            fake.wait_delivered()
    # then: the watch answers the channel, its resource and expiry (ms since the epoch)
    channel = made.json()
    assert made.status_code == 200
    assert (channel["kind"], channel["id"], channel["token"]) == ("api#channel", "ch-1", "t")
    assert channel["resourceUri"].endswith("/calendars/work/events?alt=json")
    expires_in = int(channel["expiration"]) / 1000 - datetime.now(UTC).timestamp()
    assert 3500 < expires_in <= 3600
    # and an id in use is 400, no credentials 401
    assert (again.status_code, again.json()["error"]["errors"][0]["reason"]) == (
        400,
        "channelIdNotUnique",
    )
    assert anonymous.status_code == 401
    # and the receiver heard `sync` first, then `exists`, headers only, numbered
    assert [(h["x-goog-resource-state"], h["x-goog-message-number"]) for h in heard] == [
        ("sync", "1"),
        ("exists", "2"),
    ]
    for h in heard:
        assert h["x-goog-channel-id"] == "ch-1"
        assert h["x-goog-channel-token"] == "t"
        assert h["x-goog-resource-id"] == channel["resourceId"]
        assert h["x-goog-channel-expiration"].endswith("GMT")
        assert h["body"] == ""
    # and a stop needs the channel's resource id, is 204, and a stopped channel is 404
    assert (wrong.status_code, stopped.status_code, twice.status_code) == (404, 204, 404)
    assert len(heard) == 2  # nothing after the stop
