"""Run the fake GitHub standalone: prints base_url and token as one JSON line, serves until killed."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tests.loopback import serve_until_signal

from .server import FakeGitHub


def _repo_spec(text: str) -> tuple[str, str, Path | None]:
    """OWNER/NAME or OWNER/NAME=BARE_GIT_DIR."""
    full_name, _, git_dir = text.partition("=")
    owner, slash, name = full_name.partition("/")
    if not (owner and slash and name) or "/" in name:
        raise argparse.ArgumentTypeError(f"expected OWNER/NAME[=GIT_DIR], not {text!r}")
    return owner, name, Path(git_dir) if git_dir else None


async def _serve(port: int, repos: list[tuple[str, str, Path | None]]) -> None:
    server = FakeGitHub(port=port)
    for owner, name, git_dir in repos:
        server.add_repo(owner, name, git_dir=git_dir)
    await server.start()
    info = {
        **server.env(),
        "base_url": server.base_url,
        "token": server.token,
        "repos": [f"{owner}/{name}" for owner, name, _ in repos],
    }
    await serve_until_signal(server.stop, info)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakegithub")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--repo",
        type=_repo_spec,
        action="append",
        default=[],
        metavar="OWNER/NAME[=GIT_DIR]",
        help="a repository to serve, optionally backed by a bare git repository (repeatable)",
    )
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.repo))


if __name__ == "__main__":
    main()
