"""Tests for feeds.fetch against a real aiohttp server on 127.0.0.1 serving real arXiv bytes."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from feeds.errors import FeedError, PaperbotError
from feeds.fetch import (
    DEFAULT_API_BASE,
    Fetcher,
    FetcherError,
    FetchError,
    FetchResult,
    api_query_url,
    dump_backoffs,
    load_backoffs,
    record_outcome,
)
from feeds.models import FeedState

Shared = Callable[[str], Path]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CS_LG = "data/arxiv-rss/rss-cs.LG-2026-04-27-trimmed3.xml"
CS_AI = "data/arxiv-rss/rss-cs.AI-2026-04-27-trimmed3.xml"
FULL_RSS = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"
API_ERROR = "data/arxiv-api/api-2026-id_list-abc-error.xml"
API_ONE = "data/arxiv-api/api-2026-id_list-astro-ph-0601001-oldstyle-id.xml"

CONTACT = "ops@example.org"
UA = f"paperbot-test/0.1 (+mailto:{CONTACT})"
FIXED_NOW = datetime(2026, 4, 27, 12, 0, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml"


@dataclass
class Hit:
    """One request as the server saw it (times on time.monotonic, like the fetcher's)."""

    path: str
    host: str
    headers: dict[str, str]
    started: float
    ended: float = 0.0


@dataclass
class Server:
    """A loopback HTTP server whose routes each test writes; it records every request."""

    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    # Handlers that hang wait on this; teardown sets it so the server shuts down at once.
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        hit = Hit(request.path, request.host.split(":")[0], dict(request.headers), time.monotonic())
        self.hits.append(hit)
        try:
            handler = self.routes.get(request.path)
            if handler is None:
                return web.Response(status=404, text="no such route")
            return await handler(request)
        finally:
            hit.ended = time.monotonic()

    async def hang(self) -> None:
        await self.release.wait()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.dispatch)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    srv.port = runner.addresses[0][1]
    try:
        yield srv
    finally:
        srv.release.set()
        await runner.cleanup()


class FakeTime:
    """A clock that moves only when the fetcher sleeps; records every requested delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def make_fetcher(fake_time: FakeTime) -> AsyncIterator[Callable[..., Fetcher]]:
    """Fetchers on fake time with no spacing unless a test asks for real time or spacing."""
    made: list[Fetcher] = []

    def make(**overrides: Any) -> Fetcher:
        options: dict[str, Any] = {
            "timeout": 5.0,
            "min_interval": 0.0,
            "retries": 4,
            "sleep": fake_time.sleep,
            "clock": fake_time.clock,
            "now": lambda: FIXED_NOW,
            "rand": lambda: 0.5,
        }
        options.update(overrides)
        fetcher = Fetcher(UA, **options)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


def serve_bytes(
    body: bytes, status: int = 200, content_type: str = RSS_TYPE, **headers: str
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=status, body=body, headers=headers)
        response.content_type = content_type
        return response

    return handler


def sequence(*handlers: Handler) -> Handler:
    """Answer the n-th request with the n-th handler, and later ones with the last."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return await handlers[min(calls, len(handlers)) - 1](request)

    return handler


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- construction and identity ----------------------------------------------------------


