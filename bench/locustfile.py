"""The load scenario for locust, run headless by bench/load.py (not on its own).

    LOAD_CONFIG=<config.json> locust -f bench/locustfile.py --headless --host <url>

The config (written by bench/load.py) holds the stages, the mode (`mix` or
`reference`), the operation weights, the operations' text and one entry per seeded
user: sub, bearer token, habit and calendar IDs. Each virtual user takes the next
seeded user, picks one operation per iteration by weight and then sleeps 1 s, as
the k6 script does. A response that is not HTTP 200, or whose JSON carries
`errors`, is a failure. Every request is written to the record file (CSV: start
time, users running, operation, milliseconds, status, error) for bench/load.py to
read; a request still unanswered when its user is stopped is recorded as abandoned.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from datetime import UTC, datetime, time, timedelta
from time import perf_counter
from typing import IO, Any
from zoneinfo import ZoneInfo

from locust import FastHttpUser, LoadTestShape, constant, events, task
from locust.env import Environment

CONFIG: dict[str, Any] = json.loads(
    open(os.environ["LOAD_CONFIG"]).read()  # noqa: SIM115 - read once at import
)
USERS: list[dict[str, Any]] = CONFIG["users"]
OPERATIONS: dict[str, str] = CONFIG["operations"]
WEIGHTS: dict[str, int] = CONFIG["weights"]
STAGES: list[tuple[float, int]] = [(float(s), int(u)) for s, u in CONFIG["stages"]]
REFERENCE = CONFIG["mode"] == "reference"
_next_user = itertools.count()
_environment: Environment | None = None
_record: IO[str] | None = None


def _open_record(environment: Environment, **_: Any) -> None:
    global _environment, _record  # noqa: PLW0603 - locust's hooks are module-level
    _environment = environment
    _record = open(CONFIG["record"], "w", buffering=1 << 16)  # noqa: SIM115


def _started(**_: Any) -> None:
    if _record is not None:
        _record.write(f"#started,{datetime.now(UTC).timestamp():.3f}\n")


ANSWERED, FAILED, ABANDONED = 1, 0, 2  # the record's status column


def _write(started: float, name: str, ms: float, status: int, error: str = "") -> None:
    if _record is None or _record.closed or _environment is None or _environment.runner is None:
        return
    error = error.replace("\n", " ").replace(",", ";")[:200]
    users = _environment.runner.user_count
    _record.write(f"{started:.3f},{users},{name},{ms:.2f},{status},{error}\n")


def _on_request(
    name: str,
    response_time: float,
    exception: BaseException | None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    started = start_time if start_time is not None else datetime.now(UTC).timestamp()
    if exception is None:
        _write(started, name, response_time, ANSWERED)
    else:
        _write(started, name, response_time, FAILED, str(exception))


def _close_record(**_: Any) -> None:
    if _record is not None:
        _record.close()


# EventHook.add_listener has no annotations.
events.init.add_listener(_open_record)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_started)  # type: ignore[no-untyped-call]
events.request.add_listener(_on_request)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_close_record)  # type: ignore[no-untyped-call]


class Stages(LoadTestShape):
    """The k6 stages: each ramps linearly from the previous target to its own."""

    def tick(self) -> tuple[int, float] | None:
        now: float = perf_counter() - self.start_time
        begins, users_before = 0.0, 0
        for seconds, target in STAGES:
            if now < begins + seconds:
                share = (now - begins) / seconds
                return round(users_before + (target - users_before) * share), 100.0
            begins, users_before = begins + seconds, target
        return None


def this_week() -> dict[str, str]:
    today = datetime.now(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(), UTC)
    return {"start": monday.isoformat(), "end": (monday + timedelta(days=7)).isoformat()}


class Client(FastHttpUser):
    wait_time = constant(1)

    def on_start(self) -> None:
        self.me = USERS[next(_next_user) % len(USERS)]
        self.headers = {
            "Authorization": f"Bearer {self.me['token']}",
            "Content-Type": "application/json",
        }
        self.zone = ZoneInfo(self.me["timezone"])
        self.ops = list(WEIGHTS)
        self.weights = [WEIGHTS[op] for op in self.ops]
        self.created = 0
        self.in_flight: tuple[str, float] | None = None

    def on_stop(self) -> None:
        """A request still waiting for its answer when the shape stops the user: recorded
        as abandoned (locust records nothing for it)."""
        if self.in_flight is not None:
            name, started = self.in_flight
            waited = (datetime.now(UTC).timestamp() - started) * 1000
            _write(started, name, waited, ABANDONED, "no answer when the user was stopped")
            self.in_flight = None

    def graphql(self, name: str, query: str, variables: dict[str, Any] | None = None) -> None:
        body = json.dumps({"query": query, "variables": variables or {}})
        self.in_flight = (name, datetime.now(UTC).timestamp())
        with self.client.post(
            "/graphql", data=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            try:
                answer = json.loads(response.text or "")
            except ValueError:
                response.failure("not JSON")
                return
            if answer.get("errors"):
                first = answer["errors"][0]
                code = (first.get("extensions") or {}).get("code", "")
                response.failure(f"{code} {first.get('message', '')}".strip())
            elif answer.get("data") is None:
                response.failure("no data")
        self.in_flight = None

    @task
    def iteration(self) -> None:
        if REFERENCE:
            self.graphql("{ __typename }", "{ __typename }")
            return
        op = random.choices(self.ops, self.weights)[0]  # noqa: S311 - a load mix
        self.graphql(op, OPERATIONS[op], self.variables(op))

    def variables(self, op: str) -> dict[str, Any] | None:  # noqa: PLR0911 - one per operation
        rng = random.Random()  # noqa: S311 - a load mix
        if op == "Dashboard":
            return {"range": this_week()}
        if op == "Events":
            start = datetime.combine(
                datetime.now(UTC).date() - timedelta(days=rng.randint(0, 14)), time(), UTC
            )
            return {
                "range": {
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=14)).isoformat(),
                }
            }
        if op == "CheckInHabit":
            day = datetime.now(self.zone).date() - timedelta(days=rng.randint(1, 7))
            status = "DONE" if rng.random() < 0.8 else "SKIPPED"
            habit = rng.choice(self.me["habits"])
            return {"habitId": habit, "date": day.isoformat(), "status": status}
        if op == "CreateGoal":
            self.created += 1
            target = datetime.now(self.zone).date() + timedelta(days=rng.randint(7, 180))
            return {
                "input": {
                    "title": f"Load goal {self.created}",
                    "priority": rng.choice(["P1", "P2", "P3", "P4"]),
                    "targetDate": target.isoformat(),
                }
            }
        if op == "CreateEvent":
            day = datetime.now(self.zone).date() + timedelta(days=rng.randint(0, 6))
            begins = datetime.combine(day, time(8), self.zone) + timedelta(
                minutes=15 * rng.randint(0, 40)
            )
            return {
                "input": {
                    "calendarId": self.me["local_calendar"],
                    "title": "Load event",
                    "start": begins.isoformat(),
                    "end": (begins + timedelta(minutes=rng.choice([30, 45, 60]))).isoformat(),
                }
            }
        if op == "SyncCalendar":
            return {"calendarId": self.me["feed_calendar"]}
        return None
