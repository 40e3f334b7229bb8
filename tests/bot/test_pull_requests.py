"""Publishing with a pull request, and following the list's repository: a real bare git
repository on disk for the list, the loopback GitHub for the host, the real App."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from pydantic import SecretStr

from bot.app import App, ForgeError, PublishError
from bot.forge import ForgeAuthError, ForgeRateLimited, ForgeUnreachable, GitHub
from bot.runtime import Worker
from bot.settings import Settings
from db.awesome import parse_awesome
from db.types import AddedHow
from tests.bot.cli_helpers import clean_env
from tests.bot.discord.helpers import (
    CHECK,
    STRONG,
    Harness,
    Item,
    eventually,
    run,
    running_bot,
    write_feed,
)
from tests.bot.discord.helpers import make_settings as discord_settings
from tests.fakediscord import FakeDiscord
from tests.fakegithub import FakeGitHub

OWNER, NAME = "maintainer", "awesome-deep-phenomena"
REPO = f"{OWNER}/{NAME}"
BRANCH = "paperbot/additions"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Maintainer",
    "GIT_AUTHOR_EMAIL": "m@example.org",
    "GIT_COMMITTER_NAME": "Maintainer",
    "GIT_COMMITTER_EMAIL": "m@example.org",
}

PAPERS = [
    Item(
        "2411.91001",
        "Double descent, benign overfitting and grokking in deep neural networks",
        "We relate double descent, benign overfitting and grokking in neural networks.",
    ),
    Item(
        "2411.91002",
        "Double descent in deep neural networks, revisited",
        "We study double descent and benign overfitting in neural networks.",
    ),
    Item(
        "2411.91003",
        "Grokking in transformers trained on modular arithmetic",
        "We explain grokking of transformers and its relation to double descent.",
    ),
]


def git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | IDENTITY
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env
    )
    return done.stdout


@dataclass
class ListRepo:
    """The list's repository (bare, the remote), paperbot's clone, and the maintainer's."""

    bare: Path
    clone: Path
    maintainer: Path

    def readme(self, ref: str = "master") -> str:
        return git(self.bare, "show", f"{ref}:README.md")

    def has_branch(self) -> bool:
        return bool(git(self.bare, "branch", "--list", BRANCH).strip())

    def branch_papers(self) -> list[str]:
        """The papers the remote branch adds to master, by the commits' trailers."""
        if not self.has_branch():
            return []
        out = git(
            self.bare,
            "log",
            "--reverse",
            "--format=%(trailers:key=Paperbot-Paper,valueonly)",
            f"master..{BRANCH}",
        )
        return [line for line in out.split() if line]

    def edit_upstream(self, edit: Callable[[str], str], message: str) -> None:
        """The maintainer edits the README by hand and pushes to master."""
        git(self.maintainer, "pull", "-q", "--ff-only", "origin", "master")
        path = self.maintainer / "README.md"
        path.write_bytes(edit(path.read_bytes().decode("utf-8")).encode("utf-8"))
        git(self.maintainer, "commit", "-qam", message)
        git(self.maintainer, "push", "-q", "origin", "master")


@pytest.fixture
def list_repo(tmp_path: Path, seed_text: str) -> ListRepo:
    bare = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(bare))
    maintainer = tmp_path / "maintainer"
    git(tmp_path, "clone", "-q", str(bare), str(maintainer))
    git(maintainer, "checkout", "-q", "-b", "master")
    (maintainer / "README.md").write_bytes(seed_text.encode("utf-8"))
    git(maintainer, "add", "README.md")
    git(maintainer, "commit", "-qm", "The list")
    git(maintainer, "push", "-q", "origin", "master")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    return ListRepo(bare, clone, maintainer)


@pytest.fixture
async def github(list_repo: ListRepo) -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub() as server:
        server.add_repo(OWNER, NAME, default_branch="master", git_dir=list_repo.bare)
        yield server
    assert not server.unknown_requests


