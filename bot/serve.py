"""`paperbot serve`: the catalog in datasette, read-only, for curators to browse and query."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import signal
import socket
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from feeds.errors import PaperbotError

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
# Not "pip install 'paperbot[serve]'": that name on the package index is another project.
INSTALL_HINT = (
    "install it beside paperbot (in a checkout: .venv/bin/pip install -e '.[serve]';"
    " elsewhere: pip install 'datasette>=0.64,<1')"
)

# Tables a curator has no use for: bookkeeping, model weights, the stored README texts.
HIDDEN_TABLES = ("_sqlite_migrations", "models", "lists", "meta", "background", "sqlite_sequence")

# Canned queries. Timestamps are stored as ISO 8601 in UTC ("2026-12-01T11:47:30+00:00"),
# so a bound is written the same way for text comparison to order them correctly.
_WEEK_AGO = "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days')"
QUERIES: dict[str, dict[str, Any]] = {
    "papers_to_read": {
        "title": "Papers",
        "description": "The list as a curator reads it: title, section, year, authors, venue,"
        " link, and the digest (click to unfold). Words in the box search titles, authors,"
        " abstracts, digests and key words, the best match first.",
        # The full-text index ranks by bm25 (lower is better); an empty box lists the papers
        # by section and newest year. escape_fts (datasette's) makes any text a plain search.
        "hide_sql": True,
        "sql": """
select p.title, p.section, p.year, p.digest,
       (select group_concat(value, ', ') from json_each(p.authors)) as authors,
       p.venue, coalesce(p.paper_url, 'https://arxiv.org/abs/' || p.arxiv_id) as link
from papers p
left join (
  select rowid, bm25(papers_fts) as rank from papers_fts
  where :words != '' and papers_fts match escape_fts(:words)
) found on found.rowid = p.id
where :words = '' or found.rowid is not null
order by case when :words = '' then 0 else found.rank end, p.section, p.year desc, p.title
limit 200
""".strip(),
    },
    "open_candidates_by_votes": {
        "title": "Open candidates by votes",
        "hide_sql": True,
        "description": "Candidates still open to votes, the most approved first (approvals"
        " minus rejections, then score).",
        "sql": """
select c.title, coalesce(c.section, c.suggested_section) as section,
       count(case when v.choice = 'approve' then 1 end) as approvals,
       count(case when v.choice = 'reject' then 1 end) as rejections,
       count(case when v.choice = 'approve' then 1 end)
         - count(case when v.choice = 'reject' then 1 end) as net,
       round(c.score, 3) as score, c.status, c.abstract,
       'https://arxiv.org/abs/' || c.arxiv_id as url, substr(c.created_at, 1, 10) as proposed,
       c.arxiv_id
from candidates c left join votes v on v.candidate = c.arxiv_id
where c.status in ('new', 'posted')
group by c.arxiv_id
order by net desc, c.score desc, c.created_at desc
""".strip(),
    },
    "approved_this_week": {
        "title": "Approved this week",
        "description": "Candidates approved in the last seven days, newest first.",
        "sql": f"""
select c.arxiv_id, c.title, coalesce(c.section, c.suggested_section) as section,
       c.decided_at, c.decided_by, 'https://arxiv.org/abs/' || c.arxiv_id as url
from candidates c
where c.status = 'approved' and c.decided_at >= {_WEEK_AGO}
order by c.decided_at desc
""".strip(),
    },
    "recent_decisions": {
        "title": "Recent decisions",
        "description": "The last 100 approvals, rejections and expiries, from the audit log.",
        "sql": """
select a.at, a.action, a.arxiv_id, coalesce(c.title, p.title) as title, a.actor, a.how,
       a.detail
