from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.recommend.ranking import Pick


@strawberry.type(description="A feature that moved a slot's score, and how much (signed).")
class Reason:
    feature: str
    contribution: float = strawberry.field(
        description="How much it moved the slot's score, in log-odds: a SHAP value of the "
        "model, a signal of the heuristic (each times its blend weight), or the user's own "
        "answers near the slot."
    )


@strawberry.type(description="A free slot for a habit, best first.")
class Recommendation:
    start: datetime
    end: datetime
    score: float = strawberry.field(
        description="How likely the habit is done in this slot, in [0, 1]: a calibrated "
        "probability, moved by the user's own answers at once."
    )
    reasons: list[Reason] = strawberry.field(
        description="The features that moved the score most, strongest first."
    )
    ranked_by: str = strawberry.field(
        description='What ranked the slot: "heuristic" or the model and version.'
    )

    @classmethod
    def of(cls, pick: Pick) -> Recommendation:
        return cls(
            start=pick.start,
            end=pick.end,
            score=pick.score,
            reasons=[Reason(feature=f, contribution=c) for f, c in pick.reasons],
            ranked_by=pick.ranked_by,
        )
