"""Commune files: a commune's units and reporting round, applied idempotently."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, tzinfo
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from sqlalchemy import func
from sqlmodel import Session, select

from storage.kinds import ADMIN_KINDS, UnitKind
from storage.models import (
    Invitation,
    Membership,
    Plan,
    ReportedValue,
    Round,
    Submission,
    Unit,
    ValueChange,
    utcnow,
)
from storage.plan_files import (
    PlanNotFound,
    PlanSpec,
    bundled_plan_paths,
    is_plan_file_ref,
    load_plan,
    resolve_plan,
)
from storage.plans_db import store_plan
from storage.repo import bump_rounds
from storage.roundsums import stamp_cutoff
from storage.yamlfiles import FileInvalid, Said, SaidError, problem, validate_file

DOC = "docs/commune-format.md"
UPPER_KINDS = frozenset({UnitKind.province, UnitKind.city, UnitKind.district})
COMMUNE_LEVEL_KINDS = frozenset({UnitKind.commune, *UPPER_KINDS})

CODE = r"^[a-z0-9][a-z0-9-]*$"


def parse_vn_date(text: str) -> date:
    """Read a date written DD/MM/YYYY (or ISO YYYY-MM-DD)."""
    text = str(text).strip()
    try:
        if "/" in text:
            d, m, y = (int(p) for p in text.split("/"))
            return date(y, m, d)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SaidError("file.date", text=text) from exc


MAX_NAME = 200  # characters: the longest Vietnamese unit name is far shorter


def _plain_name(v: str) -> str:
    bad = next((c for c in v if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise SaidError("file.control_character", code=f"U+{ord(bad):04X}")
    return v


# A unit's name: shown to people and written into their files.
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_plain_name)]


class Strict(BaseModel):
    """Refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


class UnitSpec(Strict):
    """A hamlet or an agency of the commune."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Name
    kind: UnitKind = UnitKind.hamlet


class SubCommuneSpec(UnitSpec):
    """A phường or xã under a city or district."""

    kind: UnitKind = UnitKind.commune


class ParentSpec(Strict):
    """The level above the commune (province, city, district)."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Name
    kind: UnitKind = UnitKind.province


class RemindersSpec(Strict):
    """When reminders go out."""

    days_before: list[Annotated[int, Field(ge=0, le=60)]] = [7, 3, 1, 0]
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "09:00"
    every_days_after: Annotated[int, Field(ge=0, le=30)] = 2


class RoundSpec(Strict):
    """The year's reporting round."""

    year: Annotated[int, Field(ge=2000, le=2100)]
    unit_deadline: date
    consolidation_deadline: date
    reminders: RemindersSpec = RemindersSpec()

    @field_validator("unit_deadline", "consolidation_deadline", mode="before")
    @classmethod
    def _date(cls, v: Any) -> date:
        return v if isinstance(v, date) else parse_vn_date(v)


# what a province's Word template may name (bot.documents.template_context fills them in)
REPORT_PLACEHOLDERS = frozenset({
    "committee", "commune", "commune_upper", "parent", "nation", "motto", "number_line",
    "number", "place", "date_line", "issued", "report_title", "title", "plan", "year",
    "dat", "khong_dat", "chua_du", "judged", "units_submitted", "units_expected",
    "units_on_time", "units_late", "late_units", "missing_units", "rows",
    "recipients_title", "recipients", "on_behalf", "signer_title", "signer"})


class ReportSpec(Strict):
    """How the commune's Word report is issued and signed (every field optional)."""

    number: Annotated[str, Field(min_length=1, max_length=40,
                                 pattern=r"^[^\s/][^/]*(/[^/\s]+)*$")] | None = None
    place: Name | None = None
    issued: date | None = None
    signer: Name | None = None
    signer_title: Name | None = None
    on_behalf: Name | None = None
    recipients: list[Name] = []
    template: Annotated[str, Field(min_length=1)] | None = None

    @field_validator("issued", mode="before")
    @classmethod
    def _date(cls, v: Any) -> date | None:
        return v if v is None or isinstance(v, date) else parse_vn_date(v)


