from __future__ import annotations

import strawberry

from graphql_api.context import Info
from graphql_api.users import service
from graphql_api.users.inputs import UpdateProfileInput
from graphql_api.users.types import User


@strawberry.type
class UserMutations:
    @strawberry.mutation
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> User:
        user = await service.update_profile(info.context, input)
        info.context.user = user
        return User.of(user)
