"""What each `paperbot` command does: thin calls into the application core (`bot.app`), with
the answers printed for a person (or as JSON). The parser is `bot.cli`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import logging
import os
import sys
from collections.abc import Awaitable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import (
    App,
    CatalogCorrupt,
    CatalogFull,
    CatalogLocked,
    CatalogNotWritable,
    CatalogUnavailable,
    PollReport,
    PublishError,
    PublishResult,
    TooManyRemovals,
    catalog_key,
    read_text_file,
    write_text_file,
)
from bot.app.base import Progress
from bot.logs import setup_logging
from bot.policy import REMOVALS_UNASKED
from bot.serve import cmd_serve
from bot.settings import ConfigError, Settings, load_settings
from db.types import AddedHow, CandidateStatus
from feeds.errors import PaperbotError
from feeds.ids import parse_arxiv_id

log = logging.getLogger(__name__)


# Commands that never create the catalog file.
NO_CATALOG_WRITTEN = frozenset({"doctor", "backup", "evaluate", "serve"})


def advice(exc: Exception) -> str:
    """What a person at the command line can do about a catalog error ("" for the rest)."""
    if isinstance(exc, CatalogCorrupt):
        return (
            "; run `paperbot doctor` (it says whether `--repair` can fix it), or restore a backup"
        )
    if isinstance(exc, CatalogLocked):
        return "; try again in a moment"
    if isinstance(exc, CatalogFull):
        return ""  # the message says nothing was written; space is the fix
    if isinstance(exc, CatalogNotWritable):
        return ""  # the message names the owner to change and the command
    if isinstance(exc, CatalogUnavailable):
        return "; check the file and its folder (`paperbot doctor` says more)"
    return ""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _human(value: Any) -> str:
    """A value as a person reads it: lists joined, mappings as `key: value`, times to the
    minute in UTC, numbers short; never a Python repr."""
    value = _jsonable(value) if not isinstance(value, datetime) else value
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return _when(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_human(v)}" for k, v in value.items())
    if isinstance(value, list):
        if all(isinstance(v, list) for v in value):
            return "; ".join(" ".join(_human(x) for x in v) for v in value)
        return ", ".join(_human(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _when(moment: datetime) -> str:
    """A moment to the minute, in UTC: what a person checks a log against."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _print_json(value: Any) -> None:
    json.dump(_jsonable(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _logging(settings: Settings, args: argparse.Namespace) -> None:
    """The service logs what an operator needs (INFO); a one-shot command only its problems."""
    service = args.command == "run" or (args.command == "poll" and not args.once)
    if args.log_level:
        level = args.log_level
    elif args.verbose:
        level = "DEBUG"
    else:
        level = settings.logging.level if service else "WARNING"
    setup_logging(level, libraries="DEBUG" if args.log_level == "DEBUG" else "WARNING")


def execute(args: argparse.Namespace) -> int:
    """Run the parsed command line: settings, logging, the command; one line for any failure."""
    try:
        settings = load_settings(args.config)
        _logging(settings, args)
        if args.command == "run" or (
            settings.data_dir_source == "user data dir" and not settings.database_path.exists()
        ):
            _stderr(f"paperbot: {settings.data_dir_description}")
        elif (
            settings.catalog.database
            and not settings.database_path.exists()
            and args.command not in NO_CATALOG_WRITTEN
            and not getattr(args, "dry_run", False)
        ):
            # A configured path that is not there may be a typo: creating it says so.
            _stderr(
                f"paperbot: {settings.database_path} does not exist yet ([catalog] database):"
                " creating a new, empty catalog there"
            )
        handler = COMMANDS[args.command]
        return asyncio.run(handler(settings, args)) or 0
    except (ConfigError, PaperbotError) as exc:
        _stderr(f"paperbot: error: {exc}{advice(exc)}")
        return 2
    except KeyboardInterrupt:
        _stderr("paperbot: interrupted")
        return 130
    except BrokenPipeError:
        # `paperbot candidates | head`: the reader left, which is not an error worth a
        # traceback. stdout is pointed at devnull so the interpreter's final flush is quiet.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        # A bug, not bad input: the traceback goes to the log (shown with -v), one line here.
        log.debug("unexpected error", exc_info=True)
        _stderr(
            f"paperbot: internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)"
        )
        return 70


# How long a command's write waits for another paperbot process (a long import, a poll
# storing a day) before it gives up with one line; the service's jobs wait 5 s and retry
# at their next run instead.
WRITE_WAIT = 60.0


def _say_waiting(pid: int | None) -> None:
    who = f"another paperbot process (pid {pid})" if pid else "another process"
    _stderr(f"paperbot: waiting for {who} to finish writing the catalog (at most {WRITE_WAIT:g} s)")


def _app(settings: Settings, *, dry_run: bool = False, ranking: bool = True) -> Awaitable[App]:
    return App.open(
        settings, dry_run=dry_run, ranking=ranking, write_wait=WRITE_WAIT,
        on_write_wait=_say_waiting,
    )  # fmt: skip


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import run

    return await run(settings, discord=not args.no_discord)


DRY_RUN_SHOWN = 20  # added and updated entries an import's dry run names (removals: all)
RETRAIN_WAIT = 600.0  # seconds `poll --once` waits for the retrain it started


def _poll_json(report: PollReport) -> dict[str, Any]:
    return {
        "feeds": report.feeds,
        "candidates": [
            {
                "arxiv_id": p.arxiv_id,
                "version": p.version,
                "title": p.title,
                "score": round(m.score, 3),
                "section": m.section,
                "runner_up": m.runner_up,
                "categories": list(p.categories),
                "reasons": m.reasons,
                "url": p.abs_url,
            }
            for p, m in report.matched
        ],
        "stored": report.stored,
        "dry_run": report.dry_run,
    }


def _print_poll(report: PollReport, limit: int) -> None:
    for outcome in report.feeds:
        line = f"{outcome.url}: {outcome.status}"
        if outcome.error:
            line += f" ({outcome.error})"
        else:
            line += f", {outcome.items} items, {outcome.candidates} candidates"
            skipped = [w for w in outcome.warnings if w.startswith("item ")]
            if skipped:
                line += f", {len(skipped)} item(s) skipped"
            feed_level = [w for w in outcome.warnings if not w.startswith("item ")]
            if feed_level:
                line += f"; the feed itself: {feed_level[0].removeprefix('feed: ')}"
        print(line)
    rows = report.matched[:limit]
    if rows:
        print(f"\n{'score':>6}  {'id':<12} {'section':<26} title / reasons")
        for paper, match in rows:
            print(
                f"{match.score:6.2f}  {paper.arxiv_id:<12} {_clip(match.section, 26):<26} "
                f"{_clip(paper.title, 70)}"
            )
            print(f"{'':6}  {'':12} {'':26} ↳ {_clip('; '.join(match.reasons), 90)}")
        if len(report.matched) > len(rows):
            print(f"… and {len(report.matched) - len(rows)} more (use --limit)")
    else:
        print("\nno candidates")
    if report.stored is not None:
        s = report.stored
        print(
            f"\nstored: {len(s.new)} new, {len(s.updated)} updated, "
            f"{len(s.unchanged)} unchanged, {len(s.already_in_catalog)} already in the catalog"
        )
    elif report.dry_run:
        print("\ndry run: nothing stored")


async def cmd_poll(settings: Settings, args: argparse.Namespace) -> int:
    if not args.once:
        from bot.runtime import run

        return await run(settings, discord=False, feeds=args.feed, dry_run=args.dry_run)
    progress: Progress = (lambda m: None) if args.json else _stderr
    async with await _app(settings, dry_run=args.dry_run) as app:
        report = await app.poll(args.feed, dry_run=args.dry_run, progress=progress)
        if not args.dry_run and settings.model.enabled and app.ranker.model is None:
            await app.retrain(progress=progress)
        elif report.retraining:
            progress("retraining the model with the new announcements as background")
            await app.wait_tasks(timeout=RETRAIN_WAIT)
    if args.json:
        _print_json(_poll_json(report))
    else:
        _print_poll(report, args.limit)
    return 1 if report.failed and len(report.failed) == len(report.feeds) else 0


async def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    year_from, year_to = args.year or (None, None)
    limit, page = args.limit, args.page
    if not any(ch.isalnum() for ch in args.query) and not (
        args.section or args.year or args.author
    ):
        raise PaperbotError(
            f"{args.query!r} has no word to look for: give words, or list papers by"
            " --section, --year or --author"
        )
    async with await _app(settings, ranking=False) as app:
        section = await app.resolve_section(args.section)
        result = await app.search(
            args.query,
            section=section,
            year_from=year_from,
            year_to=year_to,
            author=args.author,
            limit=limit,
            offset=(page - 1) * limit,
        )
    if args.json:
        _print_json(
            {
                "total": result.total,
                "total_capped": result.total_capped,
                "page": page,
                "hits": [
                    {
                        "key": h.paper.key,
                        "arxiv_id": h.paper.arxiv_id,
                        "title": h.paper.title,
                        "authors": h.paper.authors,
                        "section": h.paper.section,
                        "year": h.paper.year,
                        "venue": h.paper.venue,
                        "url": h.paper.paper_url,
                        "score": h.score,
                    }
                    for h in result.hits
                ],
            }
        )
        return 0
    if not result.hits:
        print("no results")
        return 0
    first = (page - 1) * limit + 1
    for n, hit in enumerate(result.hits, first):
        p = hit.paper
        print(f"{n:3}. {p.title}  [{p.section or '-'}, {p.year or '?'}]")
        authors = ", ".join(p.authors[:4]) + (" et al." if len(p.authors) > 4 else "")
        print(f"     {authors}{'  *' + p.venue + '*' if p.venue else ''}")
        print(f"     {p.paper_url or ''}")
    total = f"{result.total}+" if result.total_capped else str(result.total)
    print(f"\n{total} result(s); page {page}")
    return 0


async def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    catalog_key(args.id)  # a mistyped id is refused before the catalog is opened
    async with await _app(settings, ranking=False) as app:
        found = await app.find(args.id)
    paper = found.paper
    record = paper or found.candidate
    if args.json:
        _print_json({"kind": "paper" if paper else "candidate", **_jsonable(record)})
        return 0
    for name, value in _jsonable(record).items():
        if value not in (None, "", [], {}):
            print(f"{name:>18}: {_human(value)}")
    return 0


async def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings) as app:
        result = await app.add(args.id, "cli", "cli")
    verb = "added as a candidate" if result.created else f"already known ({result.status})"
    print(f"{result.key}: {result.record.title} — {verb}")
    if result.created:
        m = result.match
        print(f"score {m.score:.2f}, section {m.section or '-'}: {'; '.join(m.reasons)}")
    return 0


async def _decide(settings: Settings, args: argparse.Namespace, approved: bool) -> int:
    arxiv_id = parse_arxiv_id(args.id)[0]
    async with await _app(settings) as app:
        result = await app.decide(
            arxiv_id, approved, args.by, AddedHow.CLI, section=getattr(args, "section", None),
            recheck=not getattr(args, "no_recheck", False),
        )  # fmt: skip
    if result.kind == "listed":
        print(f"{arxiv_id}: already in the catalog ({result.section or 'no section'},"
              f" added by {result.added_how}); nothing changed")  # fmt: skip
    elif result.kind == "unchanged":
        print(f"{arxiv_id}: already {result.status}; nothing changed")
    elif approved:
        line = f"{arxiv_id}: approved into {result.section}"
        if result.not_rechecked:
            line += (
                f"; arXiv not re-checked ({result.not_rechecked}): its entry is written from"
                " the announced metadata"
            )
        print(line)
    else:
        print(f"{arxiv_id}: rejected")
    return 0


async def cmd_approve(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, True)


async def cmd_reject(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide(settings, args, False)


async def cmd_candidates(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings, ranking=False) as app:
        statuses = [CandidateStatus(s) for s in args.status] if args.status else None
        rows = await app.candidates(statuses)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no candidates")
        return 0
    rows = sorted(rows, key=lambda c: (-c.score, c.arxiv_id))
    print(f"{'status':<9} {'score':>6}  {'arXiv id':<12} {'section':<24} title")
    for c in rows[: args.limit]:
        section = c.effective_section or "-"
        print(
            f"{c.status:<9} {c.score:6.2f}  {c.arxiv_id:<12} {_clip(section, 24):<24} {_clip(c.title, 60)}"
        )
    if len(rows) > args.limit:
        print(f"… and {len(rows) - args.limit} more (--limit, or --json for all)")
    return 0


async def cmd_feeds(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings, ranking=False) as app:
        for url in args.forget or []:
            await app.forget_feed(url)
            print(f"{url}: forgotten")
        if args.forget:
            return 0
        feeds = await app.feed_health()
    rows = []
    for feed in feeds:
        s = feed.state
        rows.append(
            {
                "url": feed.url,
                "configured": feed.configured,
                "last_checked": s.last_checked if s else None,
                "last_success": s.last_success if s else None,
                "last_changed": s.last_changed if s else None,
                "consecutive_failures": s.consecutive_failures if s else 0,
                "last_error": s.last_error if s else None,
                "healthy": feed.healthy,
            }
        )
    if args.json:
        _print_json(rows)
        return 0
    for feed, row in zip(feeds, rows, strict=True):
        success = _human(row["last_success"]) if row["last_success"] else "-"
        change = _human(row["last_changed"]) if row["last_changed"] else "-"
        print(
            f"{row['url']}\n  {feed.label}; last success {success}; "
            f"last change {change}; failures {row['consecutive_failures']}"
        )
        if row["last_error"]:
            print(f"  last error: {row['last_error']}")
    return 0


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    text = read_text_file(args.readme)
    async with await _app(settings, dry_run=args.dry_run) as app:
        try:
            result = await app.import_list(
                text, str(args.readme.resolve()), progress=_stderr, dry_run=args.dry_run,
                removals_unasked=None if args.yes else REMOVALS_UNASKED,
            )  # fmt: skip
        except TooManyRemovals as exc:
            raise PaperbotError(
                f"{exc}: see them all with `paperbot import-awesome {args.readme} --dry-run`,"
                " and import with --yes if that is what you want"
            ) from exc
    doc, report = result.doc, result.report
    if result.dry_run:
        for note in result.notes:
            _stderr(f"note: {note}")
        print(
            f"{args.readme} (dry run, nothing changed): {len(doc.entries)} entries; would add"
            f" {len(report.added)}, update {len(report.updated)}, leave"
            f" {len(report.unchanged)} unchanged, remove {len(result.removed)}"
        )
        for key in result.removed:
            print(f"  - remove {result.titles.get(key, key)} ({key})")
        for key in report.updated[:DRY_RUN_SHOWN]:
            print(f"  ~ update {key}")
        for key in report.added[:DRY_RUN_SHOWN]:
            print(f"  + add {key}")
        hidden = max(0, len(report.added) - DRY_RUN_SHOWN)
        hidden += max(0, len(report.updated) - DRY_RUN_SHOWN)
        if hidden:
            print(f"  … and {hidden} more added or updated")
        return 0
    for warning in doc.warnings:
        _stderr(f"warning: {args.readme}: {warning}")
    for note in result.notes:
        _stderr(f"note: {note}")
    print(
        f"{args.readme}: {len(doc.entries)} entries in {len(doc.sections)} sections; "
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(result.removed)} removed"
    )
    return 0


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    readme = args.into
    async with await _app(settings) as app:
        result = await app.export_list(readme)
    if readme is None and not (args.dry_run and result.source is not None):
        if args.dry_run:
            _stderr("no list imported yet: printing the list rendered from the catalog")
        sys.stdout.write(result.text)
        return 0
    for outcome in result.outcomes:
        if not outcome.inserted:
            _stderr(f"skipped: {outcome.reason}")
    inserted = len(result.inserted)
    if args.dry_run or readme is None:
        name = readme.name if readme is not None else Path(result.source or "README.md").name
        diff = difflib.unified_diff(
            result.original.splitlines(keepends=True),
            result.text.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        sys.stdout.writelines(diff)
        where = str(readme) if readme is not None else f"the list imported from {result.source}"
        _stderr(f"dry run: {inserted} paper(s) would be inserted into {where}")
        return 0
    if result.text != result.original:
        write_text_file(readme, result.text)
    print(f"{readme}: {inserted} paper(s) inserted")
    return 0


async def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings) as app:
        try:
            result = await app.publish(dry_run=args.dry_run, push=True if args.push else None)
        except PublishError as exc:
            if exc.report is not None:
                for commit in exc.report.commits:
                    print(f"{(commit.sha or '')[:12]} {commit.message}")
            raise
    _print_publish(result)
    return 0


def _print_publish(result: PublishResult) -> None:
    report = result.report
    for commit in report.commits:
        sha = commit.sha[:12] if commit.sha else "would commit"
        print(f"{sha} {commit.message}")
    for reason in result.skipped:
        _stderr(f"skipped: {reason}")
    for note in result.notes:
        _stderr(f"warning: {note}")
    if report.rebuilt:
        verb = "would be" if report.dry_run else "kept" if report.kept else "pushed"
        line = f"{report.repo}: {len(report.commits)} paper(s) on {report.branch}"
        if report.commits:
            line += f", {verb}" + (f" to {report.remote}" if verb != "kept" else " as it was")
        line += f"; {len(report.unchanged)} already in the list"
    else:
        verb = "would be committed" if report.dry_run else "committed"
        line = f"{report.repo}: {len(report.commits)} paper(s) {verb} on {report.branch}"
        line += f", {len(report.unchanged)} already in the README"
        if report.pushed:
            line += f"; pushed to {report.remote}"
    print(line)
    for line in result.news:
        print(line)
    pull = result.pull
    if pull is not None:
        print(pull.line)
        if report.dry_run and pull.body:
            print()
            print(f"title: {pull.title}")
            print()
            print(pull.body)


async def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings) as app:
        result = await app.sync(dry_run=args.dry_run)
    if result.imported:
        print(f"{result.base} changed ({result.tip[:12]}): the catalog follows its README")
    elif args.dry_run and (result.listed or result.removed):
        print(f"{result.base} changed ({result.tip[:12]}); dry run: nothing imported")
    else:
        print(f"{result.base} ({result.tip[:12]}): the list has not changed")
    for line in result.lines:
        print(line)
    if result.publish is not None and args.dry_run:
        _print_publish(result.publish)
    if result.failed is not None:
        _stderr(f"paperbot: error: {result.failed}")
        return 2
    return 0


