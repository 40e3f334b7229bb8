"""Key Word tags for list entries: the list's own vocabulary, matched against a paper's text."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from db.awesome import AwesomeDoc, Entry

logger = logging.getLogger(__name__)

MIN_TAGS = 3
MAX_TAGS = 6
# Pseudo-mentions with which a section's own tag rates are shrunk towards the list's.
_SHRINK = 3.0
# Below this score a vocabulary tag is only mentioned in passing (one word of the
# abstract, rarely written by the list): the paper's own key phrases come first.
STRONG = 0.5

_TOKEN_RE = re.compile(r"[^\W_]+")
# Head words a paper may leave out: "the lottery ticket" is the Lottery Ticket Hypothesis,
# "mean-field" is Mean Field Theory, "double descent" is Deep Double Descent.
_OPTIONAL_HEADS = frozenset({"hypothesis", "theory", "phenomenon", "phenomena", "effect"})
_OPTIONAL_LEADS = frozenset({"deep"})
_STOPWORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "with", "without",
     "via", "from", "by", "at", "as", "is", "are", "be", "been", "being", "do", "does",
     "did", "can", "could", "may", "might", "will", "would", "should", "this", "that",
     "these", "those", "it", "its", "their", "our", "we", "you", "they", "he", "she",
     "than", "then", "into", "over", "under", "between", "through", "about", "beyond",
     "toward", "towards", "what", "when", "why", "how", "which", "who", "whose",
     "where", "not", "no", "yes", "all", "any", "each", "more", "most", "less", "some",
     "such", "very", "also", "only", "both", "either", "neither"}
)  # fmt: skip
# Words too general to be a tag on their own, and a tag made only of them says nothing.
_GENERIC = frozenset(
    {"neural", "network", "networks", "deep", "learning", "model", "models", "machine",
     "paper", "study", "analysis", "approach", "method", "methods", "new", "novel",
     "understanding", "role", "rethinking", "revisiting", "results", "result",
     "towards", "toward", "using", "based", "simple", "large", "small", "case", "first",
     "two", "one", "theory", "empirical", "data", "training", "trained", "learn",
     "learns", "learned", "improving", "improved", "efficient", "effective", "better",
     "good", "great", "performance", "problem", "problems", "framework", "perspective",
     "view", "lens", "look", "insights", "insight", "note", "evidence", "general",
     "generalized", "modern", "practical", "provable", "provably", "surprising", "does",
     "work", "makes", "make", "matter", "matters", "really", "beyond"}
)  # fmt: skip
# Two-word phrases are what the list's tags mostly are ("Transfer Learning").
_SIZE_BONUS = {1: 0.0, 2: 0.6, 3: 0.4, 4: 0.1}
# Words that start or end a clause of a title, not a term: "What Makes X Work".
_GENERIC_EDGES = frozenset(
    {"makes", "make", "work", "works", "matter", "matters", "does", "do", "explain",
     "explains", "meets", "meet", "enable", "enables", "estimating", "measure",
     "measuring", "rethinking", "revisiting", "understanding", "towards", "toward",
     "beyond", "learn", "learns", "improve", "improves", "help", "helps", "need",
     "needs", "implies", "imply", "fit", "fits", "beating", "beat", "across", "many",
     "really"}
)  # fmt: skip
_SMALL_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "for", "to", "and", "or", "with", "via",
     "from", "by", "at", "as", "vs"}
)  # fmt: skip
_ACRONYM_DEF_RE = re.compile(
    r"((?:[A-Za-z][A-Za-z-]*\s+){1,5}[A-Za-z][A-Za-z-]*)\s*\(([A-Z][A-Za-z]*[A-Z]s?)\)"
)


def _stem(token: str) -> str:
    # Light on purpose: plurals and the -ation/-ing/-ed/-e endings that make "pruning",
    # "pruned" and "prune", or "regularization" and "regularize", one word.
    token = token.casefold()
    if len(token) > 4 and token.endswith("ies"):
        token = token[:-3] + "y"
    elif len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    for suffix in ("ation", "ing", "ed", "e"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


# The word lists as stems, for comparing with tag keys.
_STOP_STEMS = frozenset(_stem(w) for w in _STOPWORDS)
_GENERIC_STEMS = frozenset(_stem(w) for w in _GENERIC)


def _tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN_RE.findall(text)]


def tag_key(tag: str) -> str:
    """A tag's identity: case, hyphens, spacing and plurals do not make another tag."""
    return " ".join(_tokens(tag))


