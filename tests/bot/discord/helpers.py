"""Builders for the Discord tests: settings on a tmp catalog, feeds, a loopback arXiv API, a running PaperBot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.app import App
from bot.discord.client import PaperBot
from bot.runtime import Worker
from bot.settings import Settings
from db.worker import AsyncCatalog
from tests.fakediscord import FakeDiscord, InteractionRecord, running_client

CHECK = "✅"
CROSS = "❌"
ADD_REACTIONS = 1 << 6

# arXiv API answers stored under ../shared/data/arxiv-api, by the id_list asked for; any
# other id gets the real answer for an id arXiv does not have (an empty feed).
API_FILES = {"1707.08567": "data/arxiv-api/api-2026-id_list-0808.05394-1707.08567.xml"}
API_EMPTY = "data/arxiv-api/api-2026-id_list-0000.0000-empty.xml"


# -- feeds in arXiv's RSS 2.0 format ------------------------------------------------------


@dataclass
class Item:
    """One announcement as rss.arxiv.org writes it."""

    arxiv_id: str
    title: str
    abstract: str
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing")
    categories: Sequence[str] = ("cs.LG", "stat.ML")
    version: int = 1
    announce_type: str = "new"

    def xml(self) -> str:
        cats = "".join(f"<category>{escape(c)}</category>" for c in self.categories)
        return (
            f"<item><title>{escape(self.title)}</title>"
            f"<link>https://arxiv.org/abs/{self.arxiv_id}</link>"
            f"<description>arXiv:{self.arxiv_id}v{self.version} Announce Type: "
            f"{self.announce_type} \nAbstract: {escape(self.abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{self.arxiv_id}v{self.version}</guid>'
            f"{cats}<pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>"
            f"<arxiv:announce_type>{self.announce_type}</arxiv:announce_type>"
            "<dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>"
            f"<dc:creator>{escape(', '.join(self.authors))}</dc:creator></item>\n"
        )


def rss_feed(items: Iterable[Item]) -> bytes:
    """A complete cs.LG announcement feed holding `items`."""
    body = "".join(item.xml() for item in items)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>'
        "<title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>"
        "<description>cs.LG updates on the arXiv.org e-print archive.</description>"
        '<atom:link href="http://rss.arxiv.org/rss/cs.LG" rel="self" type="application/rss+xml"/>'
        "<docs>http://www.rssboard.org/rss-specification</docs><language>en-us</language>"
        "<lastBuildDate>Thu, 28 Nov 2024 05:00:00 +0000</lastBuildDate>"
        "<managingEditor>rss-help@arxiv.org</managingEditor>"
        "<pubDate>Thu, 28 Nov 2024 00:00:00 -0500</pubDate>"
        "<skipDays><day>Saturday</day><day>Sunday</day></skipDays>"
        f"{body}</channel></rss>\n"
    ).encode()


# Papers the default rules pick, with different scores (more phenomena named, higher score).
STRONG = Item(
    "2411.90001",
    "Double descent, benign overfitting and grokking in deep neural networks",
    "We relate double descent, benign overfitting and grokking in neural networks "
    "trained with SGD, and measure the neural tangent kernel along training.",
)
MEDIUM = Item(
    "2411.90002",
    "Double descent in deep neural networks",
    "We study double descent and benign overfitting in neural networks.",
)
WEAK = Item(
    "2411.90003",
    "Grokking in transformers",
    "We explain grokking of transformers.",
)
PING = Item(
    "2411.90004",
    "@everyone <@&123> grokking for @here",
    "Grokking, pinged at <@456> and @everyone.",
    authors=("@everyone", "Grace Hopper"),
)
OFF_TOPIC = Item(
    "2411.90005",
    "A faster B-tree for key-value stores",
    "We make databases faster.",
    categories=("cs.DB",),
)


def write_feed(path: Path, items: Iterable[Item]) -> str:
    """Write a feed file and return its file:// URL."""
    path.write_bytes(rss_feed(items))
    return path.resolve().as_uri()