from audit a
left join candidates c on c.arxiv_id = a.arxiv_id
left join papers p on p.arxiv_id = a.arxiv_id
where a.action in ('approve', 'reject', 'expire')
order by a.id desc
limit 100
""".strip(),
    },
}


# Columns whose long text is folded in a cell (its first words, the rest on a click), and
# columns holding a JSON list shown as plain text.
FOLDED = frozenset({"digest", "abstract", "detail"})
LISTS = frozenset({"authors", "keywords", "categories", "reasons"})
FOLD_AFTER = 90  # characters shown before the fold
AUTHORS_SHOWN = 3  # names shown before "et al." (the rest on a click)


class CellRendering:
    """A datasette plugin: a cell as a curator reads it. JSON lists (authors, key words)
    become `a, b, c`; a digest or an abstract is folded after its first words."""

    @staticmethod
    def render_cell(value: Any, column: str) -> Any:
        from markupsafe import Markup, escape

        if column in LISTS and isinstance(value, str) and value.startswith("["):
            try:
                items = json.loads(value)
            except ValueError:
                return None
            if not isinstance(items, list):
                return None
            value = ", ".join(str(item) for item in items)
            if column != "authors":
                return value
        if column == "authors" and isinstance(value, str):
            names = value.split(", ")
            if len(names) <= AUTHORS_SHOWN + 1:
                return value
            shown = ", ".join(names[:AUTHORS_SHOWN])
            return Markup(
                f"<details><summary>{escape(shown)} et al.</summary>{escape(value)}</details>"
            )
        if column in FOLDED and isinstance(value, str) and len(value) > FOLD_AFTER:
            cut = value.rfind(" ", 0, FOLD_AFTER)
            head = value[: cut if cut > 40 else FOLD_AFTER]
            return Markup(f"<details><summary>{escape(head)} …</summary>{escape(value)}</details>")
        return None


def _register_cell_rendering() -> None:
    """Register `CellRendering` with datasette, as the module its plugins are."""
    from datasette import hookimpl  # type: ignore[import-untyped, import-not-found, unused-ignore]
    from datasette.plugins import pm  # type: ignore[import-untyped, import-not-found, unused-ignore]

    if pm.has_plugin("paperbot_cells"):
        return
    plugin = types.ModuleType("paperbot_cells", "paperbot: cells as a curator reads them")

    def render_cell(value: Any, column: str) -> Any:
        return CellRendering.render_cell(value, column)

    plugin.render_cell = hookimpl(render_cell)  # type: ignore[attr-defined]
    pm.register(plugin, name="paperbot_cells")


class ServeError(PaperbotError):
    """`paperbot serve` cannot start: datasette missing, no catalog, a port in use."""


@dataclass(frozen=True, slots=True)
class ServeTarget:
    """What is served, and where."""

    database: Path
    name: str  # the database's name in datasette's URLs: /<name>/papers
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{self.name}"


def database_name(path: Path) -> str:
    """The name datasette gives a database file: its stem (paperbot.db → paperbot)."""
    return path.stem


def catalog_metadata(name: str, title: str) -> dict[str, Any]:
    """Datasette's metadata for the catalog: facets, full-text search, canned queries."""
    tables: dict[str, Any] = {table: {"hidden": True} for table in HIDDEN_TABLES}
    tables["papers"] = {
        "title": "Papers in the list",
        "description": "Every paper of the list, imported or approved. Search looks in titles,"
        " authors, abstracts, digests and key words.",
        "facets": ["section", "year", "added_how"],
        "sort_desc": "added_at",
        "label_column": "title",
        # The index is external-content FTS5 keyed by papers.id; datasette only finds such
        # an index by itself when its SQL quotes the table name in its own way.
        "fts_table": "papers_fts",
        "fts_pk": "id",
        "searchmode": "escaped",
    }
    tables["candidates"] = {
        "title": "Candidates",
        "description": "Papers proposed from the feeds or by hand, with their votes' outcome.",
        "facets": ["status", "suggested_section", "source"],
        "sort_desc": "created_at",
        "label_column": "title",
    }
    tables["votes"] = {"facets": ["choice"], "sort_desc": "at"}
    tables["audit"] = {
        "title": "Audit log",
        "description": "Who did what to which paper, and when.",
        "facets": ["action", "how", "actor"],
        "sort_desc": "id",
    }
    tables["feeds"] = {"title": "Feeds", "description": "Each feed's last fetch and failures."}
    return {
        "title": title,
        "description": "The paperbot catalog, read-only.",
        "databases": {
            name: {
                "title": f"{title}: catalog",
                "tables": tables,
                "queries": {key: dict(query) for key, query in QUERIES.items()},
            }
        },
    }


def add_serve_command(
    sub: argparse._SubParsersAction[Any],
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Add `serve [--host H] [--port N]` to the command line's subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="browse the catalog in datasette, read-only (needs datasette installed)",
        description="Browse the catalog in datasette, read-only: papers by section and year,"
        " full-text search, open candidates by votes, recent decisions.",
        parents=list(parents),
    )
    _serve_options(parser)
    return parser


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )


