from __future__ import annotations

from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import IndexModel

from models.base import DOCUMENT_CONFIG, DocumentId, Instant, Ref, owner_index, utcnow


class Feedback(Document):
    """What the user said of one recommended slot: taken (accepted) or turned down."""

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    user_id: str = Field(alias="userId")
    habit_id: Ref = Field(alias="habitId")
    start: Instant
    accepted: bool
    recorded_at: Instant = Field(default_factory=utcnow, alias="recordedAt")

    class Settings:
        name = "recommendation_feedback"
        indexes = [
            IndexModel([("habitId", 1), ("start", 1)], unique=True),
            owner_index(),
            IndexModel([("userId", 1), ("habitId", 1)]),
        ]


class RecommenderModel(Document):
    """A trained slot ranker: the global one (scope "global") or a user's (scope = their id).

    The booster is XGBoost's own UBJSON (`save_raw("ubj")`); versions only grow
    within a scope, and the API serves the newest of each.
    """

    model_config = DOCUMENT_CONFIG

    id: DocumentId
    scope: str
    version: int
    booster: bytes
    features: list[str]
    training_size: int = Field(alias="trainingSize")
    metrics: dict[str, Any] = Field(default_factory=dict)
    created_at: Instant = Field(default_factory=utcnow, alias="createdAt")

    class Settings:
        name = "recommender_models"
        indexes = [IndexModel([("scope", 1), ("version", -1)], unique=True)]
