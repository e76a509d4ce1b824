"""The Dashboard's events, each with its calendar."""

from __future__ import annotations

from tests.conftest import Client
from tests.helpers import connect_local, create_event, set_timezone

# ---------------------------------------------------------------- Dashboard


async def test_dashboard_lists_events_with_their_calendars(alice: Client) -> None:
    # given
    await set_timezone(alice, "Europe/Berlin")
    work = await connect_local(alice, name="Work")
    home = await connect_local(alice, name="Home")
    later = await create_event(
        alice, work["id"], "2026-03-24T15:00:00+01:00", "2026-03-24T16:00:00+01:00", title="1:1"
    )
    earlier = await create_event(
        alice,
        home["id"],
        "2026-03-24T07:00:00+01:00",
        "2026-03-24T07:30:00+01:00",
        title="Run",
        busy=False,
    )
    # when
    r = await alice.op(
        "Dashboard",
        {"range": {"start": "2026-03-24T00:00:00+01:00", "end": "2026-03-25T00:00:00+01:00"}},
    )
    # then
    data = r.data
    assert data["me"]["timezone"] == "Europe/Berlin"
    assert data["goals"]["totalCount"] == 0
    events = data["events"]
    assert events["totalCount"] == 2
    assert [e["node"] for e in events["edges"]] == [
        {
            "id": earlier["id"],
            "title": "Run",
            "start": "2026-03-24T06:00:00Z",
            "end": "2026-03-24T06:30:00Z",
            "allDay": False,
            "busy": False,
            "calendar": {"id": home["id"], "name": "Home", "provider": "LOCAL"},
        },
        {
            "id": later["id"],
            "title": "1:1",
            "start": "2026-03-24T14:00:00Z",
            "end": "2026-03-24T15:00:00Z",
            "allDay": False,
            "busy": True,
            "calendar": {"id": work["id"], "name": "Work", "provider": "LOCAL"},
        },
    ]
