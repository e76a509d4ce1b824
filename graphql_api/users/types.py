from __future__ import annotations

import strawberry

from graphql_api.relay import Node, to_global_id
from models import User as UserDoc


@strawberry.type
class WorkingHours:
    weekday: int = strawberry.field(description="ISO weekday: Monday = 1 ... Sunday = 7.")
    start: str = strawberry.field(description='Local time, "HH:MM".')
    end: str = strawberry.field(description='Local time, "HH:MM" ("24:00" is midnight).')


@strawberry.type
class User(Node):
    doc: strawberry.Private[UserDoc]
    email: str | None
    display_name: str | None
    timezone: str = strawberry.field(
        description="IANA time zone name; dates of check-ins are in this zone."
    )
    working_hours: list[WorkingHours]

    @classmethod
    def of(cls, doc: UserDoc) -> User:
        return cls(
            doc=doc,
            id=to_global_id("User", doc.id),
            email=doc.email,
            display_name=doc.display_name,
            timezone=doc.timezone,
            working_hours=[
                WorkingHours(weekday=w.weekday, start=w.start, end=w.end) for w in doc.working_hours
            ],
        )
