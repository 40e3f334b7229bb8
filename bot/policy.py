"""Limits of the application core that its adapters name in their help and messages.

A module of constants with no imports, so the command line's parser can say them without
loading the core.
"""

from __future__ import annotations

# Removing more papers than this from the catalog in one import is confirmed first: a
# different file imported by mistake would otherwise empty the catalog without a word.
REMOVALS_UNASKED = 5