class CommuneSpec(Strict):
    """A whole commune file."""

    code: Annotated[str, Field(pattern=CODE)]
    name: Name
    kind: UnitKind = UnitKind.commune
    parent: ParentSpec | None = None
    plan: str
    hamlets: list[UnitSpec] = []
    communes: list[SubCommuneSpec] = []  # for a city or district: its phường / xã
    agencies: list[UnitSpec] = []
    round: RoundSpec
    report: ReportSpec | None = None
    # set by load_commune: the plan file ``plan`` names, and its checked content
    _plan_path: Path | None = PrivateAttr(default=None)
    _plan_spec: PlanSpec | None = PrivateAttr(default=None)
    _template_path: Path | None = PrivateAttr(default=None)

    def report_settings(self) -> dict[str, Any] | None:
        """The ``report:`` block as stored with the commune (the template's full path)."""
        if self.report is None:
            return None
        out = self.report.model_dump(exclude_none=True, exclude_defaults=True)
        if self.report.issued is not None:
            out["issued"] = self.report.issued.isoformat()
        if self.report.template is not None:
            out["template"] = str(self._template_path or Path(self.report.template).resolve())
        return out or None

    def plan_path(self) -> Path:
        """The plan file: a bundled plan, or a file named relative to the commune file."""
        return self._plan_path or resolve_plan(self.plan)

    def plan_spec(self) -> PlanSpec:
        """The checked plan."""
        if self._plan_spec is None:
            self._plan_spec = load_plan(self.plan_path())
        return self._plan_spec


def load_commune(path: Path) -> CommuneSpec:
    """Read and check a commune file; raise FileInvalid naming every mistake."""
    spec, root = validate_file(CommuneSpec, path, doc=DOC)
    problems = []

    def bad(loc: list[str | int], said: str, /, **params: Any) -> None:
        problems.append(problem(path, root, loc, Said(said, params)))

    seen: set[str] = set()
    if spec.kind not in COMMUNE_LEVEL_KINDS:
        bad(["kind"], "commune.kind", kind=spec.kind.value)
    if spec.parent is not None:
        if spec.parent.code == spec.code:
            bad(["parent", "code"], "commune.own_parent", code=spec.code)
        if spec.parent.kind not in UPPER_KINDS:
            bad(["parent", "kind"], "commune.parent_kind", kind=spec.parent.kind.value)
    for key in ("hamlets", "communes", "agencies"):
        for i, u in enumerate(getattr(spec, key)):
            if u.code in seen:
                bad([key, i, "code"], "commune.code_twice", code=u.code)
            seen.add(u.code)
            if key == "agencies" and u.kind in ADMIN_KINDS:
                bad([key, i, "kind"], "commune.not_agency", kind=u.kind.value)
            if key == "hamlets" and u.kind is not UnitKind.hamlet:
                bad([key, i, "kind"], "commune.hamlet_kind")
            if key == "communes" and u.kind is not UnitKind.commune:
                bad([key, i, "kind"], "commune.commune_kind")
    r = spec.round
    if r.consolidation_deadline < r.unit_deadline:
        bad(["round", "consolidation_deadline"], "commune.deadlines_order")
    for key in ("unit_deadline", "consolidation_deadline"):
        when: date = getattr(r, key)
        if when.year < r.year:
            bad(["round", key], "commune.date_before_year", date=f"{when:%d/%m/%Y}",
                year=r.year)
        elif when.year > r.year + 1:
            bad(["round", key], "commune.date_after_year", date=f"{when:%d/%m/%Y}",
                year=r.year)
    problems += _report_problems(spec, path, root)
    try:
        plan_path = resolve_plan(spec.plan, path.parent)
    except PlanNotFound as exc:
        problems.append(problem(path, root, ["plan"], exc.said))
    else:
        try:
            plan_spec = load_plan(plan_path)
        except FileInvalid as exc:
            bad(["plan"], "commune.plan_mistakes", plan=str(plan_path))
            problems.extend(exc.problems)
        else:
            spec._plan_path, spec._plan_spec = plan_path, plan_spec
            problems.extend(_plan_problems(spec, plan_path, plan_spec, path, root))
    if problems:
        raise FileInvalid(problems)
    return spec


