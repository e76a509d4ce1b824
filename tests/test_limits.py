"""Every limit on one request, exceeded: a clear error with its code, and nothing runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from redis.asyncio import Redis
from starlette.applications import Starlette
from strawberry.http.async_base_view import AsyncBaseHTTPView

from graphql_api.app import create_app
from graphql_api.embedded import free_port
from graphql_api.list_sizes import LIST_SIZES
from graphql_api.schema import schema
from graphql_api.security.limits import operation_cost
from graphql_api.security.ratelimit import RateLimiter
from graphql_api.settings import Settings
from graphql_api.state import AppState
from tests.cache.redis_servers import SilentServer
from tests.conftest import OPERATIONS, Client
from tests.test_dataloaders import mongo_commands


def nested(depth: int) -> str:
    """A query `depth` levels deep, through a habit's check-ins of one day and each
    check-in's habit: deep, but cheap (every list holds one item)."""
    levels = ['checkIns(from: "2026-01-01", to: "2026-01-01")', "habit"] * depth
    inner = "date" if (depth - 3) % 2 else "id"
    for field in reversed(levels[: depth - 3]):
        inner = f"{field} {{ {inner} }}"
    return f"{{ habits(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


@pytest.fixture
async def variant(settings: Settings, app_state: AppState) -> AsyncIterator[Any]:
    """An app with other settings, on the suite's connections (no second lifespan)."""
    clients: list[httpx.AsyncClient] = []

    def make(**changes: Any) -> httpx.AsyncClient:
        app: Starlette = create_app(settings.model_copy(update=changes))
        app.state.app = app_state
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def post(http: httpx.AsyncClient, token: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post("/graphql", json=body, headers=headers)


def codes(r: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in r.json().get("errors", [])]


async def test_depth_of_twelve_runs_and_thirteen_is_refused(alice: Client) -> None:
    ok = await alice.execute(nested(12))
    refused = await alice.execute(nested(13))
    assert ok.errors == []
    assert set(refused.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "depth of 12" in refused.errors[0]["message"]


async def test_fifteen_aliases_run_and_sixteen_are_refused(alice: Client) -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(n)) + " }"

    assert (await alice.execute(aliased(15))).errors == []
    refused = await alice.execute(aliased(16))
    assert refused.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "aliases" in refused.errors[0]["message"]


async def test_more_than_two_thousand_tokens_are_not_even_parsed(alice: Client) -> None:
    query = "{ me { " + " ".join(["id"] * 2100) + " } }"
    refused = await alice.execute(query)
    assert refused.codes == ["GRAPHQL_PARSE_FAILED"]
    assert "2000 tokens" in refused.errors[0]["message"]


async def test_more_than_fifty_directives_are_refused(alice: Client) -> None:
    def spread(n: int) -> str:
        return "{ me { " + " ".join(["... @include(if: true) { id }"] * n) + " } }"

    assert (await alice.execute(spread(50))).errors == []
    refused = await alice.execute(spread(51))
    assert refused.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "50 directives" in refused.errors[0]["message"]


async def test_a_costly_operation_is_refused_with_its_cost_before_it_runs(alice: Client) -> None:
    # given: two pages of 500 goals with their habits (at most 10 a goal), and 500 events
    query = """query Costly($n: Int = 500) {
      a: goals(first: $n) { edges { node { habits { id } } } }
      b: goals(first: $n) { edges { node { habits { id } } } }
      events(first: $n, range: {start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00Z"}) {
        edges { node { calendar { id } } }
      }
    }"""
    await alice.op("Me")  # the user exists before we count
    before = mongo_commands()
    # when
    refused = await alice.execute(query)
    # then: a connection counts once, each edge with what it selects
    assert refused.codes == ["QUERY_TOO_COMPLEX"]
    extensions = refused.errors[0]["extensions"]
    assert extensions["maxCost"] == 10_000
    goals_page = 1 + 500 * (1 + 1 + 10)  # edge, goal, its habits
    assert extensions["cost"] == 2 * goals_page + 1 + 500 * (1 + 1 + 1)
    assert str(extensions["cost"]) in refused.errors[0]["message"]
    assert mongo_commands() - before == 0
    # and a smaller page of the same runs
    assert (await alice.execute(query.replace("= 500", "= 100"))).errors == []


async def test_the_same_document_is_costed_by_each_request_s_own_variables(alice: Client) -> None:
    # given: one document whose cost is its variable's page size (the cost is kept per
    # document and variables: a request must never get another's verdict)
    query = """query Pages($n: Int!) {
      a: goals(first: $n) { edges { node { habits { id } } } }
      b: goals(first: $n) { edges { node { habits { id } } } }
    }"""
    await alice.op("Me")
    # when: pages too large and small enough alternate, each sent twice
    verdicts = []
    for n in (500, 100, 500, 100, 499):
        answer = await alice.execute(query, {"n": n})
        verdicts.append(
            (answer.codes, (answer.errors or [{}])[0].get("extensions", {}).get("cost"))
        )
    # then: each answer has its own variables' cost
    too_costly = ["QUERY_TOO_COMPLEX"], 2 * (1 + 500 * (1 + 1 + 10))
    assert verdicts == [
        too_costly,
        ([], None),
        too_costly,
        ([], None),
        (
            ["QUERY_TOO_COMPLEX"],
            2 * (1 + 499 * (1 + 1 + 10)),
        ),
    ]


async def test_unpaginated_lists_and_date_ranges_count_their_size_before_anything_is_read(
    alice: Client,
) -> None:
    # given: 500 goals, 10 habits each, 730 days of check-ins each (issue 12)
    query = """{ goals(first: 500) { edges { node { habits {
      checkIns(from: "2025-01-01", to: "2026-12-31") { date }
    } } } } }"""
    await alice.op("Me")
    before = mongo_commands()
    # when
    refused = await alice.execute(query)
    # then
    assert refused.codes == ["QUERY_TOO_COMPLEX"]
    assert refused.body["data"] is None
    assert refused.errors[0]["extensions"]["cost"] == 1 + 500 * (1 + 1 + 10 * (1 + 730))
    assert mongo_commands() - before == 0
    # and without first, the goals are the default page of 50, not one
    week = 'checkIns(from: "2026-03-01", to: "2026-03-07") { date }'
    default_page = await alice.execute(
        f"{{ goals {{ edges {{ node {{ habits {{ {week} }} progressLog {{ at }} }} }} }} }}"
    )
    assert default_page.codes == ["QUERY_TOO_COMPLEX"]
    assert default_page.errors[0]["extensions"]["cost"] == 1 + 50 * (2 + 10 * 8 + 500)
    assert mongo_commands() - before == 0
    # while a page of one goal runs
    one = f"{{ goals(first: 1) {{ edges {{ node {{ habits {{ {week} }} }} }} }} }}"
    assert (await alice.execute(one)).errors == []


async def test_a_page_size_out_of_bounds_is_refused_before_anything_is_read(
    alice: Client,
) -> None:
    # given: a page one over the largest, in a query that would also cost too much
    query = "query($n: Int) { goals(first: $n) { edges { node { progressLog { at } } } } }"
    await alice.op("Me")
    before = mongo_commands()
    # when
    refused = await alice.execute(query, {"n": 501})
    # then: the page is what is wrong, and the answer says so
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "first"
    assert refused.errors[0]["message"] == "first must be between 0 and 500, got 501"
    assert mongo_commands() - before == 0


# The largest value the API accepts for each variable that sizes a list in operations/:
# a page of 500, 50 recommendations, 366 days, a batch of 1000 events.
YEAR = {"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z"}
LARGEST: dict[str, Any] = {
    "first": 500,
    "goalsFirst": 500,
    "limit": 50,
    "range": YEAR,
    "from": "2026-01-01",
    "to": "2027-01-02",
    "inputs": [{}] * 1000,
}
# Where an operation does not fit at the largest page, on purpose (README, "The cost"):
# 500 goals with 10 habits each and their streaks on one screen is 16,304.
# And a page of 120 tasks with their goal and 40 blocks each (83 a task) is 9,962.
REALISTIC: dict[str, dict[str, Any]] = {"Dashboard": {"goalsFirst": 303}, "Tasks": {"first": 120}}


def client_operation_costs(
    variables: dict[str, Any], realistic: dict[str, dict[str, Any]]
) -> dict[str, int]:

    costs = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        document = parse(path.read_text())
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for op in document.definitions:
            if isinstance(op, OperationDefinitionNode):
                given = {**variables, **realistic.get(path.stem, {})}
                costs[path.stem] = operation_cost(schema._schema, LIST_SIZES, op, fragments, given)
    return costs


def test_every_client_operation_fits_the_cost_limit_at_its_largest_variables() -> None:
    # when
    costs = client_operation_costs(LARGEST, REALISTIC)
    # then: every one fits, the Dashboard at a page of 303 goals
    assert len(costs) == len(list(OPERATIONS.glob("*.graphql")))
    assert {name: cost for name, cost in costs.items() if cost > 10_000} == {}
    assert costs["Goals"] == 1 + 1 + 500 * (1 + 1 + 1 + 10)  # pageInfo; edge, goal, target
    assert costs["GoalDetail"] == 1 + 1 + 500 + 10 * (1 + 1 + 1 + 367)
    assert costs["Dashboard"] == 304 + 303 * 32 == 10_000
    assert costs["Tasks"] == 2 + 120 * (1 + 1 + 1 + 40 * 2) == 9_962
    # and not one goal more
    one_more = {"Dashboard": {"goalsFirst": 304}}
    assert client_operation_costs(LARGEST, one_more)["Dashboard"] == 10_032


async def test_a_body_over_one_megabyte_is_refused_with_413(
    http: httpx.AsyncClient, alice: Client
) -> None:
    big = {"query": "{ me { id } }", "variables": {"pad": "x" * (1024 * 1024)}}
    declared = await post(http, alice.token, big)

    async def chunks() -> AsyncIterator[bytes]:
        body = json.dumps(big).encode()
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    streamed = await http.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    small = await post(http, alice.token, {"query": "{ me { id } }", "variables": {"pad": "x"}})
    for r in (declared, streamed):
        assert r.status_code == 413
        assert codes(r) == ["PAYLOAD_TOO_LARGE"]
    assert small.status_code == 200


async def test_query_batching_is_off(http: httpx.AsyncClient, alice: Client) -> None:
    r = await post(http, alice.token, [{"query": "{ me { id } }"}, {"query": "{ me { id } }"}])
    assert r.status_code == 400
    assert codes(r) == ["BAD_REQUEST"]


async def test_an_operation_past_the_execution_timeout_gets_a_clean_error(
    variant: Any, alice: Client
) -> None:
    http = variant(execution_timeout_s=0.000001)
    r = await post(http, alice.token, {"query": "{ goals(first: 5) { totalCount } me { id } }"})
    assert r.status_code == 200
    assert codes(r) == ["TIMEOUT"]
    assert r.json()["data"] is None
    assert "requestId" in r.json()["errors"][0]["extensions"]


@pytest.fixture
def slow_execution(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every execution takes 0.1 s; the most running at once is counted."""
    seen = {"running": 0, "most": 0}
    execute = AsyncBaseHTTPView.execute_single

    async def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen["running"] += 1
        seen["most"] = max(seen["most"], seen["running"])
        try:
            await asyncio.sleep(0.1)
            return await execute(self, *args, **kwargs)
        finally:
            seen["running"] -= 1

    monkeypatch.setattr(AsyncBaseHTTPView, "execute_single", slow)
    return seen


async def test_operations_beyond_the_concurrency_cap_wait_their_turn(
    variant: Any, alice: Client, no_cache: None, slow_execution: dict[str, int]
) -> None:
    # given: two operations at once at most
    http = variant(max_concurrent_operations=2)
    # when: six arrive together
    answers = await asyncio.gather(
        *(
            post(http, alice.token, {"query": f"{{ me {{ id }} a{i}: __typename }}"})
            for i in range(6)
        )
    )
    # then: all answered, never more than two running
    assert [codes(r) for r in answers] == [[]] * 6
    assert slow_execution["most"] == 2


async def test_the_wait_for_a_turn_counts_toward_the_execution_timeout(
    variant: Any, alice: Client, no_cache: None, slow_execution: dict[str, int]
) -> None:
    # given: one at a time, 0.25 s each at most, 0.1 s of work each
    http = variant(max_concurrent_operations=1, execution_timeout_s=0.25)
    # when: four arrive together
    answers = await asyncio.gather(
        *(
            post(http, alice.token, {"query": f"{{ me {{ id }} a{i}: __typename }}"})
            for i in range(4)
        )
    )
    # then: the first two run in time; the others ran out of time waiting, cleanly
    outcomes = sorted(tuple(codes(r)) for r in answers)
    assert outcomes == [(), (), ("TIMEOUT",), ("TIMEOUT",)]


async def test_field_suggestions_only_in_development(
    variant: Any, alice: Client, no_cache: None
) -> None:
    development = await post(variant(), alice.token, {"query": "{ goal { id } }"})
    production = await post(variant(env="production"), alice.token, {"query": "{ goal { id } }"})
    assert "Did you mean" in development.json()["errors"][0]["message"]
    assert codes(production) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in production.json()["errors"][0]["message"]


async def test_introspection_is_off_in_production_unless_enabled(
    variant: Any, alice: Client, no_cache: None
) -> None:
    query = {"query": "{ __schema { queryType { name } } }"}
    development = await post(variant(), alice.token, query)
    production = await post(variant(env="production"), alice.token, query)
    enabled = await post(variant(env="production", introspection=True), alice.token, query)
    assert development.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert set(codes(production)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection has been disabled" in production.json()["errors"][0]["message"]
    assert enabled.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_the_rate_limit_answers_429_with_retry_after_per_user(
    variant: Any, app_state: AppState, settings: Settings, alice: Client, bob: Client
) -> None:
    # given: 1 request a second, bursts of 3, for these users
    limiter = RateLimiter(app_state.redis, settings.cache_prefix, per_s=1, burst=3)
    saved, app_state.limiter = app_state.limiter, limiter
    try:
        http = variant()
        query = {"query": "{ me { id } }"}
        # when
        alice_answers = [await post(http, alice.token, query) for _ in range(4)]
        bob_answer = await post(http, bob.token, query)
    finally:
        await limiter.aclose()
        app_state.limiter = saved
    # then
    assert [r.status_code for r in alice_answers] == [200, 200, 200, 429]
    limited = alice_answers[-1]
    assert codes(limited) == ["RATE_LIMITED"]
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["errors"][0]["extensions"]["retryAfter"] == 1
    assert bob_answer.status_code == 200


@pytest.mark.parametrize("idempotency_key", [None, "retry-1"])
async def test_a_mutation_past_the_rate_limit_writes_nothing(
    variant: Any,
    app_state: AppState,
    settings: Settings,
    alice: Client,
    idempotency_key: str | None,
) -> None:
    # given: a bucket of one request for alice, and her goals as they are
    limiter = RateLimiter(app_state.redis, settings.cache_prefix, per_s=0.01, burst=1)
    saved, app_state.limiter = app_state.limiter, limiter
    create = {
        "query": "mutation($t: String!) { createGoal(input: {title: $t, priority: P2}) { id } }"
    }
    goals = {"query": "{ goals(first: 100) { edges { node { title } } } }"}
    headers = {"Authorization": f"Bearer {alice.token}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    try:
        http = variant()
        # when: two goals asked for, the second past the limit
        first = await http.post(
            "/graphql", json={**create, "variables": {"t": "allowed"}}, headers=headers
        )
        if idempotency_key is not None:
            headers["Idempotency-Key"] = "retry-2"
        second = await http.post(
            "/graphql", json={**create, "variables": {"t": "limited"}}, headers=headers
        )
    finally:
        await limiter.aclose()
        app_state.limiter = saved
    # then: the second is refused, and only the first was written
    assert (first.status_code, second.status_code) == (200, 429)
    assert codes(second) == ["RATE_LIMITED"]
    titles = [
        e["node"]["title"]
        for e in (await post(variant(), alice.token, goals)).json()["data"]["goals"]["edges"]
    ]
    assert "allowed" in titles
    assert "limited" not in titles


async def test_the_rate_limit_fails_open_when_redis_is_down(
    variant: Any, app_state: AppState, settings: Settings, alice: Client
) -> None:
    dead = Redis(port=free_port(), socket_connect_timeout=0.05, socket_timeout=0.05)
    limiter = RateLimiter(dead, "x:", per_s=1, burst=1)
    saved, app_state.limiter = app_state.limiter, limiter
    try:
        http = variant()
        answers = [await post(http, alice.token, {"query": "{ me { id } }"}) for _ in range(3)]
    finally:
        app_state.limiter = saved
        await limiter.aclose()
        await dead.aclose()
    assert [r.status_code for r in answers] == [200, 200, 200]


async def test_the_rate_limit_lets_requests_through_when_redis_hangs(
    app_state: AppState, settings: Settings, alice: Client, http: httpx.AsyncClient
) -> None:
    # given: a limiter whose Redis accepts the connection and never answers, built as the
    # server builds its own (no socket timeout: the limiter's timeout bounds each call)

    hung = SilentServer()
    await hung.start()
    client = Redis.from_url(hung.url, socket_connect_timeout=0.05)
    limiter = RateLimiter(client, "x:", per_s=1, burst=1, timeout_s=0.05)
    saved, app_state.limiter = app_state.limiter, limiter
    try:
        # when (a hang fails here, not at the suite's time limit)
        async with asyncio.timeout(5):
            answers = [await post(http, alice.token, {"query": "{ me { id } }"}) for _ in range(3)]
    finally:
        app_state.limiter = saved
        await limiter.aclose()
        await client.aclose()
        await hung.close()
    # then: every request answered, the limiter reached and skipped
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert hung.contacts[1] > 0


@pytest.mark.parametrize(
    "body", ['"{ me { id } }"', "42", "null", '{"query": "{ me { id } }", "operationName": 7}']
)
async def test_a_body_that_is_not_a_request_object_is_a_bad_request(
    http: httpx.AsyncClient, alice: Client, body: str
) -> None:
    r = await http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert codes(r) == ["BAD_REQUEST"]


async def test_the_rate_limit_still_counts_after_redis_forgets_its_script(
    app_state: AppState, settings: Settings
) -> None:
    # given: a bucket of two for a user, one taken; then Redis forgets its scripts (as
    # a restarted Redis does)
    limiter = RateLimiter(app_state.redis, settings.cache_prefix, per_s=0.01, burst=2)
    user = f"forgetful-{uuid.uuid4().hex[:8]}"
    try:
        first = await limiter.take(user)
        await app_state.redis.script_flush()
        # when
        second, third = await limiter.take(user), await limiter.take(user)
    finally:
        await limiter.aclose()
    # then: the script is sent again and the bucket still counts (not let through)
    assert [first.allowed, second.allowed, third.allowed] == [True, True, False]
