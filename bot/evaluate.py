"""Replays an awesome list against real arXiv announcements: the rules alone vs what paperbot ships.

Protocol (`run_evaluation`):

* The list is parsed (db.awesome). Each entry is a paper the community accepted; its text is
  title + digest (list entries carry no abstract), exactly what the catalog holds for an
  imported entry, with the entry's key words.
* Held-out entries: leave-one-out for lists of up to 200 entries (one model per entry,
  trained on all the others); above that a time split: trained on the entries of the years
  before the list's latest year, tested on that year's (the 2022 README: up to 2021, then
  2022). Without year headings the newest fifth by arXiv id is held out.
* Background the models are tested against (*test background*): the announcements in the
  `background` files (JSON Lines of arXiv metadata, or arXiv feeds), ML/AI categories only,
  minus the list's papers and minus every announcement *day* the bundled sample holds, so
  no test day was ever trained on. Without files, the bundled sample is split by day: every
  other day is tested on, and only the others are trained on.
* What ships, measured twice: "cold start" (right after import: trained on the bundled
  sample, as `feeds.background.training_background` gives it with no community items) and,
  when the test background has a day to spare, "after a poll" (that one day's items as the
  community's own background, topped up from the sample; the day is then not tested on).
  Both go through `feeds.ranking.Ranker` with the list's own sections and catch-all, so
  rules, veto, boost and section choice are those of a real poll.
* "Flagged at X %": the score above which X % of the test background lies. Recall is the
  share of held-out list papers at or above it; a held-out paper tied with background
  papers at the threshold counts for the share of the tied ones that fit in the X %. A
  strong rule match is flagged whatever its score, so it ranks above every score.
* Section accuracy: the share of held-out papers whose suggested section is the list's
  (top-1), and whose suggested section or runner-up is (top-2); beside it the plain
  baseline, a class-balanced tf-idf logistic regression on the training entries alone.
  Section signals are measured one at a time on the cold-start model (the classifier
  alone, the rules' weight, the descriptions, a catch-all handicap).
* Whole days: each arXiv feed among the background files is also ranked day by day, every
  archive included, as a poll ranks it (the rules' categories, the day's best flag-rate
  share): the share of its new announcements flagged, and of those, the share with no
  category near deep learning.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from db.awesome import Entry, catch_all_section, match_section, parse_awesome
from feeds.background import BackgroundPaper, bundled_papers, read_background
from feeds.errors import PaperbotError
from feeds.models import Match, Paper
from feeds.ranking import CATCH_ALL_WEIGHT, SECTION_RULE_WEIGHT, Ranker, rules_for_list
from feeds.relevance import (
    Example,
    RelevanceModel,
    TextFeatures,
    example_text,
)
from feeds.rules import RuleSet

FLAG_RATES = (1, 3, 5, 10)  # percent of the test background flagged
LOO_MAX_ENTRIES = 200  # up to this many entries: leave-one-out; above: a time split
TIME_SPLIT_HELD_OUT = 0.2  # without year headings: the newest fifth by arXiv id
TRAIN_BACKGROUND = 5000  # background the models train on (what the application asks for)
TEST_BACKGROUND = 10_000  # test background scored (a seeded sample when there is more)
POLL_DAY_MIN = 150  # a day with fewer ML announcements is not an ordinary day

RULES = "rules alone"
BASELINE = "plain baseline"
COLD = "cold start *"
WARM = "after a poll"
DEFAULT = COLD
# Categories near deep learning: a candidate with none of them comes from far away.
NEAR_ARCHIVES = ("cs.", "stat.", "eess.", "q-bio.", "nlin.")
NEAR_CATEGORIES = frozenset(
    {
        "math.OC",
        "math.ST",
        "math.PR",
        "math.NA",
        "math.IT",
        "math.DS",
        "cond-mat.dis-nn",
        "cond-mat.stat-mech",
        "physics.data-an",
        "physics.comp-ph",
        "physics.bio-ph",
    }
)


def near_deep_learning(categories: Sequence[str]) -> bool:
    """Whether a paper has a category near deep learning (any of cs, stat, eess, q-bio,
    nlin, and a few of math, cond-mat and physics)."""
    return any(c.startswith(NEAR_ARCHIVES) or c in NEAR_CATEGORIES for c in categories)


Progress = Callable[[str], None]


class EvaluationError(PaperbotError):
    """A list or background that cannot be replayed (too few entries, no background)."""


@dataclass(slots=True)
class ScorerResult:
    """One column of the table."""

    name: str
    recall: dict[int, float]  # flag rate in percent -> recall of held-out list papers
    section_accuracy: float  # top-1
    section_top2: float | None = None  # the list's section is the suggested one or the runner-up
    flagged_at_default: float | None = None  # share of test background that became candidates
    recall_at_default: float | None = None  # share of held-out papers that became candidates


@dataclass(slots=True)
class DayResult:
    """One whole announcement day of a `--background` feed, ranked as a poll ranks it."""

    source: str
    day: str
    new: int  # new announcements (replacements aside)
    flagged: int
    far: int  # candidates with no category near deep learning

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.new if self.new else 0.0

    @property
    def far_share(self) -> float:
        return self.far / self.flagged if self.flagged else 0.0


@dataclass(slots=True)
class EvaluationReport:
    protocol: str  # "leave-one-out" | "time split"
    list_entries: int
    held_out: int
    trainings: int
    test_background: int
    train_background: int
    background_sources: dict[str, int]  # source -> papers in the test background
    results: list[ScorerResult]
    section_signals: dict[str, float]  # signal set -> section accuracy (cold-start model)
    default: str
    seconds: float
    split: str = ""  # what was trained on and what tested
    notes: list[str] = field(default_factory=list)
    days: list[DayResult] = field(default_factory=list)  # whole feed days, as a poll ranks them

    def result(self, name: str) -> ScorerResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "split": self.split,
            "list_entries": self.list_entries,
            "held_out": self.held_out,
            "trainings": self.trainings,
            "test_background": self.test_background,
            "train_background": self.train_background,
            "background_sources": self.background_sources,
            "default": self.default,
            "seconds": round(self.seconds, 2),
            "results": [
                {
                    "name": r.name,
                    "recall": {f"{k}%": round(v, 4) for k, v in r.recall.items()},
                    "section_accuracy": round(r.section_accuracy, 4),
                    "section_top2": None if r.section_top2 is None else round(r.section_top2, 4),
                    "flagged_at_default": r.flagged_at_default,
                    "recall_at_default": r.recall_at_default,
                }
                for r in self.results
            ],
            "section_signals": {k: round(v, 4) for k, v in self.section_signals.items()},
            "notes": self.notes,
            "days": [asdict(d) for d in self.days],
        }


# --- scoring helpers ------------------------------------------------------------------------


def _recall_at(held: np.ndarray, background: np.ndarray, rate: int) -> np.ndarray:
    """Per held-out score: 1 flagged, 0 not, a fraction when tied at the threshold."""
    n = len(background)
    k = max(1, math.floor(n * rate / 100))  # background papers flagged
    ordered = np.sort(background)[::-1]
    t = ordered[k - 1]
    above = int((background > t).sum())
    tied = int((background == t).sum())
    slots = k - above  # of the tied background papers, this many fit in the budget
    out = (held > t).astype(float)
    out[held == t] = (slots + 1) / (tied + 1)  # the held-out paper joins the tie
    return np.asarray(out)


def _id_order(arxiv_id: str) -> tuple[int, int]:
    """Sort key by announcement time: new ids YYMM.NNNNN, old ids archive/YYMMNNN."""
    m = re.match(r"^(\d{2})(\d{2})\.(\d+)$", arxiv_id)
    if m:
        yymm = int(m.group(1)) * 100 + int(m.group(2))
        return (yymm + 200000 if int(m.group(1)) < 91 else yymm, int(m.group(3)))
    m = re.search(r"/(\d{2})(\d{2})(\d+)$", arxiv_id)
    if m:
        yy = int(m.group(1))
        return (
            (yy + 2000 if yy < 91 else yy + 1900) * 100 + int(m.group(2)) - 190000,
            int(m.group(3)),
        )
    return (0, 0)


def _ranking_scores(
    ranker: Ranker,
    papers: Sequence[Paper],
    rule_matches: Sequence[Match],
    decided: Sequence[Match],
) -> np.ndarray:
    """What orders papers for "flagged at X %": the score, a strong rule match above all,
    and a paper outside the rules' categories below all (it is never a candidate)."""
    return np.array(
        [
            m.score
            + (1.0 if ranker.is_strong(r) else 0.0)
            - (0.0 if ranker.rules.followed(p) else 2.0)
            for p, r, m in zip(papers, rule_matches, decided, strict=True)
        ]
    )


