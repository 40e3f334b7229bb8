"""Key Word tags for list entries: the list's own vocabulary, matched against a paper's text."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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
# Hyphens, the Unicode hyphens and the en dash join words into one: "Erdős–Rényi" and
# "mixture-of-experts" are single words, never split into tags.
_JOINERS = "-\u2010\u2011\u2013"
_JOIN_RE = re.compile(f"[{_JOINERS}]+")


@lru_cache(maxsize=65536)
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

    def without(self, entry: Entry, doc: AwesomeDoc) -> Vocabulary:
        """This vocabulary (built from `doc`, `entry` included) as if `entry` were not in
        the list: what `vocabulary(doc, leave_out=[entry])` gives, without reading every
        other entry again (a replay holds out each entry in turn)."""
        out = Vocabulary(
            tags={
                key: Tag(t.text, t.key, t.count, Counter(t.sections), Counter(t.spellings),
                         Counter(t.mentioned), Counter(t.carried))
                for key, t in self.tags.items()
            },
            section_entries=Counter(self.section_entries),
        )  # fmt: skip
        out.section_entries[entry.section] -= 1
        if not out.section_entries[entry.section]:
            del out.section_entries[entry.section]
        carried = set()
        for written in dict.fromkeys(entry.keywords):
            key = tag_key(written)
            tag = out.tags.get(key) if key else None
            if tag is None:
                continue
            carried.add(key)
            tag.count -= 1
            tag.sections[entry.section] -= 1
            tag.spellings[written] -= 1
        grams = _text_ngrams(f"{entry.title} {entry.digest or ''}")
        touched = set(carried)
        for tag in out.tags.values():
            if any(form in grams for form in _form_tuples(tag.key)):
                touched.add(tag.key)
                tag.mentioned[entry.section] -= 1
                if tag.key in carried:
                    tag.carried[entry.section] -= 1
        for key in [k for k, t in out.tags.items() if t.count <= 0]:
            del out.tags[key]
        for key in touched & out.tags.keys():
            tag = out.tags[key]
            for counter in (tag.sections, tag.spellings, tag.mentioned, tag.carried):
                for k in [k for k, n in counter.items() if n <= 0]:
                    del counter[k]
            if key in carried:
                # the spelling a rebuilt vocabulary picks: the commonest, the first written
                order = _first_written(doc, key, entry)
                tag.text = max(tag.spellings, key=lambda w: (tag.spellings[w], -order[w]))
        return out


@lru_cache(maxsize=8192)
def _form_tuples(key: str) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(f) for f in _forms(key)))


def _first_written(doc: AwesomeDoc, key: str, left_out: Entry) -> dict[str, int]:
    """Each spelling of the tag `key` by the position of the first entry (not `left_out`)
    writing it: the order a rebuilt vocabulary meets them in."""
    order: dict[str, int] = {}
    for n, entry in enumerate(doc.entries):
        if entry is left_out:
            continue
        for written in entry.keywords:
            if written not in order and tag_key(written) == key:
                order[written] = n
    return order


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
    # Each tag by the token sequences that mention it, so that an entry's text is looked up
    # once for all tags.
    by_form: dict[tuple[str, ...], list[Tag]] = {}
    for key, tag in vocab.tags.items():
        for form in dict.fromkeys(tuple(f) for f in _forms(key)):
            by_form.setdefault(form, []).append(tag)
    for entry in doc.entries:
        if id(entry) in skipped:
            continue
        grams = _text_ngrams(f"{entry.title} {entry.digest or ''}")
        carried = {tag_key(k) for k in entry.keywords}
        small, large = (by_form, grams) if len(by_form) < len(grams) else (grams, by_form)
        named = {id(t): t for form in small if form in large for t in by_form[form]}
        for tag in named.values():
            tag.mentioned[entry.section] += 1
            if tag.key in carried:
                tag.carried[entry.section] += 1
    return vocab


def _ngrams(tokens: Sequence[str], longest: int = 6) -> set[tuple[str, ...]]:
    return {
        tuple(tokens[i : i + n]) for n in range(1, longest + 1) for i in range(len(tokens) - n + 1)
    }


@lru_cache(maxsize=4096)
def _text_ngrams(text: str) -> frozenset[tuple[str, ...]]:
    # A list's entries are read again for every vocabulary built from it (one per held-out
    # entry in a replay): their n-grams are worked out once.
    return frozenset(_ngrams(_tokens(text)))


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
            # Pieces at even places, the hyphens or dashes that join them at odd ones.
            pieces = re.split(f"([{_JOINERS}]+)", word)
            out.append(
                "".join(
                    piece
                    if m % 2 or (m and piece.casefold() in _SMALL_WORDS)
                    else piece[:1].upper() + piece[1:]
                    for m, piece in enumerate(pieces)
                )
            )
    return " ".join(out)


# A tag taken from the paper's own text must be a whole noun phrase: what English marks as
# the start and end of one (function words, verbs, punctuation; a noun as the last word)
# decides where a phrase may be cut, so no tag is a compound cut short ("overparameterized
# neural" of "overparameterized neural networks") or a piece of a joined name.

# A word with its pieces joined by hyphens or dashes kept whole; any other mark alone.
_PIECE = r"[^\W_]+(?:['’][^\W_]+)*"
_WORD_RE = re.compile(rf"{_PIECE}(?:[{_JOINERS}]+{_PIECE})*|\S")
_TEX_JOIN_RE = re.compile(f"[{_JOINERS}]{{2}}")
_MATH_RE = re.compile(r"\$[^$]*\$")
# An acronym in parentheses after a term names it; the parentheses do not end the phrase.
_ACRONYM_RE = re.compile(r"[A-Za-z][a-z0-9]*[A-Z][A-Za-z0-9]*")
_DETERMINERS = frozenset(
    {"a", "an", "the", "this", "that", "these", "those", "its", "their", "our", "his", "her",
     "your", "my", "each", "every", "any", "some", "no", "such", "whose", "which"}
)  # fmt: skip
# Function words, pronouns and numbers: a noun phrase never runs across one.
_FUNCTION = _STOPWORDS | frozenset(
    {"across", "against", "along", "among", "amongst", "amid", "around", "upon", "within",
     "despite", "during", "until", "per", "versus", "vs", "like", "unlike", "near", "onto",
     "behind", "below", "above", "after", "before", "since", "while", "whether", "if",
     "because", "though", "although", "so", "but", "nor", "yet", "there", "here", "has",
     "have", "had", "was", "were", "i", "us", "them", "him", "me", "his", "her", "my",
     "itself", "themselves", "ones", "none", "using", "regarding", "concerning", "including",
     "following", "according", "whom", "other", "others", "another", "much", "many", "few",
     "several", "own", "same", "just", "even", "still", "already", "always", "never", "often",
     "again", "once", "twice", "now", "thus", "hence", "therefore", "however", "well", "far",
     "away", "up", "down", "out", "off", "too", "almost", "rather", "quite", "alone",
     "together", "instead", "else", "whereas", "cannot", "must", "shall", "let", "etc",
     "e", "g", "i.e", "eg", "ie", "et", "al", "one", "two", "three", "four", "five", "six",
     "seven", "eight", "nine", "ten", "hundred", "thousand", "million", "billion", "first",
     "second", "third", "last", "next", "every", "whole", "best", "worst"}
)  # fmt: skip
# Words that open a verb's object: a gerund before one is a verb ("Winning the Lottery").
_OBJECTS = _DETERMINERS | frozenset({"one", "another", "them", "it", "us", "all", "both"})
# Words after these are verbs: "we find", "can overfit", "does generalize".
_VERB_CUES = frozenset(
    {"we", "can", "cannot", "could", "may", "might", "will", "would", "should", "must",
     "does", "do", "did", "which", "who", "they", "it", "also", "not", "often", "then"}
)  # fmt: skip
# Verbs that a title writes between two noun phrases ("Networks Find ...", "... Work?").
_VERBS = frozenset(
    {"find", "finds", "found", "show", "shows", "showed", "learn", "learns", "learnt", "make",
     "makes", "made", "work", "works", "matter", "matters", "explain", "explains", "meet",
     "meets", "met", "enable", "enables", "help", "helps", "imply", "implies", "fit", "fits",
     "beat", "beats", "improve", "improves", "reveal", "reveals", "predict", "predicts",
     "emerge", "emerges", "fail", "fails", "generalize", "generalizes", "generalise",
     "generalises", "overfit", "overfits", "forget", "forgets", "memorize", "memorizes",
     "memorise", "win", "wins", "won", "tell", "tells", "told", "give", "gives", "gave",
     "yield", "yields", "hurt", "hurts", "outperform", "outperforms", "encode", "encodes",
     "require", "requires", "suggest", "suggests", "provide", "provides", "achieve",
     "achieves", "lead", "leads", "led", "allow", "allows", "become", "becomes", "became",
     "remain", "remains", "exist", "exists", "occur", "occurs", "seem", "seems", "appear",
     "appears", "depend", "depends", "affect", "affects", "induce", "induces", "reduce",
     "reduces", "grow", "grows", "get", "gets", "got", "go", "goes", "went", "come",
     "comes", "know", "knows", "think", "take", "takes", "took", "see", "sees", "saw",
     "say", "says", "keep", "keeps", "try", "tries", "want", "wants", "seek", "reach",
     "reaches", "eliminate", "build", "builds", "trains", "boosts", "bring", "brings",
     "solve", "solves", "prove", "proves", "converge", "converges", "behave", "behaves",
     "differ", "differs", "amounts", "perceive", "perceives", "happen", "happens", "arise",
     "arises", "fool", "fools", "pays", "hides", "rethink", "revisit", "understand",
     "understands", "present", "presents", "suffer", "suffers", "exhibit", "exhibits",
     "display", "displays", "perform", "performs", "share", "shares", "contain", "contains",
     "include", "includes", "involve", "involves", "undergo", "undergoes", "compete",
     "competes", "struggle", "struggles", "rely", "relies", "admit", "admits", "enjoy",
     "enjoys", "possess", "possesses", "lack", "lacks", "capture", "captures", "represent",
     "represents", "correspond", "corresponds", "vary", "varies", "offer", "offers", "aim",
     "aims", "serve", "serves", "decide", "decides", "mitigate", "mitigates", "enhance",
     "enhances", "overwrite", "overwrites", "fade", "fades", "generate", "generates"}
)  # fmt: skip
# Endings only verbs have: "localize", "quantifies".
_VERB_ENDINGS = ("ize", "izes", "yze", "yzes", "ify", "ifies")
# Adjectives that carry no ending that marks them as such.
_ADJECTIVES = frozenset(
    {"deep", "wide", "large", "small", "big", "new", "old", "high", "low", "robust", "sparse",
     "dense", "random", "good", "bad", "simple", "hard", "easy", "strong", "weak", "fast",
     "slow", "long", "short", "broad", "narrow", "full", "clean", "flat", "sharp", "smooth",
     "stable", "unstable", "rich", "poor", "true", "false", "early", "late", "single",
     "multiple", "various", "different", "main", "major", "minor", "prior", "open", "real",
     "complex", "convex", "nonconvex", "non-convex", "finite", "infinite", "implicit",
     "explicit", "exact", "tight", "loose", "free", "hidden", "known", "unknown", "given",
     "broken", "shallow", "extreme", "rough", "whole", "overall", "entire", "rare", "common",
     "approximate", "accurate", "adequate", "appropriate", "separate", "moderate",
     "intermediate", "ultimate", "private", "immediate", "legitimate", "proximate",
     "deliberate", "delicate", "inaccurate", "aware", "agnostic", "alike", "worth",
     "gaussian", "bayesian", "riemannian", "markovian", "darwinian", "newtonian",
     "cartesian", "euclidean", "boolean", "hebbian", "lipschitz", "unseen", "frozen",
     "proven", "driven", "chosen", "written", "taken", "forgotten", "bigger", "larger",
     "deeper", "wider", "better", "faster", "tighter", "lower", "higher", "smaller",
     "stronger", "weaker", "simpler", "harder", "easier", "longer", "shorter", "fewer",
     "sharper", "flatter", "smoother", "broader", "narrower", "denser", "sparser", "richer",
     "greater", "closer", "earlier", "worse", "relevant", "irrelevant", "important",
     "significant", "insignificant", "dominant", "redundant", "abundant", "distant",
     "elegant", "pleasant", "resistant", "tolerant", "brilliant", "reluctant", "invariant",
     "equivariant", "efficient", "inefficient", "sufficient", "insufficient",
     "independent", "dependent", "consistent", "inconsistent", "coherent", "recent",
     "frequent", "apparent", "evident", "excellent", "competent", "intelligent",
     "persistent", "latent", "salient", "convergent", "divergent", "equivalent",
     "prominent", "permanent", "inherent", "subsequent", "current", "urgent", "ancient",
     "silent", "transparent", "fluent", "proficient", "confident", "adjacent", "emergent",
     "recurrent", "concurrent", "ambient", "stringent", "decent", "absent",
     "binary", "stationary", "nonstationary", "arbitrary", "necessary", "unnecessary",
     "primary", "secondary", "ordinary", "auxiliary", "elementary", "evolutionary",
     "temporary", "contemporary", "preliminary", "complementary", "supplementary",
     "voluntary", "unitary", "solitary", "exemplary", "imaginary", "clear", "unclear",
     "nuclear", "familiar", "peculiar", "sure", "unsure", "able", "unable", "due", "else",
     "key", "mere", "obscure", "mature", "immature", "pure", "secure", "severe", "sincere",
     "supreme", "remote", "minute", "absolute", "obsolete", "complete",
     "incomplete", "concrete", "discrete", "definite", "indefinite", "opposite", "polite",
     "ultra", "naive", "alive", "inverse", "diverse", "intense", "tense", "immense", "coarse",
     "wise", "precise", "concise", "mobile", "fragile", "hostile", "agile", "versatile",
     "volatile", "fertile", "sterile", "subtle", "noble", "humble", "idle"}
)  # fmt: skip
# Nouns that end as adjectives, adverbs or participles do ("potential", "family", "need").
_NOUNS = frozenset(
    {"interval", "signal", "trial", "potential", "proposal", "removal", "retrieval",
     "survival", "arrival", "approval", "animal", "tutorial", "manual", "capital", "terminal",
     "principal", "individual", "chemical", "total", "mineral", "rival", "crystal", "metal",
     "portal", "spiral", "integral", "differential", "residual", "marginal", "dual",
     "journal", "material", "original", "goal", "deal", "appeal", "ideal", "renewal",
     "withdrawal", "denial", "canal", "medal", "hospital", "referral", "reversal",
     "dispersal", "disposal", "refusal", "memorial", "collateral", "mammal", "rational",
     "objective", "derivative", "alternative", "initiative", "representative",
     "perspective", "incentive", "directive", "primitive", "narrative", "relative",
     "negative", "positive", "adjective", "executive", "motive", "archive", "additive",
     "logic", "topic", "metric", "heuristic", "music", "clinic", "epidemic", "mechanic",
     "arithmetic", "rhetoric", "critic", "magic", "traffic", "fabric", "mimic", "panic",
     "table", "cable", "variable", "vegetable", "observable", "deliverable", "syllable",
     "timetable", "fable", "family", "anomaly", "assembly", "supply", "monopoly",
     "butterfly", "rally", "ally", "jelly", "belly", "fly", "poly", "reply", "seed", "speed",
     "feed", "need", "bed", "shed", "breed", "weed", "hundred", "string", "thing", "king",
     "ring", "wing", "spring", "ceiling", "evening", "morning", "sibling", "nothing",
     "something", "anything", "everything", "hessian", "jacobian", "laplacian",
     "lagrangian", "hamiltonian", "median", "meridian", "guardian", "scalar", "radar",
     "grammar", "calendar", "seminar", "pillar", "scholar", "sugar", "collar", "dollar",
     "mean"}
)  # fmt: skip
# Modifiers that say how much, how new or how good, not what: dropped from a phrase's start,
# and a phrase made of them and generic words says nothing ("Mathematical Models").
_WEAK = frozenset(
    {"new", "novel", "simple", "efficient", "effective", "better", "good", "great",
     "various", "different", "existing", "standard", "typical", "common", "recent",
     "modern", "popular", "practical", "important", "key", "main", "major", "surprising",
     "fundamental", "certain", "specific", "particular", "unified", "principled", "rigorous",
     "comprehensive", "systematic", "extensive", "careful", "proposed", "improved",
     "provable", "powerful", "remarkable", "interesting", "numerous", "brief", "closer",
     "detailed", "possible", "mere", "fantastic", "curious", "so-called", "state-of-the-art",
     "well-known"}
)  # fmt: skip
# Modifiers as vague: they stay in a phrase, but with generic words alone they say nothing.
_VAGUE = frozenset(
    {"mathematical", "theoretical", "empirical", "general", "large", "small", "big",
     "bigger", "larger", "smaller", "high", "higher", "low", "lower", "real", "real-world",
     "arbitrary", "entire", "overall", "extreme", "crucial", "strong",
     "stronger", "weak", "poor", "relevant", "significant", "original", "potential",
     "necessary", "sufficient", "scalable", "final", "initial", "end-to-end", "whole",
     "single", "multiple", "same", "similar", "various"}
)  # fmt: skip
# Nouns of any paper's writing, too plain to be a tag alone ("Power", "Features").
_PLAIN = frozenset(
    {"power", "feature", "features", "function", "functions", "parameter", "parameters",
     "layer", "layers", "input", "inputs", "output", "outputs", "sample", "samples",
     "example", "examples", "image", "images", "dataset", "datasets", "task", "tasks",
     "benchmark", "benchmarks", "error", "errors", "loss", "losses", "limit", "limits",
     "limitation", "limitations", "principle", "principles", "strategy", "strategies",
     "requirement", "requirements", "importance", "evaluation", "existence", "number",
     "time", "state", "scale", "information", "noise", "search", "flow", "edge", "concept",
     "truth", "usage", "use", "period", "periods", "algorithm", "algorithms",
     "architecture", "architectures", "classifier", "classifiers", "prediction",
     "predictions", "representation", "representations", "dimension", "dimensions",
     "language", "human", "humans", "class", "classes", "property", "properties",
     "behavior", "behaviour", "behaviors", "structure", "structures", "impact", "benefit",
     "benefits", "challenge", "challenges", "question", "questions", "answer", "system",
     "systems", "process", "processes", "setting", "settings", "regime", "regimes", "way",
     "ways", "tool", "tools", "technique", "techniques", "quantity", "quantities", "measure",
     "measures", "metric", "metrics", "value", "values", "size", "sizes", "level", "levels",
     "type", "types", "form", "forms", "set", "sets", "part", "parts", "point", "points",
     "amount", "degree", "rate", "rates", "weight", "weights", "objective", "objectives",
     "variable", "variables", "distribution", "distributions", "space", "spaces", "step",
     "steps", "iteration", "iterations", "phase", "phases", "ability", "abilities",
     "quality", "capacity", "majority", "community", "entity", "identity", "activity",
     "reality", "possibility", "difficulty", "investigation", "review", "experiment",
     "experiments", "observation", "observations", "finding", "findings", "solution",
     "solutions", "application", "applications", "implication", "implications",
     "relationship", "relation", "relations", "connection", "connections", "factor",
     "factors", "aspect", "aspects", "issue", "issues", "trade-off", "tradeoff", "cost",
     "costs", "accuracy", "domain", "domains", "object", "objects", "thing",
     "things", "world", "people", "person", "agent", "agents",
     "mechanism", "mechanisms", "vision", "text", "video", "signal", "signals",
     "target", "targets", "label", "labels", "score", "scores", "term", "terms", "order",
     "recognition", "inference", "prior", "priors", "mark", "role", "nature", "origin",
     "origins", "lens", "account", "story", "tale", "look", "take", "case",
     "cases",
     "start", "end", "unit", "units", "neuron",
     "neurons", "matrix", "matrices", "vector", "vectors", "graph", "graphs",
     "tree", "trees", "net", "nets", "depth", "width", "length", "memory",
     "computation", "statistics", "side", "sides", "phenomena",
     "phenomenon", "ai", "ml", "dnn", "dnns", "nn", "nns", "llm", "llms", "lm", "lms",
     "generalization", "optimization",
     "modelling", "modeling", "scaling", "mapping", "computing", "processing", "generation",
     "reconstruction", "detection", "classification", "segmentation", "estimation",
     "annotation", "verification", "education", "implementation", "extraction", "completion",
     "planning"}
)  # fmt: skip
_WEAK_STEMS = frozenset(_stem(w) for w in _WEAK | _VAGUE)
_PLAIN_STEMS = frozenset(_stem(w) for w in _PLAIN)
# Nouns ending in "s" that are not plurals, and so may stand inside a compound.
_SINGULAR_S = frozenset(
    {"series", "species", "news", "means", "lens", "apparatus", "chaos", "ethos", "gas",
     "atlas", "canvas", "alias", "bias", "cosmos", "pathos", "sports", "sales", "arms",
     "graphics", "mathematics", "physics", "statistics"}
)  # fmt: skip
# Heads that frame a paper's topic rather than name it ("A Data-Based Perspective").
_FRAMES = frozenset(
    {"perspective", "perspectives", "framework", "approach", "view", "viewpoint", "lens",
     "look", "take", "recipe", "paradigm", "story", "tale", "account"}
)  # fmt: skip
_PARTICIPLES = frozenset(
    {"hidden", "known", "given", "broken", "frozen", "proven", "driven", "chosen", "written",
     "taken", "forgotten", "unseen", "shown", "grown", "drawn", "built", "learnt"}
)  # fmt: skip
# Endings of derived nouns that name a property or a process: such a word is a term alone.
_TERM_ENDINGS = ("ization", "isation", "ification", "ity", "ness", "ism", "tion", "sion")


@lru_cache(maxsize=8192)
def _word_class(word: str) -> str:
    """What part of a phrase `word` can be: "N" noun, "G" gerund, "A" adjective or
    participle, "R" adverb, "V" verb, "" a function word that no phrase runs across."""
    if not any(c.isalpha() for c in word):
        return ""  # 2025, 1949-2025
    if len(word) < 2:
        return ""  # "A", "I", the letters of "w.r.t."
    if _ACRONYM_RE.fullmatch(word) or any(c.isdigit() for c in word) or word.isupper():
        return "N"  # SGD, ReLU, ResNets, V1: names and terms
    lower = word.casefold()
    if lower in _FUNCTION:
        return ""
    if lower in _VERBS or (len(lower) > 5 and lower.endswith(_VERB_ENDINGS)):
        return "V"  # not "size", "prize"
    if lower in _ADJECTIVES or lower in _WEAK or lower in _VAGUE:
        return "A"
    pieces = [p for p in _JOIN_RE.split(lower) if p]
    if len(pieces) > 1:
        # A joined word is what its last piece is: "data-dependent", "mixture-of-experts".
        last = pieces[-1]
        if last in _FUNCTION:
            return "A"
        return "A" if _word_class(last) in ("A", "R", "V") else "N"
    if lower in _NOUNS or "'" in lower or "’" in lower:
        return "N"
    if len(lower) > 4 and lower.endswith("ly"):
        return "R"
    if len(lower) > 4 and lower.endswith("ed") and not lower.endswith("eed"):
        return "A"
    if len(lower) > 4 and lower.endswith("ing"):
        return "G"
    if lower.endswith("ics"):
        return "N"  # dynamics, statistics, physics
    adjective_endings = (
        "ous", "ful", "less", "ish", "ible", "ive", "ic", "al", "ular", "ilar", "inear", "olar",
    )  # fmt: skip
    if len(lower) > 4 and lower.endswith(adjective_endings):
        return "A"
    if len(lower) > 6 and lower.endswith("able"):
        return "A"  # not "table", "cable"
    return "N"


@dataclass(frozen=True)
class _Phrase:
    """A noun phrase of a paper's text; in a title, with the phrase an "of" joins to it."""

    words: tuple[str, ...]
    in_title: bool
    of: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Run:
    """Words that no function word, verb or mark interrupts, and what stands around them."""

    words: list[str]
    before: str | None
    after: str
    in_title: bool


