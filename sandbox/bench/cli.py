"""``ctvbot bench p1|load|memory``: the benchmarks' command line."""

from __future__ import annotations

from typing import Annotated

import typer

from sandbox.bench.people import (
    ANSWERS,
    DEFAULT_POSTGRES,
)
from sandbox.bench.runs import (
    format_figures,
    format_p1,
    run_load,
    run_memory,
    run_p1,
)


def register(app: typer.Typer) -> None:
    """Add ``ctvbot bench p1|load|memory`` to the command line."""
    bench = typer.Typer(help="Benchmarks on loopback (they print figures, never fail on speed).",
                        no_args_is_help=True)

    @bench.command("p1")
    def p1_cmd(
        people: Annotated[int, typer.Option(min=1, max=10_000, help="Simulated people")] = 100,
        answers: Annotated[int, typer.Option(min=1, max=len(ANSWERS),
                                             help="Answers per person (timed)")] = 12,
        database_url: Annotated[str | None, typer.Option(
            help="postgresql://… server (a scratch database is made and dropped); "
                 "default: a temporary SQLite file")] = None,
        timeout: Annotated[float, typer.Option(help="Seconds at most per phase")] = 600,
    ) -> None:
        """Updates/s through the report flow vs a bare python-telegram-bot echo bot."""
        typer.echo(format_p1(run_p1(people=people, answers=answers, database_url=database_url,
                                    timeout=timeout)))

    @bench.command("load")
    def load_cmd(
        people: Annotated[int, typer.Option(min=1, max=20_000, help="Simulated people")] = 2000,
        concurrency: Annotated[int, typer.Option(min=1, max=2000,
                                                 help="People in flight at once")] = 200,
        postgres_url: Annotated[str, typer.Option(
            help="PostgreSQL server (a scratch database is made and dropped)")]
        = DEFAULT_POSTGRES,
        workers: Annotated[int, typer.Option(min=1, max=8, help="Webhook workers")] = 2,
        timeout: Annotated[float, typer.Option(help="Seconds at most for all people")] = 900,
    ) -> None:
        """Thousands of people reporting at once through webhook workers on PostgreSQL."""
        f = run_load(people=people, concurrency=concurrency, postgres_url=postgres_url,
                     workers=workers, timeout=timeout)
        typer.echo(format_figures(f"Load: {people} people, {workers} webhook workers, "
                                  "PostgreSQL", f))

    @bench.command("memory")
    def memory_cmd(
        people: Annotated[int, typer.Option(min=1, max=50_000, help="Members")] = 5000,
        database_url: Annotated[str | None, typer.Option(
            help="postgresql://… server (scratch database); default: temporary SQLite")]
        = None,
        concurrency: Annotated[int, typer.Option(min=1, max=2000)] = 200,
        timeout: Annotated[float, typer.Option(help="Seconds at most for all people")] = 1800,
    ) -> None:
        """Peak RSS of a long-polling bot with N members vs the same bot idle."""
        f = run_memory(people=people, database_url=database_url, concurrency=concurrency,
                       timeout=timeout)
        typer.echo(format_figures(f"Memory: {people} members, long polling", f))

    app.add_typer(bench, name="bench")




def main(args: list[str]) -> None:
    """Run ``ctvbot bench ARGS`` (the benchmarks' own command line)."""
    root = typer.Typer(add_completion=False)
    register(root)
    root(args=["bench", *args], prog_name="ctvbot")
