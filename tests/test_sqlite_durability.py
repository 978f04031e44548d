"""SQLite's durability is a setting: every commit on disk by default, "normal" on request."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import make_engine

FULL, NORMAL = 2, 1  # what PRAGMA synchronous reports


def _synchronous(url: str, **kw: str) -> int:
    eng = make_engine(url, **kw)
    try:
        with eng.connect() as conn:
            return conn.execute(text("PRAGMA synchronous")).scalar_one()
    finally:
        eng.dispose()


def test_every_commit_is_on_disk_unless_asked_otherwise(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.delenv("CTVBOT_SQLITE_SYNCHRONOUS", raising=False)
    assert Settings(_env_file=None).sqlite_synchronous == "full"
    assert _synchronous(url) == FULL
    monkeypatch.setenv("CTVBOT_SQLITE_SYNCHRONOUS", "normal")
    chosen = Settings(_env_file=None).sqlite_synchronous
    assert _synchronous(url, sqlite_synchronous=chosen) == NORMAL


def test_an_unknown_durability_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="full or normal"):
        make_engine(f"sqlite:///{tmp_path / 'd.db'}", sqlite_synchronous="off")
