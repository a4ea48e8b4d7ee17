"""config.toml -> frozen, validated settings.

Every mistake becomes one line that names the file, the key and what was
expected, e.g. ``config.toml: [program].start: expected a date like
2026-09-01, got "9/1/26"``. Secrets are never in the file: ``password_env``
names an environment variable.

`checks.py` holds the value checks and field types, `servers.py` the mail servers'
tables, `settings.py` the others and `Settings`, `loading.py` the reading of the file.
"""

from mailflow.config.checks import check_address, check_token_url, parse_digest_spec
from mailflow.config.loading import format_validation_error, load_settings
from mailflow.config.servers import ImapSettings, OAuth2Settings, SmtpSettings
from mailflow.config.settings import (
    MailSettings,
    PrivacySettings,
    ProgramSettings,
    ScheduleSettings,
    Settings,
    StorageSettings,
    TopicSettings,
    WebSettings,
)

__all__ = [
    "ImapSettings",
    "MailSettings",
    "OAuth2Settings",
    "PrivacySettings",
    "ProgramSettings",
    "ScheduleSettings",
    "Settings",
    "SmtpSettings",
    "StorageSettings",
    "TopicSettings",
    "WebSettings",
    "check_address",
    "check_token_url",
    "format_validation_error",
    "load_settings",
    "parse_digest_spec",
]
