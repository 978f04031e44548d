"""The officer commands: /progress, /remind, /deadline, /close (and Vietnamese aliases).

Like ``bot.service``, each command is a synchronous function applied once per update (the
update id is claimed in the same transaction) that returns what to say; the thin PTB
handlers at the end run it in a worker thread, send the replies, hand nudges to the
reminder sender and reschedule the reminders when a round changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.i18n import pick_language, render
from bot.reminders import Delivery, digest_reply, reminder_deliveries
from bot.service import Env, TgUser
from bot.settings import local_date
from flows import join as join_flow
from flows import reminders as plan
from flows.effects import Button, Day, Msg, Reply, msg
from flows.numbers import parse_day
from storage import reminders as store
from storage import repo
from storage.models import Person, Round, Unit

log = logging.getLogger("ctvbot.officer")

# command: (aliases, menu description key) — the same shape as bot.app.COMMANDS
COMMANDS = {
    "progress": (("progress", "tiendo"), "cmd.progress"),
    "remind": (("remind", "nhac"), "cmd.remind"),
    "deadline": (("deadline", "hanchot"), "cmd.deadline"),
    "close": (("close", "chot"), "cmd.close"),
}
MENU_NAMES = {"vi": ["tiendo", "nhac", "hanchot", "chot"],
              "en": ["progress", "remind", "deadline", "close"]}

NUDGE_EVERY = timedelta(hours=1)  # an officer's nudge reaches a unit at most once an hour
MAX_DAYS_BEFORE = 60
CLOSE, KEEP = "close", "keep"


@dataclass
class OfficerOutcome:
    """What to send back, nudges to deliver, and whether reminders must be rescheduled."""

    locale: str
    replies: list[Reply] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    duplicate: bool = False
    reschedule: bool = False


@dataclass
class Ctx:
    """One officer command being applied."""

    env: Env
    session: Session
    person: Person
    communes: list[Unit]
    out: OfficerOutcome

    def say(self, *lines: Msg, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        """Queue a reply."""
        self.out.replies.append(Reply(tuple(lines), buttons))

    def rounds(self) -> list[tuple[Unit, Round | None]]:
        """The officer's communes with their current round."""
        return [(c, repo.open_round(c.id, session=self.session)) for c in self.communes]


def _apply(env: Env, update_id: int, user: TgUser, body: Callable[[Ctx], None]) -> OfficerOutcome:
    """Claim the update, check the person is an officer, apply ``body``, commit."""
    with Session(env.engine, expire_on_commit=False) as session:
        if not repo.claim_update(update_id, session=session):
            session.rollback()
            return OfficerOutcome(pick_language(user.language_code), duplicate=True)
        person = repo.person_by_telegram(user.id, session=session)
        out = OfficerOutcome(person.language if person else pick_language(user.language_code))
        if person is None:
            out.replies.append(join_flow.not_a_member())
        else:
            communes = store.officer_communes(person.id, session=session)
            if not communes:
                out.replies.append(join_flow.officers_only())
            else:
                body(Ctx(env, session, person, communes, out))
        session.commit()
        return out


def _no_round(ctx: Ctx, commune: Unit) -> None:
    ctx.say(msg("officer.no_round", commune_name=commune.name))


# ------------------------------------------------------------------ /progress (/tiendo)


def progress(env: Env, update_id: int, user: TgUser) -> OfficerOutcome:
    """How many units sent their report, which are late and what they lack."""
    def body(ctx: Ctx) -> None:
        for commune, rnd in ctx.rounds():
            if rnd is None:
                _no_round(ctx, commune)
            else:
                ctx.out.replies.append(digest_reply(rnd, commune, ctx.env.today(),
                                                    session=ctx.session, tz=ctx.env.tz))
    return _apply(env, update_id, user, body)


# ------------------------------------------------------------------ /remind (/nhac)


