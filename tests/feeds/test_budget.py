"""The daily budget: the best K of each announcement day, across feeds and re-polls."""

from __future__ import annotations

from datetime import date

from feeds.models import Match
from feeds.relevance import apply_budget

MON, TUE = date(2024, 11, 25), date(2024, 11, 26)


def matches(*specs: tuple[str, float, str | None]) -> list[Match]:
    return [Match(arxiv_id=a, score=s, section=sec) for a, s, sec in specs]


def chosen(ms: list[Match]) -> list[str]:
    return sorted(m.arxiv_id for m in ms if m.candidate)


def test_best_k_of_each_day() -> None:
    ms = matches(
        ("a", 0.9, "T"), ("b", 0.8, "T"), ("c", 0.7, "T"), ("d", 0.2, "T"), ("e", 0.95, None)
    )
    apply_budget(ms, [MON, MON, MON, TUE, MON], 2, {})
    # e has no section: never a candidate; d is alone on its day, so it is taken.
    assert chosen(ms) == ["a", "b", "d"]


def test_candidates_from_another_feed_use_up_the_day() -> None:
    ms = matches(("x", 0.9, "T"), ("y", 0.8, "T"))
    apply_budget(ms, [MON, MON], 2, {MON: {"other"}})
    assert chosen(ms) == ["x"]
    apply_budget(ms, [MON, MON], 2, {MON: {"o1", "o2"}})
    assert chosen(ms) == []


def test_re_polling_the_same_feed_chooses_the_same_papers() -> None:
    ms = matches(("x", 0.9, "T"), ("y", 0.8, "T"), ("z", 0.7, "T"))
    apply_budget(ms, [MON] * 3, 2, {})
    first = chosen(ms)
    apply_budget(ms, [MON] * 3, 2, {MON: set(first)})
    assert chosen(ms) == first == ["x", "y"]


def test_ties_are_broken_by_id_so_the_choice_is_stable() -> None:
    ms = matches(("b", 0.5, "T"), ("a", 0.5, "T"))
    apply_budget(ms, [MON, MON], 1, {})
    assert chosen(ms) == ["a"]
