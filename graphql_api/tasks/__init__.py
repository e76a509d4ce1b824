"""Tasks: work the planner books in the user's calendar (`graphql_api.planning`)."""