@dataclass(slots=True)
class _Tally:
    hits: dict[int, list[float]] = field(default_factory=lambda: {r: [] for r in FLAG_RATES})
    right: list[bool] = field(default_factory=list)
    right2: list[bool] = field(default_factory=list)
    flagged: list[float] = field(default_factory=list)
    caught: list[float] = field(default_factory=list)

    def add(
        self,
        held: np.ndarray,
        background: np.ndarray,
        sections_right: list[bool],
        held_candidates: list[bool] | None = None,
        bg_candidates: list[bool] | None = None,
        top2_right: list[bool] | None = None,
    ) -> None:
        for r in FLAG_RATES:
            self.hits[r].extend(_recall_at(held, background, r))
        self.right.extend(sections_right)
        self.right2.extend(top2_right or [])
        if held_candidates is not None and bg_candidates is not None:
            self.caught.extend(float(c) for c in held_candidates)
            self.flagged.append(float(np.mean(bg_candidates)) if bg_candidates else 0.0)

    def result(self, name: str) -> ScorerResult:
        return ScorerResult(
            name=name,
            recall={r: float(np.mean(self.hits[r])) if self.hits[r] else 0.0 for r in FLAG_RATES},
            section_accuracy=float(np.mean(self.right)) if self.right else 0.0,
            section_top2=float(np.mean(self.right2)) if self.right2 else None,
            flagged_at_default=round(float(np.mean(self.flagged)), 4) if self.flagged else None,
            recall_at_default=round(float(np.mean(self.caught)), 4) if self.caught else None,
        )


