"""What the fault tests break, and what they watch it with: the real site on loopback.

- `FaultySMTP`: a real SMTP server (aiosmtpd) that can refuse connections (`stop()`), answer
  "421 try again later" (`busy`), or hold one message at RCPT or after the DATA end until
  released, as a slow or dying mail relay does;
- `Site`: the app as production runs it, on a database of a throwaway cluster: gunicorn
  (started as README.md says, tests/test_production_server.py) and `flask worker` processes,
  one environment for all of them; every process is stopped, or killed, when the site closes;
- `Browser`: a person's browser over real HTTP (a connection, cookies, an address of its own
  on 127.0.0.0/8 so per-address limits see separate people), which keeps every answer;
- `sign_and_confirm()`: the signer's whole path, sending again after a 503 as the page asks.

Nothing here sleeps for the wall clock to pass a deadline: waits poll for an outcome, each
bounded, so a broken site fails its test instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.fixtures import net
from tests.fixtures.actors import csrf_token, sign_form_hidden
from tests.fixtures.mail import links_in
from tests.fixtures.net import free_port
from tests.fixtures.servers import migrated_with_open_petition
from tests.fixtures.settings import settings_for
from tests.fixtures.threads import wait_until
from tests.test_production_server import ROOT, START_TIMEOUT, gunicorn, server_environment

#: A request without an answer within this long is a failure ("hangs"), never waited out.
ANSWER_TIMEOUT = 15.0
#: How long a held message waits for release at most (the sink never holds a test forever).
HOLD_LIMIT_SECONDS = 60.0
#: What a person sees when the confirmation went through.
CONFIRMED_TEXT = "Your signature is confirmed"
ALREADY_CONFIRMED_TEXT = "Already confirmed"


# --- the mail relay ----------------------------------------------------------------------------


class FaultySMTP:
    """A real SMTP server on 127.0.0.1:`port` whose faults the test switches on and off.

    Every message it accepts is kept (`received`), so a test counts what each recipient got.
    A message held after its DATA end is kept *before* it is held, as a relay does that has
    queued a message and then fails to send its "250 OK": the client cannot know it went.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        #: Answer every MAIL FROM with 421 (a relay that is up but refuses work).
        self.busy = False
        #: The arrival (1 = the first message since `hold_at`) to hold, and where.
        self._hold: tuple[str, int] | None = None
        self._arrivals = 0
        #: Set while a message is held; `release()` lets it go on.
        self.holding = threading.Event()
        self._released = threading.Event()
        #: Recipient of the message held (None before one is).
        self.held_for: str | None = None
        self._controller: Controller | None = None

    # listening or not

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._controller is None:
            self._controller = Controller(
                _FaultyHandler(self), hostname="127.0.0.1", port=self.port
            )
            self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused, as when the relay is down."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @contextmanager
    def running(self) -> Iterator[FaultySMTP]:
        self.start()
        try:
            yield self
        finally:
            self.release()
            self.stop()

    # holding one message

    def hold(self, arrival: int, at: str) -> None:
        """Hold the `arrival`-th message from now at "RCPT" (before its content was sent:
        never delivered if the client dies) or "DATA" (after its end: delivered even so)."""
        assert at in ("RCPT", "DATA")
        with self.lock:
            self._arrivals = 0
            self._hold = (at, arrival)

    def release(self) -> None:
        self._released.set()

    async def _maybe_hold(self, stage: str, number: int, recipient: str) -> None:
        if self._hold != (stage, number):
            return
        self.held_for = recipient
        self.holding.set()
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while not self._released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _arrival(self) -> int:
        with self.lock:
            self._arrivals += 1
            return self._arrivals

    # what arrived

    def _keep(self, message: EmailMessage) -> None:
        with self.lock:
            self.received.append(message)

    def per_recipient(self) -> Counter:
        with self.lock:
            return Counter(m["To"] for m in self.received)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if m["To"] == address]

    def confirmation_link(self, address: str) -> str | None:
        """The newest confirmation link mailed to `address`."""
        links = [link for m in self.to(address) for link in links_in(m) if "/confirm/" in link]
        return links[-1] if links else None