def make_settings(tmp_path: Path, list_repo: ListRepo, github: FakeGitHub | None) -> Settings:
    settings = Settings()
    settings.base_dir = tmp_path
    settings.catalog.data_dir = str(tmp_path / "data")
    settings.arxiv.feeds = [(tmp_path / "feed.xml").resolve().as_uri()]
    settings.arxiv.min_interval = 0.0
    settings.arxiv.retries = 0
    settings.model.enabled = False
    settings.publish.repo = str(list_repo.clone)
    settings.publish.remote = "origin"
    if github is not None:
        settings.publish.github_repo = REPO
        settings.github_token = SecretStr(github.token)
        settings.github_api_base = github.base_url
    return settings


@contextlib.asynccontextmanager
async def opened(settings: Settings, list_repo: ListRepo) -> AsyncIterator[App]:
    app = await App.open(settings)
    try:
        if await app.catalog.current_list() is None:
            await app.import_list(list_repo.readme(), "README.md")
        yield app
    finally:
        await app.close()


async def approve(app: App, tmp_path: Path, *items: Item, section: str = "Empirical Study") -> None:
    """The items as candidates from a feed, then approved into `section`."""
    url = write_feed(tmp_path / "feed.xml", items)
    await app.poll([url])
    for item in items:
        result = await app.decide(
            item.arxiv_id, True, "tester", AddedHow.CLI, section=section, recheck=False
        )
        assert result.kind == "approved", result


def keys_in(text: str) -> list[str]:
    return [e.key for e in parse_awesome(text).entries]


# -- the pull request ----------------------------------------------------------------------


