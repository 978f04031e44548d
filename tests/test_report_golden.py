"""Every figure of every report stays as it was: the JSON of each bundled commune (and of the
roll-ups over their provinces) on a seeded data set equals the golden files in
tests/data/golden, on SQLite and PostgreSQL (tests/golden_reports.py makes both)."""

from __future__ import annotations

import json

from sqlmodel import Session

from tests.golden_reports import GOLDEN, dumps, reports


def test_every_report_equals_its_golden_file(engine):
    with Session(engine, expire_on_commit=False) as s:
        made = reports(s)
    files = sorted(p.name for p in GOLDEN.glob("*.json"))
    assert sorted(made) == files
    assert len(files) >= 20
    for name in files:
        golden = (GOLDEN / name).read_text(encoding="utf-8")
        assert json.loads(dumps(made[name])) == json.loads(golden), name
