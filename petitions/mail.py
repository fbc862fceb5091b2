"""Sending mail: an SMTP backend, and a console backend for `make run` without a mail server."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    #: Extra headers, e.g. List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058).
    headers: Mapping[str, str] | None = None


class PermanentFailure(Exception):
    """The server refused this message for good (e.g. an unknown recipient)."""


class Connection(Protocol):
    def send(self, mail: Mail) -> None: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


#: Headers whose values repeat from message to message (the sender, the MIME framing).
REPEATED_HEADERS = frozenset(
    {
        "from",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe-post",
    }
)


class RepeatedHeadersPolicy(EmailPolicy):
    """The standard library's default policy, which parses every header value into a tree
    when it is set and folds it again from the tree when the message is written: most of the
    CPU the mail worker spent on a message. Values of REPEATED_HEADERS are parsed and folded
    once per process here and their (read-only) header objects reused; every other header, and
    the bytes written, are as the default policy makes them."""

    MAX_KEPT = 256

    def header_store_parse(self, name, value):
        if not isinstance(value, str) or hasattr(value, "name"):
            return super().header_store_parse(name, value)
        if name.lower() not in REPEATED_HEADERS or "boundary=" in value:
            return super().header_store_parse(name, value)
        key = (name, value)
        found = _PARSED.get(key)
        if found is None:
            found = super().header_store_parse(name, value)
            if len(_PARSED) < self.MAX_KEPT:
                _PARSED[key] = found
        return found

    def fold_binary(self, name, value):
        if _PARSED.get((name, str(value)), (None, None))[1] is not value:
            return super().fold_binary(name, value)
        key = (name, str(value), self.linesep, self.utf8, self.max_line_length, self.cte_type)
        found = _FOLDED.get(key)
        if found is None:
            found = super().fold_binary(name, value)
            if len(_FOLDED) < self.MAX_KEPT:
                _FOLDED[key] = found
        return found


#: (name, value) -> (name, header object), and its folded bytes per policy variant.
_PARSED: dict[tuple[str, str], tuple] = {}
_FOLDED: dict[tuple, bytes] = {}
MAIL_POLICY = RepeatedHeadersPolicy()


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (mail.headers or {}).items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class SMTPConnection:
    """One SMTP session, reused for a batch of messages."""

    def __init__(self, config: Mapping) -> None:
        self.sender = config["MAIL_DEFAULT_SENDER"]
        host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
        if config.get("MAIL_USE_SSL"):
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            self.smtp = smtplib.SMTP(host, port, timeout=timeout)
            if config.get("MAIL_USE_TLS"):
                self.smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            self.smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")

    def send(self, mail: Mail) -> None:
        try:
            self.smtp.send_message(build_message(mail, self.sender))
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise

    def reset(self) -> None:
        """Back to a clean state after a message failed half-way (SMTP RSET), for the next."""
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.smtp.rset()

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


class ConsoleConnection:
    """Writes each message to the log: development without a mail server."""

    def __init__(self, config: Mapping) -> None:
        self.sender = config["MAIL_DEFAULT_SENDER"]

    def send(self, mail: Mail) -> None:
        logger.warning(
            "\n---- email (no MAIL_SERVER set) ----\nFrom: %s\nTo: %s\nSubject: %s\n\n%s\n----",
            self.sender,
            mail.to,
            mail.subject,
            mail.text,
        )

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def connect(config: Mapping) -> Connection:
    """An open connection to the configured mail server, or the console without one."""
    if config.get("MAIL_SERVER"):
        return SMTPConnection(config)
    return ConsoleConnection(config)
