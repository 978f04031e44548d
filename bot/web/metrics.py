"""Prometheus metrics of one process: updates, replies, errors; reminders by outcome read
from the database (every process sees the same reminder counts)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import ReminderLog


class _Reminders(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("ctvbot_reminders", "Reminders by outcome (all processes)",
                                     labels=["outcome"])
        with Session(self.engine) as session:
            for outcome, n in session.exec(select(ReminderLog.outcome, func.count())
                                           .group_by(ReminderLog.outcome)):
                family.add_metric([outcome], n)
        yield family


class Metrics:
    """The counters of one process, in their own registry."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter("ctvbot_updates", "Updates received, by kind", ["kind"],
                               registry=self.registry)
        self.replies = Counter("ctvbot_replies", "Replies sent", registry=self.registry)
        self.errors = Counter("ctvbot_errors", "Updates that failed", registry=self.registry)
        self.web_saves = Counter("ctvbot_web_saves", "Web form saves, by outcome", ["outcome"],
                                 registry=self.registry)
        self.registry.register(_Reminders(engine))
