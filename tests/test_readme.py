"""The README's own commands, typed as written, do what the README says they do."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_session() -> list[str]:
    block = README.split("A first session", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def _shell(tmp_path: Path) -> dict[str, str]:
    """A folder where `.venv/bin/paperbot` is this checkout's paperbot, and a private home."""
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = venv_bin / "paperbot"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bot "$@"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"),
               XDG_DATA_HOME=str(tmp_path / "home" / ".local" / "share"),
               # Not what these tests are about, and seconds per import: tests/bot/app has it.
               PAPERBOT_MODEL__ENABLED="false")  # fmt: skip
    return env


def test_the_round_trip_commands_give_the_list_back_byte_for_byte(
    tmp_path: Path, shared: Callable[[str], Path]
) -> None:
    commands = [c for c in _first_session() if "import-awesome" in c or "export-awesome" in c]
    assert commands == [
        ".venv/bin/paperbot import-awesome README.md",
        ".venv/bin/paperbot export-awesome > README.out.md",
    ]
    for name in ("seeds/000_94920e77fcbe4d6f.txt", "data/awesome/README-2022-12-29-9a17759.md"):
        # a new user each: the first session starts with an empty catalog
        work = tmp_path / Path(name).stem
        work.mkdir()
        env = _shell(work)
        original = shared(name).read_bytes()
        (work / "README.md").write_bytes(original)
        for command in commands:
            subprocess.run(command, shell=True, cwd=work, env=env, check=True, timeout=120)
        assert (work / "README.out.md").read_bytes() == original, name
        assert not (work / "data").exists()  # outside a checkout: the user's data directory
        assert list((work / "home" / ".local" / "share" / "paperbot").glob("paperbot.db"))


def test_every_command_in_the_command_table_exists() -> None:
    table = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `paperbot ([a-z-]+)", table, flags=re.M))
    help_text = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout  # fmt: skip
    listed = set(re.findall(r"^    ([a-z-]+) ", help_text, flags=re.M))
    assert named == listed


def test_every_config_table_in_the_readme_is_in_the_example_file() -> None:
    example = (ROOT / "paperbot.example.toml").read_text(encoding="utf-8")
    tables = set(re.findall(r"^\| `\[([a-z]+)\]`", README, flags=re.M))
    assert tables == set(re.findall(r"^\[([a-z]+)\]$", example, flags=re.M))


def test_the_evaluation_command_is_one_a_user_can_type(shared: Callable[[str], Path]) -> None:
    """The README's `evaluate` block parses as written, and the files it names exist."""
    import shlex

    from bot.cli import build_parser

    block = README.split("--background ../shared", 1)[0].rsplit("```sh", 1)[1]
    block += README.split("```sh" + block, 1)[1].split("```", 1)[0]
    words = shlex.split(block.replace("\\\n", " "))
    assert words[0] == ".venv/bin/paperbot"
    args = build_parser().parse_args(words[1:])
    assert args.command == "evaluate"
    for path in [args.readme, *args.background]:
        assert str(path).startswith("../shared/")
        assert shared(str(path).removeprefix("../shared/")).exists()


def _publishing_setup() -> str:
    section = README.split("## Publishing to the list's repository", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh", 1)[1].split("```", 1)[0]


async def test_the_publishing_setup_typed_as_written_opens_the_pull_request(
    tmp_path: Path, shared: Callable[[str], Path]
) -> None:
    from tests.bot.discord.helpers import STRONG, write_feed
    from tests.bot.test_pull_requests import OWNER, git
    from tests.fakegithub import FakeGitHub

    block = _publishing_setup()
    assert "git clone https://github.com/OWNER/awesome-deep-phenomena.git list-clone" in block
    # The list on "GitHub": a bare repository holding the seed list.
    bare = tmp_path / "awesome-deep-phenomena.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "master")
    (seed / "README.md").write_bytes(shared("seeds/000_94920e77fcbe4d6f.txt").read_bytes())
    git(seed, "add", "README.md")
    git(seed, "commit", "-qm", "The list")
    git(seed, "push", "-q", "origin", "master")
    # A maintainer after the quick start: the list imported, one paper approved.
    work = tmp_path / "work"
    work.mkdir()
    env = _shell(work)
    url = write_feed(work / "feed.xml", [STRONG])
    (work / "paperbot.toml").write_text(
        f'[arxiv]\nfeeds = ["{url}"]\napi_base = "http://127.0.0.1:9/api"\nmin_interval = 0.0\n'
        "retries = 0\n\n",
        encoding="utf-8",
    )
    (work / "README.md").write_bytes((seed / "README.md").read_bytes())
    before = [
        ".venv/bin/paperbot import-awesome README.md",
        ".venv/bin/paperbot poll --once",
        f".venv/bin/paperbot approve {STRONG.arxiv_id} --section 'Empirical Study'",
    ]
    for command in before:  # before any server runs: nothing waits on this loop yet
        subprocess.run(command, shell=True, cwd=work, env=env, check=True, timeout=120)  # noqa: ASYNC221

    async with FakeGitHub() as github:
        github.add_repo(OWNER, "awesome-deep-phenomena", git_dir=bare)
        typed = (
            block.replace("https://github.com/OWNER/awesome-deep-phenomena.git", str(bare))
            .replace("OWNER", OWNER)
            .replace("github_pat_11AAAAAA", github.token)
        )
        script = f"set -e\nexport GITHUB_API_BASE={github.base_url}\n{typed}"
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", script, cwd=work, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()
        pulls = github.pulls(OWNER, "awesome-deep-phenomena")
    stdout = out.decode()
    assert "the token may push and open pull requests into master" in stdout  # doctor
    assert "would open a pull request: Add Double descent" in stdout
    assert (
        f"opened pull request #1: https://github.com/{OWNER}/awesome-deep-phenomena/pull/1"
        in stdout
    )
    assert github.token not in stdout + err.decode()
    (pull,) = pulls
    assert pull.state == "open" and STRONG.arxiv_id in pull.body
    assert git(bare, "log", "--format=%s", "-1", "paperbot/additions").startswith(
        "Add Double descent"
    )
