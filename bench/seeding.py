"""Seeds the benches' users with a checkout's own code: graphql_api.seed for each user,
then an ICS calendar on the feed, not yet synced (SyncCalendar syncs it).

    .venv/bin/python -P bench/seeding.py MONGO_URI REDIS_URL DATABASE DAYS FEED SUB...

Run as a script, with `-P` and PYTHONPATH naming the tree whose code seeds: each version
a bench measures stores its data the way its own code does (check-ins a document each
before 2026-12-06, a document per habit and year since), so the script imports nothing
from `bench` (that too would be the tree's) and only what every version has. A process
of its own, too, because Beanie is bound to one client per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from datetime import UTC, datetime, timedelta

ZONE = "Europe/Berlin"  # the seeded users'


async def seed_users(
    mongo_uri: str, redis_url: str, database: str, days: int, feed: str, *, subs: list[str]
) -> None:
    from graphql_api.lifespan import close_state, open_state  # noqa: PLC0415 - the tree's
    from graphql_api.seed import seed  # noqa: PLC0415
    from graphql_api.settings import Settings  # noqa: PLC0415
    from models import Calendar  # noqa: PLC0415
    from models.calendar import Source  # noqa: PLC0415

    settings = Settings(mongodb_uri=mongo_uri, redis_url=redis_url, mongodb_db=database)
    for sub in subs:
        await seed(settings, sub, days, seed_value=int(sub.rsplit("-", 1)[1]))
    state = await open_state(settings)
    try:
        later = datetime.now(UTC) + timedelta(days=1)  # out of the worker's periodic sweep
        feeds = [
            Calendar(
                user_id=sub,
                name="Feed",
                provider="ICS",
                timezone=ZONE,
                source=Source(url=f"{feed}/{sub}.ics"),
                next_sync_at=later,
            )
            for sub in subs
        ]
        await Calendar.insert_many(feeds)
    finally:
        await close_state(state)


def main() -> None:
    mongo_uri, redis_url, database, days, feed, *subs = sys.argv[1:]
    with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bars, twice per user
        asyncio.run(seed_users(mongo_uri, redis_url, database, int(days), feed, subs=subs))


if __name__ == "__main__":
    main()
