"""arXiv identifiers: turning pasted ids and URLs into the canonical key, and ordering them."""

from __future__ import annotations

import re

from feeds.errors import IdentifierError

# Archives that ever issued old-style ids (`archive/YYMMNNN`), including the ones arXiv has
# since merged into others (cmp-lg -> cs.CL, alg-geom -> math.AG, ...): old papers keep them.
OLD_STYLE_ARCHIVES = frozenset(
    {
        "acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an",
        "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an",
        "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th",
        "nlin", "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph", "q-alg", "q-bio",
        "quant-ph", "solv-int", "supr-con",
    }
)  # fmt: skip

# Only these archives had subject classes that people write into old-style ids
# (`math.CA/0611800`, `cond-mat.stat-mech/0601001`); arXiv itself drops the class.
_ARCHIVES_WITH_CLASSES = frozenset(
    {"astro-ph", "cond-mat", "cs", "math", "nlin", "physics", "q-bio"}
)

_NEW_STYLE = r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})"
_OLD_STYLE = r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<cls>[A-Za-z]+(?:-[A-Za-z]+)?))?/(?P<oyymm>\d{4})(?P<onum>\d{3})"
_VERSION = r"(?:v(?P<version>\d+))?"
_ID = rf"(?:{_NEW_STYLE}|{_OLD_STYLE}){_VERSION}"

# arXiv's own citation form appends the primary category: `arXiv:2401.01234 [cs.LG]`.
_BARE_RE = re.compile(
    rf"(?:arxiv:\s*)?{_ID}(?:\s*\[[a-z]+(?:-[a-z]+)?(?:\.[a-z]+(?:-[a-z]+)?)?\])?", re.IGNORECASE
)
# Paths under which arxiv.org serves one paper; `format` and `ps` are rarer but real.
_URL_RE = re.compile(
    rf"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|ps)/{_ID}"
    r"(?:\.pdf)?/?(?:[?#].*)?",
    re.IGNORECASE,
)
_URL_HINT_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.|[\w.-]+\.[a-z]{2,}/)", re.IGNORECASE)
_ARXIV_HOST_RE = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org(?:[/?#]|$)", re.IGNORECASE
)

# The first new-style month; 4-digit numbers ran until 1412, 5-digit ones since 1501.
_FIRST_NEW_STYLE = (2007, 4)
_FIRST_FIVE_DIGIT = (2015, 1)
# Old-style ids ran from hep-th/9108001 to the last ones of March 2007.
_FIRST_OLD_STYLE = (1991, 7)
_LAST_OLD_STYLE = (2007, 3)


def _reject(text: str, reason: str) -> IdentifierError:
    return IdentifierError(text, reason)


def _check(match: re.Match[str], text: str) -> tuple[str, int | None]:
    """Validate the pieces of a matched id; return (canonical id, version)."""
    version_text = match.group("version")
    version = int(version_text) if version_text is not None else None
    if version == 0:
        raise _reject(text, "arXiv versions start at v1")

    if match.group("yymm") is not None:
        yymm = match.group("yymm")
        num = match.group("num")
        year, month = 2000 + int(yymm[:2]), int(yymm[2:])
        if not 1 <= month <= 12:
            raise _reject(text, f"month {yymm[2:]} in {yymm}.{num} does not exist")
        if (year, month) < _FIRST_NEW_STYLE:
            raise _reject(text, "new-style ids (YYMM.NNNNN) start in April 2007 (0704)")
        wanted = 5 if (year, month) >= _FIRST_FIVE_DIGIT else 4
        if len(num) != wanted:
            raise _reject(text, f"ids from {yymm} have a {wanted}-digit number, not {len(num)}")
        return f"{yymm}.{num}", version

    archive = match.group("archive").lower()
    cls = match.group("cls")
    yymm = match.group("oyymm")
    if archive not in OLD_STYLE_ARCHIVES:
        raise _reject(text, f"{archive!r} is not an arXiv archive")
    if cls is not None and archive not in _ARCHIVES_WITH_CLASSES:
        raise _reject(text, f"archive {archive!r} has no subject classes")
    month = int(yymm[2:])
    year = _old_style_year(int(yymm[:2]))
    if not 1 <= month <= 12:
        raise _reject(
            text, f"month {yymm[2:]} in {archive}/{yymm}{match.group('onum')} does not exist"
        )
    if not _FIRST_OLD_STYLE <= (year, month) <= _LAST_OLD_STYLE:
        raise _reject(text, "old-style ids (archive/YYMMNNN) run from 9107 to 0703")
    return f"{archive}/{yymm}{match.group('onum')}", version


def _old_style_year(yy: int) -> int:
    return 1900 + yy if yy >= 91 else 2000 + yy


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Anything a person pastes -> (canonical id without version, version or None).

    Accepts bare ids (`2401.01234v3`, `hep-th/9901001`, `math.CA/0611800v2`), the
    `arXiv:` prefix in any case, and abs/pdf/html URLs on arxiv.org (www., export.,
    http or https, `.pdf`, trailing slash, query and fragment), optionally wrapped in
    whitespace or the angle brackets Discord uses to suppress embeds. Old-style ids lose
    their subject class (`math.CA/0611800` -> `math/0611800`), as on arXiv itself.
    Raises IdentifierError naming the input for anything else.
    """
    if not isinstance(text, str):
        raise IdentifierError(repr(text), "not text")
    stripped = text.strip()
    if stripped.startswith("<") and stripped.endswith(">"):
        stripped = stripped[1:-1].strip()
    if not stripped:
        raise _reject(text, "empty: expected an arXiv id such as 2401.01234 or an arXiv URL")

    match = _BARE_RE.fullmatch(stripped)
    if match is None:
        match = _URL_RE.fullmatch(stripped)
    if match is None:
        if _URL_HINT_RE.match(stripped):
            if _ARXIV_HOST_RE.match(stripped):
                raise _reject(text, "an arXiv URL, but not one of a paper (abs/pdf/html)")
            raise _reject(text, "not an arXiv URL")
        raise _reject(text, "not an arXiv identifier (expected e.g. 2401.01234 or hep-th/9901001)")
    return _check(match, text)


def canonical_id(text: str) -> str:
    """The canonical id (no version) of anything parse_arxiv_id accepts."""
    return parse_arxiv_id(text)[0]


def arxiv_id_from_url(url: str) -> str | None:
    """Canonical id of an arXiv paper URL; None for any other URL (or an arXiv non-paper page)."""
    candidate = url.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1].strip()
    match = _URL_RE.fullmatch(candidate)
    if match is None:
        return None
    try:
        return _check(match, url)[0]
    except IdentifierError:
        return None


def id_year_month(arxiv_id: str) -> tuple[int, int]:
    """(year, month) of the first version, read from the id itself."""
    return _year_month(parse_arxiv_id(arxiv_id)[0])


def _year_month(canonical: str) -> tuple[int, int]:
    if "/" in canonical:
        yymm = canonical.rsplit("/", 1)[1][:4]
        return _old_style_year(int(yymm[:2])), int(yymm[2:])
    return 2000 + int(canonical[:2]), int(canonical[2:4])


def id_sort_key(arxiv_id: str) -> tuple[int, int, int, str]:
    """Sort key: month of first submission, then number, then archive (old-style ties).

    Old-style and new-style ids mix correctly because old-style ones all predate 0704.
    """
    canonical, _ = parse_arxiv_id(arxiv_id)
    year, month = _year_month(canonical)
    if "/" in canonical:
        archive, digits = canonical.split("/", 1)
        return year, month, int(digits[4:]), archive
    return year, month, int(canonical.split(".", 1)[1]), ""
