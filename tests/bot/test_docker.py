"""The image's promises that hold outside a container: entry point, paths, environment, health check.

A container engine is not part of the test suite; scripts/build_image.sh builds and runs the
image itself. Here: the same command the image runs, with the environment the image sets,
in a folder laid out like the container's (/config as the working folder, /data apart).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.settings import load_settings
from tests.bot.cli_helpers import FEED_2024, ROOT, clean_env

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _paperbot() -> list[str]:
    """The installed console script the image runs (`paperbot`), or the module behind it."""
    script = shutil.which("paperbot", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "bot"]


def _instructions(name: str) -> list[str]:
    """The arguments of every `NAME …` instruction of the Dockerfile, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", text, re.MULTILINE)]


# -- the container's layout, outside a container -------------------------------------------


class Container:
    """A folder laid out like the image: /config (the working folder) and /data."""

    def __init__(self, root: Path) -> None:
        self.config = root / "config"
        self.data = root / "data-volume"
        self.config.mkdir()
        self.data.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = clean_env()
        env["PAPERBOT_DATA_DIR"] = str(self.data)  # what the image's ENV sets (/data)
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_paperbot(), *args], cwd=self.config, env=env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip


@pytest.fixture
def container(tmp_path: Path) -> Container:
    return Container(tmp_path)


def _worker_env(container: Container, feed: str) -> dict[str, str]:
    """Environment variables only, as in compose.yaml: no config file anywhere."""
    return container.env(
        PAPERBOT_ARXIV__FEEDS=feed,
        PAPERBOT_ARXIV__CONTACT="mailto:ops@example.org",
        # Loopback and file feeds only, so no arXiv pace is owed.
        PAPERBOT_ARXIV__MIN_INTERVAL="0",
        PAPERBOT_ARXIV__API_BASE="http://127.0.0.1:9/api",
        PAPERBOT_MODEL__ENABLED="false",
    )


