"""Importing reported values from a CSV or XLSX file (the "Số liệu" sheet read back).

Columns: ``year``, ``unit``, ``indicator``, ``numerator``, ``denominator``, ``value``
(others are ignored; ``text`` is read for tasks). Every row is checked first; when any row
is wrong nothing is saved and every problem is reported with its line number. Values are
saved through ``repo.save_value(source="import")`` so the history records them.

A round that an officer has closed (chốt) or whose consolidation deadline has passed is
locked, as in the chat: a row that would change one of its values is refused, unless the
import is an officer's explicit correction (``allow_closed`` with ``person_id``).
"""

from __future__ import annotations

import csv
import itertools
import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from flows.numbers import (
    MAX_COUNT,
    Refusal,
    normalise,
    parse_count,
    parse_task_status,
    parse_yes_no,
)
from storage import repo
from storage.kinds import IndicatorKind, Role, TaskStatus
from storage.models import (
    Indicator,
    Membership,
    Person,
    ReportedValue,
    Round,
    Submission,
    Unit,
)

MAX_ROWS = 200_000  # rows of one file: a province's year is far fewer; more is refused
REQUIRED = ("year", "unit", "indicator", "numerator", "denominator", "value")
RAW_SHEET = "Số liệu"


@dataclass(frozen=True)
class Problem:
    """One wrong row (line 1 is the header): its English message (logs), and the catalog
    key ("import.*") and values a face words it with in the officer's language."""

    line: int
    message: str
    key: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class RowError(ValueError):
    """A wrong cell or row: the English text, its catalog key ("import.*") and values."""

    def __init__(self, key: str, text: str, **params: Any) -> None:
        super().__init__(text)
        self.key, self.params = key, params

    def at(self, line: int) -> Problem:
        """This error as the problem of a line."""
        return Problem(line, str(self), self.key, self.params)


class ImportFailed(ValueError):
    """The file has wrong rows; nothing was saved."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path, self.problems = str(path), problems
        super().__init__("\n".join(f"{self.path}:{p.line}: {p.message}" for p in problems))


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    rows: int
    saved: int
    unchanged: int
    units: int
    submitted: int


@dataclass(frozen=True)
class _Parsed:
    line: int
    round_id: int
    unit_id: int
    indicator_id: int
    numerator: int | None = None
    denominator: int | None = None
    value: float | None = None
    task_status: str | None = None
    text: str | None = None


# ------------------------------------------------------------------ reading the file


def read_table(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row by lower-case column name) from a .csv or .xlsx file, read as a
    stream; a file that cannot be read, is not what its name says, or has more than MAX_ROWS
    rows raises ImportFailed with one clear line."""
    rows = _read_xlsx(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path)
    for line, row in rows:
        if line > MAX_ROWS + 1:
            raise ImportFailed(path, [Problem(line, f"the file has more than {MAX_ROWS:,} rows; "
                                                    "split it into smaller files",
                                              "import.too_many_rows", {"most": MAX_ROWS})])
        yield line, row


