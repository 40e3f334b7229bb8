"""Tests of the Discord adapter, against the loopback Discord server."""
