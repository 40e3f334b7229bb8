"""What arXiv metadata text states about a paper: its venue (journal_ref, comment) and code URL."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# Venues written by their acronym, as the list writes them ("NeurIPS 2023", "ICLR 2024").
# Old or alternative spellings map to today's name.
_ACRONYMS: dict[str, str] = {
    name.casefold(): name
    for name in (
        "NeurIPS", "ICML", "ICLR", "COLT", "AISTATS", "UAI", "ALT", "AAAI", "IJCAI", "CVPR",
        "ICCV", "ECCV", "WACV", "BMVC", "ACCV", "ACL", "EMNLP", "NAACL", "EACL", "COLING",
        "CoNLL", "TACL", "KDD", "WWW", "SIGIR", "WSDM", "CIKM", "ICDM", "SDM", "MLSys",
        "TMLR", "JMLR", "CoLLAs", "CoRL", "ICRA", "IROS", "MICCAI", "ICASSP", "Interspeech",
        "ISIT", "STOC", "FOCS", "SODA", "ITCS", "ICDE", "SIGMOD", "VLDB", "ICSE", "FSE",
        "ISSTA", "ICST", "ASE", "POPL", "PLDI", "ECML", "ACML", "IJCNN", "ICANN", "AAMAS",
        "CogSci", "CCN", "LoG", "AutoML", "PNAS",
    )
}  # fmt: skip
_ACRONYMS["nips"] = "NeurIPS"
_ACRONYMS["neurips"] = "NeurIPS"

# A year after an acronym: "ICML 2024", "ICML2024", "ICML'24", "ICML '24".
_YEAR = r"(?:(?P<full>(?:19|20)\d\d)|['\u2019](?P<short>\d\d))"
_ACRONYM_YEAR_RE = re.compile(r"\b(?P<name>[A-Za-z][A-Za-z-]{1,11})\s*-?\s*" + _YEAR + r"(?!\d)")
# "... Conference on X (ICST) 2023" and "2025 IEEE Conference on X (ICST)".
_PAREN_ACRONYM_RE = re.compile(r"\((?P<name>[A-Za-z][A-Za-z-]{1,11})\)")
_PAREN_VENUE_RE = re.compile(r"\((?P<name>[A-Z][A-Za-z]*[A-Z][A-Za-z]*)\s*" + _YEAR + r"\)")
_ANY_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# A clause that states where the paper itself appears.
_STATED_RE = re.compile(
    r"\b(?:accepted|to\s+appear|appears?|appearing|published|publication|presented|"
    r"proceedings|camera[- ]ready|oral|spotlight|poster)\b",
    re.IGNORECASE,
)
# A clause about some other paper or an outcome still open: never a venue of this paper.
_NOT_STATED_RE = re.compile(
    r"\b(?:submitted|submission|under\s+review|in\s+review|review(?:ed)?\s+at|extended\s+version|"
    r"extends|previous(?:ly)?|earlier|part\s+of\s+this\s+work|related\s+work|rejected|"
    r"see\s+also|also\s+see|arxiv:)",
    re.IGNORECASE,
)
_CLAUSE_SPLIT_RE = re.compile(r";|\s/\s|(?<=[a-z)\]])\.\s+(?=[A-Z])|\n")
_WORKSHOP_RE = re.compile(r"\bworkshops?\b", re.IGNORECASE)
# Journal names as journal_ref writes them, up to their volume, pages or year.
_JOURNAL_CUT_RE = re.compile(
    r"\s*(?:,\s*(?=\d|vol|no\b|pp\b|pages)|\(|\bvol\b\.?|\bvolume\b|\bno\.|\bpp\.|\d).*$",
    re.IGNORECASE | re.DOTALL,
)
_LEADING_YEAR_RE = re.compile(r"^(?:19|20)\d\d\s+")
_MONTH_RE = re.compile(
    r"[,\s]+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(?:\d|$).*$",
    re.IGNORECASE | re.DOTALL,
)
# Conference acronyms journal_ref writes that no table can list ("SBES 2025", "IJCCI 2023").
_CAPS_YEAR_RE = re.compile(r"\b(?P<name>[A-Z]{3,8})\s+(?P<full>(?:19|20)\d\d)\b")
_NOT_VENUES = frozenset({"IEEE", "ACM", "SIAM", "ISSN", "ISBN", "USA", "AIP", "IOP", "SPIE"})
_MAX_JOURNAL = 60
_PROC_PREFIX_RE = re.compile(
    r"^(?:in\s*:?\s*)?(?:proc(?:eedings|\.)?\s+(?:of\s+)?(?:the\s+)?)", re.I
)

# Repositories of code: the hosts a paper's "code is available at" points to.
_REPO_URL_RE = re.compile(
    r"(?:https?://)?(?:www\.)?(?P<host>github\.com|gitlab\.com|bitbucket\.org|codeberg\.org|"
    r"anonymous\.4open\.science/r)/(?P<path>[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)?)"
    r"(?P<rest>[^\s)\]}>,;\"']*)",
    re.IGNORECASE,
)
_CODE_CUE_RE = re.compile(
    r"\b(?:code|codes|implementation|repository|repo|available|release[ds]?|open[- ]source[ds]?|"
    r"github|project)\b",
    re.IGNORECASE,
)
_NOT_REPOS = frozenset({"features", "about", "topics", "sponsors", "orgs", "marketplace"})


@dataclass(frozen=True)
class PaperMetadata:
    """What the metadata states: None where it states nothing (nothing is guessed)."""

    venue: str | None
    code_url: str | None


def _year(match: re.Match[str]) -> str:
    full = match.group("full")
    return full if full else f"20{match.group('short')}"


def _acronym_venue(text: str) -> str | None:
    """`ACRONYM YEAR` of a known venue in `text`, with " Workshop" when it is one."""
    found: str | None = None
    for match in _ACRONYM_YEAR_RE.finditer(text):
        name = _ACRONYMS.get(match.group("name").casefold())
        if name is not None:
            found = f"{name} {_year(match)}"
            break
    if found is None:
        years = _ANY_YEAR_RE.findall(text)
        for match in _PAREN_ACRONYM_RE.finditer(text):
            raw = match.group("name")
            name = _ACRONYMS.get(raw.casefold())
            if name is None and sum(c.isupper() for c in raw) >= 2:
                name = raw  # written as venues are: "... Conference on X (MAPR)"
            if name is not None and years:
                found = f"{name} {years[0]}"
                break
    if found is None:
        # An acronym the table does not know, written as venues are: "(ISSTA 2020)".
        written = _PAREN_VENUE_RE.search(text)
        if written is not None:
            found = f"{written.group('name')} {_year(written)}"
    if found is not None and _WORKSHOP_RE.search(text) and not found.split()[0].endswith("W"):
        found += " Workshop"
    return found


def venue_from_journal_ref(journal_ref: str | None) -> str | None:
    """The venue of arXiv's `journal_ref`: a conference as `ICML 2024`, a journal by its name."""
    if not journal_ref or not journal_ref.strip():
        return None
    text = " ".join(journal_ref.split())
    venue = _acronym_venue(text)
    if venue is not None:
        return venue
    for match in _CAPS_YEAR_RE.finditer(text):
        if match.group("name") not in _NOT_VENUES:
            return f"{match.group('name')} {match.group('full')}"
    name = _PROC_PREFIX_RE.sub("", _LEADING_YEAR_RE.sub("", text))
    name = _JOURNAL_CUT_RE.sub("", _MONTH_RE.sub("", name)).strip(" :-,")
    if len(name) > _MAX_JOURNAL:
        name = name.split(",")[0].strip()
    if len(name) < 3 or name.split()[-1].casefold() in {"of", "the", "in", "on", "and", "for"}:
        return None
    return name


