"""CPU per request by operation, in process: where the load mix's CPU goes.

    .venv/bin/python -m bench.inprocess [--users 50] [--requests 3000] [--warm 300]
                                        [--only CheckInHabit]

Starts nx-27017 and redis-server and seeds users as bench.cpu does, builds the app
(`create_app`) in this process and drives it through its ASGI interface, one request
at a time, with the load mix's operations and variables (bench.cpu's `mix_request`).
A request's CPU is this process's CPU time around it (no HTTP server, no client, no
other request in between), so each operation's cost is read apart *in the mix*, after
the writes that retire what it would have found cached; bench.cpu's `--per-op` runs
each operation alone, where reads are answered from the cache. The first `--warm`
requests are not counted. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.cpu import Stack, User, find_ids, mix_request, stack_env
from bench.load import operation

Message = dict[str, Any]


class Driver:
    """The app, its lifespan started, called the way an ASGI server calls it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan: asyncio.Future[None] | None = None

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        self._lifespan = asyncio.ensure_future(
            self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        started = await self._lifespan_out.get()
        assert started["type"] == "lifespan.startup.complete", started

    async def stop(self) -> None:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        if self._lifespan is not None:
            await self._lifespan

    async def post(self, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One POST /graphql (gzip accepted, as clients send it); the answer's JSON."""
        body = orjson.dumps({"query": query, "variables": variables})
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"gzip"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        chunks: list[bytes] = []
        compressed = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            nonlocal compressed
            if message["type"] == "http.response.start":
                compressed = (b"content-encoding", b"gzip") in message["headers"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        raw = b"".join(chunks)
        answer: dict[str, Any] = orjson.loads(gzip.decompress(raw) if compressed else raw)
        return answer


def mongo_commands() -> float:
    """The Mongo commands this process has sent (the server's own counter)."""
    from graphql_api.observability.metrics import MONGO_COMMANDS  # noqa: PLC0415

    return sum(
        sample.value
        for metric in MONGO_COMMANDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


@dataclass
class Spent:
    """What the counted requests of one operation cost."""

    cpu_ms: list[float] = field(default_factory=list)
    mongo_commands: float = 0.0


async def run(stack: Stack, args: argparse.Namespace) -> dict[str, Spent]:
    """What each operation's counted requests cost."""
    # Imported once the environment names the stack: the settings are read from it.
    from graphql_api.app import create_app  # noqa: PLC0415
    from graphql_api.security.dev_tokens import mint_dev_token  # noqa: PLC0415
    from graphql_api.settings import Settings  # noqa: PLC0415

    settings = Settings()
    driver = Driver(create_app(settings))
    await driver.start()
    try:
        users = [User(sub, mint_dev_token(settings, sub)) for sub in stack.subs]
        await find_ids(driver.post, users)
        rng = random.Random(7)  # noqa: S311 - a load mix
        plan = [
            (user, *mix_request(user, rng, args.only))
            for user in (users[i % len(users)] for i in range(args.requests))
        ]
        spent: dict[str, Spent] = defaultdict(Spent)
        failed = 0
        for i, (user, op, variables) in enumerate(plan):
            commands = mongo_commands()
            started = time.process_time_ns()
            answer = await driver.post(user.token, operation(op), variables)
            cpu_ms = (time.process_time_ns() - started) / 1e6
            failed += bool(answer.get("errors"))
            if i >= args.warm:
                spent[op].cpu_ms.append(cpu_ms)
                spent[op].mongo_commands += mongo_commands() - commands
        if failed:
            print(f"{failed} answers with errors")
        return spent
    finally:
        await driver.stop()


def report(spent: dict[str, Spent]) -> None:
    total = sum(sum(s.cpu_ms) for s in spent.values())
    count = sum(len(s.cpu_ms) for s in spent.values())
    print(f"the mix: {total / count:.3f} ms of CPU a request over {count} requests\n")
    print(
        "| operation | requests | mean ms | median ms | p90 ms | share of the mix's CPU "
        "| Mongo commands a request |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for op, s in sorted(spent.items(), key=lambda kv: -sum(kv[1].cpu_ms)):
        values = s.cpu_ms
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        print(
            f"| {op} | {len(values)} | {statistics.fmean(values):.3f} | "
            f"{statistics.median(values):.3f} | {p90:.3f} | {100 * sum(values) / total:.1f}% "
            f"| {s.mongo_commands / len(values):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warm", type=int, default=300, help="first requests not counted")
    parser.add_argument("--only", help="one operation of the mix alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as exits:
        stack = Stack(Path(tmp), exits, args.users)
        environment = stack_env(stack, stack.database("inprocess"))
        os.environ.update({**environment, "CACHE_PREFIX": "inprocess:"})
        report(asyncio.run(run(stack, args)))


if __name__ == "__main__":
    main()
