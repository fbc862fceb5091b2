"""Every page people use, checked by axe-core in a real browser, in English and in Kyrgyz: no
violation of impact serious or critical (WCAG 2.2 A/AA and axe's best practices).

axe-core comes from npm at the version package-lock.json pins (`make test` runs `npm ci`
when the lock file is newer than node_modules). The pages' CSP allows only their own scripts,
so the test browser context, and only it, bypasses the CSP to inject axe; the pages
themselves are served exactly as to anyone.

Each page also has exactly one h1 (its title, for people who jump by heading).

Each page is its own test (`[en-home]`, `[ky-sign-form-errors]`, ...). A page that needs a
login logs in through the login form; a form "with errors" is sent empty, as a hurried
person does, so the error summary, the links to the fields and the invalid fields are
checked too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.mail import confirm_link

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery"
LANGUAGES = {"en": "", "ky": "/ky"}
#: What fails the test; moderate and minor findings are left to review.
FAILING_IMPACTS = ("serious", "critical")


@dataclass
class Site:
    """The data the pages show, made afresh for each test."""

    open_petition: int
    closed_petition: int
    rejected_petition: int
    queued_petition: int
    organiser: str
    moderator: str
    admin: str


@pytest.fixture
def site(make_petition, make_user, make_signature, make_queued_petition, moderate) -> Site:
    organiser_id = make_user(email="organiser@example.kg", name="Aigul Organiser")
    make_user(email="moderator@example.kg", role="moderator", name="Bakyt Moderator")
    make_user(email="admin@example.kg", role="admin", name="Cholpon Admin")
    open_petition = make_petition(
        goal=1000,
        owner_id=organiser_id,
        background="Our soldiers defend our homeland.\n\n" * 5,
    )
    make_signature(
        open_petition,
        None,
        counted=True,
        count=12,
        country=lambda n: ("KG", "RU", "KZ")[n % 3],
        region=lambda n: "Chüy" if n % 3 == 0 else None,
    )
    return Site(
        open_petition=open_petition,
        closed_petition=make_petition(state="closed", title="Keep the library open"),
        rejected_petition=moderate("rejected", title="Ban everything"),
        queued_petition=make_queued_petition(),
        organiser="organiser@example.kg",
        moderator="moderator@example.kg",
        admin="admin@example.kg",
    )


@pytest.fixture
def axe_page(browser, live_server) -> Iterator[Page]:
    """A fresh browser profile that may inject axe-core despite the pages' CSP."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make test` (it runs `npm ci`).", pytrace=False)
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, email: str) -> None:
    page.goto("/account/login")
    form = page.locator("main form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("nav.account form.inline")).to_be_visible()  # the log-out button


def send_empty(page: Page, form: str = "main form") -> None:
    page.locator(form).locator("button[type=submit]").first.click()
    expect(page.locator(".error-summary")).to_be_visible()


def sign(page: Page, prefix: str, site: Site, email: str = "aigerim@example.kg") -> None:
    page.goto(f"{prefix}/petitions/{site.open_petition}")
    form = page.locator("#sign form")
    form.locator("input[name=name]").fill("Aigerim Sadykova")
    form.locator("input[name=email]").fill(email)
    form.locator("select[name=country]").select_option("KG")
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/petitions/{site.open_petition}/signed(#sign)?$"))


def open_confirmation(page, prefix, site, mailbox, deliver) -> None:
    sign(page, prefix, site)
    deliver()
    path = urlsplit(confirm_link(mailbox.last_to("aigerim@example.kg"))).path
    # The link is in the signer's language once mails are (issue 10); this page is checked
    # in the language of the test either way.
    page.goto(path if path.startswith(f"{prefix}/") else prefix + path)


#: (id, visit): `visit(page, prefix, site, mailbox, deliver)` leaves the page to check open.
Visit = Callable[..., None]
PAGES: list[tuple[str, Visit]] = []


def page_check(name: str):
    def register(visit: Visit) -> Visit:
        PAGES.append((name, visit))
        return visit

    return register


def goto(path: str, who: str | None = None) -> Visit:
    def visit(page, prefix, site, mailbox, deliver):
        if who:
            log_in(page, getattr(site, who))
        page.goto(prefix + path.format(site=site))

    return visit


# Public pages.
page_check("home")(goto("/"))
page_check("petition-open")(goto("/petitions/{site.open_petition}"))
page_check("petition-closed")(goto("/petitions/{site.closed_petition}"))
page_check("petition-rejected")(goto("/petitions/{site.rejected_petition}"))
page_check("search")(goto("/search?q=petition&sort=newest"))
page_check("search-no-results")(goto("/search?q=zzzzqqq"))
page_check("archive")(goto("/search?state=archive"))
page_check("accessibility")(goto("/accessibility"))
page_check("privacy")(goto("/privacy"))
page_check("embed")(goto("/petitions/{site.open_petition}/embed"))
page_check("not-found")(goto("/no-such-page"))


# Signing.
@page_check("sign-form-errors")
def _sign_errors(page, prefix, site, mailbox, deliver):
    page.goto(f"{prefix}/petitions/{site.open_petition}")
    send_empty(page, "#sign form")


@page_check("sign-check-email")
def _check_email(page, prefix, site, mailbox, deliver):
    sign(page, prefix, site)


@page_check("sign-confirm")
def _confirm(page, prefix, site, mailbox, deliver):
    open_confirmation(page, prefix, site, mailbox, deliver)


@page_check("sign-confirmed")
def _confirmed(page, prefix, site, mailbox, deliver):
    open_confirmation(page, prefix, site, mailbox, deliver)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main form")).to_have_count(0)


# Accounts.
@page_check("signup-errors")
def _signup(page, prefix, site, mailbox, deliver):
    page.goto(f"{prefix}/account/signup")
    send_empty(page)


@page_check("login-failed")
def _login(page, prefix, site, mailbox, deliver):
    page.goto(f"{prefix}/account/login")
    page.locator("main form input[name=email]").fill("nobody@example.kg")
    page.locator("main form input[name=password]").fill("wrong password")
    send_empty(page)


page_check("reset")(goto("/account/reset"))
page_check("settings")(goto("/account/settings", "organiser"))


# Organisers.
page_check("my-petitions")(goto("/organiser/petitions", "organiser"))


@page_check("new-petition-errors")
def _new_petition(page, prefix, site, mailbox, deliver):
    log_in(page, site.organiser)
    page.goto(f"{prefix}/organiser/petitions/new")
    send_empty(page)


page_check("dashboard")(goto("/organiser/petitions/{site.open_petition}/dashboard", "organiser"))

# Moderators and administrators.
page_check("moderation-queue")(goto("/moderation/", "moderator"))
page_check("moderation-review")(goto("/moderation/petitions/{site.queued_petition}", "moderator"))
page_check("investigation")(
    goto("/moderation/petitions/{site.open_petition}/signatures", "moderator")
)
page_check("admin-settings")(goto("/admin/", "admin"))


def serious_violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "where": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in violations
        if violation["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.parametrize("visit", [visit for _, visit in PAGES], ids=[name for name, _ in PAGES])
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_serious_accessibility_violations(
    axe_page, site, mailbox, deliver, language, visit, live_server
):
    visit(axe_page, LANGUAGES[language], site, mailbox, deliver)
    expect(axe_page.locator("html")).to_have_attribute("lang", language)
    expect(axe_page.locator("h1")).to_have_count(1)
    found = serious_violations(axe_page)
    assert not found, f"{axe_page.url}:\n" + json.dumps(found, indent=1, ensure_ascii=False)


def test_the_keyboard_reaches_a_visible_skip_link_and_sees_where_the_focus_is(page, petition):
    page.goto(f"/petitions/{petition}")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    # A solid ring at least 2 px wide (site.css), not the browser's faint default.
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] == "solid" and outline[1] >= 2, outline

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")
    # The next stop is inside the page's content, not back in the header.
    assert page.evaluate("document.activeElement.closest('main') !== null")
