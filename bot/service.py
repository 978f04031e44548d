"""The synchronous core of every update: one session, the flow, the saves, the replies.

Handlers call ``handle`` in a worker thread (``asyncio.to_thread``) so database work never
blocks the event loop. Everything an update changes — values, submission, conversation
state and the processed-update mark — is committed in one transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.context import (
    Ctx,
    Env,
    Incoming,
    OfficerCmd,
    Outcome,
    OutFile,
    PressIn,
    ReportCmd,
    SimpleCmd,
    StartCmd,
    SummaryCmd,
    TextIn,
    TgUser,
    ascii_int,
)
from bot.i18n import looks_vietnamese, pick_language
from bot.messenger import WEB_APP
from bot.officer import on_officer, on_officer_press, page_link
from bot.settings import local_date
from flows import callbacks, rules
from flows import join as join_flow
from flows import report as report_flow
from flows import summary as summary_flow
from flows.effects import Button, Reply, Save, SubmitReport, TargetText, msg
from flows.report import ReportState
from flows.status import status as status_reply
from storage import repo
from storage.kinds import Role
from storage.models import Indicator, Milestone, Person, Round, Unit
from storage.repo import JoinOutcome

REPORTING_ROLES = (Role.collaborator, Role.agency)
OFFICER_ROLES = (Role.officer, Role.admin)


# ------------------------------------------------------------------ building the sheet


def target_for(milestones: list[Milestone], year: int) -> report_flow.Target | None:
    """The milestone target for ``year`` (``flows.rules.target_for``), as the flow sees it."""
    t = rules.target_for(milestones, year)
    if t is None:
        return None
    return report_flow.Target(t.milestone_year, t.direction, t.value, t.value_max, t.ref_year,
                              t.fraction)


def _value(v: repo.Figures | None) -> report_flow.Value | None:
    if v is None:
        return None
    return report_flow.Value(*v)


# The part of a sheet that does not change while people answer (indicators, targets,
# deadlines, officers' names), per database, round, kind of unit (every hamlet of a round
# shares one), round version and language.
# A change of any of these bumps the round's version (migration 0002), which every answer
# reads in its first query: a worker holding an older copy builds it again.
_SHEETS: weakref.WeakKeyDictionary[Engine, dict[tuple, tuple[report_flow.Sheet,
                                                              dict[str, int]]]] = \
    weakref.WeakKeyDictionary()
_SHEETS_MAX = 2048


def _static_sheet(unit: Unit, rnd: Round, lang: str, *,
                  session: Session) -> tuple[report_flow.Sheet, dict[str, int]]:
    """The unchanging part of a unit's sheet, from the cache or built (five reads)."""
    engine = session.get_bind()
    cache = _SHEETS.setdefault(engine, {})
    key = (rnd.id, unit.kind, rnd.version, lang)
    hit = cache.get(key)
    if hit is not None:
        return replace(hit[0], unit_name=unit.name, unit_id=unit.id), hit[1]
    indicators = repo.indicators_for(unit, rnd, session=session)
    ms: dict[int, list[Milestone]] = {}
    for m in repo.milestones_for([i.id for i in indicators if i.id], session=session):
        ms.setdefault(m.indicator_id, []).append(m)

    def tr(obj: Indicator, name: str) -> str | None:
        return getattr(obj, f"{name}_{lang}") or getattr(obj, f"{name}_vi")

    items = tuple(
        report_flow.Item(
            code=i.code, kind=i.kind, name=tr(i, "name") or i.code, factor=i.factor,
            question=tr(i, "question"), numerator_q=tr(i, "numerator"),
            denominator_q=tr(i, "denominator"), unit=tr(i, "unit"),
            target=target_for(ms.get(i.id or 0, []), rnd.year),
            population=i.denominator_population, numerator_population=i.numerator_population,
        )
        for i in indicators
    )
    officers = repo.officers_of(rnd.commune_id, session=session)
    sheet = report_flow.Sheet(
        round_id=rnd.id, year=rnd.year, unit_name=unit.name, deadline=rnd.unit_deadline,
        consolidation_deadline=rnd.consolidation_deadline, items=items,
        contact=", ".join(p.name for p in officers) or None, unit_id=unit.id,
    )
    if len(cache) >= _SHEETS_MAX:
        cache.clear()
    cache[key] = (sheet, {i.code: i.id for i in indicators if i.id is not None})
    return sheet, cache[key][1]


