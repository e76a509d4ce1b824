from __future__ import annotations

import strawberry

from graphql_api.context import Context, Info
from graphql_api.errors import not_found
from graphql_api.relay import ref_of
from graphql_api.tasks import service
from graphql_api.tasks.inputs import CreateTaskInput, UpdateTaskInput
from graphql_api.tasks.types import Task
from models import Task as TaskDoc


async def load_task(ctx: Context, task_id: strawberry.ID) -> TaskDoc:
    task = await ctx.loaders.task_by_id.load(ref_of(task_id, "Task"))
    if task is None:
        raise not_found("Task")
    return task


@strawberry.type
class TaskMutations:
    @strawberry.mutation(description="Creates the task and answers with it already planned.")
    async def create_task(self, info: Info, input: CreateTaskInput) -> Task:
        return Task.of(await service.create_task(info.context, input))

    @strawberry.mutation(description="Changes the task and answers with it planned again.")
    async def update_task(self, info: Info, id: strawberry.ID, input: UpdateTaskInput) -> Task:
        task = await load_task(info.context, id)
        return Task.of(await service.update_task(info.context, task, input))

    @strawberry.mutation(
        description="Marks the task DONE and removes its blocks not yet started (past ones "
        "stay, as history)."
    )
    async def complete_task(self, info: Info, id: strawberry.ID) -> Task:
        task = await load_task(info.context, id)
        return Task.of(await service.complete_task(info.context, task))

    @strawberry.mutation(description="Deletes the task and its blocks not yet started.")
    async def delete_task(self, info: Info, id: strawberry.ID) -> bool:
        task_id = ref_of(id, "Task")
        await service.delete_task(info.context, task_id)
        info.context.loaders.task_by_id.clear(task_id)
        return True
