"""Regressions where bot/ called feeds/ and db/: each bad input one line, blocking work off the loop."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import load_settings
from feeds.relevance import RelevanceModel
from tests.bot.cli_helpers import FEED_2024, Cli, Result, clean_env
from tests.fakediscord import FakeDiscord

Shared = Callable[[str], Path]
OPENREVIEW_URL = "https://openreview.net/forum?id=H1gBsgBYwH"


def one_line_error(proc: Result, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def approve_one(cli: Cli, shared: Shared, seed_file: Path) -> str:
    """Import the seed, poll the real feed (rules alone), approve the best candidate."""
    cli.configure(f'feeds = ["{shared(FEED_2024).as_uri()}"]\n[model]\nenabled = false\n')
    cli("import-awesome", str(seed_file))
    cli("poll", "--once")
    target = json.loads(cli("candidates", "--json").stdout)[0]["arxiv_id"]
    cli("approve", target)
    return target


def test_a_file_that_is_not_a_catalog_is_one_line(cli: Cli) -> None:
    # sqlite3.DatabaseError used to escape Services.open as a traceback, for every command.
    data = cli.home / "data"
    data.mkdir()
    (data / "paperbot.db").write_bytes(b"not a database " * 300)
    result = cli.subprocess("search", "x", check=False)
    one_line_error(result, "paperbot.db: the catalog is damaged")
    # The advice is the command line's, after db/'s statement of what happened.
    assert result.stderr.rstrip().endswith(
        "); run `paperbot doctor` (it says whether `--repair` can fix it), or restore a backup"
    )


def test_a_config_file_that_is_not_utf8_is_one_line(cli: Cli) -> None:
    cli.config.write_bytes(b'[arxiv]\nfeeds = ["\xff"]\n')
    one_line_error(cli("feeds", check=False), "not UTF-8 text")


def test_export_into_a_crlf_readme_keeps_its_line_endings(
    cli: Cli, shared: Shared, seed_file: Path
) -> None:
    # read_text's universal newlines turned every CRLF of the list into LF on export.
    target = approve_one(cli, shared, seed_file)
    crlf = seed_file.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    readme = cli.home / "CRLF.md"
    readme.write_bytes(crlf)
    cli("export-awesome", "--into", str(readme))
    written = readme.read_bytes()
    assert f"https://arxiv.org/abs/{target}".encode() in written
    assert b"\n" not in written.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert written.count(b"\r\n") > crlf.count(b"\r\n")


def test_export_into_a_readme_that_is_not_utf8_or_not_writable_is_one_line(
    cli: Cli, shared: Shared, seed_file: Path
) -> None:
    approve_one(cli, shared, seed_file)
    latin = cli.home / "LATIN1.md"
    latin.write_bytes(seed_file.read_bytes() + "Müller\n".encode("latin-1"))
    one_line_error(cli("export-awesome", "--into", str(latin), check=False), "not UTF-8 text")
    # The atomic write's temporary file cannot be created: an OSError, not a traceback.
    (cli.home / "README.md.paperbot-tmp").mkdir()
    one_line_error(cli("export-awesome", "--into", str(seed_file), check=False), "cannot write")


def test_approve_of_an_imported_paper_says_it_is_listed(cli: Cli, seed_file: Path) -> None:
    # It used to answer "'1912.02292' is not a candidate", as if the id were a typo.
    cli("import-awesome", str(seed_file))
    out = cli("approve", "https://arxiv.org/abs/1912.02292")
    assert "1912.02292: already in the catalog (Empirical Study" in out.stdout
    one_line_error(cli("reject", "1912.02292", check=False), "is in the catalog, not a candidate")
    one_line_error(cli("approve", "2401.99999", check=False), "2401.99999 is not a candidate")


def test_show_finds_an_openreview_paper_by_its_link(cli: Cli, seed_file: Path) -> None:
    cli("import-awesome", str(seed_file))
    by_key = json.loads(cli("show", "openreview:H1gBsgBYwH", "--json").stdout)
    by_link = json.loads(cli("show", OPENREVIEW_URL, "--json").stdout)
    assert by_link == by_key and by_link["kind"] == "paper"
    assert by_link["title"].startswith("Generalization of Two-layer Neural Networks")


def test_output_into_a_closed_pipe_is_not_a_traceback(cli: Cli, seed_file: Path) -> None:
    # `paperbot search … | head`: the reader is gone before paperbot writes.
    cli("import-awesome", str(seed_file))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(cli.config),
            "search",
            "deep",
            "--limit",
            "100",
        ],
        cwd=cli.home,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8")
    proc.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert proc.returncode == 141


async def test_a_stored_model_is_loaded_off_the_event_loop(
    tmp_path: Path, shared: Shared, seed_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RelevanceModel.from_bytes decompresses tens of MB; on the loop it stalls the gateway.
    config = tmp_path / "paperbot.toml"
    config.write_text(
        f'[arxiv]\nfeeds = ["{shared(FEED_2024).as_uri()}"]\n'
        'contact = "mailto:test@example.org"\nmin_interval = 0.0\nretries = 0\n'
        'api_base = "http://127.0.0.1:9/api"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={})
    app = await App.open(settings)
    try:
        await app.import_list(seed_text, "seed")  # trains and stores the first model
        assert app.ranker.model is not None
    finally:
        await app.close()

    threads: list[threading.Thread] = []
    original = RelevanceModel.from_bytes.__func__  # type: ignore[attr-defined]

    def spy(cls: type[RelevanceModel], data: bytes) -> RelevanceModel:
        threads.append(threading.current_thread())
        return original(cls, data)

    monkeypatch.setattr(RelevanceModel, "from_bytes", classmethod(spy))
    app = await App.open(settings)
    try:
        assert app.ranker.model is not None
        assert threads and threads[0] is not threading.main_thread()
    finally:
        await app.close()


async def test_discord_show_finds_an_openreview_paper_by_its_link(
    fake_discord: FakeDiscord, tmp_path: Path, seed_text: str
) -> None:
    from tests.bot.discord.helpers import make_settings, run, running_bot

    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path)) as h:
        await h.app.import_list(seed_text, "seed")
        shown = await run(h, "show", {"id": OPENREVIEW_URL}, user=h.member("erin"))
        embed = shown.messages()[0]["embeds"][0]
        assert embed["title"].startswith("Generalization of Two-layer Neural Networks")
        assert embed["url"] == OPENREVIEW_URL


async def test_a_curator_moves_an_openreview_paper_by_its_link(
    fake_discord: FakeDiscord, tmp_path: Path, seed_text: str
) -> None:
    from tests.bot.discord.helpers import make_settings, run, running_bot

    async with running_bot(fake_discord, make_settings(fake_discord, tmp_path)) as h:
        await h.app.import_list(seed_text, "seed")
        moved = await run(
            h,
            "section",
            {"id": OPENREVIEW_URL, "section": "Empirical Study"},
            user=h.member("cora", "curator"),
        )
        assert "Empirical Study" in " ".join(moved.texts())
        paper = await h.catalog.get_paper("openreview:H1gBsgBYwH")
        assert paper is not None and paper.section == "Empirical Study"
