"""The root types, composed from the domains, and the schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from bson import ObjectId
from graphql import GraphQLError, GraphQLSyntaxError
from pymongo.errors import ConnectionFailure
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql_api import arguments
from graphql_api.cache.control import CacheControlHeader, cache
from graphql_api.cache.scopes import calendar_scope
from graphql_api.calendars.mutations import CalendarMutations
from graphql_api.calendars.queries import CalendarQueries
from graphql_api.calendars.subscriptions import CalendarSubscriptions
from graphql_api.calendars.types import Calendar, SyncRun
from graphql_api.context import Context, Info
from graphql_api.errors import ErrorCodes, answer_unavailable, unavailable
from graphql_api.events.mutations import EventMutations
from graphql_api.events.queries import EventQueries
from graphql_api.events.service import instance_of
from graphql_api.events.types import Event, event_of
from graphql_api.execution import Execution
from graphql_api.goals.mutations import GoalMutations
from graphql_api.goals.queries import GoalQueries
from graphql_api.goals.types import Goal
from graphql_api.habits.mutations import HabitMutations
from graphql_api.habits.queries import HabitQueries
from graphql_api.habits.types import Habit
from graphql_api.hooks import ExtensionsRunner
from graphql_api.list_sizes import LIST_SIZES
from graphql_api.observability.operations import OperationMetrics
from graphql_api.persisted.sockets import SocketOperations
from graphql_api.reads import calendar_of, event_by_id, goal_by_id, habit_by_id
from graphql_api.recommend.mutations import RecommendationMutations
from graphql_api.recommend.queries import RecommendationQueries
from graphql_api.relay import Node, decode_global_id, ref_of
from graphql_api.scalars import SCALAR_MAP
from graphql_api.security.auth import RequireAuthentication
from graphql_api.security.limits import request_limits
from graphql_api.settings import Settings
from graphql_api.tasks.mutations import TaskMutations
from graphql_api.tasks.queries import TaskQueries
from graphql_api.tasks.subscriptions import TaskSubscriptions
from graphql_api.tasks.types import Task
from graphql_api.users.mutations import UserMutations
from graphql_api.users.queries import UserQueries
from graphql_api.users.types import User
from graphql_api.validated import ValidationCache
from models import SyncRun as SyncRunDoc


async def _goal(ctx: Context, raw: str) -> Node | None:
    await ctx.cache.depend_on("goals")
    doc = await goal_by_id(ctx, ref_of(raw, "Goal"))
    return Goal.of(doc) if doc else None


async def _habit(ctx: Context, raw: str) -> Node | None:
    await ctx.cache.depend_on("habits")
    doc = await habit_by_id(ctx, ref_of(raw, "Habit"))
    return Habit.of(doc) if doc else None


async def _calendar(ctx: Context, raw: str) -> Node | None:
    doc = await calendar_of(ctx, ref_of(raw, "Calendar"))
    return Calendar.of(doc) if doc else None


async def _event(ctx: Context, raw: str) -> Node | None:
    _, local = decode_global_id(raw)
    if "@" in local:  # an instance of a recurring series
        instance = await instance_of(ctx, local)
        return await event_of(ctx, instance) if instance else None
    doc = await event_by_id(ctx, ref_of(raw, "Event"))
    if doc is None:
        ctx.cache.untracked()  # an id that is not (or no longer) the user's
        return None
    await ctx.cache.depend_on(calendar_scope(doc.calendar_id))
    return await event_of(ctx, doc)


async def _task(ctx: Context, raw: str) -> Node | None:
    ctx.cache.untracked()  # its minutes move with the clock
    doc = await ctx.loaders.task_by_id.load(ref_of(raw, "Task"))
    return Task.of(doc) if doc else None


async def _user(ctx: Context, global_id: str) -> Node | None:
    viewer = ctx.viewer
    return User.of(viewer) if ref_of(global_id, "User") == str(viewer.id) else None


async def _sync_run(ctx: Context, raw: str) -> Node | None:
    run = await SyncRunDoc.find_one(
        {"_id": ObjectId(ref_of(raw, "SyncRun")), "userId": ctx.user_id}
    )
    ctx.cache.untracked()  # runs move on by themselves
    return SyncRun.of(run) if run else None


NODE_RESOLVERS: dict[str, Callable[[Context, str], Awaitable[Node | None]]] = {
    "SyncRun": _sync_run,
    "Goal": _goal,
    "Habit": _habit,
    "Calendar": _calendar,
    "Event": _event,
    "Task": _task,
    "User": _user,
}


@strawberry.type
class Query(
    UserQueries,
    GoalQueries,
    HabitQueries,
    CalendarQueries,
    EventQueries,
    RecommendationQueries,
    TaskQueries,
):
    @strawberry.field(
        description="Any object by its ID; null when it is not the user's.", directives=cache(60)
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        kind, _ = decode_global_id(id)
        resolve = NODE_RESOLVERS.get(kind)
        return await resolve(info.context, id) if resolve else None


@strawberry.type
class Mutation(
    UserMutations,
    GoalMutations,
    HabitMutations,
    CalendarMutations,
    EventMutations,
    RecommendationMutations,
    TaskMutations,
):
    pass


@strawberry.type
class Subscription(CalendarSubscriptions, TaskSubscriptions):
    pass


class Schema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        """Strawberry's runner, each extension class's hooks found once (graphql_api.hooks)."""
        return ExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not server faults: the ErrorCodes extension logs
        only the unexpected ones (with their request id).

        A syntax error raised while the parser cache parses never reaches the
        extensions' operation hooks, so it gets its code here."""
        for error in errors:
            if isinstance(error, GraphQLSyntaxError) and "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_PARSE_FAILED"}
            elif isinstance(error.original_error, ConnectionFailure) and execution_context:
                # The database failed before execution (loading the user): same answer.
                coded = unavailable(error, execution_context)
                error.message, error.extensions = coded.message, coded.extensions
        if execution_context is not None:
            answer_unavailable(None, errors, execution_context)


def build_schema(settings: Settings | None = None, *extra: type[SchemaExtension]) -> Schema:
    """The schema with the limits of `settings` (the defaults when None); `extra`
    extensions (tracing) run innermost, after ours."""
    settings = settings or Settings()
    arguments.install()  # resolvers' arguments converted by field (graphql_api.arguments)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Goal, Habit, Calendar, Event, User, SyncRun, Task],
        execution_context_class=Execution,
        extensions=[
            OperationMetrics,  # first: it sees the errors once ErrorCodes has coded them
            request_limits(settings, LIST_SIZES),
            SocketOperations,
            RequireAuthentication,
            ErrorCodes,
            CacheControlHeader,
            lambda: ParserCache(maxsize=1000),  # the LRU lives at module level
            ValidationCache,  # by the document's identity (graphql_api.validated)
            *extra,
        ],
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP,
            # "Did you mean ...?" maps the schema for whoever probes it: development only.
            disable_field_suggestions=settings.is_production,
        ),
    )


schema = build_schema()
