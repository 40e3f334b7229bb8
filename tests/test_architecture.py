"""The layering the design promises, checked on the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "feeds", "db")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_discord_subpackage_imports_discord() -> None:
    offenders = [
        name
        for name, path in _modules().items()
        if not name.startswith("bot.discord")
        and any(i == "discord" or i.startswith("discord.") for i in _imports(path))
    ]
    assert offenders == []


def test_feeds_and_db_never_import_bot() -> None:
    offenders = [
        name
        for name, path in _modules().items()
        if name.startswith(("feeds", "db"))
        and any(i.split(".")[0] == "bot" for i in _imports(path))
    ]
    assert offenders == []


def test_the_core_does_not_reach_into_its_adapters() -> None:
    adapters = ("bot.discord", "bot.cli", "bot.commands", "bot.runtime")
    offenders = [
        (name, i)
        for name, path in _modules().items()
        if name.startswith("bot.app")
        for i in _imports(path)
        if i.startswith(adapters)
    ]
    assert offenders == []


def test_cogs_import_neither_each_other_nor_the_client() -> None:
    modules = _modules()
    for name, path in modules.items():
        if not name.startswith("bot.discord.cogs."):
            continue
        reached = {i for i in _imports(path) if i.startswith("bot.discord")}
        assert "bot.discord.client" not in reached, name
        assert not {i for i in reached if i.startswith("bot.discord.cogs") and i != name}, name


def test_nothing_looks_components_up_by_name() -> None:
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        assert "get_cog(" not in text, name
        assert "def __getattr__" not in text, name


ADAPTERS = ("bot.cli", "bot.commands", "bot.runtime", "bot.serve", "bot.discord")


def test_no_adapter_touches_the_catalog() -> None:
    """The adapters read and write through `App` only: no `<anything>.catalog` but the
    settings' [catalog] table, and no import of the catalog's classes or its thread."""
    offenders = []
    for name, path in _modules().items():
        if not name.startswith(ADAPTERS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "catalog":
                owner = node.value
                owner_name = (
                    owner.attr
                    if isinstance(owner, ast.Attribute)
                    else owner.id
                    if isinstance(owner, ast.Name)
                    else ""
                )
                if owner_name not in ("settings", "s"):
                    offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
        for imported in _imports(path):
            if imported in ("db.catalog", "db.worker") or imported.startswith("db.catalog."):
                offenders.append(f"{name}: imports {imported}")
    assert offenders == []


def test_only_the_embeds_module_builds_embeds() -> None:
    """How a post or an answer looks lives in one module; cogs and services call it."""
    offenders = [
        name
        for name, path in _modules().items()
        if name.startswith("bot.discord")
        and name != "bot.discord.embeds"
        and "discord.Embed(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