def remind(env: Env, update_id: int, user: TgUser) -> OfficerOutcome:
    """Nudge the units that have not sent their report, at most once an hour per unit."""
    def body(ctx: Ctx) -> None:
        now = ctx.env.utcnow()
        slot = plan.manual_slot(now, ctx.env.tz)
        for commune, rnd in ctx.rounds():
            if rnd is None:
                _no_round(ctx, commune)
                continue
            if rnd.closed_at is not None:
                ctx.say(msg("officer.remind_closed", year=rnd.year,
                            closed_on=Day(local_date(rnd.closed_at, ctx.env.tz))))
                continue
            if ctx.env.today() > rnd.consolidation_deadline:  # figures can no longer change
                ctx.say(msg("officer.remind_past", year=rnd.year,
                            deadline=Day(rnd.consolidation_deadline)))
                continue
            _remind_round(ctx, rnd, slot, now)
    return _apply(env, update_id, user, body)


def _remind_round(ctx: Ctx, rnd: Round, slot: str, now: Any) -> None:
    s = ctx.session
    progress = store.round_progress(rnd, session=s)
    pending = [p for p in progress if p.pending]
    if not pending:
        ctx.say(msg("officer.remind_nothing", year=rnd.year))
        return
    recipients = store.pending_recipients(rnd, session=s, progress=progress)
    people_of: dict[int, set[int]] = {}
    for r in recipients:
        for u in r.units:
            people_of.setdefault(u.unit.id, set()).add(r.person.id)
    recent = store.reminded_since(rnd.id, [r.person.id for r in recipients], now - NUDGE_EVERY,
                                  session=s)
    nudged, skipped, nobody = [], [], []
    for p in pending:
        ids = people_of.get(p.unit.id, set())
        if not ids:
            nobody.append(p.unit)
        elif ids & recent:
            skipped.append(p.unit)
        else:
            nudged.append(p.unit)
    nudged_ids = {u.id for u in nudged}
    done = store.logged_people(rnd.id, slot, session=s)
    send = []
    for r in recipients:
        units = tuple(u for u in r.units if u.unit.id in nudged_ids)
        if units and r.person.id not in done:
            send.append(store.Recipient(r.person, units))
    ctx.out.deliveries.extend(reminder_deliveries(rnd, send, slot, ctx.env.today(),
                                                  officer_name=ctx.person.name))
    if nudged:
        ctx.say(msg("officer.remind_sent", people=len(send), units=len(nudged),
                    unit_names=", ".join(u.name for u in nudged)))
    if skipped:
        ctx.say(msg("officer.remind_skipped", unit_names=", ".join(u.name for u in skipped)))
    if nobody:
        ctx.say(msg("officer.remind_nobody", unit_names=", ".join(u.name for u in nobody)))


# ------------------------------------------------------------------ /deadline (/hanchot)


def _days_text(days: Sequence[int]) -> str:
    return ", ".join(str(d) for d in days)


