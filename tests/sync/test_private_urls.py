"""Calendar URLs are fetched by our workers: in production, never inside our own network,
and a feed's password never follows a redirect to another origin."""

from __future__ import annotations

import httpx
import pytest

from graphql_api.embedded import free_port
from graphql_api.security.urls import private_address
from graphql_api.settings import Settings
from graphql_api.state import AppState
from graphql_api.sync.providers import ics
from graphql_api.sync.providers.base import ProviderRefused
from graphql_api.sync.providers.ics import IcsFeed
from models import Calendar
from tests.conftest import Client
from tests.sync.conftest import Feed, NewUser, run_sync, shown, synced_calendar, vcalendar
from tests.sync.test_ics import LUNCH

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5232/cal/",
        "http://localhost/feed.ics",
        "http://10.1.2.3/feed.ics",
        "http://192.168.0.10/feed.ics",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/feed.ics",
        "http://100.64.0.1/feed.ics",  # carrier-grade NAT
        "http:///feed.ics",
    ],
)
async def test_private_and_loopback_addresses_are_named(url: str) -> None:
    assert await private_address(url)


async def test_a_public_address_passes() -> None:
    assert await private_address("https://8.8.8.8/calendar.ics") is None


@pytest.fixture
def production_urls(
    app_state: AppState, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The running app's settings, refusing private calendar URLs as production does."""
    refusing = settings.model_copy(update={"private_calendar_urls": False})
    monkeypatch.setattr(app_state, "settings", refusing)
    return refusing


@pytest.mark.parametrize("provider", ["ICS", "CALDAV"])
async def test_connecting_a_private_url_is_refused_and_nothing_is_written(
    alice: Client, production_urls: Settings, provider: str
) -> None:
    # given
    before = (await alice.op("Calendars")).data["calendars"]
    connect = {
        "provider": provider,
        "url": "http://169.254.169.254/latest/meta-data/",
        "username": "ann",
        "password": "secret",
    }
    # when
    r = await alice.op("ConnectCalendar", {"input": connect})
    # then
    assert r.codes == ["BAD_USER_INPUT"]
    assert r.errors[0]["extensions"]["field"] == "url"
    assert "169.254.169.254" in r.errors[0]["message"]
    assert (await alice.op("Calendars")).data["calendars"] == before


async def test_a_stored_private_url_is_not_fetched(
    production_urls: Settings, new_user: NewUser, web: httpx.AsyncClient, feed: Feed
) -> None:
    # given: a calendar connected before the policy (or whose name now resolves inside)
    feed.publish(vcalendar(LUNCH))
    calendar = await synced_calendar(production_urls, new_user().sub, "ICS", feed.url)
    # when / then
    with pytest.raises(ProviderRefused, match="not reachable from here"):
        await IcsFeed(production_urls, web).listing(calendar, full=True)
    assert feed.requests == []


async def test_a_redirect_into_a_private_network_is_not_followed(
    app_state: AppState,
    settings: Settings,
    new_user: NewUser,
    web: httpx.AsyncClient,
    feed: Feed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the feed's own host passes, the host it redirects to is private
    feed.publish(vcalendar(LUNCH))
    inside = f"http://localhost:{free_port()}/internal"
    feed.moved_to = inside

    async def refused(_: Settings, url: str) -> str | None:
        return "private" if url == inside else None

    monkeypatch.setattr(ics, "refused_url", refused)
    user = new_user()
    calendar = await synced_calendar(
        settings, user.sub, "ICS", feed.url.replace("calendar", "moved")
    )
    # when / then
    with pytest.raises(ProviderRefused, match="not reachable from here: private"):
        await run_sync(app_state, calendar, IcsFeed(settings, web), full=True)
    assert await shown(user) == []


async def test_a_moved_feed_is_followed_with_its_password_on_the_same_origin_only(
    app_state: AppState, settings: Settings, new_user: NewUser, web: httpx.AsyncClient, feed: Feed
) -> None:
    # given: a feed behind Basic auth, subscribed at its old address
    feed.publish(vcalendar(LUNCH))
    feed.credentials = ("ann", "secret")
    user = new_user()
    calendar = await synced_calendar(
        settings,
        user.sub,
        "ICS",
        feed.url.replace("calendar", "moved"),
        username="ann",
        password="secret",
    )
    provider = IcsFeed(settings, web)
    # when: it redirects to itself
    await run_sync(app_state, calendar, provider, full=True)
    # then: followed, the password sent to both hops
    assert [title for title, *_ in await shown(user)] == ["Lunch"]
    assert all("authorization" in r for r in feed.requests)
    # when: it redirects to the same server under another origin
    feed.moved_to = feed.url.replace("127.0.0.1", "localhost")
    feed.requests.clear()
    stored = await Calendar.get(calendar.id)
    assert stored is not None
    with pytest.raises(ProviderRefused, match="401"):
        await run_sync(app_state, stored, provider, full=True)
    # then: the password stayed with the origin it was given for
    assert [r[":path"] for r in feed.requests] == ["/moved.ics", "/calendar.ics"]
    assert "authorization" in feed.requests[0]
    assert "authorization" not in feed.requests[1]
