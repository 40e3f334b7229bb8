"""Every operator's mistake the operations issue lists: one line and a non-zero exit, or it works.

Through the real command line: in process for most, as a real process where a traceback, an
exit status or a file left behind is what matters.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot.cli_helpers import FEED_2024, ROOT, Cli, Result, clean_env
from tests.conftest import SEED_LIST

PROGRESS = re.compile(r"^\[\d+/\d+\] ")  # a poll's "[1/2] fetching …" lines


def _one_line(result: Result) -> str:
    """The single line of stderr besides a poll's progress; fails on a traceback or more."""
    err = result.stderr.strip()
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _write_config(cli: Cli, arxiv: str = "", rest: str = "", *, feeds: str | None = None) -> None:
    """A whole config file: [arxiv] with `arxiv` in it (so a key is never given twice)."""
    feed = feeds if feeds is not None else f'["{(cli.home / "feed.xml").as_uri()}"]'
    keys = {
        "feeds": feed,
        "contact": '"mailto:test@example.org"',
        "min_interval": "0.0",
        "retries": "0",
        "timeout": "5.0",
        "api_base": '"http://127.0.0.1:9/api"',
    }
    for line in arxiv.splitlines():
        name, _, value = line.partition("=")
        keys[name.strip()] = value.strip()
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    cli.config.write_text(f"[arxiv]\n{body}{rest}", encoding="utf-8")


# -- impossible values: refused at start, one line naming the file, the table and the key ---

ARXIV_FEED = '["https://rss.arxiv.org/rss/cs.LG"]'

IMPOSSIBLE = [
    # (arxiv keys, other tables, where, what the line says)
    ("retries = -1", "", "[arxiv] retries", "between 0 and 10, got -1"),
    ("max_bytes = 0", "", "[arxiv] max_bytes", "got 0"),
    (f"min_interval = 0.5\nfeeds = {ARXIV_FEED}", "", "[arxiv] min_interval", "at least 3 s"),
    (
        'min_interval = 0.5\napi_base = "https://export.arxiv.org/api"',
        "",
        "[arxiv] min_interval",
        "export.arxiv.org",
    ),
    ('api_base = "ftp://x"', "", "[arxiv] api_base", "ftp://x"),
    ("", "[model]\nthreshold = 7\n", "[model] threshold", "got 7"),
    ("", "[model]\nthreshold = -3\n", "[model] threshold", "got -3"),
    ("", "[discord]\nexpire_days = 0\n", "[discord] expire_days", "got 0"),
    ("", "[discord]\nexpire_days = -3\n", "[discord] expire_days", "got -3"),
    ("", "[health]\nmax_failures = 0\n", "[health] max_failures", "got 0"),
    ("", "[model]\ndaily_budget = 0\n", "[model] daily_budget", "got 0"),
    ("", "[model]\nbackground_sample = -1\n", "[model] background_sample", "got -1"),
    ("", "[health]\nstale_announcement_days = -1\n", "[health] stale_announcement_days", "got -1"),
    ("", "[digest]\nexpiring_within_days = -1\n", "[digest] expiring_within_days", "got -1"),
]


@pytest.mark.parametrize(
    ("arxiv", "rest", "where", "says"), IMPOSSIBLE, ids=[c[2] + " " + c[3] for c in IMPOSSIBLE]
)
def test_an_impossible_value_is_one_line_naming_the_file_table_and_key(
    cli: Cli, arxiv: str, rest: str, where: str, says: str
) -> None:
    _write_config(cli, arxiv, rest)
    result = cli("feeds", check=False)
    assert result.returncode == 2
    line = _one_line(result)
    assert line.startswith(f"paperbot: error: {cli.config}: {where}: "), line
    assert says in line
    assert not (cli.home / "data").exists()  # refused before anything was created


