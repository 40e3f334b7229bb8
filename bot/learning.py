"""Training the relevance model from the catalog's decisions, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.pipeline import Services, now_utc
from feeds.errors import PaperbotError
from feeds.relevance import Example, RelevanceModel

log = logging.getLogger("paperbot.learning")

LAST_ERROR = "model_last_error"
LAST_ATTEMPT = "model_last_attempt_at"

_retrain_lock = asyncio.Lock()


def _quiet(_: str) -> None:
    return None


async def gather_examples(services: Services) -> list[Example]:
    """Catalog papers are positives, rejections negatives, unflagged feed items background."""
    catalog = services.catalog
    examples: list[Example] = []
    for paper in await catalog.papers():
        if not paper.section:
            continue
        text = paper.abstract or paper.digest or ""
        examples.append(Example(paper.key, paper.title, text, paper.section, "positive"))
    for candidate in await catalog.candidates(status="rejected"):
        examples.append(
            Example(candidate.arxiv_id, candidate.title, candidate.abstract or "", None, "negative")
        )
    for item in await catalog.background(services.settings.model.background_sample):
        examples.append(Example(item["arxiv_id"], item["title"], item["abstract"] or "", None, "background"))
    return examples


async def retrain(services: Services, progress: Callable[[str], None] = _quiet) -> RelevanceModel | None:
    """Train, store and switch to a new model; on failure keep the previous one."""
    if _retrain_lock.locked():
        progress("a retrain is already running")
        return None
    async with _retrain_lock:
        catalog = services.catalog
        now = now_utc()
        await catalog.meta_set(LAST_ATTEMPT, now.isoformat())
        examples = await gather_examples(services)
        progress(f"training on {len(examples)} examples")
        latest = await catalog.latest_model()
        version = (latest[0] + 1) if latest else 1
        try:
            model = await asyncio.to_thread(
                RelevanceModel.train, examples, now=now, version=version
            )
            blob = await asyncio.to_thread(model.to_bytes)
        except PaperbotError as exc:
            await catalog.meta_set(LAST_ERROR, f"{now.isoformat()}: {exc}")
            log.warning("retrain failed, keeping the previous model: %s", exc)
            progress(f"retrain failed, keeping the previous model: {exc}")
            return None
        except Exception as exc:  # a bug in training must not take the bot down
            await catalog.meta_set(LAST_ERROR, f"{now.isoformat()}: {type(exc).__name__}: {exc}")
            log.exception("retrain crashed, keeping the previous model")
            return None
        stored = await catalog.save_model(blob, model.n_train, model.metrics, now)
        model.version = stored
        await catalog.meta_set(LAST_ERROR, "")
        if services.settings.model.enabled:
            services.ranker.model = model
        progress(f"model v{stored} trained on {model.n_train} examples")
        return model


async def describe_model(services: Services) -> dict[str, Any] | None:
    """What `paperbot model` and `/paper stats` show."""
    latest = await services.catalog.latest_model()
    last_error = await services.catalog.meta_get(LAST_ERROR)
    if latest is None:
        return {"model": None, "last_error": last_error or None} if last_error else None
    version, trained_at, n_train, metrics, _blob = latest
    in_use = services.ranker.model is not None and services.ranker.model.version == version
    return {
        "version": version,
        "trained_at": trained_at,
        "training_set": n_train,
        "positives": metrics.get("n_positive"),
        "rejected": metrics.get("n_negative"),
        "background": metrics.get("n_background"),
        "sections": metrics.get("sections"),
        "flag_thresholds": metrics.get("flag_thresholds"),
        "in_use": in_use and services.settings.model.enabled,
        "last_error": last_error or None,
    }
