"""The synchronous core of every update: one session, the flow, the saves, the replies.

Handlers call ``handle`` in a worker thread (``asyncio.to_thread``) so database work never
blocks the event loop. Everything an update changes — values, submission, conversation
state and the processed-update mark — is committed in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.i18n import pick_language
from flows import join as join_flow
from flows import report as report_flow
from flows import rules
from flows import summary as summary_flow
from flows.effects import Msg, Reply, Save, SubmitReport, TargetText, msg
from flows.status import status as status_reply
from storage import repo
from storage.kinds import Role
from storage.models import Indicator, Milestone, Person, ReportedValue, Round, Unit
from storage.repo import JoinOutcome

REPORTING_ROLES = (Role.collaborator, Role.agency)
OFFICER_ROLES = (Role.officer, Role.admin)


@dataclass(frozen=True)
class TgUser:
    """The sender of an update, as Telegram describes them."""

    id: int
    first_name: str
    last_name: str | None = None
    language_code: str | None = None

    @property
    def full_name(self) -> str:
        """First and last name."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


# ------------------------------------------------------------------ incoming events


@dataclass(frozen=True)
class StartCmd:
    """/start [CODE]."""

    code: str | None = None


@dataclass(frozen=True)
class ReportCmd:
    """/report, /baocao, or "Báo cáo ngay" at an indicator."""

    code: str | None = None


@dataclass(frozen=True)
class TextIn:
    """A typed text."""

    text: str


@dataclass(frozen=True)
class PressIn:
    """A button press (callback data)."""

    data: str


@dataclass(frozen=True)
class SummaryCmd:
    """/summary [YEAR] (/tonghop)."""

    arg: str | None = None


@dataclass(frozen=True)
class OutFile:
    """A file to send: a document or a photo, with a caption from the catalog."""

    kind: str  # document | photo
    filename: str
    data: bytes
    caption: Msg


@dataclass(frozen=True)
class SimpleCmd:
    """/status, /cancel, /help, /language, /invite, or "unknown" with the command typed."""

    name: str
    arg: str = ""


Incoming = StartCmd | ReportCmd | TextIn | PressIn | SimpleCmd | SummaryCmd


@dataclass
class Outcome:
    """What to send back, in which language; ``duplicate`` when the update was seen before."""

    locale: str
    replies: list[Reply] = field(default_factory=list)
    files: list[OutFile] = field(default_factory=list)
    duplicate: bool = False
    callback_text: str | None = None


@dataclass(frozen=True)
class Env:
    """What the service needs from the outside world."""

    engine: Engine
    tz: Any
    bot_username: str
    invitation_days: int = 30
    now: Callable[[], datetime] | None = None

    def utcnow(self) -> datetime:
        """Current time (aware, UTC), from the injected clock when there is one."""
        if self.now is not None:
            return self.now()
        from storage.models import utcnow

        return utcnow()

    def today(self) -> date:
        """Today's date in the commune's time zone."""
        return self.utcnow().astimezone(self.tz).date()


# ------------------------------------------------------------------ building the sheet


def target_for(milestones: list[Milestone], year: int) -> report_flow.Target | None:
    """The milestone target for ``year`` (``flows.rules.target_for``), as the flow sees it."""
    t = rules.target_for(milestones, year)
    if t is None:
        return None
    return report_flow.Target(t.milestone_year, t.direction, t.value, t.value_max, t.ref_year)


def _value(v: ReportedValue | None) -> report_flow.Value | None:
    if v is None:
        return None
    return report_flow.Value(v.numerator, v.denominator, v.value, v.task_status, v.text)


