"""Engines, sessions and migrations. Nothing is built at import time."""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False, sqlite_synchronous: str = "full") -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL.

    ``sqlite_synchronous``: SQLite's ``synchronous`` setting, "full" (every commit is on disk
    before it returns) or "normal" (in WAL mode: durable once checkpointed; a power cut can
    lose the last commits, never the database's consistency)."""
    if sqlite_synchronous not in ("full", "normal"):
        raise ValueError(f"sqlite_synchronous must be full or normal, not {sqlite_synchronous!r}")
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below decide
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous.upper()}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:  # noqa: ANN001
            # take the write lock up front: two processes never both read-then-write
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs the bundled migrations on ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def head_revisions() -> set[str]:
    """The bundled migrations' head revisions, read from their files' ``revision`` and
    ``down_revision`` lines (neither Alembic nor a parse of the whole files is needed)."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values: dict[str, object] = {}
        for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")):
            with contextlib.suppress(ValueError, SyntaxError):
                values.setdefault(m.group(1), ast.literal_eval(m.group(2)))
        if isinstance(values.get("revision"), str):
            down = values.get("down_revision")
            revisions[str(values["revision"])] = down if isinstance(down, str) else None
    return set(revisions) - {d for d in revisions.values() if d}


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a new database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied (Alembic is loaded only when there is one)."""
    if current_revisions(engine) == head_revisions():
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