@pytest.mark.parametrize("args", [("poll", "--once"), ("run", "--no-discord")])
def test_values_that_used_to_fail_deep_in_the_fetcher_are_refused_at_start(
    cli: Cli, args: tuple[str, ...]
) -> None:
    # retries = -1 and max_bytes = 0 passed the old check, then raised ValueError mid-poll.
    for arxiv in ("retries = -1", "max_bytes = 0"):
        _write_config(cli, arxiv)
        result = cli.subprocess(*args, check=False, timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"{cli.config}: [arxiv] " in _one_line(result)


def test_an_impossible_value_from_the_environment_names_the_variable(cli: Cli) -> None:
    env = clean_env()
    env["PAPERBOT_ARXIV__RETRIES"] = "-1"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *cli.argv(["feeds"])],
        cwd=cli.home, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    line = _one_line(Result(["feeds"], proc.returncode, proc.stdout, proc.stderr))
    assert line.startswith("paperbot: error: PAPERBOT_ARXIV__RETRIES ([arxiv] retries): ")


def test_the_token_is_never_printed_even_when_the_config_is_wrong(cli: Cli) -> None:
    _write_config(cli, "retries = -1")
    env = clean_env()
    env["DISCORD_TOKEN"] = "SECRET-TOKEN-abc123.XYZ"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *cli.argv(["run", "-v"])],
        cwd=cli.home, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "SECRET-TOKEN" not in proc.stdout + proc.stderr


# -- evaluate ---------------------------------------------------------------------------


def test_evaluate_on_a_list_too_short_to_replay_is_one_line(cli: Cli, seed_text: str) -> None:
    # The seed's first section cut down to three entries, in the list's own format.
    head, _, rest = seed_text.partition("## Deep Learning Theory")
    entries = [block for block in rest.split("\n- ") if "[[paper]]" in block][:3]
    text = (
        head
        + "## Deep Learning Theory\n\n### 2020\n\n- "
        + "\n- ".join(e.strip() for e in entries)
        + "\n"
    )
    short = cli.home / "three.md"
    short.write_text(text, encoding="utf-8")
    result = cli.subprocess("evaluate", str(short), check=False, timeout=120)
    assert result.returncode == 2
    assert _one_line(result) == (
        "paperbot: error: the list has 3 entries; at least 6 are needed to replay it"
    )


# -- typos and no-ops: said, and a non-zero exit ------------------------------------------


def test_an_unknown_candidate_status_is_refused(cli: Cli) -> None:
    result = cli("candidates", "--status", "bogus", check=False)
    assert result.returncode == 2
    line = _one_line(result)
    assert "'bogus'" in line and "new" in line and "rejected" in line


def test_an_unknown_section_is_refused_with_the_known_ones(cli: Cli, seed_file: Path) -> None:
    cli("import-awesome", str(seed_file))
    result = cli("search", "descent", "--section", "nope", check=False)
    assert result.returncode != 0
    line = _one_line(result)
    assert "'nope'" in line and "Deep Learning Theory" in line
    # The right name, in any case, works.
    assert "Double Descent" in cli("search", "descent", "--section", "deep learning theory").stdout


def test_importing_an_empty_file_is_refused(cli: Cli) -> None:
    empty = cli.home / "empty.md"
    empty.write_text("", encoding="utf-8")
    result = cli("import-awesome", str(empty), check=False)
    assert result.returncode != 0
    assert str(empty) in _one_line(result) and "no paper entries" in result.stderr
    prose = cli.home / "notes.md"
    prose.write_text("# Notes\n\nNothing here is a paper.\n", encoding="utf-8")
    assert cli("import-awesome", str(prose), check=False).returncode != 0


def test_re_approving_an_approved_candidate_is_an_idempotent_no_op(
    cli: Cli, arxiv_api: str
) -> None:
    cli.configure(api_base=arxiv_api)
    cli("add", "1707.08567")
    cli("approve", "1707.08567")
    again = cli("approve", "1707.08567")
    assert "already" in again.stdout


def test_approving_an_already_rejected_candidate_says_so_and_fails(
    cli: Cli, arxiv_api: str
) -> None:
    cli.configure(api_base=arxiv_api)
    cli("add", "1707.08567")
    cli("reject", "1707.08567")
    result = cli("approve", "1707.08567", check=False)
    assert result.returncode != 0
    assert "rejected" in _one_line(result)
    assert "1707.08567" not in cli("search", "1707.08567").stdout  # not approved after all


