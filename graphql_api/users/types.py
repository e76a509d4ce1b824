from __future__ import annotations

import strawberry

from graphql_api.relay import Node
from models import User as UserDoc


@strawberry.type
class WorkingHours:
    weekday: int = strawberry.field(description="ISO weekday: Monday = 1 ... Sunday = 7.")
    start: str = strawberry.field(description='Local time, "HH:MM".')
    end: str = strawberry.field(description='Local time, "HH:MM" ("24:00" is midnight).')


@strawberry.type
class User(Node):
    doc: strawberry.Private[UserDoc]

    @strawberry.field
    def email(self) -> str | None:
        return self.doc.email

    @strawberry.field
    def display_name(self) -> str | None:
        return self.doc.display_name

    @strawberry.field(description="IANA time zone name; dates of check-ins are in this zone.")
    def timezone(self) -> str:
        return self.doc.timezone

    @strawberry.field
    def working_hours(self) -> list[WorkingHours]:
        return [
            WorkingHours(weekday=w.weekday, start=w.start, end=w.end)
            for w in self.doc.working_hours
        ]
