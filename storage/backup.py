"""`ctvbot backup` / `ctvbot restore`: every table to one gzipped JSON file and back.

The file does not depend on the engine: a SQLite backup restores into PostgreSQL and back.
A restore goes into an empty, migrated database, in one transaction. What it restores is
checked first: the format, a SHA-256 checksum of the tables (written by ``backup``), every
table and column, and the rules of the reported values; decompression stops at
MAX_UNPACKED bytes. A file that fails a check leaves the database as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Date, DateTime, Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.roundsums import bulk_load

FORMAT = 2  # 2: with the tables' checksum; 1 (without it) is still restored
MAX_UNPACKED = 500_000_000  # bytes of JSON a backup may unpack to (a province: a few MB)
VALUE_TABLES = ("reportedvalue", "valuechange")  # numerator <= denominator, none negative
# made by the database from the other tables (its triggers, migration 0010): not written,
# remade as the values are restored
DERIVED_TABLES = ("roundsum",)


def _tables() -> list[Any]:
    """The tables a backup holds, parents first."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in DERIVED_TABLES]


class RestoreRefused(Exception):
    """The backup cannot be restored here: ``key`` names the catalog sentence that says why,
    ``params`` fill it in."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key, self.params = key, params
        super().__init__(f"{key}: {params}")


def _checksum(tables: dict[str, Any]) -> str:
    text = json.dumps(tables, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def backup(engine: Engine, path: Path) -> dict[str, int]:
    """Write every row of every table to ``path``; return the row count per table."""
    tables = _tables()
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
    payload["sha256"] = _checksum(payload["tables"])
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


def _unpack(path: Path) -> bytes:
    """The backup's JSON bytes, refusing a file that is not gzip, is cut short, or unpacks to
    more than MAX_UNPACKED bytes: its size is measured first, in pieces, keeping nothing, so a
    small bomb never fills the memory."""
    try:
        size = 0
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > MAX_UNPACKED:
                    raise RestoreRefused("restore.too_large", file=path,
                                         limit=MAX_UNPACKED // 1_000_000)
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise RestoreRefused("restore.missing", file=path) from exc
    except EOFError as exc:
        raise RestoreRefused("restore.truncated", file=path) from exc
    except (OSError, zlib.error) as exc:
        raise RestoreRefused("restore.not_backup", file=path) from exc


def _check(payload: Any, path: Path) -> dict[str, list[dict[str, Any]]]:
    """The tables of a backup, after checking its format, checksum, tables, columns and
    values; raises RestoreRefused naming the first problem."""
    if not isinstance(payload, dict) or not isinstance(payload.get("tables"), dict):
        raise RestoreRefused("restore.not_backup", file=path)
    if payload.get("format") not in (1, FORMAT):
        raise RestoreRefused("restore.format", file=path, format=payload.get("format"))
    tables: dict[str, Any] = payload["tables"]
    if payload.get("format") == FORMAT and payload.get("sha256") != _checksum(tables):
        raise RestoreRefused("restore.checksum", file=path)
    known = {t.name: t for t in _tables()}
    for name, rows in tables.items():
        table = known.get(name)
        if table is None:
            raise RestoreRefused("restore.unknown_table", file=path, table=name)
        if not isinstance(rows, list):
            raise RestoreRefused("restore.not_backup", file=path)
        columns = set(table.columns.keys())
        for n, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or set(row) != columns:
                got = set(row) if isinstance(row, dict) else set()
                raise RestoreRefused("restore.columns", file=path, table=name, row=n,
                                     missing=", ".join(sorted(columns - got)) or "—",
                                     unknown=", ".join(sorted(got - columns)) or "—")
            if name in VALUE_TABLES:
                _check_value(row, path, name, n)
    return tables


def _check_value(row: dict[str, Any], path: Path, table: str, n: int) -> None:
    """A reported value obeys the bot's rules: no negative, numerator <= denominator."""
    num, den, value = row.get("numerator"), row.get("denominator"), row.get("value")
    for v in (num, den, value):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                              or v != v or v < 0):
            raise RestoreRefused("restore.bad_value", file=path, table=table, row=n,
                                 value=repr(v)[:40])
    if num is not None and den is not None and num > den:
        raise RestoreRefused("restore.numerator", file=path, table=table, row=n,
                             numerator=num, denominator=den)


def restore(engine: Engine, path: Path) -> dict[str, int]:
    """Load a checked backup into an empty database migrated to the same revision."""
    try:
        payload = json.loads(_unpack(path).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RestoreRefused("restore.not_backup", file=path) from exc
    data = _check(payload, path)
    here = _revision(engine)
    if payload.get("revision") != here:
        raise RestoreRefused("restore.revision", backup=payload.get("revision"), here=here)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise RestoreRefused("restore.not_empty", table=table.name)
        tables = _tables()
        # the round sums (migration 0010) are made once per round at the end, not per row
        rounds = [r["id"] for r in data.get("round", [])
                  if isinstance(r, dict) and isinstance(r.get("id"), int)]
        with bulk_load(conn, rounds):
            for table in tables:
                try:
                    rows = [_decode(table, r) for r in data.get(table.name, [])]
                except (TypeError, ValueError) as exc:
                    raise RestoreRefused("restore.bad_column", file=path, table=table.name,
                                         reason=str(exc)[:200]) from exc
                if table.name == "valuechange":  # drop what the value trigger wrote: the history is
                    conn.execute(table.delete())  # restored as it was (values come before it)
                if rows:
                    try:
                        conn.execute(insert(table), rows)
                    except (DBAPIError, StatementError) as exc:  # a wrong type, a broken link
                        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                        raise RestoreRefused("restore.rejected", file=path, table=table.name,
                                             reason=(reason[0] if reason else "")[:200]) from exc
                counts[table.name] = len(rows)
        if conn.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement is not False and counts[table.name]:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', "
                        f"'{pk[0].name}'), (SELECT MAX({pk[0].name}) FROM \"{table.name}\"))"))
    return counts
