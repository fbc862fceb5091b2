"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL), a real
SMTP server (aiosmtpd) that receives what the outbox sends, and helpers that act like a signer.

The schema is built once per run by the Alembic migrations themselves (not `create_all`), so
every test also exercises "upgrade from empty". Between tests every table is emptied.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, make_url, select, text, update

from petitions import create_app, database_url
from petitions.emailaddr import identity_key
from petitions.extensions import db
from petitions.models import Petition, Signature, utcnow
from petitions.outbox import deliver_all
from petitions.services import petitions as petition_service
from petitions.services.signing import (
    ConfirmOutcome,
    Signer,
    SigningPolicy,
    SignOutcome,
    confirm_signature,
    sign_petition,
)

TEST_SECRET = "test-secret-key-not-for-production"


def _test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


#: The run uses PostgreSQL (TEST_DATABASE_URL); tests marked `postgres` skip otherwise.
ON_POSTGRES = database_url(os.environ.get("TEST_DATABASE_URL", "")).startswith("postgresql")


def pytest_report_header(config):
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'SQLite (temporary file)'}"


# --- a real SMTP server --------------------------------------------------------------------


@dataclass
class Mailbox:
    """Messages received by the test SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Recipients the server refuses with a permanent error (550).
    refuse: set[str] = field(default_factory=set)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refuse.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_to(self, address: str) -> EmailMessage:
        found = self.to(address)
        assert found, f"no mail received for {address}; got {[m['To'] for m in self.messages]}"
        return found[-1]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.mailbox.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.mailbox.lock:
            self.mailbox.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Iterator[Mailbox]:
    _, box = smtp_server
    box.clear()
    yield box
    box.clear()


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def body_html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r"https?://[^\s<>\"]+", body_text(message))


def confirm_link(message: EmailMessage) -> str:
    found = [link for link in links_in(message) if "/confirm/" in link]
    assert len(found) == 1, f"expected one confirmation link, got {found}"
    return found[0]


# --- the database and the app ----------------------------------------------------------------


@contextmanager
def private_postgres_database(url: str, prefix: str = "petitions_test") -> Iterator[str]:
    """A fresh database beside the one in `url`, dropped afterwards.

    Each test run gets its own, so runs in parallel (several developers' shells, CI) never
    empty each other's tables.
    """
    base = make_url(url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Iterator[str]:
    """An empty database whose schema is built by `flask db upgrade` (the migrations)."""
    url = _test_database_url(tmp_path_factory)
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = stack.enter_context(private_postgres_database(url))
        from flask_migrate import upgrade

        app = create_app(_config(url, smtp_port=25))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield url


def _config(url: str, smtp_port: int) -> dict:
    return {
        "PETITIONS_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "SIGNER_HASH_KEY": "test-signer-hash-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_DEFAULT_SENDER": "Petitions <no-reply@petitions.test>",
        "PUBLIC_BASE_URL": "http://localhost",
        "SERVER_NAME": "localhost",
        "COUNT_SHARDS": 4,
    }


TABLES = (
    "outbox_messages",
    "petition_updates",
    "petition_milestones",
    "daily_counts",
    "petition_events",
    "signatures",
    "petition_count_shards",
    "petitions",
    "user_sessions",
    "users",
)


def _empty_tables() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    db.session.commit()


@pytest.fixture
def app_config(migrated_database, smtp_server) -> dict:
    """The app's settings; a test may change them before asking for `app`."""
    controller, _ = smtp_server
    return _config(migrated_database, smtp_port=controller.port)


@pytest.fixture
def app(app_config, mailbox):
    app = create_app(app_config)
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def deliver(app):
    """Run the outbox worker until nothing is due (mail goes to the test SMTP server)."""

    def run():
        with app.app_context():
            report = deliver_all(db.session, app.config)
            db.session.remove()
            return report

    return run


@pytest.fixture
def make_petition(app):
    """Create a petition through the service; returns its id."""

    def make(
        state: str = "open",
        title: str = "Do not send troops abroad",
        goal=None,
        closes_in: timedelta | None = timedelta(days=30),
        **fields,
    ) -> int:
        with app.app_context():
            now = utcnow()
            petition = petition_service.create_petition(
                db.session,
                petition_service.PetitionDraft(
                    title=title,
                    action=fields.pop("action", "Vote against sending troops abroad."),
                    addressee=fields.pop("addressee", "Jogorku Kenesh"),
                    background=fields.pop("background", "Our soldiers defend our homeland."),
                    signature_goal=goal,
                ),
                now=now,
            )
            base_url = app.config["PUBLIC_BASE_URL"]
            if state in ("open", "closed"):
                petition_service.open_petition(
                    db.session,
                    petition,
                    now=now,
                    base_url=base_url,
                    closes_at=now + closes_in if closes_in else None,
                )
            if state == "closed":
                petition_service.close_petition(db.session, petition.id, now=now, base_url=base_url)
            db.session.commit()
            return petition.id

    return make


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


class SignerActions:
    """What a person does in the browser, through the test client."""

    def __init__(self, client, mailbox: Mailbox, deliver) -> None:
        self.client = client
        self.mailbox = mailbox
        self.deliver = deliver

    def sign(
        self,
        petition_id: int,
        email: str,
        name: str = "Aibek Asanov",
        country: str = "KG",
        region: str = "Chüy",
        consent: bool = True,
        wants_updates: bool = False,
        follow: bool = False,
        **extra,
    ):
        page = self.client.get(f"/petitions/{petition_id}")
        assert page.status_code == 200
        data = {
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "name": name,
            "email": email,
            "country": country,
            "region": region,
            **extra,
        }
        if consent:
            data["consent"] = "y"
        if wants_updates:
            data["wants_updates"] = "y"
        return self.client.post(
            f"/petitions/{petition_id}/sign", data=data, follow_redirects=follow
        )

    def confirmation_path(self, email: str) -> str:
        """Deliver the outbox, read the newest mail to `email`, return its link's path."""
        self.deliver()
        link = confirm_link(self.mailbox.last_to(email))
        assert link.startswith("http://localhost/confirm/")
        return link.removeprefix("http://localhost")

    def confirm(self, path: str):
        page = self.client.get(path)
        if page.status_code != 200 or b'name="csrf_token"' not in page.data:
            return page
        return self.client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})

    def sign_and_confirm(self, petition_id: int, email: str, **kwargs):
        response = self.sign(petition_id, email, **kwargs)
        assert response.status_code == 303, response.get_data(as_text=True)
        return self.confirm(self.confirmation_path(email))

    def count(self, petition_id: int) -> int:
        response = self.client.get(f"/petitions/{petition_id}/count.json")
        assert response.status_code == 200
        return response.get_json()["signature_count"]


