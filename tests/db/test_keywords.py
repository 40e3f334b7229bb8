"""Tests for Key Word tags: whole phrases of the list's vocabulary or of the paper's text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from db.awesome import Entry, parse_awesome
from db.keywords import (
    MIN_TAGS,
    TagChoice,
    choose_keywords,
    jaccard,
    key_phrases,
    tag_key,
    vocabulary,
)
from tests.lists import LIST_2022

# Words joined by hyphens or dashes are one word of the text: "Erdős–Rényi".
WORD_RE = re.compile(r"[^\W_]+(?:[-\u2010\u2011\u2013]+[^\W_]+)*")
TOKEN_RE = re.compile(rf"{WORD_RE.pattern}|[^\w\s]")
# Words of any paper that name no topic on their own: as a whole tag they are fragments.
GENERIC = frozenset(
    {"power", "biased", "features", "feature", "images", "image", "humans", "human",
     "strategies", "requirements", "limits", "limitations", "principles", "start", "state",
     "existence", "importance", "evaluation", "data", "learning", "network", "networks",
     "model", "models", "training", "dynamics", "bounds", "algorithms", "representations",
     "layer", "layers", "inputs", "samples", "class", "noise", "search", "time", "scale",
     "information", "function", "loss", "error", "parameters", "dataset", "datasets", "task",
     "tasks", "benchmark", "analysis", "theory", "study", "approach", "method", "methods",
     "framework", "perspective", "results", "performance", "generalization", "optimization",
     "deep", "neural", "new", "novel", "large", "small", "simple", "optimal", "robust",
     "sparse", "universal", "algorithmic", "variational", "logarithmic", "extreme",
     "critical", "necessary", "tighter", "scalable", "learnable", "imbalanced",
     "overparameterized", "mathematical", "empirical", "theoretical", "linear", "random",
     "wide", "dimension", "language", "vision", "memory", "recognition", "inference"}
)  # fmt: skip
# Adjectives whose form does not say so.
ADJECTIVES = frozenset(
    {"deep", "wide", "sparse", "random", "robust", "large", "small", "new", "simple", "dense",
     "linear", "nonlinear", "similar", "regular", "singular", "modular", "good", "strong",
     "weak", "shallow", "hidden", "known", "given", "implicit", "explicit", "finite",
     "infinite", "convex", "nonconvex", "single", "multiple", "tight", "flat", "sharp"}
)  # fmt: skip
ADJECTIVE_ENDINGS = ("ed", "al", "ive", "ous", "able", "ible", "ful", "less", "ly", "ic", "ish")
# Nouns with an adjective's ending.
NOUNS = frozenset(
    {"potential", "residual", "objective", "derivative", "alternative", "metric", "logic", "speed"}
)
# Words after which a phrase goes on in the same clause only as a function word would.
FUNCTION = frozenset(
    {"a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "with", "without", "via",
     "from", "by", "at", "as", "is", "are", "be", "was", "were", "can", "that", "which",
     "this", "these", "it", "its", "their", "we", "but", "than", "into", "over", "under",
     "between", "through", "across", "when", "while", "where", "how", "why", "what", "not"}
)  # fmt: skip
# Nouns that head a compound: a phrase the text always follows with one is cut short.
HEADS = frozenset(
    {"network", "networks", "net", "nets", "model", "models", "graph", "graphs", "kernel",
     "kernels", "machine", "machines", "layer", "layers", "unit", "units", "function",
     "functions", "feature", "features", "method", "methods", "algorithm", "algorithms",
     "learning", "training", "system", "systems", "regression", "classifier", "classifiers"}
)  # fmt: skip


def adjectival(word: str) -> bool:
    lower = word.casefold()
    if lower in NOUNS or lower.endswith("ics") or not lower.isalpha():
        return False
    return lower in ADJECTIVES or (len(lower) > 4 and lower.endswith(ADJECTIVE_ENDINGS))


def text_tokens(text: str) -> list[str]:
    return [t.casefold() for t in TOKEN_RE.findall(text)]


def continuations(tag: str, tokens: list[str]) -> list[str]:
    """What follows each place the text writes the tag ("" at the end of the text)."""
    words = [w.casefold() for w in WORD_RE.findall(tag)]
    n = len(words)
    return [
        tokens[i + n] if i + n < len(tokens) else ""
        for i in range(len(tokens) - n + 1)
        if tokens[i : i + n] == words
    ]


def fragments(choice: TagChoice, title: str, abstract: str) -> list[str]:
    """The tags of `choice` taken from the paper's text that are not whole phrases of it."""
    text = f"{title} . {abstract}"
    tokens = text_tokens(text)
    whole_words = {w.casefold() for w in WORD_RE.findall(text)}
    bad = []
    for tag in choice.tags:
        if tag in choice.from_vocabulary:
            continue  # the maintainer's own phrase
        words = WORD_RE.findall(tag)
        last = words[-1]
        after = continuations(tag, tokens)
        if len(words) == 1 and (last.casefold() in GENERIC or adjectival(last)):
            bad.append(f"{tag}: a lone generic word")
        elif adjectival(last) and any(w and w not in FUNCTION and w.isalpha() for w in after):
            bad.append(f"{tag}: ends in an adjective the text continues ({after})")
        elif adjectival(last):
            bad.append(f"{tag}: ends in an adjective")
        elif after and all(w in HEADS for w in after):
            bad.append(f"{tag}: the text always goes on with a noun ({after})")
        elif any(w.casefold() not in whole_words for w in words):
            bad.append(f"{tag}: a piece of a joined word of the text")
    return bad