# --- background ---------------------------------------------------------------------------


def _test_background(
    files: Sequence[Path] | None,
    exclude: set[str],
    say: Progress,
) -> tuple[list[BackgroundPaper], list[BackgroundPaper], list[str]]:
    """(training background, test background, notes): disjoint by announcement day."""
    bundled = list(bundled_papers())
    notes: list[str] = []
    if not files:
        days = sorted({p.day or "" for p in bundled})
        test_days = set(days[1::2])
        train = [p for p in bundled if (p.day or "") not in test_days and p.arxiv_id not in exclude]
        held = [p for p in bundled if (p.day or "") in test_days and p.arxiv_id not in exclude]
        notes.append(
            f"background: the bundled sample split by day ({len(days) - len(test_days)} days "
            f"trained on, {len(test_days)} tested on); pass --background files of other days "
            "for a fairer test"
        )
        return train, held, notes
    bundled_days = {p.day for p in bundled if p.day}
    bundled_ids = {p.arxiv_id for p in bundled}
    seen = set(exclude) | bundled_ids
    test: list[BackgroundPaper] = []
    dropped = 0
    for path in files:
        n0 = len(test)
        for p in read_background(Path(path)):
            if p.day in bundled_days:
                dropped += 1
                continue
            if p.arxiv_id in seen:
                continue
            seen.add(p.arxiv_id)
            test.append(p)
        say(f"background: {Path(path).name}: {len(test) - n0} announcements")
    if dropped:
        notes.append(f"{dropped} announcements of days the bundled sample holds were left out")
    if not test:
        raise EvaluationError("no background announcements to test against in the given files")
    return [p for p in bundled if p.arxiv_id not in exclude], test, notes


def _sample(
    papers: list[BackgroundPaper], n: int | None, rng: np.random.Generator
) -> list[BackgroundPaper]:
    if n is None or n >= len(papers):
        return papers
    idx = np.sort(rng.choice(len(papers), size=n, replace=False))
    return [papers[i] for i in idx]


def _poll_day(test: list[BackgroundPaper]) -> str | None:
    """The earliest ordinary day of the test background (to play the first poll)."""
    counts: dict[str, int] = {}
    for p in test:
        if p.day:
            counts[p.day] = counts.get(p.day, 0) + 1
    days = sorted(d for d, c in counts.items() if c >= POLL_DAY_MIN)
    return days[0] if days and len(counts) > 1 else None


# --- the replay ---------------------------------------------------------------------------


