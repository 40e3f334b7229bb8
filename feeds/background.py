"""Background papers for the relevance model: the bundled sample, announcement files, and their mix.

The model learns what "relevant" means against ordinary announcements. Before the first
poll the community has none, so paperbot ships a sample of real arXiv ML/AI announcements
(`feeds/data/background-sample.jsonl.gz`; see `feeds/data/README.md` for its provenance and
licence), read only when asked for. As polls store the community's own unflagged items,
those replace the sample (`training_background`).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from feeds.errors import PaperbotError
from feeds.relevance import Example

__all__ = [
    "BUNDLED_SAMPLE",
    "ML_CATEGORIES",
    "BackgroundError",
    "BackgroundPaper",
    "bundled_background",
    "bundled_papers",
    "read_background",
    "training_background",
]

log = logging.getLogger(__name__)

BUNDLED_SAMPLE = "background-sample.jsonl.gz"
# An ordinary day of the community's feeds: the categories its lists draw from.
ML_CATEGORIES = frozenset({"cs.LG", "stat.ML", "cs.AI", "cs.CV", "cs.CL", "cs.NE"})


class BackgroundError(PaperbotError):
    """A background file that cannot be read (missing, not JSON Lines, not an arXiv feed)."""


@dataclass(slots=True, frozen=True)
class BackgroundPaper:
    """One ordinary announcement: enough to train and evaluate on."""

    arxiv_id: str
    title: str
    abstract: str
    categories: tuple[str, ...] = ()
    day: str | None = None  # announcement day, YYYY-MM-DD, where the source says
    source: str = ""  # file it came from (for reports)

    def example(self) -> Example:
        return Example(self.arxiv_id, self.title, self.abstract, None, "background")


def _from_record(record: dict[str, object], source: str) -> BackgroundPaper | None:
    arxiv_id = record.get("id") or record.get("arxiv_id")
    title = record.get("title")
    abstract = record.get("abstract") or record.get("summary")
    if not (isinstance(arxiv_id, str) and isinstance(title, str) and isinstance(abstract, str)):
        return None
    if not abstract.strip():
        return None
    cats = record.get("categories") or ()
    categories = tuple(c for c in cats if isinstance(c, str)) if isinstance(cats, list) else ()
    day = record.get("date")
    return BackgroundPaper(
        arxiv_id=arxiv_id,
        title=" ".join(title.split()),
        abstract=" ".join(abstract.split()),
        categories=categories,
        day=day if isinstance(day, str) else None,
        source=source,
    )


def _jsonl_lines(data: bytes, source: str) -> Iterator[BackgroundPaper]:
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BackgroundError(f"{source}: line {number} is not JSON: {exc.msg}") from None
        if isinstance(record, dict):
            paper = _from_record(record, source)
            if paper is not None:
                yield paper


@lru_cache(maxsize=1)
def bundled_papers() -> tuple[BackgroundPaper, ...]:
    """The bundled sample, read (and cached) on first use."""
    resource = importlib.resources.files("feeds").joinpath("data", BUNDLED_SAMPLE)
    data = gzip.decompress(resource.read_bytes())
    papers = tuple(_jsonl_lines(data, f"bundled {BUNDLED_SAMPLE}"))
    log.info("bundled background sample: %d announcements", len(papers))
    return papers


def bundled_background(n: int | None = None) -> list[Example]:
    """`n` papers of the bundled sample as background examples (all of them for None),
    always the same ones for the same `n` (spread over the sample's days)."""
    papers = bundled_papers()
    if n is not None and n < len(papers):
        papers = tuple(sorted(papers, key=lambda p: _rank(p.arxiv_id))[: max(0, n)])
    return [p.example() for p in papers]


def _rank(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()[:8]


def training_background(community: Sequence[Example], want: int) -> list[Example]:
    """Background to train on: the community's own items first (up to `want`), topped up
    from the bundled sample when there are fewer, so the first model can train before any
    poll and each poll's items take the sample's place."""
    own = list(community[: max(0, want)])
    missing = want - len(own)
    if missing <= 0:
        return own
    seen = {e.key for e in own}
    extra = [e for e in bundled_background() if e.key not in seen]
    extra.sort(key=lambda e: _rank(e.key))
    return own + extra[:missing]


def read_background(
    path: Path, *, categories: frozenset[str] | None = ML_CATEGORIES
) -> list[BackgroundPaper]:
    """Announcements from a file: JSON Lines (optionally gzipped) of arXiv metadata with
    id, title, abstract (and categories, date), or an arXiv RSS/Atom feed or API response.
    With `categories`, papers that list categories must have one of them; replacements in
    a feed are skipped (they are not that day's announcements)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackgroundError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise BackgroundError(f"{path}: not a readable gzip file: {exc}") from None
    head = data.lstrip()[:1]
    if head == b"<":
        papers = _feed_papers(data, path)
    elif head == b"{":
        papers = list(_jsonl_lines(data, path.name))
    else:
        raise BackgroundError(f"{path}: neither JSON Lines nor an arXiv feed")
    if categories is not None:
        papers = [p for p in papers if not p.categories or categories & set(p.categories)]
    return papers


def _feed_papers(data: bytes, path: Path) -> list[BackgroundPaper]:
    from feeds.parse import parse_feed

    parsed = parse_feed(data, str(path))
    out = []
    for p in parsed.papers:
        if p.is_update or not p.abstract:
            continue
        out.append(
            BackgroundPaper(
                arxiv_id=p.arxiv_id,
                title=p.title,
                abstract=p.abstract,
                categories=tuple(p.categories),
                day=p.announced.date().isoformat() if p.announced else None,
                source=path.name,
            )
        )
    return out