def build_sheet(unit: Unit, rnd: Round, lang: str, *, session: Session, today: date, tz: Any,
                submitted: bool | None = None) -> tuple[report_flow.Sheet, dict[str, int]]:
    """What the report flow sees for one unit in one round, in the person's language, and
    the indicators' ids by code. ``submitted``: already known (else read)."""
    static, ids = _static_sheet(unit, rnd, lang, session=session)
    current, last = repo.values_with_last_year(rnd, unit.id, session=session)
    codes = {v: k for k, v in ids.items()}
    items = tuple(replace(i, last=_value(last.get(ids[i.code]))) if ids[i.code] in last else i
                  for i in static.items)
    values = {codes[k]: _value(v) for k, v in current.items() if k in codes}
    if submitted is None:
        submitted = repo.submission_of(rnd.id, unit.id, session=session) is not None
    locked = rnd.closed_at is not None or today > rnd.consolidation_deadline
    closed_on = local_date(rnd.closed_at, tz) if rnd.closed_at else None  # by an officer
    sheet = replace(static, items=items, values={k: v for k, v in values.items() if v is not None},
                    submitted=submitted, locked=locked, closed_on=closed_on)
    return sheet, ids


# ------------------------------------------------------------------ the handlers


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


def _found(ctx: Ctx, unit: Unit | None = None) -> repo.Found | None:
    """What the update's first query read (of ``unit``, when given)."""
    found: repo.Found | None = ctx.found
    if found is None or (unit is not None and (found.unit is None or found.unit.id != unit.id)):
        return None
    return found


def _load_state(ctx: Ctx) -> ReportState:
    """The person's conversation state, as the update's first query read it."""
    assert ctx.person is not None
    found = _found(ctx)
    if found is not None:
        return ReportState.from_json(found.state)
    return ReportState.from_json(repo.load_state(ctx.person.id, session=ctx.session))


def _typed(state: ReportState | dict) -> ReportState:
    return state if isinstance(state, ReportState) else ReportState.from_json(state)


def _is_member(ctx: Ctx, unit: Unit) -> bool:
    assert ctx.person is not None
    found = _found(ctx, unit)
    if found is not None:
        return found.member
    return any(u.id == unit.id and m.role in REPORTING_ROLES
               for m, u in repo.memberships(ctx.person.id, session=ctx.session))


def _run_report(ctx: Ctx, unit: Unit, state: ReportState | dict,
                event: report_flow.Event) -> None:
    """Run the report flow for a unit and carry out its effects."""
    assert ctx.person is not None
    state = _typed(state)
    found = _found(ctx, unit)
    if found is not None and found.round is not None:
        rnd, submitted = found.round, found.submitted
    else:
        commune = repo.commune_of(unit, session=ctx.session)
        rnd, submitted = repo.open_round(commune.id, session=ctx.session), None
    if rnd is None:
        ctx.say(Reply((msg("report.no_round", unit_name=unit.name),)))
        repo.save_state(ctx.person.id, {}, session=ctx.session)
        return
    sheet, indicators = build_sheet(unit, rnd, ctx.out.locale, session=ctx.session,
                                    today=ctx.env.today(), tz=ctx.env.tz, submitted=submitted)
    result = report_flow.step(state, event, sheet)
    source = "chat" if _is_member(ctx, unit) else "officer"  # an officer typing a paper report
    for effect in result.effects:
        if isinstance(effect, Save):
            repo.save_value(session=ctx.session, round_id=rnd.id, unit_id=unit.id,
                            indicator_id=indicators[effect.code], person_id=ctx.person.id,
                            numerator=effect.numerator, denominator=effect.denominator,
                            value=effect.value, task_status=effect.task_status, text=effect.text,
                            source=source, now=ctx.env.utcnow())
        elif isinstance(effect, SubmitReport):
            repo.submit(rnd.id, unit.id, person_id=ctx.person.id, session=ctx.session,
                        now=ctx.env.utcnow())
        else:
            ctx.say(effect)
    new_state = result.state
    if new_state != ReportState():
        new_state = replace(new_state, unit=unit.id)
    repo.save_state(ctx.person.id, new_state.to_json(), session=ctx.session)


