"""Run the fake Discord standalone: prints its endpoints as one JSON line, serves until killed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from .server import FakeDiscord


async def _serve(port: int, *, rate_limits: bool, enforce_permissions: bool) -> None:
    server = FakeDiscord(
        port=port, rate_limits=rate_limits, enforce_permissions=enforce_permissions
    )
    await server.start()
    info = {
        **server.env(),
        "api_base": server.api_base,
        "gateway_url": server.gateway_url,
        "token": server.token,
        "application_id": server.application_id,
        "guild_id": server.guild_id,
        "channel_ids": server.channel_ids,
        "role_ids": server.role_ids,
    }
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakediscord")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--rate-limits", action="store_true", help="answer with Discord's per-route buckets"
    )
    parser.add_argument(
        "--enforce-permissions",
        action="store_true",
        help="refuse calls the bot's channel permissions do not allow (403)",
    )
    args = parser.parse_args()
    asyncio.run(
        _serve(
            args.port, rate_limits=args.rate_limits, enforce_permissions=args.enforce_permissions
        )
    )


if __name__ == "__main__":
    main()
