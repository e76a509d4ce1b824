from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.recommend.service import Pick


@strawberry.type(description="A feature that moved a slot's score, and how much (signed).")
class Reason:
    feature: str
    contribution: float = strawberry.field(
        description="The model's SHAP value in log-odds, or the heuristic's share of the score."
    )


@strawberry.type(description="A free slot for a habit, best first.")
class Recommendation:
    pick: strawberry.Private[Pick]

    @strawberry.field
    def start(self) -> datetime:
        return self.pick.start

    @strawberry.field
    def end(self) -> datetime:
        return self.pick.end

    @strawberry.field(description="How likely the habit is done in this slot, in [0, 1].")
    def score(self) -> float:
        return self.pick.score

    @strawberry.field(description="The features that moved the score most, strongest first.")
    def reasons(self) -> list[Reason]:
        return [Reason(feature=f, contribution=c) for f, c in self.pick.reasons]

    @strawberry.field(description='What ranked the slot: "heuristic" or the model and version.')
    def ranked_by(self) -> str:
        return self.pick.ranked_by