def build_sheet(unit: Unit, rnd: Round, lang: str, *, session: Session,
                today: date) -> tuple[report_flow.Sheet, dict[str, Indicator]]:
    """What the report flow sees for one unit in one round, in the person's language."""
    indicators = repo.indicators_for(unit, rnd, session=session)
    ms: dict[int, list[Milestone]] = {}
    for m in repo.milestones_for([i.id for i in indicators if i.id], session=session):
        ms.setdefault(m.indicator_id, []).append(m)
    current = repo.values_of(rnd.id, unit.id, session=session)
    prev_round = repo.round_for_year(rnd.commune_id, rnd.year - 1, session=session)
    last = repo.values_of(prev_round.id, unit.id, session=session) if prev_round else {}

    def tr(obj: Indicator, name: str) -> str | None:
        return getattr(obj, f"{name}_{lang}") or getattr(obj, f"{name}_vi")

    items = tuple(
        report_flow.Item(
            code=i.code, kind=i.kind, name=tr(i, "name") or i.code, factor=i.factor,
            question=tr(i, "question"), numerator_q=tr(i, "numerator"),
            denominator_q=tr(i, "denominator"), unit=tr(i, "unit"),
            target=target_for(ms.get(i.id or 0, []), rnd.year), last=_value(last.get(i.id)),
        )
        for i in indicators
    )
    by_id = {i.id: i for i in indicators}
    values = {by_id[k].code: _value(v) for k, v in current.items() if k in by_id}
    officers = repo.officers_of(rnd.commune_id, session=session)
    locked = rnd.closed_at is not None or today > rnd.consolidation_deadline
    closed_on = rnd.closed_at.date() if rnd.closed_at else None  # closed by an officer
    sheet = report_flow.Sheet(
        round_id=rnd.id, year=rnd.year, unit_name=unit.name, deadline=rnd.unit_deadline,
        consolidation_deadline=rnd.consolidation_deadline, items=items,
        values={k: v for k, v in values.items() if v is not None},
        submitted=repo.submission_of(rnd.id, unit.id, session=session) is not None,
        locked=locked, closed_on=closed_on,
        contact=", ".join(p.name for p in officers) or None, unit_id=unit.id,
    )
    return sheet, {i.code: i for i in indicators}


# ------------------------------------------------------------------ the handlers


class Ctx:
    """One update being handled."""

    def __init__(self, env: Env, session: Session, user: TgUser, person: Person | None):
        self.env, self.session, self.user, self.person = env, session, user, person
        self.out = Outcome(locale=person.language if person else pick_language(user.language_code))

    def say(self, reply: Reply) -> None:
        """Queue a reply."""
        self.out.replies.append(reply)


def _reporting_units(ctx: Ctx) -> list[Unit]:
    """Units this person reports for: their own, and for officers every unit of their commune
    (to enter a paper report on its behalf)."""
    assert ctx.person is not None
    own: list[Unit] = []
    for m, u in repo.memberships(ctx.person.id, session=ctx.session):
        if m.role in REPORTING_ROLES:
            own.append(u)
        elif m.role in OFFICER_ROLES:
            own.extend(repo.children(u.id, session=ctx.session))
    seen: set[int] = set()
    return [u for u in own if not (u.id in seen or seen.add(u.id))]


def _is_member(ctx: Ctx, unit: Unit) -> bool:
    assert ctx.person is not None
    return any(u.id == unit.id and m.role in REPORTING_ROLES
               for m, u in repo.memberships(ctx.person.id, session=ctx.session))


def _run_report(ctx: Ctx, unit: Unit, state: dict, event: report_flow.Event) -> None:
    """Run the report flow for a unit and carry out its effects."""
    assert ctx.person is not None
    commune = repo.commune_of(unit, session=ctx.session)
    rnd = repo.open_round(commune.id, session=ctx.session)
    if rnd is None:
        ctx.say(Reply((msg("report.no_round", unit_name=unit.name),)))
        repo.save_state(ctx.person.id, {}, session=ctx.session)
        return
    sheet, indicators = build_sheet(unit, rnd, ctx.out.locale, session=ctx.session,
                                    today=ctx.env.today())
    result = report_flow.step(state, event, sheet)
    source = "chat" if _is_member(ctx, unit) else "officer"  # an officer typing a paper report
    for effect in result.effects:
        if isinstance(effect, Save):
            ind = indicators[effect.code]
            repo.save_value(session=ctx.session, round_id=rnd.id, unit_id=unit.id,
                            indicator_id=ind.id, person_id=ctx.person.id,
                            numerator=effect.numerator, denominator=effect.denominator,
                            value=effect.value, task_status=effect.task_status, text=effect.text,
                            source=source, now=ctx.env.utcnow())
        elif isinstance(effect, SubmitReport):
            repo.submit(rnd.id, unit.id, person_id=ctx.person.id, session=ctx.session,
                        now=ctx.env.utcnow())
        else:
            ctx.say(effect)
    new_state = dict(result.state)
    if new_state:
        new_state["unit"] = unit.id
    repo.save_state(ctx.person.id, new_state, session=ctx.session)


