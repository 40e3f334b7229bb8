"""Combining the model's prediction with the rules' match, and choosing each day's candidates."""

from __future__ import annotations

from datetime import date

import numpy as np

from feeds.models import Match
from feeds.relevance.model import Prediction

RUNNER_UP_RATIO = 0.8  # a second section within 80% of the first is worth showing
RULE_BOOST = 0.3  # how far a rule match lifts the model's relevance toward 1
RULE_SCALE = 6.0  # rule points that make up 63 % of the boost


def combine(
    rule_match: Match,
    prediction: Prediction | None,
    *,
    rule_boost: float = RULE_BOOST,
    rule_scale: float = RULE_SCALE,
    section_rule_weight: float = 0.5,
    candidate_threshold: float = 0.5,
) -> Match:
    """One score from the model, boosted by the rules; the rules decide alone without a model.

    The score is the model's relevance lifted toward 1 by the rules: `relevance + (1 -
    relevance) * rule_boost * (1 - exp(-rule score / rule_scale))`, so it stays in 0..1, a
    paper no rule matches keeps the model's calibrated relevance, and more rule evidence
    never lowers a score. Section scores are the model's (normalised to sum 1) mixed with
    the rules' (likewise) by `section_rule_weight` when any rule fired; the section is their
    best, the runner-up the second (named in the reasons when within `RUNNER_UP_RATIO` of
    it). The rules' reasons are kept and the model's added.
    """
    if prediction is None:
        return rule_match
    score = float(
        combined_scores(
            np.array([rule_match.score]),
            np.array([prediction.relevance]),
            rule_boost=rule_boost,
            rule_scale=rule_scale,
        )[0]
    )

    scores = _normalised(prediction.section_scores)
    rules = _normalised(rule_match.section_scores)
    if rules:
        names = list(dict.fromkeys([*scores, *rules]))
        w = section_rule_weight if scores else 1.0
        scores = {s: (1 - w) * scores.get(s, 0.0) + w * rules.get(s, 0.0) for s in names}
    ranked = sorted((s for s in scores if scores[s] > 0), key=lambda s: -scores[s])
    section = ranked[0] if ranked else (prediction.section or rule_match.section)
    runner_up = ranked[1] if len(ranked) > 1 else None

    reasons = list(rule_match.reasons)
    reasons.append(f"model relevance {prediction.relevance:.2f}")
    reasons.extend(f"like *{n.title}* ({n.similarity:.2f})" for n in prediction.neighbours[:1])
    if runner_up and scores[runner_up] >= RUNNER_UP_RATIO * scores[ranked[0]]:
        reasons.append(f"or {runner_up}?")
    return Match(
        arxiv_id=rule_match.arxiv_id,
        score=round(score, 4),
        section=section,
        reasons=reasons,
        section_scores={s: round(v, 4) for s, v in scores.items()},
        candidate=section is not None and score >= candidate_threshold,
        runner_up=runner_up,
    )


def combined_scores(
    rule_scores: np.ndarray,
    relevance: np.ndarray,
    *,
    rule_boost: float = RULE_BOOST,
    rule_scale: float = RULE_SCALE,
) -> np.ndarray:
    """`combine`'s score, vectorised: for ranking many papers when only the score matters."""
    rule_part = 1.0 - np.exp(-np.maximum(0.0, np.asarray(rule_scores, dtype=float)) / rule_scale)
    rel = np.asarray(relevance, dtype=float)
    return np.asarray(rel + (1.0 - rel) * rule_boost * rule_part)


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    total = sum(v for v in scores.values() if v > 0)
    return {s: max(v, 0.0) / total for s, v in scores.items()} if total > 0 else {}


def apply_budget(
    matches: list[Match], days: list[date], budget: int, taken: dict[date, set[str]]
) -> None:
    """Mark as candidates the best `budget` of each announcement day, in place.

    Candidates a day already has (from other feeds or earlier polls) use up its budget,
    unless they are among `matches` again, so re-polling a feed chooses the same papers.
    """
    by_day: dict[date, list[Match]] = {}
    for match, day in zip(matches, days, strict=True):
        match.candidate = False
        if match.section is not None:
            by_day.setdefault(day, []).append(match)
    for day, group in by_day.items():
        here = {m.arxiv_id for m in group}
        left = max(0, budget - len(taken.get(day, set()) - here))
        group.sort(key=lambda m: (-m.score, m.arxiv_id))
        for match in group[:left]:
            match.candidate = True