def count_rows(path: Path) -> int | None:
    """How many rows of figures the file holds, counted before it is read (a progress bar's
    total): exact for a CSV (a quick pass, no number read), the sheet's declared size for an
    .xlsx; None when it cannot be told cheaply (the real reading then says what is wrong)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _count_xlsx(path)
    n = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            delimiter = max((",", ";", "\t"), key=first.count)
            for cells in csv.reader(fh, delimiter=delimiter):
                if any(c.strip() for c in cells):
                    n += 1
                    if n > MAX_ROWS:
                        return None
    except (UnicodeDecodeError, csv.Error, OSError):
        return None
    return n


def _count_xlsx(path: Path) -> int | None:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        return None
    try:
        last = _chosen_sheet(wb).max_row  # from the sheet's <dimension>, nothing read
    except (ValueError, TypeError, KeyError, zipfile.BadZipFile):
        return None
    finally:
        wb.close()
    return last - 1 if isinstance(last, int) and 1 <= last <= MAX_ROWS + 1 else None


def _chosen_sheet(wb: Any) -> Any:
    """The sheet of figures: the raw-values sheet of a report, else the first sheet with the
    required columns, else the first sheet."""
    sheets = ([wb[RAW_SHEET]] if RAW_SHEET in wb.sheetnames else []) + list(wb.worksheets)
    return next((ws for ws in sheets if set(REQUIRED) <= set(_header(
        next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())))), wb.worksheets[0])


def _header(cells: list[Any]) -> list[str]:
    return [str(c).strip().lower() if c is not None else "" for c in cells]


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
            delimiter = max((",", ";", "\t"), key=first.count)
            reader = csv.reader(itertools.chain([first], fh), delimiter=delimiter)
            header: list[str] | None = None
            for line, cells in enumerate(reader, start=1):
                if header is None:
                    header = _header(cells)
                    yield line, {"__header__": header}
                    continue
                if any(c.strip() for c in cells):
                    yield line, dict(zip(header, cells, strict=False))
    except UnicodeDecodeError as exc:
        raise ImportFailed(path, [Problem(line + 1, "the file is not UTF-8 text: save it as "
                                                    "\"CSV UTF-8\" (or as .xlsx)",
                                          "import.not_utf8")]) from exc
    except csv.Error as exc:
        raise ImportFailed(path, [Problem(line + 1, f"not a CSV file: {exc}",
                                          "import.not_csv")]) from exc
    except OSError as exc:
        raise ImportFailed(path, [Problem(1, f"cannot read the file: {exc.strerror or exc}",
                                          "import.unreadable",
                                          {"reason": exc.strerror or str(exc)})]) from exc


def _read_xlsx(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    not_xlsx = Problem(1, "this is not an Excel .xlsx file (open it in Excel and save it as "
                          ".xlsx, or as CSV UTF-8)", "import.not_xlsx")
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise ImportFailed(path, [not_xlsx]) from exc
    line = 1
    try:
        chosen = _chosen_sheet(wb)
        header: list[str] | None = None
        for line, cells in enumerate(chosen.iter_rows(values_only=True), start=1):
            if header is None:
                header = _header(list(cells))
                yield line, {"__header__": header}
                continue
            if any(c is not None and str(c).strip() for c in cells):
                yield line, dict(zip(header, cells, strict=False))
    except (ValueError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ImportFailed):
            raise
        raise ImportFailed(path, [Problem(line + 1, "a cell holds something that is neither a "
                                                    "number nor text (INF, NaN?), or the file "
                                                    "is damaged", "import.bad_cell")]) from exc
    finally:
        wb.close()


# ------------------------------------------------------------------ cells


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _count(v: Any, what: str) -> int:
    """A whole non-negative number from a cell ("1.234" is one thousand two hundred...)."""
    if isinstance(v, bool):
        raise RowError("import.not_number", f"{what}: expected a number, not {v!r}",
                       column=what, got=repr(v))
    if isinstance(v, int | float):  # a number cell obeys the same caps as typed text
        if isinstance(v, float) and not math.isfinite(v):
            raise RowError("import.not_number", f"{what}: {v!r} is not a number",
                           column=what, got=repr(v))
        if v < 0:
            raise RowError("import.negative", f"{what}: must not be negative ({v})",
                           column=what, got=str(v))
        if v > MAX_COUNT:
            raise RowError("import.too_large", f"{what}: is too large ({v:g}; at most "
                           f"{MAX_COUNT:,})", column=what, got=f"{v:g}", most=MAX_COUNT)
        if float(v) != int(v):
            raise RowError("import.not_whole", f"{what}: must be a whole number, not {v}",
                           column=what, got=str(v))
        return int(v)
    got = parse_count(str(v))
    if isinstance(got, Refusal):
        shown = repr(str(v).strip()[:40])
        raise RowError(f"import.{REFUSAL_KEYS.get(got, 'not_number')}",
                       f"{what}: {REFUSALS.get(got, 'is not a number')} ({shown})",
                       column=what, got=shown, most=MAX_COUNT)
    return got


# each refusal of flows.numbers.parse_count, said plainly
REFUSALS = {
    Refusal.decimal: "must be a whole number",
    Refusal.negative: "must not be negative",
    Refusal.too_large: f"is too large (at most {MAX_COUNT:,})",
    Refusal.percent: "is a percentage, but this column takes a count: give the number "
                     "counted (for example 12); the rate is computed from the counts",
    Refusal.doubtful: "is not one certain number (words around it change or doubt it): "
                      "give exactly one number, or leave the cell empty if it is not known",
    Refusal.empty: "is empty",
    Refusal.not_number: "is not a number",
}
REFUSAL_KEYS = {Refusal.decimal: "not_whole", Refusal.negative: "negative",
                Refusal.too_large: "too_large", Refusal.percent: "percent",
                Refusal.doubtful: "doubtful", Refusal.empty: "empty",
                Refusal.not_number: "not_number"}


def _yes_no(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool) and v in (0, 1):
        return float(v)
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    t = normalise(str(v))
    if t in ("1", "1.0", "true", "x"):
        return 1.0
    if t in ("0", "0.0", "false"):
        return 0.0
    got = parse_yes_no(t)
    if got is None:
        raise RowError("import.yes_no", "value: expected yes/no (1/0, có/không), not "
                       f"{str(v).strip()!r}", got=repr(str(v).strip()[:40]))
    return 1.0 if got else 0.0


def _status(v: Any) -> str:
    t = normalise(str(v))
    if t in {s.value for s in TaskStatus}:
        return t
    got = parse_task_status(t)
    if got is None:
        raise RowError("import.task_status", "value: expected a task status (not_started, "
                       f"in_progress, done / chưa, đang, xong), not {str(v).strip()!r}",
                       got=repr(str(v).strip()[:40]))
    return got


def _parse_values(ind: Indicator, row: dict[str, Any]) -> dict[str, Any]:
    """The fields to save for one row, checked against the indicator's kind."""
    kind = ind.kind
    if kind == IndicatorKind.rate:
        missing = [k for k in ("numerator", "denominator") if _blank(row.get(k))]
        if missing:
            raise RowError("import.rate_needs", f"indicator {ind.code} is a rate: "
                           f"{' and '.join(missing)} required", indicator=ind.code,
                           columns=", ".join(missing))
        num, den = _count(row["numerator"], "numerator"), _count(row["denominator"],
                                                                  "denominator")
        if num > den:
            raise RowError("import.num_over_den",
                           f"numerator {num} is larger than denominator {den}", num=num,
                           den=den)
        return {"numerator": num, "denominator": den}
    if _blank(row.get("value")):
        raise RowError("import.value_required", f"indicator {ind.code} ({kind}): value "
                       "required", indicator=ind.code)
    v = row["value"]
    if kind in (IndicatorKind.share_units, IndicatorKind.yes_no):
        return {"value": _yes_no(v)}
    if kind == IndicatorKind.task:
        text = row.get("text")
        return {"task_status": _status(v), "text": None if _blank(text) else str(text).strip()}
    return {"value": float(_count(v, "value"))}