def _report_problems(spec: CommuneSpec, path: Path, root: Any) -> list:
    """The ``report:`` block: a date of issue near the round, a template that exists and
    names only what the report fills in."""
    rep, out = spec.report, []
    if rep is None:
        return out
    if rep.issued is not None and not spec.round.year <= rep.issued.year <= spec.round.year + 1:
        out.append(problem(path, root, ["report", "issued"],
                           Said("commune.report_issued_year",
                                {"date": f"{rep.issued:%d/%m/%Y}", "year": spec.round.year})))
    if rep.template is not None:
        where = (path.parent / rep.template).resolve()
        if where.suffix.lower() != ".docx":
            out.append(problem(path, root, ["report", "template"],
                               Said("commune.template_not_docx", {"file": rep.template})))
        elif not where.is_file():
            out.append(problem(path, root, ["report", "template"],
                               Said("commune.template_missing", {"file": str(where)})))
        else:
            out += [problem(path, root, ["report", "template"],
                            Said("commune.template_problem", {"file": rep.template,
                                                              "problem": said}))
                    for said in template_problems(where)]
            spec._template_path = where
    return out


def template_problems(template: Path) -> list[Said]:
    """What is wrong with a Word template: unreadable, or naming a placeholder the report
    does not fill in (it would print as nothing)."""
    from docxtpl import DocxTemplate
    from jinja2 import TemplateError

    try:
        names = DocxTemplate(str(template)).get_undeclared_template_variables()
    except (OSError, KeyError, ValueError, TemplateError) as exc:  # not a .docx, a bad tag
        return [Said("commune.template_unreadable", {"detail": str(exc)})]
    return [Said("commune.template_placeholder", {"name": n})
            for n in sorted(set(names) - REPORT_PLACEHOLDERS)]


def report_settings(unit_id: int, *, session: Session) -> dict[str, Any]:
    """The ``report:`` block of a commune's file, as setup stored it (empty when none)."""
    unit = session.get(Unit, unit_id)
    return dict(unit.report_settings or {}) if unit is not None else {}


def _plan_problems(spec: CommuneSpec, plan_path: Path, plan: PlanSpec, path: Path,
                   root: Any) -> list:
    out = []
    start, end = plan.period
    # a reference year of a "reduce against year Y" target needs its own round, to enter
    # the baseline figures (seed 004: abuse cases against 2020, a plan for 2021-2030)
    baselines = {t.ref_year for _g, _c, ind in plan.indicators() for t in ind.targets
                 if t.ref_year is not None}
    if not start <= spec.round.year <= end and spec.round.year not in baselines:
        years = ", ".join(str(y) for y in sorted(baselines))
        params = {"year": spec.round.year, "plan": plan.code, "start": start, "end": end}
        out.append(problem(path, root, ["round", "year"],
                           Said("commune.year_outside_refs", {**params, "years": years})
                           if years else Said("commune.year_outside", params)))
    if is_plan_file_ref(spec.plan):
        for bundled in bundled_plan_paths():
            same_file = bundled.resolve() == plan_path.resolve()
            if not same_file and load_plan(bundled).code == plan.code:
                out.append(problem(path, root, ["plan"], Said("commune.plan_code_taken", {
                    "file": str(plan_path), "code": plan.code, "bundled": bundled.stem})))
    return out


class SetupRefused(Exception):
    """Applying a commune file would damage what is already there; nothing was written."""

    def __init__(self, commune: str, problems: list[Change]) -> None:
        self.commune = commune
        self.problems = list(problems)
        super().__init__(f"{commune}: refused: {', '.join(p.key for p in self.problems)}")


