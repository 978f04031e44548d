"""The bot's faces: Telegram, Zalo, the web pages and the ``ctvbot`` command line."""

import sys

# httpx imports its own command-line tool (click, rich, pygments: 80 modules, 5 MiB in every
# bot process) whenever those are installed, and rich is (ctvbot's progress bars, typer's
# help). No bot process runs the ``httpx`` command: marking the module as absent makes httpx
# skip it, as it does when they are not installed.
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
