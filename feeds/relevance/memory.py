"""Giving the heap memory that training's transient arrays freed back to the system (glibc)."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to give back this way
        return None
    return trim


def _give_back_memory() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise): training's
    transient arrays, once freed, would stay in the process's resident set, and on a
    small server the bot lives on after its nightly retraining."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
