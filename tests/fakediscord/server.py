"""A Discord-compatible REST (v10) and gateway (v10) server on loopback, for driving discord.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

from tests.loopback import RouteMatcher

from . import permissions as perm
from .behaviours import (
    Delay,
    DelayPhase,
    InjectedFailure,
    RateLimiter,
    RateLimitRule,
    error_body,
    too_many_requests_body,
    too_many_requests_headers,
)
from .models import (
    BOT_PERMISSIONS,
    CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    Attachment,
    Channel,
    Member,
    Message,
    Role,
    SnowflakeGenerator,
    User,
    parse_emoji,
    utc_now_iso,
)
from .permissions import DEFAULT_EVERYONE_PERMISSIONS, Overwrite, OverwriteKind

API_PREFIX = "/api/v10"
# Reading a message (or its reactions) needs the channel and its history.
_READ = perm.VIEW_CHANNEL | perm.READ_MESSAGE_HISTORY
JSON_HEADERS = {"Content-Type": "application/json"}
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
HISTORY_LIMIT = 2000

# Gateway opcodes.
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Interaction and callback types.
INTERACTION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9

# Application-command option types that carry a value (everything but subcommands).
OPTION_SUBCOMMAND = 1
OPTION_SUBCOMMAND_GROUP = 2
OPTION_USER = 6
OPTION_CHANNEL = 7
OPTION_ROLE = 8
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

# Embed limits Discord enforces (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_LIMITS = {"title": 256, "description": 4096, "footer.text": 2048, "author.name": 256}
EMBED_TOTAL = 6000


class DiscordError(Exception):
    """An error answered the way Discord does: status, JSON code and message."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def _invalid_form(field_path: str, message: str, code: str = "BASE_TYPE_INVALID") -> DiscordError:
    errors: dict[str, Any] = {}
    node = errors
    for part in field_path.split("."):
        node = node.setdefault(part, {})
    node["_errors"] = [{"code": code, "message": message}]
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def _json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # discord.py only decodes JSON when Content-Type is exactly "application/json";
    # aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={**JSON_HEADERS, **(headers or {})}
    )


@dataclass
class RecordedRequest:
    """One REST call as the server saw it; `path` is relative to /api/v10."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[str] = field(default_factory=list)
    authorized: bool = True
    status: int = 0
    # The route template ("/channels/{channel_id}/messages"); "" for an unknown route.
    route: str = ""
    # Refused by a rate-limit bucket (not by an injected 429).
    rate_limited: bool = False
    # Held by a `delay_route` delay before being answered.
    delayed: bool = False


@dataclass
class GatewaySession:
    """A gateway session: survives a dropped socket so that the client can RESUME."""

    id: str
    intents: int
    shard: list[int] | None
    connection: _GatewayConnection | None
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    presence: dict[str, Any] | None = None
    identified_at: float = field(default_factory=time.monotonic)

    def wants(self, intent: int | None) -> bool:
        return intent is None or bool(self.intents & intent)


class _GatewayConnection:
    """One websocket; zlib-stream compressed when the client asks for it."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self.session: GatewaySession | None = None
        self.dropped_by_server = False
        self._zlib = zlib.compressobj() if zlib_stream else None
        # One lock per socket so compressed frames go out in the order they were compressed.
        self._lock = asyncio.Lock()

    async def send(self, *payloads: dict[str, Any]) -> bool:
        async with self._lock:
            for payload in payloads:
                if self.ws.closed:
                    return False
                text = json.dumps(payload)
                try:
                    if self._zlib is not None:
                        frame = self._zlib.compress(text.encode()) + self._zlib.flush(
                            zlib.Z_SYNC_FLUSH
                        )
                        await self.ws.send_bytes(frame)
                    else:
                        await self.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    return False
        return True