class _FaultyHandler:
    def __init__(self, sink: FaultySMTP) -> None:
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.sink.busy:
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        envelope.arrival = self.sink._arrival()
        await self.sink._maybe_hold("RCPT", envelope.arrival, address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.sink._keep(message_from_bytes(envelope.content, policy=policy.default))
        await self.sink._maybe_hold("DATA", envelope.arrival, envelope.rcpt_tos[0])
        return "250 Message accepted for delivery"


# --- the site --------------------------------------------------------------------------------

#: Every fault test's site: plain http on loopback; signers post faster than people do; the
#: count is read the moment the last signer is told "confirmed" (no memo's documented lag).
SITE_SETTINGS = {
    "SIGN_MIN_SECONDS": "0",
    "COUNT_MEMO_SECONDS": "0",
    "ANSWER_MEMO_SECONDS": "0",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_USE_TLS": "0",
    "MAIL_USE_SSL": "0",
    "MAIL_DEFAULT_SENDER": "Petitions <no-reply@petitions.test>",
    "OUTBOX_POLL_SECONDS": "0.1",
    "PYTHONUNBUFFERED": "1",
}


def prepare_database(url: str, smtp_port: int) -> int:
    """Build the schema by the migrations and open one petition; returns its id."""
    return migrated_with_open_petition(url, settings_for(url, smtp_port))


@dataclass
class Site:
    """gunicorn and mail workers on one database, started and stopped by the test."""

    home: Path
    database_url: str
    smtp_port: int
    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    workers: list[subprocess.Popen] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)

    def __post_init__(self) -> None:
        self.env = server_environment(
            self.home,
            self.database_url,
            self.port,
            **SITE_SETTINGS,
            MAIL_PORT=str(self.smtp_port),
            SIGNER_HASH_KEY=secrets.token_urlsafe(32),
            **self.settings,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_web(self) -> subprocess.Popen:
        """gunicorn, answering; its log is home/gunicorn.log."""
        process = self.stack.enter_context(gunicorn(self.home, self.env))
        wait_until(
            lambda: process.poll() is not None or status_of(self.port, "/") is not None,
            timeout=START_TIMEOUT,
            interval=0.2,
        )
        assert status_of(self.port, "/") == 200, f"the site did not come up:\n{self.log_tail()}"
        self.web = process
        return process

    def start_worker(self) -> subprocess.Popen:
        """One more `flask worker` process (home/worker-N.log)."""
        log = (self.home / f"worker-{len(self.workers)}.log").open("ab")
        self.stack.callback(log.close)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "petitions", "worker"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.stack.callback(_stop, process)
        self.workers.append(process)
        return process

    def flask(self, *command: str) -> subprocess.CompletedProcess:
        """An operator's `flask` command against the site's database."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "petitions", *command],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def web_processes(self) -> set[int]:
        """gunicorn's worker processes now (a crashed worker is replaced under a new pid)."""
        children = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children")
        return set(map(int, children.read_text().split())) if children.exists() else set()

    def log_tail(self, size: int = 3000) -> str:
        logs = sorted(self.home.glob("*.log"))
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-size:]}" for p in logs)

    def close(self) -> None:
        self.stack.close()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL to its process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL: no cleanup, no goodbye to the database or the relay, as a crash or the OOM
    killer does it."""
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def sql_value(url: str, statement: str):
    """One value from the site's database, on a connection of its own."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement)).scalar()
    finally:
        engine.dispose()


def status_of(port: int, path: str) -> int | None:
    return net.status_of(port, path, ANSWER_TIMEOUT)


# --- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    #: What the person was doing: "page", "count", "sign", "confirm page", "confirm".
    step: str
    #: None: no answer at all (the connection failed or nothing came within ANSWER_TIMEOUT).
    status: int | None
    retry_after: str | None = None
    text: str = ""
    error: str | None = None
    #: nginx's X-Cache-Status (HIT: the cache answered, not the app), when behind nginx.
    cache: str | None = None