def _listen(host: str, port: int) -> socket.socket:
    """Bind the socket first, so that a port in use is one line, not a server's log."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port: must be between 0 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; choose another --port" if exc.errno == errno.EADDRINUSE else ""
        raise ServeError(f"{host}:{port}: cannot listen ({exc.strerror}){hint}") from None
    sock.setblocking(False)
    return sock


def _check_database(path: Path) -> None:
    from db.maintenance import check_catalog

    check = check_catalog(path)
    if not check.exists:
        raise ServeError(
            f"{path}: no catalog yet; run `paperbot import-awesome` or `paperbot poll`"
        )
    if not check.ok:
        raise ServeError(f"{check.problems[0]}; run `paperbot doctor`, or restore a backup")


def _datasette(target: ServeTarget, title: str) -> Any:
    try:
        from datasette.app import Datasette  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise ServeError(f"datasette is not installed: {INSTALL_HINT}") from None
    # A mutable database is read through `?mode=ro` connections, so the bot's writes (WAL)
    # show up as they land. `immutable` would promise SQLite a file that never changes,
    # which a catalog being written is not. No canned query writes, and datasette refuses
    # any SQL but a SELECT: nothing served can change the catalog.
    _register_cell_rendering()
    return Datasette(
        files=[str(target.database)],
        metadata=catalog_metadata(target.name, title),
        settings={
            "allow_download": False,  # the whole file, models and all, is not for the web
            "sql_time_limit_ms": 3000,
            "facet_time_limit_ms": 500,
            "max_returned_rows": 1000,
            "suggest_facets": False,
        },
        cors=False,
    )


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
_READ_METHODS = frozenset({"GET", "HEAD"})


def read_only(app: ASGIApp) -> ASGIApp:
    """Refuse every request but GET and HEAD (405) before it reaches datasette.

    Datasette writes only through a writable canned query, a plugin or its write API, and
    none is configured; this makes "read-only" a property of the server rather than of its
    configuration, and keeps a stray POST from reaching code paths never meant to be used.
    """

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("method", "GET") not in _READ_METHODS:
            body = b"paperbot serve is read-only: only GET and HEAD are answered\n"
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"allow", b"GET, HEAD"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


async def serve_catalog(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    started: Callable[[ServeTarget], None] | None = None,
) -> None:
    """Serve the catalog until cancelled or interrupted (SIGINT, SIGTERM)."""
    path = settings.database_path
    await asyncio.to_thread(_check_database, path)
    try:
        import uvicorn
    except ImportError:
        raise ServeError(f"datasette is not installed: {INSTALL_HINT}") from None
    sock = _listen(host, port)
    bound = sock.getsockname()
    target = ServeTarget(path, database_name(path), host, int(bound[1]))
    try:
        ds = _datasette(target, settings.catalog.list_title)
        await ds.invoke_startup()
        config = uvicorn.Config(
            read_only(ds.app()),
            log_config=None,  # paperbot's logging, not uvicorn's own handlers
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        if host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("serving the catalog on %s: anyone who can reach it can read it", host)
        log.info("serving %s at %s (read-only)", path, target.url)
        if started is not None:
            started(target)
        with _quiet_stop():
            await server.serve(sockets=[sock])
        log.info("stopped serving %s", path)
    finally:
        sock.close()


@contextmanager
def _quiet_stop() -> Iterator[None]:
    """SIGINT and SIGTERM end the server, and then the command, cleanly (exit 0).

    uvicorn catches both to shut down gracefully, then raises the signal again for the
    handler it found; a handler that does nothing makes that the end of it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: FrameType | None) -> None:
    log.debug("signal %d after shutdown", signum)


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """The `serve` command: one line saying where, then datasette until Ctrl-C or SIGTERM."""

    def started(target: ServeTarget) -> None:
        print(
            f"paperbot: serving {target.database} read-only at {target.url}/ (Ctrl-C to stop);"
            f" the papers: {target.url}/papers_to_read",
            file=sys.stderr,
            flush=True,
        )

    await serve_catalog(settings, host=args.host, port=args.port, started=started)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.serve [--config FILE] [--host H] [--port N]`: the same as `paperbot serve`."""
    parser = argparse.ArgumentParser(prog="paperbot serve", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: $PAPERBOT_CONFIG or ./paperbot.toml)"
    )
    _serve_options(parser)
    args = parser.parse_args(argv)
    from bot.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(cmd_serve(settings, args))
    except (ConfigError, PaperbotError) as exc:
        print(f"paperbot: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
