"""Each collaborator of the core, directly, through `App` on a real catalog file: the
health heartbeat and alerts, the digest, the list's cache and its listeners, curation's
records of posts, learning's decision count, and the facade's composition itself."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.app.base import Part
from bot.app.curation import Curation
from bot.app.digest import Digest
from bot.app.health import HEARTBEAT_EVERY, Health
from bot.app.learning import Learning
from bot.app.listing import Listing
from bot.app.polling import Polling
from bot.app.publishing import Publishing
from bot.settings import Settings
from db.types import AddedHow, VoteChoice
from tests.bot.discord.helpers import MEDIUM, STRONG, write_feed

COLLABORATORS = (Learning, Listing, Curation, Polling, Publishing, Health, Digest)


def settings_for(tmp_path: Path) -> Settings:
    settings = Settings()
    settings.base_dir = tmp_path
    settings.catalog.data_dir = str(tmp_path / "data")
    settings.arxiv.feeds = [write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])]
    settings.arxiv.min_interval = 0.0
    settings.arxiv.retries = 0
    settings.arxiv.api_base = "http://127.0.0.1:9/api"
    settings.model.enabled = False
    return settings


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    opened = await App.open(settings_for(tmp_path))
    yield opened
    await opened.close()


class Voters:
    """The Members protocol with a fixed roster."""

    def __init__(self, curators: set[str]) -> None:
        self.curators = curators
        self.asked: list[str] = []

    async def is_curator(self, user_id: str) -> bool:
        self.asked.append(user_id)
        return user_id in self.curators

    async def display_name(self, user_id: str) -> str:
        return f"member {user_id}"


# -- the composition -------------------------------------------------------------------------


def test_app_composes_collaborators_and_inherits_none() -> None:
    assert App.__bases__ == (object,)
    for part in COLLABORATORS:
        assert part.__bases__ == (Part,), part  # one level: nothing to override, no hooks
        own = {n for n, v in vars(part).items() if callable(v) and not n.startswith("__")}
        assert not own & set(vars(Part)), part


def test_every_public_use_case_has_one_door_on_app() -> None:
    facade = {n for n in dir(App) if not n.startswith("_")}
    for part in COLLABORATORS:
        public = {
            n
            for n, v in vars(part).items()
            if inspect.iscoroutinefunction(v) or (inspect.isfunction(v) and not n.startswith("_"))
        }
        public = {n for n in public if not n.startswith("_")} - {"note_decision"}
        assert public <= facade, (part, public - facade)


def test_the_collaborators_take_their_dependencies_at_construction() -> None:
    for part in COLLABORATORS:
        params = list(inspect.signature(part.__init__).parameters)
        assert params[:2] == ["self", "core"], part


# -- health -----------------------------------------------------------------------------------


async def test_health_records_the_heartbeat_and_the_poll_start(app: App) -> None:
    assert all(v is None for v in (await app.service_times()).values())
    await app.note_started()
    await app.note_alive()
    await app.note_poll_started()
    times = await app.service_times()
    now = datetime.now(UTC)
    assert all(
        v is not None and now - v < timedelta(seconds=HEARTBEAT_EVERY) for v in times.values()
    )


async def test_health_says_a_never_polled_feed_and_forgets_one_no_longer_configured(
    app: App,
) -> None:
    (feed,) = await app.feed_health()
    assert feed.label == "never polled"
    await app.poll()
    (feed,) = await app.feed_health()
    assert feed.label == "ok" and feed.healthy
    old = "https://example.org/gone.xml"
    await app.poll([old])
    assert [f.url for f in await app.feed_health()][-1] == old
    await app.forget_feed(old)
    assert old not in [f.url for f in await app.feed_health()]


# -- digest ---------------------------------------------------------------------------------------


async def test_the_digest_counts_new_candidates_and_starts_over_once_sent(app: App) -> None:
    await app.poll()
    data = await app.digest_data()
    assert {c.arxiv_id for c in data.new} == {STRONG.arxiv_id, MEDIUM.arxiv_id}
    assert app.digest_wanted(data)
    await app.digest_sent(data)
    again = await app.digest_data()
    assert again.new == [] and again.since == data.now


# -- listing ----------------------------------------------------------------------------------


async def test_the_list_is_parsed_once_per_version_and_the_ranker_follows_it(
    app: App, seed_text: str
) -> None:
    assert await app.list_context() is None
    before = app.ranker
    await app.import_list(seed_text, "seed")
    context = await app.list_context()
    assert context is not None and "Deep Learning Theory" in context.sections
    assert await app.list_context() is context  # cached: the same version
    assert app.ranker is not before and app.ranker.sections == context.sections
    assert await app.sections() == context.sections


# -- curation ---------------------------------------------------------------------------------


async def test_curation_records_posts_and_a_vote_is_one_call(app: App, seed_text: str) -> None:
    await app.import_list(seed_text, "seed")
    await app.poll()
    waiting = await app.to_post(10)
    assert [c.arxiv_id for c in waiting][:1] == [STRONG.arxiv_id]
    posted = await app.posted(STRONG.arxiv_id, "100", "200")
    assert posted.status == "posted" and (await app.candidate_of_post(200)) == posted
    members = Voters(curators=set())
    first = await app.vote(STRONG.arxiv_id, "1", VoteChoice.APPROVE, True, members)
    assert first.decision is None and first.tally.approvals == 1
    second = await app.vote(STRONG.arxiv_id, "2", VoteChoice.APPROVE, True, members)
    assert second.decision is not None and second.decision.kind == "approved"
    assert sorted(members.asked) == ["1", "1", "2"]  # curator or not, asked of the adapter
    await app.wait_tasks()
    paper = await app.catalog.get_paper(STRONG.arxiv_id)
    assert paper is not None and paper.added_how == "vote"
    # The entry's completion ran in the background (arXiv unreachable: the feed's metadata).
    assert paper.keywords or paper.digest
    assert await app.catalog.meta_get("entries.pending") is None


async def test_a_curator_decides_alone_under_their_own_name(app: App) -> None:
    await app.poll()
    outcome = await app.vote(MEDIUM.arxiv_id, "7", VoteChoice.REJECT, True, Voters({"7"}))
    assert outcome.decision is not None and outcome.decision.kind == "rejected"
    candidate = await app.candidate(MEDIUM.arxiv_id)
    assert candidate is not None and candidate.decided_by == "member 7"


# -- learning ---------------------------------------------------------------------------------


async def test_learning_counts_decisions_and_retrains_after_retrain_every(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    settings.model.enabled = True
    settings.model.retrain_every = 2
    app = await App.open(settings)
    try:
        await app.poll()
        learning = app._learning
        spawned: list[str] = []
        real_spawn = app.core.spawn

        def spawn(coro, name):  # type: ignore[no-untyped-def]
            spawned.append(name)
            return real_spawn(coro, name)

        app.core.spawn = spawn  # type: ignore[method-assign]
        await app.decide(STRONG.arxiv_id, True, "cli", AddedHow.CLI, recheck=False)
        assert learning._decisions_since_retrain == 1 and "paperbot-retrain" not in spawned
        await app.decide(MEDIUM.arxiv_id, False, "cli", AddedHow.CLI, recheck=False)
        assert learning._decisions_since_retrain == 0 and "paperbot-retrain" in spawned
        await app.wait_tasks()
    finally:
        await app.close()
