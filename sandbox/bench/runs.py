"""The benchmarks themselves: P1 against an echo bot, load on webhook workers, memory."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.bench.databases import (
    database_kind,
    fresh_database,
    prepare_database,
    stored_values,
)
from sandbox.bench.people import (
    ANSWERS,
    BOT_COMMAND,
    DEFAULT_POSTGRES,
    ECHO_TOKEN,
    HAMLETS_PER_COMMUNE,
    JOIN,
    REPORT,
    TOKEN,
    USER_IDS,
    Inbox,
    Person,
    Step,
    Tally,
    _ms,
    _rate,
    _share,
    count_extra,
    echo_step,
    percentile,
    run_people,
    tap_bot_messages,
)
from sandbox.bench.processes import (
    BotProcess,
    RoundRobinProxy,
    _new_api,
    bot_env,
    cpu_seconds,
    cpu_used,
    free_port,
    machine_cpu,
    proc_status,
    process_cpu,
    wait_polling,
    wait_port,
)


async def _p1_phase(api: Any, boxes: dict[tuple[str, int], Inbox], proc: BotProcess,
                    token: str, warmup: list[list[tuple[Step, str | None]]],
                    timed: list[tuple[Step, str | None]], people: int, timeout: float,
                    step_timeout: float) -> dict[str, Any]:
    await proc.start()
    try:
        await wait_polling(api, token, [proc])
        persons = [Person(api, boxes, token, USER_IDS + i) for i in range(people)]
        warm = Tally()
        await run_people([lambda p=p, s=s: p.run(s, warm, step_timeout, timed=False)
                          for p, s in zip(persons, warmup, strict=True)], people, timeout)
        if warm.errors:
            raise RuntimeError(f"joining failed: {warm.samples}")
        tally = Tally()
        cpu0, driver0, t0 = cpu_seconds(proc.pid), time.process_time(), time.monotonic()
        busy0, total0 = machine_cpu()
        procs0 = process_cpu()
        late = await run_people([lambda p=p: p.run(timed, tally, step_timeout)
                                 for p in persons], people, timeout)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        driver = time.process_time() - driver0
        busy1, total1 = machine_cpu()
        pg, others = cpu_used(procs0, process_cpu(), {proc.pid, os.getpid(), os.getppid()})
        await asyncio.sleep(0.2)
        extra = count_extra(persons)
    finally:
        code = await proc.stop()
    log_errors, log_warnings, log_samples = proc.log_problems()
    return {
        "updates": tally.sent, "seconds": round(wall, 2), "updates_per_s": _rate(tally.sent, wall),
        "p50_ms": _ms(percentile(tally.latencies, 50)),
        "p95_ms": _ms(percentile(tally.latencies, 95)),
        "cpu_ms_per_update": round(cpu * 1000 / max(tally.sent, 1), 2),
        "driver_cpu_ms_per_update": round(driver * 1000 / max(tally.sent, 1), 2),
        "machine_busy_pct": _share(busy1 - busy0, total1 - total0),
        "postgres_cpu_ms_per_update": round(pg * 1000 / max(tally.sent, 1), 2),
        "others_busy_pct": _share(busy1 - busy0 - cpu - driver - pg, total1 - total0),
        "other_processes_cpu_s": others,
        "errors": tally.errors + late, "timeouts": tally.timeouts,
        "error_replies": tally.error_replies, "unexpected": tally.unexpected,
        "extra_messages": extra, "accepted_saves": tally.accepted_saves,
        "expected_saves": tally.expected_saves, "log_errors": log_errors,
        "log_warnings": log_warnings, "exit_code": code, "samples": tally.samples + log_samples,
    }


async def bench_p1(people: int = 100, answers: int = 12, database_url: str | None = None,
                   timeout: float = 600, step_timeout: float = 60,
                   bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Updates per second through the report flow vs a bare PTB echo bot (see module doc).

    ``bot_command`` runs the bot's command line (another build or settings can be compared).
    """
    answers = max(1, min(answers, len(ANSWERS)))
    steps = list(ANSWERS[:answers])
    with tempfile.TemporaryDirectory(prefix="ctvbot-bench-") as tmp, \
            fresh_database(database_url, Path(tmp), "ctvbot_p1") as url:
        workdir = Path(tmp)
        codes = prepare_database(url, people, workdir)
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            api.add_bot(ECHO_TOKEN, username="echo_bench_bot")
            echo_proc = BotProcess("echo", [sys.executable, "-m", "sandbox.bench.echo"],
                                   bot_env(api.url, url, ECHO_TOKEN), workdir)
            echo = await _p1_phase(
                api, boxes, echo_proc, ECHO_TOKEN, [[(echo_step("/start"), None)]] * people,
                [(echo_step(s.text), None) for s in steps], people, timeout, step_timeout)
            bot_proc = BotProcess("ctvbot", [*bot_command, "run"],
                                  bot_env(api.url, url, TOKEN), workdir)
            bot = await _p1_phase(
                api, boxes, bot_proc, TOKEN,
                [[(JOIN, JOIN.text.format(code=c)), (REPORT, None)] for c in codes],
                [(s, None) for s in steps], people, timeout, step_timeout)
        finally:
            await api.stop()
        db = stored_values(url)
    return {
        "benchmark": "p1", "people": people, "answers": answers,
        "database": database_kind(url), "ctvbot": bot, "echo": echo,
        "ratio": round(echo["updates_per_s"] / bot["updates_per_s"], 1)
        if bot["updates_per_s"] else math.nan,
        "value_changes": db["value_changes"], "values_stored_twice": db["values_stored_twice"],
        "expected_value_changes": people * sum(s.saves for s in steps),
    }