@dataclass
class Tag:
    """One tag of the list's vocabulary, as it is most often written, and where it is used."""

    text: str
    key: str
    count: int = 0
    sections: Counter[str] = field(default_factory=Counter)
    spellings: Counter[str] = field(default_factory=Counter)
    # Entries whose title or digest mention the tag, and how many of those carry it, by
    # section: how readily the maintainer writes the tag when a paper names it.
    mentioned: Counter[str] = field(default_factory=Counter)
    carried: Counter[str] = field(default_factory=Counter)

    def rate(self, section: str | None) -> float:
        """Estimated chance the tag is written when a paper (in `section`) mentions it."""
        overall = (sum(self.carried.values()) + 0.5) / (sum(self.mentioned.values()) + 1.0)
        if section is None:
            return overall
        # The section's own evidence, shrunk towards the whole list's when it is thin.
        return (self.carried[section] + _SHRINK * overall) / (self.mentioned[section] + _SHRINK)


@dataclass
class Vocabulary:
    """Every Key Word tag the list uses, by key; with how many entries each section has."""

    tags: dict[str, Tag] = field(default_factory=dict)
    section_entries: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.tags)

    def in_section(self, section: str) -> list[Tag]:
        return [t for t in self.tags.values() if t.sections[section]]


def vocabulary(doc: AwesomeDoc, *, leave_out: Iterable[Entry] = ()) -> Vocabulary:
    """The list's Key Word tags (entries in `leave_out` do not count)."""
    skipped = {id(e) for e in leave_out}
    vocab = Vocabulary()
    for entry in doc.entries:
        if id(entry) in skipped:
            continue
        vocab.section_entries[entry.section] += 1
        for written in dict.fromkeys(entry.keywords):
            key = tag_key(written)
            if not key:
                continue
            tag = vocab.tags.setdefault(key, Tag(written, key))
            tag.count += 1
            tag.sections[entry.section] += 1
            tag.spellings[written] += 1
    for tag in vocab.tags.values():
        tag.text = tag.spellings.most_common(1)[0][0]
    forms = {key: [tuple(f) for f in _forms(key)] for key in vocab.tags}
    for entry in doc.entries:
        if id(entry) in skipped:
            continue
        grams = _ngrams(_tokens(f"{entry.title} {entry.digest or ''}"))
        carried = {tag_key(k) for k in entry.keywords}
        for key, tag in vocab.tags.items():
            if any(form in grams for form in forms[key]):
                tag.mentioned[entry.section] += 1
                if key in carried:
                    tag.carried[entry.section] += 1
    return vocab


def _ngrams(tokens: Sequence[str], longest: int = 6) -> set[tuple[str, ...]]:
    return {
        tuple(tokens[i : i + n]) for n in range(1, longest + 1) for i in range(len(tokens) - n + 1)
    }


@dataclass(frozen=True)
class TagChoice:
    """The tags chosen for a paper, and which of them came from the list's vocabulary."""

    tags: list[str]
    from_vocabulary: list[str]


def _find(sequence: Sequence[str], tokens: Sequence[str]) -> int:
    """How many times `sequence` occurs contiguously in `tokens`."""
    n = len(sequence)
    if not n:
        return 0
    return sum(1 for i in range(len(tokens) - n + 1) if list(tokens[i : i + n]) == list(sequence))


