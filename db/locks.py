"""Who holds the catalog's write lock: the process id, read from the kernel's lock table.

SQLite in WAL mode takes its write lock as a POSIX byte-range lock on byte 120 of the
`-shm` file; Linux lists every such lock with the holder's pid in /proc/locks. A command
waiting for the lock can then say which process it waits for. Elsewhere (no /proc/locks)
the holder is simply unknown.
"""

from __future__ import annotations

import os
from pathlib import Path

WAL_WRITE_LOCK = 120  # the byte of the -shm file whose lock is the WAL write lock
PROC_LOCKS = Path("/proc/locks")


def write_lock_holder(database: str | Path, *, locks: Path = PROC_LOCKS) -> int | None:
    """The pid of another process holding `database`'s write lock, or None if unknown."""
    try:
        inode = os.stat(f"{database}-shm").st_ino
        table = locks.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    me = os.getpid()
    for line in table.splitlines():
        # "1: POSIX  ADVISORY  WRITE 12345 08:01:1234567 120 120" (a "->" marks a waiter)
        fields = line.split()
        if "->" in fields or len(fields) < 8 or fields[1] not in ("POSIX", "OFDLCK"):
            continue
        kind, pid, where, start, end = fields[3], fields[4], fields[5], fields[6], fields[7]
        try:
            if kind != "WRITE" or int(where.rsplit(":", 1)[1]) != inode:
                continue
            first, last = int(start), (int(end) if end != "EOF" else 1 << 62)
            holder = int(pid)
        except ValueError:
            continue
        if first <= WAL_WRITE_LOCK <= last and holder not in (me, -1):
            return holder
    return None
