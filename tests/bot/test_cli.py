"""The `paperbot` command line, run as a subprocess on a temporary database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
FEED_2024 = "data/arxiv-rss/rss-all-archives-2024-11-28.xml"


class Cli:
    """Runs `python -m bot` in a directory of its own with its own config file."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.config = home / "paperbot.toml"

    def configure(self, text: str = "") -> None:
        self.config.write_text(
            '[arxiv]\ncontact = "mailto:test@example.org"\nmin_interval = 0.0\n'
            "retries = 0\ntimeout = 5.0\n" + text,
            encoding="utf-8",
        )

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
        env["PYTHONPATH"] = str(ROOT)
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(self.config), *args],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"paperbot {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(tmp_path)
    runner.configure()
    return runner


@pytest.fixture
def seed_file(seed_text: str, tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_bytes(seed_text.encode("utf-8"))
    return path


def test_import_then_export_reproduces_the_seed_byte_for_byte(
    cli: Cli, seed_file: Path, seed_text: str
) -> None:
    out = cli("import-awesome", str(seed_file))
    assert "34 entries in 5 sections; 34 added" in out.stdout
    again = cli("import-awesome", str(seed_file))
    assert "0 added, 0 updated, 34 unchanged" in again.stdout  # idempotent
    dry = cli("export-awesome", "--into", str(seed_file), "--dry-run")
    assert dry.stdout == ""  # nothing approved yet: an empty diff
    assert seed_file.read_bytes() == seed_text.encode("utf-8")


def test_search_ranks_the_double_descent_papers_first(cli: Cli, seed_file: Path) -> None:
    cli("import-awesome", str(seed_file))
    out = cli("search", "double descent", "--json")
    hits = json.loads(out.stdout)["hits"]
    titles = [h["title"] for h in hits[:3]]
    assert any("Double Descent" in t for t in titles[:2]), titles
    assert "Deep Double Descent: Where Bigger Models and More Data Hurt" in titles
    text = cli("search", "double descent", "--section", "Empirical Study").stdout
    assert "Deep Double Descent" in text and "Double Trouble" not in text
    assert cli("search", "zzzz qqqq").stdout.strip() == "no results"


@pytest.mark.parametrize(
    "query", ['"unbalanced', "NEAR(a b)", "a OR -b*", "title:x", "(((", "😀" * 50, "x" * 10000, "\x01\x02"]
)
def test_hostile_search_text_never_fails(cli: Cli, query: str) -> None:
    out = cli("search", query, "--json")
    assert "hits" in json.loads(out.stdout)


def test_poll_dry_run_on_the_real_feed_prints_candidates_with_reasons(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    url = shared(FEED_2024).as_uri()
    out = cli("poll", "--once", "--dry-run", "--feed", url)
    assert f"{url}: ok, 1504 items" in out.stdout
    assert " in title" in out.stdout or " in abstract" in out.stdout
    assert "dry run: nothing stored" in out.stdout
    data = json.loads(cli("poll", "--once", "--dry-run", "--feed", url, "--json").stdout)
    assert data["candidates"], "the real feed has on-topic papers"
    for c in data["candidates"]:
        assert c["reasons"] and c["section"] and c["score"] > 0
    # A dry run stores nothing: no candidates and no feed state.
    assert cli("candidates").stdout.strip() == "no candidates"
    assert json.loads(cli("feeds", "--json").stdout)[0]["last_checked"] is None


def test_poll_stores_candidates_once_and_approve_exports_into_the_list(
    cli: Cli, shared: Callable[[str], Path], seed_file: Path, seed_text: str
) -> None:
    url = shared(FEED_2024).as_uri()
    # Rules alone: with the model on, the first poll would train it and change the ranking.
    cli.configure(f'feeds = ["{url}"]\n[model]\nenabled = false\n')
    cli("import-awesome", str(seed_file))
    first = cli("poll", "--once", "--json")
    stored = json.loads(first.stdout)["stored"]
    assert stored["new"]
    second = json.loads(cli("poll", "--once", "--json").stdout)["stored"]
    assert not second["new"]  # idempotent: the same feed twice adds nothing
    candidates = json.loads(cli("candidates", "--json").stdout)
    target = candidates[0]["arxiv_id"]
    section = candidates[0]["suggested_section"]
    assert cli("approve", target).stdout.strip().startswith(f"{target}: approved into {section}")
    assert "already approved" in cli("approve", target).stdout  # idempotent
    other = candidates[1]["arxiv_id"]
    assert "rejected" in cli("reject", other).stdout
    diff = cli("export-awesome", "--into", str(seed_file), "--dry-run").stdout
    assert "+- " in diff and f"https://arxiv.org/abs/{target}" in diff
    assert seed_file.read_bytes() == seed_text.encode("utf-8")  # dry run wrote nothing
    cli("export-awesome", "--into", str(seed_file))
    exported = seed_file.read_text(encoding="utf-8")
    assert f"https://arxiv.org/abs/{target}" in exported
    assert f"https://arxiv.org/abs/{other}" not in exported
    # Exporting again inserts nothing: the paper is already in the list.
    again = cli("export-awesome", "--into", str(seed_file))
    assert "0 paper(s) inserted" in again.stdout
    feeds = json.loads(cli("feeds", "--json").stdout)
    assert feeds[0]["healthy"] and feeds[0]["last_success"]


@pytest.fixture
def arxiv_api(shared: Callable[[str], Path]) -> Iterator[str]:
    """A loopback arXiv API serving the real recorded responses, in a thread of its own."""
    import asyncio
    import threading

    good = shared("data/arxiv-api/api-2026-id_list-0808.05394-1707.08567.xml").read_bytes()
    empty = shared("data/arxiv-api/api-2026-id_list-0000.0000-empty.xml").read_bytes()

    async def query(request: web.Request) -> web.Response:
        ids = request.query.get("id_list", "")
        body = good if "1707.08567" in ids else empty
        return web.Response(body=body, content_type="application/atom+xml")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/api/query", query)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/api"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_add_fetches_metadata_from_the_api(cli: Cli, arxiv_api: str) -> None:
    cli.configure(f'api_base = "{arxiv_api}"\n')
    out = cli("add", "https://arxiv.org/abs/1707.08567v1")
    assert "1707.08567" in out.stdout and "added as a candidate" in out.stdout
    assert "already known" in cli("add", "arXiv:1707.08567").stdout
    missing = cli("add", "0000.0000", check=False)
    assert missing.returncode == 2
    assert "arXiv has no paper" in missing.stderr or "0000.0000" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "not-an-id"), "'not-an-id'"),
        (("approve", "2401.99999"), "2401.99999"),
        (("import-awesome", "/nonexistent/README.md"), "cannot read"),
        (("search", "x", "--year", "soon"), "'soon' is not a year"),
        (("poll", "--once", "--feed", "file:///nonexistent/feed.xml"), "nonexistent"),
    ],
)
def test_bad_input_is_one_clear_line(cli: Cli, args: tuple[str, ...], message: str) -> None:
    proc = cli(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr or message in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_broken_config_is_one_line(cli: Cli) -> None:
    cli.config.write_text("[arxiv]\nfeeds = 3\n", encoding="utf-8")
    proc = cli("feeds", check=False)
    assert proc.returncode == 2
    assert "[arxiv] feeds: expected a list of strings" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_model_trains_after_the_first_poll_and_explains_candidates(
    cli: Cli, shared: Callable[[str], Path], seed_file: Path
) -> None:
    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n')
    assert "no model trained yet" in cli("model").stdout
    cli("import-awesome", str(seed_file))
    cli("poll", "--once")  # stores the background, then trains the first model
    info = json.loads(cli("model", "--json").stdout)
    assert info["version"] == 1 and info["positives"] == 34 and info["in_use"]
    out = cli("poll", "--once", "--dry-run").stdout
    assert "model relevance" in out and "like *" in out


def test_the_headless_worker_polls_at_start_and_stops_cleanly_on_sigterm(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    import signal
    import time

    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n[model]\nenabled = false\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(cli.config), "run"],
        cwd=cli.home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        stored: list[object] = []
        while time.monotonic() < deadline and not stored:
            time.sleep(0.5)
            feeds = json.loads(cli("feeds", "--json").stdout)
            stored = [f for f in feeds if f["last_success"]]
        assert stored, "the poll on start did not run"
        assert "no candidates" not in cli("candidates").stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "DISCORD_TOKEN is not set" in err and "worker running" in err
    assert "Traceback" not in err
