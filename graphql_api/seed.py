"""`seed-demo`: a demo user with goals, habits, months of check-ins and a LOCAL calendar."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tqdm import tqdm

from graphql_api.lifespan import close_state, open_state
from graphql_api.settings import Settings
from models import (
    Calendar,
    CheckIn,
    Event,
    Frequency,
    Goal,
    GoalProgress,
    Habit,
    PreferredWindow,
    Target,
    User,
    WorkingHours,
)
from models.base import ref

ZONE = "Europe/Berlin"
GOALS = [
    ("Run a half marathon", 4, 120, Target(value=500, unit="km")),
    ("Read 24 books this year", 3, 300, None),
    ("Learn Spanish to B1", 2, None, None),
]
HABITS = [  # (goal index, name, times, per, minutes, window, how reliably it is done)
    (0, "Morning run", 3, "WEEK", 45, ([1, 3, 5], "06:30", "08:00"), 0.8),
    (0, "Stretching", 1, "DAY", 15, ([1, 2, 3, 4, 5, 6, 7], "21:00", "22:00"), 0.6),
    (1, "Read 30 pages", 1, "DAY", 40, ([1, 2, 3, 4, 5, 6, 7], "20:00", "22:30"), 0.7),
    (2, "Spanish lesson", 4, "WEEK", 30, ([1, 2, 3, 4], "12:00", "13:30"), 0.65),
    (2, "Podcast in Spanish", 2, "MONTH", 60, ([6, 7], "10:00", "12:00"), 0.9),
]


async def _wipe(sub: str) -> None:
    for model in (Goal, GoalProgress, Habit, CheckIn, Calendar, Event, User):
        field = "sub" if model is User else "userId"
        await model.get_pymongo_collection().delete_many({field: sub})


async def seed(settings: Settings, sub: str, days: int, *, seed_value: int = 7) -> str:
    rng = random.Random(seed_value)
    state = await open_state(settings)
    try:
        await _wipe(sub)
        zone = ZoneInfo(ZONE)
        today = datetime.now(zone).date()
        user = User(
            sub=sub,
            email=f"{sub}@example.com",
            display_name="Demo User",
            timezone=ZONE,
            working_hours=[
                WorkingHours(weekday=d, start="09:00", end="17:30") for d in range(1, 6)
            ],
        )
        await user.insert()

        goals = []
        for title, weight, target_in_days, target in GOALS:
            goal = Goal(
                user_id=sub,
                title=title,
                priority=weight,
                target_date=(today + timedelta(days=target_in_days)).isoformat()
                if target_in_days
                else None,
                target=target,
            )
            await goal.insert()
            goals.append(goal)

        check_ins: list[CheckIn] = []
        progress: list[GoalProgress] = []
        booked: list[Event] = []
        for goal_index, name, times, per, minutes, (weekdays, start, end), reliability in tqdm(
            HABITS, desc="habits and check-ins", unit="habit"
        ):
            habit = Habit(
                user_id=sub,
                goal_id=ref(goals[goal_index]),
                name=name,
                frequency=Frequency(times=times, per=per),
                duration_minutes=minutes,
                preferred_windows=[PreferredWindow(weekdays=weekdays, start=start, end=end)],
            )
            await habit.insert()
            for offset in range(days, 0, -1):
                day = today - timedelta(days=offset)
                if day.isoweekday() not in weekdays or (per == "MONTH" and rng.random() > 0.3):
                    continue
                # Booked somewhere in its window; done more reliably early in the window.
                begins, position = _booked_time(rng, day, (start, end), minutes, zone)
                roll = rng.random()
                done_share = reliability * (1.2 - 0.4 * position)
                status = (
                    "DONE"
                    if roll < done_share
                    else ("SKIPPED" if roll < done_share + 0.08 else "MISSED")
                )
                check_ins.append(
                    CheckIn(user_id=sub, habit_id=ref(habit), date=day.isoformat(), status=status)
                )
                booked.append(
                    Event(
                        user_id=sub,
                        calendar_id="",  # the calendar is made below
                        title=name,
                        start_time=begins,
                        end_time=begins + timedelta(minutes=minutes),
                        habit_id=ref(habit),
                    )
                )
                if status == "DONE" and name == "Morning run":
                    at = datetime.combine(day, time(8), zone).astimezone(UTC)
                    progress.append(
                        GoalProgress(
                            user_id=sub,
                            goal_id=ref(goals[0]),
                            value=round(rng.uniform(5, 12), 1),
                            at=at,
                        )
                    )
        await CheckIn.insert_many(check_ins)
        if progress:
            await GoalProgress.insert_many(progress)

        calendar = Calendar(
            user_id=sub,
            name="Personal",
            provider="LOCAL",
            timezone=ZONE,
            color="#1a73e8",
            is_primary=True,
        )
        await calendar.insert()
        events = [e.model_copy(update={"calendar_id": ref(calendar)}) for e in booked]
        for offset in tqdm(range(-28, 29), desc="calendar events", unit="day"):
            day = today + timedelta(days=offset)
            if day.isoweekday() <= 5:
                for hour, length, title in (
                    (9, 60, "Stand-up and planning"),
                    (14, 90, "Focus block"),
                ):
                    if rng.random() < 0.8:
                        begins = datetime.combine(day, time(hour), zone).astimezone(UTC)
                        events.append(
                            Event(
                                user_id=sub,
                                calendar_id=ref(calendar),
                                title=title,
                                start_time=begins,
                                end_time=begins + timedelta(minutes=length),
                            )
                        )
            elif rng.random() < 0.3:
                events.append(
                    Event(
                        user_id=sub,
                        calendar_id=ref(calendar),
                        title="Family day",
                        all_day=True,
                        start_time=datetime.combine(day, time(), zone).astimezone(UTC),
                        end_time=datetime.combine(day + timedelta(days=1), time(), zone).astimezone(
                            UTC
                        ),
                        start_date=day.isoformat(),
                        end_date=(day + timedelta(days=1)).isoformat(),
                        busy=False,
                    )
                )
        await Event.insert_many(events)
        return (
            f"seeded user {sub!r}: {len(goals)} goals, {len(HABITS)} habits, "
            f"{len(check_ins)} check-ins, {len(progress)} progress entries, {len(events)} events "
            f"({len(booked)} of them booked habits)"
        )
    finally:
        await close_state(state)


def _booked_time(
    rng: random.Random, day: date, window: tuple[str, str], minutes: int, zone: ZoneInfo
) -> tuple[datetime, float]:
    """A quarter-hour start inside the window that fits the habit, and where it falls (0-1)."""
    start, end = window
    first = datetime.combine(day, time.fromisoformat(start), zone)
    last = datetime.combine(day, time.fromisoformat(end), zone) - timedelta(minutes=minutes)
    quarters = max(0, int((last - first).total_seconds() // 900))
    k = rng.randint(0, quarters)
    return (first + timedelta(minutes=15 * k)).astimezone(UTC), k / max(quarters, 1)


__all__ = ["seed"]
