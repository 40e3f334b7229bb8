"""`paperbot serve`: datasette on a real catalog, fetched over loopback HTTP in a real process."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import COMMANDS
from bot.serve import HIDDEN_TABLES, QUERIES, catalog_metadata, database_name
from db.catalog import Catalog
from db.types import VoteChoice
from tests.bot.cli_helpers import FEED_2024, Cli, clean_env

pytest.importorskip("datasette", reason="the serve extra: pip install -e '.[serve]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_argv(cli: Cli, *extra: str) -> list[str]:
    assert "serve" in COMMANDS
    return [sys.executable, "-m", "bot", "--config", str(cli.config), "serve", *extra]


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str  # http://127.0.0.1:PORT/<database>

    def get(self, path: str, **query: str) -> tuple[int, str]:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return _fetch(url)

    def json(self, path: str, **query: str) -> dict[str, object]:
        status, body = self.get(path, **query)
        assert status == 200, body[:500]
        data = json.loads(body)
        assert isinstance(data, dict)
        return data


def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _start(cli: Cli, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    proc = subprocess.Popen(
        _serve_argv(cli, "--port", str(port), *extra),
        cwd=cli.home,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, port


def _wait_until_up(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"paperbot serve exited {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("paperbot serve did not answer within 60 s")


@pytest.fixture(scope="module")
def curated(
    tmp_path_factory: pytest.TempPathFactory, shared: Callable[[str], Path], seed_text: str
) -> Cli:
    """A catalog as a curator has it: the list imported, a poll's candidates, votes, decisions.

    Built once for the module (the server only reads it), through real processes.
    """
    cli = Cli(tmp_path_factory.mktemp("curated"))
    seed_file = cli.home / "README.md"
    seed_file.write_bytes(seed_text.encode("utf-8"))
    url = shared(FEED_2024).as_uri()
    cli.configure(f'feeds = ["{url}"]\n[model]\nenabled = false\n')
    cli.subprocess("import-awesome", str(seed_file))
    cli.subprocess("poll", "--once")
    candidates = json.loads(cli.subprocess("candidates", "--json").stdout)
    assert len(candidates) >= 4
    first, second, third, fourth = (c["arxiv_id"] for c in candidates[:4])
    now = datetime.now(UTC)
    with Catalog(cli.home / "data" / "paperbot.db") as catalog:
        # `second` gets the most approvals, so it heads "open candidates by votes".
        for user in ("1", "2"):
            catalog.set_vote(second, user, VoteChoice.APPROVE, True, now)
        catalog.set_vote(first, "3", VoteChoice.REJECT, True, now)
    cli.subprocess("approve", third, "--by", "alice", "--no-recheck")
    cli.subprocess("reject", fourth, "--by", "bob")
    return cli


@pytest.fixture(scope="module")
def server(curated: Cli) -> Iterator[Server]:
    yield from _serving(curated)


@pytest.fixture
def own_server(curated: Cli) -> Iterator[Server]:
    """A server of the test's own, for a test that stops it."""
    yield from _serving(curated)


def _serving(curated: Cli) -> Iterator[Server]:
    proc, port = _start(curated)
    base = f"http://127.0.0.1:{port}/{database_name(Path('paperbot.db'))}"
    try:
        _wait_until_up(proc, base + ".json")
        yield Server(proc, base)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def _rows(data: dict[str, object]) -> list[dict[str, object]]:
    rows = data["rows"]
    assert isinstance(rows, list)
    return rows


def test_the_papers_table_has_sections_and_years_as_facets(server: Server) -> None:
    data = server.json("/papers.json", _shape="objects", _size="5")
    assert data["filtered_table_rows_count"] == 34 + 1  # the seed list and one approval
    facets = data["facet_results"]
    assert isinstance(facets, dict)
    sections = {f["value"]: f["count"] for f in facets["section"]["results"]}
    years = {f["value"] for f in facets["year"]["results"]}
    assert sections["Deep Learning Theory"] >= 2 and len(sections) >= 5
    assert {2019, 2020} <= years
    # The HTML page a curator opens shows the same facets.
    status, html = server.get("/papers")
    assert status == 200
    assert 'data-column="section"' in html and 'data-column="year"' in html


def test_full_text_search_finds_the_double_descent_papers(server: Server) -> None:
    data = server.json("/papers.json", _search="double descent", _shape="objects")
    titles = [str(r["title"]) for r in _rows(data)]
    assert "Deep Double Descent: Where Bigger Models and More Data Hurt" in titles
    assert all("escent" in t or "Generaliz" in t or "Bayes" in t for t in titles), titles
    # Search text is escaped, never FTS syntax: an unbalanced quote is not an error.
    status, _ = server.get("/papers.json", _search='"unbalanced NEAR(')
    assert status == 200
    status, html = server.get("/papers", _search="double descent")
    assert status == 200 and "Deep Double Descent" in html


def test_canned_queries_answer_a_curators_questions(server: Server) -> None:
    index = server.json(".json")
    names = {q["name"] for q in index["queries"]}  # type: ignore[attr-defined]
    assert names == set(QUERIES)
    by_votes = _rows(server.json("/open_candidates_by_votes.json", _shape="objects"))
    assert by_votes[0]["approvals"] == 2 and by_votes[0]["net"] == 2
    assert all(r["status"] in ("new", "posted") for r in by_votes)
    assert by_votes[-1]["net"] == -1 or any(r["rejections"] == 1 for r in by_votes)
    approved = _rows(server.json("/approved_this_week.json", _shape="objects"))
    assert [r["decided_by"] for r in approved] == ["alice"]
    decisions = _rows(server.json("/recent_decisions.json", _shape="objects"))
    assert [(r["action"], r["actor"]) for r in decisions[:2]] == [
        ("reject", "bob"),
        ("approve", "alice"),
    ]
    assert all(r["title"] for r in decisions[:2])
    status, html = server.get("/open_candidates_by_votes")
    assert status == 200 and "Open candidates by votes" in html


