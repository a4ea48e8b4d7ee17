"""Messages as SMTP DATA bytes: CRLF line endings, no Bcc, and quickly.

Measured in bench/send_smtp.py: ``as_bytes(policy=SMTP)`` spends most of its
time refolding headers and, for a multipart message without a boundary,
compiling a regular expression to check a random boundary. Both are avoided
here without changing a byte of the output.
"""

from __future__ import annotations

import copy
import email.policy
import secrets
import sys
from email.message import EmailMessage

from mailflow.render.mime import OutgoingMessage


class _FastFoldPolicy(email.policy.EmailPolicy):
    """The SMTP policy, minus the cost of refolding headers that need no folding.

    Folding is most of the time ``as_bytes`` takes (it re-parses every header).
    A short, plain-ASCII value on one line folds to ``Name: value`` anyway, so
    it is written as is; anything else takes the standard path. The output is
    byte-for-byte the same (tests/integration/smtp/test_smtp_serialize.py).
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            value.isascii()
            and value
            and len(name) + len(value) + 2 <= (self.max_line_length or sys.maxsize)
            and not any(bad in value for bad in _NEEDS_FOLDING)
            and value == value.strip()
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_NEEDS_FOLDING = ("\r", "\n", "=?", "\t", "  ")
_SMTP = _FastFoldPolicy(linesep="\r\n")
_SMTPUTF8 = _SMTP.clone(utf8=True)

# Serialising with an SMTP policy writes CRLF line endings directly; the
# policy is chosen once per (needs SMTPUTF8, server has 8BITMIME).
_POLICIES = {
    (False, True): _SMTP,
    (True, True): _SMTPUTF8,
    (False, False): _SMTP.clone(cte_type="7bit"),
    (True, False): _SMTPUTF8.clone(cte_type="7bit"),
}
def serialize(message: EmailMessage | OutgoingMessage, *, utf8: bool = False,
              eight_bit: bool = True) -> bytes:
    """The message as SMTP DATA bytes (CRLF line endings, no Bcc header).

    An `OutgoingMessage` is already those bytes (7bit bodies, no Bcc).

    Like the standard generator, this sets a boundary on multipart parts that
    have none; a random 128-bit one, which spares the generator compiling a
    regular expression per message to check that its guess is not in the text.
    """
    if isinstance(message, OutgoingMessage):
        return message.data
    if message.is_multipart():
        _set_boundaries(message)
    if "Bcc" in message or "Resent-Bcc" in message:
        message = _without_bcc(message)
    return message.as_bytes(policy=_POLICIES[(utf8, eight_bit)])


def _set_boundaries(message: EmailMessage) -> None:
    for part in message.walk():
        if part.is_multipart() and part.get_boundary() is None:
            part.set_boundary(f"=_mailflow_{secrets.token_hex(16)}")


def _without_bcc(message: EmailMessage) -> EmailMessage:
    stripped = copy.copy(message)  # shallow: deleting headers rebinds the copy's list
    del stripped["Bcc"]
    del stripped["Resent-Bcc"]
    return stripped
