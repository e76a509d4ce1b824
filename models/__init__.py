"""Beanie documents. Nothing here knows about GraphQL."""

from beanie import Document

from models.calendar import Calendar, PushChannel, Source, SyncCursor, SyncRun, SyncState
from models.event import Event
from models.goal import Goal, GoalProgress, Target
from models.habit import CheckInEntry, CheckInYear, Frequency, Habit, PreferredWindow
from models.recommendation import Feedback, RecommenderModel
from models.task import Task
from models.user import User, WorkingHours

DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Goal,
    GoalProgress,
    Habit,
    CheckInYear,
    Calendar,
    Event,
    SyncRun,
    Feedback,
    RecommenderModel,
    Task,
]

__all__ = [
    "DOCUMENT_MODELS",
    "Calendar",
    "CheckInEntry",
    "CheckInYear",
    "Event",
    "Feedback",
    "Frequency",
    "Goal",
    "GoalProgress",
    "Habit",
    "PreferredWindow",
    "PushChannel",
    "RecommenderModel",
    "Source",
    "SyncCursor",
    "SyncRun",
    "SyncState",
    "Target",
    "Task",
    "User",
    "WorkingHours",
]
