"""Tests of the application core."""
