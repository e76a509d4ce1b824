"""DateTime answers: one text per instant, in UTC with `Z`, whatever zone it was held in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given
from hypothesis import strategies as st

from graphql_api.scalars import serialize_datetime

ZONES = sorted(available_timezones() - {"Factory", "localtime"})[::7]


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
)
def test_an_instant_has_one_text_in_every_zone_and_every_time_it_is_asked(
    moment: datetime, zone: str
) -> None:
    # given: the same instant held in UTC and in another zone (equal, as datetimes are)
    elsewhere = moment.astimezone(ZoneInfo(zone))
    # when
    texts = {serialize_datetime(moment), serialize_datetime(elsewhere), serialize_datetime(moment)}
    # then: one text, what formatting it afresh gives
    assert texts == {serialize_datetime.__wrapped__(moment)}
    (text,) = texts
    assert text.endswith("Z")
    assert datetime.fromisoformat(text) == moment.replace(
        microsecond=moment.microsecond // 1000 * 1000
    )