def _state_unit(ctx: Ctx, state: dict) -> Unit | None:
    uid = state.get("unit")
    if uid is None:
        return None
    units = _reporting_units(ctx)
    return next((u for u in units if u.id == uid), None)


def _pick_unit(ctx: Ctx, then: str, state: dict) -> Unit | None:
    """The unit to act for: the current one, the only one, or ask (returns None)."""
    unit = _state_unit(ctx, state)
    if unit is not None:
        return unit
    units = _reporting_units(ctx)
    if len(units) == 1:
        return units[0]
    if not units:
        ctx.say(join_flow.help_text(_roles(ctx)) if ctx.person else join_flow.not_a_member())
        return None
    ctx.say(join_flow.choose_unit([(u.id, u.name) for u in units], then))
    return None


def _roles(ctx: Ctx) -> list[str]:
    if ctx.person is None:
        return []
    return [m.role for m, _ in repo.memberships(ctx.person.id, session=ctx.session)]


def on_start(ctx: Ctx, ev: StartCmd) -> None:
    """/start: join with a code, or explain the bot."""
    code = join_flow.invitation_code(ev.code or "") or (ev.code or "").strip(" .,;!?")
    if not code:
        ctx.say(join_flow.on_start_without_code(ctx.person.name if ctx.person else None))
        return
    res = repo.redeem_invitation(code, telegram_id=ctx.user.id, name=ctx.user.full_name,
                                 language=ctx.out.locale, session=ctx.session,
                                 now=ctx.env.utcnow())
    if res.outcome not in (JoinOutcome.joined, JoinOutcome.already_member):
        ctx.say(join_flow.on_join(res.outcome.value, None))
        return
    assert res.person is not None and res.unit is not None
    ctx.person = res.person
    ctx.out.locale = res.person.language
    commune = repo.commune_of(res.unit, session=ctx.session)
    rnd = repo.open_round(commune.id, session=ctx.session)
    from bot.i18n import text_of

    joined = join_flow.Joined(
        person_name=res.person.name, unit_name=res.unit.name, commune_name=commune.name,
        role=text_of(f"role.{res.role}", ctx.out.locale), year=rnd.year if rnd else None,
        deadline=rnd.unit_deadline if rnd else None, officer=res.role in OFFICER_ROLES,
        today=ctx.env.today())
    ctx.say(join_flow.on_join(res.outcome.value, joined, whole_commune=res.unit.id == commune.id))


def on_report(ctx: Ctx, ev: ReportCmd) -> None:
    """/report: start or resume the report."""
    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    state = repo.load_state(ctx.person.id, session=ctx.session)
    units = _reporting_units(ctx)
    if state.get("paused") and len(units) > 1:  # after /huy, someone with several units chooses
        ctx.say(join_flow.choose_unit([(u.id, u.name) for u in units], "report"))
        return
    unit = _pick_unit(ctx, "report", state)
    if unit is not None:
        _run_report(ctx, unit, state, report_flow.Start(ev.code))


def on_text(ctx: Ctx, ev: TextIn) -> None:
    """A typed answer goes to the current question; a typed invitation code joins."""
    code = join_flow.invitation_code(ev.text)
    if ctx.person is None:
        if code is not None:  # the code alone, without "/start"
            on_start(ctx, StartCmd(code))
        else:
            ctx.say(join_flow.not_a_member())
        return
    state = repo.load_state(ctx.person.id, session=ctx.session)
    unit = _state_unit(ctx, state)
    if unit is None or (code is not None and state.get("step") not in report_flow.QUESTION_STEPS):
        if code is not None:
            on_start(ctx, StartCmd(code))
        else:
            ctx.say(Reply((msg("report.idle_hint"),)))
        return
    _run_report(ctx, unit, state, report_flow.Text(ev.text))


