"""Whether this process may write the catalog file, and if not, what to change.

SQLite says "attempt to write a readonly database" (or "unable to open database file") both
for a file this user may not write and for one it cannot use at all; an operator needs to
tell those apart from damage, because the fix for them is an owner or a mode (`chown`), not
a backup. A catalog in WAL mode needs to write three things: the file, its `-wal` and `-shm`
files beside it, and the folder (which is where those two are made).
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WriteAccess:
    """Why this user may not write the catalog, and the command that fixes it (`chown` for
    what another user owns, `chmod u+w` for what it owns without write permission)."""

    user: str  # "paperbot (uid 10001)", or "uid 10001" for a user without a name
    blocked: list[str]  # "/data (owner root, mode 755)", …
    fix: str  # "chown paperbot /data /data/paperbot.db"; "" on a read-only file system
    read_only_mount: str | None = None  # the folder, when its file system is mounted read-only

    def __str__(self) -> str:
        if self.read_only_mount is not None:
            return (
                f"{self.read_only_mount} is on a file system mounted read-only; mount it"
                " read-write (no owner or mode would help)"
            )
        return (
            f"the user {self.user} cannot write {', '.join(self.blocked)}; fix it with"
            f" `{self.fix}`, or run paperbot as their owner"
        )


def _name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _described(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return str(path)
    return f"{path} (owner {_name(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):o})"


def write_access(path: str | Path) -> WriteAccess | None:
    """None when this process may write the catalog at `path` (or make it, when it is not
    there yet); otherwise what it may not write and how to fix that. `:memory:`: None."""
    if str(path) == ":memory:":
        return None
    path = Path(path).absolute()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # a command makes the missing folders below the first existing one
    needed = [folder] + [p for p in (path, *_companions(path)) if p.exists()]
    blocked = [p for p in needed if not os.access(p, os.W_OK | (os.X_OK if p.is_dir() else 0))]
    if not blocked:
        return None
    uid = os.geteuid()
    user = _name(uid)
    who = f"{user} (uid {uid})" if user != str(uid) else f"uid {uid}"
    if _read_only_mount(folder):
        return WriteAccess(who, [_described(p) for p in blocked], "", str(folder))
    # Someone else's: the owner is what to change. The user's own, but without write
    # permission: the mode is.
    owned = [p for p in blocked if _owner(p) == uid]
    others = [p for p in blocked if p not in owned]
    fixes = []
    if others:
        fixes.append("chown " + " ".join(shlex.quote(x) for x in [user, *map(str, others)]))
    if owned:
        fixes.append("chmod u+w " + " ".join(shlex.quote(str(p)) for p in owned))
    return WriteAccess(who, [_described(p) for p in blocked], " && ".join(fixes))


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _companions(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