@pytest.mark.parametrize(
    ("feed", "says"),
    [
        ("/tmp/some/feed.xml", "use file:///tmp/some/feed.xml"),
        ("ftp://example.org/feed", "ftp:// is not supported"),
        ("feed.xml", "file://"),
    ],
)
def test_a_bad_feed_on_the_command_line_is_one_line_like_in_the_config(
    cli: Cli, feed: str, says: str
) -> None:
    result = cli.subprocess("poll", "--once", "--feed", feed, check=False, timeout=60)
    assert result.returncode == 2
    assert says in _one_line(result)


def test_a_feed_that_failed_once_can_be_dropped(cli: Cli) -> None:
    gone = (cli.home / "gone.xml").as_uri()
    result = cli("poll", "--once", "--feed", gone, check=False)
    assert result.returncode == 1  # every feed failed
    feeds = {f["url"]: f for f in json.loads(cli("feeds", "--json").stdout)}
    assert gone in feeds and not feeds[gone]["healthy"]
    assert cli("feeds", "--forget", gone).stdout.strip() == f"{gone}: forgotten"
    assert gone not in {f["url"] for f in json.loads(cli("feeds", "--json").stdout)}
    again = cli("feeds", "--forget", gone, check=False)
    assert again.returncode == 2 and "no such feed" in _one_line(again)
    configured = (cli.home / "feed.xml").as_uri()  # still in [arxiv] feeds
    kept = cli("feeds", "--forget", configured, check=False)
    assert kept.returncode == 2 and "still configured" in _one_line(kept)


def test_adding_a_paper_already_in_the_catalog_asks_arxiv_nothing(
    cli: Cli, seed_file: Path
) -> None:
    # The API is a closed port with retries: had `add` asked it, this would fail (after
    # the backoffs) instead of answering from the catalog.
    _write_config(cli, "retries = 4")
    cli("import-awesome", str(seed_file))
    result = cli("add", "https://arxiv.org/abs/2003.01054")
    assert "2003.01054" in result.stdout and "already" in result.stdout


# -- --dry-run and data folders: nothing written anywhere -----------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_poll_once_dry_run_creates_no_catalog_and_no_file_at_all(
    cli: Cli, shared: Callable[[str], Path]
) -> None:
    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n')  # the model is on: a real poll would train one
    before = _tree(cli.home)
    result = cli.subprocess("poll", "--once", "--dry-run", check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing stored" in result.stdout
    assert _tree(cli.home) == before  # no data folder, no catalog, no -wal, no model


def test_poll_once_dry_run_leaves_an_existing_catalog_as_it_was(
    cli: Cli, shared: Callable[[str], Path], seed_file: Path
) -> None:
    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n')
    cli("import-awesome", str(seed_file))
    db = cli.home / "data" / "paperbot.db"

    def counts() -> dict[str, int]:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            return {
                t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("papers", "candidates", "models", "background", "audit", "meta")
            } | {"feeds_checked": int(conn.execute(
                "SELECT count(*) FROM feeds WHERE last_checked IS NOT NULL").fetchone()[0])}  # fmt: skip

    before = counts()
    cli("poll", "--once", "--dry-run")
    assert counts() == before
    assert before["models"] == 0 and before["candidates"] == 0


def test_the_scheduled_dry_run_writes_nothing_either(
    cli: Cli, shared: Callable[[str], Path], polled_catalog: Path
) -> None:
    # `poll --dry-run` without --once: the service on its schedule, which used to run the
    # expiry and retrain jobs too (a stored model went from v1 to v2).
    db = _copy_catalog(polled_catalog, cli, shared)
    cli.config.write_text(
        _polled_config(shared).replace("enabled = false", "enabled = true"), encoding="utf-8"
    )
    before = {p.name: p.read_bytes() for p in db.parent.iterdir()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *cli.argv(["poll", "--dry-run"])],
        cwd=cli.home, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("1504 items" in line for line in lines):
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.join(10)
    err = "".join(lines)
    assert any("1504 items" in line for line in lines), err
    assert proc.returncode == 0, err
    assert "retrain" not in err.split("worker running", 1)[-1].split("\n", 1)[0]
    assert {p.name: p.read_bytes() for p in db.parent.iterdir()} == before


def test_a_command_run_from_another_folder_leaves_no_data_folder_there(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env()
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "candidates"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert list(elsewhere.iterdir()) == []
    where = tmp_path / "xdg" / "paperbot"
    assert f"data in {where}" in proc.stderr  # and it says where
    assert (where / "paperbot.db").exists()


def test_the_checkout_keeps_its_own_data_folder() -> None:
    # `make run` from the checkout: ./data, as the README says (decided without writing).
    from bot.settings import choose_data_dir

    choice = choose_data_dir(
        config_dir=None, config_dir_writable=True, env_data_dir=None, cwd=ROOT,
        user_data_dir=lambda: Path("/nonexistent"),
    )  # fmt: skip
    assert choice.path == ROOT / "data" and choice.source == "checkout"


# -- a damaged catalog: one line naming the file, pointing to doctor and backups -----------


def _damage_every_table(db: Path) -> None:
    """Overwrite the root page of every table and index but the migrations' own.

    The header (page 1, with the schema) is intact, so the file opens as SQLite and even
    migrates; every read of a table fails with "database disk image is malformed".
    """
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        roots = [
            int(r[0])
            for r in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE rootpage > 1"
                " AND tbl_name != '_sqlite_migrations'"
            )
        ]
    conn.close()
    with db.open("r+b") as f:
        for page in roots:
            f.seek((page - 1) * size)
            f.write(b"\xa5" * size)


def _damage_the_middle(db: Path) -> None:
    """Overwrite the middle third of the file, as a disk or a copy gone wrong would."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    pages = db.stat().st_size // size
    with db.open("r+b") as f:
        for page in range(pages // 3, 2 * pages // 3):
            f.seek(page * size)
            f.write(bytes((page * 7 + i) % 251 for i in range(size)))


@pytest.fixture(scope="module")
def polled_catalog(tmp_path_factory: pytest.TempPathFactory, shared: Callable[[str], Path]) -> Path:
    """A real catalog, made once: the seed list imported and a poll's candidates stored."""
    home = tmp_path_factory.mktemp("polled")
    config = home / "paperbot.toml"
    config.write_text(_polled_config(shared), encoding="utf-8")
    for args in (["import-awesome", str(shared(SEED_LIST))], ["poll", "--once"]):
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), *args],
            cwd=home, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    return home / "data" / "paperbot.db"


