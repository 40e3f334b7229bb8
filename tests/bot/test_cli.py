"""The `paperbot` command line on a temporary catalog (in process; a few as real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot.cli_helpers import FEED_2024, Cli, clean_env


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
    "query",
    ['"unbalanced', "NEAR(a b)", "a OR -b*", "title:x", "x" * 10000, "(((x"],
)
def test_hostile_search_text_never_fails(cli: Cli, query: str) -> None:
    out = cli("search", query, "--json")
    assert "hits" in json.loads(out.stdout)


@pytest.mark.parametrize("query", ["(((", "😀" * 50, "\x01\x02", "%", ""])
def test_search_text_without_a_word_is_refused_not_the_whole_catalog(cli: Cli, query: str) -> None:
    result = cli("search", query, "--json", check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert "has no word to look for" in result.stderr and len(result.stderr.splitlines()) == 1


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


def test_add_fetches_metadata_from_the_api(cli: Cli, arxiv_api: str) -> None:
    cli.configure(api_base=arxiv_api)
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


def test_bad_input_in_a_real_process_is_one_line_and_no_traceback(cli: Cli) -> None:
    proc = cli.subprocess("approve", "2401.99999", check=False)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "paperbot: error: 2401.99999 is not a candidate (nor in the catalog)"
    )


def test_a_broken_config_is_one_line(cli: Cli) -> None:
    cli.config.write_text("[arxiv]\nfeeds = 3\n", encoding="utf-8")
    proc = cli.subprocess("feeds", check=False)
    assert proc.returncode == 2
    assert "paperbot.toml: [arxiv] feeds: expected a list" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_model_trains_after_the_first_poll_and_explains_candidates(
    cli: Cli, shared: Callable[[str], Path], seed_file: Path
) -> None:
    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n', model=True)
    assert "no model trained yet" in cli("model").stdout
    cli("import-awesome", str(seed_file))  # trains the first model, on the bundled background
    info = json.loads(cli("model", "--json").stdout)
    assert info["version"] == 1 and info["positives"] == 34 and info["in_use"]
    described = cli("model").stdout  # for a person: no reprs, calibration in words
    assert "top 3% above 0." in described and "[[" not in described and "{'" not in described
    out = cli("poll", "--once", "--dry-run").stdout  # the very first run already uses it
    assert "model relevance" in out and "like *" in out
    cli("poll", "--once")  # the day's own announcements become the background, at once
    info = json.loads(cli("model", "--json").stdout)
    assert info["version"] == 2 and info["background"] == 2000
    cli("model", "--retrain")
    assert json.loads(cli("model", "--json").stdout)["version"] == 3


def test_the_headless_worker_polls_at_start_and_stops_cleanly_on_sigterm(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    import signal
    import time

    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n[model]\nenabled = false\n')
    env = clean_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(cli.config), "run"],
        cwd=cli.home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
    assert "DISCORD_TOKEN is not set" in err
    assert "worker running; polling now, then next poll " in err  # the poll at start first
    assert "Traceback" not in err