# ------------------------------------------------------------------ load test


async def _sample_pending(api: Any, token: str, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(len(api.pending_updates(token)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def bench_load(people: int = 2000, concurrency: int = 200,
                     postgres_url: str = DEFAULT_POSTGRES, workers: int = 2,
                     per_commune: int = HAMLETS_PER_COMMUNE, timeout: float = 900,
                     step_timeout: float = 60,
                     bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Many people at once through webhook workers behind a round-robin proxy, on PostgreSQL.

    Each person: /start CODE, /baocao, then 4 to 6 answers. Afterwards the database must hold
    every accepted answer exactly once.
    """
    secret = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="ctvbot-load-") as tmp, \
            fresh_database(postgres_url, Path(tmp), "ctvbot_load") as url:
        workdir = Path(tmp)
        t_setup = time.monotonic()
        codes = prepare_database(url, people, workdir, per_commune)
        setup_s = time.monotonic() - t_setup
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        ports = [free_port() for _ in range(workers)]
        proxy = RoundRobinProxy(ports)
        procs: list[BotProcess] = []
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            await proxy.start()
            public = f"http://127.0.0.1:{proxy.port}/telegram"
            env = bot_env(api.url, url, TOKEN, CTVBOT_WEBHOOK_SECRET=secret)
            for n, port in enumerate(ports, start=1):
                procs.append(await BotProcess(
                    f"worker{n}", [*bot_command, "run", "--webhook",
                                   "--listen", f"127.0.0.1:{port}", "--url", public],
                    env, workdir).start())
            deadline = time.monotonic() + 60
            while api.stats(TOKEN).calls["setWebhook"] < workers:
                for proc in procs:
                    proc.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError("the workers did not set the webhook within 60s")
                await asyncio.sleep(0.05)
            for port in ports:
                await wait_port(port, 30)
            persons = [Person(api, boxes, TOKEN, USER_IDS + i) for i in range(people)]
            plans = [[(JOIN, JOIN.text.format(code=codes[i])), (REPORT, None),
                      *((s, None) for s in ANSWERS[:4 + i % 3])] for i in range(people)]
            tally = Tally()
            pending: list[int] = []
            stop_sampling = asyncio.Event()
            sampler = asyncio.ensure_future(_sample_pending(api, TOKEN, pending, stop_sampling))
            cpu0 = {p.name: cpu_seconds(p.pid) for p in procs}
            procs0, (busy0, total0) = process_cpu(), machine_cpu()
            driver0, t0 = time.process_time(), time.monotonic()
            late = await run_people([lambda p=p, s=s: p.run(s, tally, step_timeout)
                                     for p, s in zip(persons, plans, strict=True)],
                                    concurrency, timeout)
            wall = time.monotonic() - t0
            driver_cpu = time.process_time() - driver0
            cpu = {p.name: round(cpu_seconds(p.pid) - cpu0[p.name], 1) for p in procs}
            ours = {p.pid for p in procs} | {os.getpid(), os.getppid()}
            (pg_cpu, others), (busy1, total1) = cpu_used(procs0, process_cpu(), ours), \
                machine_cpu()
            stop_sampling.set()
            await sampler
            await asyncio.sleep(0.5)  # anything sent late (a duplicate) shows up now
            extra = count_extra(persons)
            deliveries = api.deliveries(TOKEN)
        finally:
            codes_out = [await p.stop() for p in procs]
            await proxy.stop()
            await api.stop()
        logs = [p.log_problems() for p in procs]
        delivered = Counter(d.update_id for d in deliveries
                            if d.status is not None and 200 <= d.status < 300)
        first_ok: dict[int, float] = {}
        for d in deliveries:
            if d.status is not None and 200 <= d.status < 300:
                first_ok.setdefault(d.update_id, d.at)
        lags = [first_ok[u] - t for u, t in tally.sent_at.items() if u in first_ok]
        db = stored_values(url)
    return {
        "benchmark": "load", "people": people, "concurrency": concurrency, "workers": workers,
        "database": "postgresql", "setup_seconds": round(setup_s, 1),
        "updates": tally.sent, "seconds": round(wall, 2),
        "updates_per_s": _rate(tally.sent, wall),
        "p50_ms": _ms(percentile(tally.latencies, 50)),
        "p95_ms": _ms(percentile(tally.latencies, 95)),
        "p99_ms": _ms(percentile(tally.latencies, 99)),
        "max_ms": _ms(max(tally.latencies, default=math.nan)),
        "delivery_lag_p50_ms": _ms(percentile(lags, 50)),
        "delivery_lag_p95_ms": _ms(percentile(lags, 95)),
        "pending_updates_max": max(pending, default=0),
        "pending_updates_mean": round(sum(pending) / len(pending), 1) if pending else 0,
        "errors": tally.errors + late, "timeouts": tally.timeouts,
        "error_replies": tally.error_replies, "unexpected": tally.unexpected,
        "people_unfinished": late, "people_failed": tally.people_failed,
        "duplicate_deliveries": sum(n - 1 for n in delivered.values() if n > 1),
        "failed_deliveries": sum(1 for d in deliveries
                                 if d.status is None or not 200 <= d.status < 300),
        "duplicate_messages": extra, "proxy_errors": proxy.errors,
        "proxy_hits": dict(proxy.hits),
        "accepted_saves": tally.accepted_saves, "expected_saves": tally.expected_saves,
        "value_changes": db["value_changes"], "values_stored_twice": db["values_stored_twice"],
        "updates_applied": db["updates_applied"],
        "stored_exactly_once": db["value_changes"] == tally.accepted_saves
        and db["values_stored_twice"] == 0,
        "worker_cpu_s": cpu,
        "worker_cpu_ms_per_update": round(sum(cpu.values()) * 1000 / max(tally.sent, 1), 2),
        "postgres_cpu_s": round(pg_cpu, 1), "driver_cpu_s": round(driver_cpu, 1),
        "machine_busy_pct": _share(busy1 - busy0, total1 - total0),
        "others_busy_pct": _share(busy1 - busy0 - sum(cpu.values()) - pg_cpu - driver_cpu,
                                  total1 - total0),
        "other_processes_cpu_s": others,
        "log_errors": sum(e for e, _w, _s in logs), "log_warnings": sum(w for _e, w, _s in logs),
        "exit_codes": codes_out, "samples": tally.samples + [m for *_n, s in logs for m in s],
    }


# ------------------------------------------------------------------ memory


async def bench_memory(people: int = 5000, database_url: str | None = None,
                       concurrency: int = 200, timeout: float = 1800,
                       step_timeout: float = 60, idle_seconds: float = 2.0,
                       warm: int = 100,
                       bot_command: tuple[str, ...] = BOT_COMMAND) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a long-polling bot process after ``people`` members joined and each
    sent a few messages (/start CODE, /baocao, one answer), against the same process idle with
    0 members; also the growth after the first ``warm`` members (code paths and caches warm)."""
    warm = max(0, min(warm, people // 10))
    with tempfile.TemporaryDirectory(prefix="ctvbot-mem-") as tmp, \
            fresh_database(database_url, Path(tmp), "ctvbot_mem") as url:
        workdir = Path(tmp)
        codes = prepare_database(url, people, workdir)
        api = _new_api()
        boxes = tap_bot_messages(api)
        await api.start()
        proc = BotProcess("ctvbot", [*bot_command, "run"],
                          bot_env(api.url, url, TOKEN), workdir)
        try:
            api.add_bot(TOKEN, username="ctvbot_bench_bot")
            await proc.start()
            await wait_polling(api, TOKEN, [proc])
            await asyncio.sleep(idle_seconds)
            idle = proc_status(proc.pid)
            persons = [Person(api, boxes, TOKEN, USER_IDS + i) for i in range(people)]
            jobs = [lambda p=p, c=c: p.run([(JOIN, JOIN.text.format(code=c)), (REPORT, None),
                                            (ANSWERS[0], None)], tally, step_timeout)
                    for p, c in zip(persons, codes, strict=True)]
            tally = Tally()
            t0 = time.monotonic()
            late = await run_people(jobs[:warm], concurrency, timeout)
            warmed = proc_status(proc.pid)
            late += await run_people(jobs[warm:], concurrency, timeout)
            wall = time.monotonic() - t0
            after = proc_status(proc.pid)
        finally:
            code = await proc.stop()
            await api.stop()
        log_errors, log_warnings, log_samples = proc.log_problems()
    idle_mib, peak_mib = idle.get("VmHWM", 0) / 1024, after.get("VmHWM", 0) / 1024
    warm_mib = warmed.get("VmHWM", 0) / 1024
    return {
        "benchmark": "memory", "people": people, "database": database_kind(url),
        "updates": tally.sent, "seconds": round(wall, 1), "members": tally.people_done,
        "idle_peak_mib": round(idle_mib, 1), "warm_members": warm,
        "warm_peak_mib": round(warm_mib, 1), "peak_mib": round(peak_mib, 1),
        "rss_end_mib": round(after.get("VmRSS", 0) / 1024, 1),
        "mib_per_1000_members": round((peak_mib - idle_mib) * 1000 / people, 2),
        "mib_per_1000_after_warm": round((peak_mib - warm_mib) * 1000 / (people - warm), 2)
        if people > warm else math.nan,
        "errors": tally.errors + late, "log_errors": log_errors, "log_warnings": log_warnings,
        "exit_code": code, "samples": tally.samples + log_samples,
    }


# ------------------------------------------------------------------ sync entry points


def run_p1(**options: Any) -> dict[str, Any]:
    """``bench_p1`` from synchronous code."""
    return asyncio.run(bench_p1(**options))


def run_load(**options: Any) -> dict[str, Any]:
    """``bench_load`` from synchronous code."""
    return asyncio.run(bench_load(**options))


def run_memory(**options: Any) -> dict[str, Any]:
    """``bench_memory`` from synchronous code."""
    return asyncio.run(bench_memory(**options))


# ------------------------------------------------------------------ printing and the CLI


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def format_table(rows: list[tuple[str, Any]]) -> str:
    """Two aligned columns."""
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"  {k.ljust(width)}  {_fmt(v)}" for k, v in rows)


def format_p1(f: dict[str, Any]) -> str:
    """The P1 figures as a short table."""
    cols = (("updates/s", "updates_per_s"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"),
            ("CPU ms/upd", "cpu_ms_per_update"), ("errors", "errors"),
            ("machine %", "machine_busy_pct"), ("others %", "others_busy_pct"))
    lines = [f"P1: {f['people']} people x {f['answers']} answers "
             f"({f['ctvbot']['updates']} updates for each bot), {f['database']}",
             f"  {'':8}" + "".join(f"{h:>12}" for h, _ in cols)]
    for name in ("ctvbot", "echo"):
        lines.append(f"  {name:8}" + "".join(f"{_fmt(f[name][k]):>12}" for _, k in cols))
    lines.append(f"  echo / ctvbot: {_fmt(f['ratio'])}x;  values stored: {f['value_changes']} "
                 f"(expected {f['expected_value_changes']}, stored twice: "
                 f"{f['values_stored_twice']})")
    for sample in f["ctvbot"]["samples"] + f["echo"]["samples"]:
        lines.append(f"  ! {sample}")
    return "\n".join(lines)


def format_figures(title: str, f: dict[str, Any]) -> str:
    """Any figures dict as a titled table (problem samples last)."""
    rows = [(k, v) for k, v in f.items() if k not in ("benchmark", "samples")]
    return "\n".join([title, format_table(rows), *(f"  ! {s}" for s in f.get("samples", []))])
