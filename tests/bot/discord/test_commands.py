"""The `/paper` slash commands and the digest, driven through the fake Discord against the real bot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import now_utc
from bot.app.polling import LAST_ANNOUNCEMENT
from tests.bot.discord.helpers import (
    CHECK,
    MEDIUM,
    OFF_TOPIC,
    STRONG,
    WEAK,
    ArxivApi,
    Harness,
    Item,
    eventually,
    field_value,
    make_settings,
    posted_id,
    run,
    running_bot,
    write_feed,
)
from tests.fakediscord import FakeDiscord, InteractionRecord

Shared = Callable[[str], Path]
SEED = "seeds/000_94920e77fcbe4d6f.txt"
EPHEMERAL = 1 << 6
HOSTILE = [
    '"unbalanced',
    "double AND (OR NEAR( * ^ -",
    "'; DROP TABLE papers; --",
    "title:grokking {x} [y] NOT",
    "@everyone <@&1> **bold** `code`",
    "🙂" * 300,
    "a" * 1000,
]


@contextlib.asynccontextmanager
async def bot_with_feed(
    server: FakeDiscord, tmp_path: Path, items: list[Item], **discord: Any
) -> AsyncIterator[Harness]:
    url = write_feed(tmp_path / "feed.xml", items)
    async with running_bot(server, make_settings(server, tmp_path, [url], **discord)) as h:
        yield h


def text(record: InteractionRecord) -> str:
    return "\n".join(record.texts())


def is_ephemeral(record: InteractionRecord) -> bool:
    return all(m["flags"] & EPHEMERAL for m in record.messages())


async def approve(h: Harness, arxiv_id: str) -> None:
    curator = h.member("carol", "curator")
    await h.react(curator, h.post_of(arxiv_id), CHECK)

    async def approved() -> bool:
        return await h.status(arxiv_id) == "approved"

    await eventually(approved)


# -- search -------------------------------------------------------------------------------


async def test_search_finds_an_approved_paper(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [STRONG, WEAK]) as h:
        await h.worker.poll()
        await approve(h, STRONG.arxiv_id)
        anyone = h.member("erin")
        record = await run(h, "search", {"query": "benign overfitting"}, user=anyone)
        assert record.response_type == 5  # deferred at once: answered within 3 s
        embed = record.messages()[0]["embeds"][0]
        assert STRONG.title in embed["fields"][0]["name"]
        assert STRONG.arxiv_id in embed["fields"][0]["value"]
        assert embed["footer"]["text"].startswith("1 result(s)")
        assert not is_ephemeral(record)
        # The still-open candidate is not in the catalog: no match.
        record = await run(h, "search", {"query": "grokking transformers"}, user=anyone)
        assert "No papers match." in text(record)
        # Filters: section and year narrow the same query.
        record = await run(
            h, "search", {"query": "double descent", "section": "Interpretability"}, user=anyone
        )
        assert "No papers match." in text(record)
        record = await run(h, "search", {"query": "double descent", "year": "2024"}, user=anyone)
        assert record.messages()[0]["embeds"][0]["footer"]["text"].startswith("1 result(s)")


@pytest.mark.parametrize("query", HOSTILE)
async def test_any_search_text_gets_an_answer(
    fake_discord: FakeDiscord, tmp_path: Path, query: str
) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [OFF_TOPIC]) as h:
        record = await run(h, "search", {"query": query}, user=h.member("mallory"))
        embed = record.messages()[0]["embeds"][0]
        assert embed["title"].startswith("Search:") and len(embed["title"]) <= 256
        assert "went wrong" not in text(record)
        assert record.messages()[0]["allowed_mentions"] == {"parse": []}


async def test_search_pages_with_buttons_and_autocompletes_sections(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Shared
) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [OFF_TOPIC]) as h:
        await h.app.import_list(shared(SEED).read_text(encoding="utf-8"), "test")
        user = h.member("erin")
        record = await run(h, "search", {"query": "neural networks"}, user=user)
        first = record.messages()[0]
        total = int(first["embeds"][0]["footer"]["text"].split()[0])
        assert total > 5
        assert len(first["embeds"][0]["fields"]) == 5
        names = [f["name"] for f in first["embeds"][0]["fields"]]
        assert names[0].startswith("1. ")

        click = await fake_discord.click_component(first, "paper:search:next", user_id=user)
        await click.wait_for(lambda r: r.edits)  # deferred, then the page
        second = fake_discord.message_by_id(first["id"])
        assert "page 2/" in second["embeds"][0]["footer"]["text"]
        assert second["embeds"][0]["fields"][0]["name"].startswith("6. ")
        click = await fake_discord.click_component(first, "paper:search:prev", user_id=user)
        await click.wait_for(lambda r: r.edits)  # deferred, then the page
        again = fake_discord.message_by_id(first["id"])
        assert [f["name"] for f in again["embeds"][0]["fields"]] == names

        # A later search has buttons of its own; the first search's still page the first.
        other = await run(h, "search", {"query": "deep learning"}, user=user)
        assert other.messages()[0]["components"]  # it has a pager too
        assert other.messages()[0]["id"] != first["id"]
        click = await fake_discord.click_component(first, "paper:search:next", user_id=user)
        await click.wait_for(lambda r: r.edits)  # deferred, then the page
        paged = fake_discord.message_by_id(first["id"])["embeds"][0]
        assert paged["title"] == "Search: neural networks"
        assert paged["fields"][0]["name"].startswith("6. ")

        complete = await fake_discord.invoke_autocomplete(
            "paper search",
            {"query": "x", "section": "theo"},
            focused="section",
            user_id=user,
            channel_id=h.review,
        )
        await complete.wait_response()
        assert [c["value"] for c in complete.choices] == ["Deep Learning Theory"]


# -- show, recent, stats ------------------------------------------------------------------


async def test_show_recent_and_stats(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [STRONG, MEDIUM]) as h:
        await h.worker.poll()
        await approve(h, STRONG.arxiv_id)
        user = h.member("erin")
        shown = await run(
            h, "show", {"id": f"https://arxiv.org/abs/{STRONG.arxiv_id}v1"}, user=user
        )
        assert shown.messages()[0]["embeds"][0]["title"] == STRONG.title
        candidate = await run(h, "show", {"id": MEDIUM.arxiv_id}, user=user)
        assert candidate.messages()[0]["embeds"][0]["url"].endswith(MEDIUM.arxiv_id)
        missing = await run(h, "show", {"id": "2411.99999"}, user=user)
        # Deferred (public) first, so the answer, an error too, follows in the channel.
        assert "neither in the catalog nor a candidate" in text(missing)

        recent = await run(h, "recent", {"n": 3}, user=user)
        assert STRONG.title in recent.messages()[0]["embeds"][0]["fields"][0]["name"]
        stats = await run(h, "stats", user=user)
        fields = {f["name"]: f["value"] for f in stats.messages()[0]["embeds"][0]["fields"]}
        assert "Deep Learning Theory: 1" in fields["Catalog (1)"]
        assert "posted: 1" in fields["Candidates"]


# -- add ------------------------------------------------------------------------------------


async def test_add_posts_a_candidate_from_the_arxiv_api(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Shared
) -> None:
    async with ArxivApi(shared) as api:
        settings = make_settings(fake_discord, tmp_path, api_base=api.base, max_posts_per_poll=1)
        write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM, WEAK])
        async with running_bot(fake_discord, settings) as h:
            await h.worker.poll()  # one posted, two better-scored candidates wait
            erin = h.member("erin")
            record = await run(
                h, "add", {"id_or_url": "https://arxiv.org/abs/1707.08567v1"}, user=erin
            )
            assert is_ephemeral(record)
            assert "Submitted" in text(record) and "1707.08567" in text(record)
            assert api.requests == ["1707.08567"]
            post = h.post_of("1707.08567")
            assert post["embeds"][0]["title"].startswith("Proceedings of Workshop AEW10")
            assert "submitted by erin" in post["embeds"][0]["footer"]["text"]
            assert field_value(post, "Why") is not None

            # Posted at once, not queued behind the feed's waiting candidates.
            assert [posted_id(p) for p in h.posts()] == [STRONG.arxiv_id, "1707.08567"]
            assert await h.status(MEDIUM.arxiv_id) == "new"

            again = await run(h, "add", {"id_or_url": "1707.08567"}, user=erin)
            assert "already known" in text(again)
            assert len(h.posts()) == 2


async def test_add_with_a_bad_id_answers_a_short_ephemeral_error(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Shared
) -> None:
    async with ArxivApi(shared) as api:
        settings = make_settings(fake_discord, tmp_path, api_base=api.base)
        write_feed(tmp_path / "feed.xml", [OFF_TOPIC])
        async with running_bot(fake_discord, settings) as h:
            erin = h.member("erin")
            bad = await run(h, "add", {"id_or_url": "not a paper"}, user=erin)
            assert bad.ephemeral
            assert "not an arXiv identifier" in text(bad)
            assert api.requests == []  # refused before the API call
            unknown = await run(h, "add", {"id_or_url": "2411.99999"}, user=erin)
            assert is_ephemeral(unknown)
            assert "arXiv has no paper 2411.99999" in text(unknown)
            assert api.requests == ["2411.99999"]
            for record in (bad, unknown):
                assert "Traceback" not in text(record) and len(text(record)) < 300
            assert h.posts() == []


# -- curators -------------------------------------------------------------------------------


async def test_section_is_for_curators(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [STRONG]) as h:
        await h.worker.poll()
        options = {"id": STRONG.arxiv_id, "section": "Interpretability"}
        refused = await run(h, "section", options, user=h.member("erin"))
        assert refused.ephemeral and text(refused) == "Only curators can use this command."
        assert (await h.catalog.get_candidate(STRONG.arxiv_id)).section != "Interpretability"

        curator = h.member("carol", "curator")
        done = await run(h, "section", options, user=curator)
        assert done.ephemeral and text(done) == f"{STRONG.arxiv_id} → Interpretability"
        assert (await h.catalog.get_candidate(STRONG.arxiv_id)).section == "Interpretability"
        # The user is answered first; the post follows (an edit the channel's bucket may delay).
        await eventually(
            lambda: (
                field_value(h.post_of(STRONG.arxiv_id), "Suggested section") == "Interpretability"
            )
        )

        wrong = await run(
            h, "section", {"id": STRONG.arxiv_id, "section": "Astrology"}, user=curator
        )
        assert wrong.ephemeral and "unknown section 'Astrology'" in text(wrong)

        # After approval the paper lands in the chosen section, and can still be moved.
        await h.react(curator, h.post_of(STRONG.arxiv_id), CHECK)
        await eventually(lambda: _paper_section(h, STRONG.arxiv_id, "Interpretability"))
        await run(h, "section", {"id": STRONG.arxiv_id, "section": "Empirical Study"}, user=curator)
        assert await _paper_section(h, STRONG.arxiv_id, "Empirical Study")
        decision = await eventually(
            lambda: (field_value(h.post_of(STRONG.arxiv_id), "Decision") or "").startswith(
                "Approved → Empirical Study"
            )
        )
        assert decision


async def test_export_attaches_the_readme_with_the_approved_paper(
    fake_discord: FakeDiscord, tmp_path: Path, shared: Shared
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(shared(SEED).read_text(encoding="utf-8"), encoding="utf-8")
    url = write_feed(tmp_path / "feed.xml", [STRONG, MEDIUM])
    settings = make_settings(fake_discord, tmp_path, [url])
    settings.catalog.awesome_readme = str(readme)
    async with running_bot(fake_discord, settings) as h:
        await h.worker.poll()
        await approve(h, STRONG.arxiv_id)
        record = await run(h, "export", user=h.member("erin"))
        message = record.messages()[0]
        assert [a["filename"] for a in message["attachments"]] == ["README.md"]
        body = fake_discord.attachment_bytes(message["attachments"][0]["id"]).decode("utf-8")
        assert STRONG.title in body and MEDIUM.title not in body
        assert len(body) > len(readme.read_text(encoding="utf-8"))
        assert message["content"].startswith("1 paper(s) inserted")
        assert readme.read_text(encoding="utf-8") == shared(SEED).read_text(encoding="utf-8")


async def test_digest_and_feeds_are_for_curators(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [STRONG, MEDIUM]) as h:
        await h.worker.poll()
        erin, carol = h.member("erin"), h.member("carol", "curator")
        for command in ("digest", "feeds"):
            refused = await run(h, command, user=erin)
            assert refused.ephemeral and text(refused) == "Only curators can use this command."
        assert h.texts() == []

        feeds = await run(h, "feeds", user=carol)
        assert feeds.ephemeral and text(feeds).startswith("✅ file://")
        digest = await run(h, "digest", user=carol)
        assert is_ephemeral(digest) and text(digest) == "Digest posted (1 message(s))."
        (posted,) = h.texts()
        assert "__2 new candidate(s)__" in posted and "**Deep Learning Theory**" in posted
        post = h.post_of(STRONG.arxiv_id)
        assert (
            f"https://discord.com/channels/{fake_discord.guild_id}/{h.review}/{post['id']}"
            in posted
        )
        assert "votes +0/−0" in posted


# -- the digest -------------------------------------------------------------------------------


async def test_long_digest_is_split_within_limits(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    items = [
        Item(
            f"2411.{91000 + i}",
            f"Grokking and double descent, study number {i}: " + "a long title " * 12,
            "We study grokking and double descent in neural networks.",
        )
        for i in range(60)
    ]
    async with bot_with_feed(fake_discord, tmp_path, items, max_posts_per_poll=5) as h:
        await h.worker.poll()
        cog = h.bot.notices
        sent = await cog.post_digest()
        messages = h.texts()
        assert sent == len(messages) > 1
        assert all(len(m) <= 2000 for m in messages)
        joined = "\n".join(messages)
        assert joined.count("study number") == 60  # nobody lost between messages
        assert _jump_count(joined) == 5  # the posted ones link to their post
        for message in fake_discord.messages(h.review):
            if not message["embeds"] and "webhook_id" not in message:
                assert message["allowed_mentions"] == {"parse": []}

        # The next digest only has what happened since.
        await approve(h, posted_id(h.posts()[0]))
        await cog.post_digest()
        latest = h.texts()[len(messages) :]
        assert len(latest) == 1 and "__Approved (1)__" in latest[0]
        assert "new candidate" not in latest[0]


async def test_quiet_day_is_said_and_an_empty_busy_day_follows_the_config(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    async with bot_with_feed(fake_discord, tmp_path, [OFF_TOPIC]) as h:
        cog = h.bot.notices
        # Nothing announced since the last digest: a quiet arXiv day is always worth a line.
        h.settings.digest.when_empty = "skip"
        assert await cog.post_digest() == 1
        assert "arXiv announced nothing" in h.texts()[-1]
        # arXiv announced, but nothing for us: skipped when configured so…
        await h.worker.poll()
        assert await h.catalog.meta_get(LAST_ANNOUNCEMENT)
        assert await cog.post_digest() == 0
        assert len(h.texts()) == 1
        # …or one short note.
        await h.catalog.meta_set(LAST_ANNOUNCEMENT, now_utc().isoformat())
        h.settings.digest.when_empty = "note"
        assert await cog.post_digest() == 1
        assert "No new candidates." in h.texts()[-1]


# -- helpers --------------------------------------------------------------------------------


async def _paper_section(h: Harness, arxiv_id: str, section: str) -> bool:
    paper = await h.catalog.get_paper(arxiv_id)
    return paper is not None and paper.section == section


def _jump_count(text: str) -> int:
    return text.count("https://discord.com/channels/")


async def test_a_failed_export_names_the_file_not_the_servers_folders(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    settings = make_settings(fake_discord, tmp_path)
    settings.catalog.awesome_readme = str(tmp_path / "lists" / "README.md")  # not there
    async with running_bot(fake_discord, settings) as h:
        record = await run(h, "export", user=h.member("erin"))
        said = text(record)
        assert "README.md" in said and "cannot read" in said
        assert str(tmp_path) not in said and "/lists/" not in said