@dataclass
class InteractionRecord:
    """An interaction the server sent to the bot, and everything the bot answered.

    `responses` holds callback bodies ({"type", "data"}); `followups` the messages created
    through the interaction webhook; `edits` the bodies PATCHed onto the original response
    or a followup (each with a "message_id" key added).
    """

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    server: FakeDiscord
    created: float = field(default_factory=time.monotonic)
    responses: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    # When the first callback was accepted (time.monotonic()), None while unacknowledged.
    acknowledged_at: float | None = None
    # Callbacks refused with 10062 because they came after the deadline.
    late_callbacks: int = 0
    # The deadline in force when the interaction was sent (None: no deadline).
    deadline: float | None = 3.0

    @property
    def latency(self) -> float | None:
        """Seconds from sending the interaction to its acknowledgement (None: never acked)."""
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.created

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def did_not_respond(self) -> bool:
        """Whether the user sees "The application did not respond": no callback in time."""
        if self.deadline is None:
            return False
        if self.acknowledged_at is not None:
            return self.acknowledged_at - self.created > self.deadline
        return time.monotonic() - self.created > self.deadline

    async def wait_settled(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109
        """Wait until the interaction is acknowledged or its deadline has passed.

        Returns `did_not_respond`. Without a deadline this waits for the acknowledgement.
        """
        if self.deadline is not None:
            timeout = min(timeout, max(0.0, self.created + self.deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await self.server.wait_for(lambda: self.acknowledged, timeout=timeout)
        if self.deadline is not None and not self.acknowledged:
            # Let the deadline actually pass (wait_for may wake a hair early).
            await asyncio.sleep(max(0.0, self.created + self.deadline - time.monotonic()) + 0.001)
        return self.did_not_respond

    @property
    def response(self) -> dict[str, Any] | None:
        return self.responses[0] if self.responses else None

    @property
    def response_type(self) -> int | None:
        return self.responses[0]["type"] if self.responses else None

    @property
    def ephemeral(self) -> bool:
        data = (self.response or {}).get("data") or {}
        return bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices offered by the bot."""
        if self.response_type != CALLBACK_AUTOCOMPLETE:
            return []
        return list(((self.response or {}).get("data") or {}).get("choices") or [])

    @property
    def original(self) -> dict[str, Any] | None:
        """The original response message as it stands now (after edits)."""
        if self.original_message_id is None:
            return None
        return self.server.message_by_id(self.original_message_id)

    def messages(self) -> list[dict[str, Any]]:
        """The original response and the followups, as they stand now."""
        ids = [self.original_message_id, *self.followup_ids]
        return [self.server.message_by_id(m) for m in dict.fromkeys(ids) if m is not None]

    def texts(self) -> list[str]:
        """Every content string and embed title/description shown to the user, in order."""
        out: list[str] = []
        for message in self.messages():
            if message["content"]:
                out.append(message["content"])
            for embed in message["embeds"]:
                out.extend(str(embed[key]) for key in ("title", "description") if embed.get(key))
        return out

    async def wait_response(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The first callback body, once the bot has sent it."""
        await self.server.wait_for(lambda: self.responses, timeout=timeout)
        return self.responses[0]

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        await self.server.wait_for(lambda: len(self.followups) >= count, timeout=timeout)
        return self.followups

    async def wait_for(
        self,
        predicate: Callable[[InteractionRecord], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Any:
        return await self.server.wait_for(lambda: predicate(self), timeout=timeout)


Snowflake = str | int  # ids as tests hold them: strings from payloads, ints from discord.py
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Q = TypeVar("_Q", InjectedFailure, Delay)
UploadedFile = tuple[str, str, str | None, bytes]  # (form field, filename, content type, bytes)
BODY_KEY: web.RequestKey[Any] = web.RequestKey("fakediscord_body", object)
FILES_KEY: web.RequestKey[list[UploadedFile]] = web.RequestKey("fakediscord_files", list)


class FakeDiscord:
    """One guild, one bot application, and the REST + gateway surface discord.py uses.

    State (messages, reactions, commands, members) lives for the server's lifetime, so a
    bot can disconnect and a new client can connect and see what happened meanwhile.
    Discord's costlier behaviours are off until a test switches them on: rate-limit
    buckets (`enable_rate_limits`), held replies (`delay_route`), errors
    (`inject_failure`), permission checks (`enforce_permissions`); README.md lists them.
    """

    def __init__(
        self,
        *,
        guild_name: str = "Test Guild",
        channel_names: Sequence[str] = ("papers", "admin"),
        role_names: Sequence[str] = ("curator",),
        bot_name: str = "paperbot",
        privileged_intents: Iterable[str] = (),
        interaction_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41250,
        rate_limits: bool = False,
        enforce_permissions: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        unknown = set(privileged_intents) - PRIVILEGED_INTENTS.keys()
        if unknown:
            raise ValueError(f"unknown privileged intents: {sorted(unknown)}")
        self._ids = SnowflakeGenerator()
        self.host = host
        self.port = port
        self.interaction_deadline = interaction_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged = 0
        for name in privileged_intents:
            self.allowed_privileged |= PRIVILEGED_INTENTS[name]

        self.token = (
            f"{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(6)}.{secrets.token_urlsafe(27)}"
        )
        self.application_id = self._ids.next()
        # A bot user's id equals its application's id on Discord.
        self.bot_user_id = self.application_id
        self.guild_id = self._ids.next()
        self.guild_name = guild_name

        self._users: dict[str, User] = {}
        self._members: dict[str, Member] = {}
        self._roles: dict[str, Role] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, Message] = {}
        self._channel_messages: dict[str, list[str]] = {}
        self._blobs: dict[str, Attachment] = {}
        self._commands: dict[str | None, list[dict[str, Any]]] = {}
        self._interactions: dict[str, InteractionRecord] = {}
        self._interactions_by_token: dict[str, InteractionRecord] = {}
        self._sessions: dict[str, GatewaySession] = {}
        self._connections: set[_GatewayConnection] = set()
        self._failures: list[InjectedFailure] = []
        self._delays: list[Delay] = []
        self.rate_limiter = RateLimiter()
        self.rate_limiter.enabled = rate_limits
        # Off by default: routes then answer whatever the bot's permissions are.
        self.enforce_permissions = enforce_permissions
        # False: the bot was invited without the applications.commands scope.
        self.application_commands_scope = True
        self.route_counts: Counter[str] = Counter()
        # Cleared while `client_away` keeps the bot off the gateway.
        self._gateway_open = asyncio.Event()
        self._gateway_open.set()
        self.replayed: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.gateway_log: list[tuple[str, int, Any]] = []
        self.dispatched: list[tuple[str, dict[str, Any]]] = []
        self.identify_count = 0
        self.resume_count = 0

        self.role_ids: dict[str, str] = {}
        self._roles[self.guild_id] = Role(
            self.guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, position=0
        )
        for position, name in enumerate(role_names, start=1):
            role = Role(self._ids.next(), name, DEFAULT_EVERYONE_PERMISSIONS, position)
            self._roles[role.id] = role
            self.role_ids[name] = role.id
        bot_role = Role(
            self._ids.next(), bot_name, BOT_PERMISSIONS, len(role_names) + 1, True, self.bot_user_id
        )
        self._roles[bot_role.id] = bot_role
        self.bot_role_id = bot_role.id

        self.channel_ids: dict[str, str] = {}
        for position, name in enumerate(channel_names):
            channel = Channel(self._ids.next(), self.guild_id, name, CHANNEL_TEXT, position)
            self._channels[channel.id] = channel
            self._channel_messages[channel.id] = []
            self.channel_ids[name] = channel.id

        self._users[self.bot_user_id] = User(self.bot_user_id, bot_name, bot=True)
        self._members[self.bot_user_id] = Member(self._users[self.bot_user_id], [bot_role.id])
        self.owner_user_id = self._new_user("owner")

        self._app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        self._add_routes()
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # With port 0 the OS picked a free port; read it back.
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._gateway_open.set()
        self.cancel_delays()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment for a bot process pointed at this server."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # ------------------------------------------------------------ state for tests

    def _notify(self) -> None:
        # Wake every waiter; each re-checks its own predicate.
        self._changed.set()
        self._changed = asyncio.Event()

    # A `timeout` argument (as in asyncio.wait_for) keeps test code flat, hence the noqa.
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked on every state change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    @property
    def connected(self) -> bool:
        """Whether some bot session has a live, identified gateway socket."""
        return any(
            s.connection is not None and not s.connection.ws.closed for s in self._sessions.values()
        )

    @property
    def sessions(self) -> list[GatewaySession]:
        return list(self._sessions.values())

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded REST calls, filtered by method and a regex the whole path must match."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or re.fullmatch(path, r.path))
        ]

    def dispatched_events(self, event: str) -> list[dict[str, Any]]:
        """The data of every `event` dispatched so far (as a session with all intents sees it)."""
        return [data for name, data in self.dispatched if name == event]

    def registered_commands(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        return list(self._commands.get(guild_id, []))

    def user(self, user_id: Snowflake) -> dict[str, Any]:
        return self._users[str(user_id)].payload()

    def member(self, user_id: Snowflake) -> dict[str, Any]:
        return self._members[str(user_id)].payload()

    def channel(self, channel_id: Snowflake) -> dict[str, Any]:
        return self._channels[str(channel_id)].payload()

    def threads(self) -> list[dict[str, Any]]:
        return [c.payload() for c in self._channels.values() if c.is_thread]

    def messages(
        self, channel_id: Snowflake, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Messages in a channel or thread, oldest first, as the bot would fetch them.

        Each dict also carries "allowed_mentions" (what the sender asked for, None if absent)
        and "deleted".
        """
        stored = (self._messages[m] for m in self._channel_messages[str(channel_id)])
        return [self._describe(m) for m in stored if include_deleted or not m.deleted]

    def message(self, channel_id: Snowflake, message_id: Snowflake) -> dict[str, Any]:
        msg = self._messages[str(message_id)]
        if msg.channel_id != str(channel_id):
            raise KeyError(message_id)
        return self._describe(msg)

    def message_by_id(self, message_id: Snowflake) -> dict[str, Any]:
        """Any message, ephemeral or deleted included (see the "deleted" key)."""
        return self._describe(self._messages[str(message_id)])

    def reactors(self, message_id: Snowflake, emoji: str) -> list[str]:
        key, _ = parse_emoji(emoji)
        return list(self._messages[str(message_id)].reactions.get(key, []))

    def attachment_bytes(self, attachment_id: Snowflake) -> bytes:
        return self._blobs[str(attachment_id)].data

    def _describe(self, msg: Message) -> dict[str, Any]:
        data = self._render_message(msg)
        data["allowed_mentions"] = msg.allowed_mentions
        data["deleted"] = msg.deleted
        return data

    # ------------------------------------------------ per-test REST behaviours

    @property
    def route_templates(self) -> list[str]:
        """Every route the server implements, as "METHOD /template" (relative to /api/v10)."""
        return sorted(self._route_keys)

    def _matcher(self, method: str, path: str) -> RouteMatcher:
        templates = {key.split(" ", 1)[1] for key in self._route_keys}
        if re.search(r"\{[a-z_]+\}", path) and path not in templates:
            # A mistyped template would otherwise be a regex that silently matches nothing.
            raise ValueError(f"no route template {path!r}; known routes: {self.route_templates}")
        return RouteMatcher(method, path, templates)

    def inject_failure(
        self,
        method: str,
        path: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        body: dict[str, Any] | None = None,
        code: int | None = None,
        message: str | None = None,
    ) -> InjectedFailure:
        """Answer the next `times` calls of a route with an error instead of handling them.

        `path` is a route template ("/channels/{channel_id}/messages", see
        `route_templates`) or a regex the whole concrete path must match. Errors carry
        Discord's JSON body (403 → 50001 Missing Access, 404 → 10008 Unknown Message,
        500 → code 0; `code`/`message` override it, `body` replaces it). 429s carry
        Discord's headers, the `Via` header discord.py checks to tell a Discord rate limit
        from a Cloudflare ban among them, and a JSON `retry_after`.
        """
        if status == 429:
            default = too_many_requests_body(retry_after, is_global=is_global)
        else:
            default = error_body(status, code, message)
        failure = InjectedFailure(
            self._matcher(method, path),
            status,
            times,
            retry_after,
            is_global,
            body if body is not None else default,
        )
        self._failures.append(failure)
        return failure

    def delay_route(
        self,
        method: str,
        path: str,
        seconds: float | None = 2.0,
        *,
        times: int | None = None,
        phase: DelayPhase = "reply",
    ) -> Delay:
        """Hold the next `times` matching requests (every one with None) for `seconds`.

        `path` is a template or a regex, as for `inject_failure`. With phase "reply" the
        handler runs at once and its answer is sent late; with "request" the request waits
        before it is handled. `await delay.wait_arrived()` returns once a request is being
        held, so a test can act "while the reply is on its way"; `delay.release()` ends
        the holds early (and is the only end with `seconds=None`).
        """
        delay = Delay(self._matcher(method, path), seconds, times, phase)
        self._delays.append(delay)
        return delay

    def cancel_delays(self) -> None:
        """Release and forget every delay."""
        for delay in self._delays:
            delay.release()
        self._delays.clear()

    def enable_rate_limits(self, enabled: bool = True) -> None:
        """Switch the per-route buckets on (Discord's figures, see `set_rate_limit`) or off."""
        self.rate_limiter.enabled = enabled
        if not enabled:
            self.rate_limiter.reset()

    def set_rate_limit(
        self,
        method: str,
        template: str,
        limit: int | None,
        per: float = 1.0,
        *,
        bucket: str | None = None,
    ) -> None:
        """Give a route its own bucket of `limit` requests per `per` seconds (None: unlimited).

        Routes given the same `bucket` name share one counter per major parameter (channel,
        guild or webhook). Takes effect once rate limits are enabled.
        """
        key = f"{method.upper()} {template}"
        if key not in self._route_keys:
            raise ValueError(f"no route {key!r}; known routes: {self.route_templates}")
        if limit is None:
            self.rate_limiter.rules.pop(key, None)
        else:
            self.rate_limiter.rules[key] = RateLimitRule(bucket or key, limit, per)
        self.rate_limiter.reset()

    @property
    def rate_limit_hits(self) -> int:
        """How many 429s the server has answered (buckets and injected ones alike)."""
        return sum(1 for r in self.requests if r.status == 429)

    def route_calls(self, method: str, template: str) -> list[RecordedRequest]:
        """Recorded calls of one route template, e.g. ("PATCH", "/channels/{channel_id}/messages/{message_id}")."""
        return [r for r in self.requests if r.method == method.upper() and r.route == template]

    # ----------------------------------------------------------- users & members

    def _new_user(self, name: str, *, bot: bool = False, roles: Iterable[str] = ()) -> str:
        user = User(self._ids.next(), name, bot=bot)
        self._users[user.id] = user
        self._members[user.id] = Member(user, [self._role_id(r) for r in roles])
        return user.id

    def _role_id(self, role: str) -> str:
        if role in self.role_ids:
            return self.role_ids[role]
        if role in self._roles:
            return role
        raise KeyError(f"unknown role {role!r}")

    def add_member(self, name: str, roles: Iterable[str] = ()) -> str:
        """Create a user who is a member of the guild; returns the user id.

        Connected sessions with the GUILD_MEMBERS intent get GUILD_MEMBER_ADD (scheduled on
        the running loop, so this stays callable from synchronous test code).
        """
        user_id = self._new_user(name, roles=roles)
        event = {"guild_id": self.guild_id, **self._members[user_id].payload()}
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(
                self._dispatch("GUILD_MEMBER_ADD", event, intent=INTENT_GUILD_MEMBERS)
            )
            # Hold a reference until done: the loop keeps only weak ones.
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._notify()
        return user_id

    def add_user(self, name: str) -> str:
        """A user who is not in the guild (e.g. someone who left)."""
        user = User(self._ids.next(), name)
        self._users[user.id] = user
        return user.id

    def _member_permissions(self, user_id: str) -> int:
        """Guild-level permissions of a member (@everyone, roles, owner, administrator)."""
        member = self._members[user_id]
        return perm.base_permissions(
            self._roles[self.guild_id].permissions,
            (self._roles[r].permissions for r in member.roles if r in self._roles),
            owner=user_id == self.owner_user_id,
        )

    def _channel_permissions(self, channel: Channel, user_id: str) -> int:
        # Threads have no overwrites of their own: they take their parent channel's.
        if channel.is_thread and channel.parent_id in self._channels:
            channel = self._channels[channel.parent_id]
        if user_id not in self._members:
            return 0
        return perm.channel_permissions(
            self._member_permissions(user_id),
            channel.overwrites,
            guild_id=self.guild_id,
            member_id=user_id,
            member_roles=self._members[user_id].roles,
        )

    def channel_permissions(self, channel_id: Snowflake, user_id: Snowflake | None = None) -> int:
        """A member's permissions in a channel (the bot's by default), computed like Discord."""
        channel = self._require_channel(str(channel_id))
        return self._channel_permissions(channel, str(user_id or self.bot_user_id))

    def _require_permissions(
        self, channel: Channel, needed: int = 0, *, access: int = perm.VIEW_CHANNEL
    ) -> None:
        """With `enforce_permissions`: 403 Missing Access (50001) without `access` (the channel
        cannot be seen or read), 403 Missing Permissions (50013) without `needed`."""
        if not self.enforce_permissions:
            return
        have = self._channel_permissions(channel, self.bot_user_id)
        if access & ~have:
            raise DiscordError(403, 50001, "Missing Access")
        if needed & ~have:
            raise DiscordError(403, 50013, "Missing Permissions")

    def _overwrite_target(self, target: Snowflake, kind: OverwriteKind | None) -> Overwrite:
        text = str(target)
        if kind != "member":
            if text == "@everyone":
                return Overwrite(self.guild_id, "role")
            if text in self.role_ids:
                return Overwrite(self.role_ids[text], "role")
            if text in self._roles:
                return Overwrite(text, "role")
        if kind != "role" and text in self._users:
            return Overwrite(text, "member")
        raise KeyError(f"no {kind or 'role or member'} {target!r}")

    async def set_channel_overwrite(
        self,
        channel_id: Snowflake,
        target: Snowflake,
        *,
        allow: int = 0,
        deny: int = 0,
        kind: OverwriteKind | None = None,
    ) -> None:
        """Set the channel's overwrite for a role ("@everyone", a role name or id) or a member.

        Replaces any previous overwrite for that target; connected sessions get
        CHANNEL_UPDATE, so discord.py's `permissions_for` follows.
        """
        channel = self._require_channel(str(channel_id))
        overwrite = self._overwrite_target(target, kind)
        overwrite.allow, overwrite.deny = allow, deny
        channel.overwrites = [
            o for o in channel.overwrites if (o.kind, o.id) != (overwrite.kind, overwrite.id)
        ]
        channel.overwrites.append(overwrite)
        await self._dispatch(
            "CHANNEL_UPDATE", {**channel.payload(), "guild_id": self.guild_id}, intent=INTENT_GUILDS
        )

    async def clear_channel_overwrites(self, channel_id: Snowflake) -> None:
        channel = self._require_channel(str(channel_id))
        channel.overwrites = []
        await self._dispatch(
            "CHANNEL_UPDATE", {**channel.payload(), "guild_id": self.guild_id}, intent=INTENT_GUILDS
        )

    async def set_role_permissions(self, role: str, permissions: int) -> None:
        """Set a role's guild permissions ("@everyone", a role name or id); sends GUILD_ROLE_UPDATE."""
        role_id = self.guild_id if role == "@everyone" else self._role_id(role)
        self._roles[role_id].permissions = permissions
        await self._dispatch(
            "GUILD_ROLE_UPDATE",
            {"guild_id": self.guild_id, "role": self._roles[role_id].payload()},
            intent=INTENT_GUILDS,
        )

    async def set_member_roles(self, user_id: Snowflake, roles: Iterable[str]) -> None:
        """Replace a member's roles (names or ids); sends GUILD_MEMBER_UPDATE."""
        member = self._members[str(user_id)]
        member.roles = [self._role_id(r) for r in roles]
        await self._dispatch(
            "GUILD_MEMBER_UPDATE",
            {"guild_id": self.guild_id, **member.payload()},
            intent=INTENT_GUILD_MEMBERS,
        )

    async def remove_member(self, user_id: Snowflake) -> None:
        """The user leaves the guild (stays a user); sends GUILD_MEMBER_REMOVE."""
        member = self._members.pop(str(user_id))
        await self._dispatch(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": self.guild_id, "user": member.user.payload()},
            intent=INTENT_GUILD_MEMBERS,
        )

    # ------------------------------------------------------------------ payloads

    def _guild_payload(
        self, *, with_members: bool = False, full_member_list: bool = False
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.guild_id,
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": self.owner_user_id,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self._roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }
        if with_members:
            members = (
                list(self._members.values())
                if full_member_list
                else [self._members[self.bot_user_id]]
            )
            data.update(
                joined_at=self._members[self.bot_user_id].joined_at,
                large=False,
                unavailable=False,
                member_count=len(self._members),
                members=[m.payload() for m in members],
                channels=[c.payload() for c in self._channels.values() if not c.is_thread],
                threads=[
                    c.payload() for c in self._channels.values() if c.is_thread and not c.archived
                ],
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data

    def _render_message(
        self, msg: Message, *, viewer_id: str | None = None, gateway: bool = False
    ) -> dict[str, Any]:
        viewer = viewer_id or self.bot_user_id
        author = self._users[msg.author_id]
        data: dict[str, Any] = {
            "id": msg.id,
            "channel_id": msg.channel_id,
            "author": author.payload(),
            "content": msg.content,
            "timestamp": msg.timestamp,
            "edited_timestamp": msg.edited_timestamp,
            "tts": msg.tts,
            "mention_everyone": msg.mention_everyone,
            "mentions": [self._mention_payload(u, gateway) for u in msg.mentions],
            "mention_roles": list(msg.mention_roles),
            "attachments": [a.payload() for a in msg.attachments],
            "embeds": [dict(e) for e in msg.embeds],
            "reactions": [
                {
                    "emoji": dict(msg.reaction_emoji[key]),
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": viewer in users,
                    "me_burst": False,
                    "burst_colors": [],
                }
                for key, users in msg.reactions.items()
                if users
            ],
            "pinned": msg.pinned,
            "type": msg.type,
            "flags": msg.flags,
            "components": json.loads(json.dumps(msg.components)),
        }
        if msg.guild_id is not None:
            data["guild_id"] = msg.guild_id
            if gateway and msg.webhook_id is None and msg.author_id in self._members:
                data["member"] = self._members[msg.author_id].partial_payload()
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            data["webhook_id"] = msg.webhook_id
        if msg.application_id is not None:
            data["application_id"] = msg.application_id
        if msg.interaction_metadata is not None:
            data["interaction_metadata"] = dict(msg.interaction_metadata)
        if msg.message_reference is not None:
            data["message_reference"] = dict(msg.message_reference)
            ref = self._messages.get(str(msg.message_reference.get("message_id")))
            data["referenced_message"] = (
                self._render_message(ref, viewer_id=viewer) if ref and not ref.deleted else None
            )
        if msg.thread_id is not None and msg.thread_id in self._channels:
            data["thread"] = self._channels[msg.thread_id].payload()
        return data

    def _mention_payload(self, user_id: str, gateway: bool) -> dict[str, Any]:
        data = self._users[user_id].payload()
        if gateway and user_id in self._members:
            data["member"] = self._members[user_id].partial_payload()
        return data

    def _message_event(self, msg: Message) -> Callable[[GatewaySession], dict[str, Any]]:
        """MESSAGE_CREATE/UPDATE data as each session may see it.

        Without the privileged MESSAGE_CONTENT intent Discord blanks content, embeds,
        attachments and components, except on the bot's own messages and ones mentioning it.
        """

        def build(session: GatewaySession) -> dict[str, Any]:
            data = self._render_message(msg, gateway=True)
            exempt = msg.author_id == self.bot_user_id or self.bot_user_id in msg.mentions
            if not session.wants(INTENT_MESSAGE_CONTENT) and not exempt:
                data.update(content="", embeds=[], attachments=[], components=[])
            return data

        return build

    # ------------------------------------------------------------------ gateway

    async def _dispatch(
        self,
        event: str,
        data: dict[str, Any] | Callable[[GatewaySession], dict[str, Any]],
        *,
        intent: int | None = None,
        sessions: Iterable[GatewaySession] | None = None,
    ) -> None:
        targets = list(self._sessions.values()) if sessions is None else list(sessions)
        self.dispatched.append((event, data if isinstance(data, dict) else data(_FULL_VIEW)))
        for session in targets:
            if not session.wants(intent):
                continue
            payload = {
                "op": OP_DISPATCH,
                "t": event,
                "s": session.seq + 1,
                "d": data(session) if callable(data) else data,
            }
            session.seq += 1
            session.history.append(payload)
            del session.history[:-HISTORY_LIMIT]
            if session.connection is not None:
                await session.connection.send(payload)
        self._notify()

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _GatewayConnection(ws, zlib_stream=request.query.get("compress") == "zlib-stream")
        self._connections.add(conn)
        self.gateway_log.append(("connect", -1, dict(request.query)))
        try:
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Error while decoding payload.")
                return ws
            # While `client_away` lasts the socket opens but HELLO waits, so the client
            # neither identifies nor resumes until the test lets it back.
            await self._gateway_open.wait()
            await conn.send(
                {
                    "op": OP_HELLO,
                    "s": None,
                    "t": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-gateway"],
                    },
                }
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._gateway_op(conn, payload)
        finally:
            self._connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                # Closing with 1000/1001 ends a session on Discord; anything else may resume.
                if ws.close_code in (1000, 1001) and not conn.dropped_by_server:
                    self._sessions.pop(session.id, None)
            self.gateway_log.append(("disconnect", ws.close_code or 0, None))
            self._notify()
        return ws

    async def _gateway_op(self, conn: _GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        self.gateway_log.append(("op", int(op) if isinstance(op, int) else -1, data))
        if op == OP_HEARTBEAT:
            await conn.send({"op": OP_HEARTBEAT_ACK, "s": None, "t": None, "d": None})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
        elif op == OP_PRESENCE_UPDATE:
            conn.session.presence = data
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._request_members(conn.session, data or {})
        elif op not in (4, 31):  # voice state and soundboard requests need no answer here
            await conn.ws.close(code=4001, message=b"Unknown opcode.")
        self._notify()

    async def _identify(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        privileged = sum(PRIVILEGED_INTENTS.values())
        if intents & privileged & ~self.allowed_privileged:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identify_count += 1
        session = GatewaySession(
            id=secrets.token_hex(16), intents=intents, shard=data.get("shard"), connection=conn
        )
        conn.session = session
        ready = {
            "v": 10,
            "user": {
                **self._users[self.bot_user_id].payload(),
                "verified": True,
                "mfa_enabled": False,
            },
            "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": self.application_id, "flags": 0},
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        guild = self._guild_payload(
            with_members=True, full_member_list=session.wants(INTENT_GUILD_PRESENCES)
        )
        frames = [self._sequenced(session, "READY", ready)]
        if session.wants(INTENT_GUILDS):
            frames.append(self._sequenced(session, "GUILD_CREATE", guild))
        # Registered before sending so no event dispatched meanwhile can be lost; the
        # connection's send lock keeps READY ahead of them on the wire.
        self._sessions[session.id] = session
        await conn.send(*frames)

    def _sequenced(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        session.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.history.append(payload)
        return payload

    async def _resume(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session is None:
            await conn.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
            return
        stale = session.connection
        if stale is not None:
            # The client may resume before the server has noticed its old socket died.
            stale.dropped_by_server = True
            await stale.ws.close(code=4000)
        self.resume_count += 1
        conn.session = session
        session.connection = conn
        last_seen = int(data.get("seq") or 0)
        missed = [p for p in session.history if p["s"] > last_seen]
        self.replayed.extend(str(p["t"]) for p in missed)
        resumed = self._sequenced(session, "RESUMED", {"_trace": ["fake-gateway"]})
        await conn.send(*missed, resumed)

    async def _request_members(self, session: GatewaySession, data: dict[str, Any]) -> None:
        if not session.wants(INTENT_GUILD_MEMBERS) and not data.get("user_ids"):
            if session.connection is not None:
                await session.connection.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        wanted = {str(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            m.payload()
            for m in self._members.values()
            if (not wanted or m.user.id in wanted) and m.user.username.lower().startswith(query)
        ]
        chunk: dict[str, Any] = {
            "guild_id": self.guild_id,
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch("GUILD_MEMBERS_CHUNK", chunk, sessions=[session])

    async def drop_connections(self, *, resumable: bool = True) -> None:
        """Close every gateway socket as a network blip would (code 4000, so clients retry).

        With `resumable=False` the sessions are also forgotten: a RESUME gets INVALID_SESSION
        and the client has to IDENTIFY again.
        """
        conns = list(self._connections)
        for conn in conns:
            conn.dropped_by_server = True
        if not resumable:
            self._sessions.clear()
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=4000, message=b"Unknown error.")
        self._notify()

    async def send_reconnect(self) -> None:
        """Ask every connected client to reconnect and resume (op 7)."""
        for conn in list(self._connections):
            conn.dropped_by_server = True
            await conn.send({"op": OP_RECONNECT, "s": None, "t": None, "d": None})

    async def send_invalid_session(self, *, resumable: bool = False) -> None:
        """Op 9 to every connected client: resume (`resumable`) or identify afresh.

        A non-resumable invalid session forgets the sessions, so the events they had
        buffered are lost, as on Discord. (discord.py waits 5 s before a non-initial
        IDENTIFY unless its `before_identify_hook` is overridden.)
        """
        for conn in list(self._connections):
            conn.dropped_by_server = True
            if not resumable and conn.session is not None:
                self._sessions.pop(conn.session.id, None)
            await conn.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": resumable})
        self._notify()

    @contextlib.asynccontextmanager
    async def client_away(self, *, resumable: bool = True) -> AsyncIterator[None]:
        """Keep the bot off the gateway for the body of the block.

        Drops every socket (as `drop_connections`) and holds reconnecting clients before
        HELLO until the block ends. Events dispatched meanwhile (e.g. `user_add_reaction`)
        are buffered in the session and replayed on RESUME; with `resumable=False` the
        session is forgotten, the client must IDENTIFY, and those events are lost.
        """
        self._gateway_open.clear()
        try:
            await self.drop_connections(resumable=resumable)
            await self.wait_for(lambda: not self.connected)
            yield
        finally:
            self._gateway_open.set()

    # ----------------------------------------------------------- simulated users

    async def user_post_message(
        self,
        channel_id: Snowflake,
        user_id: Snowflake,
        content: str,
        *,
        embeds: Sequence[dict[str, Any]] = (),
        reply_to: Snowflake | None = None,
    ) -> dict[str, Any]:
        """A human posts a message; the bot gets MESSAGE_CREATE. Returns the message."""
        channel = self._require_channel(str(channel_id))
        body: dict[str, Any] = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to), "channel_id": channel.id}
        msg = await self._create_message(channel, str(user_id), body, [])
        return self._render_message(msg)

    async def user_add_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str
    ) -> None:
        """A human reacts. Stored even with no bot connected (then no one is told)."""
        msg = self._require_message(str(channel_id), str(message_id))
        await self._add_reaction(msg, str(user_id), emoji)

    async def user_remove_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str
    ) -> None:
        msg = self._require_message(str(channel_id), str(message_id))
        await self._remove_reaction(msg, str(user_id), emoji)

    async def _add_reaction(self, msg: Message, user_id: str, raw_emoji: str) -> bool:
        key, emoji = parse_emoji(raw_emoji)
        if emoji["id"] is not None or raw_emoji.isascii():
            # The guild has no custom emoji, and ASCII text is never a Unicode emoji.
            raise DiscordError(400, 10014, "Unknown Emoji")
        users = msg.reactions.setdefault(key, [])
        msg.reaction_emoji.setdefault(key, emoji)
        if user_id in users:
            return False
        users.append(user_id)
        event: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": msg.channel_id,
            "message_id": msg.id,
            "guild_id": msg.guild_id,
            "emoji": emoji,
            "burst": False,
            "burst_colors": [],
            "type": 0,
            "message_author_id": msg.author_id,
        }
        if user_id in self._members:
            event["member"] = self._members[user_id].payload()
        await self._dispatch("MESSAGE_REACTION_ADD", event, intent=INTENT_GUILD_MESSAGE_REACTIONS)
        return True

    async def _remove_reaction(self, msg: Message, user_id: str, raw_emoji: str) -> bool:
        key, emoji = parse_emoji(raw_emoji)
        users = msg.reactions.get(key, [])
        if user_id not in users:
            return False
        users.remove(user_id)
        if not users:
            msg.reactions.pop(key, None)
            msg.reaction_emoji.pop(key, None)
        event = {
            "user_id": user_id,
            "channel_id": msg.channel_id,
            "message_id": msg.id,
            "guild_id": msg.guild_id,
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        await self._dispatch(
            "MESSAGE_REACTION_REMOVE", event, intent=INTENT_GUILD_MESSAGE_REACTIONS
        )
        return True

    # --------------------------------------------------------------- interactions

    def _interaction_target(self) -> GatewaySession:
        live = [s for s in self._sessions.values() if s.connection is not None]
        if not live:
            raise RuntimeError("no bot is connected to receive the interaction")
        # Discord delivers an interaction once; pick the newest session.
        return max(live, key=lambda s: s.identified_at)

    def _find_command(self, name: str) -> tuple[dict[str, Any], str | None]:
        for scope in (self.guild_id, None):
            for command in self._commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        raise LookupError(f"command /{name} is not registered (did the bot sync its tree?)")

    def _build_options(
        self,
        command: dict[str, Any],
        path: list[str],
        values: Mapping[str, Any],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        """Nest typed options under the subcommand path, using the registered schema."""
        schema = command.get("options") or []
        if path:
            for option in schema:
                if option["name"] == path[0] and option["type"] in (
                    OPTION_SUBCOMMAND,
                    OPTION_SUBCOMMAND_GROUP,
                ):
                    inner = self._build_options(option, path[1:], values, focused)
                    return [{"type": option["type"], "name": option["name"], "options": inner}]
            raise LookupError(f"no subcommand {path[0]!r} under {command['name']!r}")
        by_name = {o["name"]: o for o in schema}
        out = []
        for name, value in values.items():
            if name not in by_name:
                raise LookupError(f"no option {name!r} on {command['name']!r}")
            option = {"type": by_name[name]["type"], "name": name, "value": value}
            if name == focused:
                option["focused"] = True
            out.append(option)
        return out

    def _resolved(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        resolved: dict[str, dict[str, Any]] = {}
        stack = list(options)
        while stack:
            option = stack.pop()
            stack.extend(option.get("options") or [])
            value = str(option.get("value", ""))
            if option["type"] == OPTION_USER and value in self._users:
                resolved.setdefault("users", {})[value] = self._users[value].payload()
                if value in self._members:
                    member = self._members[value].partial_payload()
                    member["permissions"] = str(self._member_permissions(value))
                    resolved.setdefault("members", {})[value] = member
            elif option["type"] == OPTION_ROLE and value in self._roles:
                resolved.setdefault("roles", {})[value] = self._roles[value].payload()
            elif option["type"] == OPTION_CHANNEL and value in self._channels:
                channel = self._channels[value].payload()
                channel["permissions"] = str(
                    self._channel_permissions(self._channels[value], self.bot_user_id)
                )
                resolved.setdefault("channels", {})[value] = channel
        return resolved

    async def _send_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: Snowflake,
        channel_id: Snowflake,
        message: Message | None = None,
    ) -> InteractionRecord:
        session = self._interaction_target()
        user_id, channel_id = str(user_id), str(channel_id)
        channel = self._require_channel(channel_id)
        member = self._members[user_id].payload()
        member["permissions"] = str(self._channel_permissions(channel, user_id))
        interaction_id = self._ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        bot_perms = self._channel_permissions(channel, self.bot_user_id)
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "guild_id": self.guild_id,
            "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
            "channel_id": channel.id,
            "channel": {**channel.payload(), "permissions": str(bot_perms)},
            "member": member,
            "token": token,
            "version": 1,
            "app_permissions": str(bot_perms),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": self.guild_id},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = self._render_message(message)
        record = InteractionRecord(
            interaction_id, token, kind, payload, self, deadline=self.interaction_deadline
        )
        self._interactions[interaction_id] = record
        self._interactions_by_token[token] = record
        await self._dispatch("INTERACTION_CREATE", payload, sessions=[session])
        return record

    async def invoke_command(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        *,
        user_id: Snowflake,
        channel_id: Snowflake,
    ) -> InteractionRecord:
        """A user runs a slash command, e.g. `invoke_command("paper search", {"query": "x"})`.

        `name` may include subcommand (group) names separated by spaces; a mapping of
        option values is typed and nested from the registered schema; a list is sent raw.
        """
        root, *path = name.split()
        command, scope = self._find_command(root)
        if isinstance(options, list):
            built = options
        else:
            built = self._build_options(command, path, options or {}, None)
        data: dict[str, Any] = {"id": command["id"], "name": root, "type": 1, "options": built}
        if scope is not None:
            data["guild_id"] = scope
        resolved = self._resolved(built)
        if resolved:
            data["resolved"] = resolved
        return await self._send_interaction(
            INTERACTION_COMMAND, data, user_id=user_id, channel_id=channel_id
        )

    async def invoke_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user_id: Snowflake,
        channel_id: Snowflake,
    ) -> InteractionRecord:
        """A user types into option `focused`; the bot answers with choices (callback 8)."""
        root, *path = name.split()
        command, scope = self._find_command(root)
        built = self._build_options(command, path, options, focused)
        data: dict[str, Any] = {"id": command["id"], "name": root, "type": 1, "options": built}
        if scope is not None:
            data["guild_id"] = scope
        return await self._send_interaction(
            INTERACTION_AUTOCOMPLETE, data, user_id=user_id, channel_id=channel_id
        )

    async def click_component(
        self,
        message: Snowflake | Mapping[str, Any],
        custom_id: str,
        *,
        user_id: Snowflake,
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """A user clicks a button (or picks `values` in a select) on a message."""
        message_id = str(message["id"] if isinstance(message, Mapping) else message)
        msg = self._messages[message_id]
        component = _find_component(msg.components, custom_id)
        if component is None:
            raise LookupError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise LookupError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        return await self._send_interaction(
            INTERACTION_COMPONENT, data, user_id=user_id, channel_id=msg.channel_id, message=msg
        )

    # ------------------------------------------------------------- REST plumbing

    def _add_routes(self) -> None:
        r = self._app.router
        api = API_PREFIX
        chan = api + "/channels/{channel_id}"
        msg = chan + "/messages/{message_id}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", api + "/gateway", self._get_gateway),
            ("GET", api + "/gateway/bot", self._get_gateway_bot),
            ("GET", api + "/users/@me", self._get_me),
            ("GET", api + "/users/{user_id}", self._get_user),
            ("GET", api + "/oauth2/applications/@me", self._get_application),
            ("GET", api + "/applications/@me", self._get_application),
            ("GET", api + "/applications/{app_id}/commands", self._get_commands),
            ("PUT", api + "/applications/{app_id}/commands", self._put_commands),
            ("POST", api + "/applications/{app_id}/commands", self._post_command),
            ("GET", api + "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", api + "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", api + "/applications/{app_id}/guilds/{guild_id}/commands", self._post_command),
            ("GET", chan, self._get_channel),
            ("GET", chan + "/messages", self._get_messages),
            ("POST", chan + "/messages", self._post_message),
            ("POST", chan + "/typing", self._typing),
            ("POST", chan + "/threads", self._post_thread),
            ("GET", msg, self._get_message),
            ("PATCH", msg, self._patch_message),
            ("DELETE", msg, self._delete_message),
            ("POST", msg + "/threads", self._post_message_thread),
            ("DELETE", msg + "/reactions", self._delete_all_reactions),
            ("PUT", msg + "/reactions/{emoji}/@me", self._put_own_reaction),
            ("DELETE", msg + "/reactions/{emoji}/@me", self._delete_own_reaction),
            ("DELETE", msg + "/reactions/{emoji}/{user_id}", self._delete_user_reaction),
            ("GET", msg + "/reactions/{emoji}", self._get_reactions),
            ("DELETE", msg + "/reactions/{emoji}", self._delete_emoji_reactions),
            ("GET", api + "/guilds/{guild_id}", self._get_guild),
            ("GET", api + "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", api + "/guilds/{guild_id}/roles", self._get_roles),
            ("GET", api + "/guilds/{guild_id}/members", self._get_members),
            ("GET", api + "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("POST", api + "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", api + "/webhooks/{app_id}/{token}", self._post_followup),
            (
                "GET",
                api + "/webhooks/{app_id}/{token}/messages/{message_id}",
                self._get_webhook_message,
            ),
            (
                "PATCH",
                api + "/webhooks/{app_id}/{token}/messages/{message_id}",
                self._patch_webhook_message,
            ),
            (
                "DELETE",
                api + "/webhooks/{app_id}/{token}/messages/{message_id}",
                self._delete_webhook_message,
            ),
            ("GET", "/attachments/{attachment_id}/{filename}", self._get_attachment),
            ("GET", "/gateway", self._gateway_handler),
        ]
        self._route_keys: set[str] = set()
        for method, path, handler in routes:
            r.add_route(method, path, handler)
            if path.startswith(api + "/"):
                self._route_keys.add(f"{method} {path.removeprefix(api)}")
        r.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith(API_PREFIX + "/"):
            return await handler(request)
        rel = path[len(API_PREFIX) :]
        route = _route_template(request)
        body, files = await _read_body(request)
        request[BODY_KEY], request[FILES_KEY] = body, files
        token_route = rel.startswith(("/interactions/", "/webhooks/")) or rel in ("/gateway",)
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        record = RecordedRequest(
            request.method,
            rel,
            dict(request.query),
            body,
            [f[1] for f in files],
            authorized,
            route=route,
        )
        self.requests.append(record)
        if route:
            self.route_counts[f"{request.method} {route}"] += 1
        delay = self._take(self._delays, request.method, rel, route)
        if delay is not None:
            record.delayed = True
            if delay.phase == "request":
                await delay.hold()
        response: web.StreamResponse
        decision = self.rate_limiter.check(f"{request.method} {route}", request.match_info)
        retry_after = decision.retry_after if decision is not None else None
        try:
            # A request the bucket refuses never reaches the route, nor an injected failure.
            failure = (
                None
                if retry_after is not None
                else self._take(self._failures, request.method, rel, route)
            )
            if retry_after is not None:
                record.rate_limited = True
                response = _json_response(
                    too_many_requests_body(retry_after), 429, too_many_requests_headers(retry_after)
                )
            elif failure is not None:
                response = _failure_response(failure)
            elif not token_route and not authorized:
                response = _json_response({"message": "401: Unauthorized", "code": 0}, 401)
            else:
                response = await handler(request)
        except DiscordError as exc:
            response = _json_response(exc.body(), exc.status)
        if decision is not None:
            # Discord sends a route's bucket state on every answer, errors included.
            response.headers.update(decision.headers)
        record.status = response.status
        self._notify()
        if delay is not None and delay.phase == "reply":
            await delay.hold()
        return response

    @staticmethod
    def _take(queue: list[_Q], method: str, rel: str, route: str) -> _Q | None:
        """Claim the first entry of `queue` matching the request; drop it once used up."""
        for entry in queue:
            if entry.matcher.matches(method, rel, route):
                entry.claim()
                if entry.exhausted:
                    queue.remove(entry)
                return entry
        return None

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        rel = request.path.removeprefix(API_PREFIX)
        self.unknown_requests.append(
            RecordedRequest(
                request.method, rel, dict(request.query), request.get(BODY_KEY), status=404
            )
        )
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    def _require_channel(self, channel_id: str) -> Channel:
        try:
            return self._channels[channel_id]
        except KeyError:
            raise DiscordError(404, 10003, "Unknown Channel") from None

    def _require_message(self, channel_id: str, message_id: str) -> Message:
        self._require_channel(channel_id)
        msg = self._messages.get(message_id)
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    def _require_guild(self, guild_id: str) -> None:
        if guild_id != self.guild_id:
            raise DiscordError(404, 10004, "Unknown Guild")

    def _require_command_scope(self, guild_id: str | None) -> None:
        """Guild commands need the bot in the guild and the applications.commands scope."""
        if guild_id is not None and (
            guild_id != self.guild_id or not self.application_commands_scope
        ):
            raise DiscordError(403, 50001, "Missing Access")

    def _require_app(self, app_id: str) -> None:
        if app_id != self.application_id:
            # Discord answers 403 "Missing Access" for another application's commands.
            raise DiscordError(403, 50001, "Missing Access")

    # ------------------------------------------------------------ REST: basics

    async def _get_gateway(self, request: web.Request) -> web.StreamResponse:
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_me(self, request: web.Request) -> web.StreamResponse:
        me = self._users[self.bot_user_id].payload()
        return _json_response({**me, "verified": True, "mfa_enabled": False, "locale": "en-US"})

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        user = self._users.get(request.match_info["user_id"])
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return _json_response(user.payload())

    async def _get_application(self, request: web.Request) -> web.StreamResponse:
        bot = self._users[self.bot_user_id]
        return _json_response(
            {
                "id": self.application_id,
                "name": bot.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": secrets.token_hex(32),
                "owner": self._users[self.owner_user_id].payload(),
                "team": None,
                "flags": 0,
                "bot": bot.payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "tags": [],
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            }
        )

    # ---------------------------------------------------------- REST: commands

    async def _get_commands(self, request: web.Request) -> web.StreamResponse:
        self._require_app(request.match_info["app_id"])
        scope = request.match_info.get("guild_id")
        self._require_command_scope(scope)
        return _json_response(self._commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.StreamResponse:
        self._require_app(request.match_info["app_id"])
        scope = request.match_info.get("guild_id")
        self._require_command_scope(scope)
        body = request[BODY_KEY]
        if not isinstance(body, list):
            raise _invalid_form("_root", "Expected an array of commands.")
        previous = {(c["name"], c.get("type", 1)): c["id"] for c in self._commands.get(scope, [])}
        names: set[tuple[str, int]] = set()
        stored = []
        for index, command in enumerate(body):
            _validate_command(command, f"{index}")
            key = (command["name"], command.get("type", 1))
            if key in names:
                raise _invalid_form(
                    f"{index}.name",
                    "Application command names must be unique",
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                )
            names.add(key)
            stored.append(self._store_command(command, scope, previous.get(key)))
        self._commands[scope] = stored
        return _json_response(stored)

    async def _post_command(self, request: web.Request) -> web.StreamResponse:
        self._require_app(request.match_info["app_id"])
        scope = request.match_info.get("guild_id")
        self._require_command_scope(scope)
        command = request[BODY_KEY]
        _validate_command(command, "")
        existing = self._commands.setdefault(scope, [])
        key = (command["name"], command.get("type", 1))
        for index, old in enumerate(existing):
            if (old["name"], old.get("type", 1)) == key:
                existing[index] = self._store_command(command, scope, old["id"])
                return _json_response(existing[index])
        existing.append(self._store_command(command, scope, None))
        return _json_response(existing[-1], 201)

    def _store_command(
        self, command: dict[str, Any], scope: str | None, command_id: str | None
    ) -> dict[str, Any]:
        stored = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "name_localizations": None,
            "description_localizations": None,
            **command,
            "id": command_id or self._ids.next(),
            "application_id": self.application_id,
            "version": self._ids.next(),
        }
        if scope is not None:
            stored["guild_id"] = scope
        return stored

    # ---------------------------------------------------------- REST: channels

    async def _get_channel(self, request: web.Request) -> web.StreamResponse:
        channel = self._require_channel(request.match_info["channel_id"])
        self._require_permissions(channel)
        return _json_response(channel.payload())

    async def _typing(self, request: web.Request) -> web.StreamResponse:
        channel = self._require_channel(request.match_info["channel_id"])
        self._require_permissions(channel, perm.SEND_MESSAGES)
        return web.Response(status=204)

    async def _get_messages(self, request: web.Request) -> web.StreamResponse:
        channel = self._require_channel(request.match_info["channel_id"])
        self._require_permissions(channel)
        query = request.query
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise _invalid_form(
                "limit", "int value should be between 1 and 100.", "NUMBER_TYPE_MAX"
            )
        ids = [m for m in self._channel_messages[channel.id] if not self._messages[m].deleted]
        if "before" in query:
            ids = [m for m in ids if int(m) < int(query["before"])][-limit:]
        elif "after" in query:
            ids = [m for m in ids if int(m) > int(query["after"])][:limit]
        elif "around" in query:
            pivot = int(query["around"])
            older = [m for m in ids if int(m) <= pivot]
            newer = [m for m in ids if int(m) > pivot]
            half = limit // 2
            ids = older[-(limit - min(half, len(newer))) :] + newer[:half]
        else:
            ids = ids[-limit:]
        if self.enforce_permissions and not (
            self._channel_permissions(channel, self.bot_user_id) & perm.READ_MESSAGE_HISTORY
        ):
            ids = []  # Discord lists nothing to a reader without the history permission
        # Discord lists newest first whatever the paging direction.
        return _json_response([self._render_message(self._messages[m]) for m in reversed(ids)])

    async def _post_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._require_channel(request.match_info["channel_id"])
        send = perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else perm.SEND_MESSAGES
        self._require_permissions(channel, send | (perm.ATTACH_FILES if request[FILES_KEY] else 0))
        body = request[BODY_KEY] or {}
        msg = await self._create_message(channel, self.bot_user_id, body, request[FILES_KEY])
        return _json_response(self._render_message(msg))

    async def _get_message(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(self._channels[msg.channel_id], access=_READ)
        return _json_response(self._render_message(msg))

    async def _patch_message(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(self._channels[msg.channel_id])
        if msg.author_id != self.bot_user_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        await self._edit_message(msg, request[BODY_KEY] or {}, request[FILES_KEY])
        return _json_response(self._render_message(msg))

    async def _delete_message(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        others = msg.author_id != self.bot_user_id
        self._require_permissions(
            self._channels[msg.channel_id], perm.MANAGE_MESSAGES if others else 0
        )
        await self._delete(msg)
        return web.Response(status=204)

    async def _delete(self, msg: Message) -> None:
        msg.deleted = True
        if msg.ephemeral:
            return
        await self._dispatch(
            "MESSAGE_DELETE",
            {"id": msg.id, "channel_id": msg.channel_id, "guild_id": msg.guild_id},
            intent=INTENT_GUILD_MESSAGES,
        )

    async def _create_message(
        self,
        channel: Channel,
        author_id: str,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        webhook_id: str | None = None,
        message_type: int = 0,
        flags: int = 0,
        interaction_metadata: dict[str, Any] | None = None,
        allow_empty: bool = False,
    ) -> Message:
        if not isinstance(body, dict):
            raise _invalid_form("_root", "Expected an object.")
        attachments = self._attachments_from(channel, body, files, existing=[])
        embeds = _embeds_from(body)
        content = str(body.get("content") or "")
        components = list(body.get("components") or [])
        _validate_message(content, embeds)
        if not (
            allow_empty or content or embeds or attachments or components or body.get("sticker_ids")
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        reference = body.get("message_reference")
        if reference is not None:
            ref_id = str(reference.get("message_id"))
            ref = self._messages.get(ref_id)
            if ref is None or ref.deleted:
                if reference.get("fail_if_not_exists", True):
                    raise _invalid_form(
                        "message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
                    )
                reference = None
            else:
                reference = {
                    "type": 0,
                    "message_id": ref_id,
                    "channel_id": ref.channel_id,
                    "guild_id": ref.guild_id,
                }
        msg = Message(
            id=self._ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=content,
            embeds=embeds,
            components=components,
            attachments=attachments,
            type=message_type or (19 if reference else 0),
            flags=flags | (int(body.get("flags") or 0) & ~FLAG_EPHEMERAL),
            tts=bool(body.get("tts")),
            nonce=body.get("nonce"),
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=reference,
            webhook_id=webhook_id,
            application_id=self.application_id if webhook_id else None,
            interaction_metadata=interaction_metadata,
        )
        self._apply_mentions(msg)
        self._messages[msg.id] = msg
        if not msg.ephemeral:
            self._channel_messages[channel.id].append(msg.id)
            channel.last_message_id = msg.id
            if channel.is_thread:
                channel.message_count += 1
            await self._dispatch(
                "MESSAGE_CREATE", self._message_event(msg), intent=INTENT_GUILD_MESSAGES
            )
        self._notify()
        return msg

    async def _edit_message(
        self, msg: Message, body: dict[str, Any], files: list[UploadedFile]
    ) -> None:
        channel = self._channels[msg.channel_id]
        if "content" in body:
            msg.content = str(body["content"] or "")
        if "embeds" in body or "embed" in body:
            msg.embeds = _embeds_from(body)
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS may be toggled by an edit.
            msg.flags = (msg.flags & ~4) | (int(body["flags"]) & 4)
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "attachments" in body or files:
            msg.attachments = self._attachments_from(channel, body, files, existing=msg.attachments)
        _validate_message(msg.content, msg.embeds)
        if not (msg.content or msg.embeds or msg.attachments or msg.components):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        msg.flags &= ~FLAG_LOADING
        msg.edited_timestamp = utc_now_iso()
        self._apply_mentions(msg)
        if not msg.ephemeral:
            await self._dispatch(
                "MESSAGE_UPDATE", self._message_event(msg), intent=INTENT_GUILD_MESSAGES
            )
        self._notify()

    def _attachments_from(
        self,
        channel: Channel,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        existing: list[Attachment],
    ) -> list[Attachment]:
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        kept = (
            [a for a in existing if a.id in described] if "attachments" in body else list(existing)
        )
        uploads = []
        for index, (field_name, filename, content_type, data) in enumerate(files):
            match = re.fullmatch(r"files\[(\d+)\]|file(\d*)", field_name)
            slot = next((g for g in match.groups() if g), str(index)) if match else str(index)
            meta = described.get(slot, {})
            attachment_id = self._ids.next()
            name = meta.get("filename") or filename
            if len(data) > ATTACHMENT_SIZE_LIMIT:
                raise DiscordError(413, 40005, "Request entity too large")
            attachment = Attachment(
                id=attachment_id,
                filename=name,
                data=data,
                url=f"{self.base_url}/attachments/{attachment_id}/{name}",
                content_type=content_type,
                description=meta.get("description"),
            )
            self._blobs[attachment_id] = attachment
            uploads.append(attachment)
        return kept + uploads

    def _apply_mentions(self, msg: Message) -> None:
        """Fill mentions the way Discord does: content pings, filtered by allowed_mentions."""
        allowed = msg.allowed_mentions
        users = list(dict.fromkeys(re.findall(r"<@!?(\d+)>", msg.content)))
        roles = list(dict.fromkeys(re.findall(r"<@&(\d+)>", msg.content)))
        everyone = "@everyone" in msg.content or "@here" in msg.content
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[str] = set()
            allowed_roles: set[str] = set()
            replied_user = True
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {str(u) for u in allowed.get("users") or []}
            allowed_roles = {str(r) for r in allowed.get("roles") or []}
            replied_user = bool(allowed.get("replied_user", False))
            if ("users" in parse and allowed_users) or ("roles" in parse and allowed_roles):
                raise _invalid_form(
                    "allowed_mentions", "parse and explicit ids are mutually exclusive"
                )
        msg.mentions = [
            u for u in users if u in self._users and ("users" in parse or u in allowed_users)
        ]
        msg.mention_roles = [
            r for r in roles if r in self._roles and ("roles" in parse or r in allowed_roles)
        ]
        msg.mention_everyone = everyone and "everyone" in parse
        if msg.message_reference is not None and replied_user:
            ref = self._messages.get(msg.message_reference["message_id"])
            if ref is not None and ref.author_id not in msg.mentions:
                msg.mentions.append(ref.author_id)

    # ----------------------------------------------------------- REST: reactions

    async def _put_own_reaction(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        key, _ = parse_emoji(request.match_info["emoji"])
        # Joining a reaction someone already made needs no ADD_REACTIONS, like on Discord.
        new = not msg.reactions.get(key)
        self._require_permissions(
            self._channels[msg.channel_id], perm.ADD_REACTIONS if new else 0, access=_READ
        )
        await self._add_reaction(msg, self.bot_user_id, request.match_info["emoji"])
        return web.Response(status=204)

    async def _delete_own_reaction(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(self._channels[msg.channel_id], access=_READ)
        await self._remove_reaction(msg, self.bot_user_id, request.match_info["emoji"])
        return web.Response(status=204)

    async def _delete_user_reaction(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        others = request.match_info["user_id"] != self.bot_user_id
        self._require_permissions(
            self._channels[msg.channel_id], perm.MANAGE_MESSAGES if others else 0, access=_READ
        )
        await self._remove_reaction(msg, request.match_info["user_id"], request.match_info["emoji"])
        return web.Response(status=204)

    async def _get_reactions(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(self._channels[msg.channel_id], access=_READ)
        key, emoji = parse_emoji(request.match_info["emoji"])
        if emoji["id"] is not None:
            raise DiscordError(400, 10014, "Unknown Emoji")
        limit = int(request.query.get("limit", 25))
        if not 1 <= limit <= 100:
            raise _invalid_form(
                "limit", "int value should be between 1 and 100.", "NUMBER_TYPE_MAX"
            )
        after = int(request.query.get("after", 0))
        if int(request.query.get("type", 0)) == 1:
            return _json_response([])  # no super (burst) reactions are ever stored
        users = sorted(int(u) for u in msg.reactions.get(key, []) if int(u) > after)[:limit]
        return _json_response([self._users[str(u)].payload() for u in users])

    async def _delete_emoji_reactions(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(
            self._channels[msg.channel_id], perm.MANAGE_MESSAGES, access=_READ
        )
        key, emoji = parse_emoji(request.match_info["emoji"])
        if msg.reactions.pop(key, None) is not None:
            msg.reaction_emoji.pop(key, None)
            event = {
                "channel_id": msg.channel_id,
                "message_id": msg.id,
                "guild_id": msg.guild_id,
                "emoji": emoji,
            }
            await self._dispatch(
                "MESSAGE_REACTION_REMOVE_EMOJI", event, intent=INTENT_GUILD_MESSAGE_REACTIONS
            )
        return web.Response(status=204)

    async def _delete_all_reactions(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        self._require_permissions(
            self._channels[msg.channel_id], perm.MANAGE_MESSAGES, access=_READ
        )
        msg.reactions.clear()
        msg.reaction_emoji.clear()
        event = {"channel_id": msg.channel_id, "message_id": msg.id, "guild_id": msg.guild_id}
        await self._dispatch(
            "MESSAGE_REACTION_REMOVE_ALL", event, intent=INTENT_GUILD_MESSAGE_REACTIONS
        )
        return web.Response(status=204)

    # ------------------------------------------------------------- REST: threads

    async def _post_message_thread(self, request: web.Request) -> web.StreamResponse:
        msg = self._require_message(
            request.match_info["channel_id"], request.match_info["message_id"]
        )
        parent = self._channels[msg.channel_id]
        self._require_permissions(parent, perm.CREATE_PUBLIC_THREADS, access=_READ)
        if parent.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if msg.thread_id is not None:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        # A thread started from a message shares the message's id.
        thread = await self._create_thread(
            parent, request[BODY_KEY] or {}, msg.id, CHANNEL_PUBLIC_THREAD
        )
        msg.thread_id = thread.id
        msg.flags |= FLAG_HAS_THREAD
        await self._dispatch(
            "MESSAGE_UPDATE", self._message_event(msg), intent=INTENT_GUILD_MESSAGES
        )
        return _json_response(thread.payload(), 201)

    async def _post_thread(self, request: web.Request) -> web.StreamResponse:
        parent = self._require_channel(request.match_info["channel_id"])
        if parent.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body = request[BODY_KEY] or {}
        kind = int(body.get("type") or CHANNEL_PRIVATE_THREAD)
        if kind not in (CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD):
            raise _invalid_form("type", "Value must be one of {11, 12}.")
        needed = (
            perm.CREATE_PUBLIC_THREADS
            if kind == CHANNEL_PUBLIC_THREAD
            else perm.CREATE_PRIVATE_THREADS
        )
        self._require_permissions(parent, needed)
        thread = await self._create_thread(parent, body, self._ids.next(), kind)
        return _json_response(thread.payload(), 201)

    async def _create_thread(
        self, parent: Channel, body: dict[str, Any], thread_id: str, kind: int
    ) -> Channel:
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise _invalid_form(
                "name", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH"
            )
        thread = Channel(
            id=thread_id,
            guild_id=self.guild_id,
            name=name,
            type=kind,
            parent_id=parent.id,
            owner_id=self.bot_user_id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 4320),
        )
        self._channels[thread.id] = thread
        self._channel_messages[thread.id] = []
        await self._dispatch(
            "THREAD_CREATE", {**thread.payload(), "newly_created": True}, intent=INTENT_GUILDS
        )
        return thread

    # -------------------------------------------------------------- REST: guild

    async def _get_guild(self, request: web.Request) -> web.StreamResponse:
        self._require_guild(request.match_info["guild_id"])
        data = self._guild_payload()
        if request.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(self._members), approximate_presence_count=0)
        return _json_response(data)

    async def _get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        self._require_guild(request.match_info["guild_id"])
        return _json_response([c.payload() for c in self._channels.values() if not c.is_thread])

    async def _get_roles(self, request: web.Request) -> web.StreamResponse:
        self._require_guild(request.match_info["guild_id"])
        return _json_response([r.payload() for r in self._roles.values()])

    async def _get_members(self, request: web.Request) -> web.StreamResponse:
        self._require_guild(request.match_info["guild_id"])
        limit = int(request.query.get("limit", 1))
        after = int(request.query.get("after", 0))
        members = sorted(self._members.values(), key=lambda m: int(m.user.id))
        return _json_response([m.payload() for m in members if int(m.user.id) > after][:limit])

    async def _get_member(self, request: web.Request) -> web.StreamResponse:
        self._require_guild(request.match_info["guild_id"])
        member = self._members.get(request.match_info["user_id"])
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return _json_response(member.payload())

    async def _get_attachment(self, request: web.Request) -> web.StreamResponse:
        attachment = self._blobs.get(request.match_info["attachment_id"])
        if attachment is None or attachment.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
        )

    # -------------------------------------------------- REST: interaction replies

    def _interaction_for(self, app_id: str, token: str) -> InteractionRecord:
        record = self._interactions_by_token.get(token)
        if app_id != self.application_id or record is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return record

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        record = self._interactions.get(request.match_info["interaction_id"])
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if record.responses:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        deadline = record.deadline
        if deadline is not None and arrived - record.created > deadline:
            # Discord has already shown "The application did not respond" and forgotten it.
            record.late_callbacks += 1
            self._notify()
            raise DiscordError(404, 10062, "Unknown interaction")
        body = request[BODY_KEY] or {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        allowed = {
            INTERACTION_COMMAND: {CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_MODAL},
            INTERACTION_COMPONENT: {
                CALLBACK_MESSAGE,
                CALLBACK_DEFERRED_MESSAGE,
                CALLBACK_DEFERRED_UPDATE,
                CALLBACK_UPDATE_MESSAGE,
                CALLBACK_MODAL,
            },
            INTERACTION_AUTOCOMPLETE: {CALLBACK_AUTOCOMPLETE},
        }[record.type]
        if kind not in allowed:
            raise _invalid_form("type", f"Interaction callback type {kind} is not valid here.")
        channel = self._channels[record.payload["channel_id"]]
        metadata = {
            "id": record.id,
            "type": record.type,
            "user": record.payload["member"]["user"],
            "authorizing_integration_owners": {"0": self.guild_id},
        }
        resource: dict[str, Any] | None = None
        flags = int(data.get("flags") or 0) & FLAG_EPHEMERAL
        message_type = 20 if record.type == INTERACTION_COMMAND else 0
        if record.type == INTERACTION_COMPONENT:
            metadata["interacted_message_id"] = record.payload["message"]["id"]
        if kind in (CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE):
            msg = await self._create_message(
                channel,
                self.bot_user_id,
                data if kind == CALLBACK_MESSAGE else {},
                request[FILES_KEY],
                webhook_id=self.application_id,
                message_type=message_type,
                flags=flags | (FLAG_LOADING if kind == CALLBACK_DEFERRED_MESSAGE else 0),
                interaction_metadata=metadata,
                allow_empty=kind == CALLBACK_DEFERRED_MESSAGE,
            )
            record.original_message_id = msg.id
            resource = {"type": kind, "message": self._render_message(msg)}
        elif kind == CALLBACK_UPDATE_MESSAGE:
            target = self._messages[record.payload["message"]["id"]]
            await self._edit_message(target, data, request[FILES_KEY])
            record.original_message_id = target.id
            resource = {"type": kind, "message": self._render_message(target)}
        elif kind == CALLBACK_DEFERRED_UPDATE:
            record.original_message_id = record.payload["message"]["id"]
        elif kind == CALLBACK_AUTOCOMPLETE:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise _invalid_form(
                    "data.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
                )
        record.responses.append(body)
        record.acknowledged_at = arrived
        self._notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        original = self._messages.get(record.original_message_id or "")
        answer: dict[str, Any] = {
            "interaction": {
                "id": record.id,
                "type": record.type,
                "response_message_loading": kind == CALLBACK_DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(original and original.ephemeral),
            }
        }
        if original is not None and kind != CALLBACK_DEFERRED_UPDATE:
            answer["interaction"]["response_message_id"] = original.id
        if resource is not None:
            answer["resource"] = resource
        return _json_response(answer)

    async def _post_followup(self, request: web.Request) -> web.StreamResponse:
        record = self._interaction_for(request.match_info["app_id"], request.match_info["token"])
        if not record.responses:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = request[BODY_KEY] or {}
        original = self._messages.get(record.original_message_id or "")
        if original is not None and original.flags & FLAG_LOADING:
            # The first followup after a deferred reply replaces the "thinking…" message.
            await self._edit_message(original, body, request[FILES_KEY])
            msg = original
        else:
            channel = self._channels[record.payload["channel_id"]]
            msg = await self._create_message(
                channel,
                self.bot_user_id,
                body,
                request[FILES_KEY],
                webhook_id=self.application_id,
                flags=int(body.get("flags") or 0) & FLAG_EPHEMERAL,
                interaction_metadata={
                    "id": record.id,
                    "type": record.type,
                    "user": record.payload["member"]["user"],
                    "authorizing_integration_owners": {"0": self.guild_id},
                },
            )
        record.followups.append(body)
        record.followup_ids.append(msg.id)
        self._notify()
        if request.query.get("wait") not in ("1", "true", "True"):
            return web.Response(status=204)
        return _json_response(self._render_message(msg))

    def _webhook_message(self, record: InteractionRecord, message_id: str) -> Message:
        if message_id == "@original":
            if record.original_message_id is None:
                raise DiscordError(404, 10008, "Unknown Message")
            message_id = record.original_message_id
        if message_id != record.original_message_id and message_id not in record.followup_ids:
            raise DiscordError(404, 10008, "Unknown Message")
        msg = self._messages[message_id]
        if msg.deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def _get_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._interaction_for(request.match_info["app_id"], request.match_info["token"])
        msg = self._webhook_message(record, request.match_info["message_id"])
        return _json_response(self._render_message(msg))

    async def _patch_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._interaction_for(request.match_info["app_id"], request.match_info["token"])
        msg = self._webhook_message(record, request.match_info["message_id"])
        body = request[BODY_KEY] or {}
        await self._edit_message(msg, body, request[FILES_KEY])
        record.edits.append({"message_id": msg.id, **body})
        self._notify()
        return _json_response(self._render_message(msg))

    async def _delete_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._interaction_for(request.match_info["app_id"], request.match_info["token"])
        msg = self._webhook_message(record, request.match_info["message_id"])
        await self._delete(msg)
        return web.Response(status=204)


class _FullView:
    """A stand-in session with every intent, used to record what an event contained."""

    intents = -1

    def wants(self, intent: int | None) -> bool:
        return True


_FULL_VIEW: Any = _FullView()


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or multipart `payload_json` plus files as (field, filename, type, bytes)."""
    files: list[UploadedFile] = []
    if not request.can_read_body:
        return None, files
    if request.content_type == "multipart/form-data":
        body: Any = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data.decode())
            elif part.filename is not None:
                files.append(
                    (part.name or "", part.filename, part.headers.get("Content-Type"), bytes(data))
                )
        return body, files
    raw = await request.read()
    if not raw:
        return None, files
    try:
        return json.loads(raw), files
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None


def _failure_response(failure: InjectedFailure) -> web.Response:
    if failure.status != 429:
        return _json_response(failure.body, failure.status)
    headers = {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + failure.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{failure.retry_after:.3f}",
        "X-RateLimit-Bucket": "fakebucket" + secrets.token_hex(4),
        **too_many_requests_headers(failure.retry_after, is_global=failure.is_global),
    }
    return _json_response(failure.body, 429, headers)


def _route_template(request: web.Request) -> str:
    """The matched route's template relative to /api/v10, "" for the catch-all."""
    info = request.match_info.route.resource
    canonical = info.canonical if info is not None else ""
    if not canonical.startswith(API_PREFIX + "/"):
        return ""
    return canonical.removeprefix(API_PREFIX)


def _embeds_from(body: dict[str, Any]) -> list[dict[str, Any]]:
    embeds = body.get("embeds")
    if embeds is None and body.get("embed") is not None:
        embeds = [body["embed"]]
    out = []
    for embed in embeds or []:
        out.append({"type": "rich", **embed})
    return out


def _validate_message(content: str, embeds: list[dict[str, Any]]) -> None:
    if len(content) > 2000:
        raise _invalid_form("content", "Must be 2000 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    if len(embeds) > 10:
        raise _invalid_form("embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    for index, embed in enumerate(embeds):
        total = 0
        for path, limit in EMBED_LIMITS.items():
            value: Any = embed
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            text = str(value or "")
            total += len(text)
            if len(text) > limit:
                raise _invalid_form(
                    f"embeds.{index}.{path}",
                    f"Must be {limit} or fewer in length.",
                    "BASE_TYPE_MAX_LENGTH",
                )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise _invalid_form(
                f"embeds.{index}.fields", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )
        for n, item in enumerate(fields):
            name, value_text = str(item.get("name", "")), str(item.get("value", ""))
            if not name or len(name) > 256:
                raise _invalid_form(
                    f"embeds.{index}.fields.{n}.name",
                    "Must be between 1 and 256 in length.",
                    "BASE_TYPE_BAD_LENGTH",
                )
            if not value_text or len(value_text) > 1024:
                raise _invalid_form(
                    f"embeds.{index}.fields.{n}.value",
                    "Must be between 1 and 1024 in length.",
                    "BASE_TYPE_BAD_LENGTH",
                )
            total += len(name) + len(value_text)
        if total > EMBED_TOTAL:
            raise _invalid_form(
                f"embeds.{index}",
                "Embed size exceeds maximum size of 6000",
                "MAX_EMBED_SIZE_EXCEEDED",
            )


def _validate_command(command: Any, where: str) -> None:
    prefix = f"{where}." if where else ""
    if not isinstance(command, dict):
        raise _invalid_form(where or "_root", "Expected an object.")
    name = command.get("name", "")
    kind = command.get("type", 1)
    if kind == 1 and (not COMMAND_NAME.match(name) or name != name.lower()):
        raise _invalid_form(
            f"{prefix}name", "Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME"
        )
    if kind == 1 and not 1 <= len(command.get("description", "")) <= 100:
        raise _invalid_form(
            f"{prefix}description", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH"
        )
    _validate_options(command.get("options") or [], f"{prefix}options")


def _validate_options(options: list[dict[str, Any]], where: str) -> None:
    if len(options) > 25:
        raise _invalid_form(where, "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    seen_optional = False
    for index, option in enumerate(options):
        path = f"{where}.{index}"
        name = option.get("name", "")
        if not COMMAND_NAME.match(name) or name != name.lower():
            raise _invalid_form(
                f"{path}.name", "Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME"
            )
        if not 1 <= len(option.get("description", "")) <= 100:
            raise _invalid_form(
                f"{path}.description",
                "Must be between 1 and 100 in length.",
                "BASE_TYPE_BAD_LENGTH",
            )
        if len(option.get("choices") or []) > 25:
            raise _invalid_form(
                f"{path}.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"
            )
        if option.get("type") in (OPTION_SUBCOMMAND, OPTION_SUBCOMMAND_GROUP):
            _validate_options(option.get("options") or [], f"{path}.options")
        elif option.get("required"):
            if seen_optional:
                raise _invalid_form(
                    f"{path}.required",
                    "Required options must be placed before non-required options",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                )
        else:
            seen_optional = True


def _find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    stack = list(components)
    while stack:
        component = stack.pop()
        if component.get("custom_id") == custom_id:
            return component
        stack.extend(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            stack.append(component["accessory"])
    return None


__all__ = [
    "DiscordError",
    "FakeDiscord",
    "GatewaySession",
    "InteractionRecord",
    "RecordedRequest",
]