def run_evaluation(
    list_text: str,
    background: Sequence[Path] | None = None,
    *,
    rules: RuleSet | None = None,
    progress: Progress | None = None,
    train_background: int = TRAIN_BACKGROUND,
    test_background: int | None = TEST_BACKGROUND,
    split_year: int | None = None,
    descriptions: Mapping[str, str] | None = None,
    seed: int = 0,
) -> EvaluationReport:
    """Replay `list_text` (an awesome list) against real announcements.

    `background`: files of announcements to test against (JSON Lines, optionally gzipped,
    or arXiv RSS/Atom); None tests on the bundled sample's own days held out. `rules`:
    default the bundled rules file the list fits (`rules_for_list`), as the application
    chooses. `train_background`/`test_background` cap the two backgrounds (seeded samples). `split_year`: for a time split, test on that year's
    entries (trained on the earlier ones) instead of the latest year's. `progress` receives
    one-line status messages. `descriptions`: section -> what belongs there (see
    `feeds.rules.read_descriptions`), used as the application would use them.
    """
    started = time.perf_counter()
    say: Progress = progress or (lambda _m: None)

    rng = np.random.default_rng(seed)

    doc = parse_awesome(list_text)
    entries = [e for e in doc.entries if e.title]
    if len(entries) < 6:
        raise EvaluationError(
            f"the list has {len(entries)} entries; at least 6 are needed to replay it"
        )
    sections = list(dict.fromkeys(e.section for e in entries))
    catch_all = catch_all_section(doc)
    rules = rules or rules_for_list(sections)  # as the application chooses them
    if descriptions:  # named as the application names them: forgivingly
        descriptions = {
            found: text
            for name, text in descriptions.items()
            if (found := match_section(name, sections)) is not None
        }
    list_ids = {e.arxiv_id for e in entries if e.arxiv_id}

    # Which entries are held out, and what each training sees.
    if split_year is not None and len(entries) <= LOO_MAX_ENTRIES:
        raise EvaluationError(
            f"a test year needs a time split, and a list of {len(entries)} entries is replayed"
            f" leave-one-out (a time split is for lists over {LOO_MAX_ENTRIES} entries)"
        )
    if len(entries) <= LOO_MAX_ENTRIES:
        protocol = "leave-one-out"
        split = f"each of {len(entries)} entries held out in turn"
        folds = [([j for j in range(len(entries)) if j != i], [i]) for i in range(len(entries))]
    else:
        protocol = "time split"
        years = [e.year for e in entries if e.year is not None]
        if years and len(set(years)) > 1:
            last = split_year if split_year is not None else max(years)
            if split_year is not None and not (min(years) < split_year <= max(years)):
                raise EvaluationError(
                    f"test year {split_year}: the list's entries are from {min(years)} to"
                    f" {max(years)}, and some must come before the year tested"
                )
            test_idx_all = [i for i, e in enumerate(entries) if e.year == last]
            if not test_idx_all:
                raise EvaluationError(f"test year {last}: the list has no entries of {last}")
            later = {i for i, e in enumerate(entries) if e.year is not None and e.year > last}
            split = f"trained on the entries up to {last - 1}, tested on the {last} ones"
        else:
            if split_year is not None:
                raise EvaluationError(
                    f"test year {split_year}: the list's entries are not filed under years"
                )
            dated = sorted(
                (i for i, e in enumerate(entries) if e.arxiv_id),
                key=lambda i: _id_order(entries[i].arxiv_id or ""),
            )
            test_idx_all = dated[-max(1, int(len(dated) * TIME_SPLIT_HELD_OUT)) :]
            later = set()
            split = f"the newest {len(test_idx_all)} entries by arXiv id held out"
        train_idx_all = sorted(set(range(len(entries))) - set(test_idx_all) - later)
        folds = [(train_idx_all, test_idx_all)]

    train_bg, test_bg, notes = _test_background(background, list_ids, say)
    poll_day = _poll_day(test_bg) if background else None
    community = [p for p in test_bg if poll_day and p.day == poll_day]
    if poll_day:
        test_bg = [p for p in test_bg if p.day != poll_day]
    test_bg = _sample(test_bg, test_background, rng)
    cold_bg = _first(train_bg, train_background)
    seen_cold = {p.arxiv_id for p in cold_bg}
    warm_bg = (
        (community + [p for p in cold_bg if p.arxiv_id not in {c.arxiv_id for c in community}])[
            :train_background
        ]
        if community
        else []
    )
    sources: dict[str, int] = {}
    for p in test_bg:
        sources[p.source] = sources.get(p.source, 0) + 1
    say(f"background: {len(test_bg)} to test on, {len(cold_bg)} to train on")

    # Text features: fit once (unsupervised) on the list and the training backgrounds.
    list_texts = [example_text(e.title, e.digest or "") for e in entries]
    extra = [p for p in community if p.arxiv_id not in seen_cold]
    bg_fit = cold_bg + extra
    features = TextFeatures.fit(
        list_texts + [example_text(p.title, p.abstract) for p in bg_fit], seed=seed
    )
    list_rows = features.transform(list_texts)
    bg_rows = features.transform(example_text(p.title, p.abstract) for p in bg_fit)
    row_of = {p.arxiv_id: i for i, p in enumerate(bg_fit)}
    test_rows = features.transform(example_text(p.title, p.abstract) for p in test_bg)
    say(f"features: {features.n_terms} terms + {features.lsa_dims} latent")

    entry_papers = [
        Paper(arxiv_id=e.arxiv_id or e.key, title=e.title, abstract=e.digest or "") for e in entries
    ]
    test_papers = [
        Paper(
            arxiv_id=p.arxiv_id, title=p.title, abstract=p.abstract, categories=list(p.categories)
        )
        for p in test_bg
    ]
    entry_rules = rules.match_many(entry_papers)
    test_rules = rules.match_many(test_papers)
    rules_ranker = Ranker(rules, sections=sections, catch_all=catch_all)
    notes.extend(rules_ranker.warnings)

    configs: dict[str, list[BackgroundPaper]] = {COLD: cold_bg}
    if warm_bg:
        configs[WARM] = warm_bg
        notes.append(
            f"{WARM}: the {poll_day} announcements ({len(community)}) as the community's own "
            "background, topped up from the bundled sample; that day is not tested on"
        )
    tallies = {RULES: _Tally(), **{name: _Tally() for name in configs}}
    baseline: list[tuple[bool, bool]] = []  # (top-1 right, top-2 right) per held-out entry
    day_results: list[DayResult] = []
    feed_days = _feed_days(background or ())
    signals = _signal_settings(catch_all)
    signal_right: dict[str, list[bool]] = {name: [] for name in signals}
    now = datetime.now(UTC)
    trainings = 0
    for f, (train_idx, test_idx) in enumerate(folds):
        held = [entries[i] for i in test_idx]
        held_papers = [entry_papers[i] for i in test_idx]
        held_rules = [entry_rules[i] for i in test_idx]
        rr_held = rules_ranker.decide(held_papers, held_rules, None)
        rr_bg = rules_ranker.decide(test_papers, test_rules, None)
        tallies[RULES].add(
            np.array([m.score for m in rr_held]),
            np.array([m.score for m in rr_bg]),
            [m.section == e.section for m, e in zip(rr_held, held, strict=True)],
            [m.candidate for m in rr_held],
            [m.candidate for m in rr_bg],
            [e.section in (m.section, m.runner_up) for m, e in zip(rr_held, held, strict=True)],
        )
        baseline.extend(_plain_baseline([entries[i] for i in train_idx], held))
        positives = [
            Example(
                entries[i].key,
                entries[i].title,
                entries[i].digest or "",
                entries[i].section,
                "positive",
                tuple(entries[i].keywords),
            )
            for i in train_idx
        ]
        for name, bg in configs.items():
            examples = positives + [p.example() for p in bg]
            matrix = sp.vstack(
                [list_rows[train_idx], bg_rows[[row_of[p.arxiv_id] for p in bg]]], format="csr"
            )
            model = RelevanceModel.train(examples, now=now, features=features, matrix=matrix)
            trainings += 1
            ranker = Ranker(
                rules, model, sections=sections, catch_all=catch_all, descriptions=descriptions
            )
            held_pred = model.predict_rows(list_rows[test_idx])
            bg_pred = model.predict_rows(test_rows) if len(test_papers) else []
            held_m = ranker.decide(held_papers, held_rules, held_pred)
            bg_m = ranker.decide(test_papers, test_rules, bg_pred)
            held_scores = _ranking_scores(ranker, held_papers, held_rules, held_m)
            bg_scores = _ranking_scores(ranker, test_papers, test_rules, bg_m)
            held_flags = [m.candidate for m in held_m]
            bg_flags = [m.candidate for m in bg_m]
            if ranker.selection == "rate" and len(bg_scores):
                # the test background has no days: its best flag_rate share is the cut
                cut = float(
                    np.sort(bg_scores)[::-1][max(0, round(len(bg_scores) * ranker.flag_rate) - 1)]
                )
                held_flags = [
                    bool(x >= cut) and m.section is not None
                    for x, m in zip(held_scores, held_m, strict=True)
                ]
                bg_flags = [
                    bool(x >= cut) and m.section is not None
                    for x, m in zip(bg_scores, bg_m, strict=True)
                ]
            tallies[name].add(
                held_scores,
                bg_scores,
                [m.section == e.section for m, e in zip(held_m, held, strict=True)],
                held_flags,
                bg_flags,
                [e.section in (m.section, m.runner_up) for m, e in zip(held_m, held, strict=True)],
            )
            if name == COLD and f == 0:
                day_results = [_rank_day(ranker, day) for day in feed_days]
            if name == COLD:
                for signal, variant in signals.items():
                    vr = Ranker(
                        rules,
                        model,
                        sections=sections,
                        catch_all=catch_all,
                        catch_all_weight=variant.catch_all_weight,
                        section_rule_weight=variant.rule_weight,
                        descriptions=descriptions if variant.descriptions else None,
                    )
                    empty = [Match(r.arxiv_id, 0.0, None) for r in held_rules]
                    vm = vr.decide(held_papers, held_rules if variant.rules else empty, held_pred)
                    signal_right[signal].extend(
                        m.section == e.section for m, e in zip(vm, held, strict=True)
                    )
        if len(folds) > 1 and (f + 1) % 10 == 0:
            say(f"fold {f + 1}/{len(folds)}; {time.perf_counter() - started:.1f}s")

    results = [tallies[n].result(n) for n in tallies]
    results.insert(
        1,
        ScorerResult(
            name=BASELINE,
            recall={},
            section_accuracy=float(np.mean([a for a, _ in baseline])) if baseline else 0.0,
            section_top2=float(np.mean([b for _, b in baseline])) if baseline else None,
        ),
    )
    notes.append(
        f"{BASELINE}: sections only, a class-balanced tf-idf logistic regression (scikit-learn's"
        " defaults) on the training entries' title, digest and key words"
    )
    no_digest = sum(1 for e in entries if not e.digest)
    if no_digest:
        notes.append(f"{no_digest} entries have no digest: judged by their title alone")
    if catch_all:
        notes.append(f"catch-all section: {catch_all}")
    if descriptions:
        known = [s for s in sections if s in descriptions]
        notes.append(f"section descriptions used: {len(known)} of {len(sections)} sections")
    return EvaluationReport(
        protocol=protocol,
        list_entries=len(entries),
        held_out=sum(len(t) for _, t in folds),
        trainings=trainings,
        test_background=len(test_bg),
        train_background=len(cold_bg),
        background_sources=sources,
        results=results,
        section_signals={k: float(np.mean(v)) if v else 0.0 for k, v in signal_right.items()},
        default=DEFAULT,
        seconds=time.perf_counter() - started,
        split=split,
        notes=notes,
        days=day_results,
    )