@dataclass
class _Text:
    """A paper's title and abstract cut into noun phrases, with the terms it defines."""

    phrases: list[_Phrase] = field(default_factory=list)
    defined: list[tuple[tuple[str, ...], str]] = field(default_factory=list)


def _items(text: str) -> list[str]:
    """Words (joined words whole) and single marks; a possessive ends its word."""
    out: list[str] = []
    for token in _WORD_RE.findall(_MATH_RE.sub(" . ", text)):
        if token[:1].isalnum() and token.casefold().endswith(("'s", "’s")):
            out += [token[:-2], "'"]
        elif token[:1].isalnum() and ("'" in token or "’" in token):
            out.append(".")  # "don't", "What's": a clause, not a term
        else:
            out.append(token)
    return out


def _is_word(item: str) -> bool:
    return item[:1].isalnum()


def _initials(words: Sequence[str]) -> str:
    return "".join(
        piece[0].casefold()
        for word in words
        for piece in _JOIN_RE.split(word)
        if piece and piece.casefold() not in _STOPWORDS
    )


def _defined(before: Sequence[str], acronym: str, after: Sequence[str]) -> tuple[str, ...]:
    """The term an acronym in parentheses names: the words before it whose initials spell
    it ("neural tangent kernel (NTK)"), and the words after it that go on with the term."""
    # "MoE" is "me", "dLLMs" is "dllm": the first letter, then the capitals.
    letters = (acronym[0] + "".join(c for c in acronym[1:] if c.isupper())).casefold()
    for start in range(len(before) - 1, max(-1, len(before) - 8), -1):
        if not _is_word(before[start]) or _word_class(before[start]) == "V":
            return ()
        initials = _initials(before[start:])
        if len(initials) > len(letters):
            return ()
        if initials != letters or before[start].casefold() in _STOPWORDS:
            continue
        term = list(before[start:])
        more: list[str] = []
        for word in after[:4]:
            if not _is_word(word) or _word_class(word) not in ("N", "G", "A"):
                break
            more.append(word)
        while more and _word_class(more[-1]) == "A":
            more.pop()
        # "Erdős–Rényi (ER) random graphs" is one term; "mixture-of-experts (MoE) models"
        # defines "mixture-of-experts", and "models" is only its generic head.
        if any(_stem(w) not in _GENERIC_STEMS for w in more) and len(term) + len(more) <= 4:
            term += more
        return tuple(term)
    return ()


