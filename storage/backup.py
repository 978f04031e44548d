"""`ctvbot backup` / `ctvbot restore`: every table to one gzipped JSON file and back.

The file does not depend on the engine: a SQLite backup restores into PostgreSQL and back.
A restore goes into an empty, migrated database, in one transaction.
"""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Date, DateTime, Engine, func, insert, select, text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)

FORMAT = 1


class RestoreRefused(Exception):
    """The backup cannot be restored here; the message says why."""


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def backup(engine: Engine, path: Path) -> dict[str, int]:
    """Write every row of every table to ``path``; return the row count per table."""
    tables = SQLModel.metadata.sorted_tables
    counts: dict[str, int] = {}
    payload: dict[str, Any] = {"format": FORMAT, "revision": _revision(engine), "tables": {}}
    # One consistent snapshot while the bot keeps writing: PostgreSQL's default READ
    # COMMITTED would read each table at a different moment (a membership without its
    # person); REPEATABLE READ sees the whole database as of the first query. SQLite's
    # transaction is already one snapshot.
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ") \
        if engine.dialect.name == "postgresql" else engine
    with snapshot.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION READ ONLY"))
        for table in tables:
            rows = conn.execute(select(table)).mappings().all()
            payload["tables"][table.name] = [{k: _encode(v) for k, v in r.items()} for r in rows]
            counts[table.name] = len(rows)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False)
    return counts


def _decode(table, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        kind = table.columns[name].type
        kind = getattr(kind, "impl", kind)  # SQLModel's UTCDateTime decorates DateTime
        if value is not None and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        out[name] = value
    return out


def restore(engine: Engine, path: Path) -> dict[str, int]:
    """Load a backup into an empty database migrated to the same revision."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            payload = json.load(fh)
    except (OSError, ValueError) as exc:
        raise RestoreRefused(f"{path} is not a ctvbot backup: {exc}") from exc
    if payload.get("format") != FORMAT:
        raise RestoreRefused(f"{path}: unknown backup format {payload.get('format')!r}")
    here = _revision(engine)
    if payload.get("revision") != here:
        raise RestoreRefused(f"the backup is at schema revision {payload.get('revision')}, "
                             f"this database at {here}: upgrade first")
    tables = SQLModel.metadata.sorted_tables
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for table in tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise RestoreRefused(f"the database is not empty (table {table.name} has rows): "
                                     "restore into a fresh database")
        for table in tables:
            rows = [_decode(table, r) for r in payload["tables"].get(table.name, [])]
            if table.name == "valuechange":  # drop what the value trigger wrote: the history is
                conn.execute(table.delete())  # restored as it was (values come before it)
            if rows:
                conn.execute(insert(table), rows)
            counts[table.name] = len(rows)
        if conn.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement is not False and counts[table.name]:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                        f"'{pk[0].name}'), (SELECT MAX({pk[0].name}) FROM \"{table.name}\"))"))
    return counts
