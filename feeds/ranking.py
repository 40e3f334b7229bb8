"""Ranking a feed's papers: the rules, combined with the relevance model once one is trained."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from feeds.models import Match, Paper
from feeds.relevance import apply_budget, combine
from feeds.rules import RuleSet

_NO_DAY = datetime.min.replace(tzinfo=UTC)  # items without an announcement day share one budget


class Ranker:
    """Scores papers: the rules, combined with the relevance model once one is trained.

    With a model, `selection` picks what becomes a candidate: every paper whose combined
    score reaches `threshold`, or the best `daily_budget` of each announcement day.
    """

    def __init__(
        self,
        rules: RuleSet,
        model: Any | None = None,
        *,
        selection: str = "threshold",
        threshold: float = 0.5,
        daily_budget: int = 8,
    ) -> None:
        self.rules = rules
        self.model = model
        self.selection = selection
        self.threshold = threshold
        self.daily_budget = daily_budget

    def rank(self, papers: list[Paper], taken: dict[date, set[str]] | None = None) -> list[Match]:
        """Matches for `papers`; `taken` names the candidates each day already has (budget)."""
        matches = self.rules.match_many(papers)
        if self.model is None or not papers:
            return matches
        predictions = self.model.predict(papers)
        combined = [
            combine(m, p, candidate_threshold=self.threshold)
            for m, p in zip(matches, predictions, strict=True)
        ]
        if self.selection == "budget":
            days = [(p.announced or _NO_DAY).date() for p in papers]
            apply_budget(combined, days, self.daily_budget, taken or {})
        return combined


def rank_feed(
    ranker: Ranker, papers: list[Paper], taken: dict[date, set[str]] | None = None
) -> list[tuple[Paper, Match]]:
    """Each paper with its Match; replacements are not ranked (they only refresh records)."""
    fresh = [p for p in papers if not p.is_update]
    ranked = iter(ranker.rank(fresh, taken))
    return [(p, Match(p.arxiv_id, 0.0, None) if p.is_update else next(ranked)) for p in papers]
