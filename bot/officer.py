"""The officer commands: /progress, /remind, /deadline, /close (and Vietnamese aliases), and
the /close confirmation buttons.

Handlers of the one dispatcher (``bot.service.handle``): they check the person is an officer,
read the database, run the pure conversations of ``flows.officer`` and carry out their
effects. Nudges for the reminder sender and the need to reschedule go back in the Outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session

from bot.context import Ctx, Env, OfficerCmd
from bot.messenger import WEB_APP
from bot.reminders import Delivery, digest_reply, reminder_deliveries
from bot.settings import local_date
from flows import join as join_flow
from flows import officer as flow
from flows import reminders as plan
from flows.effects import Button, Day, Reply, msg
from storage import reminders as store
from storage import repo
from storage.models import Person, Round, Unit
from storage.roundsums import stamp_cutoff

log = logging.getLogger("ctvbot.officer")

NUDGE_EVERY = timedelta(hours=1)  # an officer's nudge reaches a unit at most once an hour


def _communes(ctx: Ctx) -> list[Unit] | None:
    """The officer's communes; None (and the refusal said) for anyone else."""
    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return None
    communes = store.officer_communes(ctx.person.id, session=ctx.session)
    if not communes:
        ctx.say(join_flow.officers_only())
        return None
    return communes


def _rounds(ctx: Ctx, communes: list[Unit]) -> list[tuple[Unit, Round | None]]:
    return [(c, repo.open_round(c.id, session=ctx.session)) for c in communes]


def round_view(rnd: Round, *, session: Session, tz: Any,
               progress: bool = False) -> flow.RoundView:
    """A round as the officer's conversations see it (with its progress when asked)."""
    assert rnd.id is not None
    closed_on = local_date(rnd.closed_at, tz) if rnd.closed_at else None
    submitted = expected = 0
    if progress and closed_on is None:
        units = store.round_progress(rnd, session=session)
        submitted, expected = sum(1 for p in units if p.submitted), len(units)
    return flow.RoundView(rnd.id, rnd.year, rnd.unit_deadline, rnd.consolidation_deadline,
                          tuple(rnd.reminder_days_before or ()), rnd.reminder_every_days_after,
                          closed_on, submitted, expected)


def _view(ctx: Ctx, rnd: Round, *, progress: bool = False) -> flow.RoundView:
    return round_view(rnd, session=ctx.session, tz=ctx.env.tz, progress=progress)


def apply(result: flow.Result, *, session: Session, person: Person, now: datetime,
          tz: tzinfo) -> tuple[list[Reply], bool]:
    """Carry out the effects of an officer's conversation (any face): the replies to show,
    and whether a round's dates or state changed (the reminders are rescheduled)."""
    replies: list[Reply] = []
    changed = False
    for effect in result.effects:
        if isinstance(effect, Reply):
            replies.append(effect)
            continue
        rnd = session.get(Round, effect.round_id)
        assert rnd is not None
        if isinstance(effect, flow.SetDeadlines):
            rnd.unit_deadline = effect.unit_deadline
            stamp_cutoff(rnd, tz)  # the on-time count's instant (round sums, 0010)
            rnd.consolidation_deadline = effect.consolidation_deadline
            rnd.reminder_days_before = list(effect.days_before)
            log.info("round %s: deadlines set to %s / %s, reminders %s by person %s", rnd.id,
                     effect.unit_deadline, effect.consolidation_deadline,
                     list(effect.days_before), person.id)
        elif isinstance(effect, flow.ReopenRound):
            rnd.closed_at, rnd.closed_by = None, None
            repo.record_round_event(rnd.id, "reopen", person_id=person.id,
                                    reason=effect.reason, session=session, now=now)
            log.info("round %s reopened by person %s", rnd.id, person.id)
        else:
            rnd.closed_at, rnd.closed_by = now, person.id
            repo.record_round_event(rnd.id, "close", person_id=person.id,
                                    reason=effect.reason, session=session, now=now)
            log.info("round %s closed by person %s", rnd.id, person.id)
        rnd.version += 1  # what the round's sheets show changed
        session.add(rnd)
        changed = True
    return replies, changed


def _carry_out(ctx: Ctx, result: flow.Result) -> None:
    """Apply the effects of an officer's conversation."""
    assert ctx.person is not None
    replies, changed = apply(result, session=ctx.session, person=ctx.person,
                             now=ctx.env.utcnow(), tz=ctx.env.tz)
    for reply in replies:
        ctx.say(reply)
    ctx.out.reschedule = ctx.out.reschedule or changed


def on_officer(ctx: Ctx, ev: OfficerCmd) -> None:
    """/progress, /remind, /deadline ARGS, /close: officers only."""
    communes = _communes(ctx)
    if communes is None:
        return
    if ev.name == "progress":
        progress(ctx, communes)
    elif ev.name == "remind":
        remind(ctx, communes)
    elif ev.name == "deadline":
        views = [flow.Commune(c.code, c.name, _view(ctx, r) if r else None)
                 for c, r in _rounds(ctx, communes)]
        _carry_out(ctx, flow.deadline(views, ev.args, ctx.env.today()))
    else:
        views = [flow.Commune(c.code, c.name, _view(ctx, r, progress=True) if r else None)
                 for c, r in _rounds(ctx, communes)]
        _carry_out(ctx, flow.ask_close(views))