def _forms(key: str) -> list[list[str]]:
    """The token sequences that count as a mention of the tag."""
    words = key.split()
    forms = [words]
    core = list(words)
    if len(core) > 2 and core[-1] in _OPTIONAL_HEADS:
        core = core[:-1]
    if len(core) > 2 and core[0] in _OPTIONAL_LEADS:
        core = core[1:]
    if core != words:
        forms.append(core)
    content = [w for w in words if w not in _STOP_STEMS]
    if len(content) >= 3:
        forms.append(["".join(w[0] for w in content)])  # "ntk", "sgd", "lth"
    return forms


def _mentions(key: str, tokens: Sequence[str]) -> int:
    return max(_find(form, tokens) for form in _forms(key))


def _display(words: Sequence[str]) -> str:
    out = []
    for n, word in enumerate(words):
        if any(c.isupper() for c in word[1:]) or word.isupper():
            out.append(word)  # ReLU, SGD, PAC-Bayes as the paper writes them
        elif n and word.casefold() in _SMALL_WORDS:
            out.append(word.casefold())
        else:
            parts = word.split("-")
            out.append(
                "-".join(
                    part if m and part.casefold() in _SMALL_WORDS else part[:1].upper() + part[1:]
                    for m, part in enumerate(parts)
                )
            )
    return " ".join(out)


def key_phrases(title: str, abstract: str) -> list[str]:
    """The paper's own key phrases: defined terms, then title phrases the abstract repeats."""
    abstract_tokens = _tokens(abstract)
    scored: dict[str, tuple[float, str]] = {}

    def offer(words: Sequence[str], score: float) -> None:
        key = tag_key(" ".join(words))
        stems = key.split()
        if not stems or all(w in _GENERIC_STEMS or w in _STOP_STEMS for w in stems):
            return
        edges = (words[0].casefold(), words[-1].casefold())
        if any(w in _STOPWORDS or w in _GENERIC_EDGES for w in edges) or len(words) > 4:
            return
        if len(stems) == 1 and (len(stems[0]) < 4 or stems[0].isdigit()):
            return
        if any(len(w) < 2 or "--" in w for w in words) or words[-1].casefold().endswith("ly"):
            return  # "I Need", a word cut at TeX or an apostrophe, "Fit Benignly"
        best = scored.get(key)
        if best is None or best[0] < score:
            scored[key] = (score, _display(words))

    # "... neural tangent kernel (NTK) ...": a term the paper defines is a key phrase.
    for match in _ACRONYM_DEF_RE.finditer(f"{title}. {abstract}"):
        words, acronym = match.group(1).split(), match.group(2).rstrip("s")
        letters = "".join(c.casefold() for c in acronym if c.isupper())
        for start in range(len(words) - 1, -1, -1):
            initials = "".join(
                part[0].casefold()
                for word in words[start:]
                for part in word.split("-")
                if part and part.casefold() not in _STOPWORDS
            )
            if initials == letters:
                offer(words[start:], 4.0 + _find(_tokens(acronym), abstract_tokens) * 0.1)
                break
            if len(initials) > len(letters):
                break

    # Runs of content words in the title; each sub-phrase the abstract repeats scores.
    raw = re.findall(r"[^\W_][\w'-]*|[:?,;.!()]", title)
    runs: list[list[str]] = [[]]
    for word in raw:
        if not word[0].isalnum() or word.casefold() in _STOPWORDS:
            runs.append([])
        else:
            runs[-1].append(word)
    for run in runs:
        for size in range(min(4, len(run)), 0, -1):
            for i in range(len(run) - size + 1):
                words = run[i : i + size]
                seen = _find(_tokens(" ".join(words)), abstract_tokens)
                # A title phrase the abstract repeats is a term of the paper, not wording.
                offer(words, 1.0 + (1.0 if seen else 0.0) + math.log1p(seen) + _SIZE_BONUS[size])
    ranked = sorted(scored.items(), key=lambda kv: -kv[1][0])
    out: list[str] = []
    kept: list[str] = []
    for key, (_, text) in ranked:
        # A phrase inside one already kept (or around it) adds nothing.
        if any(f" {key} " in f" {other} " or f" {other} " in f" {key} " for other in kept):
            continue
        kept.append(key)
        out.append(text)
    return out


