"""Fetching arXiv feeds and API responses politely: conditional GET, per-host spacing, backoff,
redirects hop by hop, remembered Retry-After refusals and a deadline per fetch."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import mimetypes
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import url2pathname

import aiohttp

from feeds.errors import FeedError, IdentifierError, PaperbotError
from feeds.models import FeedState

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://export.arxiv.org/api"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MIN_INTERVAL = 3.0  # arXiv's terms: one request at a time, >= 3 s apart, per host
DEFAULT_RETRIES = 4
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_RETRY_AFTER = 300.0
# A refused Retry-After is remembered for a week at most: a server asking for years (or a
# number too large for a date) is asked again next week, not in 2036.
REMEMBER_AT_MOST = 7 * 86_400.0
DEFAULT_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Error bodies are kept for the caller (arXiv explains a bad id in a small Atom feed), but an
# error page is never worth more than this.
ERROR_BODY_LIMIT = 64_000
_CHUNK = 64 * 1024
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
_CONTACT = re.compile(r"mailto:|@|https?://")

FetchStatus = Literal["ok", "not_modified"]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful fetch: fresh bytes, or the server's word that nothing changed."""

    url: str
    status: FetchStatus
    body: bytes | None  # None on not_modified
    etag: str | None
    last_modified: str | None
    http_status: int | None  # None for file://
    fetched_at: datetime  # UTC aware
    content_type: str | None = None  # media type without parameters, e.g. "text/html"

    @property
    def not_modified(self) -> bool:
        return self.status == "not_modified"