def _without_acronyms(items: Sequence[str]) -> tuple[list[str], list[tuple[tuple[str, ...], str]]]:
    """The items with each "(ACRONYM)" taken out, so that it does not cut the phrase it
    stands in; and the terms those acronyms define."""
    kept: list[str] = []
    defined: list[tuple[tuple[str, ...], str]] = []
    i = 0
    while i < len(items):
        if (
            items[i] == "("
            and i + 2 < len(items)
            and items[i + 2] == ")"
            and _ACRONYM_RE.fullmatch(items[i + 1].rstrip("s"))
            and kept
            and _is_word(kept[-1])
        ):
            term = _defined(kept, items[i + 1], items[i + 3 : i + 8])
            if term:
                defined.append((term, items[i + 1]))
            i += 3
            continue
        kept.append(items[i])
        i += 1
    return kept, defined


def _runs(items: Sequence[str], in_title: bool) -> list[_Run]:
    """The runs of content words in a text's items."""
    # Verbs the text marks as such: the word after "we", "can", "which".
    cued = {
        items[i + 1].casefold()
        for i in range(len(items) - 1)
        if items[i].casefold() in _VERB_CUES
        and items[i + 1][:1].islower()
        and _word_class(items[i + 1]) == "N"
    }
    runs: list[_Run] = []
    words: list[str] = []
    before: str | None = None
    for n, item in enumerate([*items, "."]):
        word_class = _word_class(item) if _is_word(item) else ""
        if word_class in ("N", "G", "A", "R") and item.casefold() not in cued:
            if not words:
                before = items[n - 1].casefold() if n else None
            words.append(item)
            continue
        if words:
            runs.append(_Run(words, before, item.casefold(), in_title))
        words = []
    return runs