# -- the arXiv API on loopback --------------------------------------------------------------


class ArxivApi:
    """`/api/query?id_list=…` answered with the real API responses stored in ../shared."""

    def __init__(self, shared: Callable[[str], Path]) -> None:
        # Read up front, so a missing shared file skips (or fails) the test, not the server.
        self.answers = {key: shared(name).read_bytes() for key, name in API_FILES.items()}
        self.empty = shared(API_EMPTY).read_bytes()
        self.requests: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _query(self, request: web.Request) -> web.Response:
        ids = request.query.get("id_list", "")
        self.requests.append(ids)
        body = self.answers.get(ids, self.empty)
        return web.Response(body=body, content_type="application/atom+xml")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def __aenter__(self) -> ArxivApi:
        app = web.Application()
        app.router.add_get("/api/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# -- settings and a running bot -------------------------------------------------------------


def make_settings(
    server: FakeDiscord,
    tmp_path: Path,
    feeds: Sequence[str] = (),
    *,
    api_base: str = "http://127.0.0.1:9/api",
    **discord: Any,
) -> Settings:
    """Settings for the fake guild: tmp catalog, no model, no politeness delays."""
    settings = Settings()
    settings.base_dir = tmp_path
    settings.catalog.data_dir = str(tmp_path / "data")
    settings.arxiv.feeds = list(feeds) or [(tmp_path / "feed.xml").resolve().as_uri()]
    settings.arxiv.api_base = api_base
    settings.arxiv.min_interval = 0.0
    settings.arxiv.retries = 0
    settings.arxiv.timeout = 5.0
    settings.model.enabled = False
    d = settings.discord
    d.guild_id = int(server.guild_id)
    d.review_channel_id = int(server.channel_ids["papers"])
    d.admin_channel_id = int(server.channel_ids["admin"])
    # discord.py's own default (2 s after the last GUILD_CREATE) would dominate every test.
    d.guild_ready_timeout = 0.05
    for key, value in discord.items():
        setattr(d, key, value)
    settings.discord_token = server.token
    settings.discord_api_base = server.api_base
    settings.discord_gateway_url = server.gateway_url
    return settings


def revoke_permission(server: FakeDiscord, bit: int) -> None:
    """Take a permission away from @everyone and the bot's role before the bot connects.

    The fake server has no role-editing route; GUILD_CREATE renders its stored roles, so
    discord.py computes the bot's channel permissions from these values.
    """
    for role_id in (server.guild_id, server.bot_role_id):
        server._roles[role_id].permissions &= ~bit


@dataclass
class Harness:
    """A started PaperBot on the fake server, and the names tests use all the time."""

    server: FakeDiscord
    bot: PaperBot
    settings: Settings
    app: App
    worker: Worker
    members: dict[str, str] = field(default_factory=dict)

    @property
    def catalog(self) -> AsyncCatalog:
        return self.app.catalog

    @property
    def review(self) -> str:
        return self.server.channel_ids["papers"]

    @property
    def admin(self) -> str:
        return self.server.channel_ids["admin"]

    def member(self, name: str, *roles: str) -> str:
        if name not in self.members:
            self.members[name] = self.server.add_member(name, roles=roles)
        return self.members[name]

    def own(self, channel: str | None = None) -> list[dict[str, Any]]:
        """What the bot posted in a channel by itself (not answers to commands), oldest first."""
        return [
            m
            for m in self.server.messages(channel or self.review)
            if m["author"]["id"] == self.server.bot_user_id and "webhook_id" not in m
        ]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The candidate posts (the bot's own messages with an embed)."""
        return [m for m in self.own(channel) if m["embeds"]]

    def texts(self, channel: str | None = None) -> list[str]:
        """The bot's own plain-text messages (digests, alerts)."""
        return [m["content"] for m in self.own(channel) if not m["embeds"]]

    def post_of(self, arxiv_id: str) -> dict[str, Any]:
        found = [p for p in self.posts() if posted_id(p) == arxiv_id]
        assert len(found) == 1, f"{arxiv_id}: {len(found)} posts"
        return found[0]

    async def react(self, user: str, message: dict[str, Any], emoji: str = CHECK) -> None:
        await self.server.user_add_reaction(message["channel_id"], message["id"], user, emoji)

    async def unreact(self, user: str, message: dict[str, Any], emoji: str = CHECK) -> None:
        await self.server.user_remove_reaction(message["channel_id"], message["id"], user, emoji)

    async def quiet(self, period: float = 0.2) -> None:
        """Wait until the bot has made no request for `period` seconds (handlers drained)."""
        loop = asyncio.get_running_loop()
        seen, since = len(self.server.requests), loop.time()
        while loop.time() - since < period:
            await asyncio.sleep(0.02)
            if len(self.server.requests) != seen:
                seen, since = len(self.server.requests), loop.time()

    async def votes(self, arxiv_id: str) -> tuple[set[str], set[str]]:
        tally = await self.catalog.tally(arxiv_id)
        return set(tally.approve), set(tally.reject)

    async def status(self, arxiv_id: str) -> str:
        candidate = await self.catalog.get_candidate(arxiv_id)
        assert candidate is not None
        return str(candidate.status)


def posted_id(message: dict[str, Any]) -> str:
    return str(message["embeds"][0]["url"]).removeprefix("https://arxiv.org/abs/")


def field_value(message: dict[str, Any], name: str) -> str | None:
    for f in message["embeds"][0].get("fields", []):
        if f["name"] == name:
            return str(f["value"])
    return None


async def eventually(
    check: Callable[[], Awaitable[Any] | Any],
    timeout: float = 5.0,  # noqa: ASYNC109
    interval: float = 0.01,
) -> Any:
    """Await until `check()` is truthy (it may be sync or async) and return its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_bot(server: FakeDiscord, settings: Settings) -> AsyncIterator[Harness]:
    """PaperBot with its Worker, started on the fake server until reconciled and posting."""
    app = await App.open(settings)
    try:
        bot = PaperBot(app)
        worker = Worker(app, bot)
        async with running_client(bot, server.token, timeout=10.0):
            await eventually(lambda: bot.started.is_set() or bot.startup_error, timeout=10.0)
            assert bot.startup_error is None, bot.startup_error
            yield Harness(server, bot, settings, app, worker)
    finally:
        await app.close()


@contextlib.asynccontextmanager
async def starting_bot(server: FakeDiscord, settings: Settings) -> AsyncIterator[Harness]:
    """PaperBot connected to the fake server, not waiting for its start-up recount to end."""
    app = await App.open(settings)
    try:
        bot = PaperBot(app)
        async with running_client(bot, server.token, timeout=10.0):
            yield Harness(server, bot, settings, app, Worker(app, bot))
    finally:
        await app.close()


async def failed_start(server: FakeDiscord, settings: Settings) -> str | None:
    """Run PaperBot until it gives up on start-up; its one-line reason."""
    async with await App.open(settings) as app:
        bot = PaperBot(app)
        task = asyncio.create_task(bot.start(server.token))
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10.0)
        finally:
            if not bot.is_closed():
                await bot.close()
            await asyncio.wait({task}, timeout=5.0)
        return bot.startup_error


async def run(
    h: Harness, command: str, options: dict[str, Any] | None = None, *, user: str
) -> InteractionRecord:
    """Invoke a command and wait until the bot has finished answering it."""
    record = await h.server.invoke_command(
        f"paper {command}", options or {}, user_id=user, channel_id=h.review
    )
    await record.wait_response()
    # A deferred answer ends with a followup (or an edit of the deferred message).
    if record.response_type == 5:
        await record.wait_for(lambda r: r.followups or r.edits)
    return record