# ------------------------------------------------------------------ checking and saving


def _not_officer_of(person_id: int, commune_ids: set[int], session: Session) -> list[int]:
    """Communes (of ``commune_ids``) the person is NOT an officer of."""
    ok = set(session.exec(select(Membership.unit_id).where(
        Membership.person_id == person_id,
        col(Membership.role).in_([Role.officer.value, Role.admin.value]))).all())
    return sorted(commune_ids - ok)


def _locked_reason(rnd: Round, commune: Unit | None, today: date,
                   tz: tzinfo) -> RowError | None:
    """Why a round takes no more values (None while it is open), as the chat locks it."""
    where = f"the {rnd.year} round of {commune.code if commune else rnd.commune_id}"
    how = "an officer can correct it with --allow-closed --as OFFICER"
    if rnd.closed_at is not None:
        at = rnd.closed_at
        day = (at.astimezone(tz) if at.tzinfo else at).date()
        return RowError("import.locked_closed", f"{where} was closed (chốt) on "
                        f"{day:%d/%m/%Y}: its values are final ({how})", year=str(rnd.year),
                        commune=commune.name if commune else "", day=f"{day:%d/%m/%Y}")
    if today > rnd.consolidation_deadline:
        return RowError("import.locked_deadline", f"{where} is locked: its consolidation "
                        f"deadline {rnd.consolidation_deadline:%d/%m/%Y} has passed ({how})",
                        year=str(rnd.year), commune=commune.name if commune else "",
                        day=f"{rnd.consolidation_deadline:%d/%m/%Y}")
    return None


