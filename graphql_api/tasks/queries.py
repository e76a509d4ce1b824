from __future__ import annotations

import strawberry

from graphql_api.context import Info
from graphql_api.relay import Connection, paginate
from graphql_api.tasks import service
from graphql_api.tasks.enums import TaskStatus
from graphql_api.tasks.types import Task


@strawberry.type
class TaskQueries:
    @strawberry.field(
        description="The user's tasks: P1 first, then the sooner due (none last), then the oldest."
    )
    async def tasks(
        self,
        info: Info,
        status: TaskStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Task]:
        # Minutes scheduled and remaining move with the clock: never an answer cached whole.
        info.context.cache.untracked()
        docs = await service.list_tasks(info.context, status.value if status else None)
        return paginate(docs, service.task_key, first, after, Task.of)