@pytest.fixture
def worker(container: Container, shared: Callable[[str], Path]) -> Iterator[subprocess.Popen[str]]:
    env = _worker_env(container, shared(FEED_2024).as_uri())
    proc = subprocess.Popen(
        [*_paperbot(), "run"], cwd=container.config, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def _polled(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM feeds WHERE last_success IS NOT NULL"
            ).fetchone()
        return bool(row[0])
    except sqlite3.Error:  # not created or migrated yet
        return False


def test_the_image_command_runs_from_the_environment_alone_and_stops_on_sigterm(
    container: Container, worker: subprocess.Popen[str]
) -> None:
    db = container.data / "paperbot.db"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _polled(db) and worker.poll() is None:
        time.sleep(0.3)
    assert worker.poll() is None, worker.communicate()[1]
    assert _polled(db), "the poll on start did not store the feed's state on the data volume"
    worker.send_signal(signal.SIGTERM)  # docker stop
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    assert f"data in {container.data} (from the environment)" in err
    # INFO by default for the service: an operator sees the poll and its counts.
    assert re.search(r"INFO .*1504 items", err) or "1504 items" in err, err
    assert list(container.config.iterdir()) == []  # nothing written in the working folder


def test_doctor_quiet_is_the_health_check_healthy_then_damaged(
    container: Container, seed_file: Path
) -> None:
    env = _worker_env(container, (container.config / "feed.xml").as_uri())
    # Before the first command creates the catalog, the container is healthy: no problem.
    fresh = container.run("doctor", "--quiet", env=env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert container.run("import-awesome", str(seed_file), env=env).returncode == 0
    healthy = container.run("doctor", "--quiet", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert all(not line.startswith("ok ") for line in healthy.stdout.splitlines())  # quiet
    db = container.data / "paperbot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        root = int(
            conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'papers'").fetchone()[0]
        )
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x00\xff" * (size // 2))
    damaged = container.run("doctor", "--quiet", env=env)
    assert damaged.returncode == 1
    assert "PROBLEM catalog" in damaged.stdout and str(db) in damaged.stdout
    assert "Traceback" not in damaged.stderr


def test_environment_paths_are_relative_to_the_working_folder(container: Container) -> None:
    # In the image the working folder is /config: a relative rules path set in the
    # environment is found there, with or without a config file.
    rules = container.config / "rules.toml"
    shutil.copy(ROOT / "feeds" / "default_rules.toml", rules)
    env = _worker_env(container, (container.config / "feed.xml").as_uri())
    env["PAPERBOT_CATALOG__RULES"] = "rules.toml"
    assert container.run("doctor", env=env).returncode == 0
    env["PAPERBOT_CATALOG__RULES"] = "missing.toml"
    bad = container.run("candidates", env=env)
    assert bad.returncode == 2
    assert str(container.config / "missing.toml") in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_relative_paths_in_a_config_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "paperbot.toml"
    config.write_text(
        '[arxiv]\ncontact = "mailto:ops@example.org"\n'
        '[catalog]\nrules = "rules.toml"\nawesome_readme = "list/README.md"\ndatabase = "db/catalog.db"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in clean_env().items() if k != "PAPERBOT_DATA_DIR"}
    with monkeypatch.context() as m:
        m.chdir(elsewhere)
        settings = load_settings(config, env=env)
    assert settings.rules_path == folder / "rules.toml"
    assert settings.awesome_readme == folder / "list" / "README.md"
    assert settings.database_path == folder / "db" / "catalog.db"
    assert settings.data_dir == folder / "data"
    # Through the command line, from another folder: doctor names the resolved list path.
    shutil.copy(ROOT / "feeds" / "default_rules.toml", folder / "rules.toml")
    proc = subprocess.run(
        [*_paperbot(), "--config", str(config), "doctor"], cwd=elsewhere, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1  # the list file does not exist: a problem
    assert (
        f"{folder / 'list' / 'README.md'}: [catalog] awesome_readme does not exist" in proc.stdout
    )
    assert list(elsewhere.iterdir()) == []


def test_a_config_file_in_the_working_folder_is_optional_and_used(container: Container) -> None:
    # The image's /config/paperbot.toml: read when mounted, as ./paperbot.toml of /config.
    env = container.env()
    (container.config / "paperbot.toml").write_text(
        '[arxiv]\ncontact = "mailto:ops@example.org"\nretries = -1\n', encoding="utf-8"
    )
    proc = container.run("feeds", env=env)
    assert proc.returncode == 2
    # Named as found: ./paperbot.toml of the working folder (/config in the image).
    line = proc.stderr.strip()
    assert line.endswith("paperbot.toml: [arxiv] retries: must be between 0 and 10, got -1")
    assert line.startswith("paperbot: error: ") and len(line.splitlines()) == 1
    (container.config / "paperbot.toml").unlink()
    assert container.run("feeds", "--json", env=env).returncode == 0


# -- the Dockerfile and compose.yaml say what the README promises ---------------------------


def test_the_dockerfile_keeps_its_promises() -> None:
    assert _instructions("ARG")[0] == "BASE=python:3.11-slim"
    assert _instructions("FROM") == ["${BASE}"]
    env = " ".join(_instructions("ENV"))
    assert "PAPERBOT_DATA_DIR=/data" in env
    users = _instructions("USER")
    assert users and users[-1] not in ("root", "0")
    assert _instructions("VOLUME") == ['["/data"]']
    # The user's home is its own (git's and ssh's files), not the data volume.
    useradd = next(r for r in _instructions("RUN") if "useradd" in r)
    assert "--home-dir /home/paperbot" in useradd and "--home-dir /data" not in useradd
    assert _instructions("WORKDIR")[-1] == "/config"  # ./paperbot.toml is /config/paperbot.toml
    health = _instructions("HEALTHCHECK")
    assert len(health) == 1
    assert health[0].endswith('CMD ["paperbot", "doctor", "--quiet", "--service"]')
    assert _instructions("CMD") == ['["paperbot", "run"]']
    runs = _instructions("RUN")
    assert any("git" in r.split("install", 1)[-1] for r in runs if "apt-get install" in r)
    # The dependency layer: the lock file alone, every file checked against its hash,
    # installed before any source is copied.
    copies = _instructions("COPY")
    assert copies[0] == "requirements.lock ./"
    deps = next(i for i, r in enumerate(runs) if "--require-hashes" in r)
    assert "-r requirements.lock" in runs[deps] and "--no-deps" in runs[deps]
    code = next(i for i, r in enumerate(runs) if "pip install --no-deps ." in r)
    assert deps < code
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    assert text.index("--require-hashes") < text.index("COPY bot ")


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    """requirements.lock answers pyproject.toml's dependencies: each one pinned (`==`), at
    a version the specifier allows, with its files' hashes; `make lock` refreshes it."""
    from packaging.requirements import Requirement

    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned: dict[str, str] = {}
    for block in re.split(r"\n(?=[a-z0-9])", lock):
        first = block.split()[0] if block.strip() and not block.startswith("#") else ""
        if "==" in first:
            name, version = first.split("==")
            assert "--hash=sha256:" in block, name
            pinned[name.lower().replace("_", "-")] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for spec in project["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-").replace(".", "-")
        assert name in pinned, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pinned[name]), f"{name} {pinned[name]}: `make lock`"


def test_the_console_script_is_the_image_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["paperbot"] == "bot.__main__:main"
    version = subprocess.run(
        [*_paperbot(), "--version"], capture_output=True, text=True, timeout=60, check=False,
        env=clean_env(),
    )  # fmt: skip
    assert version.returncode == 0 and version.stdout.startswith("paperbot ")


def test_compose_restarts_the_bot_and_keeps_data_on_a_volume() -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+restart:\s*unless-stopped\s*$", text, re.MULTILINE)
    assert re.search(r"^\s+- paperbot-data:/data\s*$", text, re.MULTILINE)
    assert re.search(r"^volumes:\s*\n\s+paperbot-data:", text, re.MULTILINE)
    assert "DISCORD_TOKEN: ${DISCORD_TOKEN" in text  # from the environment, never a file
    assert "/config/paperbot.toml:ro" in text


# -- .dockerignore, read as Docker reads it ------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore matching: `*` within a segment, `**` across any, from the root."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + "$")


def _ignored(patterns: list[re.Pattern[str]], relative: str) -> bool:
    # A path is left out when it, or any folder above it, matches.
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(p.match(prefix) for p in patterns for prefix in prefixes)


def _dockerignore() -> list[re.Pattern[str]]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [
        line.strip().strip("/") for line in lines if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns)  # no exceptions to reason about
    return [_pattern(p) for p in patterns]


@pytest.mark.parametrize(
    "path",
    [".venv/bin/python", ".venv", "data/paperbot.db", "data", "paperbot.db", "backup.db",
     "tests/data/x.db", "bot/catalog.db-wal", "old.sqlite3", ".git/config", "paperbot.toml",
     ".env", "bot/__pycache__/cli.cpython-311.pyc", "paperbot.egg-info/PKG-INFO"],
)  # fmt: skip
def test_dockerignore_keeps_the_venv_data_and_catalogs_out(path: str) -> None:
    assert _ignored(_dockerignore(), path)


def test_dockerignore_lets_through_everything_the_dockerfile_copies() -> None:
    patterns = _dockerignore()
    sources = [s for c in _instructions("COPY") for s in c.split()[:-1]]
    assert {"pyproject.toml", "README.md", "LICENSE", "bot", "feeds", "db"} <= set(sources)
    for source in sources:
        assert not _ignored(patterns, source), source
        for file in (ROOT / source).rglob("*.py") if (ROOT / source).is_dir() else []:
            relative = file.relative_to(ROOT).as_posix()
            assert "__pycache__" in relative or not _ignored(patterns, relative), relative
    # The package's data (its rules, the bundled announcements sample) goes in too: only
    # the top-level data folder, the catalog's, is left out.
    assert not _ignored(patterns, "feeds/default_rules.toml")
    assert not _ignored(patterns, "feeds/data/sample.jsonl.gz")


def test_the_build_context_is_small() -> None:
    # What the context would hold from this checkout: the sources, not the 400 MB venv.
    patterns = _dockerignore()
    total = 0
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if here == "." else here + "/"
        dirs[:] = [d for d in dirs if not _ignored(patterns, prefix + d)]  # as Docker prunes
        for name in files:
            if not _ignored(patterns, prefix + name):
                total += (Path(folder) / name).stat().st_size
    assert 100_000 < total < 10_000_000, f"{total:,} bytes"