@pytest.mark.parametrize("user_agent", ["", "   ", "paperbot/0.1", "paperbot/0.1 (no contact)"])
def test_refuses_user_agent_without_contact(user_agent: str) -> None:
    with pytest.raises(FetcherError, match="contact"):
        Fetcher(user_agent)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0.0),
        ("retries", -1),
        ("max_bytes", 0),
        ("min_interval", -1.0),
        ("max_retry_after", -1.0),
        ("max_redirects", -1),
        ("deadline", 0.0),
        ("backoffs", {"export.arxiv.org": datetime(2026, 4, 27, 12, 0)}),  # naive: not UTC
    ],
)
def test_impossible_options_are_one_line_paperbot_errors(option: str, value: Any) -> None:
    with pytest.raises(FetcherError) as caught:
        Fetcher(UA, **{option: value})
    assert isinstance(caught.value, PaperbotError)
    assert not isinstance(caught.value, ValueError)
    assert option in str(caught.value) or "backoff" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_user_agent_received_by_server_has_the_contact(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    server.routes["/rss/cs.LG"] = serve_bytes(shared(CS_LG).read_bytes())
    await make_fetcher().fetch(server.url("/rss/cs.LG"))
    assert CONTACT in server.hits[0].headers["User-Agent"]
    assert server.hits[0].headers["User-Agent"] == UA


# -- success and conditional GET -------------------------------------------------------


async def test_etag_then_304_updates_state(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    etag = '"cs.LG-2026-04-27"'

    async def feed(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        response = web.Response(body=body, headers={"ETag": etag})
        response.content_type = RSS_TYPE
        return response

    server.routes["/rss/cs.LG"] = feed
    url = server.url("/rss/cs.LG")
    fetcher = make_fetcher()

    first = await fetcher.fetch(url)
    assert first.status == "ok"
    assert first.body == body
    assert first.etag == etag
    assert first.http_status == 200
    assert first.content_type == RSS_TYPE
    assert first.fetched_at.tzinfo is not None
    assert "If-None-Match" not in server.hits[0].headers

    t1 = FIXED_NOW
    state = record_outcome(None, url, first, t1)
    assert state.url == url
    assert state.etag == etag
    assert state.content_hash == hashlib.sha256(body).hexdigest()
    assert state.last_changed == t1
    assert state.last_success == t1

    second = await fetcher.fetch(url, state)
    assert server.hits[1].headers["If-None-Match"] == etag
    assert second.status == "not_modified"
    assert second.body is None
    assert second.http_status == 304

    t2 = t1 + timedelta(hours=6)
    after = record_outcome(state, url, second, t2)
    assert after.last_checked == t2
    assert after.last_success == t2
    assert after.last_changed == t1  # a 304 is a success, not a change
    assert after.content_hash == state.content_hash
    assert after.etag == etag


async def test_last_modified_sent_back_as_if_modified_since(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    body = shared(CS_AI).read_bytes()
    stamp = "Mon, 27 Apr 2026 04:00:00 GMT"

    async def feed(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        response = web.Response(body=body, headers={"Last-Modified": stamp})
        response.content_type = RSS_TYPE
        return response

    server.routes["/rss/cs.AI"] = feed
    url = server.url("/rss/cs.AI")
    fetcher = make_fetcher()
    first = await fetcher.fetch(url)
    assert first.last_modified == stamp
    assert first.etag is None
    state = record_outcome(None, url, first, FIXED_NOW)

    second = await fetcher.fetch(url, state)
    assert server.hits[1].headers["If-Modified-Since"] == stamp
    assert "If-None-Match" not in server.hits[1].headers
    assert second.status == "not_modified"
    # The 304 carried no Last-Modified: the one we had is kept for next time.
    assert second.last_modified == stamp
    assert record_outcome(state, url, second, FIXED_NOW).last_modified == stamp


async def test_full_feed_under_the_cap_is_returned_whole(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    body = shared(FULL_RSS).read_bytes()
    server.routes["/rss/all"] = serve_bytes(body)
    result = await make_fetcher().fetch(server.url("/rss/all"))
    assert result.body == body


async def test_html_page_is_returned_with_its_content_type(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    page = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    server.routes["/rss/cs.LG"] = serve_bytes(page, content_type="text/html")
    result = await make_fetcher().fetch(server.url("/rss/cs.LG"))
    assert result.status == "ok"
    assert result.body == page
    assert result.content_type == "text/html"


# -- retries, backoff and Retry-After ------------------------------------------------------


async def test_429_waits_for_retry_after_seconds(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/rss/cs.LG"] = sequence(
        serve_bytes(b"slow down", status=429, content_type="text/plain", **{"Retry-After": "1"}),
        serve_bytes(body),
    )
    result = await make_fetcher().fetch(server.url("/rss/cs.LG"))
    assert result.body == body
    assert len(server.hits) == 2
    assert fake_time.sleeps == [pytest.approx(1.0)]


async def test_503_with_http_date_retry_after(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    when = format_datetime(FIXED_NOW + timedelta(seconds=7), usegmt=True)
    server.routes["/rss/cs.LG"] = sequence(
        serve_bytes(b"busy", status=503, content_type="text/plain", **{"Retry-After": when}),
        serve_bytes(body),
    )
    result = await make_fetcher().fetch(server.url("/rss/cs.LG"))
    assert result.body == body
    assert fake_time.sleeps == [pytest.approx(7.0)]


async def test_retry_after_beyond_the_cap_gives_up_at_once(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    server.routes["/api/query"] = serve_bytes(
        b"busy", status=503, content_type="text/plain", **{"Retry-After": "3600"}
    )
    with pytest.raises(FetchError) as caught:
        await make_fetcher(max_retry_after=300).fetch(server.url("/api/query"))
    assert "3600 s" in caught.value.reason
    assert "300 s" in caught.value.reason
    assert caught.value.http_status == 503
    assert len(server.hits) == 1
    assert fake_time.sleeps == []


async def test_500_then_success_backs_off_once(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/rss/cs.LG"] = sequence(
        serve_bytes(b"oops", status=500, content_type="text/plain"), serve_bytes(body)
    )
    result = await make_fetcher(backoff_base=2.0).fetch(server.url("/rss/cs.LG"))
    assert result.body == body
    assert len(server.hits) == 2
    # Equal jitter on a 2 s first step: between 1 and 2 s; rand=0.5 gives 1.5.
    assert fake_time.sleeps == [pytest.approx(1.5)]


async def test_500_forever_gives_up_after_all_attempts(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    server.routes["/rss/cs.LG"] = serve_bytes(b"oops", status=500, content_type="text/plain")
    url = server.url("/rss/cs.LG")
    with pytest.raises(FeedError) as caught:
        await make_fetcher(retries=3, backoff_base=2.0).fetch(url)
    assert len(server.hits) == 4
    assert "HTTP 500 Internal Server Error" in str(caught.value)
    assert "after 4 attempts" in str(caught.value)
    assert url in str(caught.value)
    assert isinstance(caught.value, FetchError)
    assert caught.value.http_status == 500
    assert caught.value.attempts == 4
    assert fake_time.sleeps == [pytest.approx(1.5), pytest.approx(3.0), pytest.approx(6.0)]


async def test_backoff_is_capped_and_jittered(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    server.routes["/x"] = serve_bytes(b"oops", status=502, content_type="text/plain")
    draws = iter([0.0, 1.0, 0.0, 1.0])
    fetcher = make_fetcher(retries=4, backoff_base=1.0, backoff_max=3.0, rand=lambda: next(draws))
    with pytest.raises(FetchError):
        await fetcher.fetch(server.url("/x"))
    # Steps 1, 2, 4->3, 8->3 s; each lands in [step/2, step].
    assert fake_time.sleeps == [
        pytest.approx(0.5),
        pytest.approx(2.0),
        pytest.approx(1.5),
        pytest.approx(3.0),
    ]


async def test_timeout_is_retried_then_reported(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    async def stuck(request: web.Request) -> web.StreamResponse:
        await server.hang()
        return web.Response(text="too late")

    server.routes["/rss/cs.LG"] = stuck
    with pytest.raises(FetchError) as caught:
        await make_fetcher(timeout=0.2, retries=1).fetch(server.url("/rss/cs.LG"))
    assert "timed out after 0.2 s" in caught.value.reason
    assert "2 attempts" in caught.value.reason
    assert len(server.hits) == 2


async def test_connection_refused(
    make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/rss/cs.LG"
    with pytest.raises(FetchError) as caught:
        await make_fetcher(retries=1).fetch(url)
    assert "connection refused" in caught.value.reason
    assert "2 attempts" in caught.value.reason
    assert len(fake_time.sleeps) == 1


async def test_credentials_in_url_never_reach_the_error(
    make_fetcher: Callable[..., Fetcher],
) -> None:
    url = f"http://reader:s3cret@127.0.0.1:{closed_port()}/feed"
    with pytest.raises(FetchError) as caught:
        await make_fetcher(retries=0).fetch(url)
    assert "s3cret" not in str(caught.value)
    assert "1 attempt)" in caught.value.reason


# -- client errors: no retry -------------------------------------------------------------


async def test_404_fails_at_once_without_retry(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    url = server.url("/rss/cs.NOPE")
    with pytest.raises(FetchError) as caught:
        await make_fetcher().fetch(url)
    assert len(server.hits) == 1
    assert fake_time.sleeps == []
    assert caught.value.http_status == 404
    assert url in str(caught.value)
    assert "404" in str(caught.value)


async def test_400_keeps_arxiv_error_body(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    error_feed = shared(API_ERROR).read_bytes()
    server.routes["/api/query"] = serve_bytes(
        error_feed, status=400, content_type="application/atom+xml"
    )
    with pytest.raises(FetchError) as caught:
        await make_fetcher().fetch(server.url("/api/query") + "?id_list=abc")
    assert caught.value.http_status == 400
    assert caught.value.body == error_feed
    assert caught.value.content_type == "application/atom+xml"
    assert b"incorrect id format for abc" in (caught.value.body or b"")
    assert len(server.hits) == 1
    assert fake_time.sleeps == []


# -- size caps ---------------------------------------------------------------------------


async def test_oversize_content_length_is_refused_unread(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = RSS_TYPE
        response.content_length = 50_000_000
        await response.prepare(request)
        await response.write(b"<rss>" + b" " * 1000)
        # Never sends the rest: a fetcher that tried to read the body would time out.
        await server.hang()
        return response

    server.routes["/rss/huge"] = huge
    with pytest.raises(FetchError) as caught:
        await make_fetcher(timeout=5.0, retries=0).fetch(server.url("/rss/huge"))
    assert "50 MB" in caught.value.reason
    assert "10 MB limit" in caught.value.reason
    assert "timed out" not in caught.value.reason


async def test_oversize_chunked_stream_stops_at_the_cap(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    chunk = b"x" * 65_536
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse()
        response.content_type = RSS_TYPE
        response.enable_chunked_encoding()
        await response.prepare(request)
        while sent < 2_000_000:
            await response.write(chunk)
            sent += len(chunk)
        # The stream stays open: only counting while reading can end this fetch in time.
        await server.hang()
        return response

    server.routes["/rss/endless"] = endless
    with pytest.raises(FetchError) as caught:
        await make_fetcher(max_bytes=1_000_000, timeout=5.0, retries=0).fetch(
            server.url("/rss/endless")
        )
    assert "exceeds the 1 MB limit" in caught.value.reason
    assert "timed out" not in caught.value.reason


# -- file:// and schemes -----------------------------------------------------------------


async def test_file_url_reads_the_file(
    make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    path = shared(CS_LG)
    result = await make_fetcher().fetch(path.as_uri())
    assert result.status == "ok"
    assert result.body == path.read_bytes()
    assert result.http_status is None
    assert result.fetched_at == FIXED_NOW


async def test_missing_file_is_a_feed_error(
    make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    url = (tmp_path / "absent.xml").as_uri()
    with pytest.raises(FeedError, match="no such file"):
        await make_fetcher().fetch(url)


async def test_file_over_the_cap_is_refused(
    make_fetcher: Callable[..., Fetcher], tmp_path: Path
) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2_000)
    with pytest.raises(FeedError, match="limit"):
        await make_fetcher(max_bytes=1_000).fetch(big.as_uri())


@pytest.mark.parametrize("url", ["ftp://export.arxiv.org/rss/cs.LG", "gopher://x/", "cs.LG"])
async def test_unknown_scheme_is_a_feed_error(
    make_fetcher: Callable[..., Fetcher], url: str
) -> None:
    with pytest.raises(FeedError, match="unsupported URL scheme"):
        await make_fetcher().fetch(url)


# -- politeness --------------------------------------------------------------------------


async def test_same_host_requests_are_serialised_and_spaced(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()

    async def slowish(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.1)
        return await serve_bytes(body)(request)

    server.routes["/rss/cs.LG"] = slowish
    server.routes["/rss/cs.AI"] = slowish
    interval = 0.2
    fetcher = make_fetcher(min_interval=interval, sleep=asyncio.sleep, clock=time.monotonic)
    await asyncio.gather(
        fetcher.fetch(server.url("/rss/cs.LG")), fetcher.fetch(server.url("/rss/cs.AI"))
    )
    first, second = sorted(server.hits, key=lambda hit: hit.started)
    assert second.started >= first.ended  # never two at once
    # The fetcher's own end-of-request is later than the server's, so this gap is a floor;
    # the small slack is the event loop's clock resolution.
    assert second.started - first.ended >= interval - 0.005


async def test_different_hosts_do_not_wait_for_each_other(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    both_inside = asyncio.Event()
    inside = 0

    async def meet(request: web.Request) -> web.StreamResponse:
        # Answers only once a request from the other host is in flight too.
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        try:
            await asyncio.wait_for(both_inside.wait(), 2.0)
        except TimeoutError:
            return web.Response(status=409, text="requests were serialised")
        return await serve_bytes(body)(request)

    server.routes["/rss/cs.LG"] = meet
    # A long interval: if hosts shared a gate, the second request could not even start.
    fetcher = make_fetcher(min_interval=30.0, sleep=asyncio.sleep, clock=time.monotonic)
    results = await asyncio.wait_for(
        asyncio.gather(
            fetcher.fetch(server.url("/rss/cs.LG", host="127.0.0.1")),
            fetcher.fetch(server.url("/rss/cs.LG", host="localhost")),
        ),
        5.0,
    )
    assert [r.body for r in results] == [body, body]
    assert sorted(hit.host for hit in server.hits) == ["127.0.0.1", "localhost"]


async def test_retry_after_holds_back_other_requests_to_that_host(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/rss/cs.LG"] = sequence(
        serve_bytes(b"slow down", status=429, content_type="text/plain", **{"Retry-After": "20"}),
        serve_bytes(body),
    )
    server.routes["/rss/cs.AI"] = serve_bytes(body)
    fetcher = make_fetcher()
    await fetcher.fetch(server.url("/rss/cs.LG"))
    start = fake_time.now
    await fetcher.fetch(server.url("/rss/cs.AI"))
    # The host asked for 20 s; the retry consumed them, so the next request may go at once.
    assert fake_time.now == start
    assert fake_time.sleeps == [pytest.approx(20.0)]

    # When the fetch gives up instead (no retries left), the next request still waits.
    server.routes["/rss/cs.LG"] = serve_bytes(
        b"slow down", status=429, content_type="text/plain", **{"Retry-After": "20"}
    )
    fake_time.sleeps.clear()
    impatient = make_fetcher(retries=0)
    with pytest.raises(FetchError, match="429"):
        await impatient.fetch(server.url("/rss/cs.LG"))
    assert fake_time.sleeps == []
    await impatient.fetch(server.url("/rss/cs.AI"))
    assert fake_time.sleeps == [pytest.approx(20.0)]


# -- record_outcome ----------------------------------------------------------------------


def _ok(url: str, body: bytes, etag: str | None = None) -> FetchResult:
    return FetchResult(url, "ok", body, etag, None, 200, FIXED_NOW, RSS_TYPE)


def test_record_outcome_counts_failures_and_resets_on_success() -> None:
    url = "https://rss.arxiv.org/rss/cs.LG"
    t = [FIXED_NOW + timedelta(hours=h) for h in range(6)]

    state = record_outcome(None, url, _ok(url, b"<rss>one</rss>", etag='"1"'), t[0])
    assert state.consecutive_failures == 0
    assert state.last_changed == t[0]

    failure = FetchError(url, "HTTP 503 Service Unavailable (gave up after 5 attempts)")
    state = record_outcome(state, url, failure, t[1])
    state = record_outcome(state, url, FeedError(url, "connection refused"), t[2])
    assert state.consecutive_failures == 2
    assert state.last_error == "connection refused"
    assert state.last_checked == t[2]
    assert state.last_success == t[0]
    assert state.etag == '"1"'  # errors keep the validators
    assert state.content_hash == hashlib.sha256(b"<rss>one</rss>").hexdigest()

    state = record_outcome(state, url, _ok(url, b"<rss>one</rss>", etag='"1"'), t[3])
    assert state.consecutive_failures == 0
    assert state.last_error is None
    assert state.last_success == t[3]
    assert state.last_changed == t[0]  # same bytes: not a change

    state = record_outcome(state, url, _ok(url, b"<rss>two</rss>"), t[4])
    assert state.last_changed == t[4]
    assert state.etag is None  # the server stopped sending one; never send a stale one back


def test_record_outcome_leaves_input_alone_and_alerted_untouched() -> None:
    url = "https://rss.arxiv.org/rss/cs.LG"
    before = FeedState(url=url, consecutive_failures=3, alerted=True, last_error="timed out")
    after = record_outcome(before, url, _ok(url, b"<rss/>"), FIXED_NOW)
    assert before.consecutive_failures == 3
    assert after.consecutive_failures == 0
    assert after.alerted is True


# -- api_query_url -----------------------------------------------------------------------


def test_api_query_url_shape() -> None:
    assert (
        api_query_url(DEFAULT_API_BASE, ["2401.01234", "hep-th/9901001"])
        == "https://export.arxiv.org/api/query?id_list=2401.01234,hep-th/9901001&max_results=2"
    )
    assert api_query_url("http://mirror.example/api/", ["1707.08567"]) == (
        "http://mirror.example/api/query?id_list=1707.08567&max_results=1"
    )


@pytest.mark.parametrize("ids", [[], ["a,b"], [""], [" 2401.01234"]])
def test_api_query_url_refuses_unusable_ids(ids: list[str]) -> None:
    with pytest.raises(PaperbotError):
        api_query_url(DEFAULT_API_BASE, ids)
    with pytest.raises(ValueError):  # an IdentifierError is both
        api_query_url(DEFAULT_API_BASE, ids)


async def test_api_query_url_round_trips_through_a_server(
    server: Server, make_fetcher: Callable[..., Fetcher], shared: Shared
) -> None:
    answer = shared(API_ONE).read_bytes()
    seen: dict[str, list[str]] = {}

    async def api(request: web.Request) -> web.StreamResponse:
        seen.update(parse_qs(urlsplit(str(request.url)).query))
        return await serve_bytes(answer, content_type="application/atom+xml")(request)

    server.routes["/api/query"] = api
    ids = ["astro-ph/0601001", "2401.01234v2", "odd&id=x y"]
    result = await make_fetcher().fetch(api_query_url(server.url("/api"), ids))
    assert result.body == answer
    assert seen == {"id_list": [",".join(ids)], "max_results": ["3"]}


# -- redirects: each hop through its host's gate --------------------------------------------


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location}, text="moved")

    return handler


async def test_redirects_are_followed_and_every_hop_is_spaced(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/rss/old"] = redirect(server.url("/rss/moved"), 301)
    server.routes["/rss/moved"] = redirect("/rss/cs.LG", 307)  # relative Location
    server.routes["/rss/cs.LG"] = serve_bytes(body)
    url = server.url("/rss/old")
    result = await make_fetcher(min_interval=3.0).fetch(url)
    assert result.body == body
    assert result.url == url  # the caller's key, not where it ended
    assert server.paths() == ["/rss/old", "/rss/moved", "/rss/cs.LG"]
    # The clock stands still during a request here: each hop waits the full 3 s spacing.
    assert fake_time.sleeps == [pytest.approx(3.0), pytest.approx(3.0)]


async def test_a_redirect_loop_stops_at_the_hop_limit_and_stays_spaced(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchError) as caught:
        await make_fetcher(min_interval=3.0, max_redirects=3).fetch(server.url("/loop"))
    assert "too many redirects (more than 3)" in caught.value.reason
    assert server.paths() == ["/loop"] * 4
    assert fake_time.sleeps == [pytest.approx(3.0)] * 3


async def test_a_redirect_to_another_host_waits_for_that_hosts_turn(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/rss/cs.LG"] = serve_bytes(body)
    server.routes["/go"] = redirect(server.url("/rss/cs.LG", host="localhost"))
    fetcher = make_fetcher(min_interval=3.0)
    await fetcher.fetch(server.url("/rss/cs.LG", host="localhost"))
    assert fake_time.sleeps == []
    result = await fetcher.fetch(server.url("/go", host="127.0.0.1"))
    assert result.body == body
    assert [hit.host for hit in server.hits] == ["localhost", "127.0.0.1", "localhost"]
    # 127.0.0.1 was fresh; the hop to localhost waited for localhost's spacing.
    assert fake_time.sleeps == [pytest.approx(3.0)]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/feed"])
async def test_a_redirect_off_http_is_refused(
    server: Server, make_fetcher: Callable[..., Fetcher], location: str
) -> None:
    server.routes["/go"] = redirect(location)
    with pytest.raises(FetchError, match="not an http"):
        await make_fetcher().fetch(server.url("/go"))
    assert server.paths() == ["/go"]


async def test_a_redirect_without_location_is_an_error(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    server.routes["/go"] = serve_bytes(b"", status=302, content_type="text/plain")
    with pytest.raises(FetchError, match="without a Location") as caught:
        await make_fetcher().fetch(server.url("/go"))
    assert caught.value.http_status == 302


# -- a refused long Retry-After is remembered -------------------------------------------------


async def test_a_refused_retry_after_is_remembered_for_the_host(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    body = shared(CS_LG).read_bytes()
    server.routes["/api/query"] = serve_bytes(
        b"busy", status=503, content_type="text/plain", **{"Retry-After": "3600"}
    )
    server.routes["/rss/cs.LG"] = serve_bytes(body)
    fetcher = make_fetcher(max_retry_after=300, min_interval=3.0)
    with pytest.raises(FetchError):
        await fetcher.fetch(server.url("/api/query"))
    until = FIXED_NOW + timedelta(seconds=3600)
    assert fetcher.host_blocked_until("127.0.0.1") == until
    assert fetcher.host_blocked_until("localhost") is None
    assert fetcher.backoffs() == {"127.0.0.1": until}

    # The next feed on that host is not sent 3 s later: it is not sent at all.
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/rss/cs.LG"))
    assert "not asked again" in caught.value.reason
    assert "2026-04-27 13:00:00 UTC" in caught.value.reason
    assert len(server.hits) == 1
    assert fake_time.sleeps == []
    # Another host is not held back.
    assert (await fetcher.fetch(server.url("/rss/cs.LG", host="localhost"))).body == body

    # The next poll (a new Fetcher given the saved backoffs) remembers it too...
    later = make_fetcher(backoffs=fetcher.backoffs(), now=lambda: FIXED_NOW + timedelta(minutes=30))
    with pytest.raises(FetchError, match="not asked again"):
        await later.fetch(server.url("/rss/cs.LG"))
    assert len(server.hits) == 2
    # ...also through storage as text...
    stored = dump_backoffs(fetcher.backoffs())
    assert load_backoffs(stored) == {"127.0.0.1": until}
    restored = make_fetcher(backoffs=load_backoffs(stored))
    with pytest.raises(FetchError, match="not asked again"):
        await restored.fetch(server.url("/rss/cs.LG"))
    assert len(server.hits) == 2
    # ...until the time the server gave has passed.
    after = make_fetcher(backoffs=fetcher.backoffs(), now=lambda: until + timedelta(seconds=1))
    assert after.backoffs() == {}
    assert (await after.fetch(server.url("/rss/cs.LG"))).body == body


@pytest.mark.parametrize("value", ["1000000000000", "9" * 400])
async def test_an_absurd_retry_after_is_refused_in_one_line_and_remembered_a_week(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, value: str
) -> None:
    """A number too large for a date used to crash the whole poll (OverflowError); a
    10-year value blocked the host until 2036."""
    server.routes["/api/query"] = serve_bytes(
        b"busy", status=429, content_type="text/plain", **{"Retry-After": value}
    )
    fetcher = make_fetcher(max_retry_after=300)
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/api/query"))
    assert "\n" not in caught.value.reason and "more than the 300 s limit" in caught.value.reason
    week = FIXED_NOW + timedelta(days=7)
    assert fetcher.backoffs() == {"127.0.0.1": week}
    assert "2026-05-04 12:00:00 UTC" in caught.value.reason
    assert len(server.hits) == 1 and fake_time.sleeps == []


def test_a_stored_backoff_beyond_a_week_is_held_to_a_week() -> None:
    far = datetime(2036, 1, 1, tzinfo=UTC)
    (until,) = load_backoffs(dump_backoffs({"export.arxiv.org": far})).values()
    assert until <= datetime.now(UTC) + timedelta(days=7, seconds=5)


# -- deadline ----------------------------------------------------------------------------------


async def test_the_deadline_ends_retries_that_would_outlast_it(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    server.routes["/rss/cs.LG"] = serve_bytes(
        b"busy", status=503, content_type="text/plain", **{"Retry-After": "100"}
    )
    with pytest.raises(FetchError) as caught:
        await make_fetcher(retries=4, deadline=150.0).fetch(server.url("/rss/cs.LG"))
    assert "150 s deadline" in caught.value.reason
    assert "gave up after 2 attempts" in caught.value.reason
    assert caught.value.attempts == 2
    assert len(server.hits) == 2
    assert fake_time.sleeps == [pytest.approx(100.0)]

    # A deadline given to one fetch overrides the Fetcher's.
    server.hits.clear()
    fake_time.sleeps.clear()
    with pytest.raises(FetchError, match="50 s deadline"):
        await make_fetcher(retries=4, deadline=1000.0).fetch(
            server.url("/rss/cs.LG"), deadline=50.0
        )
    assert len(server.hits) == 1
    assert fake_time.sleeps == []


async def test_the_deadline_cuts_a_hanging_request_short(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    async def stuck(request: web.Request) -> web.StreamResponse:
        await server.hang()
        return web.Response(text="too late")

    server.routes["/rss/cs.LG"] = stuck
    fetcher = make_fetcher(
        timeout=30.0, retries=4, deadline=0.3, sleep=asyncio.sleep, clock=time.monotonic
    )
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(server.url("/rss/cs.LG"))
    assert "no answer within the 0.3 s deadline" in caught.value.reason
    assert len(server.hits) == 1


async def test_the_deadline_refuses_a_spacing_wait_past_it(
    server: Server, make_fetcher: Callable[..., Fetcher], fake_time: FakeTime, shared: Shared
) -> None:
    server.routes["/rss/cs.LG"] = serve_bytes(shared(CS_LG).read_bytes())
    fetcher = make_fetcher(min_interval=30.0)
    await fetcher.fetch(server.url("/rss/cs.LG"))
    with pytest.raises(FetchError, match=r"for 30\.0 s, past the 10 s deadline"):
        await fetcher.fetch(server.url("/rss/cs.LG"), deadline=10.0)
    assert len(server.hits) == 1
    assert fake_time.sleeps == []


# -- what is said ------------------------------------------------------------------------------


async def test_the_log_gives_the_real_wait(
    server: Server,
    make_fetcher: Callable[..., Fetcher],
    fake_time: FakeTime,
    shared: Shared,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.routes["/rss/cs.LG"] = sequence(
        serve_bytes(b"oops", status=500, content_type="text/plain"),
        serve_bytes(shared(CS_LG).read_bytes()),
    )
    caplog.set_level(logging.WARNING, logger="feeds.fetch")
    # The backoff would be 1.5 s, but the host's 3 s spacing decides.
    await make_fetcher(min_interval=3.0, backoff_base=2.0).fetch(server.url("/rss/cs.LG"))
    assert fake_time.sleeps == [pytest.approx(3.0)]
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == [
        f"{server.url('/rss/cs.LG')}: HTTP 500 Internal Server Error; attempt 1 of 5, "
        "retrying in 3.0 s"
    ]


async def test_a_truncated_body_is_one_clean_line(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = RSS_TYPE
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"<rss>" + b" " * 95)
        assert request.transport is not None
        request.transport.close()
        return response

    server.routes["/rss/cs.LG"] = cut
    url = server.url("/rss/cs.LG")
    with pytest.raises(FetchError) as caught:
        await make_fetcher(retries=1).fetch(url)
    assert caught.value.reason == (
        "the connection closed before the whole body arrived (got 100 of 1000 bytes) "
        "(gave up after 2 attempts)"
    )
    assert len(server.hits) == 2
    state = record_outcome(None, url, caught.value, FIXED_NOW)
    assert state.last_error == caught.value.reason
    assert "400" not in (state.last_error or "")


async def test_errors_name_the_feed_without_its_query(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    server.routes["/api/query"] = serve_bytes(b"oops", status=500, content_type="text/plain")
    url = api_query_url(server.url("/api"), ["2401.01234"])
    assert "?" in url
    with pytest.raises(FetchError) as caught:
        await make_fetcher(retries=1).fetch(url)
    assert "?" not in str(caught.value)
    assert "id_list" not in str(caught.value)
    assert caught.value.feed == server.url("/api/query")


async def test_a_gzip_bomb_stops_at_the_cap(
    server: Server, make_fetcher: Callable[..., Fetcher]
) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < 100_000

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": RSS_TYPE}
        )

    server.routes["/rss/bomb"] = handler
    with pytest.raises(FetchError) as caught:
        await make_fetcher(max_bytes=1_000_000, retries=0).fetch(server.url("/rss/bomb"))
    assert "exceeds the 1 MB limit" in caught.value.reason


@pytest.mark.parametrize(
    "text", [None, "", "not json", "[1, 2]", '{"h": "yesterday"}', '{"h": "2026-04-27T12:00:00"}']
)
def test_unreadable_stored_backoffs_are_dropped(text: str | None) -> None:
    assert load_backoffs(text) == {}


async def _raw_server(answer: bytes) -> tuple[asyncio.Server, str, list[int]]:
    """A TCP server that answers every request with `answer` as it is, then closes."""
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(1)
        writer.write(answer)
        await writer.drain()
        writer.close()

    raw = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    return raw, f"http://127.0.0.1:{port}/rss/cs.LG", seen


async def test_an_answer_that_is_not_http_is_one_plain_line_and_not_asked_again(
    make_fetcher: Callable[..., Fetcher],
) -> None:
    raw, url, seen = await _raw_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    try:
        with pytest.raises(FetchError) as caught:
            await make_fetcher(retries=3).fetch(url)
    finally:
        raw.close()
        await raw.wait_closed()
    reason = caught.value.reason
    assert reason.startswith("the server's answer is not valid HTTP (")
    assert "message=" not in reason and "ClientResponseError" not in reason
    assert len(seen) == 1  # the same answer would come back: not retried


async def test_a_corrupt_gzip_body_is_said_as_such(make_fetcher: Callable[..., Fetcher]) -> None:
    body = b"\x1f\x8b\x08\x00" + b"not really gzip at all" * 10
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    raw, url, seen = await _raw_server(head + body)
    try:
        with pytest.raises(FetchError) as caught:
            await make_fetcher(retries=3).fetch(url)
    finally:
        raw.close()
        await raw.wait_closed()
    assert "could not be decompressed" in caught.value.reason, caught.value.reason
    assert "connection closed" not in caught.value.reason
    assert len(seen) == 1


def test_a_deadline_reads_as_it_was_set() -> None:
    from feeds.fetch import _seconds

    assert [_seconds(x) for x in (11.9996, 600.0, 2.5, 3.0, 0.25)] == [
        "12", "600", "2.5", "3", "0.2",
    ]  # fmt: skip


async def test_a_dropped_connection_is_one_attempt_through_the_hosts_gate(
    make_fetcher: Callable[..., Fetcher], fake_time: FakeTime
) -> None:
    """aiohttp used to send the request again at once when the server closed the
    connection without answering, outside the 3 s per host: 6 requests for 3 attempts."""
    seen: list[float] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(fake_time.now)
        writer.close()

    raw = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{raw.sockets[0].getsockname()[1]}/rss/cs.LG"
    try:
        with pytest.raises(FetchError) as caught:
            await make_fetcher(retries=2, min_interval=3.0).fetch(url)
    finally:
        raw.close()
        await raw.wait_closed()
    assert len(seen) == 3 and caught.value.attempts == 3
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(seen)), seen
