"""The size of every list field of the schema, for the cost limit (security/limits.py).

Keyed by `Type.field`; a test fails when a list field of the schema has no size
here (or is named as a connection's `edges`), so a new list cannot slip past the
cost. Each size is a bound the API keeps, except where it says "assumed".
"""

from __future__ import annotations

from graphql_api.events.service import MAX_BATCH
from graphql_api.goals.service import PROGRESS_LOG_LATEST
from graphql_api.habits.service import MAX_HABITS_PER_GOAL, MAX_WINDOWS
from graphql_api.recommend.ranking import MAX_LIMIT, REASONS
from graphql_api.relay import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from graphql_api.security.limits import ListSize
from graphql_api.tasks.service import BLOCKS_SHOWN
from graphql_api.users.service import MAX_WORKING_HOURS
from graphql_api.validation import MAX_RANGE

# A connection counts once, its edges `first` times (the default page when not
# given). `events(range:)` is sized by its page too: nothing bounds the events of a
# day (a batch books a thousand at once), so a short range is no smaller bound.
PAGE = ListSize(
    assumed=DEFAULT_PAGE_SIZE,
    slicing="first",
    bounds=(0, MAX_PAGE_SIZE),
    sized_fields=("edges",),
)

# Assumed, not enforced: a user's calendars are few, and nothing nests under one.
ASSUMED_CALENDARS = 20
# Assumed: the tasks (or habits) a subscriber hears of in one plan update.
ASSUMED_PLANNED = 100

LIST_SIZES: dict[str, ListSize] = {
    "Query.goals": PAGE,
    "Query.habits": PAGE,
    "Query.events": PAGE,
    "Query.recommendations": ListSize(assumed=MAX_LIMIT, slicing="limit", bounds=(1, MAX_LIMIT)),
    "Query.calendars": ListSize(assumed=ASSUMED_CALENDARS),
    "Mutation.batchCreateEvents": ListSize(assumed=MAX_BATCH, per_item_of="inputs"),
    # createHabit and updateHabit refuse more habits on one goal
    "Goal.habits": ListSize(assumed=MAX_HABITS_PER_GOAL),
    # the resolver shows the latest entries only
    "Goal.progressLog": ListSize(assumed=PROGRESS_LOG_LATEST),
    # one check-in a day; dates that do not parse count as the longest valid range
    "Habit.checkIns": ListSize(assumed=MAX_RANGE.days + 1, days=("from", "to")),
    "Habit.preferredWindows": ListSize(assumed=MAX_WINDOWS),
    "PreferredWindow.weekdays": ListSize(assumed=7),
    "Recommendation.reasons": ListSize(assumed=REASONS),
    "User.workingHours": ListSize(assumed=MAX_WORKING_HOURS),
    "Query.tasks": PAGE,
    # the resolver shows the blocks nearest now
    "Task.blocks": ListSize(assumed=BLOCKS_SHOWN),
    # assumed: the open tasks and auto-scheduled habits one re-plan is about
    "PlanUpdate.tasks": ListSize(assumed=ASSUMED_PLANNED),
    "PlanUpdate.habits": ListSize(assumed=ASSUMED_PLANNED),
}
