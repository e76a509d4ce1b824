"""`seed-demo`: a demo user with goals, habits, months of check-ins and a LOCAL calendar."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tqdm import tqdm

from graphql_api.lifespan import close_state, open_state
from graphql_api.settings import Settings
from models import (
    Calendar,
    CheckInEntry,
    CheckInYear,
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
from models.base import ref, utcnow
from models.habit import year_documents

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
    for model in (Goal, GoalProgress, Habit, CheckInYear, Calendar, Event, User):
        field = "sub" if model is User else "userId"
        await model.get_pymongo_collection().delete_many({field: sub})


async def seed(settings: Settings, sub: str, days: int, *, seed_value: int = 7) -> str:
    rng = random.Random(seed_value)
    state = await open_state(settings)
    try:
        await _wipe(sub)
        zone = ZoneInfo(ZONE)
        today = datetime.now(zone).date()
        await _demo_user(sub).insert()
        goals = await _goals(sub, today)
        history = await _history(rng, sub, goals, today, days=days, zone=zone)
        await CheckInYear.insert_many(year_documents(sub, history.check_ins, utcnow()))
        if history.progress:
            await GoalProgress.insert_many(history.progress)

        calendar = Calendar(
            user_id=sub,
            name="Personal",
            provider="LOCAL",
            timezone=ZONE,
            color="#1a73e8",
            is_primary=True,
        )
        await calendar.insert()
        events = [e.model_copy(update={"calendar_id": ref(calendar)}) for e in history.booked]
        events += _calendar_events(rng, sub, ref(calendar), today, zone)
        await Event.insert_many(events)
        return (
            f"seeded user {sub!r}: {len(goals)} goals, {len(HABITS)} habits, "
            f"{len(history.check_ins)} check-ins, {len(history.progress)} progress entries, "
            f"{len(events)} events ({len(history.booked)} of them booked habits)"
        )
    finally:
        await close_state(state)


def _demo_user(sub: str) -> User:
    return User(
        sub=sub,
        email=f"{sub}@example.com",
        display_name="Demo User",
        timezone=ZONE,
        working_hours=[WorkingHours(weekday=d, start="09:00", end="17:30") for d in range(1, 6)],
    )


async def _goals(sub: str, today: date) -> list[Goal]:
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
    return goals


@dataclass
class _History:
    """What months of a habit's life left: check-ins, logged progress, booked events."""

    check_ins: list[CheckInEntry] = field(default_factory=list)
    progress: list[GoalProgress] = field(default_factory=list)
    booked: list[Event] = field(default_factory=list)  # their calendar is set later


async def _history(
    rng: random.Random, sub: str, goals: list[Goal], today: date, *, days: int, zone: ZoneInfo
) -> _History:
    """The habits (stored), and their past days, drawn from `rng` in a fixed order."""
    history = _History()
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
            _habit_day(
                rng,
                history,
                habit,
                day,
                window=(start, end),
                reliability=reliability,
                zone=zone,
                running_goal=goals[0],
            )
    return history


def _habit_day(
    rng: random.Random,
    history: _History,
    habit: Habit,
    day: date,
    *,
    window: tuple[str, str],
    reliability: float,
    zone: ZoneInfo,
    running_goal: Goal,
) -> None:
    """Booked somewhere in its window; done more reliably early in the window."""
    minutes = habit.duration_minutes
    begins, position = _booked_time(rng, day, window, minutes, zone)
    roll = rng.random()
    done_share = reliability * (1.2 - 0.4 * position)
    status = "DONE" if roll < done_share else ("SKIPPED" if roll < done_share + 0.08 else "MISSED")
    history.check_ins.append(CheckInEntry(ref(habit), day.isoformat(), status, None))
    history.booked.append(
        Event(
            user_id=habit.user_id,
            calendar_id="",  # the calendar is made later
            title=habit.name,
            start_time=begins,
            end_time=begins + timedelta(minutes=minutes),
            habit_id=ref(habit),
        )
    )
    if status == "DONE" and habit.name == "Morning run":
        at = datetime.combine(day, time(8), zone).astimezone(UTC)
        history.progress.append(
            GoalProgress(
                user_id=habit.user_id,
                goal_id=ref(running_goal),
                value=round(rng.uniform(5, 12), 1),
                at=at,
            )
        )


def _calendar_events(
    rng: random.Random, sub: str, calendar_id: str, today: date, zone: ZoneInfo
) -> list[Event]:
    """Four weeks either side of today: meetings on weekdays, some family days."""
    events = []
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
                            calendar_id=calendar_id,
                            title=title,
                            start_time=begins,
                            end_time=begins + timedelta(minutes=length),
                        )
                    )
        elif rng.random() < 0.3:
            events.append(_family_day(sub, calendar_id, day, zone))
    return events


def _family_day(sub: str, calendar_id: str, day: date, zone: ZoneInfo) -> Event:
    return Event(
        user_id=sub,
        calendar_id=calendar_id,
        title="Family day",
        all_day=True,
        start_time=datetime.combine(day, time(), zone).astimezone(UTC),
        end_time=datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC),
        start_date=day.isoformat(),
        end_date=(day + timedelta(days=1)).isoformat(),
        busy=False,
    )


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