@dataclass(frozen=True)
class Change:
    """One line of what setup did or noticed: a catalog key and its named values (a value may
    itself be a Change, or a list of them); the faces word it in the officer's language."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def note(self) -> bool:
        """Kept or still missing, not changed."""
        return self.key in NOTE_KEYS


NOTE_KEYS = frozenset({"cli.setup.unit_kept", "cli.setup.unreportable"})
NONE = Change("cli.setup.none")
TOP_LEVEL = Change("cli.setup.top_level")


def _joined(items: list[Any], key: str) -> Any:
    """``a``, ``a and b``, ``a and (b and c)``: items joined by a catalog word."""
    out = items[-1]
    for one in reversed(items[:-1]):
        out = Change(key, {"one": one, "other": out})
    return out


def _label(unit: Unit | None) -> str | Change:
    return f"{unit.code} ({unit.name})" if unit is not None else TOP_LEVEL


def _by_code(code: str, *, session: Session) -> Unit | None:
    return session.exec(select(Unit).where(Unit.code == code)).first()


def _count(stmt: Any, *, session: Session) -> int:
    return session.exec(select(func.count()).select_from(stmt.subquery())).one()


def _check(spec: CommuneSpec, plan_code: str, *, allow_move: bool,
           session: Session) -> list[Change]:
    """What applying the file would break (empty when it is safe)."""
    out: list[Change] = []
    parent = _by_code(spec.parent.code, session=session) if spec.parent else None
    commune = _by_code(spec.code, session=session)
    if spec.parent and spec.parent.code == spec.code:
        out.append(Change("cli.setup.own_parent", {"code": spec.code}))
        return out
    if spec.parent and parent is not None and parent.kind != spec.parent.kind.value:
        out.append(Change("cli.setup.parent_kind", {
            "parent": _label(parent), "old_kind": parent.kind,
            "new_kind": spec.parent.kind.value}))
    if commune is not None:
        old_parent = session.get(Unit, commune.parent_id) if commune.parent_id else None
        new_parent_code = spec.parent.code if spec.parent else None
        moved = (old_parent.code if old_parent else None) != new_parent_code
        rekinded = commune.kind != spec.kind.value
        rounds = session.exec(select(Round, Plan).join(Plan, Plan.id == Round.plan_id)
                              .where(Round.commune_id == commune.id)).all()
        other_plans = sorted({p.code for _, p in rounds})
        stranger = (rounds and plan_code not in other_plans and commune.name != spec.name)
        if not allow_move and (moved or rekinded or stranger):
            what: list[Change] = []
            if moved:
                new = (f"{spec.parent.code} ({spec.parent.name})" if spec.parent
                       else TOP_LEVEL)
                what.append(Change("cli.setup.would_move", {"old": _label(old_parent),
                                                            "new": new}))
            if rekinded:
                what.append(Change("cli.setup.would_rekind", {"new": spec.kind.value,
                                                              "old": commune.kind}))
            if stranger:
                what.append(Change("cli.setup.would_take_over", {
                    "name": repr(spec.name), "plan": plan_code,
                    "plans": ", ".join(other_plans)}))
            out.append(Change("cli.setup.exists", {
                "unit": _label(commune), "kind": commune.kind,
                "under": (Change("cli.setup.under", {"unit": _label(old_parent)})
                          if old_parent else ""),
                "what": _joined(what, "cli.setup.and")}))
        if parent is not None and allow_move:
            node: Unit | None = parent
            while node is not None:
                if node.id == commune.id:
                    out.append(Change("cli.setup.cycle", {"parent": _label(parent),
                                                          "commune": _label(commune)}))
                    break
                node = session.get(Unit, node.parent_id) if node.parent_id else None
    for u in [*spec.hamlets, *spec.communes, *spec.agencies]:
        full = f"{spec.code}/{u.code}"
        existing = _by_code(full, session=session)
        if existing is not None and (commune is None or existing.parent_id != commune.id):
            holder = session.get(Unit, existing.parent_id) if existing.parent_id else None
            out.append(Change("cli.setup.elsewhere", {
                "unit": _label(existing), "holder": _label(holder), "commune": spec.code}))
    if commune is not None:
        rnd = session.exec(select(Round).where(Round.commune_id == commune.id,
                                               Round.year == spec.round.year)).first()
        old_plan = session.get(Plan, rnd.plan_id) if rnd is not None else None
        if rnd is not None and old_plan is not None and old_plan.code != plan_code:
            n = _count(select(ReportedValue.id).where(ReportedValue.round_id == rnd.id),
                       session=session)
            n += _count(select(Submission.id).where(Submission.round_id == rnd.id),
                        session=session)
            if n:
                out.append(Change("cli.setup.plan_switch", {
                    "year": rnd.year, "commune": spec.code, "old_plan": old_plan.code,
                    "plan": plan_code}))
    return out


def _show(value: Any) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _upsert_unit(code: str, name: str, kind: str, parent: Unit | None, position: int,
                 changes: list[Change], *, session: Session,
                 keep_parent: bool = False) -> Unit:
    unit = _by_code(code, session=session)
    parent_id = parent.id if parent is not None else None
    if unit is None:
        unit = Unit(code=code, name=name, kind=kind, parent_id=parent_id, position=position)
        changes.append(Change("cli.setup.unit_added", {"code": code, "name": name}))
    else:
        if unit.retired_at is not None:  # a retired unit listed again comes back
            unit.retired_at = None
            changes.append(Change("cli.setup.unit_restored", {"code": code, "name": name}))
        for attr, new in (("name", name), ("kind", kind)):
            old = getattr(unit, attr)
            if old != new:
                shown = (_show(old), _show(new)) if attr == "name" else (old, new)
                changes.append(Change("cli.setup.unit_changed", {
                    "code": code, "field": attr, "old": shown[0], "new": shown[1]}))
                setattr(unit, attr, new)
        if not keep_parent and unit.parent_id != parent_id:
            old_parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
            changes.append(Change("cli.setup.unit_changed", {
                "code": code, "field": "parent",
                "old": old_parent.code if old_parent else NONE,
                "new": parent.code if parent else NONE}))
            unit.parent_id = parent_id
        unit.position = position
    session.add(unit)
    session.flush()
    return unit


def _retire_missing(spec: CommuneSpec, commune: Unit, changes: list[Change], *,
                    session: Session, retire: bool = False) -> None:
    """Units of this commune no longer in the file: removed when empty, else kept and said
    (``retire``: else retired, with their history; one retired already is left as it is)."""
    wanted = {f"{spec.code}/{u.code}" for u in [*spec.hamlets, *spec.communes, *spec.agencies]}
    prefix = f"{spec.code}/"
    for unit in session.exec(select(Unit).where(Unit.parent_id == commune.id)
                             .order_by(Unit.position, Unit.code)).all():
        if not unit.code.startswith(prefix) or unit.code in wanted or \
                unit.retired_at is not None:
            continue
        data = [
            ("cli.setup.has_values",
             max(_count(select(ValueChange.id).where(ValueChange.unit_id == unit.id),
                        session=session),
                 _count(select(ReportedValue.id).where(ReportedValue.unit_id == unit.id),
                        session=session))),
            ("cli.setup.has_submissions",
             _count(select(Submission.id).where(Submission.unit_id == unit.id),
                    session=session)),
            ("cli.setup.has_members",
             _count(select(Membership.id).where(Membership.unit_id == unit.id),
                    session=session)),
            ("cli.setup.has_rounds",
             _count(select(Round.id).where(Round.commune_id == unit.id), session=session)),
            ("cli.setup.has_units",
             _count(select(Unit.id).where(Unit.parent_id == unit.id), session=session)),
        ]
        reasons = [Change(key, {"n": n}) for key, n in data if n]
        if reasons and retire:
            unit.retired_at = utcnow()
            session.add(unit)
            session.flush()
            changes.append(Change("cli.setup.unit_retired", {"unit": _label(unit),
                                                             "reasons": reasons}))
            continue
        if reasons:
            changes.append(Change("cli.setup.unit_kept", {"unit": _label(unit),
                                                          "reasons": reasons}))
            continue
        for inv in session.exec(select(Invitation).where(Invitation.unit_id == unit.id)).all():
            session.delete(inv)
        session.delete(unit)
        session.flush()
        changes.append(Change("cli.setup.unit_removed", {"unit": _label(unit)}))


def apply_commune(spec: CommuneSpec, *, session: Session,
                  allow_move: bool = False, retire: bool = False,
                  tz: tzinfo | None = None) -> list[Change]:
    """Create or update the commune, its units and its round; return what changed (and, as
    notes, what was kept or is still missing).

    Raises SetupRefused, before writing anything, when the file would change an existing unit
    that is not its own (another commune with the same code, a parent of another kind), or
    switch a round that has values to another plan. ``allow_move`` accepts moving (or changing
    the kind of) an existing commune after a reorganisation. ``retire``: a unit no longer in
    the file that holds data is retired (kept with its history, asked for nothing more)
    instead of kept as it is.
    """
    plan_path = spec.plan_path()
    plan_spec = spec.plan_spec()
    problems = _check(spec, plan_spec.code, allow_move=allow_move, session=session)
    if problems:
        raise SetupRefused(spec.code, problems)
    try:
        plan = store_plan(plan_spec, source_text=plan_path.read_text(encoding="utf-8"),
                          session=session)
    except SaidError as exc:  # an indicator with values was removed from the plan file
        raise SetupRefused(spec.code, [Change("cli.setup.plan_refused",
                                              {"text": exc.said})]) from exc
    changes: list[Change] = []
    parent = None
    if spec.parent:
        parent = _upsert_unit(spec.parent.code, spec.parent.name, spec.parent.kind.value,
                              None, 0, changes, session=session, keep_parent=True)
    commune = _upsert_unit(spec.code, spec.name, spec.kind.value, parent, 0, changes,
                           session=session)
    for pos, u in enumerate([*spec.hamlets, *spec.communes, *spec.agencies], start=1):
        _upsert_unit(f"{spec.code}/{u.code}", u.name, u.kind.value, commune, pos, changes,
                     session=session)
    _retire_missing(spec, commune, changes, session=session, retire=retire)
    settings = spec.report_settings()
    if (commune.report_settings or None) != settings:
        old_s, new_s = commune.report_settings or {}, settings or {}
        changed = sorted(k for k in {*old_s, *new_s} if old_s.get(k) != new_s.get(k))
        changes.append(Change("cli.setup.report_changed", {"code": spec.code,
                                                           "fields": ", ".join(changed)}))
        commune.report_settings = settings
        session.add(commune)
    r = spec.round
    rnd = session.exec(select(Round).where(Round.commune_id == commune.id,
                                           Round.year == r.year)).first()
    fields = dict(plan_id=plan.id, unit_deadline=r.unit_deadline,
                  consolidation_deadline=r.consolidation_deadline,
                  reminder_days_before=list(r.reminders.days_before),
                  reminder_time=r.reminders.time,
                  reminder_every_days_after=r.reminders.every_days_after)
    names = {"plan_id": "plan", "reminder_days_before": "reminders.days_before",
             "reminder_time": "reminders.time",
             "reminder_every_days_after": "reminders.every_days_after"}
    if rnd is None:
        rnd = Round(commune_id=commune.id, year=r.year, **fields)
        changes.append(Change("cli.setup.round_added", {
            "year": r.year, "plan": plan.code, "unit_deadline": _show(r.unit_deadline),
            "consolidation_deadline": _show(r.consolidation_deadline)}))
    else:
        for attr, new in fields.items():
            old = getattr(rnd, attr)
            if old != new:
                if attr == "plan_id":
                    old_plan = session.get(Plan, old)
                    shown = (old_plan.code if old_plan else "?", plan.code)
                elif attr == "reminder_time":
                    shown = (old, new)
                else:
                    shown = (_show(old), _show(new))
                changes.append(Change("cli.setup.round_changed", {
                    "year": r.year, "field": names.get(attr, attr),
                    "old": shown[0], "new": shown[1]}))
                setattr(rnd, attr, new)
    stamp_cutoff(rnd, tz)
    session.add(rnd)
    session.flush()
    bump_rounds(session=session, commune_id=commune.id, plan_id=plan.id)  # cached sheets
    changes += unreportable(spec, plan_spec)
    return changes


def unreportable(spec: CommuneSpec, plan: PlanSpec) -> list[Change]:
    """Notes naming the indicators no unit of the commune can report, and what to add:
    they would stay chưa đủ số liệu for ever."""
    present = {u.kind.value for u in [*spec.hamlets, *spec.communes, *spec.agencies]}
    labels = {r.unit_kind.value: r.label for r in plan.responsibilities}
    missing: dict[tuple[str, ...], list[str]] = {}
    for _g, crit, ind in plan.indicators():
        if ind.kind.value == "task":
            continue
        kinds = tuple(k.value for k in plan.reporters_of(crit, ind))
        if kinds and not present.intersection(kinds):
            missing.setdefault(kinds, []).append(ind.code)
    out = []
    for kinds, codes in missing.items():
        named = [f"{k} ({labels[k]})" if k in labels else k for k in kinds]
        what = _joined(named, "cli.setup.or")
        out.append(Change("cli.setup.unreportable", {
            "commune": spec.code, "codes": ", ".join(codes), "plan": plan.code, "kinds": what}))
    return out


def plan_of(rnd: Round, *, session: Session) -> Plan:
    """The plan a round reports on."""
    plan = session.get(Plan, rnd.plan_id)
    assert plan is not None
    return plan


# ------------------------------------------------------------------ the commune file back


class NoRound(LookupError):
    """A unit with no reporting round of its own (an upper level): it has no commune file."""


def commune_data(commune: Unit, *, session: Session) -> dict[str, Any]:
    """What the database holds of a commune, as the commune file ``setup`` takes (its latest
    round; retired units left out): applying it changes nothing."""
    rnd = session.exec(select(Round).where(Round.commune_id == commune.id)
                       .order_by(Round.year.desc())).first()  # type: ignore[attr-defined]
    if rnd is None:
        raise NoRound(commune.code)
    plan = plan_of(rnd, session=session)
    parent = session.get(Unit, commune.parent_id) if commune.parent_id else None
    prefix = f"{commune.code}/"
    data: dict[str, Any] = {"code": commune.code, "name": commune.name, "kind": commune.kind}
    if parent is not None:
        data["parent"] = {"code": parent.code, "name": parent.name, "kind": parent.kind}
    data["plan"] = plan.code
    lists: dict[str, list[dict[str, str]]] = {"hamlets": [], "communes": [], "agencies": []}
    for u in session.exec(select(Unit).where(Unit.parent_id == commune.id,
                                             Unit.retired_at.is_(None))  # type: ignore
                          .order_by(Unit.position, Unit.code)).all():
        if not u.code.startswith(prefix):
            continue
        key = {"hamlet": "hamlets", "commune": "communes"}.get(u.kind, "agencies")
        lists[key].append({"code": u.code[len(prefix):], "name": u.name, "kind": u.kind})
    data.update(lists)
    data["round"] = {"year": rnd.year, "unit_deadline": rnd.unit_deadline,
                     "consolidation_deadline": rnd.consolidation_deadline,
                     "reminders": {"days_before": list(rnd.reminder_days_before),
                                   "time": rnd.reminder_time,
                                   "every_days_after": rnd.reminder_every_days_after}}
    return data


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's quoting is YAML's)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def commune_yaml(data: dict[str, Any]) -> str:
    """The commune file of ``commune_data``, written as the bundled examples are."""
    out = [f"# {data['name']}: ctvbot setup FILE (docs/commune-format.md)",
           f"code: {data['code']}", f"name: {_q(data['name'])}"]
    if data["kind"] != UnitKind.commune.value:
        out.append(f"kind: {data['kind']}")
    if data.get("parent"):
        p = data["parent"]
        out.append(f"parent: {{code: {p['code']}, name: {_q(p['name'])}, kind: {p['kind']}}}")
    out.append(f"plan: {_q(data['plan'])}")
    default = {"hamlets": "hamlet", "communes": "commune", "agencies": ""}
    for key in ("hamlets", "communes", "agencies"):
        units = data.get(key) or []
        if not units:
            continue
        out.append(f"{key}:")
        for u in units:
            kind = "" if u.get("kind", default[key]) == default[key] else \
                f", kind: {u['kind']}"
            out.append(f"  - {{code: {u['code']}, name: {_q(u['name'])}{kind}}}")
    r = data["round"]
    rem = r["reminders"]
    out += ["round:", f"  year: {r['year']}",
            f"  unit_deadline: {_show(r['unit_deadline'])[0:10]}",
            f"  consolidation_deadline: {_show(r['consolidation_deadline'])[0:10]}",
            "  reminders:",
            f"    days_before: [{', '.join(str(d) for d in rem['days_before'])}]",
            f"    time: {_q(rem['time'])}",
            f"    every_days_after: {rem['every_days_after']}"]
    return "\n".join(out) + "\n"


def apply_commune_data(data: dict[str, Any], *, session: Session,
                       tz: tzinfo | None = None) -> list[Change]:
    """Apply edited ``commune_data`` exactly as ``setup`` applies its file (the same checks:
    FileInvalid or SetupRefused, nothing written), a unit left out that holds data being
    retired rather than kept."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ctvbot-commune-") as folder:
        path = Path(folder) / "commune.yaml"
        path.write_text(commune_yaml(data), encoding="utf-8")
        spec = load_commune(path)
        spec.plan_spec()
        return apply_commune(spec, session=session, retire=True, tz=tz)


def unit_code_for(name: str, taken: set[str]) -> str:
    """A code for a new unit from its name ("Thôn Mới" → "thon-moi"), not one of ``taken``."""
    import re

    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    base = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-") or "don-vi"
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    return code
