"""Fixtures of the desk service tests (``deskenv`` holds the environment they build)."""

from deskenv import env, sqlite_env

__all__ = ["env", "sqlite_env"]
