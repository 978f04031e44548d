"""Starting on a database that is up to date does not load the migration machinery."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text

from storage.db import current_revisions, head_revisions, make_engine, upgrade

_CHECK = ("import sys; from storage.db import make_engine, upgrade; "
          "upgrade(make_engine({url!r})); print('alembic' in sys.modules)")


def _alembic_loaded(url: str) -> bool:
    out = subprocess.run([sys.executable, "-c", _CHECK.format(url=url)], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip() == "True"


def test_an_up_to_date_database_starts_without_alembic(db_url: str) -> None:
    assert _alembic_loaded(db_url) is False
    eng = make_engine(db_url)
    try:
        assert current_revisions(eng) == head_revisions()
    finally:
        eng.dispose()


def test_a_database_behind_is_migrated_to_the_head(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    eng = make_engine(url)
    try:
        upgrade(eng)
        heads = head_revisions()
        assert len(heads) == 1
        from alembic import command

        from storage.db import alembic_config

        command.downgrade(alembic_config(eng), "0001")
        assert current_revisions(eng) == {"0001"}
        assert _alembic_loaded(url) is True  # it had work to do
        assert current_revisions(eng) == heads
        with eng.connect() as conn:
            assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    finally:
        eng.dispose()


_RUN_IMPORTS = """
import os, sys
from bot import cli
try:
    cli.app(["run"])  # imports what `ctvbot run` imports, then stops: no token is set
except SystemExit:
    pass
import bot.web.app, bot.web.serve  # the web face, as when its pages are served
print(" ".join(sorted(sys.modules)))
"""


def test_run_does_not_load_documents_libraries_or_page_templates_at_start(tmp_path) -> None:
    """`ctvbot run` holds matplotlib, python-docx, openpyxl (the summary's files), Alembic
    (an up-to-date database) and jinja2 (the web pages) only once something needs them, and
    never httpx's command-line tool (rich, pygments) nor PTB's webhook server (tornado); the
    report's modules and Zalo's client only when used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTVBOT_")}
    out = subprocess.run([sys.executable, "-c", _RUN_IMPORTS], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    modules = set(out.stdout.split())
    loaded = {m.split(".")[0] for m in modules}
    assert {"telegram", "sqlalchemy", "starlette", "bot.web.officer"} <= loaded | modules
    assert not loaded & {"matplotlib", "docx", "openpyxl", "PIL", "alembic", "jinja2"}
    assert not loaded & {"rich", "pygments", "tornado"}
    # the report's modules come with /tonghop or the first report page, Zalo's client with
    # a Zalo token
    assert not modules & {"bot.documents", "storage.aggregate", "bot.zalo"}
