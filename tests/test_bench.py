"""The benchmarks keep working: each runs at a tiny size; only correctness figures are checked
(no errors, no duplicates, every accepted answer stored once), never speed."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from sandbox.bench import databases, people, processes, runs
from storage.communes import load_commune


def test_percentile_and_table():
    values = [float(v) for v in range(1, 101)]
    assert people.percentile(values, 50) == 50
    assert people.percentile(values, 95) == 95
    assert people.percentile(values, 99) == 99
    assert people.percentile([7.0], 95) == 7
    assert math.isnan(people.percentile([], 50))
    table = runs.format_table([("updates_per_s", 12.345), ("errors", 0), ("p50_ms", math.nan)])
    assert "12.35" in table and "errors" in table and "-" in table


def test_log_problems_are_counted(tmp_path):
    proc = processes.BotProcess("worker1", [], {}, tmp_path)
    proc.log_path.write_text(
        "2026-11-25 06:00:01,000 INFO ctvbot: update 12 TextIn: 2 replies in 9 ms\n"
        "2026-11-25 06:00:02,000 WARNING ctvbot: update 13: database unavailable\n"
        "2026-11-25 06:00:03,000 WARNING ctvbot: update 14: database unavailable\n"
        "2026-11-25 06:00:04,000 ERROR ctvbot: update 15 failed: KeyError('x')\n"
        "Traceback (most recent call last):\n", encoding="utf-8")
    errors, warnings, samples = proc.log_problems()
    assert (errors, warnings) == (2, 2)
    assert samples[0] == "worker1 log: update N: database unavailable"


def test_generated_commune_is_valid(tmp_path):
    from datetime import date

    path = tmp_path / "c.yaml"
    path.write_text(databases.commune_yaml(3, 12, date(2026, 11, 25)), encoding="utf-8")
    spec = load_commune(path)
    assert spec.plan == "002" and len(spec.hamlets) == 12
    assert spec.round.unit_deadline > date(2026, 11, 25)


def test_the_answers_follow_the_hamlet_flow():
    assert sum(s.saves for s in people.ANSWERS) == 7  # the 7 hamlet indicators of plan 002
    assert sum(s.saves for s in people.ANSWERS[:12]) == 6
    assert people._failed(["ok", people.try_again_text()]) and not people._failed(["ok"])


async def test_p1_tiny():
    f = await runs.bench_p1(people=3, answers=4, timeout=60, step_timeout=20)
    for name in ("ctvbot", "echo"):
        fig = f[name]
        assert fig["updates"] == 12, fig
        assert fig["errors"] == 0 and fig["extra_messages"] == 0, fig
        assert fig["exit_code"] == 0 and fig["log_errors"] == 0, fig
        assert fig["updates_per_s"] > 0
    assert f["ctvbot"]["accepted_saves"] == f["ctvbot"]["expected_saves"] == 6
    assert f["value_changes"] == f["expected_value_changes"] == 6
    assert f["values_stored_twice"] == 0


async def test_load_tiny():
    if not databases.postgres_available(people.DEFAULT_POSTGRES):
        pytest.skip(f"PostgreSQL not reachable at {people.DEFAULT_POSTGRES}")
    f = await runs.bench_load(people=5, concurrency=5, timeout=90, step_timeout=30)
    assert f["updates"] == 5 * 2 + (4 + 5 + 6 + 4 + 5), f
    assert f["errors"] == 0 and f["people_failed"] == 0, f
    assert f["duplicate_deliveries"] == 0 and f["duplicate_messages"] == 0, f
    assert f["failed_deliveries"] == 0 and f["proxy_errors"] == 0, f
    assert f["value_changes"] == f["accepted_saves"] == f["expected_saves"] == 11, f
    assert f["values_stored_twice"] == 0 and f["stored_exactly_once"], f
    assert f["updates_applied"] == f["updates"], f
    assert len(f["proxy_hits"]) == 2  # both workers took part
    assert f["exit_codes"] == [0, 0] and f["log_errors"] == f["log_warnings"] == 0, f


async def test_memory_tiny():
    f = await runs.bench_memory(people=5, timeout=60, step_timeout=20, idle_seconds=0.2)
    assert f["members"] == 5 and f["errors"] == 0 and f["updates"] == 15, f
    assert f["peak_mib"] >= f["idle_peak_mib"] > 0, f
    assert f["exit_code"] == 0 and f["log_errors"] == 0, f


def test_cli_has_the_bench_commands():
    from bot.cli import app

    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0, result.output
    for name in ("p1", "load", "memory"):
        assert name in result.output