def import_values(path: Path, *, session: Session, person_id: int | None = None,
                  submit: bool = False, allow_closed: bool = False,
                  today: date | None = None, tz: tzinfo,
                  progress: Callable[[int], None] | None = None,
                  commune_id: int | None = None, source: str = "import",
                  skip_blank: bool = False) -> ImportResult:
    """Check every row of the file, then save them all (or nothing: raises ImportFailed).

    ``submit`` marks every unit of the file as having sent its report. A row that would
    change a value of a locked round (closed by an officer, or past its consolidation
    deadline on ``today`` in the time zone ``tz``) is a problem, unless ``allow_closed``: an
    officer's correction, which needs ``person_id`` so the history says who made it (the round
    stays closed). Rows equal to what a locked round holds change nothing and are accepted.
    ``progress(n)`` is told each time n more rows have been read. ``commune_id``: only units
    of that commune are taken (an officer's paper report on the web page); ``source`` is
    what the history records (``officer``: typed in by an officer from paper).
    ``skip_blank``: lines with no figure at all (the commune's blank form, ``template_rows``,
    partly filled) are passed over instead of refused.
    """
    today = today or datetime.now(tz).date()
    rows = read_table(path)
    problems: list[Problem] = []
    first = next(rows, None)
    if first is None:
        raise ImportFailed(path, [Problem(1, "the file is empty", "import.empty_file")])
    header = first[1]["__header__"]
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise ImportFailed(path, [Problem(1, f"missing column(s): {', '.join(absent)}; "
                                             f"expected {', '.join(REQUIRED)}",
                                          "import.missing_columns",
                                          {"columns": ", ".join(absent),
                                           "expected": ", ".join(REQUIRED)})])
    data = _counted(rows, progress)

    units = session.exec(select(Unit)).all()
    by_code = {u.code: u for u in units}
    by_tail: dict[str, list[Unit]] = {}
    for u in units:
        by_tail.setdefault(u.code.rsplit("/", 1)[-1], []).append(u)
    rounds = {(r.commune_id, r.year): r for r in session.exec(select(Round)).all()}
    inds = {(i.plan_id, i.code): i for i in session.exec(select(Indicator)).all()}

    parsed: list[_Parsed] = []
    seen: dict[tuple[int, int, int], int] = {}
    for line, row in data:
        if skip_blank and all(_blank(row.get(k)) for k in ("numerator", "denominator",
                                                           "value", "text")):
            continue  # a line of the blank form left empty: nothing to say
        try:
            year = _count(row.get("year"), "year") if not _blank(row.get("year")) else None
            if year is None:
                raise RowError("import.year_required", "year: required")
            ucode = "" if _blank(row.get("unit")) else str(row["unit"]).strip()
            unit = by_code.get(ucode)
            if unit is None:
                tails = by_tail.get(ucode, [])
                if commune_id is not None and len(tails) > 1:  # this commune's, if one
                    tails = [u for u in tails if u.parent_id == commune_id] or tails
                if len(tails) > 1:
                    raise RowError("import.unit_ambiguous", f"unit {ucode!r} is ambiguous: "
                                   f"{', '.join(u.code for u in tails)}", unit=ucode,
                                   units=", ".join(u.code for u in tails))
                if not tails:
                    raise (RowError("import.unit_unknown", f"unknown unit {ucode!r}",
                                    unit=ucode[:60]) if ucode else
                           RowError("import.unit_required", "unit: required"))
                unit = tails[0]
            if commune_id is not None and unit.parent_id != commune_id:
                raise RowError("import.not_this_commune",
                               f"{unit.code} is not a unit of this commune", unit=unit.code)
            rnd = rounds.get((unit.parent_id, year)) if unit.parent_id else None
            if rnd is None:
                raise RowError("import.no_round", f"no reporting round for {unit.code} in "
                               f"{year}", unit=unit.code, year=str(year))
            icode = "" if _blank(row.get("indicator")) else str(row["indicator"]).strip()
            if icode.endswith(".0"):  # 5.0 typed as a number in a spreadsheet
                icode = icode[:-2]
            ind = inds.get((rnd.plan_id, icode))
            if ind is None:
                raise (RowError("import.indicator_unknown", f"unknown indicator {icode!r} in "
                                f"the plan of the {year} round", indicator=icode[:40],
                                year=str(year)) if icode else
                       RowError("import.indicator_required", "indicator: required"))
            if unit.kind not in (ind.reporters or []):
                raise RowError("import.not_reported_by", f"{unit.code} ({unit.kind}) does not "
                               f"report indicator {ind.code} (reported by "
                               f"{', '.join(ind.reporters or [])})", unit=unit.code,
                               indicator=ind.code, reporters=", ".join(ind.reporters or []))
            fields = _parse_values(ind, row)
        except RowError as exc:
            problems.append(exc.at(line))
            continue
        except ValueError as exc:
            problems.append(Problem(line, str(exc), "import.bad_row", {"reason": str(exc)}))
            continue
        key = (rnd.id, unit.id, ind.id)
        if key in seen:
            problems.append(Problem(line, f"{unit.code} {ind.code} {year} is already on line "
                                          f"{seen[key]}", "import.duplicate",
                                    {"unit": unit.code, "indicator": ind.code,
                                     "year": str(year), "line": seen[key]}))
            continue
        seen[key] = line
        parsed.append(_Parsed(line, rnd.id, unit.id, ind.id, **fields))

    unit_by_id = {u.id: u for u in units}
    round_by_id = {r.id: r for r in rounds.values()}
    locked = {rid: why for rid in {p.round_id for p in parsed}
              if (why := _locked_reason(round_by_id[rid], unit_by_id.get(
                  round_by_id[rid].commune_id), today, tz))}
    if allow_closed and person_id is None:
        problems.append(Problem(1, "--allow-closed needs --as OFFICER: the history must "
                                   "say which officer corrected a closed round",
                                "import.needs_officer"))
    elif locked and not allow_closed:
        problems += _locked_rows(parsed, locked, submit, session)

    if person_id is not None:
        if session.get(Person, person_id) is None:
            problems.append(Problem(1, f"no person with id {person_id}", "import.no_person",
                                    {"person": person_id}))
        else:
            commune_ids = {unit_by_id[p.unit_id].parent_id for p in parsed}
            for cid in _not_officer_of(person_id, {c for c in commune_ids if c}, session):
                problems.append(Problem(1, f"person {person_id} is not an officer of "
                                           f"{unit_by_id[cid].code}", "import.not_officer",
                                        {"unit": unit_by_id[cid].code,
                                         "person": person_id}))
    if problems:
        raise ImportFailed(path, sorted(problems, key=lambda p: p.line))

    existing = _existing(parsed, session)
    saved = unchanged = 0
    for p in parsed:
        if _same(existing.get((p.round_id, p.unit_id, p.indicator_id)), p):
            unchanged += 1
            continue
        repo.save_value(session=session, round_id=p.round_id, unit_id=p.unit_id,
                        indicator_id=p.indicator_id, person_id=person_id,
                        numerator=p.numerator, denominator=p.denominator, value=p.value,
                        task_status=p.task_status, text=p.text, source=source)
        saved += 1
    pairs = sorted({(p.round_id, p.unit_id) for p in parsed})
    submitted = 0
    if submit:
        for rid, uid in pairs:
            submitted += repo.submit(rid, uid, person_id=person_id, session=session)
    session.flush()
    return ImportResult(rows=len(parsed), saved=saved, unchanged=unchanged, units=len(pairs),
                        submitted=submitted)