def _polled_config(shared: Callable[[str], Path]) -> str:
    url = shared(FEED_2024).as_uri()
    return (
        f'[arxiv]\nfeeds = ["{url}"]\ncontact = "mailto:test@example.org"\nmin_interval = 0.0\n'
        'retries = 0\ntimeout = 5.0\napi_base = "http://127.0.0.1:9/api"\n'
        "[model]\nenabled = false\n"
    )


def _copy_catalog(source: Path, cli: Cli, shared: Callable[[str], Path]) -> Path:
    cli.config.write_text(_polled_config(shared), encoding="utf-8")
    target = cli.home / "data" / "paperbot.db"
    target.parent.mkdir()
    with (
        sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True) as src,
        sqlite3.connect(target) as dst,
    ):
        src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.fixture
def damaged(cli: Cli, shared: Callable[[str], Path], seed_file: Path, polled_catalog: Path) -> Cli:
    """The real catalog, then damaged past its header."""
    _damage_every_table(_copy_catalog(polled_catalog, cli, shared))
    return cli


def _says_damaged(line: str, db: Path) -> None:
    assert str(db) in line, line
    assert "damaged" in line and "paperbot doctor" in line and "backup" in line, line


COMMANDS_ON_THE_CATALOG = [
    ("candidates",),
    ("feeds",),
    ("search", "double descent"),
    ("show", "2003.01054"),
    ("add", "2003.01054"),
    ("approve", "2003.01054"),
    ("reject", "2003.01054"),
    ("model",),
    ("import-awesome", "README.md"),
    ("export-awesome",),
    ("poll", "--once"),
    ("poll", "--once", "--dry-run"),
]


@pytest.mark.parametrize("args", COMMANDS_ON_THE_CATALOG, ids=" ".join)
def test_every_command_on_a_damaged_catalog_is_one_line(
    damaged: Cli, args: tuple[str, ...]
) -> None:
    result = damaged(*args, check=False)
    assert result.returncode == 2
    _says_damaged(_one_line(result), damaged.home / "data" / "paperbot.db")