class FetchError(FeedError):
    """A fetch that failed; carries what the server said so the caller can explain it.

    `body` is the (small) error body of a 4xx answer: arXiv's API answers a malformed id
    with HTTP 400 and an Atom feed whose entry says what was wrong.
    """

    def __init__(
        self,
        feed: str,
        reason: str,
        *,
        http_status: int | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(feed, reason)
        self.http_status = http_status
        self.body = body
        self.content_type = content_type
        self.attempts = attempts


class FetcherError(PaperbotError):
    """A Fetcher built with values it cannot work with (the settings refuse them first)."""


class _Retryable(Exception):
    """A transient failure of one attempt; never leaves this module."""

    def __init__(
        self, reason: str, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str
    http_status: int


@dataclass(frozen=True, slots=True)
class _Deadline:
    """The whole fetch's time budget: `seconds` long, ending at clock() value `ends_at`."""

    seconds: float
    ends_at: float


@dataclass(slots=True)
class _HostGate:
    lock: asyncio.Lock
    next_start: float = float("-inf")  # clock() value before which no request may start


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Fetcher:
    """Fetches http(s) and file:// URLs the way arXiv asks automated clients to.

    Per host, one request at a time and `min_interval` seconds from the end of one to the
    start of the next, for every request: redirects are followed here, hop by hop (at most
    `max_redirects`), each hop through its own host's turn. Transient failures (5xx, 429,
    connection errors, timeouts, cut bodies) are retried with exponential backoff and
    jitter, and a server's Retry-After is obeyed up to `max_retry_after`; a longer one is
    refused and the host left alone until then (`backoffs()` hands that on to the next
    Fetcher). `deadline` bounds one whole fetch. Use as `async with Fetcher(...) as f`, or
    call `close()` when done.
    """

    def __init__(
        self,
        user_agent: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        retries: int = DEFAULT_RETRIES,
        backoff_base: float = 2.0,
        backoff_max: float = 120.0,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        deadline: float | None = None,
        backoffs: Mapping[str, datetime] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not user_agent or not user_agent.strip() or not _CONTACT.search(user_agent):
            raise FetcherError(
                "Fetcher needs a User-Agent with a contact address arXiv can reach "
                f"(an e-mail or URL), e.g. 'paperbot/0.1 (+mailto:ops@example.org)'; got {user_agent!r}"
            )
        for name, value, low in (
            ("timeout", timeout, 0.0),
            ("backoff_base", backoff_base, 0.0),
            ("max_bytes", max_bytes, 0),
        ):
            if not value > low:
                raise FetcherError(f"Fetcher: {name} must be more than {low:g}, got {value}")
        for name, value in (
            ("min_interval", min_interval),
            ("retries", retries),
            ("backoff_max", backoff_max),
            ("max_retry_after", max_retry_after),
            ("max_redirects", max_redirects),
        ):
            if not value >= 0:
                raise FetcherError(f"Fetcher: {name} must not be negative, got {value}")
        if deadline is not None and not deadline > 0:
            raise FetcherError(f"Fetcher: deadline must be more than 0 s, got {deadline}")
        blocked: dict[str, datetime] = {}
        for host, until in (backoffs or {}).items():
            if until.tzinfo is None:
                raise FetcherError(f"Fetcher: the backoff for {host} is not a UTC time: {until}")
            blocked[host.lower()] = until.astimezone(UTC)
        self.user_agent = user_agent.strip()
        self.timeout = timeout
        self.min_interval = min_interval
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._rand = rand
        self._session: aiohttp.ClientSession | None = None
        self._gates: dict[str, _HostGate] = {}
        # Hosts whose long Retry-After was refused: not asked again before then (wall clock,
        # so a caller can keep them across polls and restarts).
        self._blocked = blocked

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def host_blocked_until(self, host: str) -> datetime | None:
        """When `host` may be asked again, if it asked for a wait longer than we accept."""
        until = self._blocked.get(host.lower())
        return until if until is not None and until > self._now() else None

    def backoffs(self) -> dict[str, datetime]:
        """The hosts still waited for and until when; pass as `backoffs=` to a new Fetcher."""
        now = self._now()
        return {host: until for host, until in self._blocked.items() if until > now}

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so a Fetcher can be built before the event loop runs.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self.user_agent, "Accept": _ACCEPT},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            # aiohttp sends a GET again at once when the server closes the connection
            # without an answer: a second request outside the host's gate, which arXiv's
            # one-request-per-3-s rule counts. Each attempt here is one request, and the
            # retries are the fetcher's own, through the gate. (aiohttp's own test client
            # turns it off the same way; it has no public switch.)
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False
        return self._session

    async def fetch(
        self, url: str, state: FeedState | None = None, *, deadline: float | None = None
    ) -> FetchResult:
        """Fetch `url`, conditionally when `state` holds an ETag or Last-Modified.

        `deadline` (seconds, default the Fetcher's) bounds the whole fetch: waits, retries
        and redirects included. Raises FetchError (a FeedError) when the URL cannot be fetched.
        """
        seconds = self.deadline if deadline is None else deadline
        if seconds is not None and not seconds > 0:
            raise FetcherError(f"fetch: deadline must be more than 0 s, got {seconds}")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return await self._fetch_file(url)
        if scheme not in ("http", "https"):
            shown = scheme or "none"
            raise FetchError(
                _safe_url(url), f"unsupported URL scheme {shown!r} (use http, https or file)"
            )
        if not parts.hostname:
            raise FetchError(_safe_url(url), "URL has no host")
        budget = None if seconds is None else _Deadline(seconds, self._clock() + seconds)
        return await self._fetch_http(url, parts.hostname.lower(), state, budget)

    # -- http ---------------------------------------------------------------------------

    async def _fetch_http(
        self, url: str, host: str, state: FeedState | None, budget: _Deadline | None
    ) -> FetchResult:
        shown = _safe_url(url)
        headers: dict[str, str] = {}
        if state is not None:
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._follow(url, shown, headers, state, budget)
            except _Retryable as failure:
                last = failure
            if attempt == attempts:
                break
            delay = last.retry_after if last.retry_after is not None else self._backoff(attempt)
            # The host's spacing may hold the retry longer than the backoff: say the real wait.
            wait = max(delay, self._gate(host).next_start - self._clock())
            if budget is not None and self._clock() + wait >= budget.ends_at:
                noun = "attempt" if attempt == 1 else "attempts"
                raise FetchError(
                    shown,
                    f"{last.reason}; a retry in {wait:.1f} s would pass the "
                    f"{_seconds(budget.seconds)} s deadline (gave up after {attempt} {noun})",
                    http_status=last.http_status,
                    attempts=attempt,
                )
            logger.warning(
                "%s: %s; attempt %d of %d, retrying in %.1f s",
                shown,
                last.reason,
                attempt,
                attempts,
                wait,
            )
            await self._sleep(wait)
        noun = "attempt" if attempts == 1 else "attempts"
        raise FetchError(
            shown,
            f"{last.reason} (gave up after {attempts} {noun})",
            http_status=last.http_status,
            attempts=attempts,
        )

    async def _follow(
        self,
        url: str,
        shown: str,
        headers: dict[str, str],
        state: FeedState | None,
        budget: _Deadline | None,
    ) -> FetchResult:
        """One attempt: the request and each redirect hop, every hop through its host's gate."""
        current = url
        for _hop in range(self.max_redirects + 1):
            host = (urlsplit(current).hostname or "").lower()
            outcome = await self._attempt(current, shown, host, headers, state, budget)
            if isinstance(outcome, FetchResult):
                return replace(outcome, url=url)
            target = urljoin(current, outcome.location)
            parts = urlsplit(target)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise FetchError(
                    shown,
                    f"HTTP {outcome.http_status} redirect to {_safe_url(target)!r}, "
                    "which is not an http(s) URL",
                    http_status=outcome.http_status,
                )
            logger.debug("%s: HTTP %d to %s", shown, outcome.http_status, _safe_url(target))
            current = target
        raise FetchError(shown, f"too many redirects (more than {self.max_redirects})")

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": never less than half the exponential step, so a crowd of clients
        # spreads out without any of them coming back too early.
        step = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return step / 2 + self._rand() * step / 2

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(asyncio.Lock())
        return gate

    def _refuse_if_blocked(self, host: str, shown: str) -> None:
        until = self.host_blocked_until(host)
        if until is not None:
            raise FetchError(
                shown,
                f"{host} asked to be left alone until {until:%Y-%m-%d %H:%M:%S} UTC "
                "(Retry-After); not asked again before then",
            )

    async def _attempt(
        self,
        url: str,
        shown: str,
        host: str,
        headers: dict[str, str],
        state: FeedState | None,
        budget: _Deadline | None,
    ) -> FetchResult | _Redirect:
        gate = self._gate(host)
        self._refuse_if_blocked(host, shown)
        async with gate.lock:
            wait = gate.next_start - self._clock()
            if wait > 0:
                if budget is not None and self._clock() + wait >= budget.ends_at:
                    raise FetchError(
                        shown,
                        f"{host} may not be asked again for {wait:.1f} s, past the "
                        f"{_seconds(budget.seconds)} s deadline",
                    )
                await self._sleep(wait)
            # Another request may have been told to go away while this one waited.
            self._refuse_if_blocked(host, shown)
            try:
                return await self._request(url, shown, host, headers, state, gate, budget)
            finally:
                gate.next_start = max(gate.next_start, self._clock() + self.min_interval)

    async def _request(
        self,
        url: str,
        shown: str,
        host: str,
        headers: dict[str, str],
        state: FeedState | None,
        gate: _HostGate,
        budget: _Deadline | None,
    ) -> FetchResult | _Redirect:
        timeout = self.timeout
        if budget is not None:
            left = budget.ends_at - self._clock()
            if left <= 0:
                raise FetchError(shown, f"the {_seconds(budget.seconds)} s deadline passed")
            timeout = min(timeout, left)
        logger.debug("GET %s", _safe_url(url))
        try:
            async with self._client().get(
                url,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                if resp.status in _REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise FetchError(
                            shown,
                            f"HTTP {resp.status} redirect without a Location",
                            http_status=resp.status,
                        )
                    return _Redirect(location, resp.status)
                ctype = resp.content_type if "Content-Type" in resp.headers else None
                if resp.status == 304:
                    logger.info("%s: not modified", shown)
                    return FetchResult(
                        url=url,
                        status="not_modified",
                        body=None,
                        etag=resp.headers.get("ETag") or (state.etag if state else None),
                        last_modified=resp.headers.get("Last-Modified")
                        or (state.last_modified if state else None),
                        http_status=304,
                        fetched_at=self._now(),
                        content_type=ctype,
                    )
                if 200 <= resp.status < 300:
                    body = await self._read_capped(resp, shown)
                    logger.info("%s: %d bytes (%s)", shown, len(body), ctype or "no content type")
                    return FetchResult(
                        url=url,
                        status="ok",
                        body=body,
                        etag=resp.headers.get("ETag"),
                        last_modified=resp.headers.get("Last-Modified"),
                        http_status=resp.status,
                        fetched_at=self._now(),
                        content_type=ctype,
                    )
                reason = f"HTTP {resp.status} {resp.reason or ''}".strip()
                if resp.status == 429 or resp.status >= 500:
                    retry_after = None
                    if resp.status in (429, 503):
                        retry_after = _parse_retry_after(
                            resp.headers.get("Retry-After"), self._now()
                        )
                    if retry_after is not None:
                        if retry_after > self.max_retry_after:
                            # Refused, and remembered: asking again sooner is what the
                            # server told us not to do.
                            wait = min(retry_after, REMEMBER_AT_MOST)
                            until = self._now() + timedelta(seconds=wait)
                            previous = self._blocked.get(host)
                            self._blocked[host] = (
                                until if previous is None else max(previous, until)
                            )
                            raise FetchError(
                                shown,
                                f"{reason}: {host} asked to wait {retry_after:.0f} s, "
                                f"more than the {self.max_retry_after:.0f} s limit; "
                                f"not asked again before {until:%Y-%m-%d %H:%M:%S} UTC",
                                http_status=resp.status,
                            )
                        # Every request to this host waits, not only this one.
                        gate.next_start = max(gate.next_start, self._clock() + retry_after)
                    raise _Retryable(reason, resp.status, retry_after)
                error_body = await _read_error_body(resp)
                raise FetchError(
                    shown, reason, http_status=resp.status, body=error_body, content_type=ctype
                )
        except (FetchError, _Retryable):
            raise
        except TimeoutError as exc:
            if budget is not None and timeout < self.timeout:
                raise FetchError(
                    shown, f"no answer within the {_seconds(budget.seconds)} s deadline"
                ) from exc
            raise _Retryable(f"timed out after {self.timeout:g} s") from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise FetchError(shown, f"TLS certificate problem: {exc.certificate_error}") from exc
        except aiohttp.ClientConnectorDNSError as exc:
            raise _Retryable(f"could not resolve host {exc.host!r}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise _Retryable(_connect_reason(exc)) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise _Retryable("server closed the connection") from exc
        except aiohttp.ClientPayloadError as exc:
            if _undecodable(exc):
                raise FetchError(shown, "the body could not be decompressed (corrupt)") from exc
            raise _Retryable("the connection closed before the whole body arrived") from exc
        except aiohttp.ClientResponseError as exc:
            # aiohttp raises this when the answer is not HTTP at all ("Bad status line"),
            # its text reading like a 400 from the server: it is not, and asking again
            # would get the same.
            raise FetchError(
                shown, f"the server's answer is not valid HTTP ({_protocol(exc)})"
            ) from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError(shown, f"invalid URL ({exc})") from exc
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from exc

    async def _read_capped(self, resp: aiohttp.ClientResponse, shown: str) -> bytes:
        limit = _size(self.max_bytes)
        declared = resp.content_length
        if declared is not None and declared > self.max_bytes:
            resp.close()
            raise FetchError(
                shown,
                f"response is {_size(declared)}, over the {limit} limit; not downloaded",
                http_status=resp.status,
            )
        # Content-Length can be absent (chunked) or wrong, and is the compressed size when
        # the body is compressed, so the decoded bytes are counted as they arrive.
        buf = bytearray()
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                buf += chunk
                if len(buf) > self.max_bytes:
                    resp.close()
                    raise FetchError(
                        shown,
                        f"response exceeds the {limit} limit; stopped reading",
                        http_status=resp.status,
                    )
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            if isinstance(exc, aiohttp.ClientPayloadError) and _undecodable(exc):
                raise FetchError(
                    shown,
                    f"the body could not be decompressed ({resp.headers.get('Content-Encoding')}"
                    " data is corrupt)",
                    http_status=resp.status,
                ) from exc
            # aiohttp's own text here ("400, message=...") reads like an HTTP 400; it is not.
            if declared is not None and "Content-Encoding" not in resp.headers:
                got = f"got {len(buf)} of {declared} bytes"
            else:
                got = f"got {len(buf)} bytes"
            raise _Retryable(
                f"the connection closed before the whole body arrived ({got})"
            ) from exc
        return bytes(buf)

    # -- file ---------------------------------------------------------------------------

    async def _fetch_file(self, url: str) -> FetchResult:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(url, f"file URL on another host ({parts.netloc!r})")
        path = Path(url2pathname(parts.path))
        data = await asyncio.to_thread(_read_file, url, path, self.max_bytes)
        ctype, _ = mimetypes.guess_type(path.name)
        logger.info("%s: %d bytes", url, len(data))
        return FetchResult(
            url=url,
            status="ok",
            body=data,
            etag=None,
            last_modified=None,
            http_status=None,
            fetched_at=self._now(),
            content_type=ctype,
        )


def _read_file(url: str, path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(url, f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise FetchError(url, f"is a directory, not a file: {path}") from exc
    except OSError as exc:
        raise FetchError(url, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise FetchError(url, f"file exceeds the {_size(max_bytes)} limit")
    return data


async def _read_error_body(resp: aiohttp.ClientResponse) -> bytes | None:
    """The body of an error answer when small; None when large or unreadable."""
    if resp.content_length is not None and resp.content_length > ERROR_BODY_LIMIT:
        resp.close()
        return None
    buf = bytearray()
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK):
            buf += chunk
            if len(buf) > ERROR_BODY_LIMIT:
                resp.close()
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None
    return bytes(buf)


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    if isinstance(os_error, ConnectionRefusedError) or os_error.errno == errno.ECONNREFUSED:
        return "connection refused"
    if "refused" in str(os_error).lower() or "connect call failed" in str(os_error).lower():
        # Several addresses tried (IPv6 and IPv4): the combined error has no errno.
        return "connection refused"
    return f"could not connect to {exc.host}:{exc.port} ({os_error.strerror or os_error})"


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # as a float even when it has hundreds of digits (int -> float overflows past 1e308)
        return float(min(int(value), 10**12))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"


def _safe_url(url: str) -> str:
    """The URL without user:password, ?query or #fragment, fit for logs and error messages.

    A query names a request, not a feed (and may carry a key); the feed is the rest.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query and not parts.fragment:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host, query="", fragment=""))


def dump_backoffs(backoffs: Mapping[str, datetime]) -> str:
    """`Fetcher.backoffs()` as text to store between polls (JSON: host -> ISO UTC time)."""
    return json.dumps(
        {host: until.astimezone(UTC).isoformat() for host, until in sorted(backoffs.items())}
    )


def load_backoffs(text: str | None) -> dict[str, datetime]:
    """What `dump_backoffs` wrote, for `Fetcher(backoffs=...)`; unreadable parts are dropped.

    Forgetting a backoff costs one request the server may refuse again; refusing to start
    over a damaged record would cost every poll.
    """
    try:
        raw = json.loads(text or "{}")
    except json.JSONDecodeError:
        logger.warning("stored fetch backoffs are not JSON; starting without them")
        return {}
    result: dict[str, datetime] = {}
    if not isinstance(raw, dict):
        return result
    for host, value in raw.items():
        try:
            until = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        if until.tzinfo is not None:
            # what an older paperbot stored without a bound is held to the bound from now
            ceiling = datetime.now(UTC) + timedelta(seconds=REMEMBER_AT_MOST)
            result[str(host).lower()] = min(until.astimezone(UTC), ceiling)
    return result


def record_outcome(
    state: FeedState | None, url: str, outcome: FetchResult | FeedError, now: datetime
) -> FeedState:
    """The feed's state after one fetch; pure, so the poll job can store it as it is.

    `alerted` is left alone: whoever sends health alerts decides when a feed has recovered.
    """
    base = state if state is not None else FeedState(url=url)
    if isinstance(outcome, FeedError):
        return replace(
            base,
            last_checked=now,
            last_error=outcome.reason,
            consecutive_failures=base.consecutive_failures + 1,
        )
    if outcome.status == "not_modified":
        return replace(
            base,
            last_checked=now,
            last_success=now,
            last_error=None,
            consecutive_failures=0,
            etag=outcome.etag or base.etag,
            last_modified=outcome.last_modified or base.last_modified,
        )
    digest = hashlib.sha256(outcome.body or b"").hexdigest()
    changed = digest != base.content_hash
    return replace(
        base,
        last_checked=now,
        last_success=now,
        last_changed=now if changed else base.last_changed,
        content_hash=digest,
        last_error=None,
        consecutive_failures=0,
        # The server's current validators, even when absent: stale ones would be sent back.
        etag=outcome.etag,
        last_modified=outcome.last_modified,
    )


def api_query_url(api_base: str, ids: list[str]) -> str:
    """The arXiv API URL that returns exactly `ids` (e.g. DEFAULT_API_BASE for api_base)."""
    if not ids:
        raise IdentifierError("", "api_query_url needs at least one arXiv id")
    for arxiv_id in ids:
        if not arxiv_id or "," in arxiv_id or arxiv_id != arxiv_id.strip():
            raise IdentifierError(arxiv_id, "not usable in an id_list")
    query = urlencode(
        {"id_list": ",".join(ids), "max_results": len(ids)},
        safe=",/",  # readable and accepted by arXiv: old-style ids have a slash
        quote_via=quote,
    )
    return f"{api_base.rstrip('/')}/query?{query}"


def _seconds(value: float) -> str:
    """A deadline as a person set it: 12, not 11.9996 (what is left of it when measured)."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def _undecodable(exc: aiohttp.ClientPayloadError) -> bool:
    """A body whose Content-Encoding (gzip, deflate, br) cannot be decoded: corrupt data."""
    return "decode" in str(exc).lower() or "compress" in str(exc).lower()


def _protocol(exc: aiohttp.ClientResponseError) -> str:
    """aiohttp's parser message without its internals: "Bad status line 'FOO'"."""
    text = " ".join(str(exc.message or "").split()) or type(exc).__name__
    text = text.split(", message=", 1)[-1].strip("'\"")
    return text[:120]