def _parse(title: str, abstract: str) -> _Text:
    """The noun phrases of a paper's title and abstract, in order, and the terms that an
    acronym in parentheses defines."""
    parsed = _Text()
    runs: list[_Run] = []
    for text, in_title in ((title, True), (abstract, False)):
        items, defined = _without_acronyms(_items(text))
        parsed.defined += defined
        runs += _runs(items, in_title)
    # Gerunds the text uses as nouns before a word: "the training dynamics", "sparse training".
    nominal = {
        (run.words[n].casefold(), run.words[n + 1].casefold())
        for run in runs
        for n in range(len(run.words) - 1)
        if _word_class(run.words[n]) == "G" and (n or run.before in _DETERMINERS)
    }
    spans = [_spans(run, nominal) for run in runs]
    for n, run in enumerate(runs):
        for start, end in spans[n]:
            of: tuple[str, ...] = ()
            follows = runs[n + 1] if n + 1 < len(runs) else None
            if (
                run.in_title
                and end == len(run.words)
                and run.after == "of"
                and follows is not None
                and follows.in_title
                and follows.before == "of"
                and spans[n + 1]
                and spans[n + 1][0][0] == 0
            ):
                # "Mixture of Experts", "Edge of Stability": the phrase may go on after "of".
                of = tuple(follows.words[: spans[n + 1][0][1]])
            parsed.phrases.append(_Phrase(tuple(run.words[start:end]), run.in_title, of))
    return parsed