def on_press(ctx: Ctx, ev: PressIn) -> None:
    """A button press."""
    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    kind, _, rest = ev.data.partition(":")
    state = repo.load_state(ctx.person.id, session=ctx.session)
    if kind == "lang" and rest in ("vi", "en"):
        repo.set_language(ctx.person, rest, session=ctx.session)
        ctx.out.locale = rest
        ctx.say(Reply((msg("language.set"),)))
        unit = _state_unit(ctx, state)
        if unit is not None and state.get("step") in report_flow.QUESTION_STEPS \
                and not state.get("paused"):  # the open question again, in the new language
            _run_report(ctx, unit, state, report_flow.Start())
        return
    if kind == "u":
        uid, _, then = rest.partition(":")
        unit = next((u for u in _reporting_units(ctx) if str(u.id) == uid), None)
        if unit is None:
            ctx.say(Reply((msg("report.stale_button"),)))
            return
        if then == "status":
            _status_for(ctx, unit)
        else:  # the same unit as the paused report resumes it; another starts afresh
            same = state if state.get("unit") == unit.id else {"unit": unit.id}
            _run_report(ctx, unit, same, report_flow.Start())
        return
    if kind == "inv":
        _invite_for(ctx, rest)
        return
    if kind.startswith("r") and kind[1:].isdigit():
        action, _, tail = rest.partition(":")
        code, _, arg = tail.partition(":")
        round_id = int(kind[1:])
        if action == "go" and arg:  # "Báo cáo ngay" names its unit: never another one
            unit = next((u for u in _reporting_units(ctx) if str(u.id) == arg), None)
            if unit is not None and state.get("unit") != unit.id:
                state = {"unit": unit.id}
        else:
            unit = _state_unit(ctx, state)
        if unit is None and not (action == "go" and arg):
            unit = _unit_for_round(ctx, round_id)
        if unit is None:
            ctx.say(Reply((msg("report.stale_button"),)))
            return
        rnd = repo.open_round(repo.commune_of(unit, session=ctx.session).id, session=ctx.session)
        if rnd is None or rnd.id != round_id:
            ctx.say(Reply((msg("report.stale_button"),)))
            return
        if action == "go":
            _run_report(ctx, unit, state, report_flow.Start(code or None))
            return
        _run_report(ctx, unit, state, report_flow.Press(action, code, arg))
        return
    ctx.say(Reply((msg("report.stale_button"),)))


def _unit_for_round(ctx: Ctx, round_id: int) -> Unit | None:
    """The person's reporting unit that belongs to this round's commune."""
    rnd = ctx.session.get(Round, round_id)
    if rnd is None:
        return None
    for m, u in repo.memberships(ctx.person.id, session=ctx.session):  # own units only
        if m.role in REPORTING_ROLES and \
                repo.commune_of(u, session=ctx.session).id == rnd.commune_id:
            return u
    return None


def _status_for(ctx: Ctx, unit: Unit) -> None:
    commune = repo.commune_of(unit, session=ctx.session)
    rnd = repo.open_round(commune.id, session=ctx.session)
    if rnd is None:
        ctx.say(Reply((msg("report.no_round", unit_name=unit.name),)))
        return
    sheet, _ = build_sheet(unit, rnd, ctx.out.locale, session=ctx.session, today=ctx.env.today())
    ctx.say(status_reply(sheet, ctx.env.today()))


def on_simple(ctx: Ctx, ev: SimpleCmd) -> None:
    """/status, /cancel, /help, /language, /invite; an unknown command gets the help."""
    if ev.name in ("help", "unknown"):
        if ev.name == "unknown" and ctx.person is not None:
            ctx.say(Reply((msg("err.unknown_command", command=ev.arg),)))
        ctx.say(join_flow.help_text(_roles(ctx)))
        return
    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    if ev.name == "language":
        ctx.say(join_flow.language_menu())
    elif ev.name == "cancel":
        state = repo.load_state(ctx.person.id, session=ctx.session)
        unit = _state_unit(ctx, state)
        if unit is not None:
            _run_report(ctx, unit, state, report_flow.Cancel())
        else:
            ctx.say(Reply((msg("report.cancelled"),)))
    elif ev.name == "status":
        state = repo.load_state(ctx.person.id, session=ctx.session)
        unit = _pick_unit(ctx, "status", state)
        if unit is not None:
            _status_for(ctx, unit)
    elif ev.name == "invite":
        communes = _officer_communes(ctx)
        if not communes:
            ctx.say(join_flow.officers_only())
            return
        units = []
        for c in communes:
            units.extend((u.id, u.name) for u in repo.children(c.id, session=ctx.session))
        ctx.say(join_flow.invite_menu(units))


def _officer_communes(ctx: Ctx) -> list[Unit]:
    assert ctx.person is not None
    return [u for m, u in repo.memberships(ctx.person.id, session=ctx.session)
            if m.role in OFFICER_ROLES]