def _plain_baseline(train: Sequence[Entry], held: Sequence[Entry]) -> list[tuple[bool, bool]]:
    """(top-1 right, top-2 right) of the plain section baseline for each held-out entry."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = [e.section for e in train]
    if len(set(labels)) < 2:
        return [(e.section == labels[0], e.section == labels[0]) for e in held] if labels else []
    vec = TfidfVectorizer()
    rows = vec.fit_transform(" ".join([e.title, e.digest or "", *e.keywords]) for e in train)
    clf = LogisticRegression(class_weight="balanced", max_iter=2000).fit(rows, labels)
    probs = clf.predict_proba(vec.transform(f"{e.title} {e.digest or ''}" for e in held))
    classes = list(clf.classes_)
    out = []
    for p, e in zip(probs, held, strict=True):
        best = [classes[i] for i in np.argsort(-p, kind="stable")[:2]]
        out.append((best[0] == e.section, e.section in best))
    return out


def _feed_days(files: Sequence[Path]) -> list[tuple[str, list[Paper]]]:
    """The whole announcement days of the arXiv feeds among `files` (every archive, new
    announcements only), as a poll would rank them; JSON Lines files are not feeds."""
    days: list[tuple[str, list[Paper]]] = []
    for path in files:
        with Path(path).open("rb") as f:
            head = f.read(2)
        if head == b"\x1f\x8b" or head[:1] == b"{":
            continue
        by_day: dict[str, list[Paper]] = {}
        for p in read_background(Path(path), categories=None):
            if p.day and p.categories:
                by_day.setdefault(p.day, []).append(
                    Paper(
                        arxiv_id=p.arxiv_id,
                        title=p.title,
                        abstract=p.abstract,
                        categories=list(p.categories),
                        announced=datetime.combine(
                            date.fromisoformat(p.day), datetime.min.time(), UTC
                        ),
                    )
                )
        days.extend((Path(path).name, papers) for papers in by_day.values())
    return days


def _rank_day(ranker: Ranker, day: tuple[str, list[Paper]]) -> DayResult:
    source, papers = day
    matches = ranker.rank(papers)
    flagged = [p for p, m in zip(papers, matches, strict=True) if m.candidate]
    announced = papers[0].announced
    return DayResult(
        source=source,
        day=announced.date().isoformat() if announced else "",
        new=len(papers),
        flagged=len(flagged),
        far=sum(not near_deep_learning(p.categories) for p in flagged),
    )


def _first(papers: list[BackgroundPaper], n: int) -> list[BackgroundPaper]:
    """The bundled sample as `training_background` orders it (its first `n` by hash)."""

    ranked = sorted(papers, key=lambda p: hashlib.sha256(p.arxiv_id.encode("utf-8")).digest()[:8])
    return ranked[:n]


@dataclass(frozen=True, slots=True)
class _Variant:
    """A way of choosing sections, measured beside what ships."""

    rules: bool = True
    descriptions: bool = True
    catch_all_weight: float = CATCH_ALL_WEIGHT
    rule_weight: float = SECTION_RULE_WEIGHT


def _signal_settings(catch_all: str | None) -> dict[str, _Variant]:
    """Section signal sets: name -> how sections are chosen."""
    out = {
        "classifier only": _Variant(rules=False, descriptions=False),
        "shipped (+ rules)": _Variant(),
        "shipped, no descriptions": _Variant(descriptions=False),
        f"rules weighing {2 * SECTION_RULE_WEIGHT:g}": _Variant(
            rule_weight=2 * SECTION_RULE_WEIGHT
        ),
    }
    if catch_all:
        for weight in (0.8, 0.6):
            out[f"catch-all weight {weight}"] = _Variant(catch_all_weight=weight)
    return out


def format_report(report: EvaluationReport) -> str:
    """One table: a row per measure, a column per scorer (the default marked *)."""
    cols = [r.name for r in report.results]
    rows: list[tuple[str, list[float | None]]] = [
        (f"recall @ {r}% flagged", [res.recall.get(r) for res in report.results])
        for r in FLAG_RATES
    ]
    rows.append(("section accuracy (top-1)", [res.section_accuracy for res in report.results]))
    rows.append(("section in top 2", [res.section_top2 for res in report.results]))
    rows.append(("flagged at defaults", [res.flagged_at_default for res in report.results]))
    rows.append(("recall at defaults", [res.recall_at_default for res in report.results]))
    first = max(len(label) for label, _ in rows)
    widths = [max(len(c), 6) for c in cols]
    line = "  ".join([" " * first, *(c.rjust(w) for c, w in zip(cols, widths, strict=True))])
    out = [
        f"{report.protocol}: {report.held_out} held-out list papers "
        f"({report.list_entries} entries, {report.trainings} trainings; {report.split}) "
        f"against {report.test_background} background announcements ("
        + ", ".join(f"{k} {v}" for k, v in report.background_sources.items())
        + f"); models trained with {report.train_background} other announcements",
        "",
        line,
        "-" * len(line),
    ]
    for label, values in rows:
        out.append(
            "  ".join(
                [
                    label.ljust(first),
                    *(
                        (f"{v:.3f}" if v is not None else "-").rjust(w)
                        for v, w in zip(values, widths, strict=True)
                    ),
                ]
            )
        )
    out.append("")
    out.append(f"* default (what paperbot ships). {report.seconds:.1f}s.")
    if report.section_signals:
        out.append(
            "sections by signal (accuracy, cold-start model): "
            + ", ".join(f"{k} {v:.3f}" for k, v in report.section_signals.items())
        )
    for d in report.days:
        out.append(
            f"whole day {d.day} of {d.source} (every archive, cold-start model, as a poll ranks"
            f" it): {d.flagged} of {d.new} new announcements flagged ({d.flagged_share:.1%}),"
            f" {d.far} of them ({d.far_share:.0%}) with no category near deep learning"
        )
    out.extend(report.notes)
    return "\n".join(out)
