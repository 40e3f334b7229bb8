"""Cold start to warm: the imported list and a real poll train a model; a failed retrain keeps it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import load_settings

FEED_2024 = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"


@pytest.fixture
async def app(tmp_path: Path, shared: Callable[[str], Path]) -> AsyncIterator[App]:
    config = tmp_path / "paperbot.toml"
    config.write_text(
        "[arxiv]\n"
        f'feeds = ["{shared(FEED_2024).as_uri()}"]\n'
        'contact = "mailto:test@example.org"\nmin_interval = 0.0\nretries = 0\n'
        'api_base = "http://127.0.0.1:9/api"\n',
        encoding="utf-8",
    )
    opened = await App.open(load_settings(config, env={}))
    yield opened
    await opened.close()


async def test_the_first_model_trains_at_import_and_polls_bring_the_communitys_background(
    app: App, seed_text: str
) -> None:
    assert app.ranker.model is None
    assert await app.model_status() is None
    report = (await app.import_list(seed_text, "seed")).report
    assert len(report.added) == 34

    # Cold start: trained right after the import, against the bundled arXiv sample.
    cold_model = app.ranker.model
    assert cold_model is not None
    info = await app.model_status()
    assert info is not None and info.version == 1 and info.in_use and info.last_error is None
    assert info.positives == 34 and info.background == app.settings.model.background_sample
    assert info.selection == "rate" and info.cut is not None
    assert [r for r, _ in info.calibration] == sorted(r for r, _ in info.calibration)
    cold = await app.poll(dry_run=True)
    assert cold.matched
    assert all(any(r.startswith("model relevance") for r in m.reasons) for _, m in cold.matched)
    # About flag_rate of an ordinary day becomes candidates, not a score threshold's whim.
    day = cold.feeds[0].items
    assert 0.005 * day <= len(cold.matched) <= 0.1 * day

    # A real poll stores the day's unflagged items, the community's own background, and
    # retrains on them at once (off the loop), not at the nightly retrain.
    polled = await app.poll()
    assert polled.retraining
    own = await app.catalog.background(app.settings.model.background_sample)
    assert len(own) > 800
    await app.wait_tasks()
    model = app.ranker.model
    assert model is not None and model is not cold_model
    info = await app.model_status()
    assert info is not None and info.version == 2 and info.background == info.training_set - 34

    warm = await app.poll(dry_run=True)
    assert warm.matched
    for _paper, match in warm.matched:
        assert 0.0 <= match.score <= 1.0
        assert any(r.startswith("like *") for r in match.reasons), match.reasons
        assert match.section in await app.sections()  # the list's sections

    # A daily budget instead of a flag rate: the best 3 of the announcement day.
    app.ranker.selection, app.ranker.daily_budget = "budget", 3
    budget = await app.poll(dry_run=True)
    assert len(budget.matched) == 3


async def test_a_failed_retrain_keeps_the_previous_model(app: App, seed_text: str) -> None:
    await app.import_list(seed_text, "seed")  # trains the first model
    first = app.ranker.model
    assert first is not None

    # The catalog loses its papers: nothing to learn from, so training must fail.
    path = app.settings.database_path
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM papers")
    assert await app.retrain() is None
    assert app.ranker.model is first
    info = await app.model_status()
    assert info is not None
    assert info.version == first.version and info.in_use
    assert "catalog papers" in info.last_error

    # A restart loads the stored model, not nothing.
    fresh = await App.open(app.settings)
    try:
        assert fresh.ranker.model is not None
        assert fresh.ranker.model.version == first.version
    finally:
        await fresh.close()


async def test_an_import_that_stopped_before_its_model_is_trained_by_the_next(
    app: App, seed_text: str
) -> None:
    """The rows of an import committed, its model never saved (a kill, a full disk): the
    same README imported again changes no row, and still trains the model it lacked."""
    app.settings.model.background_sample = 300  # a small model: this is about when, not how
    await app.import_list(seed_text, "seed")
    assert (await app.model_status()).version == 1  # type: ignore[union-attr]
    assert not await app.model_behind()
    conn = sqlite3.connect(app.settings.database_path)
    try:
        conn.execute("DELETE FROM models")  # as if the import had stopped before saving it
        conn.commit()
    finally:
        conn.close()
    assert await app.model_behind()
    said: list[str] = []
    result = await app.import_list(seed_text, "seed", progress=said.append)
    assert not (result.report.added or result.report.updated or result.removed)
    assert "the model was not trained on this list: training it now" in said
    assert not await app.model_behind()
    assert (await app.model_status()).version is not None  # type: ignore[union-attr]