def _state_unit(ctx: Ctx, state: ReportState | dict) -> Unit | None:
    uid = _typed(state).unit
    if uid is None:
        return None
    found = _found(ctx)
    if found is not None and found.unit is not None and found.unit.id == uid \
            and found.state.get("unit") == uid:
        return found.unit if found.member or found.officer else None
    units = _reporting_units(ctx)
    return next((u for u in units if u.id == uid), None)


def _pick_unit(ctx: Ctx, then: str, state: ReportState | dict) -> Unit | None:
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
    name = join_flow.person_name(ctx.user.first_name, ctx.user.last_name, ctx.user.language_code)
    account = {"zalo_id": str(ctx.user.id)} if ctx.user.channel == "zalo" else \
        {"telegram_id": int(ctx.user.id)}
    res = repo.redeem_invitation(code, name=name, language=ctx.out.locale,
                                 session=ctx.session, now=ctx.env.utcnow(), **account)
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
        today=ctx.env.today(), consolidation_deadline=rnd.consolidation_deadline if rnd else None,
        closed_on=local_date(rnd.closed_at, ctx.env.tz) if rnd and rnd.closed_at else None,
        contact=", ".join(p.name for p in repo.officers_of(commune.id, session=ctx.session))
        or None)
    ctx.say(join_flow.on_join(res.outcome.value, joined, whole_commune=res.unit.id == commune.id))
    ctx.out.menu = _menu_of(ctx)  # a new role may bring the officers' commands


def _menu_of(ctx: Ctx) -> str:
    """The command menu a person's roles give: the officers' one, or everyone's."""
    return "officer" if any(r in OFFICER_ROLES for r in _roles(ctx)) else "everyone"


def on_report(ctx: Ctx, ev: ReportCmd) -> None:
    """/report: start or resume the report."""
    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    state = _load_state(ctx)
    units = _reporting_units(ctx)
    if state.paused and len(units) > 1:  # after /huy, someone with several units chooses
        ctx.say(join_flow.choose_unit([(u.id, u.name) for u in units], "report"))
        return
    unit = _pick_unit(ctx, "report", state)
    if unit is not None:
        if ctx.env.web_url.startswith("https://"):  # Telegram opens Mini Apps over HTTPS only
            ctx.say(Reply((msg("web.or_the_form"),),
                          ((Button(msg("web.button"), f"{WEB_APP}{ctx.env.web_url}/app"),),)))
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
    state = _load_state(ctx)
    unit = _state_unit(ctx, state)
    if unit is None or (code is not None and state.step not in report_flow.QUESTION_STEPS):
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
    button = callbacks.decode(ev.data)
    state = _load_state(ctx)
    if isinstance(button, callbacks.Language):
        repo.set_language(ctx.person, button.lang, session=ctx.session)
        ctx.out.locale = button.lang
        ctx.out.menu = _menu_of(ctx)  # the menu in the new language
        ctx.say(Reply((msg("language.set"),)))
        unit = _state_unit(ctx, state)
        if unit is not None and state.step in report_flow.QUESTION_STEPS \
                and not state.paused:  # the open question again, in the new language
            _run_report(ctx, unit, state, report_flow.Start())
        return
    if isinstance(button, callbacks.UnitChoice):
        unit = next((u for u in _reporting_units(ctx) if u.id == button.unit_id), None)
        if unit is None:
            ctx.say(Reply((msg("report.stale_button"),)))
            return
        if button.then == "status":
            _status_for(ctx, unit)
        else:  # the same unit as the paused report resumes it; another starts afresh
            same = state if state.unit == unit.id else ReportState(unit=unit.id)
            _run_report(ctx, unit, same, report_flow.Start())
        return
    if isinstance(button, callbacks.Invite):
        _invite_for(ctx, str(button.unit_id))
        return
    if isinstance(button, callbacks.ReportAction):
        action, code, arg, round_id = button.action, button.code, button.arg, button.round_id
        if action == "go" and arg:  # "Báo cáo ngay" names its unit: never another one
            unit = next((u for u in _reporting_units(ctx) if str(u.id) == arg), None)
            if unit is not None and state.unit != unit.id:
                state = ReportState(unit=unit.id)
        else:
            unit = _state_unit(ctx, state)
        if unit is None and not (action == "go" and arg):
            unit = _unit_for_round(ctx, round_id)
        if unit is None:
            ctx.say(Reply((msg("report.stale_button"),)))
            return
        found = _found(ctx, unit)
        rnd = found.round if found is not None and found.round is not None else \
            repo.open_round(repo.commune_of(unit, session=ctx.session).id, session=ctx.session)
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
    sheet, _ = build_sheet(unit, rnd, ctx.out.locale, session=ctx.session, today=ctx.env.today(),
                           tz=ctx.env.tz)
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
    elif ev.name == "web":
        _web_link(ctx)
    elif ev.name == "invite":
        communes = _officer_communes(ctx)
        if not communes:
            ctx.say(join_flow.officers_only())
            return
        units = []
        for c in communes:
            units.extend((u.id, u.name) for u in repo.children(c.id, session=ctx.session))
        ctx.say(join_flow.invite_menu(units))