class Browser:
    """One person's browser: a connection to the site, its cookies, an address of its own."""

    def __init__(self, port: int, source: str, answers: list[Answer]) -> None:
        self.port = port
        self.source = source
        self.answers = answers
        self.cookies: dict[str, str] = {}

    def request(
        self,
        step: str,
        method: str,
        path: str,
        form: dict | None = None,
        headers: dict | None = None,
    ) -> Answer:
        headers = {
            "Accept-Language": "en",
            "User-Agent": "petitions-fault-tests/1",
            **(headers or {}),
        }
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=ANSWER_TIMEOUT, source_address=(self.source, 0)
        )
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            answer = Answer(step, None, error=repr(exc))
        else:
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            answer = Answer(
                step,
                response.status,
                response.getheader("Retry-After"),
                text,
                cache=response.getheader("X-Cache-Status"),
            )
        finally:
            conn.close()
        self.answers.append(answer)
        return answer


def person_address(n: int) -> str:
    """A loopback address standing for person n's own network (127.a.b.1, one /24 each)."""
    return f"127.{1 + n // 250 % 250}.{1 + n % 250}.1"


#: The answers a person sends the same thing again after: "try again later" (behind nginx
#: also its own 503 page, for the 502 or 504 of an instance that went away mid-request).
TRY_AGAIN = frozenset({503})


def _until_answered(
    send: Callable[[], Answer], deadline: float, try_again: frozenset[int] = TRY_AGAIN
) -> Answer:
    """Send again after an answer in `try_again`, as its page asks (sooner than its
    Retry-After: these people are patient machines), until another answer comes or
    `deadline` passes."""
    while True:
        answer = send()
        if answer.status not in try_again or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


@dataclass
class Signing:
    """What became of one person's signing."""

    email: str
    signed: bool = False
    confirmed: bool = False
    #: Where it stopped, if it did not get to the end.
    stuck_at: str | None = None


def sign(
    browser: Browser,
    petition_id: int,
    email: str,
    deadline: float,
    try_again: frozenset[int] = TRY_AGAIN,
) -> Signing:
    """The petition page, then the sign form sent; `signed` when it answered 303."""
    result = Signing(email)
    page_path = f"/petitions/{petition_id}"
    page = _until_answered(lambda: browser.request("page", "GET", page_path), deadline, try_again)
    if page.status != 200:
        result.stuck_at = "page"
        return result
    form = {
        "csrf_token": csrf_token(page.text),
        **sign_form_hidden(page.text),
        "name": "Aibek Asanov",
        "email": email,
        "country": "KG",
        "region": "",
        "consent": "y",
    }
    signed = _until_answered(
        lambda: browser.request("sign", "POST", f"{page_path}/sign", form), deadline, try_again
    )
    result.signed = signed.status == 303
    result.stuck_at = None if result.signed else "sign"
    return result


def confirm(
    browser: Browser, link: str, deadline: float, try_again: frozenset[int] = TRY_AGAIN
) -> bool:
    """The emailed link's page, then its button; True once the page says it is confirmed (or
    already was: a confirmation cut off by a 503 after its commit had in fact been stored)."""
    path = urlsplit(link).path
    while time.monotonic() < deadline:
        page = _until_answered(
            lambda: browser.request("confirm page", "GET", path), deadline, try_again
        )
        if page.status != 200:
            return False
        if ALREADY_CONFIRMED_TEXT in page.text:
            return True
        answer = browser.request("confirm", "POST", path, {"csrf_token": csrf_token(page.text)})
        if answer.status == 200 and CONFIRMED_TEXT in answer.text:
            return True
        if answer.status not in try_again:
            return False
        time.sleep(0.1)
    return False


def sign_and_confirm(
    browser: Browser,
    sink: FaultySMTP,
    petition_id: int,
    email: str,
    deadline: float,
    try_again: frozenset[int] = TRY_AGAIN,
) -> Signing:
    """Sign, wait for the confirmation mail, confirm."""
    result = sign(browser, petition_id, email, deadline, try_again)
    if not result.signed:
        return result
    wait_until(
        lambda: sink.confirmation_link(email) is not None,
        timeout=max(0.0, deadline - time.monotonic()),
    )
    link = sink.confirmation_link(email)
    if link is None:
        result.stuck_at = "mail"
        return result
    result.confirmed = confirm(browser, link, deadline, try_again)
    result.stuck_at = None if result.confirmed else "confirm"
    return result
