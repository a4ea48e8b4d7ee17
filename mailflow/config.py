"""config.toml -> frozen, validated settings.

Every mistake becomes one line that names the file, the key and what was
expected, e.g. ``config.toml: [program].start: expected a date like
2026-09-01, got "9/1/26"``. Secrets are never in the file: ``password_env``
names an environment variable.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailflow.domain.keywords import KEYWORD_NAMES
from mailflow.domain.model import Program, Topic
from mailflow.errors import ConfigError

# --- field types -----------------------------------------------------------


def check_address(value: str) -> str:
    """A bare address, normalised to lower case; raises ValueError with what is wrong."""
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise ValueError(
            f"expected an email address like name@example.org, got {value!r} ({exc})"
        ) from None
    return result.normalized.lower()


_NAMED_RE = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]+)>\s*$")


def _check_named_address(value: str) -> str:
    match = _NAMED_RE.match(value)
    if match:
        name = match.group("name").strip().strip('"')
        if any(ch in name for ch in "\r\n"):
            raise ValueError("a name must not contain a line break")
        return f"{name} <{check_address(match.group('addr'))}>"
    return check_address(value)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'expected an IANA time zone like "Europe/Berlin", got {value!r}'
        ) from None
    return value


def _check_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2026-09-01, got {_show(value)}")


def _check_hhmm(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hours, minutes = (int(x) for x in value.split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f'expected a time like "09:00", got {_show(value)}')


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _check_locale(value: str) -> str:
    from babel import Locale as BabelLocale
    from babel import UnknownLocaleError

    try:
        return str(BabelLocale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f'expected a locale like "en_US" or "fr_FR", got {_show(value)}') \
            from None


Address = Annotated[str, AfterValidator(check_address)]
Locale = Annotated[str, AfterValidator(_check_locale)]
NamedAddress = Annotated[str, AfterValidator(_check_named_address)]
TimeZone = Annotated[str, AfterValidator(_check_timezone)]
IsoDate = Annotated[date, BeforeValidator(_check_date)]
ClockTime = Annotated[time, BeforeValidator(_check_hhmm)]
Port = Annotated[int, Field(ge=1, le=65535)]
Security = Literal["tls", "starttls", "none"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_digest_spec(spec: str) -> tuple[int | None, time]:
    """``"mon 08:00"`` -> (0, 08:00); ``"daily 08:00"`` -> (None, 08:00)."""
    parts = spec.lower().split()
    if len(parts) == 2 and (parts[0] in _WEEKDAYS or parts[0] == "daily"):
        when = _check_hhmm(parts[1])
        return (None if parts[0] == "daily" else _WEEKDAYS.index(parts[0])), when
    raise ValueError(f'expected a day and time like "mon 08:00" or "daily 08:00", got "{spec}"')


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections ---------------------------------------------------------------


class ProgramSettings(_Section):
    name: str = Field(min_length=1)
    start: IsoDate
    months: int = Field(default=9, ge=2, le=36)
    timezone: TimeZone = "UTC"
    send_time: ClockTime = time(9, 0)
    coordinators: list[Address] = Field(min_length=1)
    date_order: Literal["mdy", "dmy", "ymd"] = "mdy"
    allow_multiple_mentors: bool = False
    locale: Locale = "en_US"


class MailSettings(_Section):
    from_: NamedAddress = Field(alias="from")
    reply_to: Address

    @property
    def from_address(self) -> str:
        match = _NAMED_RE.match(self.from_)
        return match.group("addr") if match else self.from_

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]


class _ServerSettings(_Section):
    host: str = Field(min_length=1)
    port: Port
    security: Security = "tls"
    auth: Literal["password", "oauth2"] = "password"
    username: str | None = None
    password_env: str | None = None
    ca_file: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    def password(self) -> str | None:
        """The secret, read from the environment variable named by ``password_env``;
        None without a ``username`` (a server that takes no login) or with "oauth2"."""
        if not self.password_env or not self.username or self.auth == "oauth2":
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                f"the environment variable {self.password_env} (named by password_env) is not set"
            )
        return value

    @model_validator(mode="after")
    def _login_needs_password(self) -> _ServerSettings:
        if self.auth == "oauth2":
            if not self.username:
                raise ValueError('auth = "oauth2" needs username: the mailbox to sign in to, '
                                 'e.g. "mentoring@example.org"')
            return self
        if self.username and not self.password_env:
            raise ValueError(
                "username is set but password_env is not: name the environment variable "
                "that holds the password"
            )
        return self


class SmtpSettings(_ServerSettings):
    max_connections: int = Field(default=4, ge=1, le=64)
    rate_per_minute: int = Field(default=0, ge=0)  # 0: no limit


class ImapSettings(_ServerSettings):
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    poll_seconds: float = Field(default=60, gt=0)
    trusted_authserv_id: str | None = None
    batch_size: int = Field(default=500, ge=1, le=5000)


class ScheduleSettings(_Section):
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


class PrivacySettings(_Section):
    share_notes_with_liaison: bool = False


class WebSettings(_Section):
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


class OAuth2Settings(_Section):
    """``[oauth2]``: how mailflow gets the tokens it signs in with (SPEC section 9)."""

    provider: Literal["microsoft", "google", "custom"]
    tenant: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    grant: Literal["client_credentials", "refresh_token", "service_account"]
    service_account_file: Path | None = None
    token_url: str | None = None
    device_authorization_url: str | None = None
    authorization_url: str | None = None
    scope: str | None = None
    mechanism: Literal["XOAUTH2", "OAUTHBEARER"] = "XOAUTH2"
    token_cache: Path = Path("mailflow-oauth.json")

    def client_secret(self) -> str | None:
        """The app's secret, read from the environment variable named by ``client_secret_env``."""
        if not self.client_secret_env:
            return None
        value = os.environ.get(self.client_secret_env)
        if not value:
            raise ConfigError(f"the environment variable {self.client_secret_env} (named by "
                              "[oauth2].client_secret_env) is not set")
        return value

    @field_validator("token_url", "device_authorization_url", "authorization_url")
    @classmethod
    def _https_or_loopback(cls, value: str | None) -> str | None:
        if value is not None:
            check_token_url(value)
        return value

    @model_validator(mode="after")
    def _grant_fits_provider(self) -> OAuth2Settings:
        needs: list[str] = []
        grants = _GRANTS[self.provider]
        if self.grant not in grants:
            raise ValueError(f'grant "{self.grant}" is not available with provider '
                             f'"{self.provider}"; expected one of {", ".join(grants)}')
        if self.provider == "microsoft" and not self.tenant:
            needs.append("tenant (the directory (tenant) ID of the app registration)")
        if self.provider == "custom" and not self.token_url:
            needs.append("token_url (the server's RFC 6749 token endpoint)")
        if self.grant == "service_account":
            if not self.service_account_file:
                needs.append("service_account_file (the JSON key of the service account)")
        elif not self.client_id:
            needs.append("client_id")
        if self.grant == "client_credentials" and not self.client_secret_env:
            needs.append("client_secret_env (the variable that holds the client secret)")
        if needs:
            raise ValueError(f'provider "{self.provider}" with grant "{self.grant}" needs '
                             + " and ".join(needs))
        return self


