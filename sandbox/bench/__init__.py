"""Benchmarks on loopback: throughput against a bare echo bot (P1), a webhook load test on
workers, and memory per member (``ctvbot bench p1|load|memory``).

Everything runs on this machine: the local Telegram Bot API server (``sandbox.botapi``) and the
simulated people live in this process; the bot runs in its own process(es) exactly as deployed
(``python -m bot.cli run`` or ``run --webhook``); the echo bot is ``python -m sandbox.bench.echo``.
Each person waits for the bot's answer before the next message, like a human. Benchmarks print
figures and never pass or fail on speed; every run is bounded in count and in time::

    uv run ctvbot bench p1 --people 100 --answers 12
    uv run ctvbot bench load --people 2000 --concurrency 200
    uv run ctvbot bench memory --people 5000

From Python (tests call these at tiny sizes): ``run_p1``, ``run_load`` and ``run_memory`` return
a dict of figures (``bench_p1``, ``bench_load``, ``bench_memory`` are the async versions).
Modules: ``people`` (what they say, inboxes, tallies), ``databases``, ``processes`` (the bot's
processes, CPU and RSS), ``runs`` (the benchmarks), ``cli``, ``echo``.
"""
