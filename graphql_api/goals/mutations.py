from __future__ import annotations

import strawberry

from graphql_api.context import Context, Info
from graphql_api.errors import not_found
from graphql_api.goals import service
from graphql_api.goals.inputs import CreateGoalInput, UpdateGoalInput
from graphql_api.goals.types import Goal
from graphql_api.reads import goal_by_id
from graphql_api.relay import ref_of
from models import Goal as GoalDoc


async def load_goal(ctx: Context, goal_id: strawberry.ID) -> GoalDoc:
    goal = await goal_by_id(ctx, ref_of(goal_id, "Goal"))
    if goal is None:
        raise not_found("Goal")
    return goal


@strawberry.type
class GoalMutations:
    @strawberry.mutation
    async def create_goal(self, info: Info, input: CreateGoalInput) -> Goal:
        return Goal.of(await service.create_goal(info.context, input))

    @strawberry.mutation
    async def update_goal(self, info: Info, id: strawberry.ID, input: UpdateGoalInput) -> Goal:
        goal = await load_goal(info.context, id)
        return Goal.of(await service.update_goal(info.context, goal, input))

    @strawberry.mutation(description="Deletes the goal; its habits stay, without a goal.")
    async def delete_goal(self, info: Info, id: strawberry.ID) -> bool:
        goal_id = ref_of(id, "Goal")
        await service.delete_goal(info.context, goal_id)
        info.context.loaders.goal_by_id.clear(goal_id)
        return True

    @strawberry.mutation
    async def log_goal_progress(
        self, info: Info, goal_id: strawberry.ID, value: float, note: str | None = None
    ) -> Goal:
        goal = await load_goal(info.context, goal_id)
        await service.log_progress(info.context, goal, value, note)
        return Goal.of(goal)