def venue_from_comment(comment: str | None) -> str | None:
    """The venue arXiv's comment states for this paper ("Accepted at ICML 2024", "NeurIPS 2023").

    Only a known or parenthesised venue acronym with a year counts, in a clause that is
    not about a submission, a review or another paper.
    """
    if not comment or not comment.strip():
        return None
    for clause in _CLAUSE_SPLIT_RE.split(" ".join(comment.split())):
        if not clause.strip() or _NOT_STATED_RE.search(clause):
            continue
        venue = _acronym_venue(clause)
        if venue is not None:
            return venue
    return None


def venue_from(journal_ref: str | None, comment: str | None) -> str | None:
    """The paper's venue: journal_ref first (it records a publication), then the comment."""
    return venue_from_journal_ref(journal_ref) or venue_from_comment(comment)


def _repo_urls(text: str) -> list[tuple[int, str]]:
    found = []
    for match in _REPO_URL_RE.finditer(text):
        path = match.group("path").rstrip(".")
        if "/" not in path and match.group("host").lower() != "anonymous.4open.science/r":
            continue  # a user or organisation page, not a repository
        if path.split("/")[0].lower() in _NOT_REPOS:
            continue
        rest = match.group("rest").rstrip(".:")
        host = match.group("host").lower()
        url = f"https://{host}/{path}{rest}".removesuffix(".git")
        found.append((match.start(), url))
    return found


def code_url_from(abstract: str | None, comment: str | None = None) -> str | None:
    """A repository URL the abstract or comment gives explicitly; None when neither has one.

    The comment goes first (arXiv comments say "Code: ..."); within a text, a link
    introduced by words about code beats one that is merely mentioned.
    """
    for text in (comment, abstract):
        if not text:
            continue
        urls = _repo_urls(text)
        if not urls:
            continue
        cued = [url for start, url in urls if _CODE_CUE_RE.search(text[max(0, start - 80) : start])]
        return (cued or [url for _, url in urls])[0]
    return None


def paper_metadata(
    abstract: str | None, comment: str | None = None, journal_ref: str | None = None
) -> PaperMetadata:
    """Venue and code URL as the paper's arXiv metadata states them."""
    return PaperMetadata(venue_from(journal_ref, comment), code_url_from(abstract, comment))
