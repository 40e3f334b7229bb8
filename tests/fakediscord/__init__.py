"""A fake Discord (REST v10 + gateway v10 on loopback) for driving a real discord.py client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .behaviours import DEFAULT_RATE_LIMITS, Delay, InjectedFailure, RateLimitRule
from .permissions import DEFAULT_EVERYONE_PERMISSIONS, Overwrite
from .server import DiscordError, FakeDiscord, GatewaySession, InteractionRecord, RecordedRequest


@contextlib.contextmanager
def discord_endpoints(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base and default gateway elsewhere; restore both on exit.

    discord.py reads `Route.BASE` whenever a Route is built and falls back to
    `DiscordWebSocket.DEFAULT_GATEWAY` when it has no resume URL.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def use_fake_discord(server: FakeDiscord) -> contextlib.AbstractContextManager[None]:
    """`discord_endpoints` for a started FakeDiscord."""
    return discord_endpoints(server.api_base, server.gateway_url)


@contextlib.asynccontextmanager
async def running_client(
    client: discord.Client,
    token: str,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> AsyncIterator[discord.Client]:
    """Run `client.start(token)` in a task until the client is ready; close it on exit.

    A start-up failure (bad token, disallowed intents…) or a crash of the run loop is
    raised here rather than lost in the background task.
    """
    task = asyncio.create_task(client.start(token))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # The ready event only exists once login has begun, so poll the public flag.
        while not client.is_ready():
            if task.done():
                task.result()
                raise RuntimeError("client stopped before becoming ready")
            if loop.time() > deadline:
                raise TimeoutError(f"client not ready within {timeout}s")
            await asyncio.sleep(0.01)
        yield client
    finally:
        await client.close()
        await asyncio.wait({task}, timeout=timeout)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    # Reached only when the body succeeded: a crash of the client's run loop fails it too.
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


__all__ = [
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DEFAULT_RATE_LIMITS",
    "Delay",
    "DiscordError",
    "FakeDiscord",
    "GatewaySession",
    "InjectedFailure",
    "InteractionRecord",
    "Overwrite",
    "RateLimitRule",
    "RecordedRequest",
    "discord_endpoints",
    "running_client",
    "use_fake_discord",
]
