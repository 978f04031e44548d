"""`ctvbot chat`: talk to the bot in the terminal as a member of the demo commune.

The same local Bot API server, database and bot as the demo; you type what a collaborator,
an agency reporter or the officer would type. Buttons are shown as [b1 …]: type b1 to press.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sandbox.demo import Demo
from storage.kinds import Role

MEMBERS = {
    "thon-hanh-thien": ("Lan", None),
    "thon-xuan-bac": ("Bình", None),
    "tram-y-te": ("Minh", None),
    "thcs": ("Thầy Quang", None),
    "cong-an": ("Anh Dũng", None),
    "xuan-truong": ("Hoa", Role.officer),
}


async def run_chat(unit: str, lang: str, read: Callable[[], str] = input,
                   echo: Callable[[str], None] = print) -> None:
    """A terminal conversation with the bot as a member of ``unit``."""
    if unit not in MEMBERS:
        raise ValueError(f"unknown member {unit!r}; choose one of: {', '.join(MEMBERS)}")
    name, role = MEMBERS[unit]
    demo = Demo(lang, Path("."), lambda _line: None)
    await demo.start()
    try:
        person = demo.person(9500, name, unit)
        buttons: list[tuple[str, int]] = []

        def show(messages) -> None:
            buttons.clear()
            for m in messages:
                echo("🤖 " + (m.content or "").replace("\n", "\n   "))
                for row in m.buttons:
                    labels = []
                    for label, _ in row:
                        buttons.append((label, m.message_id))
                        labels.append(f"[b{len(buttons)} {label}]")
                    echo("   " + "  ".join(labels))

        code = demo.invite(unit, role, name)
        echo(f"(you are {name}, {unit}; type b1, b2… to press a button, /huy to stop, "
             "Ctrl-D to quit)")
        show(await person.user_say(f"/start {code}"))
        while True:
            try:
                line = (await asyncio.to_thread(read)).strip()
            except EOFError:
                break
            if not line:
                continue
            if line.lower().startswith("b") and line[1:].isdigit() and \
                    0 < int(line[1:]) <= len(buttons):
                label, message_id = buttons[int(line[1:]) - 1]
                show(await person.user_press(label, message_id))
            else:
                show(await person.user_say(line))
    finally:
        await demo.stop()


def main(unit: str, lang: str) -> None:
    """Entry point for the CLI."""
    asyncio.run(run_chat(unit, lang))