def _web_link(ctx: Ctx) -> None:
    """/web: a one-time sign-in link to the web form."""
    from storage import web as web_store

    assert ctx.person is not None
    if not ctx.env.web_url:
        ctx.say(Reply((msg("web.not_configured"),)))
        return
    token = web_store.create_link(ctx.person.id, session=ctx.session, now=ctx.env.utcnow())
    ctx.say(Reply((msg("web.link", link=f"{ctx.env.web_url.rstrip('/')}/login/{token}",
                       minutes=web_store.LINK_MINUTES),)))


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


def _road(r: Any) -> dict[str, Any]:
    """The path target and projection of a report row, as the chat summary shows them."""
    out: dict[str, Any] = {}
    factor = 100 if r.kind == "share_units" else r.factor
    bound = rules.path_bound(r.kind, r.target)
    if r.path is not None and r.path.target is not None and bound is not None:
        out.update(path_target=TargetText(bound[0], r.path.target, None, factor),
                   path_verdict=r.path.verdict, path_year=r.path.year)
    pr = r.projection
    if pr is not None:
        m = pr.milestone
        out.update(projection=pr.value, projection_year=pr.year, projection_years=pr.years,
                   projection_verdict=pr.verdict, projection_small=pr.small_denominator,
                   projection_target=TargetText(m.direction, m.value, m.value_max, factor,
                                                m.ref_year) if m is not None else None)
    return out