def _spans(run: _Run, nominal: set[tuple[str, str]]) -> list[tuple[int, int]]:
    """The noun phrases of a run, as [start, end) spans. Each ends in a noun, so a phrase
    cut before its noun ("overparameterized neural") is never one; a gerund that opens a
    clause is a verb ("Comparing Learning Algorithms"), and so is the word after a title's
    plural noun ("LLMs Introspect")."""
    words = run.words
    classes = [_word_class(w) for w in words]
    groups: list[list[int]] = [[]]
    verb: int | None = None
    for n, word_class in enumerate(classes):
        following = classes[n + 1] if n + 1 < len(classes) else ""
        if n == verb:
            continue
        if (
            word_class == "G"
            and not groups[-1]
            and following in ("A", "R")
            and not _is_participle(words[n + 1])
        ):
            continue  # "Dissecting Neural ODEs": a gerund before an adjective is a verb
        groups[-1].append(n)
        if (
            run.in_title
            and following == "N"
            and _is_plural(words[n])
            and not _is_plural(words[n + 1])  # "Least Squares Problems" goes on
        ):
            groups.append([])
            verb = n + 1
    spans: list[tuple[int, int]] = []
    for group in groups:
        if not group:
            continue
        start, end = group[0], group[-1] + 1
        lead = start
        while lead < end - 1 and classes[lead] == "R":
            lead += 1
        if (
            start == 0
            and classes[lead] == "G"
            and run.before not in _DETERMINERS
            and lead + 1 < end
            and (words[lead].casefold(), words[lead + 1].casefold()) not in nominal
        ):
            start = lead + 1  # the gerund takes an object, unless the text says otherwise
        if end == len(words) and classes[end - 1] == "G" and run.after in _OBJECTS:
            end -= 1  # "Users Shaping One Another"
        while end > start and classes[end - 1] not in ("N", "G"):
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _is_plural(word: str) -> bool:
    """A plural noun, which English writes last in a compound ("language models")."""
    lower = word.casefold()
    if _JOIN_RE.search(word) or lower in _SINGULAR_S or _word_class(word) != "N":
        return False  # "Mixture-of-Experts Models", "Time Series Forecasting"
    if word[:-1].isupper() and word.endswith("s"):
        return len(word) > 2  # LLMs, RNNs
    return len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is", "ics"))


