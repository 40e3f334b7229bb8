"""A catalog this user may not write is intact, not damaged: doctor and the commands say so,
name the owner or mode to change and the command that changes it, and that command works.

The user really lacks the permission: as root, the commands run in a process that has
given up root for an unprivileged uid (root may write anything); as anyone else, the
folder and the file lose their write permission.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.cli_helpers import Cli, clean_env

NOBODY = 65534
# Runs each command of argv[1] (a JSON list) as `paperbot`, as uid NOBODY when started as
# root; prints [[exit, stdout, stderr], …]. The same commands run first as root on a
# catalog of their own (argv[2], a config), so that everything they import is imported
# while root can still read the interpreter's own folders.
AS_ANOTHER_USER = """
import contextlib, io, json, os, sys
import db.access, pwd, shlex
from bot.cli import main

commands, warm = json.loads(sys.argv[1]), sys.argv[2]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for argv in commands:
        main(["--config", warm, *argv[2:]])
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
results = []
for argv in commands:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
""".replace("NOBODY", str(NOBODY))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """A home every user may reach (pytest's own temporary folder is root's alone)."""
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o755)
        runner = Cli(Path(home), capsys, monkeypatch)
        runner.configure()
        yield runner


def _as_another_user(cli: Cli, *commands: list[str]) -> list[tuple[int, str, str]]:
    warm = cli.home / "warm"
    warm.mkdir(exist_ok=True)
    config = warm / "paperbot.toml"
    # The same settings but the catalog's (the feeds' file URLs, the API on loopback).
    text = cli.config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^database = ".*"$', f'database = "{warm / "w.db"}"', text))
    proc = subprocess.run(
        [sys.executable, "-c", AS_ANOTHER_USER, json.dumps([cli.argv(c) for c in commands]),
         str(config)],
        cwd=cli.home, env=clean_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [(code, out, err) for code, out, err in json.loads(proc.stdout)]


def test_a_catalog_this_user_cannot_write_is_called_intact_with_its_fix(
    cli: Cli, seed_text: str
) -> None:
    seed_file = cli.home / "README.md"
    seed_file.write_text(seed_text, encoding="utf-8")
    database = cli.home / "data" / "paperbot.db"
    cli.configure(f'[catalog]\ndatabase = "{database}"\n')
    cli("import-awesome", str(seed_file))
    root = os.geteuid() == 0
    if not root:
        database.chmod(0o444)
        database.parent.chmod(0o555)
    try:
        doctor, search, approve = _as_another_user(
            cli, ["doctor"], ["search", "double descent"], ["approve", "1912.02292"]
        )
    finally:
        database.parent.chmod(0o755)
        database.chmod(0o644)

    code, out, err = doctor
    assert code == 1 and err == "paperbot: 1 problem(s) found\n"
    problem = next(line for line in out.splitlines() if line.startswith("PROBLEM"))
    assert problem.startswith(f"PROBLEM catalog: {database}: intact (quick check passed), but")
    assert "damaged" not in out and "backup" not in out
    assert f"cannot write {database.parent} (owner " in problem
    fix = problem.split("fix it with `")[1].split("`")[0]
    if root:
        assert "the user nobody (uid 65534)" in problem
        assert fix == f"chown nobody {database.parent} {database}"
    else:
        assert fix == f"chmod u+w {database.parent} {database}"
    for code, out, err in (search, approve):  # one line, the same fix, nothing lost
        assert code == 2 and out == ""
        assert err.startswith(f"paperbot: error: {database}: the catalog cannot be used: the user")
        assert err.count("\n") == 1 and f"`{fix}`" in err and "Traceback" not in err

    if root:  # the command it gives is the fix
        subprocess.run(shlex.split(fix), check=True)
    else:
        database.parent.chmod(0o755)
    doctor, search = _as_another_user(cli, ["doctor"], ["search", "double descent"])
    assert doctor[0] == 0, doctor
    assert search[0] == 0 and "Deep Double Descent" in search[1]
    assert json.loads(cli("search", "double descent", "--json").stdout)["total"] >= 1


def test_a_folder_where_no_catalog_can_be_made_is_a_problem_not_a_promise(cli: Cli) -> None:
    folder = cli.home / "locked"
    folder.mkdir()
    database = folder / "sub" / "paperbot.db"
    cli.configure(f'[catalog]\ndatabase = "{database}"\n')
    if os.geteuid() != 0:
        folder.chmod(0o555)
    try:
        ((code, out, _),) = _as_another_user(cli, ["doctor"])
    finally:
        folder.chmod(0o755)
    assert code == 1
    assert f"PROBLEM catalog: {database}: no catalog yet, and paperbot cannot make one" in out
    assert f"cannot write {folder} (owner " in out


@pytest.fixture
def mount(cli: Cli) -> Iterator[Path]:
    """A file system of its own (tmpfs), for a test to remount read-only; root only."""
    where = cli.home / "mnt"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "paperbot-test", str(where)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"this machine refuses mounts: {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_catalog_on_a_read_only_file_system_says_so_not_chown(
    cli: Cli, mount: Path, seed_file: Path
) -> None:
    database = mount / "paperbot.db"
    cli.configure(f'[catalog]\ndatabase = "{database}"\n')
    cli("import-awesome", str(seed_file))
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    doctor = cli("doctor", check=False)
    assert doctor.returncode == 1
    assert (
        f"PROBLEM catalog: {database}: intact (quick check passed), but {mount} is on a file"
        " system mounted read-only; mount it read-write (no owner or mode would help)"
    ) in doctor.stdout
    assert "chown" not in doctor.stdout and "damaged" not in doctor.stdout
    search = cli("search", "double descent", check=False)
    assert search.returncode == 2 and search.stderr == (
        f"paperbot: error: {database}: the catalog cannot be used: {mount} is on a file system"
        " mounted read-only; mount it read-write (no owner or mode would help)\n"
    )
