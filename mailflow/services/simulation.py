"""A simulation must not email real people.

`--now` far from the real time is a rehearsal: a command that would send then
is refused unless the SMTP server is on this machine (a test or demo server),
and `--dry-run` is the way to see what would go.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime, timedelta

from mailflow.errors import MailflowError

TOLERANCE = timedelta(hours=1)


def is_loopback(host: str) -> bool:
    """Every address ``host`` names is a loopback address (a name that cannot be
    resolved is not)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).partition("%")[0]).is_loopback for a in addresses)


def refuse_far_off_sending(now: datetime, real_now: datetime, smtp_host: str) -> None:
    """Raise if sending at ``now`` (a given --now) could reach real people."""
    if abs(now - real_now) <= TOLERANCE or is_loopback(smtp_host):
        return
    raise MailflowError(
        f"--now {now.isoformat()} is more than an hour from the real time and [smtp].host "
        f"{smtp_host!r} is not on this machine: this would email real people as if it were "
        "then. Use --dry-run to see what would be sent (or point [smtp] at a local test "
        "server for a simulation)")