def _is_participle(word: str) -> bool:
    lower = word.casefold()
    return (len(lower) > 4 and lower.endswith("ed") and not lower.endswith("eed")) or (
        lower in _PARTICIPLES
    )


def _strip_weak(words: Sequence[str]) -> tuple[str, ...]:
    """The phrase without the modifiers that only rate it ("Novel", "Extremely")."""
    start = 0
    while start < len(words) - 1 and (
        _word_class(words[start]) == "R" or words[start].casefold() in _WEAK
    ):
        start += 1
    return tuple(words[start:])


def _is_term(word: str) -> bool:
    """Whether one word of a paper is a term on its own (an acronym, a joined word, a noun
    that names a property or a process), not a generic word."""
    if _ACRONYM_RE.fullmatch(word) or (word.isupper() and len(word) > 1):
        return _content(word)
    pieces = [p for p in _JOIN_RE.split(word) if p]
    if len(pieces) > 1:
        return any(_content(p) for p in pieces)
    lower = word.casefold()
    return _content(word) and (
        (len(lower) > 6 and lower.endswith(_TERM_ENDINGS)) or _word_class(word) == "G"
    )


def _content(word: str, *, alone: bool = True) -> bool:
    """A word that says what a phrase is about: not generic, weak or a function word; nor,
    as a phrase of its own (`alone`), a plain word of any paper."""
    stem = _stem(word)
    return not (
        stem in _GENERIC_STEMS
        or stem in _STOP_STEMS
        or (alone and stem in _PLAIN_STEMS)
        or stem in _WEAK_STEMS
        or word.casefold() in _FUNCTION
    )


