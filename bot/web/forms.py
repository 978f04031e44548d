"""What the web pages read and write, synchronously (routes run it in a worker thread).

The same sheet as the chat (``bot.service.build_sheet``), the same checks
(``flows.form``), the same saves (``storage.repo``), with ``source="web"`` in the history.
Who may open which unit's form follows the chat: a reporter their own units, an officer the
units of their commune.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.service import OFFICER_ROLES, REPORTING_ROLES, build_sheet
from flows import form as form_flow
from flows.effects import Day, Msg, msg
from flows.report import Item, Sheet, Value, is_complete
from storage import repo
from storage import web as web_store
from storage.models import Person, Unit

SOURCE = "web"


class NotAllowed(Exception):
    """This person may not open this unit's form."""


def person_of(engine: Engine, token: str | None, now: datetime) -> Person | None:
    """The signed-in person of a session cookie."""
    with Session(engine, expire_on_commit=False) as session:
        return web_store.session_person(token, session=session, now=now)


def reporting_units(person_id: int, *, session: Session) -> list[Unit]:
    """The units a person reports for (as in the chat): their own, and for an officer every
    unit of their commune."""
    own: list[Unit] = []
    for m, u in repo.memberships(person_id, session=session):
        if m.role in REPORTING_ROLES:
            own.append(u)
        elif m.role in OFFICER_ROLES:
            own.extend(repo.children(u.id, session=session))
    seen: set[int] = set()
    return [u for u in own if not (u.id in seen or seen.add(u.id))]


def units_of(engine: Engine, person_id: int) -> list[tuple[int, str]]:
    """(id, name) of the units a person may report for."""
    with Session(engine) as session:
        return [(u.id, u.name) for u in reporting_units(person_id, session=session)
                if u.id is not None]


def officer_commune(engine: Engine, person_id: int, commune_id: int) -> Unit | None:
    """The commune when this person is its officer or admin (as in the chat), else None."""
    with Session(engine, expire_on_commit=False) as session:
        for m, u in repo.memberships(person_id, session=session):
            if m.role in OFFICER_ROLES and u.id == commune_id:
                return u
    return None


@dataclass
class Row:
    """One indicator of the form: the item, what its fields show, last year's figure.

    A shared population's row (``population``) has one field, whose figure every indicator
    using it takes; an indicator's ``shared`` fields (``den``/``num`` -> population) are not
    asked again in its row.
    """

    item: Item
    typed: dict[str, str]
    complete: bool
    problems: dict[str, Msg] = field(default_factory=dict)
    confirm: dict[str, Msg] = field(default_factory=dict)
    population: form_flow.Shared | None = None
    shared: dict[str, form_flow.Shared] = field(default_factory=dict)


@dataclass
class FormView:
    """One unit's form in one round."""

    unit_id: int
    sheet: Sheet | None
    rows: list[Row]
    locked_reason: Msg | None = None
    no_round: Msg | None = None

    @property
    def missing(self) -> int:
        """Indicators without a complete figure."""
        return sum(not r.complete for r in self.rows if r.population is None)

    @property
    def indicators(self) -> int:
        """How many indicators the form asks (shared populations are not indicators)."""
        return sum(r.population is None for r in self.rows)


def _unit(person_id: int, unit_id: int, *, session: Session) -> Unit:
    unit = next((u for u in reporting_units(person_id, session=session) if u.id == unit_id),
                None)
    if unit is None:
        raise NotAllowed(unit_id)
    return unit


def _sheet(unit: Unit, lang: str, *, session: Session, today: Any, tz: Any
           ) -> tuple[Sheet | None, dict[str, int], Any]:
    commune = repo.commune_of(unit, session=session)
    rnd = repo.open_round(commune.id, session=session)
    if rnd is None:
        return None, {}, None
    sheet, ids = build_sheet(unit, rnd, lang, session=session, today=today, tz=tz)
    return sheet, ids, rnd


def locked_reason(sheet: Sheet) -> Msg | None:
    """Why a round no longer takes figures (the chat's sentence), or None."""
    if not sheet.locked:
        return None
    contact = sheet.contact or msg("report.contact_officer")
    if sheet.closed_on is not None:
        return msg("report.locked", year=sheet.year, closed_on=Day(sheet.closed_on),
                   contact=contact)
    return msg("report.locked_deadline", year=sheet.year,
               deadline=Day(sheet.consolidation_deadline), contact=contact)


