"""The tables of config.toml as frozen, validated settings, and `Settings`, all of them."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mailflow.config.checks import (
    NAMED_RE,
    Address,
    ClockTime,
    IsoDate,
    Locale,
    NamedAddress,
    Port,
    Section,
    TimeZone,
    parse_digest_spec,
)
from mailflow.config.servers import ImapSettings, OAuth2Settings, SmtpSettings
from mailflow.domain.keywords import KEYWORD_NAMES
from mailflow.domain.model import Program, Topic


class ProgramSettings(Section):
    name: str = Field(min_length=1)
    start: IsoDate
    months: int = Field(default=9, ge=2, le=36)
    timezone: TimeZone = "UTC"
    send_time: ClockTime = time(9, 0)
    coordinators: list[Address] = Field(min_length=1)
    date_order: Literal["mdy", "dmy", "ymd"] = "mdy"
    allow_multiple_mentors: bool = False
    locale: Locale = "en_US"


class MailSettings(Section):
    from_: NamedAddress = Field(alias="from")
    reply_to: Address

    @property
    def from_address(self) -> str:
        match = NAMED_RE.match(self.from_)
        return match.group("addr") if match else self.from_

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]


class ScheduleSettings(Section):
    nudge_after_days: int = Field(default=42, ge=1)
    escalate_after_days: int = Field(default=56, ge=1)
    catch_up_days: int = Field(default=7, ge=0)
    first_contact_days: int = Field(default=14, ge=1)
    digest: str = "mon 08:00"
    digest_when: Literal["attention", "always"] = "attention"
    alert_after_minutes: int = Field(default=60, ge=1)

    @field_validator("digest")
    @classmethod
    def _digest_spec(cls, value: str) -> str:
        parse_digest_spec(value)
        return value


class PrivacySettings(Section):
    share_notes_with_liaison: bool = False


class WebSettings(Section):
    """The web console (SPEC section 8): where it listens and the address people open."""

    enabled: bool = False  # `mailflow run` serves it too; `mailflow web` always does
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Port = 8025
    base_url: str = ""  # "" -> http://host:port
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    trusted_proxy: bool = False  # read X-Forwarded-* only behind a proxy you run

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(
                f'expected the address people open, like "https://mentoring.example.org", '
                f"got {value!r}")
        return value

    @property
    def url(self) -> str:
        """The address used in sign-in links."""
        if self.base_url:
            return self.base_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class StorageSettings(Section):
    path: Path = Path("mailflow.json")


class TopicSettings(Section):
    month: int = Field(ge=1)
    title: str = Field(min_length=1)
    body: str = ""


class Settings(Section):
    program: ProgramSettings
    mail: MailSettings
    smtp: SmtpSettings
    imap: ImapSettings
    schedule: ScheduleSettings = ScheduleSettings()
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    privacy: PrivacySettings = PrivacySettings()
    storage: StorageSettings = StorageSettings()
    web: WebSettings = WebSettings()
    oauth2: OAuth2Settings | None = None
    topics: list[TopicSettings] = Field(default_factory=list)

    # where the file was read from; relative paths resolve against its folder
    base_dir: Path = Path(".")

    @field_validator("keywords")
    @classmethod
    def _known_keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, words in value.items():
            if name not in KEYWORD_NAMES:
                raise ValueError(
                    f"unknown keyword {name!r}; expected one of {', '.join(KEYWORD_NAMES)}"
                )
            if any(not w.strip() for w in words):
                raise ValueError(f"[keywords].{name}: an empty word cannot be a keyword")
        return value

    @model_validator(mode="after")
    def _topics_fit_term(self) -> Settings:
        months = self.program.months
        seen: set[int] = set()
        for topic in self.topics:
            if topic.month > months:
                raise ValueError(
                    f"[[topics]] month {topic.month} is beyond the {months}-month term"
                )
            if topic.month in seen:
                raise ValueError(f"[[topics]] month {topic.month} appears twice")
            seen.add(topic.month)
        return self

    @model_validator(mode="after")
    def _oauth2_section_present(self) -> Settings:
        users = [name for name in ("smtp", "imap") if getattr(self, name).auth == "oauth2"]
        if users and self.oauth2 is None:
            raise ValueError(f'[{users[0]}].auth is "oauth2" but there is no [oauth2] table: '
                             "add one (see config.example.toml)")
        return self

    @property
    def token_cache_path(self) -> Path:
        """``[oauth2].token_cache``, relative to the store's folder."""
        cache = self.oauth2.token_cache if self.oauth2 else Path("mailflow-oauth.json")
        return (self.storage_path.parent / cache).resolve()

    @property
    def storage_path(self) -> Path:
        return (self.base_dir / self.storage.path).resolve()

    @property
    def templates_dir(self) -> Path:
        return (self.base_dir / "templates").resolve()

    def program_model(self) -> Program:
        weekday, when = parse_digest_spec(self.schedule.digest)
        p = self.program
        return Program(
            name=p.name,
            start=p.start,
            months=p.months,
            timezone=p.timezone,
            send_time=p.send_time,
            coordinators=tuple(p.coordinators),
            topics=tuple(Topic(t.month, t.title, t.body) for t in self.topics),
            nudge_after_days=self.schedule.nudge_after_days,
            escalate_after_days=self.schedule.escalate_after_days,
            catch_up_days=self.schedule.catch_up_days,
            digest_weekday=-1 if weekday is None else weekday,
            digest_time=when,
            first_contact_days=self.schedule.first_contact_days,
            digest_always=self.schedule.digest_when == "always",
            locale=p.locale,
        )
