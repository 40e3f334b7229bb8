"""Training the relevance model from the catalog's decisions, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.app.base import Core, Part, Progress, quiet
from db.types import CandidateStatus
from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from feeds.relevance import Example, RelevanceModel

log = logging.getLogger(__name__)

LAST_ERROR = "model_last_error"
LAST_ATTEMPT = "model_last_attempt_at"


@dataclass(frozen=True)
class ModelStatus:
    """What `paperbot model` and `/paper stats` show about the relevance model."""

    version: int | None
    trained_at: datetime | None
    training_set: int | None
    positives: int | None
    rejected: int | None
    background: int | None
    sections: Any
    calibration: list[tuple[float, float]]  # (share of a day flagged, score cut)
    selection: str
    # the score a paper needs: under "rate", on a day too small for its share (larger days
    # take their best share); "threshold" the threshold; None: budget, or no model in use
    cut: float | None
    in_use: bool
    last_error: str | None


class Learning(Part):
    """The relevance model: loaded, retrained (after decisions, polls, imports), described."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._retrain_lock: asyncio.Lock | None = None
        self._decisions_since_retrain = 0

    def note_decision(self) -> None:
        """Retrain the relevance model after every N decisions, in the background."""
        model = self.settings.model
        if not model.enabled:
            return
        self._decisions_since_retrain += 1
        if self._decisions_since_retrain >= model.retrain_every:
            self._decisions_since_retrain = 0
            self.spawn(self.retrain_quietly(), name="paperbot-retrain")

    async def load_model(self) -> None:
        """Use the newest stored relevance model, if any and if enabled; keep rules otherwise."""
        if not self.settings.model.enabled:
            return
        stored = await self.catalog.latest_model()
        if stored is None:
            return
        try:
            # A stored model is megabytes to decompress: off the loop, like training.
            from feeds.relevance import RelevanceModel  # numpy, SciPy: only when a model is used

            model = await asyncio.to_thread(RelevanceModel.from_bytes, stored.blob)
        except PaperbotError as exc:
            # An older format or a damaged blob: rank with the rules while a new one trains.
            log.warning("stored model v%s unusable (%s); retraining", stored.version, exc)
            self.spawn(self.retrain_quietly(), name="paperbot-retrain-unusable")
            return
        self.ranker.model = model

    async def gather_examples(self) -> list[Example]:
        """Catalog papers are positives, rejections negatives, unflagged feed items background."""
        from feeds.background import training_background
        from feeds.relevance import Example

        catalog = self.catalog
        examples: list[Example] = []
        for paper in await catalog.papers():
            if not paper.section:
                continue
            text = paper.abstract or paper.digest or ""
            examples.append(Example(paper.key, paper.title, text, paper.section, "positive",
                                    tuple(paper.keywords)))  # fmt: skip
        for candidate in await catalog.candidates(status=CandidateStatus.REJECTED):
            examples.append(
                Example(
                    candidate.arxiv_id, candidate.title, candidate.abstract or "", None, "negative"
                )
            )
        want = self.settings.model.background_sample
        community = [
            Example(item.arxiv_id, item.title, item.abstract or "", None, "background")
            for item in await catalog.background(want)
        ]
        # Until polls bring enough of the community's own background, the bundled sample of
        # real arXiv announcements tops it up: the first model trains right after import.
        examples.extend(await asyncio.to_thread(training_background, community, want))
        return examples

    async def retrain(self, progress: Progress = quiet) -> RelevanceModel | None:
        """Train, store and switch to a new model; on failure keep the previous one."""
        from feeds.relevance import RelevanceModel

        if self._retrain_lock is None:
            self._retrain_lock = asyncio.Lock()
        if self._retrain_lock.locked():
            progress("a retrain is already running")
            return None
        async with self._retrain_lock:
            catalog = self.catalog
            now = self.clock()
            await catalog.meta_set(LAST_ATTEMPT, now.isoformat())
            examples = await self.gather_examples()
            progress(f"training on {len(examples)} examples")
            latest = await catalog.model_info()
            version = (latest.version + 1) if latest else 1
            try:
                model = await asyncio.to_thread(
                    RelevanceModel.train, examples, now=now, version=version
                )
                blob = await asyncio.to_thread(model.to_bytes)
            except PaperbotError as exc:
                await catalog.meta_set(LAST_ERROR, f"{now.isoformat()}: {exc}")
                # On a fresh install there is no previous model to keep.
                kept = (
                    "keeping the previous model"
                    if self.ranker.model is not None
                    else "the rules alone rank candidates until a model trains"
                )
                log.warning("retrain failed (%s); %s", exc, kept)
                progress(f"retrain failed ({exc}); {kept}")
                return None
            except Exception as exc:  # a bug in training must not take the bot down
                await catalog.meta_set(
                    LAST_ERROR, f"{now.isoformat()}: {type(exc).__name__}: {exc}"
                )
                log.exception("retrain crashed, keeping the previous model")
                return None
            stored = await catalog.save_model(blob, model.n_train, model.metrics, now)
            model.version = stored
            await catalog.meta_set(LAST_ERROR, "")
            if self.settings.model.enabled:
                self.ranker.model = model
            log.info("model v%d trained on %d examples", stored, model.n_train)
            progress(f"model v{stored} trained on {model.n_train} examples")
            return model

    async def retrain_quietly(self, progress: Progress = quiet) -> None:
        """`retrain`, when the model is enabled, for the callers that do not wait on it."""
        if self.settings.model.enabled:
            await self.retrain(progress)

    async def model_behind(self) -> bool:
        """Whether the stored model was trained on other papers than the catalog has: none
        stored although the list has papers, or another number of papers with a section."""
        stats = await self.catalog.stats()
        placed = sum(n for section, n in stats.papers_by_section.items() if section != "(none)")
        info = await self.catalog.model_info()
        if info is None:
            return placed > 0
        return info.metrics.get("n_positive") != placed

    async def model_status(self) -> ModelStatus | None:
        """The stored model's description (without loading it), or None when there is none."""
        info = await self.catalog.model_info()
        last_error = await self.catalog.meta_get(LAST_ERROR) or None
        if info is None:
            if last_error is None:
                return None
            return ModelStatus(None, None, None, None, None, None, None, [],
                               self.settings.model.selection, None, False, last_error)  # fmt: skip
        model = self.ranker.model
        in_use = model is not None and model.version == info.version
        metrics = info.metrics
        return ModelStatus(
            version=info.version,
            trained_at=info.trained_at,
            training_set=info.n_train,
            positives=metrics.get("n_positive"),
            rejected=metrics.get("n_negative"),
            background=metrics.get("n_background"),
            sections=metrics.get("sections"),
            calibration=[(float(r), float(s)) for r, s in metrics.get("calibration", [])],
            selection=self.settings.model.selection,
            cut=self.ranker.cut() if in_use else None,
            in_use=in_use and self.settings.model.enabled,
            last_error=last_error,
        )