@pytest.fixture
def signer(client, mailbox, deliver) -> SignerActions:
    return SignerActions(client, mailbox, deliver)


@pytest.fixture
def petition(make_petition) -> int:
    return make_petition()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` (for tests with background threads); never asserts timing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def move_deadline_to_past(app, petition_id: int) -> None:
    """The deadline passed a minute ago, but nothing has closed the petition yet."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            update(Petition)
            .where(Petition.id == petition_id)
            .values(opened_at=now - timedelta(days=2), closes_at=now - timedelta(minutes=1))
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def make_user(app):
    """Create an account directly (confirmed unless told otherwise); returns its id.

    The password is "correct horse battery" unless given.
    """
    from petitions.emailaddr import normalise_for_identity
    from petitions.models import User
    from petitions.passwords import hash_password

    def make(
        email: str = "organiser@example.kg",
        role: str = "organiser",
        password: str = "correct horse battery",
        name: str = "Aigul Organiser",
        confirmed: bool = True,
    ) -> int:
        with app.app_context():
            user = User(
                email=email,
                email_canonical=normalise_for_identity(email),
                password_hash=hash_password(password),
                display_name=name,
                role=role,
                email_confirmed_at=utcnow() if confirmed else None,
                failed_logins=0,
                credentials_version=1,
            )
            db.session.add(user)
            db.session.commit()
            user_id = user.id
            db.session.remove()
            return user_id

    return make


def log_in_client(app, client, user_id: int) -> None:
    """Put a user's login in a test client's session as the login form does: a server-side
    session (services.sessions.start_session) whose key the cookie keeps."""
    from petitions.auth import SESSION_KEY
    from petitions.models import User
    from petitions.services.sessions import start_session

    with app.app_context():
        user = db.session.get(User, user_id)
        session_id = user.get_id()
        key = start_session(db.session, user, now=utcnow())
        db.session.remove()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
        session[SESSION_KEY] = key


@pytest.fixture
def login_as(app, client):
    """Log a user in in the test client, as the login form does.

    For tests of what a logged-in user may do; the login form itself has tests of its own.
    """

    def login(user_id: int) -> None:
        log_in_client(app, client, user_id)

    return login


@pytest.fixture
def get_petition(app):
    def get(petition_id: int) -> Petition:
        with app.app_context():
            found = db.session.get(Petition, petition_id)
            db.session.expunge_all()
            return found

    return get


# --- helpers for tests that run several threads ------------------------------------------------


def run_in_threads(targets, timeout: float = 120.0) -> list:
    """Run each callable in its own thread; return their results in order.

    An exception in a thread is re-raised here (escaping a thread it would only be a warning),
    and a thread still running after `timeout` seconds fails the test rather than hanging it.
    """
    results: list = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target) -> None:
        try:
            results[index] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(n, target), name=f"test-thread-{n}", daemon=True)
        for n, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {timeout} s: {stuck}"
    return results


def sign_directly(app, petition_id: int, email: str, name: str = "Test Signer"):
    """Sign through `services.signing` (no HTTP) in a fresh app context; thread-safe.

    Returns the outcome and the id of the address's signature.
    """
    with app.app_context():
        try:
            policy = SigningPolicy.from_config(app.config)
            petition = db.session.get(Petition, petition_id)
            signer = Signer(name=name, email=email, country="KG", region=None, wants_updates=False)
            outcome: SignOutcome = sign_petition(
                db.session, petition, signer, now=utcnow(), policy=policy
            )
            signature_id = db.session.scalar(
                select(Signature.id).where(
                    Signature.petition_id == petition_id,
                    Signature.email_key == identity_key(email, policy.hash_key),
                )
            )
            return outcome, signature_id
        finally:
            db.session.remove()


def confirm_directly(app, signature_id: int) -> ConfirmOutcome:
    """Confirm through `services.signing` in a fresh app context; thread-safe."""
    with app.app_context():
        try:
            return confirm_signature(
                db.session,
                signature_id,
                now=utcnow(),
                policy=SigningPolicy.from_config(app.config),
            )
        finally:
            db.session.remove()


def scalar_sql(app, sql: str, **params):
    """One value from a raw SQL query, in a fresh app context."""
    with app.app_context():
        try:
            return db.session.scalar(text(sql), params)
        finally:
            db.session.remove()


# --- moderation (added with the moderation blueprint) ------------------------------------------


@pytest.fixture
def make_queued_petition(app):
    """A petition waiting in the moderation queue, created directly through the model (the
    organiser and sponsor flow that leads there has tests of its own); returns its id.

    `waited` is how long it has been in the queue; `sponsors` confirmed sponsor signatures
    are added; `owner_id` is its organiser's account, if any.
    """

    def make(
        title: str = "Build a bridge in Osh",
        *,
        owner_id: int | None = None,
        waited: timedelta = timedelta(hours=1),
        sponsors: int = 0,
    ) -> int:
        with app.app_context():
            now = utcnow()
            petition = Petition(
                title=title,
                action="Build a footbridge over the Ak-Buura river.",
                background="Children cross the road to reach school.",
                addressee="Osh city council",
                state="moderation",
                owner_id=owner_id,
                created_at=now - waited - timedelta(days=1),
                submitted_at=now - waited - timedelta(hours=2),
                moderation_requested_at=now - waited,
            )
            db.session.add(petition)
            db.session.flush()
            for n in range(sponsors):
                db.session.add(
                    Signature(
                        petition_id=petition.id,
                        email_key=f"sponsor-{petition.id}-{n}",
                        name=f"Sponsor {n}",
                        country="KG",
                        is_sponsor=True,
                        status="confirmed",
                        confirmed_at=now - waited,
                    )
                )
            db.session.commit()
            petition_id = petition.id
            db.session.remove()
            return petition_id

    return make


# --- organisers and sponsors (added with the organiser blueprint) -------------------------------


def creation_key(html: str) -> str:
    match = re.search(r'id="creation_key" name="creation_key" type="hidden" value="([^"]*)"', html)
    assert match, "no creation key in the page"
    return match.group(1)


class OrganiserActions:
    """What a logged-in organiser does in the browser, through the test client."""

    DRAFT = {
        "title": "Light the road to Karakol",
        "action": "Install street lights on the road from Karakol to Jeti-Oguz.",
        "background": "The road is dark and people walk it at night.\n\nThree accidents this year.",
        "addressee": "Issyk-Kul regional administration",
        "signature_goal": "1000",
    }

    def __init__(self, client, user_id: int) -> None:
        self.client = client
        self.user_id = user_id

    def create(self, **fields) -> int:
        """Fill in and send the create form; returns the new petition's id."""
        response = self.post_new(**fields)
        assert response.status_code == 303, response.get_data(as_text=True)
        return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def post_new(self, **fields):
        page = self.client.get("/organiser/petitions/new")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        data = {"csrf_token": csrf_token(html), "creation_key": creation_key(html)}
        return self.client.post("/organiser/petitions/new", data={**data, **self.DRAFT, **fields})

    def post_form(self, path: str, **fields):
        """GET a page with a form and POST it back with `fields` and the page's CSRF token."""
        page = self.client.get(path)
        assert page.status_code == 200, page.status_code
        return self.client.post(
            path, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **fields}
        )

    def submit(self, petition_id: int):
        page = self.client.get(f"/organiser/petitions/{petition_id}/preview")
        assert page.status_code == 200
        return self.client.post(
            f"/organiser/petitions/{petition_id}/submit",
            data={"csrf_token": csrf_token(page.get_data(as_text=True))},
        )

    def share_path(self, petition_id: int) -> str:
        """The sponsor link shown on the petition's page, as a path."""
        html = self.client.get(f"/organiser/petitions/{petition_id}").get_data(as_text=True)
        match = re.search(r'value="http://localhost(/petitions/\d+/sponsor/[^"]+)"', html)
        assert match, "no sponsor link on the page"
        return match.group(1)


@pytest.fixture
def organiser(client, make_user, login_as) -> OrganiserActions:
    """An organiser logged in in the test client."""
    user_id = make_user(email="organiser@example.kg", name="Aigul Organiser")
    login_as(user_id)
    return OrganiserActions(client, user_id)


def sponsor_sign(client, share_path: str, email: str, name: str = "Bakyt Sponsor", **extra):
    """Sign through a sponsor link (a fresh form, like a browser that opened the link)."""
    page = client.get(share_path)
    assert page.status_code == 200, page.status_code
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "name": name,
        "email": email,
        "country": "KG",
        "region": "",
        "consent": "y",
        **extra,
    }
    return client.post(share_path, data=data)


# --- moderation decisions (added with the live counter and the embeddable widget) ----------


@pytest.fixture
def moderate(app, make_user, make_queued_petition):
    """Decide on a petition through the moderation service; returns its id.

    `moderate("rejected", reason=...)` rejects a new queued petition titled `title`;
    `moderate("hidden", petition_id)` hides an existing (say, open) one.
    """
    from petitions.services import moderation

    moderator_id = make_user(email="decider@example.kg", role="moderator", name="Decider")

    def decide(
        state: str,
        petition_id: int | None = None,
        *,
        title: str = "Ban old cars",
        reason="duplicate",
    ) -> int:
        if petition_id is None:
            petition_id = make_queued_petition(title)
        with app.test_request_context():
            if state == "rejected":
                moderation.reject(
                    db.session,
                    petition_id,
                    moderator_id=moderator_id,
                    now=utcnow(),
                    reason=reason,
                    note="Moderators' note.",
                    base_url="http://localhost",
                )
            elif state == "hidden":
                moderation.hide(
                    db.session,
                    petition_id,
                    moderator_id=moderator_id,
                    now=utcnow(),
                    reason="Abuse.",
                )
            else:
                raise ValueError(f"no such decision: {state}")
            db.session.commit()
            db.session.remove()
        return petition_id

    return decide
