"""Ranking a feed's papers: the rules and the relevance model combined, on the list's own sections."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache
from itertools import pairwise
from typing import Literal, Protocol, get_args

import numpy as np

from feeds.errors import PaperbotError
from feeds.models import Match, Paper
from feeds.relevance import (
    RUNNER_UP_RATIO,
    Prediction,
    apply_budget,
    combine,
    combined_scores,
    stop_words,
)
from feeds.rules import RuleSet, read_descriptions

__all__ = [
    "CATCH_ALL_WEIGHT",
    "DESCRIPTION_WEIGHT",
    "SECTION_RULE_WEIGHT",
    "STRONG_RULE",
    "Ranker",
    "RankingError",
    "RelevanceScorer",
    "Selection",
    "day_quota",
    "rank_feed",
    "read_descriptions",
    "rules_for_list",
    "rules_section",
]

log = logging.getLogger(__name__)

Selection = Literal["rate", "budget", "threshold"]
SELECTIONS: tuple[str, ...] = get_args(Selection)

# A rule match this many times the rules' own threshold gets in whatever the model says:
# a phenomenon named in a title is worth a look even when the model has not seen its like.
STRONG_RULE = 2.0
# The catch-all section's scores are scaled by this. Every section is a class of the
# section classifier, the catch-all included: it is the maintainer's commonest choice, and a
# handicap (0.8, 0.6) lowered the section accuracy on the validation years.
CATCH_ALL_WEIGHT = 1.0
# Share of the section scores the rules get where they fire, for a rules file whose
# sections are all the list's (scaled down by the square of the share it has, see Ranker).
# Chosen on validation years of the 2022 list (2018 to 2021, each trained on the years
# before; 224 entries): 0.15 placed 169 right, 0.05 161, 0.1 163, 0.2 168, 0.25 165, 0.3 166.
SECTION_RULE_WEIGHT = 0.15
# Share of the section scores that the sections' descriptions get, when the list has any.
DESCRIPTION_WEIGHT = 0.25
# Papers scoring below this share of the cut are not candidates whatever their section, so
# their vetoes and descriptions are not worth a second look.
_NEAR_CUT = 0.8

_NO_DAY = datetime.min.replace(tzinfo=UTC)  # items without an announcement day share one budget
_WORD = re.compile(r"[a-z][a-z]+")
_NAME_STOP = frozenset({"and", "of", "the", "with", "in", "on", "for", "to", "a"})


class RankingError(PaperbotError, ValueError):
    """Ranking settings that cannot work (an unknown selection, a flag rate outside 0..1)."""


class RelevanceScorer(Protocol):
    """What the ranking needs of a relevance model (feeds.relevance.RelevanceModel is one)."""

    @property
    def version(self) -> int: ...

    def predict(self, papers: Sequence[Paper]) -> list[Prediction]: ...

    def threshold_for_rate(self, rate: float) -> float:
        """The relevance that a share `rate` of ordinary announcements reaches."""
        ...


def _name_words(name: str) -> list[str]:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    return [
        w[:-3] + "y"
        if len(w) > 4 and w.endswith("ies")
        else w[:-1]
        if len(w) > 3 and w.endswith("s")
        else w
        for w in words
    ]


def rules_section(name: str, sections: Sequence[str]) -> str | None:
    """The list section a rules section means: the same words (case, punctuation and plural
    aside), else the one section whose words contain all of its words or are all in them."""
    words = _name_words(name)
    for s in sections:
        if _name_words(s) == words:
            return s
    mine = set(words) - _NAME_STOP
    if not mine:
        return None
    found = [
        s
        for s in sections
        if (theirs := set(_name_words(s)) - _NAME_STOP) and (mine <= theirs or theirs <= mine)
    ]
    return found[0] if len(found) == 1 else None


@cache
def _bundled_rules() -> tuple[RuleSet, ...]:
    return tuple(RuleSet.bundled())


def rules_for_list(sections: Sequence[str]) -> RuleSet:
    """The bundled rules file a list fits best: the one naming the most of the list's
    sections (`rules_section`); the default on a tie, and for a list that none fits."""
    candidates = _bundled_rules()
    return max(
        candidates,
        key=lambda r: sum(rules_section(n, sections) is not None for n in r.sections),
    )


def _content_words(text: str) -> set[str]:
    """A text's content words (4+ letters, no stop words, a plural "s" off) and the pairs
    of them that follow each other ("sparse subnetwork"), as description evidence."""
    words = [
        w[:-1] if w.endswith("s") and not w.endswith("ss") else w
        for w in _WORD.findall(text.lower())
        if len(w) > 3 and w not in stop_words()
    ]
    return {*words, *(f"{a} {b}" for a, b in pairwise(words))}


def day_quota(n: int, rate: float) -> int | None:
    """How many of a day's `n` new announcements `rate` flags; None for a day too small to
    have a best `rate` share (fewer than 1 / rate announcements)."""
    return math.floor(n * rate + 0.5) if n * rate >= 1 else None


class Ranker:
    """Scores papers: the rules, combined with the relevance model once one is trained.

    A paper needs one of the rules' arXiv `categories` to be a candidate (a paper whose
    categories are unknown passes): a community following cs.LG does not want a day's
    number theory, whatever the model makes of text it was never shown.

    With a model, `selection` picks what becomes a candidate: ``"rate"`` (the default)
    the best `flag_rate` share of each announcement day's new papers (the papers ranked
    together: one feed's poll), strong rule matches first; a day too small to have such a
    share (fewer than 1 / flag_rate papers) flags the papers reaching the score that share
    of an ordinary day reaches, as the model measured on held-out background when it was
    trained. ``"threshold"``: every paper reaching an explicit `threshold`; ``"budget"``:
    the best `daily_budget` of each announcement day, counted across feeds and polls. The
    rules keep three jobs: a section's `none` phrases veto it, matches (and watched
    authors) boost the score, and a strong match (`STRONG_RULE` times the rules'
    threshold) gets in whatever the model says (within the day's share, under ``"rate"``).

    Sections come from the list (`sections`, its `catch_all` and optional `descriptions`);
    the rules only add evidence to the sections they name (matched by `rules_section`). A
    rules section the list does not have is reported once in `warnings`. Without
    `sections`, the rules' and the model's own section names are used as they are.
    """

    def __init__(
        self,
        rules: RuleSet,
        model: RelevanceScorer | None = None,
        *,
        selection: Selection = "rate",
        flag_rate: float = 0.03,
        threshold: float = 0.43,
        daily_budget: int = 8,
        sections: Sequence[str] = (),
        catch_all: str | None = None,
        descriptions: Mapping[str, str] | None = None,
        strong_rule: float = STRONG_RULE,
        catch_all_weight: float = CATCH_ALL_WEIGHT,
        description_weight: float = DESCRIPTION_WEIGHT,
        section_rule_weight: float = SECTION_RULE_WEIGHT,
    ) -> None:
        if selection not in SELECTIONS:
            raise RankingError(
                f"selection {selection!r} is not one of {', '.join(map(repr, SELECTIONS))}"
            )
        if not 0.0 < flag_rate < 1.0:
            raise RankingError(f"flag rate {flag_rate} is not between 0 and 1 (0.03 is 3 %)")
        if daily_budget < 0:
            raise RankingError(f"daily budget {daily_budget} is negative")
        self.rules = rules
        self.model = model
        self.selection: Selection = selection
        self.flag_rate = flag_rate
        self.threshold = threshold
        self.daily_budget = daily_budget
        self.sections = list(sections)
        self.catch_all = catch_all if catch_all in self.sections else None
        self.strong_rule = strong_rule
        self.catch_all_weight = catch_all_weight
        self.description_weight = description_weight
        self.warnings: list[str] = []
        if catch_all is not None and self.catch_all is None:
            self.warnings.append(f"catch-all section {catch_all!r} is not a section of the list")
        self.descriptions = {
            s: words
            for s, text in (descriptions or {}).items()
            if s in self.sections and (words := _content_words(text))
        }
        # rules section -> list section (None: the list has no such section)
        self._rule_sections: dict[str, str | None] = {}
        for name in rules.sections:
            mapped = rules_section(name, self.sections) if self.sections else name
            self._rule_sections[name] = mapped
        missing = [n for n, m in self._rule_sections.items() if m is None]
        # A rules file written for other sections files its phenomena under the few names
        # it shares with the list ("double descent" under Empirical Study, where the list
        # has a section of its own): its section evidence counts as much as the file fits.
        fit = 1.0 - len(missing) / max(1, len(self._rule_sections))
        self.section_rule_weight = section_rule_weight * fit**2
        if missing:
            self.warnings.append(
                "rules sections not in the list (their phrases only boost relevance): "
                + ", ".join(missing)
            )
        for warning in self.warnings:
            log.info("%s", warning)

    # -- the pieces

    @property
    def rule_sections(self) -> Mapping[str, str | None]:
        """Each rules section -> the list section it adds evidence to (None: the list has
        none; its phrases only boost relevance)."""
        return dict(self._rule_sections)

    def cut(self) -> float | None:
        """The score a paper needs to become a candidate (None: the budget decides)."""
        if self.selection == "budget":
            return None
        if self.selection == "rate" and self.model is not None:
            return self.model.threshold_for_rate(self.flag_rate)
        return self.threshold

    def _on_list(self, match: Match) -> Match:
        """The rules' match with its sections renamed to the list's (unknown ones dropped)."""
        if not self.sections:
            return match
        scores: dict[str, float] = {}
        for name, value in match.section_scores.items():
            mapped = self._rule_sections.get(name)
            if mapped is not None:
                scores[mapped] = scores.get(mapped, 0.0) + value
        section = max(scores, key=lambda s: scores[s]) if scores else None
        if section is None and match.section is not None:
            section = self.catch_all  # a rules topic the list files under its catch-all
        return replace(
            match,
            section=section,
            section_scores=scores,
            candidate=match.candidate and section is not None,
            runner_up=next(
                (s for s in sorted(scores, key=lambda s: -scores[s]) if s != section), None
            ),
        )

    def _strong(self, rule_match: Match) -> bool:
        return (
            rule_match.candidate
            and rule_match.score >= self.strong_rule * self.rules.threshold
            and rule_match.section is not None
        )

    def _restricted(self, prediction: Prediction) -> Prediction:
        """The model's section scores on the list's sections only."""
        if not self.sections:
            return prediction
        scores = {s: v for s, v in prediction.section_scores.items() if s in self.sections}
        if scores == prediction.section_scores:
            return prediction
        return replace(prediction, section_scores=scores)

    def _decide_section(self, match: Match, paper: Paper, vetoed: set[str], near: bool) -> Match:
        scores = {s: v for s, v in match.section_scores.items() if s not in vetoed and v > 0}
        if near and self.descriptions and scores:
            words = _content_words(f"{paper.title} {paper.abstract}")
            overlap = {s: len(words & d) / math.sqrt(len(d)) for s, d in self.descriptions.items()}
            total = sum(overlap.values())
            if total > 0:
                w = self.description_weight
                names = list(dict.fromkeys([*scores, *overlap]))
                scores = {
                    s: (1 - w) * scores.get(s, 0.0) + w * overlap.get(s, 0.0) / total
                    for s in names
                    if s not in vetoed
                }
        ranking = dict(scores)
        if self.catch_all in ranking and len(ranking) > 1:
            ranking[self.catch_all] *= self.catch_all_weight
        ordered = sorted((s for s in ranking if ranking[s] > 0), key=lambda s: -ranking[s])
        reasons = [r for r in match.reasons if not r.startswith("or ")]
        section = ordered[0] if ordered else None
        runner_up = ordered[1] if len(ordered) > 1 else None
        if runner_up and ranking[runner_up] >= RUNNER_UP_RATIO * ranking[ordered[0]]:
            reasons.append(f"or {runner_up}?")
        if match.section in vetoed:
            reasons.append(f"not {match.section} (a rule vetoes it)")
        return replace(
            match,
            section=section,
            section_scores={s: round(v, 4) for s, v in scores.items()},
            reasons=reasons,
            runner_up=runner_up,
        )

    # -- ranking

    def rank(
        self, papers: Sequence[Paper], taken: dict[date, set[str]] | None = None
    ) -> list[Match]:
        """Matches for `papers`; `taken` names the candidates each day already has (budget)."""
        papers = list(papers)
        raw = self.rules.match_many(papers)
        if self.model is None or not papers:
            return [self._on_list(m) for m in raw]
        return self.decide(papers, raw, self.model.predict(papers), taken)

    def decide(
        self,
        papers: Sequence[Paper],
        rule_matches: Sequence[Match],
        predictions: Sequence[Prediction] | None,
        taken: dict[date, set[str]] | None = None,
    ) -> list[Match]:
        """`rank` for papers already matched by the rules and scored by the model (the
        evaluation scores each paper once and decides many times)."""
        ruled = [self._on_list(m) for m in rule_matches]
        if predictions is None:
            return ruled
        cut = self.cut()
        bar = (cut if cut is not None else 0.0) * _NEAR_CUT
        scores = combined_scores(
            np.array([m.score for m in ruled], dtype=float),
            np.array([p.relevance for p in predictions], dtype=float),
        ).tolist()
        followed = [self.rules.followed(p) for p in papers]
        days = [(p.announced or _NO_DAY).date() for p in papers]
        quotas = self._quotas(days) if self.selection == "rate" else {}
        bars = self._day_bars(days, scores, followed, quotas, bar)
        budget = self.selection == "budget"
        out: list[Match] = []
        strong_at: set[int] = set()  # strong rule matches with a section of their own
        placed_at: set[int] = set()  # papers with a section no rule vetoes
        for i, (paper, rule_raw, rule, prediction, score) in enumerate(
            zip(papers, rule_matches, ruled, predictions, scores, strict=True)
        ):
            if not followed[i]:
                far = self._far(rule, prediction, score)
                shown = ", ".join(paper.categories[:3])
                far.reasons.insert(0, f"not in the categories followed ({shown})")
                out.append(far)
                continue
            strong = self._strong(rule)
            if not (strong or score >= bars.get(days[i], bar) or budget):
                # Far below the cut: not a candidate whatever its section, so the section is
                # the model's first (the rules' without one) and no veto is looked up.
                out.append(self._far(rule, prediction, score))
                continue
            combined = combine(
                rule,
                self._restricted(prediction),
                candidate_threshold=cut or 0.0,
                section_rule_weight=self.section_rule_weight,
            )
            vetoed = {
                mapped
                for name in self.rules.vetoed(paper)
                if (mapped := self._rule_sections.get(name)) is not None
            }
            top_vetoed = combined.section in vetoed
            decided = self._decide_section(combined, paper, vetoed, True)
            reached = cut is not None and decided.score >= cut and not top_vetoed
            decided.candidate = decided.section is not None and (reached or strong)
            if decided.section is not None and not top_vetoed:
                placed_at.add(i)
                if strong:
                    strong_at.add(i)
            if strong and not reached:
                decided.reasons.insert(0, f"strong rule match ({rule_raw.score:g} points)")
            out.append(decided)
        if quotas:
            self._flag_best_share(out, days, quotas, strong_at, placed_at)
        if budget:
            kept = [i for i, ok in enumerate(followed) if ok]
            for i, ok in enumerate(followed):
                out[i].candidate = out[i].candidate and ok
            apply_budget(
                [out[i] for i in kept], [days[i] for i in kept], self.daily_budget, taken or {}
            )
        return out

    def _quotas(self, days: Sequence[date]) -> dict[date, int]:
        """Each day big enough to have a best `flag_rate` share -> how many it flags."""
        counts: dict[date, int] = {}
        for day in days:
            counts[day] = counts.get(day, 0) + 1
        return {
            day: quota
            for day, n in counts.items()
            if (quota := day_quota(n, self.flag_rate)) is not None
        }

    @staticmethod
    def _day_bars(
        days: Sequence[date],
        scores: Sequence[float],
        followed: Sequence[bool],
        quotas: Mapping[date, int],
        bar: float,
    ) -> dict[date, float]:
        """Per day with a quota, the score below which a paper cannot be among the day's
        best (with room to spare for vetoes): only those above get a section worked out."""
        by_day: dict[date, list[float]] = {}
        for day, score, ok in zip(days, scores, followed, strict=True):
            if ok and day in quotas:
                by_day.setdefault(day, []).append(score)
        out: dict[date, float] = {}
        for day, values in by_day.items():
            values.sort(reverse=True)
            out[day] = min(bar, values[min(len(values) - 1, 2 * quotas[day] + 4)])
        return out

    def _flag_best_share(
        self,
        matches: list[Match],
        days: Sequence[date],
        quotas: Mapping[date, int],
        strong_at: set[int],
        placed_at: set[int],
    ) -> None:
        """Mark the best `quotas[day]` of each such day as its candidates, in place: strong
        rule matches first, then by score; vetoed and unplaced papers never."""
        groups: dict[date, list[int]] = {}
        for i, day in enumerate(days):
            if day in quotas:
                groups.setdefault(day, []).append(i)
        for day, members in groups.items():
            eligible = [i for i in members if i in placed_at]
            eligible.sort(
                key=lambda i: (i not in strong_at, -matches[i].score, matches[i].arxiv_id)
            )
            chosen = set(eligible[: quotas[day]])
            for rank, i in enumerate(eligible, 1):
                matches[i].candidate = i in chosen
                if i in chosen:
                    matches[i].reasons.insert(0, f"#{rank} of the {len(members)} new that day")
            for i in members:
                if i not in chosen:
                    matches[i].candidate = False

    def _far(self, rule: Match, prediction: Prediction, score: float) -> Match:
        section = prediction.section
        if self.sections and section not in self.sections:
            section = rule.section
        return Match(
            arxiv_id=rule.arxiv_id,
            score=round(score, 4),
            section=section,
            reasons=[*rule.reasons, f"model relevance {prediction.relevance:.2f}"],
            candidate=False,
        )

    def is_strong(self, rule_match: Match) -> bool:
        """A rules match (as the rules gave it) strong enough to get in on its own."""
        return self._strong(self._on_list(rule_match))


def rank_feed(
    ranker: Ranker, papers: Sequence[Paper], taken: dict[date, set[str]] | None = None
) -> list[tuple[Paper, Match]]:
    """Each paper with its Match; replacements are not ranked (they only refresh records)."""
    fresh = [p for p in papers if not p.is_update]
    ranked = iter(ranker.rank(fresh, taken))
    return [(p, Match(p.arxiv_id, 0.0, None) if p.is_update else next(ranked)) for p in papers]
