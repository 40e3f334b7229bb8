"""Digests for list entries: the 2-4 sentences of an abstract that say what the paper shows."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MIN_SENTENCES = 2
MAX_SENTENCES = 4
# Characters a digest may take: the list's digests are about 500 long, rarely over 800.
BUDGET = 700

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "et al", "al", "etc", "vs", "cf", "fig", "figs", "eq", "eqs", "sec", "ref",
     "refs", "resp", "approx", "no", "dr", "prof", "st", "viz", "w.r.t", "wrt", "a.k.a", "ca"}
)  # fmt: skip
_END_RE = re.compile(r"[.!?](?:[\"'\u201d)\]]*)(?=\s+|$)")
_TEX_MATH_RE = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)

# A sentence that says what the paper shows, finds or proposes.
_CLAIM_RE = re.compile(
    r"\b(?:we|our|this\s+(?:paper|work|study|article|note)|here|in\s+this\s+(?:paper|work))\b"
    r"[^.]{0,60}?\b(?:show|shows|showed|find|finds|found|prove|proves|proved|demonstrate|"
    r"demonstrates|propose|proposes|introduce|introduces|present|presents|reveal|reveals|"
    r"establish|establishes|identify|identifies|observe|observes|discover|argue|argues|"
    r"derive|derives|provide|provides|develop|develops|study|studies|investigate|"
    r"investigates|analyze|analyse|analyzes|characterize|characterise|explain|explains|"
    r"suggest|suggests|uncover|confirm|confirms|report|conjecture|hypothesize)\b",
    re.IGNORECASE,
)
_RESULT_RE = re.compile(
    r"\b(?:results?\s+(?:show|suggest|indicate|reveal|demonstrate)|we\s+find|surprisingly|"
    r"in\s+particular|our\s+(?:analysis|findings|results|experiments|theory)|this\s+(?:implies|"
    r"suggests|shows)|consequently|as\s+a\s+result|leads?\s+to|outperforms?)\b",
    re.IGNORECASE,
)
# Sentences that carry no finding: where the code is, what the paper is about to do next.
_BOILERPLATE_RE = re.compile(
    r"(?:https?://|\bgithub\b|\bcode\s+(?:is|and|will\s+be)\b|\bavailable\s+at\b|"
    r"\bpublicly\s+available\b|\bour\s+code\b|\bproject\s+page\b|\bis\s+organized\s+as\b|"
    r"\bthe\s+rest\s+of\s+(?:this|the)\s+paper\b)",
    re.IGNORECASE,
)
_BACKGROUND_RE = re.compile(
    r"^(?:recent(?:ly)?|in\s+recent\s+years|despite|although|while|it\s+is\s+(?:well\s+)?known|"
    r"deep\s+(?:neural\s+)?(?:networks|learning)\s+(?:have|has|are)|a\s+(?:central|key|major|"
    r"fundamental)\s+(?:question|challenge|problem)|understanding|over\s+the\s+past)\b",
    re.IGNORECASE,
)


# A sentence opening on one of these leans on the one before: it reads badly out of context.
_CONNECTIVE_RE = re.compile(
    r"^(?:then|further(?:more)?|moreover|however|also|finally|in\s+addition|additionally|"
    r"second(?:ly)?|third(?:ly)?|thus|hence|therefore|besides|next|lastly|instead|"
    r"in\s+contrast|on\s+the\s+other\s+hand|to\s+this\s+end|for\s+this\s+reason)\b,?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Digest:
    """The sentences chosen (in the abstract's order) and their joined text."""

    sentences: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _masked(text: str) -> str:
    """`text` with TeX math blanked out (same length), so its periods split nothing."""
    return _TEX_MATH_RE.sub(lambda m: "x" * len(m.group(0)), text)


def split_sentences(abstract: str) -> list[str]:
    """The sentences of an abstract, whitespace normalised, TeX and abbreviations kept whole."""
    text = " ".join(abstract.split())
    if not text:
        return []
    masked = _masked(text)
    sentences: list[str] = []
    start = 0
    for match in _END_RE.finditer(masked):
        end = match.end()
        before = masked[start : match.start()].rsplit(" ", 1)[-1].lstrip("(").casefold()
        rest = masked[end:].lstrip()
        if (
            masked[match.start()] == "."
            and (
                before in _ABBREVIATIONS
                or (len(before) == 1 and before.isalpha())  # an initial: "A. Smith"
                or (rest[:1].islower())  # "... of Fig. 2 we" or a lower-case continuation
                or (rest[:1].isdigit() and before[-1:].isdigit())
            )
        ):
            continue
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _score(sentence: str, index: int, count: int) -> float:
    score = 0.0
    if _CLAIM_RE.search(sentence):
        score += 2.0
    if _RESULT_RE.search(sentence):
        score += 1.0
    if _BACKGROUND_RE.search(sentence):
        score -= 1.0
    if _BOILERPLATE_RE.search(sentence):
        score -= 4.0
    if index == 0 and count > 1 and not _CLAIM_RE.search(sentence):
        score -= 0.5  # an opening sentence without a claim is usually motivation
    if len(sentence) < 40:
        score -= 1.0
    if index > 0 and _CONNECTIVE_RE.match(sentence):
        score -= 1.5
    return score


def digest_of(abstract: str, *, budget: int = BUDGET) -> Digest:
    """2-4 sentences of `abstract` that say what the paper shows, within `budget` characters.

    The best sentences by what they claim are taken in rank order while they fit the
    budget (the first two are taken in any case), then put back in the abstract's order.
    TeX is kept as written. An abstract of one sentence gives a one-sentence digest.
    """
    sentences = split_sentences(abstract)
    if len(sentences) <= MIN_SENTENCES:
        return Digest(sentences)
    ranked = sorted(
        range(len(sentences)),
        key=lambda i: (-_score(sentences[i], i, len(sentences)), i),
    )
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if len(chosen) >= MAX_SENTENCES:
            break
        if len(chosen) >= MIN_SENTENCES and _score(sentences[i], i, len(sentences)) <= 0:
            break  # enough said: the rest is background or boilerplate
        cost = len(sentences[i]) + (1 if chosen else 0)
        if len(chosen) >= MIN_SENTENCES and used + cost > budget:
            continue
        chosen.append(i)
        used += cost
    return Digest([sentences[i] for i in sorted(chosen)])
