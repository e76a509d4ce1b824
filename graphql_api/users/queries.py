from __future__ import annotations

import strawberry

from graphql_api.cache.control import cache
from graphql_api.context import Info
from graphql_api.users.types import User


@strawberry.type
class UserQueries:
    @strawberry.field(description="The user of the bearer token.", directives=cache(300))
    def me(self, info: Info) -> User:
        return User.of(info.context.viewer)