@pytest.fixture(scope="module")
def text_2022(shared: Callable[[str], Path]) -> str:
    return shared(LIST_2022).read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def replayed(text_2022: str) -> list[tuple[Entry, TagChoice]]:
    """Every entry of the 2022 list, tagged anew from its title and digest with a vocabulary
    that leaves the entry out (as the holdout benchmark does)."""
    doc = parse_awesome(text_2022)
    full = vocabulary(doc)
    return [
        (e, choose_keywords(full.without(e, doc), e.section, e.title, e.digest or ""))
        for e in doc.entries
    ]


def test_a_vocabulary_without_an_entry_is_the_one_built_without_it(text_2022: str) -> None:
    doc = parse_awesome(text_2022)
    full = vocabulary(doc)
    for entry in doc.entries[::9]:  # every ninth: rebuilding is what takes the time
        assert full.without(entry, doc) == vocabulary(doc, leave_out=[entry]), entry.key
    assert full == vocabulary(doc)  # and `without` left the full one as it was


# --------------------------------------------------------------------------- the 2022 list


def test_every_replayed_tag_is_a_whole_phrase(replayed: list[tuple[Entry, TagChoice]]) -> None:
    assert len(replayed) > 300
    bad = [
        f"{entry.key} {entry.title!r}: {problem}"
        for entry, choice in replayed
        for problem in fragments(choice, entry.title, entry.digest or "")
    ]
    assert bad == []


def test_replayed_tags_stay_between_the_bounds_and_near_the_maintainers(
    replayed: list[tuple[Entry, TagChoice]],
) -> None:
    assert all(len(choice.tags) <= 6 for _, choice in replayed)
    # Fewer tags where the paper offers no whole phrase, but almost every entry gets some.
    assert sum(1 for _, choice in replayed if choice.tags) >= 0.97 * len(replayed)
    tagged = [(e, c) for e, c in replayed if e.keywords]
    overlap = sum(jaccard(c.tags, e.keywords) for e, c in tagged) / len(tagged)
    assert overlap >= 0.32  # 0.29 when tags could be fragments


def test_a_held_out_title_names_no_part_of_a_joined_name(
    replayed: list[tuple[Entry, TagChoice]],
) -> None:
    # "How Erdös and Rényi Win the Lottery": its digest writes "Erdös-Rényi (ER) random graphs".
    entry, choice = next((e, c) for e, c in replayed if e.arxiv_id == "2210.02412")
    parts = {tag_key("Erdös"), tag_key("Rényi")}
    assert parts.isdisjoint(tag_key(t) for t in choice.tags)
    own = [tag_key(t) for t in key_phrases(entry.title, entry.digest or "")]
    assert parts.isdisjoint(own)
    assert tag_key("Erdös-Rényi Random Graphs") in own  # as the maintainer wrote it


# --------------------------------------------------------------------------- fragments


EMPTY = vocabulary(parse_awesome(""))


