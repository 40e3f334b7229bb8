"""Replays an awesome list against real arXiv announcements: rules alone vs the relevance model.

Protocol (`run_evaluation`):

* The list is parsed (db.awesome). Each entry is a paper the community accepted; its text is
  title + digest (list entries carry no abstract), exactly what the catalog holds for an
  imported entry.
* Held-out entries: leave-one-out when the list is small (<= 200 entries: one model per
  entry, trained on all the others); otherwise a time split by arXiv id (the newest 20 %
  are held out, the model is trained once on the older 80 % and the id-less entries).
* Background = real announcements from ``shared/data`` restricted to ML-ish categories
  (cs.LG, stat.ML, cs.AI, cs.CV, cs.CL, cs.NE): the full 2024-11-28 feed day (those
  categories only), the 2025-03..2026-07 daily listings and the 2015-2019 blog corpus
  (whose only categories are the blog's arXiv_CV/arXiv_AI/arXiv_CL, all kept). Every
  background paper is assigned by a hash of its arXiv id either to the *evaluation*
  background (scored, never trained on; the whole feed day goes here) or to the *training*
  background (the weak negatives the models learn from), so the two are disjoint by id.
  List papers are removed from both.
* The tf-idf vocabulary and idf are fit once on the training background plus the list's
  text: unsupervised (no labels), and it lets 34 leave-one-out trainings share one fit.
* "Flagged at X %": the score threshold above which X % of the evaluation background
  lies (per trained model, since each fold scores the background anew). Recall is the
  share of held-out list papers at or above it; a held-out paper tied with background
  papers exactly at the threshold counts for the share of the tied ones that fit in the
  X % (the expected recall under random tie-breaking, fair to coarse rule scores).
* Section accuracy: the share of held-out papers whose suggested section is the list's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from feeds.models import Match, Paper
from feeds.relevance import (
    Example,
    Prediction,
    RelevanceModel,
    TextFeatures,
    combine,
    combined_scores,
    example_text,
)

ML_CATEGORIES = frozenset({"cs.LG", "stat.ML", "cs.AI", "cs.CV", "cs.CL", "cs.NE"})
AMDS_CATEGORIES = frozenset({"arXiv_CV", "arXiv_AI", "arXiv_CL"})
FLAG_RATES = (3, 5, 10)  # percent of the evaluation background flagged
LOO_MAX_ENTRIES = 200  # up to this many entries: leave-one-out; above: a time split
TIME_SPLIT_HELD_OUT = 0.2
TRAIN_BACKGROUND = 10_000
CANDIDATE_THRESHOLD = 0.5  # combine()'s default  # weak negatives the models learn from

FEED_DAY = "arxiv-rss/rss-all-archives-2024-11-28.xml"
FEED_SOURCE = "feed 2024-11-28"
DAILY = "corpus/daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
AMDS = "corpus/amds123-arxiv-blog-posts-2015_2019.jsonl.gz"

# The model variants compared: name -> settings. The default is what `combine()` ships:
# the rules and the blended model together.
# name -> (latent semantic columns?, blend settings changed at scoring time)
VARIANTS: dict[str, tuple[bool, dict[str, Any]]] = {
    "tfidf logreg": (False, {"knn_weight": 0.0}),
    "tfidf+lsa logreg": (True, {"knn_weight": 0.0}),
    "tfidf+lsa logreg+kNN": (True, {}),
}
RULES = "rules alone"
DEFAULT = "rules + model"
DEFAULT_MODEL = "tfidf+lsa logreg+kNN"  # the model `combine` blends with the rules

Progress = Callable[[str], None]


@dataclass(slots=True)
class ScorerResult:
    """One column of the table."""

    name: str
    recall: dict[int, float]  # flag rate in percent -> recall of held-out list papers
    section_accuracy: float


@dataclass(slots=True)
class EvaluationReport:
    protocol: str  # "leave-one-out" | "time split"
    list_entries: int
    held_out: int
    trainings: int
    eval_background: int
    train_background: int
    background_sources: dict[str, int]  # source -> papers in the evaluation background
    results: list[ScorerResult]
    default: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    def result(self, name: str) -> ScorerResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "list_entries": self.list_entries,
            "held_out": self.held_out,
            "trainings": self.trainings,
            "eval_background": self.eval_background,
            "train_background": self.train_background,
            "background_sources": self.background_sources,
            "default": self.default,
            "seconds": round(self.seconds, 2),
            "results": [
                {
                    "name": r.name,
                    "recall": {f"{k}%": round(v, 4) for k, v in r.recall.items()},
                    "section_accuracy": round(r.section_accuracy, 4),
                }
                for r in self.results
            ],
            "notes": self.notes,
        }


# --- background ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Doc:
    key: str
    title: str
    text: str
    source: str


def _data_dir(shared_dir: Path) -> Path:
    shared_dir = Path(shared_dir)
    return shared_dir / "data" if (shared_dir / "data").is_dir() else shared_dir


def _is_eval(arxiv_id: str) -> bool:
    """Deterministic half of the ids for the evaluation background, the other for training."""
    return hashlib.sha1(arxiv_id.encode("utf-8")).digest()[0] % 2 == 0


def _feed_day(data: Path) -> Iterator[_Doc]:
    from feeds.parse import parse_feed

    for p in parse_feed((data / FEED_DAY).read_bytes(), FEED_DAY).papers:
        if set(p.categories) & ML_CATEGORIES and p.abstract:
            yield _Doc(p.arxiv_id, p.title, p.abstract, FEED_SOURCE)


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _daily(data: Path) -> Iterator[_Doc]:
    for r in _jsonl(data / DAILY):
        if set(r.get("categories") or ()) & ML_CATEGORIES and r.get("abstract"):
            yield _Doc(r["id"], r["title"], r["abstract"], "daily 2025-26")


_NEW_ID = re.compile(r"^\d{4}\.\d{4,5}$")


def _amds(data: Path) -> Iterator[_Doc]:
    for r in _jsonl(data / AMDS):
        aid = r.get("id") or ""
        # old-style ids in this corpus are mis-filed non-ML papers (astro-ph in "arXiv_CV")
        if r.get("blog_category") in AMDS_CATEGORIES and _NEW_ID.match(aid) and r.get("abstract"):
            yield _Doc(aid, r["title"], r["abstract"], "blog 2015-19")


def _load_background(
    data: Path, exclude: set[str], progress: Progress
) -> tuple[list[_Doc], list[_Doc]]:
    """(evaluation background, training background), disjoint by id, list papers excluded."""
    seen = set(exclude)
    eval_docs: list[_Doc] = []
    train_docs: list[_Doc] = []
    for doc in _feed_day(data):  # the real day: all of it is evaluation background
        if doc.key not in seen:
            seen.add(doc.key)
            eval_docs.append(doc)
    for loader in (_daily, _amds):
        n0 = len(eval_docs) + len(train_docs)
        for doc in loader(data):
            if doc.key in seen:
                continue
            seen.add(doc.key)
            (eval_docs if _is_eval(doc.key) else train_docs).append(doc)
        progress(
            f"background: {loader.__name__.strip('_')}: {len(eval_docs) + len(train_docs) - n0} papers"
        )
    return eval_docs, train_docs


def _sample(
    docs: list[_Doc], n: int | None, rng: np.random.Generator, *, keep: str | None = None
) -> list[_Doc]:
    """`n` random docs; those from source `keep` (the real feed day) are all kept first."""
    if n is None or n >= len(docs):
        return docs
    kept = [d for d in docs if d.source == keep][:n]
    rest = [d for d in docs if d.source != keep]
    idx = np.sort(rng.choice(len(rest), size=n - len(kept), replace=False))
    return kept + [rest[i] for i in idx]


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
    return out


def _entry_paper(entry: Any) -> Paper:
    return Paper(
        arxiv_id=entry.arxiv_id or entry.key,
        title=entry.title,
        abstract=entry.digest or "",
    )


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


# --- the replay ---------------------------------------------------------------------------


def run_evaluation(
    list_text: str,
    shared_dir: Path,
    *,
    rules: Any = None,
    background_limit: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    train_background: int = TRAIN_BACKGROUND,
) -> EvaluationReport:
    """Replay `list_text` (an awesome list) against the real announcements in `shared_dir`.

    `rules`: a RuleSet (default `RuleSet.default()`); `background_limit` caps the
    evaluation background (a seeded random sample; None = all of it); `progress` receives
    one-line status messages.
    """
    from db.awesome import parse_awesome

    started = time.perf_counter()
    say: Progress = progress or (lambda _m: None)
    if rules is None:
        from feeds.rules import RuleSet

        rules = RuleSet.default()
    rng = np.random.default_rng(seed)

    entries = [e for e in parse_awesome(list_text).entries if e.title]
    if len(entries) < 6:
        raise ValueError(f"the list has {len(entries)} entries; at least 6 are needed to replay it")
    list_ids = {e.arxiv_id for e in entries if e.arxiv_id}
    data = _data_dir(shared_dir)
    eval_docs, train_docs = _load_background(data, list_ids, say)
    eval_docs = _sample(eval_docs, background_limit, rng, keep=FEED_SOURCE)
    train_docs = _sample(train_docs, train_background, rng)
    sources: dict[str, int] = {}
    for d in eval_docs:
        sources[d.source] = sources.get(d.source, 0) + 1
    say(f"background: {len(eval_docs)} to score, {len(train_docs)} to train on (disjoint by id)")

    # Which entries are held out, and what each training sees.
    if len(entries) <= LOO_MAX_ENTRIES:
        protocol = "leave-one-out"
        folds = [([j for j in range(len(entries)) if j != i], [i]) for i in range(len(entries))]
    else:
        protocol = "time split"
        dated = sorted(
            (i for i, e in enumerate(entries) if e.arxiv_id),
            key=lambda i: _id_order(entries[i].arxiv_id or ""),
        )
        n_test = max(1, int(len(dated) * TIME_SPLIT_HELD_OUT))
        test = dated[-n_test:]
        folds = [(sorted(set(range(len(entries))) - set(test)), test)]

    # Text features: fit once (unsupervised) on the training background + the list.
    list_texts = [example_text(e.title, e.digest or "") for e in entries]
    train_texts = [example_text(d.title, d.text) for d in train_docs]
    eval_texts = [example_text(d.title, d.text) for d in eval_docs]
    latent = TextFeatures.fit(train_texts + list_texts, seed=seed)
    plain = TextFeatures(latent.vocabulary, latent.idf)  # same vocabulary, no latent columns
    full = tuple(latent.transform(t) for t in (list_texts, train_texts, eval_texts))
    rows = {  # the plain rows are the tf-idf columns of the full ones
        True: full,
        False: tuple(m[:, : latent.n_terms].tocsr() for m in full),
    }
    say(
        f"features: {latent.n_terms} terms + {latent.lsa_dims} latent; "
        f"{time.perf_counter() - started:.1f}s"
    )

    # Rules: fixed, scored once.
    eval_papers = [Paper(arxiv_id=d.key, title=d.title, abstract=d.text) for d in eval_docs]
    entry_papers = [_entry_paper(e) for e in entries]
    bg_rule_scores = np.array([rules.match(p).score for p in eval_papers])
    entry_rule = [rules.match(p) for p in entry_papers]

    names = [RULES, *VARIANTS, DEFAULT]
    hits: dict[str, dict[int, list[float]]] = {n: {r: [] for r in FLAG_RATES} for n in names}
    right: dict[str, list[bool]] = {n: [] for n in names}
    bg_examples = [Example(d.key, d.title, d.text, None, "background") for d in train_docs]
    now = datetime.now(UTC)
    trainings = 0
    at_threshold: tuple[list[float], list[float]] = ([], [])  # background flagged, recall
    cuts: list[list[float]] = []  # per training: the default's score at each flag rate
    for f, (train_idx, test_idx) in enumerate(folds):
        held = [entries[i] for i in test_idx]
        # rules alone
        held_rule = np.array([entry_rule[i].score for i in test_idx])
        for r in FLAG_RATES:
            hits[RULES][r].extend(_recall_at(held_rule, bg_rule_scores, r))
        right[RULES].extend(
            entry_rule[i].section == e.section for i, e in zip(test_idx, held, strict=True)
        )

        examples = [
            Example(
                entries[i].key,
                entries[i].title,
                entries[i].digest or "",
                entries[i].section,
                "positive",
            )
            for i in train_idx
        ] + bg_examples
        trained: dict[bool, RelevanceModel] = {}
        for use_lsa in sorted({v[0] for v in VARIANTS.values()}):
            list_rows, train_rows, _ = rows[use_lsa]
            trained[use_lsa] = RelevanceModel.train(
                examples,
                now=now,
                features=latent if use_lsa else plain,
                matrix=sp.vstack([list_rows[train_idx], train_rows]).tocsr(),
            )
            trainings += 1
        for name, (use_lsa, blend) in VARIANTS.items():
            model = trained[use_lsa].with_settings(**blend)
            list_rows, _, eval_rows = rows[use_lsa]
            held_pred = model.predict_rows(list_rows[test_idx])
            bg_scores = model.relevance_rows(eval_rows)
            held_scores = np.array([p.relevance for p in held_pred])
            for r in FLAG_RATES:
                hits[name][r].extend(_recall_at(held_scores, bg_scores, r))
            right[name].extend(p.section == e.section for p, e in zip(held_pred, held, strict=True))
            if name == DEFAULT_MODEL:
                held_comb = _combined([entry_rule[i] for i in test_idx], held_pred)
                hc = np.array([m.score for m in held_comb])
                bc = combined_scores(bg_rule_scores, bg_scores)
                for r in FLAG_RATES:
                    hits[DEFAULT][r].extend(_recall_at(hc, bc, r))
                at_threshold[0].append(float((bc >= CANDIDATE_THRESHOLD).mean()))
                cuts.append([float(np.percentile(bc, 100 - r)) for r in FLAG_RATES])
                at_threshold[1].extend(float(h >= CANDIDATE_THRESHOLD) for h in hc)
                right[DEFAULT].extend(
                    m.section == e.section for m, e in zip(held_comb, held, strict=True)
                )
        if len(folds) > 1 and (f + 1) % 10 == 0:
            say(f"fold {f + 1}/{len(folds)}; {time.perf_counter() - started:.1f}s")

    results = [
        ScorerResult(
            name=n,
            recall={r: float(np.mean(hits[n][r])) for r in FLAG_RATES},
            section_accuracy=float(np.mean(right[n])),
        )
        for n in names
    ]
    held_total = sum(len(t) for _, t in folds)
    no_digest = sum(1 for e in entries if not e.digest)
    notes = []
    notes.append(
        f"{DEFAULT} at its candidate threshold ({CANDIDATE_THRESHOLD}): "
        f"{np.mean(at_threshold[0]):.1%} of the background flagged, "
        f"recall {np.mean(at_threshold[1]):.3f}; its scores that flag "
        + ", ".join(
            f"{r}%: {c:.3f}" for r, c in zip(FLAG_RATES, np.median(cuts, axis=0), strict=True)
        )
        + " (median over trainings)"
    )
    if no_digest:
        notes.append(f"{no_digest} entries have no digest: judged by their title alone")
    return EvaluationReport(
        protocol=protocol,
        list_entries=len(entries),
        held_out=held_total,
        trainings=trainings,
        eval_background=len(eval_docs),
        train_background=len(train_docs),
        background_sources=sources,
        results=results,
        default=DEFAULT,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _combined(rule_matches: Sequence[Match], predictions: Sequence[Prediction]) -> list[Match]:
    return [combine(m, p) for m, p in zip(rule_matches, predictions, strict=True)]


def format_report(report: EvaluationReport) -> str:
    """One table: a row per measure, a column per scorer (the default marked *)."""
    cols = [r.name + (" *" if r.name == report.default else "") for r in report.results]
    rows = [
        (f"recall @ {r}% flagged", [res.recall[r] for res in report.results]) for r in FLAG_RATES
    ]
    rows.append(("section accuracy", [res.section_accuracy for res in report.results]))
    first = max(len(label) for label, _ in rows)
    widths = [max(len(c), 5) for c in cols]
    line = "  ".join([" " * first, *(c.rjust(w) for c, w in zip(cols, widths, strict=True))])
    out = [
        f"{report.protocol}: {report.held_out} held-out list papers "
        f"({report.list_entries} entries, {report.trainings} trainings) against "
        f"{report.eval_background} background announcements ("
        + ", ".join(f"{k} {v}" for k, v in report.background_sources.items())
        + f"); models trained with {report.train_background} other announcements as weak negatives",
        "",
        line,
        "-" * len(line),
    ]
    for label, values in rows:
        out.append(
            "  ".join(
                [
                    label.ljust(first),
                    *(f"{v:.3f}".rjust(w) for v, w in zip(values, widths, strict=True)),
                ]
            )
        )
    out.append("")
    out.append(f"* default (what paperbot ships). {report.seconds:.1f}s.")
    out.extend(report.notes)
    return "\n".join(out)