def form_view(engine: Engine, person_id: int, unit_id: int, lang: str, *, today: Any,
              tz: Any) -> FormView:
    """A unit's form as stored (raises NotAllowed)."""
    with Session(engine) as session:
        unit = _unit(person_id, unit_id, session=session)
        sheet, _, _ = _sheet(unit, lang, session=session, today=today, tz=tz)
        if sheet is None:
            return FormView(unit_id, None, [],
                            no_round=msg("report.no_round", unit_name=unit.name))
        return FormView(unit_id, sheet, rows_of(sheet), locked_reason=locked_reason(sheet))


def rows_of(sheet: Sheet) -> list[Row]:
    """The form's rows: each shared population once, just before the first indicator that
    uses it (prefilled with its figure of this round, as the chat offers it again), then
    the indicators, without the fields a shared population fills."""
    shared = form_flow.shared_populations(sheet.items)
    rows: list[Row] = []
    for item in sheet.items:
        value = sheet.values.get(item.code)
        for s in shared:
            if s.codes[0] == item.code:
                n = form_flow.population_figure(s, sheet.values)
                rows.append(Row(form_flow.population_item(s, sheet.items),
                                {} if n is None else {"value": str(n)}, n is not None,
                                population=s))
        slots = form_flow.shared_slots(item, shared)
        typed = {k: v for k, v in form_flow.typed_of(item, value).items() if k not in slots}
        rows.append(Row(item, typed, is_complete(item, value), shared=slots))
    return rows


@dataclass
class Saved:
    """The outcome of saving fields: per indicator code (and per shared population,
    ``@key``), the check's result."""

    entries: dict[str, form_flow.Entry]
    locked: Msg | None = None
    sent: bool = False


def save(engine: Engine, person_id: int, unit_id: int, lang: str,
         typed: dict[str, dict[str, str]], confirmed: dict[str, frozenset[str]], *,
         today: Any, tz: Any, now: datetime, send: bool = False) -> Saved:
    """Check and save some indicators' fields (code -> field -> text; a shared population's
    field ``@key`` -> ``value`` is saved in every indicator that uses it, as the chat saves
    it); with ``send``, mark the report sent when nothing was refused. Raises NotAllowed."""
    with Session(engine, expire_on_commit=False) as session:
        unit = _unit(person_id, unit_id, session=session)
        sheet, ids, rnd = _sheet(unit, lang, session=session, today=today, tz=tz)
        if sheet is None or rnd is None:
            return Saved({}, locked=msg("report.no_round", unit_name=unit.name))
        if sheet.locked:
            return Saved({}, locked=locked_reason(sheet))
        entries = form_flow.check_form(sheet.items, sheet.values, typed, confirmed, sheet.year)
        for code, entry in entries.items():
            item = sheet.item(code)
            if item is None or not entry.ok:
                continue
            before = sheet.values.get(code)
            value = entry.value
            if value is None:
                if before is None:
                    continue
                value = Value()
            if value == before:
                continue
            repo.save_value(session=session, round_id=rnd.id, unit_id=unit.id,
                            indicator_id=ids[code], person_id=person_id,
                            numerator=value.numerator, denominator=value.denominator,
                            value=value.value, task_status=value.task_status, text=value.text,
                            source=SOURCE, now=now)
        sent = False
        if send and all(e.ok for e in entries.values()):
            repo.submit(rnd.id, unit.id, person_id=person_id, session=session, now=now)
            sent = True
        session.commit()
        return Saved(entries, sent=sent)


def person_by_telegram(engine: Engine, telegram_id: int) -> Person | None:
    """A person by their Telegram id."""
    with Session(engine, expire_on_commit=False) as session:
        return repo.person_by_telegram(telegram_id, session=session)


def open_session(engine: Engine, person_id: int, via: str, now: datetime) -> str:
    """A new browser session's token."""
    with Session(engine) as session:
        token = web_store.create_session(person_id, via=via, session=session, now=now)
        session.commit()
        return token


def redeem(engine: Engine, token: str, now: datetime) -> tuple[web_store.LinkState, str | None]:
    """Use a sign-in link up; the session's token when it was valid."""
    with Session(engine) as session:
        out = web_store.redeem_link(token, session=session, now=now)
        session.commit()
        return out


def link_state(engine: Engine, token: str, now: datetime) -> web_store.LinkState:
    """Whether a sign-in link would work now."""
    with Session(engine) as session:
        return web_store.link_state(token, session=session, now=now)


def sign_out(engine: Engine, token: str, now: datetime) -> None:
    """End one browser's session."""
    with Session(engine) as session:
        web_store.revoke_session(token, session=session, now=now)
        session.commit()
