"""/status: what is still missing in a unit's report, and the deadline."""

from __future__ import annotations

from datetime import date

from flows.effects import Button, Day, Reply, msg
from flows.report import Sheet, data


def status(sheet: Sheet, today: date) -> Reply:
    """The unit's progress, missing indicators and the deadline."""
    missing = sheet.missing()
    done = len(sheet.items) - len(missing)
    lines = [msg("status.header", unit_name=sheet.unit_name, year=sheet.year, done=done,
                 total=len(sheet.items))]
    if sheet.locked:
        lines.append(msg("status.locked", closed_on=Day(sheet.closed_on or
                                                         sheet.consolidation_deadline)))
    elif sheet.submitted:
        lines.append(msg("status.submitted", deadline=Day(sheet.consolidation_deadline)))
    else:
        days = (sheet.deadline - today).days
        key = "status.deadline_future" if days >= 0 else "status.deadline_past"
        lines.append(msg(key, deadline=Day(sheet.deadline), days=abs(days)))
    for item in missing:
        lines.append(msg("status.missing_line", code=item.code, name=item.name))
    if not missing:
        lines.append(msg("status.all_done"))
    if not missing and not sheet.submitted and not sheet.locked:  # all in, not sent yet
        lines.append(msg("status.send_hint"))
        return Reply(tuple(lines), ((Button(msg("btn.review_send"), data(
            sheet, "go", "", "" if sheet.unit_id is None else str(sheet.unit_id))),),))
    buttons: tuple = ()
    if missing and not sheet.locked:
        buttons = ((Button(msg("btn.report_now"),
                           data(sheet, "go", missing[0].code,
                                "" if sheet.unit_id is None else str(sheet.unit_id))),),)
    return Reply(tuple(lines), buttons)
