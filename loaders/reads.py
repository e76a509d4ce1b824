"""A request's reads of Mongo, those asked for together sent as one command.

A Dashboard read from Mongo asks for the user's goals, habits and calendars in one turn
of the event loop, then for their check-ins, progress and the week's events in
another: seven finds, each a round trip that costs the API some 300 µs of CPU in
pymongo (server selection, session, retry wrapper, pool, cursor, listeners) whatever
it reads, and the database a command of its own. `Reads` collects the queries a
request makes within two turns of the event loop (those started by the callbacks of
the next turn join too) and sends them as one `aggregate`: the first query's `$match`,
and each other query's as a `$unionWith` of its collection whose rows carry the
query's index (`$addFields`), by which they are handed back. The queries are the same
filters, on the same indexes, for the same documents as their finds (`$unionWith` is
MongoDB 4.4's; a server that refuses it gets the finds, one each).

Only queries of compatible collections go together (the same client and database, codec
options, read preference and read concern), and only a request's own: a slow read of
one request never holds up another's, nor does one's failure fail another's. One query
alone is the plain find it always was.

Callers offer only reads whose filters name the user and references (strings): the
user's lists, a goal's or habit's records. Reads by `_id` (ObjectIds) and by time
ranges (datetimes) stay finds of their own: the embedded Mongo-wire server (nx-27017)
matches neither right in a pipeline's `$match` (an ObjectId matches nothing there, and
a datetime range nothing or everything), and MongoDB answers them alike either way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

# One round trip per query: without it pymongo pages results 101 at a time, and the
# number of commands would grow with the data.
BATCH_SIZE = 100_000

# The field that says which query of a batch a row answers (the first query's rows have
# none: theirs is the aggregate's own collection).
QUERY = "__query"

_SENDING: set[asyncio.Task[None]] = set()


async def find(collection: AsyncCollection[Any], query: dict[str, Any]) -> list[Any]:
    """The documents matching `query`, whole and as stored, in one round trip."""
    rows: list[Any] = await collection.find(query, batch_size=BATCH_SIZE).to_list()
    return rows


class _Batch:
    """Queries on compatible collections, each with the future of its rows."""

    def __init__(self, collection: AsyncCollection[Any]) -> None:
        self.collection = collection
        self.queries: list[tuple[AsyncCollection[Any], dict[str, Any], asyncio.Future[Any]]] = []

    def takes(self, collection: AsyncCollection[Any]) -> bool:
        mine, theirs = self.collection, collection
        return (
            mine.database.client is theirs.database.client
            and mine.database.name == theirs.database.name
            and mine.codec_options == theirs.codec_options
            and mine.read_preference == theirs.read_preference
            and mine.read_concern == theirs.read_concern
        )

    async def send(self) -> None:
        waiting = [(c, q, f) for c, q, f in self.queries if not f.done()]  # not cancelled
        if not waiting:
            return
        try:
            found = await _together([(c, q) for c, q, _ in waiting])
        except OperationFailure as e:
            if len(waiting) == 1:  # its own find, refused: not sent again
                _settle(waiting[0][2], e)
                return
            # No $unionWith (before 4.4), or a query it refuses: a find each, so that
            # only a refused query fails.
            answers = await asyncio.gather(
                *(find(c, q) for c, q, _ in waiting), return_exceptions=True
            )
            for (_, _, future), answer in zip(waiting, answers, strict=True):
                _settle(future, answer)
            return
        except asyncio.CancelledError:  # the loop is closing: so are its readers
            for _, _, future in waiting:
                future.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - each reader gets the error its find would
            for _, _, future in waiting:
                _settle(future, e)
            return
        for (_, _, future), rows in zip(waiting, found, strict=True):
            _settle(future, rows)


def _settle(future: asyncio.Future[Any], answer: object) -> None:
    if future.done():
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


async def _together(queries: list[tuple[AsyncCollection[Any], dict[str, Any]]]) -> list[list[Any]]:
    """Each query's rows, read in one command (one query: its find)."""
    first, query = queries[0]
    if len(queries) == 1:
        return [await find(first, query)]
    pipeline: list[dict[str, Any]] = [{"$match": query}]
    for i, (collection, other) in enumerate(queries[1:], start=1):
        union = [{"$match": other}, {"$addFields": {QUERY: i}}]
        pipeline.append({"$unionWith": {"coll": collection.name, "pipeline": union}})
    cursor = await first.aggregate(pipeline, batchSize=BATCH_SIZE)
    found: list[list[Any]] = [[] for _ in queries]
    for row in await cursor.to_list():
        found[row.pop(QUERY, 0)].append(row)
    return found


class Reads:
    """A request's Mongo reads: `rows` of the queries asked for within two turns of the
    event loop, on compatible collections, come back from one command."""

    def __init__(self) -> None:
        self._open: list[_Batch] = []

    async def rows(self, collection: AsyncCollection[Any], query: dict[str, Any]) -> list[Any]:
        """The documents matching `query`, whole and as stored."""
        loop = asyncio.get_running_loop()
        batch = next((b for b in self._open if b.takes(collection)), None)
        if batch is None:
            batch = _Batch(collection)
            self._open.append(batch)
            loop.call_soon(loop.call_soon, self._send, batch)
        future: asyncio.Future[list[Any]] = loop.create_future()
        batch.queries.append((collection, query, future))
        return await future

    def _send(self, batch: _Batch) -> None:
        self._open.remove(batch)
        task = asyncio.ensure_future(batch.send())
        _SENDING.add(task)
        task.add_done_callback(_SENDING.discard)
