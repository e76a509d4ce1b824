from __future__ import annotations

import strawberry

from graphql_api.context import Context, Info
from graphql_api.errors import BadUserInput, not_found
from graphql_api.events import service
from graphql_api.events.inputs import CreateEventInput, UpdateEventInput
from graphql_api.events.types import Event, event_of
from graphql_api.reads import event_by_id
from graphql_api.relay import decode_global_id, ref_of
from models import Event as EventDoc
from models.base import ref


async def load_event(ctx: Context, event_id: strawberry.ID) -> EventDoc:
    if "@" in decode_global_id(event_id)[1]:
        raise BadUserInput(
            "an instance of a recurring series is changed through its series "
            "(its recurringEventId)",
            field="id",
        )
    event = await event_by_id(ctx, ref_of(event_id, "Event"))
    if event is None:
        raise not_found("Event")
    return event


@strawberry.type
class EventMutations:
    @strawberry.mutation
    async def create_event(self, info: Info, input: CreateEventInput) -> Event:
        return await event_of(info.context, await service.create_event(info.context, input))

    @strawberry.mutation(
        description="Creates all the events or, if any input is bad, none (the error names "
        "the input's index)."
    )
    async def batch_create_events(self, info: Info, inputs: list[CreateEventInput]) -> list[Event]:
        docs = await service.batch_create_events(info.context, inputs)
        return [await event_of(info.context, d) for d in docs]

    @strawberry.mutation
    async def update_event(self, info: Info, id: strawberry.ID, input: UpdateEventInput) -> Event:
        event = await load_event(info.context, id)
        return await event_of(info.context, await service.update_event(info.context, event, input))

    @strawberry.mutation
    async def delete_event(self, info: Info, id: strawberry.ID) -> bool:
        event = await load_event(info.context, id)
        await service.delete_event(info.context, event)
        info.context.loaders.event_by_id.clear(ref(event))
        return True