_GRANTS = {
    "microsoft": ("client_credentials", "refresh_token"),
    "google": ("service_account", "refresh_token"),
    "custom": ("client_credentials", "refresh_token"),
}


def check_token_url(url: str) -> str:
    """An https URL, or http to a loopback address only (tokens must not cross a network
    in the clear); raises ValueError saying so."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host:
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url
        raise ValueError(f"{url!r} is plain http to a host that is not on this machine: use "
                         "https (plain http is allowed only to a loopback address)")
    raise ValueError(f"expected an https URL, got {url!r}")


class StorageSettings(_Section):
    path: Path = Path("mailflow.json")


class TopicSettings(_Section):
    month: int = Field(ge=1)
    title: str = Field(min_length=1)
    body: str = ""


class Settings(_Section):
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


# --- loading ------------------------------------------------------------------


def _location(loc: tuple[int | str, ...]) -> str:
    """('program', 'start') -> '[program].start'; ('topics', 2, 'month')
    -> '[[topics]] #3.month'."""
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith(("function-", "[")))]
    if not parts:
        return "(top level)"
    head, *rest = parts
    if rest and isinstance(rest[0], int):
        text = f"[[{head}]] #{int(rest.pop(0)) + 1}"
    else:
        text = f"[{head}]"
    for part in rest:
        text += f".{part}" if isinstance(part, str) else f"[{part}]"
    return text


def _describe(error: Any) -> str:
    kind = error["type"]
    message = str(error["msg"])
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling against config.example.toml)"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "literal_error":
        return message.replace("Input should be", "expected")
    got = error.get("input")
    return f"{message.replace('Input should be', 'expected')}, got {_show(got)}"


def format_validation_error(filename: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if loc and loc[-1] == "from_":
            loc = (*loc[:-1], "from")
        lines.append(f"{filename}: {_location(loc)}: {_describe(error)}")
    return "\n".join(lines)


def load_settings(path: Path) -> Settings:
    """Read and validate a config file; raise ConfigError saying what to fix."""
    name = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Create one with `mailflow init DIR`, or pass -c PATH."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: is not valid TOML: {exc}") from None
    data["base_dir"] = path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(name, exc)) from None
    return _with_paths_resolved(settings)


def _with_paths_resolved(settings: Settings) -> Settings:
    """A relative ca_file means relative to the config file, wherever mailflow runs from."""
    updates: dict[str, Any] = {}
    for name in ("smtp", "imap"):
        section = getattr(settings, name)
        if section.ca_file is not None and not section.ca_file.is_absolute():
            updates[name] = section.model_copy(
                update={"ca_file": settings.base_dir / section.ca_file})
    oauth = settings.oauth2
    if oauth and oauth.service_account_file and not oauth.service_account_file.is_absolute():
        updates["oauth2"] = oauth.model_copy(
            update={"service_account_file": settings.base_dir / oauth.service_account_file})
    return settings.model_copy(update=updates) if updates else settings