def _invite_for(ctx: Ctx, unit_id: str) -> None:
    communes = {c.id for c in _officer_communes(ctx)}
    unit = ctx.session.get(Unit, int(unit_id)) if unit_id.isdigit() else None
    if unit is None or unit.parent_id not in communes:
        ctx.say(join_flow.officers_only())
        return
    from bot.i18n import text_of

    inv, code = repo.create_invitation(unit, session=ctx.session, days=ctx.env.invitation_days,
                                       created_by=ctx.person.id if ctx.person else None)
    link = f"https://t.me/{ctx.env.bot_username}?start={code}"
    ctx.say(join_flow.invite_created(unit.name, text_of(f"role.{inv.role}", ctx.out.locale),
                                     link, code, inv.expires_at.date()))


def on_summary(ctx: Ctx, ev: SummaryCmd) -> None:
    """/summary [YEAR]: the commune's report in chat, then Word, Excel and a chart (officers)."""
    from bot.documents import report_docx, report_png, report_xlsx
    from storage.aggregate import ReportError, build_report, raw_values

    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    communes = _officer_communes(ctx)
    if not communes:
        ctx.say(join_flow.officers_only())
        return
    commune = communes[0]
    if ev.arg and not (ev.arg.isdigit() and len(ev.arg) == 4):
        ctx.say(summary_flow.usage())
        return
    current = repo.open_round(commune.id, session=ctx.session)
    year = int(ev.arg) if ev.arg else (current.year if current else ctx.env.today().year)
    try:
        report = build_report(commune.id, year, session=ctx.session, include_sensitive=True,
                              tz=ctx.env.tz)
    except ReportError:
        years = sorted(r.year for r in ctx.session.exec(
            select(Round).where(Round.commune_id == commune.id)))
        ctx.say(summary_flow.no_round(year, years))
        return
    lang = ctx.out.locale
    rows = [summary_flow.SummaryRow(
        code=r.code, name=r.name_en if lang == "en" else r.name_vi, kind=r.kind,
        factor=r.factor, value=r.value,
        target=TargetText(r.target.direction, r.target.value, r.target.value_max,
                          100 if r.kind == "share_units" else r.factor, r.target.ref_year)
        if r.target else None,
        target_year=r.target.milestone_year if r.target else None,
        from_next_milestone=bool(r.target and r.target.from_next_milestone),
        verdict=r.verdict, units_reported=r.units_reported, units_expected=r.units_expected,
        task_done=r.task_counts.get("done", 0)) for r in report.rows]
    c = report.completeness
    ctx.say(summary_flow.summary(summary_flow.SummaryView(
        commune_name=commune.name, year=year, rows=rows, units_expected=c.units_expected,
        units_submitted=c.units_submitted, units_on_time=c.units_on_time,
        units_late=c.units_late, missing_units=c.missing_units)))
    stem = f"bao-cao-{commune.code.replace('/', '-')}-{year}"
    names = {"year": year, "commune_name": commune.name}
    ctx.out.files += [
        OutFile("document", f"{stem}.docx", report_docx(report, include_sensitive=True),
                msg("summary.caption_docx", **names)),
        OutFile("document", f"{stem}.xlsx",
                report_xlsx(report, raw_values(report, session=ctx.session)),
                msg("summary.caption_xlsx", **names)),
        OutFile("photo", f"{stem}.png", report_png(report), msg("summary.caption_png", **names)),
    ]


HANDLERS: dict[type, Callable[[Ctx, Any], None]] = {
    StartCmd: on_start,
    ReportCmd: on_report,
    TextIn: on_text,
    PressIn: on_press,
    SimpleCmd: on_simple,
    SummaryCmd: on_summary,
}


def handle(env: Env, update_id: int, user: TgUser, event: Incoming) -> Outcome:
    """Apply one update exactly once and return what to send."""
    with Session(env.engine, expire_on_commit=False) as session:
        if not repo.claim_update(update_id, session=session):
            session.rollback()
            return Outcome(locale=pick_language(user.language_code), duplicate=True)
        person = repo.person_by_telegram(user.id, session=session)
        ctx = Ctx(env, session, user, person)
        HANDLERS[type(event)](ctx, event)
        session.commit()
        return ctx.out


def person_language(env: Env, telegram_id: int) -> str | None:
    """The stored language of a Telegram user, if they are known."""
    with Session(env.engine) as session:
        return session.exec(select(Person.language).where(
            Person.telegram_id == telegram_id)).first()