def _counted(rows: Iterator[tuple[int, dict[str, Any]]],
             progress: Callable[[int], None] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows, telling ``progress`` every 500 rows (and at the end)."""
    n = 0
    for item in rows:
        yield item
        n += 1
        if progress is not None and n % 500 == 0:
            progress(500)
    if progress is not None and n % 500:
        progress(n % 500)


def _existing(parsed: list[_Parsed], session: Session
              ) -> dict[tuple[int, int, int], ReportedValue]:
    """The stored values of the rounds in the file, by (round, unit, indicator)."""
    round_ids = sorted({p.round_id for p in parsed})
    return {(v.round_id, v.unit_id, v.indicator_id): v for v in session.exec(
        select(ReportedValue).where(col(ReportedValue.round_id).in_(round_ids or [-1])))}


def _same(old: ReportedValue | None, p: _Parsed) -> bool:
    """The row is what is stored already (importing it changes nothing)."""
    return old is not None and (old.numerator, old.denominator, old.value, old.task_status,
                                old.text) == (p.numerator, p.denominator, p.value,
                                              p.task_status, p.text)


def _locked_rows(parsed: list[_Parsed], locked: dict[int, RowError], submit: bool,
                 session: Session) -> list[Problem]:
    """Rows that would write into a locked round: a changed value, or a new submission."""
    mine = [p for p in parsed if p.round_id in locked]
    existing = _existing(mine, session)
    sent = set(session.exec(select(Submission.round_id, Submission.unit_id).where(
        col(Submission.round_id).in_(sorted(locked)))).all()) if submit else set()
    problems = []
    for p in mine:
        if not _same(existing.get((p.round_id, p.unit_id, p.indicator_id)), p):
            problems.append(locked[p.round_id].at(p.line))
        elif submit and (p.round_id, p.unit_id) not in sent:
            why = locked[p.round_id]
            problems.append(Problem(p.line, f"--submit: {why}", "import.submit_locked",
                                    {"why": why}))  # a sentence within the sentence
            sent.add((p.round_id, p.unit_id))  # once per unit
    return problems


# ------------------------------------------------------------------ the blank form


@dataclass(frozen=True)
class TemplateRow:
    """One line of a commune's paper-report file: a unit and an indicator it reports, with
    what the round already holds (blank when nothing)."""

    year: int
    unit: str
    indicator: str
    kind: str
    numerator: int | None
    denominator: int | None
    value: Any
    unit_name: str
    indicator_name: str


def template_rows(commune: Unit, *, session: Session, lang: str = "vi") -> list[TemplateRow]:
    """Every (unit, indicator) the commune's latest round asks for, in the order of the
    units and the plan, with the figures already there: the file ``import_values`` takes."""
    assert commune.id is not None
    rnd = repo.open_round(commune.id, session=session)
    if rnd is None:
        return []
    out = []
    for unit in repo.children(commune.id, session=session):
        assert unit.id is not None
        have = repo.values_of(rnd.id, unit.id, session=session)
        for ind in repo.indicators_for(unit, rnd, session=session):
            v = have.get(ind.id)
            value: Any = None
            if v is not None:
                value = v.task_status if ind.kind == IndicatorKind.task else v.value
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
            out.append(TemplateRow(rnd.year, unit.code, ind.code, ind.kind,
                                   v.numerator if v else None, v.denominator if v else None,
                                   value, unit.name,
                                   ind.name_en if lang == "en" else ind.name_vi))
    return out
