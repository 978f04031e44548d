"""Shared fixtures: a real database (SQLite and PostgreSQL) as a test parameter."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlmodel import Session

from storage.db import make_engine, upgrade

# Property tests check results, not speed: a busy machine must not fail them on time.
hypothesis_settings.register_profile("ctvbot", deadline=None)
hypothesis_settings.load_profile("ctvbot")

PG_ADMIN_URL = os.environ.get("CTVBOT_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        eng = make_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL server; skipped when there is none (fails in CI)."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


def _pg_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@contextmanager
def _pg_scratch(admin: Engine, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_database(pg_admin: Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (tests migrate it themselves)."""
    with _pg_scratch(pg_admin, "ctvbot_test") as url:
        yield url


@pytest.fixture(scope="session")
def pg_migrated(pg_admin: Engine) -> Iterator[tuple[str, str]]:
    """A PostgreSQL database migrated once per session, and the SQL that empties it again."""
    with _pg_scratch(pg_admin, "ctvbot_test") as url:
        eng = make_engine(url)
        upgrade(eng)
        with eng.connect() as conn:
            tables = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'")).scalars().all()
        eng.dispose()
        # Emptying a few small tables costs milliseconds; a new database per test costs a
        # checkpoint when it is dropped (0.4-3 s on a busy machine).
        empty = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid();"
            "SET session_replication_role = replica;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "SET session_replication_role = DEFAULT;"
            "SELECT setval(c.oid, 1, false) FROM pg_class c "
            "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace;"
        )
        yield url, empty


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once per session, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "ctvbot.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # the last connection closed: the WAL is checkpointed into the file
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a copy of the session's migrated SQLite file, or the
    session's migrated PostgreSQL database emptied (tables and sequences)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "ctvbot.db"
        for suffix in ("", "-wal"):
            if template.with_name(template.name + suffix).exists():
                shutil.copy(template.with_name(template.name + suffix),
                            target.with_name(target.name + suffix))
        yield f"sqlite:///{target}"
        return
    url, empty = request.getfixturevalue("pg_migrated")
    eng = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(empty)
    eng.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
async def api():
    """A local Bot API server with the test bot registered."""
    from sandbox.botapi import LocalBotApi
    from tests.harness import TOKEN

    server = LocalBotApi()
    await server.start()
    server.add_bot(TOKEN, username="ctvbot_test_bot")
    yield server
    await server.stop()


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Run ``ctvbot`` commands against the test database, from a scratch folder."""
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("CTVBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("CTVBOT_BOT_USERNAME", "xuantruong_bot")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def played_demo(tmp_path_factory: pytest.TempPathFactory):
    """``played(lang)``: the lines the demo printed in that language and its folder, played
    once per test session and shared by the tests that only read them (mark them
    ``xdist_group("demo")`` so they share one worker)."""
    from sandbox.demo import run_demo

    played: dict[str, tuple[list[str], Path]] = {}

    def play(lang: str) -> tuple[list[str], Path]:
        if lang not in played:
            lines: list[str] = []
            folder = tmp_path_factory.mktemp(f"demo_{lang}") / "demo"
            # in a thread of its own: the calling test may already run an event loop
            with ThreadPoolExecutor(1) as pool:
                out = pool.submit(asyncio.run,
                                  run_demo(lang, folder, echo=lines.append)).result()
            played[lang] = (lines, out)
        return played[lang]

    return play


@pytest.fixture
def clock():
    """The tests' clock (each test file may give its own start)."""
    from tests.harness import Clock

    return Clock()


@pytest.fixture
async def zapi():
    """A local Zalo Bot API server with the tests' bot."""
    from sandbox.zaloapi import LocalZaloApi
    from tests.zalo_harness import ZALO_TOKEN

    server = LocalZaloApi()
    await server.start()
    server.add_bot(ZALO_TOKEN)
    yield server
    await server.stop()


@pytest.fixture
async def zbot(zapi, db_url, engine, clock):
    """One Zalo bot process on the test database, with the test commune set up."""
    from tests.harness import setup_commune
    from tests.zalo_harness import ZaloProcess

    setup_commune(engine)
    proc = await ZaloProcess(zapi, db_url, clock).start()
    yield proc
    await proc.stop()


# Files whose tests start bot processes or play the whole demo (seconds each, mostly waiting):
# run first, so that the workers end together on the short tests instead of one worker
# finishing a long one alone.
_LONG_FILES = ("test_demo.py", "test_webhook_workers.py", "test_cli_run.py", "test_zalo.py",
               "test_faults.py", "test_staying_up.py", "test_web_run.py", "test_startup.py",
               "test_bench.py", "test_sandbox_apart.py", "test_service_properties.py",
               "test_report_golden.py", "test_web_browser.py", "test_web_officer_browser.py",
               "test_web_admin_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in _LONG_FILES)  # stable: order kept