def choose_keywords(
    vocab: Vocabulary,
    section: str | None,
    title: str,
    abstract: str,
    *,
    low: int = MIN_TAGS,
    high: int = MAX_TAGS,
) -> TagChoice:
    """`low`..`high` tags for a paper: the list's tags its title or abstract mentions, ranked
    by where they are mentioned and how much the section uses them; then its own key phrases.
    """
    title_tokens, abstract_tokens = _tokens(title), _tokens(abstract)
    # The section a paper is filed under is a statement of its topic: a tag that names the
    # section ("Lottery Ticket Hypothesis" in that section) is mentioned by being there.
    section_words = {w for w in tag_key(section or "").split() if w not in _STOP_STEMS}
    in_section = vocab.section_entries[section] if section else 0
    candidates: list[tuple[float, Tag]] = []
    for tag in vocab.tags.values():
        in_title = _mentions(tag.key, title_tokens)
        in_abstract = _mentions(tag.key, abstract_tokens)
        names_section = bool(section_words) and set(tag.key.split()) <= section_words
        if not in_title and not in_abstract and not names_section:
            continue
        words = tag.key.split()
        if len(words) == 1 and words[0] in _GENERIC_STEMS:
            continue
        strength = (2.0 if in_title or names_section else 0.0) + min(in_abstract, 3) * 0.5
        # How often the section's entries carry the tag, and how readily the list writes
        # it when a paper mentions it ("Pruning" is named by many lottery-ticket papers
        # that are not tagged with it).
        share = tag.sections[section] / in_section if section and in_section else 0.0
        prior = 0.5 + 3.0 * share + 2.0 * tag.rate(section) + 0.3 * math.log1p(tag.count)
        specific = 1.0 + 0.2 * (min(len(words), 4) - 1)
        candidates.append((strength * prior * specific, tag))
    candidates.sort(key=lambda c: (-c[0], c[1].key))

    chosen: list[str] = []
    keys: list[str] = []
    weak: list[Tag] = []
    for score, tag in candidates:
        if len(chosen) >= high:
            break
        # "Gradient Descent" inside "Stochastic Gradient Descent": the longer says it.
        if any(f" {tag.key} " in f" {k} " or f" {k} " in f" {tag.key} " for k in keys):
            continue
        if score < STRONG:
            # Mentioned in passing: the paper's own terms say more, unless there are none.
            weak.append(tag)
            continue
        chosen.append(tag.text)
        keys.append(tag.key)
    used = {w for k in keys for w in k.split() if w not in _GENERIC_STEMS and w not in _STOP_STEMS}
    phrases = [] if len(chosen) >= low else key_phrases(title, abstract)
    for phrase in phrases:
        if len(chosen) >= low:
            break
        stems = set(tag_key(phrase).split())
        if stems & used:
            continue  # "Strong Lottery" beside "Lottery Ticket Hypothesis"
        chosen.append(phrase)
        used |= stems - _GENERIC_STEMS - _STOP_STEMS
    for tag in weak:
        if len(chosen) >= low:
            break
        if not set(tag.key.split()) & used:
            chosen.append(tag.text)
            used |= set(tag.key.split())
    from_vocabulary = [t for t in chosen if tag_key(t) in vocab.tags]
    return TagChoice(chosen, from_vocabulary)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """Overlap of two tag lists by tag identity (1.0 for two empty lists)."""
    left, right = {tag_key(t) for t in a}, {tag_key(t) for t in b}
    left.discard("")
    right.discard("")
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)
