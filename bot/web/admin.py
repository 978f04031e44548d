"""The officer's administration pages: units, people and invitations, paper reports."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bot.web.kit import WebKit


def routes(kit: WebKit) -> list[BaseRoute]:
    """The routes of these pages."""
    return []