def _looks_like_date(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _parse_days(text: str) -> list[int] | None:
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    days = sorted({int(p) for p in parts}, reverse=True)
    return days if days[0] <= MAX_DAYS_BEFORE else None


def _current(ctx: Ctx, commune: Unit, rnd: Round) -> None:
    ctx.say(msg("deadline.current", year=rnd.year, commune_name=commune.name,
                deadline=Day(rnd.unit_deadline),
                consolidation_deadline=Day(rnd.consolidation_deadline),
                days_before=_days_text(rnd.reminder_days_before or []),
                every=rnd.reminder_every_days_after),
            msg("deadline.usage"))


def _pick_commune(ctx: Ctx, args: list[str]) -> tuple[Unit, Round] | None:
    """The round the command is about: the only one, or the one named first."""
    rounds = [(c, r) for c, r in ctx.rounds() if r is not None]
    if args and not _looks_like_date(args[0]):
        wanted = args[0].lower()
        match = [(c, r) for c, r in rounds
                 if c.code.lower() == wanted or c.code.lower().endswith("/" + wanted)]
        if len(match) == 1:
            args.pop(0)
            return match[0]
        if len(args) != 2:  # two words are two dates, one of them unreadable: said below
            ctx.say(msg("deadline.unknown_commune", text=args[0][:30],
                        codes=", ".join(c.code for c, _ in rounds) or "—"))
            return None
    if not rounds:
        _no_round(ctx, ctx.communes[0])
        return None
    if len(rounds) > 1:
        ctx.say(msg("officer.which_commune", codes=", ".join(c.code for c, _ in rounds)))
        return None
    return rounds[0]


def deadline(env: Env, update_id: int, user: TgUser, args: Sequence[str]) -> OfficerOutcome:
    """Show, or change, a round's unit and consolidation deadlines and reminder days.

    ``/hanchot 15/11/2026 05/12/2026 [7,3,1,0]``. A date in the past, a consolidation
    deadline before the unit deadline, or anything unreadable is refused with the reason,
    and nothing changes.
    """
    def body(ctx: Ctx) -> None:
        rest = [a for a in args if a.strip()]
        picked = _pick_commune(ctx, rest)
        if picked is None:
            return
        commune, rnd = picked
        if not rest:
            _current(ctx, commune, rnd)
            return
        if len(rest) not in (2, 3):
            ctx.say(msg("deadline.usage"))
            return
        today = ctx.env.today()
        parsed: list[date] = []
        for text in rest[:2]:
            day = parse_day(text, rnd.year)
            if day is None:
                ctx.say(msg("deadline.bad_date", text=text[:20]), msg("deadline.usage"))
                return
            parsed.append(day)
        unit_deadline, consolidation = parsed
        latest = date(rnd.year + 1, 12, 31)  # a report on year Y is made by the end of Y+1
        if consolidation > latest or unit_deadline > latest:
            ctx.say(msg("deadline.too_late", year=rnd.year, latest=Day(latest)))
            return
        days = list(rnd.reminder_days_before or [])
        if len(rest) == 3:
            new_days = _parse_days(rest[2])
            if new_days is None:
                ctx.say(msg("deadline.bad_days", text=rest[2][:30], limit=MAX_DAYS_BEFORE))
                return
            days = new_days
        if rnd.closed_at is not None:
            ctx.say(msg("deadline.closed", year=rnd.year,
                        closed_on=Day(local_date(rnd.closed_at, ctx.env.tz))))
            return
        for d in (unit_deadline, consolidation):
            if d < today:
                ctx.say(msg("deadline.past", deadline=Day(d), today=Day(today)))
                return
        if consolidation < unit_deadline:
            ctx.say(msg("deadline.order", deadline=Day(unit_deadline),
                        consolidation_deadline=Day(consolidation)))
            return
        rnd.unit_deadline, rnd.consolidation_deadline = unit_deadline, consolidation
        rnd.reminder_days_before = days
        ctx.session.add(rnd)
        ctx.out.reschedule = True
        log.info("round %s: deadlines set to %s / %s, reminders %s by person %s", rnd.id,
                 unit_deadline, consolidation, days, ctx.person.id)
        ctx.say(msg("deadline.changed", year=rnd.year, commune_name=commune.name,
                    deadline=Day(unit_deadline), consolidation_deadline=Day(consolidation),
                    days_before=_days_text(days)))
    return _apply(env, update_id, user, body)


# ------------------------------------------------------------------ /close (/chot)


def _close_data(action: str, round_id: int) -> str:
    return f"off:{action}:{round_id}"


def close(env: Env, update_id: int, user: TgUser) -> OfficerOutcome:
    """Ask to confirm closing ("chốt") the round: after it, values are locked."""
    def body(ctx: Ctx) -> None:
        for commune, rnd in ctx.rounds():
            if rnd is None:
                _no_round(ctx, commune)
                continue
            if rnd.closed_at is not None:
                ctx.say(msg("close.already", year=rnd.year, commune_name=commune.name,
                            closed_on=Day(local_date(rnd.closed_at, ctx.env.tz))))
                continue
            progress = store.round_progress(rnd, session=ctx.session)
            ctx.say(msg("close.confirm", year=rnd.year, commune_name=commune.name,
                        submitted=sum(1 for p in progress if p.submitted),
                        expected=len(progress)),
                    buttons=((Button(msg("btn.close_confirm"), _close_data(CLOSE, rnd.id)),
                              Button(msg("btn.close_keep"), _close_data(KEEP, rnd.id))),))
    return _apply(env, update_id, user, body)


def press(env: Env, update_id: int, user: TgUser, data: str) -> OfficerOutcome:
    """The confirmation buttons of /close: ``off:close:ROUND`` or ``off:keep:ROUND``."""
    def body(ctx: Ctx) -> None:
        _, action, rid = (data.split(":") + ["", "", ""])[:3]
        rnd = ctx.session.get(Round, int(rid)) if rid.isdigit() else None
        if rnd is None or action not in (CLOSE, KEEP) or \
                rnd.commune_id not in {c.id for c in ctx.communes}:
            ctx.say(msg("report.stale_button"))
            return
        commune = ctx.session.get(Unit, rnd.commune_id)
        assert commune is not None
        if rnd.closed_at is not None:
            ctx.say(msg("close.already", year=rnd.year, commune_name=commune.name,
                        closed_on=Day(local_date(rnd.closed_at, ctx.env.tz))))
            return
        if action == KEEP:
            ctx.say(msg("close.kept", year=rnd.year))
            return
        now = ctx.env.utcnow()
        rnd.closed_at, rnd.closed_by = now, ctx.person.id
        ctx.session.add(rnd)
        ctx.out.reschedule = True
        log.info("round %s closed by person %s", rnd.id, ctx.person.id)
        ctx.say(msg("close.done", year=rnd.year, commune_name=commune.name,
                    closed_on=Day(now.astimezone(ctx.env.tz).date())))
    return _apply(env, update_id, user, body)


# ------------------------------------------------------------------ PTB handlers


def _tg_user(update: Update) -> TgUser:
    u = update.effective_user
    assert u is not None
    return TgUser(u.id, u.first_name, u.last_name, u.language_code)


async def _run(update: Update, context: ContextTypes.DEFAULT_TYPE,
               fn: Callable[..., OfficerOutcome], *args: Any) -> None:
    from bot.app import send_replies  # late: bot.app imports this module

    env: Env = context.bot_data["env"]
    user = _tg_user(update)
    chat = update.effective_chat
    try:
        outcome = await asyncio.to_thread(fn, env, update.update_id, user, *args)
    except OperationalError:
        log.warning("update %s: database unavailable", update.update_id)
        if chat is not None:
            await context.bot.send_message(chat.id, render(msg("err.try_again"),
                                                           pick_language(user.language_code)))
        raise ApplicationHandlerStop from None
    if not outcome.duplicate and chat is not None:
        await send_replies(context, chat.id, outcome.replies, outcome.locale)
    reminders = context.bot_data.get("reminders")
    if reminders is not None and not outcome.duplicate:
        if outcome.deliveries:
            reminders.spawn(reminders.deliver(outcome.deliveries), "reminders:manual")
        if outcome.reschedule:
            await reminders.rebuild()
    log.info("update %s officer %s: %d replies, %d nudges%s", update.update_id, fn.__name__,
             len(outcome.replies), len(outcome.deliveries),
             " (duplicate, ignored)" if outcome.duplicate else "")
    raise ApplicationHandlerStop


async def officer_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/progress /remind /deadline /close and /tiendo /nhac /hanchot /chot."""
    assert update.effective_message is not None and update.effective_message.text
    word = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
    name = next(n for n, (aliases, _) in COMMANDS.items() if word in aliases)
    if name == "deadline":
        await _run(update, context, deadline, list(context.args or []))
    else:
        await _run(update, context, {"progress": progress, "remind": remind,
                                     "close": close}[name])


async def officer_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /close confirmation buttons."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.message is not None:
        with contextlib.suppress(BadRequest, Forbidden):
            await query.edit_message_reply_markup(None)
    await _run(update, context, press, query.data or "")


def install(application: Application) -> None:
    """Register the officer commands and buttons ahead of the generic handlers (group -1)."""
    aliases = [a for names, _ in COMMANDS.values() for a in names]
    application.add_handler(CommandHandler(aliases, officer_command), group=-1)
    application.add_handler(CallbackQueryHandler(officer_press, pattern=r"^off:"), group=-1)