def _is_phrase(words: Sequence[str], heads: set[str], *, defined: bool = False) -> bool:
    """Whether a phrase of the paper is a whole term to write as a tag."""
    if not words or len(words) > 4 or _word_class(words[-1]) not in ("N", "G"):
        return False  # a phrase ends in its noun
    if any(len(w) < 2 or _TEX_JOIN_RE.search(w) for w in words):
        return False  # "ε--perturbation": a word as TeX writes it
    if words[0].casefold() in _GENERIC_EDGES or words[-1].casefold() in _GENERIC_EDGES:
        return False
    if words[-1].casefold() in _FRAMES:
        return False  # "A Data-Based Perspective": how a paper looks, not at what
    # A plain word names a topic as a modifier ("Vision Language Models"), not as the head
    # ("Empirical Investigation"); generic and weak words alone say nothing ("Deep Nets").
    if not any(_content(w, alone=n == len(words) - 1) for n, w in enumerate(words)):
        return False
    if len(words) == 1:
        # "Power", "Features", "Exploding": one word is a term only when it is one by its
        # form and the abstract names it as such, or the paper defines it.
        return _is_term(words[0]) and (defined or words[0].casefold() in heads)
    return True


def key_phrases(title: str, abstract: str) -> list[str]:
    """The paper's own key phrases, each a whole noun phrase of its text: terms it defines
    with an acronym, then title phrases the abstract repeats."""
    abstract_tokens = _tokens(abstract)
    parsed = _parse(title, abstract)
    # The words the abstract uses as the head of a phrase, and every phrase it uses at full
    # width: a shorter phrase counts only where the text uses it on its own, never as the
    # end of a longer one.
    heads = {p.words[-1].casefold() for p in parsed.phrases if not p.in_title}
    whole = {tag_key(" ".join(_strip_weak(p.words))) for p in parsed.phrases}
    joined = {tag_key(w) for w in _items(abstract) if _JOIN_RE.search(w)}
    scored: dict[str, tuple[float, str]] = {}

    def offer(words: Sequence[str], score: float, *, defined: bool = False) -> None:
        key = tag_key(" ".join(words))
        if key and _is_phrase(words, heads, defined=defined):
            best = scored.get(key)
            if best is None or best[0] < score:
                scored[key] = (score, _display(words))

    def in_title(words: Sequence[str]) -> float:
        # A title phrase the abstract repeats is a term of the paper, not wording.
        seen = _find(_tokens(" ".join(words)), abstract_tokens)
        return 1.0 + (1.0 if seen else 0.0) + math.log1p(seen) + _SIZE_BONUS[min(len(words), 4)]

    for words, acronym in parsed.defined:
        offer(words, 4.0 + _find(_tokens(acronym), abstract_tokens) * 0.1, defined=True)
    for phrase in parsed.phrases:
        if not phrase.in_title:
            continue
        words = _strip_weak(phrase.words)
        parts = [words] + [
            words[start:]
            for start in range(1, len(words) - 1)
            if tag_key(" ".join(words[start:])) in whole
        ]
        # "Mixture of Experts" where the abstract joins it into one word: "Mixture" alone
        # would be cut short.
        longer = [
            (*words[start:], "of", *phrase.of)
            for start in range(len(words))
            if phrase.of and tag_key(" ".join((*words[start:], "of", *phrase.of))) in joined
        ]
        for part in longer:
            offer(part, in_title(part) + 0.5)
        for part in [] if longer else parts:
            offer(part, in_title(part))
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
    Fewer than `low` when the paper has no more whole phrases: no fragment makes up the count.
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
            continue  # "Strong Lottery Tickets" beside "Lottery Ticket Hypothesis"
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