def on_summary(ctx: Ctx, ev: SummaryCmd) -> None:
    """/summary [YEAR]: the commune's report in chat, then Word, Excel and a chart (officers)."""
    from bot.documents import Issue, report_docx, report_png, report_xlsx
    from storage.aggregate import ReportError, build_report, raw_values
    from storage.communes import report_settings

    if ctx.person is None:
        ctx.say(join_flow.not_a_member())
        return
    communes = _officer_communes(ctx)
    if not communes:
        ctx.say(join_flow.officers_only())
        return
    commune = communes[0]
    asked = ascii_int(ev.arg, max_digits=4)
    if ev.arg and (asked is None or len(ev.arg) != 4):
        ctx.say(summary_flow.usage())
        return
    current = repo.open_round(commune.id, session=ctx.session)
    year = asked if asked is not None else (current.year if current else ctx.env.today().year)
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
                          100 if r.kind == "share_units" else r.factor, r.target.ref_year,
                          r.target.fraction)
        if r.target else None,
        target_year=r.target.milestone_year if r.target else None,
        from_next_milestone=bool(r.target and r.target.from_next_milestone),
        verdict=r.verdict, units_reported=r.units_reported, units_expected=r.units_expected,
        task_done=r.task_counts.get("done", 0), **_road(r)) for r in report.rows]
    c = report.completeness
    ctx.say(summary_flow.summary(summary_flow.SummaryView(
        commune_name=commune.name, year=year, rows=rows, units_expected=c.units_expected,
        units_submitted=c.units_submitted, units_on_time=c.units_on_time,
        units_late=c.units_late, missing_units=c.missing_units)))
    page_link(ctx)
    stem = f"bao-cao-{commune.code.replace('/', '-')}-{year}"
    names = {"year": year, "commune_name": commune.name}
    raw = raw_values(report, session=ctx.session)  # read now; the files are built after the
    tz = ctx.env.tz  # text is sent, outside the transaction (``OutFile.make``)
    # signed as the commune file's ``report:`` block says, issued today
    issue = Issue(issued=ctx.env.today()).merged(
        Issue.from_settings(report_settings(commune.id, session=ctx.session)))
    if issue.template is not None and not issue.template.is_file():  # moved since setup:
        issue = Issue(**{**issue.__dict__, "template": None})  # the built-in layout
    ctx.out.files += [
        OutFile("document", f"{stem}.docx", b"", msg("summary.caption_docx", **names),
                make=lambda: report_docx(report, include_sensitive=True, tz=tz, lang=lang,
                                         issue=issue)),
        OutFile("document", f"{stem}.xlsx", b"", msg("summary.caption_xlsx", **names),
                make=lambda: report_xlsx(report, raw, tz=tz, lang=lang)),
        OutFile("photo", f"{stem}.png", b"", msg("summary.caption_png", **names),
                make=lambda: report_png(report, lang=lang)),
    ]


def on_any_press(ctx: Ctx, ev: PressIn) -> None:
    """A button press: the /chot confirmation goes to the officer's handler, others to
    ``on_press``."""
    if ev.data.startswith("off:"):
        on_officer_press(ctx, ev.data)
    else:
        on_press(ctx, ev)


HANDLERS: dict[type, Callable[[Ctx, Any], None]] = {
    StartCmd: on_start,
    ReportCmd: on_report,
    TextIn: on_text,
    PressIn: on_any_press,
    SimpleCmd: on_simple,
    SummaryCmd: on_summary,
    OfficerCmd: on_officer,
}


def _follow_language(ctx: Ctx, text: str) -> None:
    """Someone who writes Vietnamese is answered in Vietnamese, whatever their phone's
    language, until they choose a language with /ngonngu."""
    if ctx.out.locale == "vi" or not looks_vietnamese(text):
        return
    if ctx.person is not None:
        if ctx.person.language_chosen:
            return
        repo.set_language(ctx.person, "vi", session=ctx.session, chosen=False)
    ctx.out.locale = "vi"


def handle(env: Env, update_id: int | str, user: TgUser, event: Incoming) -> Outcome:
    """Apply one update exactly once and return what to send: every person's every command,
    text and press goes through here."""
    with Session(env.engine, expire_on_commit=False) as session:
        if not repo.claim_update(update_id, session=session):
            session.rollback()
            return Outcome(locale=pick_language(user.language_code), duplicate=True)
        found = repo.person_and_state(user.id, session=session,  # with the state, one read
                                      channel=user.channel)
        ctx = Ctx(env, session, user, found.person if found else None)
        ctx.found = found
        if isinstance(event, TextIn):
            _follow_language(ctx, event.text)
        HANDLERS[type(event)](ctx, event)
        session.commit()
        return ctx.out


def person_language(env: Env, account: int | str, channel: str = "telegram") -> str | None:
    """The stored language of a Telegram (or Zalo) user, if they are known."""
    column = Person.zalo_id if channel == "zalo" else Person.telegram_id
    with Session(env.engine) as session:
        return session.exec(select(Person.language).where(column == account)).first()


def officer_chats(env: Env) -> list[tuple[int, str]]:
    """(Telegram id, language) of every officer and admin: their chats get the officers'
    command menu."""
    with Session(env.engine) as session:
        return repo.officer_chats(session=session)
