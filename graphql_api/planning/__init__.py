"""The planner: tasks' work booked in the calendar (`planner`, pure), re-planned when the
calendar or the tasks change (`service`, in the worker and in task mutations; the
re-plans are asked for through `graphql_api.replans`)."""
