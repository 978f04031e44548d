"""Settings read from the environment and a .env file (prefix CTVBOT_)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.reminders import Daytime, parse_hhmm


class Settings(BaseSettings):
    """Everything the bot and the CLI read from the environment."""

    model_config = SettingsConfigDict(env_prefix="CTVBOT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///ctvbot.db"
    token: SecretStr | None = None
    api_url: str = "https://api.telegram.org/bot"
    file_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    bot_username: str | None = None
    invitation_days: int = 30
    messages_per_second: float = 25.0  # reminder batches
    replies_per_second: float = 30.0  # everything one process sends; 0: no limit (local API)
    webhook_secret: SecretStr | None = None
    public_url: str | None = None  # where people open the web pages (sign-in links)
    web_listen: str = "127.0.0.1:8080"  # the web pages in long-polling mode; "" for none
    # reminders and digests go out only between these local times (nobody is woken at night)
    reminders_from: str = "07:00"
    reminders_until: str = "20:00"

    @field_validator("reminders_from", "reminders_until")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @model_validator(mode="after")
    def _day(self) -> Settings:
        Daytime.parse(self.reminders_from, self.reminders_until)
        return self

    @property
    def daytime(self) -> Daytime:
        """The hours reminders and digests may go out."""
        return Daytime.parse(self.reminders_from, self.reminders_until)
    # Zalo (docs/zalo.md): with a token, `ctvbot run` polls Zalo beside Telegram, or alone
    zalo_token: SecretStr | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"  # the base, without /bot
    zalo_messages_per_second: float = 5.0  # replies and reminders on Zalo; 0: no limit
    zalo_webhook_secret: SecretStr | None = None  # for the web app's Zalo webhook route
    # SQLite only. "full": a saved answer survives a power cut (the write-ahead log is flushed
    # to disk at every commit). "normal": the flush waits for the next checkpoint, so answers
    # saved in the moments before a power cut or a crash of the machine (not of the bot) can
    # be lost; the database stays consistent. See docs/deployment.md.
    sqlite_synchronous: Literal["full", "normal"] = "full"
    # Telegram: how many chats are answered at once; each chat's updates stay one at a time,
    # in the order they were sent; 1: every update after the other (docs/deployment.md)
    concurrent_updates: int = Field(default=1, ge=1, le=64)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The commune's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def base_file_url(self) -> str:
        """PTB's base_file_url matching api_url (…/bot → …/file/bot)."""
        if self.file_url:
            return self.file_url
        root, _, _ = self.api_url.rstrip("/").rpartition("/bot")
        return f"{root}/file/bot"


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar date a stored (aware, UTC) moment falls on in the time zone ``tz``."""
    return moment.astimezone(tz).date()
