"""The site in Kyrgyz, in a real browser: a Kyrgyz speaker finds, reads, signs and confirms a
petition, and an organiser runs one, without meeting one English word.

The browser is set up as a reader's in Kyrgyzstan would be (locale ky-KG, Accept-Language
"ky,ru;q=0.8") and starts from the site's root. Every form is filled by its Kyrgyz labels and
every button pressed by its Kyrgyz name, so a step fails where an English string would have
been met. Mail comes over the real SMTP server and its links are followed in the browser.

Each flow (signer_flow, organiser_flow, switcher_flow) notes the pages and mails it showed
(untranslated.Visits); the tests at the end run each flow again and look for English on every
one of them: the catalog's English, and any word in Latin letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import LocatorAssertions, Page, expect

from tests.e2e.untranslated import Visits, translate, translate_plural
from tests.fixtures.mail import Mailbox, body_text, confirm_link, links_in

KYRGYZ_BROWSER = {"locale": "ky-KG", "extra_http_headers": {"Accept-Language": "ky,ru;q=0.8"}}
#: A petition written by a Kyrgyz organiser (the test's own text, never the site's words).
TITLE = "Каракол жолуна жарык орнотулсун"
ACTION = "Караколдон Жети-Өгүзгө чейинки жолго көчө чырактарын орнотуу."
BACKGROUND = "Жол түнү караңгы, адамдар ал жерден түнкүсүн басышат."
ADDRESSEE = "Ысык-Көл облустук администрациясы"
SIGNER = "Айгерим Садыкова"
ORGANISER = "Нурлан Асанов"
SPONSORS = ("Бакыт Токтогулов", "Жылдыз Осмонова")
MODERATOR = "Марат Модератор"
PASSWORD = "correct horse battery"
#: Its Russian translation, written by the organiser and approved by the moderator.
RU_TITLE = "Осветить дорогу в Каракол"
RU_ACTION = "Установить уличные фонари на дороге от Каракола до Жети-Огуза."
RU_BACKGROUND = "Ночью на дороге темно, а люди ходят по ней пешком."
USER_TEXT = [
    TITLE,
    ACTION,
    BACKGROUND,
    ADDRESSEE,
    SIGNER,
    ORGANISER,
    *SPONSORS,
    MODERATOR,
    RU_TITLE,
    RU_ACTION,
    RU_BACKGROUND,
]
#: Each flow's steps have bounded waits; none takes long unless something is wrong.
STEP_MS = 10_000


def ky(message: str, **values) -> str:
    return translate("ky", message, **values)


OpenPage = Callable[..., Page]


@pytest.fixture
def kyrgyz(browser, live_server) -> Iterator[OpenPage]:
    """Opens a page in a fresh Kyrgyz browser profile (options: new_context's, e.g.
    java_script_enabled=False, a viewport); each person in a flow gets their own."""
    contexts = []

    def open_page(**options) -> Page:
        context = browser.new_context(base_url=live_server.url, **{**KYRGYZ_BROWSER, **options})
        context.set_default_timeout(STEP_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def visits() -> Visits:
    return Visits("ky", allowed=list(USER_TEXT))


def in_kyrgyz(page: Page, visits: Visits) -> None:
    """The page is a Kyrgyz one (its URL and its `lang`); note it as seen."""
    expect(page).to_have_url(re.compile(r"^[^/]+//[^/]+/ky/"))
    expect(page.locator("html")).to_have_attribute("lang", "ky")
    visits.page(page)


def follow(page: Page, link: str) -> None:
    """Open an emailed link in the browser (its path: the mail names the site's address)."""
    parts = urlsplit(link)
    page.goto(parts.path + (f"?{parts.query}" if parts.query else ""))


def shown_count(page: Page) -> LocatorAssertions:
    """What the reader sees as the petition's total."""
    return expect(page.locator("section.total [data-count]"))


# --- the steps of the flows -----------------------------------------------------------------------


def open_petition_from_root(page: Page, visits: Visits, title: str = TITLE) -> None:
    """From the site's root, as a reader arrives, to the petition's page."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ky/$"))
    in_kyrgyz(page, visits)
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    in_kyrgyz(page, visits)


def fill_sign_form(page: Page, email: str, name: str, button: str = "Sign") -> None:
    """Fill the sign form on the page by its Kyrgyz labels and send it."""
    form = page.locator("form", has=page.get_by_label(ky("Full name"), exact=True))
    form.get_by_label(ky("Full name"), exact=True).fill(name)
    form.get_by_label(ky("Email address"), exact=True).fill(email)
    form.get_by_label(ky("Country"), exact=True).select_option("KG")
    form.get_by_label(
        ky(
            "I agree that my name, country and region are stored to count my signature, "
            "and my email address until I confirm it (longer only if I ask for updates or "
            "to share it below). The organiser never sees my address unless I choose to "
            "share it."
        )
    ).check()
    form.get_by_role("button", name=ky(button)).click()


def confirm_signature_from_mail(
    page: Page, visits: Visits, mailbox: Mailbox, deliver, email: str
) -> None:
    """Read the confirmation mail (in Kyrgyz), open its link, press the button."""
    deliver()
    mail = mailbox.last_to(email)
    visits.mail(mail)
    follow(page, confirm_link(mail))
    expect(page.get_by_role("heading", name=ky("Confirm your signature"))).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_role("button", name=ky("Confirm my signature")).click()
    expect(page.get_by_role("heading", name=ky("Your signature is confirmed"))).to_be_visible()
    in_kyrgyz(page, visits)


def sign_and_confirm(
    page: Page,
    visits: Visits,
    mailbox: Mailbox,
    deliver,
    email: str,
    name: str = SIGNER,
    button: str = "Sign",
) -> None:
    """Sign on the page shown (the petition's, or a sponsor link's), then confirm by mail."""
    fill_sign_form(page, email, name, button)
    expect(page.get_by_role("heading", name=ky("Check your email"))).to_be_visible()
    in_kyrgyz(page, visits)
    confirm_signature_from_mail(page, visits, mailbox, deliver, email)


def sign_up(page: Page, visits: Visits, mailbox: Mailbox, deliver, email: str) -> None:
    """Open an organiser account from the Kyrgyz home page and confirm it from the mail."""
    page.goto("/")
    in_kyrgyz(page, visits)
    page.get_by_role("navigation", name=ky("Account")).get_by_role(
        "link", name=ky("Sign up")
    ).click()
    expect(page.get_by_role("heading", name=ky("Create an organiser account"))).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_label(ky("Your name"), exact=True).fill(ORGANISER)
    page.get_by_label(ky("Email address"), exact=True).fill(email)
    page.get_by_label(ky("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(ky("The same password again"), exact=True).fill(PASSWORD)
    page.get_by_label(
        ky(
            "I agree to the terms of use, and that my name and email address are stored "
            "for my account."
        )
    ).check()
    page.get_by_role("button", name=ky("Create my account")).click()
    expect(page).to_have_url(re.compile(r"/ky/account/check-email$"))
    in_kyrgyz(page, visits)

    deliver()
    mail = mailbox.last_to(email)
    assert mail["Subject"] == ky("Confirm your organiser account")
    visits.mail(mail)
    [link] = [link for link in links_in(mail) if "/account/confirm/" in link]
    follow(page, link)
    in_kyrgyz(page, visits)
    page.get_by_role("button", name=ky("Confirm my address")).click()
    expect(page.get_by_role("heading", name=ky("Your address is confirmed"))).to_be_visible()
    in_kyrgyz(page, visits)


def log_in(page: Page, visits: Visits, email: str) -> None:
    page.goto("/ky/account/login")
    in_kyrgyz(page, visits)
    page.get_by_label(ky("Email address"), exact=True).fill(email)
    page.get_by_label(ky("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name=ky("Log in")).click()
    expect(page.get_by_role("button", name=ky("Log out"))).to_be_visible()
    in_kyrgyz(page, visits)


def start_petition(page: Page, visits: Visits) -> str:
    """Write a draft (in Kyrgyz) from the header's link; returns its organiser page's URL."""
    page.get_by_role("link", name=ky("Start a petition")).first.click()
    expect(page.get_by_role("heading", name=ky("Start a petition"))).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_label(ky("Title"), exact=True).fill(TITLE)
    page.get_by_label(ky("What do you ask for?"), exact=True).fill(ACTION)
    page.get_by_label(ky("Why? Background and reasons (optional)"), exact=True).fill(BACKGROUND)
    page.get_by_label(ky("Addressed to"), exact=True).fill(ADDRESSEE)
    page.get_by_label(ky("Signature goal (optional)"), exact=True).fill("1000")
    page.get_by_role("button", name=ky("Save draft")).click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    in_kyrgyz(page, visits)
    return page.url


def add_translation(page: Page, visits: Visits, organiser_page: str) -> None:
    """The organiser adds their petition's text in Russian before submitting it, through the
    Kyrgyz pages; it waits for a moderator (pending)."""
    page.goto(organiser_page)
    page.get_by_role("link", name=ky("Add a translation")).click()
    expect(page.get_by_role("heading", name=ky("Add a translation"))).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_label(ky("Language of the translation"), exact=True).select_option("ru")
    page.get_by_label(ky("Title"), exact=True).fill(RU_TITLE)
    page.get_by_label(ky("What do you ask for?"), exact=True).fill(RU_ACTION)
    page.get_by_label(ky("Why? Background and reasons (optional)"), exact=True).fill(RU_BACKGROUND)
    page.get_by_role("button", name=ky("Save the translation")).click()
    expect(page.locator('li.translation-pending[data-language="ru"]')).to_be_visible()
    in_kyrgyz(page, visits)


def submit_for_sponsors(page: Page, visits: Visits) -> str:
    """Preview the draft, submit it; returns the sponsor link it shows."""
    page.get_by_role("link", name=ky("Preview")).click()
    expect(page.get_by_role("note").filter(has_text=ky("Preview"))).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_role("button", name=ky("Submit for sponsors")).click()
    share = page.get_by_label(ky("Sponsor link"), exact=True)
    expect(share).to_be_visible()
    in_kyrgyz(page, visits)
    return share.input_value()


def approve(page: Page, visits: Visits, email: str, days: int) -> None:
    """A moderator (also reading in Kyrgyz) opens the queue and approves the petition."""
    log_in(page, visits, email)
    page.goto("/ky/moderation/")
    in_kyrgyz(page, visits)
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    in_kyrgyz(page, visits)
    page.get_by_role("button", name=ky("Approve the translation")).click()
    expect(page.get_by_role("button", name=ky("Approve the translation"))).to_have_count(0)
    in_kyrgyz(page, visits)
    approve_label = translate_plural(
        "ky",
        "Approve and open for %(days)s day",
        "Approve and open for %(days)s days",
        days,
        days=days,
    )
    page.get_by_role("button", name=approve_label).click()
    expect(page.get_by_role("status")).to_contain_text(ky("The petition is open for signatures."))
    in_kyrgyz(page, visits)


# --- the flows ------------------------------------------------------------------------------------


def signer_flow(kyrgyz, visits, mailbox, deliver, **browser) -> Page:
    """A Kyrgyz reader finds the petition from the root, signs, confirms from the mail; ends on
    the petition's page. `browser`: options of the reader's browser (kyrgyz's)."""
    page = kyrgyz(**browser)
    open_petition_from_root(page, visits)
    shown_count(page).to_have_text("0")
    sign_and_confirm(page, visits, mailbox, deliver, "aigerim@example.kg")
    page.get_by_role("main").get_by_role("link", name=TITLE).click()
    in_kyrgyz(page, visits)
    return page


def organiser_flow(kyrgyz, visits, mailbox, deliver, make_user, live_server, monkeypatch) -> Page:
    """An organiser signs up, starts a petition, gathers sponsors; a moderator approves it;
    ends on the organiser's page of the petition."""
    monkeypatch.setitem(live_server.app.config, "SPONSORS_REQUIRED", len(SPONSORS))
    moderator_email = "marat@example.kg"
    make_user(email=moderator_email, role="moderator", name=MODERATOR)

    organiser = kyrgyz()
    sign_up(organiser, visits, mailbox, deliver, "nurlan@example.kg")
    log_in(organiser, visits, "nurlan@example.kg")
    organiser_page = start_petition(organiser, visits)
    add_translation(organiser, visits, organiser_page)
    share_link = submit_for_sponsors(organiser, visits)

    for number, name in enumerate(SPONSORS):
        sponsor = kyrgyz()
        follow(sponsor, share_link)
        expect(
            sponsor.get_by_text(ky("You have been asked to sponsor this petition."))
        ).to_be_visible()
        in_kyrgyz(sponsor, visits)
        sign_and_confirm(
            sponsor,
            visits,
            mailbox,
            deliver,
            f"sponsor{number}@example.kg",
            name,
            button="Sign as a sponsor",
        )

    approve(kyrgyz(), visits, moderator_email, live_server.app.config["DEFAULT_PETITION_DAYS"])

    organiser.goto(organiser_page)
    in_kyrgyz(organiser, visits)
    return organiser


def switcher_flow(kyrgyz, visits, petition_id: int) -> tuple[Page, list[tuple[str, str]]]:
    """From the Kyrgyz petition page to Russian, then English, with the switcher. Returns the
    page and, for each page on the way, its path and `lang`; only the Kyrgyz page is noted in
    `visits` (the others are meant to be in other languages)."""
    page = kyrgyz()
    page.goto(f"/petitions/{petition_id}")
    in_kyrgyz(page, visits)
    shown = [page_language(page)]
    for code, name in (("ru", "Русский"), ("en", "English")):
        # The switcher's own name is in the page's language; its links name theirs.
        page.locator("nav.languages").get_by_role("link", name=name).click()
        sign_here = "Sign this petition"
        heading = sign_here if code == "en" else translate(code, sign_here)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        shown.append(page_language(page))
    return page, shown


def page_language(page: Page) -> tuple[str, str]:
    return urlsplit(page.url).path, page.locator("html").get_attribute("lang")


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture
def kyrgyz_petition(make_petition) -> int:
    return make_petition(
        title=TITLE, action=ACTION, background=BACKGROUND, addressee=ADDRESSEE, goal=1000
    )


def test_a_kyrgyz_reader_signs_and_confirms_in_kyrgyz(
    kyrgyz, visits, mailbox, deliver, kyrgyz_petition
):
    page = signer_flow(kyrgyz, visits, mailbox, deliver)

    shown_count(page).to_have_text("1")


def test_the_confirmation_mail_is_in_kyrgyz(kyrgyz, visits, mailbox, deliver, kyrgyz_petition):
    signer_flow(kyrgyz, visits, mailbox, deliver)

    mail = mailbox.last_to("aigerim@example.kg")
    assert mail["Subject"] == ky("Confirm your signature: %(title)s", title=TITLE)
    assert ky("Hello %(name)s,", name=SIGNER) in body_text(mail)


def test_a_kyrgyz_organiser_runs_a_petition_until_it_opens(
    kyrgyz, visits, mailbox, deliver, make_user, live_server, monkeypatch
):
    page = organiser_flow(kyrgyz, visits, mailbox, deliver, make_user, live_server, monkeypatch)

    expect(page.locator("p.state")).to_have_text(ky("open for signatures").capitalize())


def test_a_russian_reader_sees_the_approved_translation_of_that_petition(
    kyrgyz, visits, mailbox, deliver, make_user, live_server, monkeypatch
):
    page = organiser_flow(kyrgyz, visits, mailbox, deliver, make_user, live_server, monkeypatch)
    petition_id = urlsplit(page.url).path.rstrip("/").rsplit("/", 1)[-1]

    page.goto(f"/ru/petitions/{petition_id}")

    expect(page.locator("h1")).to_have_text(RU_TITLE)


def test_the_switcher_takes_a_reader_from_kyrgyz_to_russian_to_english(
    kyrgyz, visits, kyrgyz_petition
):
    _, shown = switcher_flow(kyrgyz, visits, kyrgyz_petition)

    path = f"/petitions/{kyrgyz_petition}"
    assert shown == [(f"/ky{path}", "ky"), (f"/ru{path}", "ru"), (path, "en")]


def test_the_last_choice_is_remembered_on_the_next_visit_to_the_root(
    kyrgyz, visits, kyrgyz_petition
):
    page, _ = switcher_flow(kyrgyz, visits, kyrgyz_petition)

    page.goto("/")

    # English, although the browser asks for Kyrgyz: the switcher's cookie wins.
    assert page_language(page) == ("/", "en")


def test_a_kyrgyz_page_names_its_other_languages_for_search_engines(
    kyrgyz, live_server, kyrgyz_petition
):
    page = kyrgyz()
    page.goto(f"/ky/petitions/{kyrgyz_petition}")

    alternates = page.locator("link[rel=alternate][hreflang]")
    found = {
        link.get_attribute("hreflang"): link.get_attribute("href") for link in alternates.all()
    }
    path = f"/petitions/{kyrgyz_petition}"
    assert found == {
        "en": live_server.url + path,
        "ru": f"{live_server.url}/ru{path}",
        "ky": f"{live_server.url}/ky{path}",
        "id": f"{live_server.url}/id{path}",
        "x-default": live_server.url + path,
    }


# --- without JavaScript ---------------------------------------------------------------------------


def test_without_javascript_a_kyrgyz_reader_signs_and_the_signature_counts(
    kyrgyz, visits, mailbox, deliver, kyrgyz_petition
):
    """With the proof of work off (the default), nothing on the sign path needs a script."""
    page = signer_flow(kyrgyz, visits, mailbox, deliver, java_script_enabled=False)

    shown_count(page).to_have_text("1")


def test_without_javascript_under_a_proof_of_work_the_signature_awaits_review(
    kyrgyz, visits, mailbox, deliver, kyrgyz_petition, live_server, monkeypatch
):
    monkeypatch.setitem(live_server.app.config, "PROOF_OF_WORK", True)
    page = signer_flow(kyrgyz, visits, mailbox, deliver, java_script_enabled=False)

    shown_count(page).to_have_text("0")
    held = translate_plural(
        "ky",
        "%(num)s signature awaits review (confirmed by email, flagged when signing): "
        "not counted yet.",
        "%(num)s signatures await review (confirmed by email, flagged when signing): "
        "not counted yet.",
        1,
    )
    expect(page.locator("[data-held]")).to_have_text(held)


# --- on a small phone -----------------------------------------------------------------------------

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def scroll_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_on_a_360_pixel_phone_the_petition_page_does_not_scroll_sideways(kyrgyz, kyrgyz_petition):
    page = kyrgyz(**PHONE)
    page.goto(f"/ky/petitions/{kyrgyz_petition}")

    assert scroll_width(page) <= 360


def test_on_a_360_pixel_phone_the_sign_button_fits_the_screen(kyrgyz, kyrgyz_petition):
    page = kyrgyz(**PHONE)
    page.goto(f"/ky/petitions/{kyrgyz_petition}")
    button = page.locator("#sign").get_by_role("button", name=ky("Sign"), exact=True)
    button.scroll_into_view_if_needed()

    expect(button).to_be_in_viewport()
    # Where it is on the page, not on the screen: scrolling sideways to it does not count.
    left, right = button.evaluate(
        "b => [b.getBoundingClientRect().left + scrollX, b.getBoundingClientRect().right + scrollX]"
    )
    assert left >= 0 and right <= 360


def test_on_a_360_pixel_phone_the_sign_form_with_errors_does_not_scroll_sideways(
    kyrgyz, kyrgyz_petition
):
    page = kyrgyz(**PHONE)
    page.goto(f"/ky/petitions/{kyrgyz_petition}")
    page.locator("#sign").get_by_role("button", name=ky("Sign"), exact=True).click()
    expect(page.get_by_text(ky("Please enter your name.")).first).to_be_visible()

    assert scroll_width(page) <= 360


def search_flow(kyrgyz, visits, make_petition) -> Page:
    """A Kyrgyz reader looks for the petition by a word of it, typed in capitals, among
    others; ends on the results page."""
    make_petition(
        title="Бишкекте велосипед жолдору",
        action="Велосипед жолдорун куруңуз.",
        addressee="Бишкек шаардык кеңеши",
    )
    page = kyrgyz()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ky/$"))
    in_kyrgyz(page, visits)
    page.get_by_label(ky("Find a petition"), exact=True).fill("КАРАКОЛ ЖОЛУНА")
    page.get_by_role("search").get_by_role("button", name=ky("Search")).click()
    expect(page).to_have_url(re.compile(r"/ky/search\?"))
    in_kyrgyz(page, visits)
    return page


def test_a_kyrgyz_reader_finds_the_petition_by_its_words(
    kyrgyz, visits, kyrgyz_petition, make_petition
):
    page = search_flow(kyrgyz, visits, make_petition)

    expect(page.get_by_role("status")).to_have_text(
        translate_plural("ky", "%(num)s petition found", "%(num)s petitions found", 1)
    )
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()


# --- not one English word -------------------------------------------------------------------------


@pytest.fixture
def run_flow(request, kyrgyz, visits, mailbox, deliver):
    """Run one of the flows above by name, for its `visits`."""

    def run(name: str) -> Visits:
        if name == "signer":
            request.getfixturevalue("kyrgyz_petition")
            signer_flow(kyrgyz, visits, mailbox, deliver)
        elif name == "organiser":
            organiser_flow(
                kyrgyz,
                visits,
                mailbox,
                deliver,
                request.getfixturevalue("make_user"),
                request.getfixturevalue("live_server"),
                request.getfixturevalue("monkeypatch"),
            )
        elif name == "search":
            request.getfixturevalue("kyrgyz_petition")
            search_flow(kyrgyz, visits, request.getfixturevalue("make_petition"))
        else:
            switcher_flow(kyrgyz, visits, request.getfixturevalue("kyrgyz_petition"))
        return visits

    return run


@pytest.mark.parametrize("flow", ["signer", "organiser", "switcher", "search"])
def test_no_page_of_the_flow_shows_english(run_flow, flow):
    visits = run_flow(flow)

    assert visits.seen, "the flow noted no pages"
    assert visits.english() == {}


def test_the_check_finds_the_english_of_an_english_page(kyrgyz, visits, kyrgyz_petition):
    """The check can fail: the same petition's English page is full of the catalog's English."""
    page, _ = switcher_flow(kyrgyz, visits, kyrgyz_petition)
    english_page = Visits("ky", allowed=list(USER_TEXT))
    english_page.page(page)

    found = english_page.english()[page.url]
    assert {"Sign this petition", "Skip to content", "Embed this petition"} <= set(found)
