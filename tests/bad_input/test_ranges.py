"""A bad time range (empty, backward, too long) is refused."""

from __future__ import annotations

import pytest

from graphql_api.state import AppState
from tests.bad_input.helpers import (
    User,
    refused,
)

# --- time ranges ---------------------------------------------------------------------

EMPTY_RANGE = {"start": "2026-03-29T10:00:00Z", "end": "2026-03-29T10:00:00Z"}
BACKWARD_RANGE = {"start": "2026-03-29T10:00:00Z", "end": "2026-03-29T09:00:00Z"}
SAME_INSTANT_RANGE = {"start": "2026-03-29T10:00:00+02:00", "end": "2026-03-29T09:00:00+01:00"}
LONG_RANGE = {"start": "2026-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"}  # 367 days


@pytest.mark.parametrize("name", ["Events", "Dashboard"])
@pytest.mark.parametrize(
    ("time_range", "mention"),
    [
        pytest.param(EMPTY_RANGE, "range", id="end-equals-start"),
        pytest.param(BACKWARD_RANGE, "range", id="end-before-start"),
        pytest.param(SAME_INSTANT_RANGE, "range", id="same-instant-other-offsets"),
        pytest.param(LONG_RANGE, "366 days", id="367-days"),
    ],
)
async def test_time_range_is_checked(
    user: User, app_state: AppState, name: str, time_range: dict[str, str], mention: str
) -> None:
    # given
    variables = {"range": time_range}
    # when
    r = await refused(app_state, user, name, variables, mention)
    # then
    assert r.body["data"] is None
