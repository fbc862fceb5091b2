"""Sending mail: an SMTP backend, and a console backend for `make run` without a mail server."""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr
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


class MailPolicy(Compat32):
    """compat32 (email.mime's policy), except that a value with no space to fold at (a URL in
    List-Unsubscribe) is written on its header's line, not pushed whole to a continuation line
    (which some readers take as part of the value, a leading space)."""

    def _unbreakable(self, name: str, value) -> bool:
        return (
            isinstance(value, str)
            and value.isascii()
            and not any(c.isspace() for c in value)
            and len(name) + len(value) + 2 <= 998
        )

    def fold(self, name, value):
        if self._unbreakable(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if self._unbreakable(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = MailPolicy()


def build_message(mail: Mail, sender: str) -> Message:
    """The message as it goes on the wire: a text part and, if there is one, an HTML
    alternative, both UTF-8 in base64.

    Almost every message (an ASCII address, any subject) is built with the standard library's
    `email.mime` classes and the compat32 policy, which store header values as given and fold
    only what needs encoding (the subject, a sender's name as RFC 2047 words): about a third
    of the CPU of `EmailMessage`, whose default policy parses every header into a tree and
    folds it again, the mail worker's largest cost per message. An internationalised address
    (a non-ASCII mailbox, sent with SMTPUTF8) takes `EmailMessage`, which knows how to write
    one."""
    headers = dict(mail.headers or {})
    if any("".join(v.splitlines()) != v for v in (mail.to, mail.subject, *headers.values())):
        # Any line boundary (U+2028 too), or a header could end and another begin.
        raise ValueError("a mail header value holds a line break")
    name, address = parseaddr(sender)
    if not all(value.isascii() for value in (mail.to, address, *headers.values())):
        return _international_message(mail, sender, headers)
    message = (
        MIMEMultipart("alternative", policy=MAIL_POLICY) if mail.html else _text_part(mail.text)
    )
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = mail.to
    message["Subject"] = mail.subject if mail.subject.isascii() else Header(mail.subject, "utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    for header, value in headers.items():
        message[header] = value
    if mail.html:
        message.attach(_text_part(mail.text))
        message.attach(MIMEText(mail.html, "html", "utf-8", policy=MAIL_POLICY))
    return message


def _text_part(text: str) -> MIMEText:
    return MIMEText(text, "plain", "utf-8", policy=MAIL_POLICY)


def _international_message(mail: Mail, sender: str, headers: Mapping[str, str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message["Auto-Submitted"] = "auto-generated"
    for header, value in headers.items():
        message[header] = value
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