def test_run_on_a_damaged_catalog_is_one_line_and_exits(damaged: Cli) -> None:
    result = damaged.subprocess("run", "--no-discord", check=False, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    _says_damaged(result.stderr.strip().splitlines()[-1], damaged.home / "data" / "paperbot.db")


def test_doctor_finds_the_damage_and_exits_non_zero(damaged: Cli) -> None:
    result = damaged("doctor", check=False)
    assert result.returncode == 1
    assert "PROBLEM catalog" in result.stdout and "paperbot.db" in result.stdout
    assert "problem(s) found" in _one_line(result)


def test_backup_of_a_damaged_catalog_is_refused(damaged: Cli) -> None:
    target = damaged.home / "backup.db"
    result = damaged("backup", str(target), check=False)
    assert result.returncode != 0
    assert "damaged" in _one_line(result)
    assert not target.exists()


@pytest.fixture
def damaged_in_the_middle(
    cli: Cli, shared: Callable[[str], Path], seed_file: Path, polled_catalog: Path
) -> Cli:
    _damage_the_middle(_copy_catalog(polled_catalog, cli, shared))
    return cli


@pytest.mark.parametrize("args", COMMANDS_ON_THE_CATALOG, ids=" ".join)
def test_a_catalog_damaged_in_the_middle_never_shows_a_traceback(
    damaged_in_the_middle: Cli, args: tuple[str, ...]
) -> None:
    # Which commands read the damaged pages depends on where the rows landed: each one
    # either works or says in one line what is wrong.
    cli = damaged_in_the_middle
    result = cli(*args, check=False)
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2 and "damaged" in result.stderr:
        _says_damaged(_one_line(result), cli.home / "data" / "paperbot.db")
    else:
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_the_worker_stops_on_a_catalog_damaged_under_it(damaged_in_the_middle: Cli) -> None:
    cli = damaged_in_the_middle
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *cli.argv(["run", "--no-discord"])],
        cwd=cli.home, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        # The poll on start reaches the damaged pages; then the worker must end, not go on.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if any("damaged" in line for line in lines):
                proc.wait(timeout=15)
                break
            time.sleep(0.2)
    except subprocess.TimeoutExpired:
        pass
    finally:
        still_running = proc.poll() is None
        if still_running:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        reader.join(10)
    err = "".join(lines)
    assert not still_running, f"still running on a damaged catalog; stderr:\n{err[-2000:]}"
    assert proc.returncode == 2
    assert "Traceback" not in err
    _says_damaged(err.strip().splitlines()[-1], cli.home / "data" / "paperbot.db")


def test_a_file_that_is_not_a_catalog_is_one_line(cli: Cli) -> None:
    data = cli.home / "data"
    data.mkdir()
    (data / "paperbot.db").write_bytes(b"this is not SQLite\n" * 500)
    result = cli.subprocess("candidates", check=False, timeout=60)
    assert result.returncode == 2
    _says_damaged(_one_line(result), data / "paperbot.db")
    assert (data / "paperbot.db").read_bytes() == b"this is not SQLite\n" * 500  # untouched


def test_damage_confined_to_the_full_text_index_is_found_and_repaired(
    cli: Cli, seed_file: Path
) -> None:
    """The papers intact, the index not: doctor says so and names the repair, `doctor
    --repair` rebuilds the index from the papers, and search finds what it should again."""
    cli("import-awesome", str(seed_file))
    before = cli("search", "double descent", "--json").stdout
    database = cli.home / "data" / "paperbot.db"
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("DELETE FROM papers_fts_data WHERE id > 10 AND id % 2 = 0")
    finally:
        conn.close()
    found = cli("doctor", check=False)
    assert found.returncode == 1
    assert (
        "PROBLEM catalog: " + str(database) + ": the full-text index is damaged (the papers are"
        " intact); `paperbot doctor --repair` rebuilds it from them"
    ) in found.stdout
    assert json.loads(cli("candidates", "--json").stdout) == []  # the rest goes on
    repaired = cli("doctor", "--repair")
    assert "ok      catalog: rebuilt the full-text index from the 34 papers" in repaired.stdout
    assert "PROBLEM" not in repaired.stdout
    assert cli("search", "double descent", "--json").stdout == before
    assert cli("doctor").returncode == 0