async def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.doctor import diagnose

    result = await diagnose(settings, full=args.full, service=args.service, repair=args.repair)
    marks = {"ok": "ok     ", "warning": "warning", "problem": "PROBLEM"}
    for finding in result.findings:
        if args.quiet and finding.level == "ok":
            continue
        print(f"{marks[finding.level]} {finding.what}: {finding.text}")
    if not result.ok:
        _stderr(f"paperbot: {len(result.problems)} problem(s) found")
        return 1
    return 0


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from db.maintenance import backup_catalog

    result = await asyncio.to_thread(backup_catalog, settings.database_path, args.target)
    print(f"{result.target}: {result.bytes:,} bytes, a consistent copy of {result.source}")
    return 0


async def cmd_model(settings: Settings, args: argparse.Namespace) -> int:
    async with await _app(settings) as app:
        if args.retrain:
            await app.retrain(progress=_stderr)
        info = await app.model_status()
    if args.json:
        _print_json(info)
        return 0
    if info is None:
        print("no model trained yet: candidates are ranked by the rules alone")
        return 0
    for key, value in _jsonable(info).items():
        if key == "calibration" and value:
            # rate -> the score above which that share of an ordinary day's papers lies
            shown = ", ".join(f"top {rate * 100:g}% above {cut:.3f}" for rate, cut in value)
        else:
            shown = _human(value) if value is not None else "-"
        print(f"{key:>14}: {shown}")
    return 0


async def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.core import configured_rules, section_descriptions
    from bot.evaluate import format_report, run_evaluation

    text = read_text_file(args.readme)
    if args.guide is not None:
        guide = str(Path.cwd() / args.guide.expanduser())
        sections = settings.sections.model_copy(update={"guide": guide})
        settings = settings.model_copy(update={"sections": sections})
    descriptions = section_descriptions(settings)
    rules = configured_rules(settings)
    report = await asyncio.to_thread(
        run_evaluation,
        text,
        args.background or None,
        rules=rules,
        progress=_stderr,
        descriptions=descriptions or None,
        split_year=args.test_year,
    )
    print(format_report(report))
    return 0


COMMANDS = {
    "run": cmd_run,
    "poll": cmd_poll,
    "search": cmd_search,
    "show": cmd_show,
    "add": cmd_add,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "candidates": cmd_candidates,
    "feeds": cmd_feeds,
    "import-awesome": cmd_import,
    "export-awesome": cmd_export,
    "publish": cmd_publish,
    "sync": cmd_sync,
    "doctor": cmd_doctor,
    "serve": cmd_serve,
    "backup": cmd_backup,
    "model": cmd_model,
    "evaluate": cmd_evaluate,
}
