"""The officer's page: completeness, Nhắc, the report and its files, the round, upper levels."""

from __future__ import annotations

from starlette.routing import BaseRoute

from bot.web.kit import WebKit


def routes(kit: WebKit) -> list[BaseRoute]:
    """The routes of these pages."""
    return []
