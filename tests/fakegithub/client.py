"""The own tests' client (plain HTTP, as an app's) and the repository they share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from tests.fakegithub import FakeGitHub

OWNER, NAME = "awesome-org", "awesome-list"
BRANCH = "paperbot/additions"
README = "# Awesome papers\n\n- [A](https://arxiv.org/abs/1)\n"
README_B = README + "- [B](https://arxiv.org/abs/2)\n"
KEEP = object()  # `Api.call(token=KEEP)`: the server's current token


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any


class Api:
    """Plain HTTP calls to the fake, as the app's client makes them, redirects not followed."""

    def __init__(self, server: FakeGitHub, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: Any = KEEP,
        scheme: str = "Bearer",
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Answer:
        sent = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token is KEEP:
            token = self.server.token
        if token is not None:
            sent["Authorization"] = f"{scheme} {token}"
        sent.update(headers or {})
        async with self.session.request(
            method,
            self.server.base_url + path,
            json=body if data is None else None,
            data=data,
            headers=sent,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
            return Answer(response.status, response.headers, _json_or_text(text))

    async def create(
        self,
        head: str = BRANCH,
        base: str = "master",
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        **fields: Any,
    ) -> Answer:
        """POST a pull request of OWNER/NAME; `fields` add to (or replace) the body's."""
        body = {"title": "Add B", "head": head, "base": base, "body": "One paper.", **fields}
        return await self.call("POST", f"/repos/{OWNER}/{NAME}/pulls", body, timeout=timeout)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text