def test_a_dash_joined_name_stays_whole() -> None:
    title = "Sparse Subnetworks of Erdős–Rényi Random Graphs"
    abstract = (
        "We prune Erdős–Rényi random graphs. Erdős–Rényi masks of dense networks keep their "
        "accuracy, and the Erdős-Rényi (ER) random graphs compete with lottery tickets."
    )
    choice = choose_keywords(EMPTY, None, title, abstract)
    keys = {tag_key(t) for t in choice.tags}
    assert keys.isdisjoint({tag_key("erdős"), tag_key("erdös"), tag_key("rényi")})
    assert tag_key("Erdős–Rényi random graphs") in keys
    assert fragments(choice, title, abstract) == []


def test_a_compound_is_not_cut_before_its_noun() -> None:
    title = "Mathematical Models of Overparameterized Neural Networks"
    abstract = (
        "We study the expressive power of overparameterized neural networks. Overparameterized "
        "neural networks learn biased features, and we give mathematical models of the power "
        "of such overparameterized neural networks."
    )
    choice = choose_keywords(EMPTY, None, title, abstract)
    keys = {tag_key(t) for t in choice.tags}
    cut = ["overparameterized neural", "overparameterized", "mathematical models", "power"]
    assert keys.isdisjoint(tag_key(t) for t in [*cut, "biased", "features", "biased features"])
    assert "Overparameterized Neural Networks" in choice.tags
    assert fragments(choice, title, abstract) == []


def test_no_adjective_or_participle_ends_a_tag() -> None:
    for title, abstract in [
        ("In What Ways Are Deep Neural Networks Invariant?", "Networks are invariant to shifts."),
        ("Scaling Laws for Deep Learning Based Image Reconstruction", "Deep learning based "
         "image reconstruction scales with data; image reconstruction improves."),
        ("Dissecting Neural ODEs", "We dissect neural ODEs and their augmented variants."),
    ]:  # fmt: skip
        choice = choose_keywords(EMPTY, None, title, abstract)
        assert fragments(choice, title, abstract) == [], title
        assert not any(adjectival(t.split()[-1]) for t in choice.tags), choice.tags


def test_a_gerund_that_opens_a_clause_is_no_tag() -> None:
    title = "Comparing Learning Algorithms: Explaining Neural Scaling Laws"
    abstract = "We compare learning algorithms and explain neural scaling laws in detail."
    keys = {tag_key(t) for t in choose_keywords(EMPTY, None, title, abstract).tags}
    assert keys.isdisjoint({tag_key("comparing"), tag_key("explaining")})
    assert tag_key("comparing learning algorithms") not in keys
    assert tag_key("neural scaling laws") in keys


def test_a_paper_with_few_whole_phrases_gets_fewer_tags() -> None:
    title = "Are All Layers Created Equal?"
    abstract = "We study how the layers of deep networks matter. Layers are not equal."
    choice = choose_keywords(EMPTY, None, title, abstract)
    assert len(choice.tags) < MIN_TAGS
    assert fragments(choice, title, abstract) == []


# --------------------------------------------------------------------------- the vocabulary


def test_vocabulary_phrases_are_still_chosen(text_2022: str) -> None:
    vocab = vocabulary(parse_awesome(text_2022))
    choice = choose_keywords(
        vocab,
        "Neural Tangent Kernel",
        "Benign Overfitting of Wide Networks in the Lazy Training Regime",
        "We study the neural tangent kernel of wide networks trained by gradient descent and "
        "show benign overfitting in the lazy training regime.",
    )
    assert choice.tags[0] == "Neural Tangent Kernel"  # the section's name, as its entries do
    assert {"Benign Overfitting", "Lazy Training", "Gradient Descent"} <= set(choice.tags)
    assert choice.from_vocabulary == choice.tags[: len(choice.from_vocabulary)]
    assert MIN_TAGS <= len(choice.tags) <= 6


def test_a_vocabulary_phrase_comes_before_the_papers_own(text_2022: str) -> None:
    vocab = vocabulary(parse_awesome(text_2022))
    title = "Edge of Stability in Sharpness-Aware Minimization"
    abstract = (
        "We show that sharpness-aware minimization (SAM) trains at the edge of stability and "
        "that its bouncing dynamics settle in flat regions of the loss landscape."
    )
    choice = choose_keywords(vocab, "Others", title, abstract)
    assert choice.tags[:2] == ["Edge of Stability", "Sharpness-Aware Minimization"]
    assert fragments(choice, title, abstract) == []