def test_internal_tables_are_hidden(server: Server) -> None:
    tables = {t["name"]: t["hidden"] for t in server.json(".json")["tables"]}  # type: ignore[attr-defined]
    for name in ("papers", "candidates", "votes", "audit", "feeds"):
        assert tables[name] is False
    for name in ("_sqlite_migrations", "models", "lists", "meta", "background"):
        assert tables[name] is True
    assert set(HIDDEN_TABLES) >= {"models", "lists", "_sqlite_migrations"}


def test_writes_are_refused_and_the_catalog_is_unchanged(server: Server, curated: Cli) -> None:
    path = curated.home / "data" / "paperbot.db"

    def papers() -> int:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])

    before = papers()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for sql in ("DELETE FROM papers", "UPDATE papers SET title = 'x'", "DROP TABLE papers",
                "PRAGMA journal_mode = DELETE", "ATTACH DATABASE 'x.db' AS x"):  # fmt: skip
        status, body = server.get(".json", sql=sql)
        assert status == 400, (sql, body[:300])
    # A writable canned query, datasette's write API, a form post: no method but GET/HEAD.
    for target in ("/open_candidates_by_votes", "/papers/-/insert", "/-/create", ""):
        status, body = _fetch(server.base + target, method="POST", data=b'{"row": {}}')
        assert status == 405, (target, status, body[:300])
    # Nothing can be downloaded whole either (the models' weights, the stored README).
    status, _ = server.get(".db")
    assert status in (403, 404)
    assert papers() == before
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_stops_cleanly_on_sigterm(own_server: Server) -> None:
    server = own_server
    server.proc.send_signal(signal.SIGTERM)
    _, err = server.proc.communicate(timeout=30)
    assert server.proc.returncode == 0, err
    assert "serving" in err and "read-only" in err and "127.0.0.1" in err
    assert "Traceback" not in err


def test_without_a_catalog_it_says_so_in_one_line(cli: Cli) -> None:
    proc, _ = _start(cli)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [err.strip()]
    assert "no catalog yet" in err and "paperbot.db" in err
    assert not (cli.home / "data" / "paperbot.db").exists()  # serving creates nothing


def test_a_port_in_use_is_one_line(curated: Cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.Popen(
            _serve_argv(curated, "--port", str(port)),
            cwd=curated.home, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"127.0.0.1:{port}: cannot listen" in err and "another --port" in err
    assert len(err.strip().splitlines()) == 1


def test_without_datasette_it_names_the_extra_to_install(curated: Cli, tmp_path: Path) -> None:
    # A datasette that cannot be imported, as on an installation without the extra.
    blocker = tmp_path / "blocker" / "datasette"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no datasette here')\n")
    env = clean_env()
    env["PYTHONPATH"] = f"{blocker.parent}:{env['PYTHONPATH']}"
    proc = subprocess.run(
        _serve_argv(curated, "--port", str(_free_port())),
        cwd=curated.home, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "paperbot: error: datasette is not installed: install it beside paperbot (in a"
        " checkout: .venv/bin/pip install -e '.[serve]'; elsewhere: pip install"
        " 'datasette>=0.64,<1')"
    )


def test_the_metadata_names_the_fts_index_and_every_canned_query() -> None:
    meta = catalog_metadata("catalog", "My List")
    db = meta["databases"]["catalog"]
    assert db["tables"]["papers"]["fts_table"] == "papers_fts"
    assert db["tables"]["papers"]["facets"][:2] == ["section", "year"]
    assert set(db["queries"]) == set(QUERIES)
    assert meta["title"] == "My List"


def test_the_papers_page_reads_like_the_list_and_search_ranks_by_relevance(
    server: Server,
) -> None:
    listed = _rows(server.json("/papers_to_read.json", _shape="objects", words=""))
    assert len(listed) == 35
    first = listed[0]
    assert list(first)[:3] == ["title", "section", "year"]  # no id, key or version first
    assert isinstance(first["authors"], str) and not str(first["authors"]).startswith("[")
    sections = [str(r["section"]) for r in listed]
    assert sections == sorted(sections)  # by section, then newest year
    found = _rows(server.json("/papers_to_read.json", _shape="objects", words="double descent"))
    titles = [str(r["title"]) for r in found]
    # bm25: the papers about double descent before those that only mention it once
    assert titles[0].lower().count("double descent") >= 1
    assert "Deep Double Descent: Where Bigger Models and More Data Hurt" in titles[:3]
    status, _ = server.get("/papers_to_read.json", words='"unbalanced NEAR(')
    assert status == 200  # any text is a plain search
    status, html = server.get("/papers_to_read", words="")
    assert status == 200
    # The digest folds (its first words, the rest on a click); lists read as text.
    assert "<details><summary>" in html and "Preetum Nakkiran, Gal Kaplun" in html


def test_a_cell_is_rendered_for_a_person() -> None:
    from bot.serve import CellRendering

    assert CellRendering.render_cell('["Ada Lovelace", "Alan Turing"]', "authors") == (
        "Ada Lovelace, Alan Turing"
    )
    folded = str(CellRendering.render_cell("word " * 60 + "<b>", "digest"))
    assert folded.startswith("<details><summary>word word") and "&lt;b&gt;" in folded
    assert CellRendering.render_cell("short", "digest") is None
    assert CellRendering.render_cell("[not json", "authors") is None
    assert CellRendering.render_cell("plain", "title") is None
