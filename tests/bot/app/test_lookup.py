"""The core's lookups, which the adapters call instead of the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App, NotACandidate
from bot.settings import Settings


async def test_find_search_and_candidates_through_the_core(tmp_path: Path, seed_text: str) -> None:
    settings = Settings()
    settings.base_dir = tmp_path
    settings.catalog.data_dir = str(tmp_path / "data")
    settings.model.enabled = False
    async with await App.open(settings) as app:
        await app.import_list(seed_text, "seed")
        found = await app.find("https://arxiv.org/abs/1912.02292v2")
        assert found.paper is not None and found.paper.arxiv_id == "1912.02292"
        assert found.candidate is None and found.tally is None
        assert (await app.find("openreview:H1gBsgBYwH")).paper is not None
        with pytest.raises(
            NotACandidate, match=r"^2401\.99999: neither in the catalog nor a candidate$"
        ):
            await app.find("2401.99999")
        page = await app.search("double descent", limit=3)
        assert page.hits and "Double Descent" in page.hits[0].paper.title
        assert await app.candidates() == []
