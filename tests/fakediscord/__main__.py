"""Run the fake Discord standalone: prints its endpoints as one JSON line, serves until killed."""

from __future__ import annotations

import argparse
import asyncio

from tests.loopback import serve_until_signal

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
    await serve_until_signal(server.stop, info)


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
