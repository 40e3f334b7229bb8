"""Keyword matching and ranking rules: the TOML rules file, its compiled form, and Match scoring."""

from __future__ import annotations

import importlib.resources
import re
import re._constants as _sre
import re._parser as _sre_parse
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from feeds.errors import RulesError
from feeds.models import Match, Paper

__all__ = ["FIELDS", "MAX_PATTERN_LENGTH", "RuleSet", "normalize", "read_descriptions"]

FIELDS = ("title", "abstract")
MAX_PATTERN_LENGTH = 200
DEFAULT_FIELD_WEIGHTS = {"title": 3.0, "abstract": 1.0}
DEFAULT_AUTHOR_WEIGHT = 2.0
DEFAULT_THRESHOLD = 3.0
# The rules files shipped: for a list filed by broad topic (the 2020 shape: Deep Learning
# Theory, Empirical Study, Understanding Robustness, ...), and for one filed by phenomenon
# (Neural Collapse, Deep Double Descent, Lottery Ticket Hypothesis, ..., Others).
BUNDLED_RULES = ("default_rules.toml", "phenomena_rules.toml")

# Every dash a writer might type between two words; all of them read as a space so that
# "double-descent", "double–descent" and "double descent" are one phrase.
_DASHES = dict.fromkeys(map(ord, "-\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"), " ")
_WORDS = re.compile(r"\w+")
_PHRASE_SHAPE = re.compile(r"\w+(?: \w+)*")
# British and American spellings ("regularisation"/"regularization") are one word. The stem
# must have three letters so that short words such as "noise" or "rise" are left alone.
_IZE = re.compile(r"(\w{3,})i[sz](ation|ing|ed|er|e)")
_CONSONANT_Y = re.compile(r"\w*[^aeiou\W]y")
# ASCII punctuation becomes a space, so that `str.split` yields exactly the `\w+` words of
# ASCII text; it is much cheaper than a regex pass. Other text is tokenised with _WORDS.
_PUNCTUATION = str.maketrans(
    {chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
)


def normalize(text: str) -> str:
    """Text as phrases see it: NFKC, lowercase, every dash a space, whitespace collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    else:
        text = text.replace("-", " ")
    return " ".join(text.lower().split())


def _clean(text: str) -> str:
    """Text as regexes see it: NFKC with whitespace collapsed; case and dashes kept."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def _canon(word: str) -> str:
    """One spelling per word: "-isation" and friends become "-ization"."""
    found = _IZE.fullmatch(word)
    return f"{found[1]}iz{found[2]}" if found else word


def _word_pattern(canon: str) -> str:
    found = _IZE.fullmatch(canon)
    if found:
        return f"{re.escape(found[1])}i[sz]{found[2]}"
    return re.escape(canon)


def _phrase_pattern(words: tuple[str, ...]) -> str:
    r"""The regex of one phrase over normalised text, as the fast path uses it.

    It means what `_plain_pattern` says, the textbook way: `\b`, the words separated by one
    space, the last word optionally plural, `\b`. Here the start check is a lookbehind
    placed after the first word rather than a `\b` before it, because a pattern that begins
    with a literal lets the regex engine skip ahead with a fast substring scan (about 20
    times faster on an abstract).
    """

    def starting(form: str) -> str:
        return f"{_word_pattern(form)}(?<!\\w.{{{len(form)}}})"

    *first, last = words
    forms = _last_word_forms(last)
    if first:
        head = starting(first[0]) + "".join(f" {_word_pattern(w)}" for w in first[1:]) + " "
        tail = "|".join(_word_pattern(form) for form in forms)
    else:
        head = ""
        tail = "|".join(starting(form) for form in forms)
    return f"{head}(?:{tail})(?:s|es)?(?!\\w)"


def _plain_pattern(words: tuple[str, ...]) -> str:
    """The same phrase written the obvious way; the reference path uses it."""
    *first, last = words
    lead = "".join(_word_pattern(w) + " " for w in first)
    tail = "|".join(_word_pattern(form) for form in _last_word_forms(last))
    return rf"\b{lead}(?:{tail})(?:s|es)?\b"


def _last_word_forms(canon: str) -> tuple[str, ...]:
    """The stems a last word may carry a plural "s"/"es" on: "anomaly" also as "anomalie"."""
    if _CONSONANT_Y.fullmatch(canon):
        return (canon, canon[:-1] + "ie")
    return (canon,)


def _spellings(canon: str) -> frozenset[str]:
    """Every text word that `_word_pattern(canon)` matches."""
    found = _IZE.fullmatch(canon)
    if found:
        return frozenset({f"{found[1]}iz{found[2]}", f"{found[1]}is{found[2]}"})
    return frozenset({canon})


def _surface_forms(words: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """Per word of a phrase, every text word it can match (the last one with plurals)."""
    *first, last = words
    tail = {
        spelling + suffix
        for form in _last_word_forms(last)
        for spelling in _spellings(form)
        for suffix in ("", "s", "es")
    }
    return (*(_spellings(w) for w in first), frozenset(tail))


def _words_of(norm: str) -> set[str]:
    """The set of word-character runs of a normalised text."""
    if norm.isascii():
        return set(norm.translate(_PUNCTUATION).split())
    return set(_WORDS.findall(norm))


# --------------------------------------------------------------------------- compiled parts


@dataclass(eq=False, slots=True)
class _Phrase:
    """One distinct phrase (after normalisation); every rule that names it shares it."""

    id: int
    text: str  # as first written in the rules file, used in reasons
    words: tuple[str, ...]  # canonical words
    pattern: re.Pattern[str]  # the phrase on its own, over normalised text (fast form)
    plain: re.Pattern[str]  # the same, written the obvious way (reference path)
    forms: tuple[frozenset[str], ...]  # per word, the text words it matches


@dataclass(eq=False, slots=True)
class _Regex:
    id: int
    source: str
    pattern: re.Pattern[str]
    # Lowercase ASCII text every match starts with, or "". On ASCII text a regex whose
    # prefix is not in the lowercased field cannot match, and a substring test is far
    # cheaper than a search that cannot skip ahead (as after a leading \b).
    prefix: str = ""


@dataclass(eq=False, slots=True)
class _Term:
    """Something that scores: a phrase or a regex, with its weight."""

    weight: float
    phrase: _Phrase | None = None
    regex: _Regex | None = None


@dataclass(eq=False, slots=True)
class _Rule:
    section: int
    order: int  # position in the whole file, so that both match paths visit rules alike
    terms: tuple[_Term, ...]
    all: tuple[frozenset[int], ...]  # each group needs one phrase present
    any: frozenset[int]  # empty: no condition
    none: frozenset[int]


@dataclass(frozen=True, slots=True)
class _Name:
    """An author name reduced to what can be compared: last name, given names."""

    last: str
    given: tuple[str, ...]

    def same_person(self, other: _Name) -> bool:
        if self.last != other.last:
            return False
        if not self.given or not other.given:
            return True
        mine, theirs = self.given[0], other.given[0]
        if len(mine) == 1 or len(theirs) == 1:
            return mine[0] == theirs[0]
        return mine == theirs


@dataclass(eq=False, slots=True)
class _Author:
    written: str  # as in the rules file, used in reasons
    name: _Name
    weight: float


@dataclass(eq=False, slots=True)
class _Section:
    name: str
    rules: list[_Rule] = field(default_factory=list)
    veto: frozenset[int] = frozenset()
    threshold: float | None = None
    categories: tuple[str, ...] | None = None  # None: the global filter applies
    authors: tuple[_Author, ...] = ()


@dataclass(slots=True)
class _Text:
    """The two forms of a paper's fields, computed once per paper."""

    norm: tuple[str, str]
    clean: tuple[str, str]

    @classmethod
    def of(cls, paper: Paper, *, for_regex: bool) -> _Text:
        raw = (paper.title or "", paper.abstract or "")
        norm = (normalize(raw[0]), normalize(raw[1]))
        return cls(norm=norm, clean=(_clean(raw[0]), _clean(raw[1])) if for_regex else ("", ""))


# A firing rule's terms: (label, weight, found in title, found in abstract).
_Hit = tuple[str, float, bool, bool]


def _name_key(name: str) -> _Name | None:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("'", "").replace("\u2019", "")
    if "," in text:  # "Arora, Sanjeev"
        last, _, given = text.partition(",")
        text = f"{given} {last}"
    words = [
        w for w in _WORDS.findall(text.replace("_", " ")) if w not in {"jr", "sr", "ii", "iii"}
    ]
    if not words:
        return None
    return _Name(last=words[-1], given=tuple(words[:-1]))


# --------------------------------------------------------------------------- loading


class _Loader:
    """Reads the parsed TOML into compiled parts; every complaint names the file and key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.phrases: dict[tuple[str, ...], _Phrase] = {}
        self.regexes: list[_Regex] = []
        self.groups: dict[str, frozenset[int]] = {}
        self.rule_count = 0

    def fail(self, key: str, problem: str) -> RulesError:
        return RulesError(f"{self.source}: {key}: {problem}")

    # -- typed access

    def table(self, value: object, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_type_name(value)}")
        return value

    def keys(self, table: Mapping[str, Any], key: str, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in table:
            if name not in allowed:
                raise self.fail(
                    _join(key, name),
                    f"unknown key (allowed here: {', '.join(sorted(allowed))})",
                )

    def number(self, value: object, key: str, *, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {_type_name(value)}")
        if value < 0 or (positive and value == 0):
            raise self.fail(key, f"must be {'above' if positive else 'at least'} 0, not {value}")
        return float(value)

    def strings(self, value: object, key: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, not {_type_name(value)}")
        return value

    # -- phrases and regexes

    def phrase(self, text: str, key: str) -> _Phrase:
        if text.startswith("@"):
            raise self.fail(key, f"group {text!r} can only be used in all/any/none")
        norm = normalize(text)
        if not _PHRASE_SHAPE.fullmatch(norm):
            raise self.fail(
                key,
                f"phrase {text!r} must be words separated by spaces or hyphens; "
                "use a regex for anything else",
            )
        words = tuple(_canon(w) for w in norm.split(" "))
        found = self.phrases.get(words)
        if found is None:
            found = _Phrase(
                id=len(self.phrases),
                text=" ".join(text.split()),
                words=words,
                pattern=re.compile(_phrase_pattern(words)),
                plain=re.compile(_plain_pattern(words)),
                forms=_surface_forms(words),
            )
            self.phrases[words] = found
        return found

    def regex(self, text: str, key: str, section: str) -> _Regex:
        where = f"regex {text!r} in section {section!r}"
        if len(text) > MAX_PATTERN_LENGTH:
            raise self.fail(key, f"{where} is over {MAX_PATTERN_LENGTH} characters")
        try:
            parsed = _sre_parse.parse(text, re.IGNORECASE)
            compiled = re.compile(text, re.IGNORECASE)
        except re.error as error:
            raise self.fail(key, f"{where} is not a valid regular expression: {error}") from None
        danger = _backtracking_danger(parsed.data, repeated=False)
        if danger:
            raise self.fail(key, f"{where} {danger}, which can backtrack catastrophically")
        if compiled.fullmatch(""):
            raise self.fail(key, f"{where} matches the empty string")
        found = _Regex(
            id=len(self.regexes), source=text, pattern=compiled, prefix=_literal_prefix(parsed.data)
        )
        self.regexes.append(found)
        return found

    def condition(self, value: object, key: str) -> list[frozenset[int]]:
        """all/any/none: a list of phrases, "@group" names and [one-of] lists."""
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, not {_type_name(value)}")
        out: list[frozenset[int]] = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if isinstance(item, str) and item.startswith("@"):
                if item[1:] not in self.groups:
                    known = ", ".join(f"@{g}" for g in self.groups) or "none defined"
                    raise self.fail(where, f"unknown group {item!r} (known: {known})")
                out.append(self.groups[item[1:]])
            elif isinstance(item, str):
                out.append(frozenset({self.phrase(item, where).id}))
            elif isinstance(item, list):
                ids: set[int] = set()
                for j, sub in enumerate(self.strings(item, where)):
                    if sub.startswith("@"):
                        ids |= self.condition([sub], f"{where}[{j}]")[0]
                    else:
                        ids.add(self.phrase(sub, f"{where}[{j}]").id)
                if not ids:
                    raise self.fail(where, "is an empty list")
                out.append(frozenset(ids))
            else:
                raise self.fail(
                    where, f"must be a phrase, an @group or a list, not {_type_name(item)}"
                )
        return out

    def terms(self, table: Mapping[str, Any], key: str, section: str, weight: float) -> list[_Term]:
        terms: list[_Term] = []
        for i, item in enumerate(_as_list(self, table.get("phrases", []), _join(key, "phrases"))):
            where = f"{_join(key, 'phrases')}[{i}]"
            text, w = self.weighted(item, where, "phrase", weight)
            terms.append(_Term(weight=w, phrase=self.phrase(text, where)))
        for i, item in enumerate(_as_list(self, table.get("regex", []), _join(key, "regex"))):
            where = f"{_join(key, 'regex')}[{i}]"
            text, w = self.weighted(item, where, "pattern", weight)
            terms.append(_Term(weight=w, regex=self.regex(text, where, section)))
        return terms

    def weighted(self, item: object, key: str, name: str, weight: float) -> tuple[str, float]:
        if isinstance(item, str):
            return item, weight
        if isinstance(item, dict):
            self.keys(item, key, (name, "weight"))
            if not isinstance(item.get(name), str):
                raise self.fail(
                    _join(key, name), f"must be a string, not {_type_name(item.get(name))}"
                )
            w = self.number(item["weight"], _join(key, "weight")) if "weight" in item else weight
            return item[name], w
        raise self.fail(
            key, f"must be a string or {{{name} = ..., weight = ...}}, not {_type_name(item)}"
        )

    def rule(
        self, table: Mapping[str, Any], key: str, section: int, name: str, *, top: bool
    ) -> _Rule | None:
        weight = self.number(table["weight"], _join(key, "weight")) if "weight" in table else 1.0
        terms = self.terms(table, key, name, weight)
        if top:  # the section's own phrases: unconditional; its `none` vetoes the section
            conditions: dict[str, list[frozenset[int]]] = {}
        else:
            conditions = {
                c: self.condition(table.get(c, []), _join(key, c)) for c in ("all", "any", "none")
            }
            if not terms:
                raise self.fail(key, "a rule needs `phrases` or `regex`: something to score")
        if not terms:
            return None
        self.rule_count += 1
        return _Rule(
            section=section,
            order=self.rule_count,
            terms=tuple(terms),
            all=tuple(conditions.get("all", [])),
            any=frozenset().union(*conditions.get("any", [])),
            none=frozenset().union(*conditions.get("none", [])),
        )

    def categories(self, value: object, key: str) -> tuple[str, ...]:
        names = self.strings(value, key)
        for i, name in enumerate(names):
            if not re.fullmatch(r"[A-Za-z-]+(?:\.[A-Za-z-]+)?(?:\.\*)?", name):
                raise self.fail(
                    f"{key}[{i}]", f"{name!r} is not an arXiv category such as cs.LG or cs.*"
                )
        return tuple(names)

    def authors(self, value: object, key: str, weight: float) -> tuple[_Author, ...]:
        out = []
        for i, written in enumerate(self.strings(value, key)):
            name = _name_key(written)
            if name is None:
                raise self.fail(f"{key}[{i}]", f"{written!r} is not a name")
            out.append(_Author(written=" ".join(written.split()), name=name, weight=weight))
        return tuple(out)


_TOP_KEYS = ("threshold", "categories", "weights", "authors", "groups", "sections")
_SECTION_KEYS = (
    "phrases",
    "regex",
    "weight",
    "none",
    "rules",
    "threshold",
    "categories",
    "authors",
    "author_weight",
)
_RULE_KEYS = ("phrases", "regex", "weight", "all", "any", "none")


def _as_list(loader: _Loader, value: object, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise loader.fail(key, f"must be a list, not {_type_name(value)}")
    return value


def _join(key: str, name: str) -> str:
    part = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'
    return f"{key}.{part}" if key else part


def _type_name(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
_BACKREFS = {_sre.GROUPREF, _sre.GROUPREF_EXISTS}


def _backtracking_danger(items: Iterable[tuple[Any, Any]], *, repeated: bool) -> str | None:
    """Why a parsed pattern can take exponential time, or None.

    Refused: backreferences and conditional groups; a quantifier that can repeat (max > 1)
    inside another such quantifier, as in (a+)+, (a*)* or (\\w+\\s?)+; and an alternation
    inside a repeated group, as in (a|a)* or (ab|a)+, whose branches may overlap. The
    parser has already turned single-character alternatives such as (a|b)* into a class.
    """
    for op, arg in items:
        if op in _BACKREFS:
            return "uses a backreference or a conditional group"
        if op in _REPEATS:
            _low, high, body = arg
            repeats = high > 1
            if repeats and repeated:
                return "nests a quantifier inside a repeated group"
            found = _backtracking_danger(body, repeated=repeated or repeats)
        elif op is _sre.BRANCH:
            if repeated:
                return "has an alternation inside a repeated group"
            found = next(
                (d for b in arg[1] if (d := _backtracking_danger(b, repeated=False))), None
            )
        elif op is _sre.SUBPATTERN:
            found = _backtracking_danger(arg[-1], repeated=repeated)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            found = _backtracking_danger(arg[1], repeated=repeated)
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            found = _backtracking_danger(arg, repeated=repeated)
        else:
            found = None
        if found:
            return found
    return None


def _literal_prefix(items: Iterable[tuple[Any, Any]]) -> str:
    """The literal text a parsed pattern starts with, lowercased, when it is plain ASCII."""
    chars: list[str] = []
    for op, arg in items:
        if op is _sre.LITERAL and arg < 128 and (chars or not chr(arg).isspace()):
            chars.append(chr(arg).lower())
        elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT) and not chars:
            continue  # zero-width, before any literal: the match still starts after it
        else:
            break
    return "".join(chars) if len(chars) >= 2 else ""


def _category_ok(categories: Iterable[str], allowed: tuple[str, ...] | None) -> bool:
    """A paper passes when one of its categories is allowed (or when its categories are
    unknown: the filter only keeps out papers known to be elsewhere)."""
    categories = list(categories)
    if allowed is None or not allowed or not categories:
        return True
    for pattern in allowed:
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            if any(c.startswith(prefix) or c == pattern[:-2] for c in categories):
                return True
        elif pattern in categories:
            return True
    return False


# --------------------------------------------------------------------------- the rule set


class RuleSet:
    """Compiled matching rules: load once, then `match` every paper of every poll."""

    sections: list[str]
    threshold: float

    def __init__(
        self,
        loader: _Loader,
        sections: list[_Section],
        threshold: float,
        field_weights: tuple[float, float],
        categories: tuple[str, ...] | None,
        authors: tuple[_Author, ...],
    ) -> None:
        self.sections = [s.name for s in sections]
        self.threshold = threshold
        self.source = loader.source
        self._sections = sections
        self._field_weights = field_weights
        self._categories = categories
        self._authors = authors
        self._phrases = sorted(loader.phrases.values(), key=lambda p: p.id)
        self._regexes = loader.regexes
        self._rules = [rule for s in sections for rule in s.rules]
        # Inverted indexes: from a phrase/regex to the rules it can make fire.
        self._rules_by_phrase: dict[int, list[_Rule]] = {}
        self._rules_by_regex: dict[int, list[_Rule]] = {}
        for rule in self._rules:
            for term in rule.terms:
                if term.phrase is not None:
                    self._rules_by_phrase.setdefault(term.phrase.id, []).append(rule)
                elif term.regex is not None:
                    self._rules_by_regex.setdefault(term.regex.id, []).append(rule)
        # The text-side index: every text word a phrase can start with -> those phrases.
        # A phrase can only be in a text that has one of its first words; the set of words
        # of a field meets this index in one C-level intersection.
        starts: dict[str, set[int]] = {}
        for phrase in self._phrases:
            for word in phrase.forms[0]:
                starts.setdefault(word, set()).add(phrase.id)
        self._starts = {word: tuple(sorted(ids)) for word, ids in starts.items()}
        self._watch: dict[str, list[tuple[int | None, _Author]]] = {}
        for author in authors:
            self._watch.setdefault(author.name.last, []).append((None, author))
        for index, section in enumerate(sections):
            for author in section.authors:
                self._watch.setdefault(author.name.last, []).append((index, author))

    def __repr__(self) -> str:
        return f"<RuleSet {self.source}: {len(self.sections)} sections, {len(self._rules)} rules, {len(self._phrases)} phrases, {len(self._regexes)} regexes>"

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    # -- loading

    @classmethod
    def from_toml(cls, text: str, source: str = "<rules>") -> RuleSet:
        """Compile a rules file's text; RulesError, naming `source` and the key, if anything is wrong."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RulesError(f"{source}: not valid TOML: {error}") from None
        return cls._build(data, _Loader(source))

    @classmethod
    def load(cls, path: str | PathLike[str]) -> RuleSet:
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as error:
            raise RulesError(f"{path}: cannot read rules file: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise RulesError(f"{path}: rules file is not UTF-8: {error}") from None
        return cls.from_toml(text, str(path))

    @classmethod
    def default(cls) -> RuleSet:
        """The rules shipped with paperbot (feeds/default_rules.toml)."""
        return cls._bundled_file("default_rules.toml")

    @classmethod
    def bundled(cls) -> list[RuleSet]:
        """Every rules file shipped with paperbot, the default first: one per shape of list
        (`BUNDLED_RULES`); `feeds.ranking.rules_for_list` picks the one a list fits."""
        return [cls._bundled_file(name) for name in BUNDLED_RULES]

    @classmethod
    def _bundled_file(cls, name: str) -> RuleSet:
        resource = importlib.resources.files("feeds").joinpath(name)
        return cls.from_toml(resource.read_text(encoding="utf-8"), f"feeds/{name}")

    @classmethod
    def _build(cls, data: dict[str, Any], ld: _Loader) -> RuleSet:
        ld.keys(data, "", _TOP_KEYS)
        threshold = (
            ld.number(data["threshold"], "threshold") if "threshold" in data else DEFAULT_THRESHOLD
        )
        categories = (
            ld.categories(data["categories"], "categories") if "categories" in data else None
        )

        weights = dict(DEFAULT_FIELD_WEIGHTS)
        if "weights" in data:
            table = ld.table(data["weights"], "weights")
            ld.keys(table, "weights", FIELDS)
            weights.update({k: ld.number(v, _join("weights", k)) for k, v in table.items()})

        authors: tuple[_Author, ...] = ()
        author_weight = DEFAULT_AUTHOR_WEIGHT
        if "authors" in data:
            table = ld.table(data["authors"], "authors")
            ld.keys(table, "authors", ("watch", "weight"))
            if "weight" in table:
                author_weight = ld.number(table["weight"], "authors.weight")
            authors = ld.authors(table.get("watch", []), "authors.watch", author_weight)

        for name, members in ld.table(data.get("groups", {}), "groups").items():
            key = _join("groups", name)
            ids = {ld.phrase(p, f"{key}[{i}]").id for i, p in enumerate(ld.strings(members, key))}
            if not ids:
                raise ld.fail(key, "is an empty group")
            ld.groups[name] = frozenset(ids)

        if "sections" not in data:
            raise ld.fail("sections", "missing: a rules file needs at least one section")
        sections_table = ld.table(data["sections"], "sections")
        if not sections_table:
            raise ld.fail("sections", "has no sections")
        sections: list[_Section] = []
        for index, (name, value) in enumerate(sections_table.items()):
            key = _join("sections", name)
            table = ld.table(value, key)
            ld.keys(table, key, _SECTION_KEYS)
            section = _Section(name=name)
            top = ld.rule(table, key, index, name, top=True)
            if top is not None:
                section.rules.append(top)
            for i, rule_table in enumerate(
                _as_list(ld, table.get("rules", []), _join(key, "rules"))
            ):
                where = f"{_join(key, 'rules')}[{i}]"
                rule_table = ld.table(rule_table, where)
                ld.keys(rule_table, where, _RULE_KEYS)
                rule = ld.rule(rule_table, where, index, name, top=False)
                assert rule is not None
                section.rules.append(rule)
            section.veto = frozenset().union(
                *ld.condition(table.get("none", []), _join(key, "none"))
            )
            if "threshold" in table:
                section.threshold = ld.number(table["threshold"], _join(key, "threshold"))
            if "categories" in table:
                section.categories = ld.categories(table["categories"], _join(key, "categories"))
            weight = author_weight
            if "author_weight" in table:
                weight = ld.number(table["author_weight"], _join(key, "author_weight"))
            section.authors = ld.authors(table.get("authors", []), _join(key, "authors"), weight)
            if not section.rules and not section.authors:
                raise ld.fail(key, "is empty: give it phrases, regex, rules or authors")
            sections.append(section)
        return cls(
            ld, sections, threshold, (weights["title"], weights["abstract"]), categories, authors
        )

    # -- matching

    def match(self, paper: Paper) -> Match:
        """Score one paper: one pass over each field's words, then only the rules that can fire."""
        text = _Text.of(paper, for_regex=bool(self._regexes))
        found = (self._present(text.norm[0]), self._present(text.norm[1]))
        present = found[0] | found[1]
        regex_hits = self._regex_hits(text) if self._regexes else ((), ())

        rules: set[_Rule] = set()
        for pid in present:
            rules.update(self._rules_by_phrase.get(pid, ()))
        for field_hits in regex_hits:
            for rid, _ in field_hits:
                rules.update(self._rules_by_regex[rid])
        title_regex = dict(regex_hits[0])
        abstract_regex = dict(regex_hits[1])

        fired: list[tuple[_Rule, list[_Hit]]] = []
        for rule in sorted(rules, key=lambda r: r.order):
            if not present.isdisjoint(self._sections[rule.section].veto):
                continue
            if not rule.none.isdisjoint(present):
                continue
            if rule.any and rule.any.isdisjoint(present):
                continue
            if any(group.isdisjoint(present) for group in rule.all):
                continue
            hits = []
            for term in rule.terms:
                if term.phrase is not None:
                    pid = term.phrase.id
                    in_title, in_abstract = pid in found[0], pid in found[1]
                    label = f'"{term.phrase.text}"'
                else:
                    assert term.regex is not None
                    rid = term.regex.id
                    shown = title_regex[rid] if rid in title_regex else abstract_regex.get(rid, "")
                    in_title, in_abstract = rid in title_regex, rid in abstract_regex
                    label = f'"{shown}"'
                if in_title or in_abstract:
                    hits.append((label, term.weight, in_title, in_abstract))
            fired.append((rule, hits))
        return self._assemble(
            paper, fired, lambda section: not present.isdisjoint(self._sections[section].veto)
        )

    @property
    def categories(self) -> tuple[str, ...]:
        """The arXiv categories a paper needs one of to be a candidate (empty: any)."""
        return tuple(self._categories or ())

    def followed(self, paper: Paper) -> bool:
        """Whether `paper` has one of `categories` (a paper whose categories are unknown
        passes: the filter only keeps out papers known to be elsewhere)."""
        return _category_ok(paper.categories, self._categories)

    def vetoed(self, paper: Paper) -> list[str]:
        """The sections whose `none` phrases the paper has: it is not theirs, whatever scores
        it (the ranking asks only about papers it might make candidates)."""
        vetoing = [s for s in self._sections if s.veto]
        if not vetoing:
            return []
        text = _Text.of(paper, for_regex=False)
        present = self._present(text.norm[0]) | self._present(text.norm[1])
        return [s.name for s in vetoing if not present.isdisjoint(s.veto)]

    def match_many(self, papers: Iterable[Paper]) -> list[Match]:
        return [self.match(paper) for paper in papers]

    def match_reference(self, paper: Paper, *, fast_patterns: bool = False) -> Match:
        """The same result as `match`, the slow obvious way: for every rule, `re.search` of
        each of its phrases' own `\\b...\\b` regex (or, with `fast_patterns`, of the form
        the fast path confirms with). Tests and the benchmark check `match` against it."""
        text = _Text.of(paper, for_regex=bool(self._regexes))

        def own(phrase: _Phrase) -> re.Pattern[str]:
            return phrase.pattern if fast_patterns else phrase.plain

        def has(pid: int) -> bool:
            pattern = own(self._phrases[pid])
            return bool(pattern.search(text.norm[0]) or pattern.search(text.norm[1]))

        fired: list[tuple[_Rule, list[_Hit]]] = []
        for rule in self._rules:
            hits = []
            for term in rule.terms:
                if term.phrase is not None:
                    in_title = bool(own(term.phrase).search(text.norm[0]))
                    in_abstract = bool(own(term.phrase).search(text.norm[1]))
                    label = f'"{term.phrase.text}"'
                else:
                    assert term.regex is not None
                    title_match = term.regex.pattern.search(text.clean[0])
                    abstract_match = term.regex.pattern.search(text.clean[1])
                    in_title, in_abstract = bool(title_match), bool(abstract_match)
                    first = title_match if title_match is not None else abstract_match
                    shown = first[0] if first is not None else ""
                    label = f'"{shown}"'
                if in_title or in_abstract:
                    hits.append((label, term.weight, in_title, in_abstract))
            if not hits:
                continue
            if any(has(pid) for pid in self._sections[rule.section].veto):
                continue
            if any(has(pid) for pid in rule.none):
                continue
            if rule.any and not any(has(pid) for pid in rule.any):
                continue
            if not all(any(has(pid) for pid in group) for group in rule.all):
                continue
            fired.append((rule, hits))
        return self._assemble(
            paper, fired, lambda section: any(has(pid) for pid in self._sections[section].veto)
        )

    # -- internals

    def _present(self, norm: str) -> set[int]:
        """Ids of the phrases in one normalised field.

        One tokenising pass and one set intersection find the phrases whose first word is
        there; of those, only the ones with every word present get a confirming search
        (which checks order, adjacency and boundaries). Most papers end at the intersection.
        """
        words = _words_of(norm)
        present: set[int] = set()
        phrases = self._phrases
        starts = self._starts
        for word in words.intersection(starts):
            for pid in starts[word]:
                if pid in present:
                    continue
                phrase = phrases[pid]
                if len(phrase.forms) > 1 and any(f.isdisjoint(words) for f in phrase.forms[1:]):
                    continue
                if phrase.pattern.search(norm):
                    present.add(pid)
        return present

    def _regex_hits(self, text: _Text) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        out: tuple[list[tuple[int, str]], list[tuple[int, str]]] = ([], [])
        # Only for ASCII text is lowercasing the same as the engine's case-insensitivity.
        lowered = [t.lower() if t.isascii() else None for t in text.clean]
        for regex in self._regexes:
            for i in (0, 1):
                low = lowered[i]
                if regex.prefix and low is not None and regex.prefix not in low:
                    continue
                found = regex.pattern.search(text.clean[i])
                if found:
                    out[i].append((regex.id, found[0]))
        return out

    def _watched(self, paper: Paper) -> Iterator[tuple[int | None, _Author]]:
        if not self._watch:
            return
        seen: set[int] = set()
        for written in paper.authors:
            name = _name_key(written)
            if name is None:
                continue
            for section, author in self._watch.get(name.last, ()):
                if id(author) not in seen and author.name.same_person(name):
                    seen.add(id(author))
                    yield section, author

    def _assemble(
        self,
        paper: Paper,
        fired: list[tuple[_Rule, list[_Hit]]],
        vetoed: Callable[[int], bool],
    ) -> Match:
        """Turn the rules that fired into section scores, a section, reasons and a verdict.

        Within a section a phrase counts once per field (the highest weight any of its
        rules gives it); the field weights multiply; watched authors add their weight,
        except to a section that `vetoed` says is vetoed for this paper.
        """
        title_w, abstract_w = self._field_weights
        per_section: dict[int, dict[str, list[float]]] = {}
        for rule, hits in fired:
            labels = per_section.setdefault(rule.section, {})
            for label, weight, in_title, in_abstract in hits:
                slot = labels.setdefault(label, [0.0, 0.0])
                if in_title:
                    slot[0] = max(slot[0], weight)
                if in_abstract:
                    slot[1] = max(slot[1], weight)

        contributions: dict[int, list[tuple[str, float]]] = {}
        for index, labels in per_section.items():
            out = contributions.setdefault(index, [])
            for label, (wt, wa) in labels.items():
                where = " and ".join(f for f, w in zip(FIELDS, (wt, wa), strict=True) if w)
                value = wt * title_w + wa * abstract_w
                if value > 0:
                    out.append((f"{label} in {where}", value))
        boost: list[tuple[str, float]] = []
        for watched_in, author in self._watched(paper):
            reason = (f"author {author.written} watched", author.weight)
            if watched_in is None:
                boost.append(reason)
            elif not vetoed(watched_in):
                contributions.setdefault(watched_in, []).append(reason)

        section_scores = {
            self._sections[i].name: round(sum(v for _, v in items), 6)
            for i, items in sorted(contributions.items())
            if items and sum(v for _, v in items) > 0
        }
        best: int | None = None
        for i, items in sorted(contributions.items()):
            score = sum(v for _, v in items)
            if score > 0 and (best is None or score > sum(v for _, v in contributions[best])):
                best = i
        reasons = list(boost) + (contributions[best] if best is not None else [])
        score = round(sum(v for _, v in reasons), 6)
        ordered = sorted(enumerate(reasons), key=lambda item: (-item[1][1], item[0]))
        words = list(dict.fromkeys(text for _, (text, _) in ordered))

        candidate = False
        if best is not None:
            section = self._sections[best]
            threshold = self.threshold if section.threshold is None else section.threshold
            allowed = self._categories if section.categories is None else section.categories
            candidate = score >= threshold and _category_ok(paper.categories, allowed)
        return Match(
            arxiv_id=paper.arxiv_id,
            score=score,
            section=self._sections[best].name if best is not None else None,
            reasons=words,
            section_scores=section_scores,
            candidate=candidate,
        )


def read_descriptions(text: str) -> dict[str, str]:
    """Section descriptions from Markdown lines of the form ``- `Section`: what belongs there``
    (or ``- **Section**: ...``), as a list's contributing guide writes its categories."""
    found: dict[str, str] = {}
    for m in _DESCRIPTION.finditer(text):
        name = (m.group(1) or m.group(2)).strip()
        if not _FILE_NAME.search(name):  # "- `README.md`: the list itself" names a file
            found[name] = m.group(3).strip()
    return found


_FILE_NAME = re.compile(r"[/\\]|\.[A-Za-z0-9]{1,5}$")
_DESCRIPTION = re.compile(r"^\s*[-*]\s+(?:`([^`\n]+)`|\*\*([^*\n]+)\*\*)\s*:\s*(.+)$", re.M)
