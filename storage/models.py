"""The schema: one SQLModel table class per entity.

Plans (goal groups, numbered chỉ tiêu, measurable indicators, milestone targets), units as a
tree, reporting rounds, people and their memberships, one-time invitations, reported values
with their full history, and the logs that make delivery exactly-once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (how SQLModel stores datetimes)."""
    return datetime.now(UTC)


def fk(target: str, *, nullable: bool = False, index: bool = True, cascade: bool = True) -> Any:
    """A foreign-key column (ON DELETE CASCADE for owned rows)."""
    return Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(target, ondelete="CASCADE" if cascade else "SET NULL"),
            nullable=nullable,
            index=index,
        ),
    )


class Plan(SQLModel, table=True):
    """A kế hoạch loaded from a plan file."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    name_vi: str
    name_en: str
    issuer: str
    level: str = Field(max_length=30)
    start_year: int
    end_year: int
    source: str | None = None
    unit_deadline: str | None = Field(default=None, max_length=5)  # DD/MM
    consolidation_deadline: str | None = Field(default=None, max_length=5)
    content_hash: str = Field(max_length=64)
    loaded_at: datetime = Field(default_factory=utcnow)


class Goal(SQLModel, table=True):
    """A mục tiêu: a group of numbered chỉ tiêu."""

    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = fk("plan.id")
    code: int
    title_vi: str
    title_en: str


class Criterion(SQLModel, table=True):
    """A numbered chỉ tiêu, in the plan's own words."""

    __table_args__ = (UniqueConstraint("plan_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = fk("plan.id")
    goal_id: int = fk("goal.id")
    number: int
    text: str


class Indicator(SQLModel, table=True):
    """A measurable indicator under a chỉ tiêu."""

    __table_args__ = (UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = fk("plan.id")
    criterion_id: int = fk("criterion.id")
    code: str = Field(max_length=20)
    position: int
    name_vi: str
    name_en: str
    kind: str = Field(max_length=20)
    factor: int | None = None
    numerator_vi: str | None = None
    numerator_en: str | None = None
    denominator_vi: str | None = None
    denominator_en: str | None = None
    # the plan's populations (docs/plan-format.md) the numerator and denominator count:
    # asked once per round, every indicator counting the same one takes the figure
    numerator_population: str | None = Field(default=None, max_length=40)
    denominator_population: str | None = Field(default=None, max_length=40)
    question_vi: str | None = None
    question_en: str | None = None
    unit_vi: str | None = None
    unit_en: str | None = None
    reporters: list[str] = Field(default_factory=list, sa_type=JSON)
    sensitive: bool = False
    min_denominator: int | None = None
    # the units the plan names for it and their role as written: [[unit, role]] with role
    # lead (chủ trì), implement (triển khai, thực hiện) or coordinate (phối hợp) (0003)
    roles: list[list[str]] | None = Field(default=None, sa_type=JSON)
    baseline_year: int | None = None  # the plan's own figure of a year before
    baseline_value: float | None = None


class Milestone(SQLModel, table=True):
    """The target of one indicator for one milestone year."""

    __table_args__ = (UniqueConstraint("indicator_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = fk("indicator.id")
    year: int
    direction: str = Field(max_length=20)
    value: float | None = None
    value_max: float | None = None
    ref_year: int | None = None
    note: str | None = None
    # a target written as people over a population ("xuống 5/804"): exact (migration 0003)
    value_num: int | None = Field(default=None, sa_type=BigInteger)
    value_den: int | None = Field(default=None, sa_type=BigInteger)


class Responsibility(SQLModel, table=True):
    """Which unit kind carries which chỉ tiêu numbers (Tổ chức thực hiện)."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = fk("plan.id")
    unit_kind: str = Field(max_length=30)
    label: str
    criteria: list[int] = Field(default_factory=list, sa_type=JSON)


class Unit(SQLModel, table=True):
    """A province, city, district, commune, hamlet or agency, as a tree."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=120)
    name: str
    kind: str = Field(max_length=30)
    parent_id: int | None = fk("unit.id", nullable=True)
    position: int = 0
    # a commune's ``report:`` block (number, signer, recipients, template; migration 0007)
    report_settings: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # retired by an officer while holding data: kept with its history, asked for nothing
    # more, left out of the commune file (migration 0007)
    retired_at: datetime | None = None


class Round(SQLModel, table=True):
    """A yearly reporting round of one commune (or upper level) on one plan."""

    __table_args__ = (UniqueConstraint("commune_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = fk("unit.id")
    plan_id: int = fk("plan.id")
    year: int
    unit_deadline: date
    consolidation_deadline: date
    reminder_days_before: list[int] = Field(default_factory=lambda: [7, 3, 1, 0], sa_type=JSON)
    reminder_time: str = Field(default="09:00", max_length=5)
    reminder_every_days_after: int = 2
    closed_at: datetime | None = None
    closed_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)
    # grows when what the round's sheet shows changes (deadlines, closing, plan, setup, a new
    # officer): a worker's cached sheet of an older version is rebuilt (migration 0002)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # the instant the unit deadline ends (storage.roundsums.deadline_cutoff in the configured
    # time zone): reports before it are on time; written with unit_deadline (migration 0010)
    cutoff_at: datetime | None = None


class RoundEvent(SQLModel, table=True):
    """A round closed or reopened by an officer, with the reason given (migration 0007)."""

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = fk("round.id")
    action: str = Field(max_length=10)  # close | reopen
    reason: str = Field(default="", max_length=500)
    person_id: int | None = fk("person.id", nullable=True, index=False, cascade=False)
    at: datetime = Field(default_factory=utcnow)


class RoundSum(SQLModel, table=True):
    """A round's figures per indicator and unit kind, kept equal to the reported values by the
    database's triggers (migration 0010; storage.roundsums): the values with data, those
    submitted, the sums of numerators, denominators and values (NULL as SQL's sum gives
    it), the yes answers and those on time. A group without data has no row."""

    round_id: int = Field(sa_column=Column(Integer, ForeignKey("round.id", ondelete="CASCADE"),
                                           primary_key=True))
    indicator_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=30)
    n: int
    n_sub: int
    num: int | None = Field(default=None, sa_type=BigInteger)
    den: int | None = Field(default=None, sa_type=BigInteger)
    val: float | None = None
    yes: int
    on_time: int


class Person(SQLModel, table=True):
    """Someone who talks to the bot (or will, once they accept an invitation)."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, index=True, nullable=True)
    )
    # the Zalo Bot Platform's user id (a string), once they joined on Zalo (migration 0003)
    zalo_id: str | None = Field(default=None, max_length=64, unique=True, index=True,
                                nullable=True)
    # where reminders and digests reach them: telegram | zalo | web (the last they joined on)
    channel: str = Field(default="telegram", max_length=10,
                         sa_column_kwargs={"server_default": "telegram"})
    name: str
    language: str = Field(default="vi", max_length=5)
    language_chosen: bool = False  # chosen with /ngonngu; until then what they write decides
    unreachable: bool = False
    created_at: datetime = Field(default_factory=utcnow)


def address(person: Person) -> tuple[str, int | str] | None:
    """Where a person is reached: their channel and the id there; None for web only."""
    if person.channel == "zalo" and person.zalo_id is not None:
        return "zalo", person.zalo_id
    if person.channel != "web" and person.telegram_id is not None:
        return "telegram", person.telegram_id
    if person.zalo_id is not None and person.channel != "web":
        return "zalo", person.zalo_id
    return None


class Membership(SQLModel, table=True):
    """A person's role for a unit; one person may hold several units."""

    __table_args__ = (UniqueConstraint("person_id", "unit_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id")
    unit_id: int = fk("unit.id")
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """A one-time invitation code, stored hashed."""

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True, index=True, max_length=64)
    unit_id: int = fk("unit.id")
    role: str = Field(max_length=20)
    person_name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)
    created_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)


class JoinAttempt(SQLModel, table=True):
    """A failed invitation code, to limit guessing."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int | None = Field(default=None,
                                    sa_column=Column(BigInteger, index=True, nullable=True))
    zalo_id: str | None = Field(default=None, max_length=64, index=True, nullable=True)
    at: datetime = Field(default_factory=utcnow, index=True)


class ReportedValue(SQLModel, table=True):
    """The current value a unit reported for an indicator in a round."""

    __table_args__ = (UniqueConstraint("round_id", "unit_id", "indicator_id"),
                      Index("ix_reportedvalue_round_indicator", "round_id", "indicator_id"))
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = fk("round.id")
    unit_id: int = fk("unit.id")
    indicator_id: int = fk("indicator.id")
    numerator: int | None = Field(default=None, sa_type=BigInteger)
    denominator: int | None = Field(default=None, sa_type=BigInteger)
    value: float | None = None  # counts, yes (1) / no (0)
    task_status: str | None = Field(default=None, max_length=20)
    text: str | None = None
    state: str = Field(default="draft", max_length=10)  # draft | submitted
    reported_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)
    source: str = Field(default="chat", max_length=10)  # chat | officer | import
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1


class ValueChange(SQLModel, table=True):
    """Every change of a reported value: the audit history."""

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = fk("round.id")
    unit_id: int = fk("unit.id", index=False)
    indicator_id: int = fk("indicator.id", index=False)
    numerator: int | None = Field(default=None, sa_type=BigInteger)
    denominator: int | None = Field(default=None, sa_type=BigInteger)
    value: float | None = None
    task_status: str | None = None
    text: str | None = None
    state: str = Field(max_length=10)
    changed_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)
    source: str = Field(default="chat", max_length=10)
    changed_at: datetime = Field(default_factory=utcnow)


class Submission(SQLModel, table=True):
    """A unit pressed "Gửi báo cáo" for a round."""

    __table_args__ = (UniqueConstraint("round_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = fk("round.id")
    unit_id: int = fk("unit.id")
    submitted_at: datetime = Field(default_factory=utcnow)
    submitted_by: int | None = fk("person.id", nullable=True, index=False, cascade=False)


class ReminderLog(SQLModel, table=True):
    """A reminder claimed before it is sent: one row per person, round and slot."""

    __table_args__ = (UniqueConstraint("person_id", "round_id", "slot"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = fk("person.id")
    round_id: int = fk("round.id")
    slot: str = Field(max_length=40)
    claimed_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    outcome: str = Field(default="claimed", max_length=20)  # claimed | sent | blocked | stale


class Conversation(SQLModel, table=True):
    """Where a person is in a conversation: the flow's state, kept in the database."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"),
                                            unique=True, nullable=False))
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow)


class ProcessedMessage(SQLModel, table=True):
    """A message of a messenger without update ids (Zalo) already applied, by its key
    ("zalo:<message_id>"): the same message delivered twice is ignored."""

    key: str = Field(primary_key=True, max_length=100)
    processed_at: datetime = Field(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram update already applied: the same update delivered twice is ignored."""

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(default_factory=utcnow)


class SignInLink(SQLModel, table=True):
    """A one-time sign-in link to the web pages, stored hashed (migration 0003)."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    person_id: int = fk("person.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie's token, stored hashed (migration 0003)."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    person_id: int = fk("person.id")
    via: str = Field(default="link", max_length=10)  # link | miniapp
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