async def test_publish_pushes_the_branch_and_opens_one_pull_request_listing_every_paper(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "opened"
    (pull,) = github.pulls(OWNER, NAME)
    assert (pull.number, pull.state, pull.base, pull.head) == (1, "open", "master", BRANCH)
    assert pull.title == "Add 2 papers"
    for item in PAPERS[:2]:
        assert f"(https://arxiv.org/abs/{item.arxiv_id})" in pull.body
        assert item.title.split(",")[0] in pull.body
    assert pull.body.count("in *Empirical Study*") == 2
    assert pull.body.count("· approved by tester") == 2  # decided by the CLI: no vote cast
    assert list_repo.branch_papers() == [PAPERS[0].arxiv_id, PAPERS[1].arxiv_id]
    on_branch = list_repo.readme(BRANCH)
    assert keys_in(on_branch).count(PAPERS[0].arxiv_id) == 1
    # The branch is the list plus the entries: master's README is a prefix-and-suffix of it.
    assert len(on_branch.splitlines()) > len(list_repo.readme().splitlines())


async def test_a_rerun_pushes_nothing_and_keeps_the_one_pull_request(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
        tip = git(list_repo.bare, "rev-parse", BRANCH)
        again = await app.publish()
    assert again.report.kept and not again.report.pushed
    assert again.pull is not None and again.pull.action == "unchanged"
    assert git(list_repo.bare, "rev-parse", BRANCH) == tip
    assert len(github.pulls(OWNER, NAME)) == 1
    assert not github.calls("PATCH")


async def test_a_new_approval_rebuilds_the_branch_and_updates_the_pull_request(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
        await approve(app, tmp_path, PAPERS[1], section="Deep Learning Theory")
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "updated"
    (pull,) = github.pulls(OWNER, NAME)
    assert pull.title == "Add 2 papers" and "in *Deep Learning Theory*" in pull.body
    assert list_repo.branch_papers() == [PAPERS[0].arxiv_id, PAPERS[1].arxiv_id]


async def test_dry_run_says_what_the_pull_request_would_say_and_writes_nothing(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        result = await app.publish(dry_run=True)
    assert result.pull is not None and result.pull.action == "opened"
    assert result.pull.line.startswith("would open a pull request: Add Double descent")
    assert PAPERS[0].arxiv_id in result.pull.body
    assert [c.key for c in result.report.commits] == [PAPERS[0].arxiv_id]
    assert not list_repo.has_branch() and not github.pulls(OWNER, NAME)
    assert not github.calls("POST") and not github.calls("PATCH")


# -- following the list ----------------------------------------------------------------------


async def test_a_merge_upstream_is_followed_the_papers_listed_and_the_branch_left_empty(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        await app.publish()
        github.merge_pull(1)
        result = await app.sync()
        assert result.imported
        assert result.lines[0] == "merged: pull request #1, 2 papers in the list"
        stored = await app.catalog.current_list()
        assert stored is not None
        assert {PAPERS[0].arxiv_id, PAPERS[1].arxiv_id} <= set(keys_in(stored.text))
        again = await app.sync()
        assert not again.imported and again.lines == []
        nothing = await app.publish()
    assert nothing.pull is not None and nothing.pull.action == "none"
    assert not nothing.report.commits
    assert len(nothing.report.unchanged) == 2
    assert list_repo.branch_papers() == []  # the merged branch adds nothing to master now
    assert keys_in(list_repo.readme()).count(PAPERS[0].arxiv_id) == 1


async def test_a_hand_edit_upstream_rebuilds_the_branch_on_it_without_conflict_or_duplicate(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        await app.publish()
        # The maintainer adds one of the approved papers by hand (a line of their own) and
        # edits the section's heading area, where the branch's insertions also go.
        ours = [
            line for line in list_repo.readme(BRANCH).splitlines() if PAPERS[0].arxiv_id in line
        ]

        def edit(text: str) -> str:
            text = text.replace("## Empirical Study\n", "## Empirical Study\n\nHand-edited.\n", 1)
            return text.replace("### 2019\n", "### 2019\n\n" + ours[0] + "\n", 1)

        list_repo.edit_upstream(edit, "Hand edit")
        result = await app.sync()
    assert result.imported
    assert f"in the list now: 1 approved paper ({PAPERS[0].arxiv_id})" in result.lines
    assert any(line.startswith("updated pull request #1") for line in result.lines)
    assert list_repo.branch_papers() == [PAPERS[1].arxiv_id]
    branch = list_repo.readme(BRANCH)
    assert "Hand-edited." in branch
    assert keys_in(branch).count(PAPERS[0].arxiv_id) == 1
    assert keys_in(branch).count(PAPERS[1].arxiv_id) == 1
    git(list_repo.bare, "merge-base", "--is-ancestor", "master", BRANCH)  # on the new head
    (pull,) = github.pulls(OWNER, NAME)
    assert PAPERS[0].arxiv_id not in pull.body and PAPERS[1].arxiv_id in pull.body


async def test_a_pull_request_closed_without_merging_waits_for_a_new_approval(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        await app.publish()
        github.close_pull(1)
        result = await app.sync()
        assert result.lines == [
            "pull request #1 closed without merging: 2 papers stay approved and wait for the"
            " next one",
            "waiting: the 2 approved papers of the pull request closed without merging; a new"
            " approval or a publish by hand offers them again",
        ]
        assert len(github.pulls(OWNER, NAME)) == 1
        assert (await app.publish(by_hand=False)).pull.action == "waiting"  # type: ignore[union-attr]
        for paper in PAPERS[:2]:
            found = await app.catalog.get_paper(paper.arxiv_id)
            assert found is not None and found.added_how == "cli"  # still approved
        await approve(app, tmp_path, PAPERS[2])
        result = await app.publish(by_hand=False)
    assert result.pull is not None and result.pull.action == "opened"
    second = github.pulls(OWNER, NAME)[-1]
    assert second.number == 2 and second.title == "Add 3 papers"
    assert list_repo.branch_papers() == [p.arxiv_id for p in PAPERS]


async def test_a_paper_the_maintainer_removes_leaves_the_catalog_and_is_said(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
        github.merge_pull(1)
        await app.sync()
        gone = PAPERS[0].arxiv_id
        list_repo.edit_upstream(
            lambda t: "\n".join(line for line in t.split("\n") if gone not in line), "Remove"
        )
        result = await app.sync()
        assert result.removed == [gone]
        assert f"the maintainer removed 1: {gone}" in result.lines
        assert await app.catalog.get_paper(gone) is None
        after = await app.publish()
    assert after.pull is not None and after.pull.action == "none"  # not offered again


# -- faults: one line each, nothing lost ---------------------------------------------------------


async def test_no_token_is_one_line_the_branch_is_pushed_and_the_next_run_opens_it(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    settings.github_token = None
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        with pytest.raises(ForgeAuthError, match=r"^GITHUB_TOKEN is not set") as caught:
            await app.publish()
    assert "\n" not in str(caught.value)
    assert not github.requests  # nothing was even tried without a token
    settings.github_token = SecretStr(github.token)
    settings.publish.base = ""
    async with opened(settings, list_repo) as app:
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "opened"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (
            "revoked",
            "GitHub refused the token (401 Bad credentials): it was revoked or has expired",
        ),
        ("read-only", "the token may not do this on maintainer/awesome-deep-phenomena (403"),
    ],
)
async def test_a_refused_token_is_one_line_and_the_next_run_completes(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub, fault: str, words: str
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        settings.publish.base = "master"  # the pull request is the first call to fail
        if fault == "revoked":
            github.revoke_token()
        else:
            github.set_permissions(push=False)
        with pytest.raises(ForgeAuthError) as caught:
            await app.publish()
        assert words in str(caught.value) and "\n" not in str(caught.value)
        assert list_repo.branch_papers() == [PAPERS[0].arxiv_id]  # pushed before the call
        if fault == "revoked":
            settings.github_token = SecretStr(github.new_token())
        else:
            github.set_permissions(push=True)
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "opened"
    assert len(github.pulls(OWNER, NAME)) == 1


async def test_a_spent_rate_limit_gives_up_until_it_resets_without_hammering(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        github.exhaust_rate_limit(reset_in=3600)
        with pytest.raises(ForgeRateLimited, match="GitHub's rate limit: no more calls until"):
            await app.publish()
        assert len(github.requests) == 1  # one refused call, no retry loop
        # The service's next run (same process) makes no call at all until the reset.
        with pytest.raises(ForgeRateLimited, match="rate limit is spent until"):
            await app.publish()
        assert len(github.requests) == 1
    assert not list_repo.has_branch() and not github.pulls(OWNER, NAME)


async def test_a_short_secondary_rate_limit_is_waited_out_once(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        github.secondary_rate_limit(retry_after=1, status=429, times=1)
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "opened"


async def test_an_unreachable_host_is_one_line(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        github.drop_connections()
        with pytest.raises(ForgeUnreachable, match=r"^cannot reach GitHub at 127\.0\.0\.1:"):
            await app.publish()
        github.drop_connections(False)
        result = await app.publish()
    assert result.pull is not None and result.pull.action == "opened"


async def test_a_renamed_repository_is_followed_and_said(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    github.rename_repo(OWNER, NAME, "awesome-phenomena")
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        result = await app.publish()
    assert result.notes == [
        f"{REPO} is now {OWNER}/awesome-phenomena on GitHub: set [publish] github_repo ="
        f' "{OWNER}/awesome-phenomena"'
    ]
    assert result.pull is not None and result.pull.action == "opened"
    assert len(github.pulls(OWNER, "awesome-phenomena")) == 1


async def test_the_branch_deleted_upstream_is_said_and_pushed_again_by_hand(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
        # GitHub closes a pull request whose branch is deleted: a "no" to its papers.
        git(list_repo.bare, "branch", "-D", BRANCH)
        scheduled = await app.publish(by_hand=False)
        assert scheduled.news == [
            "pull request #1 closed without merging: 1 paper stays approved and waits for the"
            " next one"
        ]
        assert scheduled.pull is not None and scheduled.pull.action == "waiting"
        assert not list_repo.has_branch()
        result = await app.publish()
    assert result.report.pushed and result.pull is not None
    assert result.pull.action == "opened"
    assert list_repo.branch_papers() == [PAPERS[0].arxiv_id]
    assert [(p.number, p.state) for p in github.pulls(OWNER, NAME)] == [
        (1, "closed"),
        (2, "open"),
    ]


async def test_a_refused_push_is_one_line_and_nothing_is_lost(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    hook = list_repo.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: no pushes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        with pytest.raises(PublishError, match="push to origin refused") as caught:
            await app.publish()
        assert "protected: no pushes today" in str(caught.value)
        assert not github.pulls(OWNER, NAME)
        hook.unlink()
        result = await app.publish()
    assert result.report.pushed and result.pull is not None and result.pull.action == "opened"


async def test_a_run_that_stops_after_the_push_is_completed_by_the_next_never_a_second_pull(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        github.fail_next("POST", "/repos/{owner}/{repo}/pulls", 502)
        with pytest.raises(ForgeError):
            await app.publish()
        assert list_repo.branch_papers() == [PAPERS[0].arxiv_id]
        # The host made the pull request but the answer never came back: the number was
        # never stored. The next run finds it by its branch.
        github.delay(0.5, phase="reply")
        forge = GitHub(REPO, github.token, api_base=github.base_url, timeout=0.2)
        with pytest.raises(ForgeUnreachable):
            await forge.create_pull(BRANCH, "master", "Add it", "body")
        github.delay(None)
        result = await app.publish()
        assert result.pull is not None and result.pull.action == "updated"
    assert len(github.pulls(OWNER, NAME)) == 1


# -- the scheduled jobs and the admin channel --------------------------------------------------


@dataclass
class Admins:
    """A front end that only listens: what the admin channel would be told."""

    heard: list[str]
    ready: bool = True

    async def after_poll(self, report: object) -> None: ...

    async def after_expire(self, expired: list[str]) -> None: ...

    async def post_digest(self) -> None: ...

    async def tell_admins(self, lines: list[str]) -> None:
        self.heard.extend(lines)


async def test_the_sync_job_tells_the_admins_and_a_failure_is_one_line_not_a_crash(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        admins = Admins([])
        worker = Worker(app, admins)  # type: ignore[arg-type]
        await approve(app, tmp_path, PAPERS[0])
        await worker.publish()
        assert admins.heard == ["opened pull request #1: https://github.com/" + REPO + "/pull/1"]
        github.merge_pull(1)
        github.drop_connections()
        await worker.sync()
        assert admins.heard[-1].startswith("following the list failed: cannot reach GitHub")
        github.drop_connections(False)
        await worker.sync()
    assert admins.heard[-1] == "merged: pull request #1, 1 paper in the list"


# -- end to end: votes in Discord to a merged line and back ----------------------------------


async def test_votes_in_discord_to_a_merged_pull_request_and_back_into_the_catalog(
    fake_discord: FakeDiscord, tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    feed = tmp_path / "feed.xml"
    url = write_feed(feed, [STRONG])
    settings = discord_settings(fake_discord, tmp_path, [url])
    settings.publish.repo = str(list_repo.clone)
    settings.publish.remote = "origin"
    settings.publish.github_repo = REPO
    settings.github_token = SecretStr(github.token)
    settings.github_api_base = github.base_url
    fake_discord.enable_rate_limits()
    async with running_bot(fake_discord, settings) as h:
        await h.app.import_list(list_repo.readme(), "README.md")
        await h.worker.poll()
        post = h.post_of(STRONG.arxiv_id)
        alice, bob = h.member("alice"), h.member("bob")
        await h.react(alice, post, CHECK)
        await h.react(bob, post, CHECK)
        await eventually(lambda: _status_is(h, STRONG.arxiv_id, "approved"), timeout=10.0)

        # A curator publishes by hand; the schedule's run after it finds nothing to do.
        reply = await run(h, "publish", user=h.member("carol", "curator"))
        opened_line = f"opened pull request #1: https://github.com/{REPO}/pull/1"
        assert opened_line in "\n".join(reply.texts())
        (pull,) = github.pulls(OWNER, NAME)
        assert "votes ✅ 2 ❌ 0" in pull.body
        link = f"https://discord.com/channels/{fake_discord.guild_id}/{h.review}/{post['id']}"
        assert f"[discussion]({link})" in pull.body
        assert list_repo.branch_papers() == [STRONG.arxiv_id]
        await h.worker.publish()
        assert len(github.pulls(OWNER, NAME)) == 1 and h.texts(h.admin) == []

        github.merge_pull(1, by="maintainer")
        await h.worker.sync()
        merged_line = "merged: pull request #1, 1 paper in the list"
        await eventually(lambda: merged_line in h.texts(h.admin), timeout=10.0)
        stored = await h.app.catalog.current_list()
        assert stored is not None and STRONG.arxiv_id in keys_in(stored.text)
        paper = await h.app.catalog.get_paper(STRONG.arxiv_id)
        assert paper is not None and paper.added_how == "vote"
    assert list_repo.branch_papers() == []
    assert keys_in(list_repo.readme()).count(STRONG.arxiv_id) == 1


async def _status_is(h: Harness, arxiv_id: str, status: str) -> bool:
    return await h.status(arxiv_id) == status


async def test_doctor_checks_the_remote_and_what_the_token_may_do(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    from bot.app.doctor import diagnose

    settings = make_settings(tmp_path, list_repo, github)

    async def said(what: str) -> list[tuple[str, str]]:
        found = (await diagnose(settings)).findings
        return [(f.level, f.text) for f in found if f.what == what]

    assert await said("pull request") == [
        ("ok", f"{REPO} on GitHub: the token may push and open pull requests into master")
    ]
    assert ("ok", "remote origin: reachable") in await said("repository")
    github.set_permissions(push=False)
    assert (await said("pull request"))[0][1].startswith(
        f"the token may read {REPO} but not push to it"
    )
    github.revoke_token()
    (level, text), *_ = await said("pull request")
    assert level == "problem" and text.startswith("GitHub refused the token (401")
    settings.github_token = None
    (level, text), *_ = await said("pull request")
    assert level == "problem" and text.startswith("GITHUB_TOKEN is not set")
    git(list_repo.clone, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    (level, text), *_ = [f for f in await said("repository") if f[0] == "problem"]
    assert text.startswith("remote origin: cannot be reached (")


async def _paperbot(config: Path, github: FakeGitHub, *args: str) -> tuple[int, str, str]:
    env = clean_env() | {"GITHUB_TOKEN": github.token, "GITHUB_API_BASE": github.base_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_command_line_syncs_and_says_each_change_in_a_line(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
    github.merge_pull(1)
    config = tmp_path / "paperbot.toml"
    config.write_text(
        f'[catalog]\ndata_dir = "{tmp_path / "data"}"\n[model]\nenabled = false\n'
        f'[publish]\nrepo = "{list_repo.clone}"\nremote = "origin"\ngithub_repo = "{REPO}"\n',
        encoding="utf-8",
    )
    code, out, err = await _paperbot(config, github, "sync", "--dry-run")
    assert (code, err) == (0, "")
    assert "origin/master changed (" in out and "dry run: nothing imported" in out
    assert "merged: pull request #1, 1 paper in the list" in out
    code, out, err = await _paperbot(config, github, "sync")
    assert code == 0, err
    assert out.splitlines()[1:] == ["merged: pull request #1, 1 paper in the list"]
    code, out, err = await _paperbot(config, github, "sync")
    assert out.splitlines()[1:] == [] and "the list has not changed" in out
    github.revoke_token()
    code, out, err = await _paperbot(config, github, "sync")
    assert code != 0 and "Traceback" not in err
    assert err.startswith("paperbot: error: GitHub refused the token (401")
    assert len(err.strip().splitlines()) == 1


async def test_a_pull_request_merged_before_a_publish_is_said_then_the_next_is_opened(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0])
        await app.publish()
        github.merge_pull(1)  # and no sync ran since
        await approve(app, tmp_path, PAPERS[1])
        result = await app.publish()
    assert result.news == ["merged: pull request #1, 1 paper in the list"]
    assert result.pull is not None and result.pull.action == "opened"
    assert [p.number for p in github.pulls(OWNER, NAME)] == [1, 2]
    assert list_repo.branch_papers() == [PAPERS[1].arxiv_id]


async def test_a_publish_and_a_sync_at_once_make_one_pull_request(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        github.delay(0.05)  # every call waits: the two runs overlap for sure
        published, synced, again = await asyncio.gather(
            app.publish(by_hand=False), app.sync(), app.publish()
        )
    assert len(github.pulls(OWNER, NAME)) == 1
    assert synced.publish is not None
    pulls = [published.pull, synced.publish.pull, again.pull]
    actions = sorted(p.action for p in pulls if p is not None)
    assert actions == ["opened", "unchanged", "unchanged"]
    assert list_repo.branch_papers() == [PAPERS[0].arxiv_id, PAPERS[1].arxiv_id]


async def test_the_publish_and_sync_schedules_are_jobs_of_the_service(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    from bot.runtime import build_scheduler

    settings = make_settings(tmp_path, list_repo, github)
    settings.publish.cron = "0 18 * * *"
    settings.publish.sync_cron = "*/30 * * * *"
    async with opened(settings, list_repo) as app:
        scheduler = build_scheduler(settings, Worker(app))
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert str(jobs["publish"].trigger) == str(
            CronTrigger.from_crontab("0 18 * * *", timezone="UTC")
        )
        assert str(jobs["sync"].trigger) == str(
            CronTrigger.from_crontab("*/30 * * * *", timezone="UTC")
        )
        settings.publish.cron = settings.publish.sync_cron = ""
        unscheduled = {job.id for job in build_scheduler(settings, Worker(app)).get_jobs()}
        assert not {"publish", "sync"} & unscheduled


async def test_following_the_list_works_without_a_pull_request_host(
    tmp_path: Path, list_repo: ListRepo
) -> None:
    """sync with a git remote alone: the remote's default branch is followed (its HEAD),
    a hand edit upstream is imported, and no host is asked anything."""
    settings = make_settings(tmp_path, list_repo, None)
    async with opened(settings, list_repo) as app:
        gone = keys_in(list_repo.readme())[0]
        list_repo.edit_upstream(
            lambda t: "\n".join(line for line in t.split("\n") if gone not in line), "Remove"
        )
        result = await app.sync()
        assert result.base == "origin/master" and result.imported
        assert result.lines == [f"the maintainer removed 1: {gone}"]
        assert await app.catalog.get_paper(gone) is None
        again = await app.sync()
    assert not again.imported and again.lines == [] and again.publish is None


async def test_a_sync_whose_publish_fails_still_says_what_it_found(
    tmp_path: Path, list_repo: ListRepo, github: FakeGitHub
) -> None:
    settings = make_settings(tmp_path, list_repo, github)
    async with opened(settings, list_repo) as app:
        await approve(app, tmp_path, PAPERS[0], PAPERS[1])
        await app.publish()
        github.merge_pull(1)
        await approve(app, tmp_path, PAPERS[2])
        github.fail_next("POST", "/repos/{owner}/{repo}/pulls", 502)
        result = await app.sync()
        assert result.imported and result.failed is not None
        assert result.lines[0] == "merged: pull request #1, 2 papers in the list"
        assert result.lines[-1].startswith("publishing failed: ")
        assert result.lines[-1].endswith("; the next run tries again")
        stored = await app.catalog.current_list()
        assert stored is not None and PAPERS[0].arxiv_id in keys_in(stored.text)
        again = await app.sync()  # the next run opens the pull request for the third
    assert again.failed is None and again.publish is not None
    assert again.publish.pull is not None and again.publish.pull.action == "opened"
    assert [p.number for p in github.pulls(OWNER, NAME)] == [1, 2]