def on_officer_press(ctx: Ctx, data: str) -> None:
    """The /close confirmation buttons: ``off:close:ROUND`` or ``off:keep:ROUND``."""
    communes = _communes(ctx)
    if communes is None:
        return
    parsed = flow.parse_close_data(data)
    rnd = ctx.session.get(Round, parsed[1]) if parsed else None
    commune = next((c for c in communes if rnd is not None and c.id == rnd.commune_id), None)
    view = _view(ctx, rnd) if rnd is not None and commune is not None else None
    _carry_out(ctx, flow.close_pressed(parsed[0] if parsed else None,
                                       commune.name if commune else None, view,
                                       ctx.env.today()))


# ------------------------------------------------------------------ /progress (/tiendo)


def progress(ctx: Ctx, communes: list[Unit]) -> None:
    """How many units sent their report, which are late and what they lack."""
    for commune, rnd in _rounds(ctx, communes):
        if rnd is None:
            ctx.say(flow.no_round(commune.name))
        else:
            ctx.say(digest_reply(rnd, commune, ctx.env.today(), session=ctx.session,
                                 tz=ctx.env.tz))
    page_link(ctx)


def page_link(ctx: Ctx) -> None:
    """The officer's web page under /tiendo and /tonghop: a Mini App button in Telegram when
    the pages are served over HTTPS, else a one-time sign-in link that lands on it."""
    from storage import web as web_store

    url = ctx.env.web_url.rstrip("/")
    if not url or ctx.person is None:
        return
    if url.startswith("https://") and ctx.user.channel == "telegram":
        ctx.say(Reply((msg("web.o.open_page"),),
                      ((Button(msg("web.o.page_button"), f"{WEB_APP}{url}/app"),),)))
        return
    token = web_store.create_link(ctx.person.id, session=ctx.session, now=ctx.env.utcnow())
    ctx.say(Reply((msg("web.o.page_link", link=f"{url}/login/{token}",
                       minutes=web_store.LINK_MINUTES),)))


# ------------------------------------------------------------------ /remind (/nhac)


def remind(ctx: Ctx, communes: list[Unit]) -> None:
    """Nudge the units that have not sent their report, at most once an hour per unit."""
    assert ctx.person is not None
    now = ctx.env.utcnow()
    day = ctx.env.daytime
    if not day.allows(now, ctx.env.tz):  # nobody is woken at night, even by an officer
        ctx.say(night_reply(ctx.env))
        return
    for commune, rnd in _rounds(ctx, communes):
        if rnd is None:
            ctx.say(flow.no_round(commune.name))
            continue
        replies, deliveries = nudge(rnd, session=ctx.session, env=ctx.env, officer=ctx.person)
        for reply in replies:
            ctx.say(reply)
        ctx.out.deliveries.extend(deliveries)


def night_reply(env: Env) -> Reply:
    """Nobody is woken at night, even by an officer."""
    day = env.daytime
    return Reply((msg("officer.remind_night", start=f"{day.start:%H:%M}",
                      end=f"{day.end:%H:%M}"),))


def nudge(rnd: Round, *, session: Session, env: Env, officer: Person,
          unit_ids: Collection[int] | None = None) -> tuple[list[Reply], list[Delivery]]:
    """/nhac for one round (any face): nudge its units that have not sent their report (or
    those of ``unit_ids``), at most once an hour per unit and only in the day. The replies
    for the officer and the reminders to hand to the sender."""
    now = env.utcnow()
    if not env.daytime.allows(now, env.tz):
        return [night_reply(env)], []
    if rnd.closed_at is not None:
        return [Reply((msg("officer.remind_closed", year=rnd.year,
                           closed_on=Day(local_date(rnd.closed_at, env.tz))),))], []
    if env.today() > rnd.consolidation_deadline:  # figures can no longer change
        return [Reply((msg("officer.remind_past", year=rnd.year,
                           deadline=Day(rnd.consolidation_deadline)),))], []
    return _remind_round(rnd, plan.manual_slot(now, env.tz), now, session=session, env=env,
                         officer=officer, unit_ids=unit_ids)


def _remind_round(rnd: Round, slot: str, now: datetime, *, session: Session, env: Env,
                  officer: Person, unit_ids: Collection[int] | None
                  ) -> tuple[list[Reply], list[Delivery]]:
    s = session
    progress = store.round_progress(rnd, session=s)
    pending = [p for p in progress if p.pending
               and (unit_ids is None or p.unit.id in unit_ids)]
    if not pending:
        return [Reply((msg("officer.remind_nothing", year=rnd.year),))], []
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
    deliveries = reminder_deliveries(rnd, send, slot, env.today(), officer_name=officer.name)
    replies = []
    if nudged:
        replies.append(Reply((msg("officer.remind_sent", people=len(send), units=len(nudged),
                                  unit_names=", ".join(u.name for u in nudged)),)))
    if skipped:
        replies.append(Reply((msg("officer.remind_skipped",
                                  unit_names=", ".join(u.name for u in skipped)),)))
    if nobody:
        replies.append(Reply((msg("officer.remind_nobody",
                                  unit_names=", ".join(u.name for u in nobody)),)))
    return replies, deliveries
