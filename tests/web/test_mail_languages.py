"""Mail in its recipient's language, links included: a signer who signed on the Kyrgyz pages
gets Kyrgyz mail whose links open Kyrgyz pages, and the batches the worker sends later reach
each signer in their own language. Through the real SMTP server; the links are followed."""

from __future__ import annotations

import re

from tests.fixtures.actors import post_update
from tests.fixtures.mail import body_html, body_text, confirm_link, links_in

BASE = "http://localhost"


def html_lang(html: str) -> str:
    found = re.search(r'<html[^>]* lang="([^"]+)"', html)
    assert found, html[:200]
    return found.group(1)


def test_a_kyrgyz_signers_confirmation_link_opens_a_kyrgyz_page(signer, mailbox, petition, client):
    signer.sign(petition, "aibek@example.kg", language="ky")
    signer.deliver()
    mail = mailbox.last_to("aibek@example.kg")
    link = confirm_link(mail)
    assert link.startswith(f"{BASE}/ky/confirm/")
    assert f'href="{link}"' in body_html(mail)
    assert html_lang(body_html(mail)) == "ky"

    page = client.get(link.removeprefix(BASE))
    assert page.status_code == 200
    assert html_lang(page.get_data(as_text=True)) == "ky"
    confirmed = signer.confirm(link.removeprefix(BASE))
    assert confirmed.status_code == 200
    assert html_lang(confirmed.get_data(as_text=True)) == "ky"
    assert signer.count(petition) == 1


def test_an_english_signers_links_have_no_prefix(signer, mailbox, petition):
    signer.sign(petition, "anna@example.org")
    signer.deliver()
    mail = mailbox.last_to("anna@example.org")
    assert confirm_link(mail).startswith(f"{BASE}/confirm/")
    assert all(not re.match(rf"{BASE}/(ru|ky|id)/", link) for link in links_in(mail))


def test_an_update_reaches_each_signer_with_links_in_their_language(
    client, organiser, signer, mailbox, deliver, make_petition
):
    petition = make_petition(owner_id=organiser.user_id)
    signer.sign_and_confirm(petition, "olga@example.ru", wants_updates=True, language="ru")
    signer.sign_and_confirm(petition, "aibek@example.kg", wants_updates=True, language="ky")
    signer.sign_and_confirm(petition, "anna@example.org", wants_updates=True)
    deliver()
    mailbox.clear()

    post_update(client, petition, "We met the minister", "She listened.")
    assert deliver().sent == 3
    for address, prefix in (
        ("olga@example.ru", "/ru"),
        ("aibek@example.kg", "/ky"),
        ("anna@example.org", ""),
    ):
        mail = mailbox.last_to(address)
        links = links_in(mail)
        assert f"{BASE}{prefix}/petitions/{petition}" in links, (address, links)
        [unsubscribe] = [link for link in links if "/unsubscribe/" in link]
        assert unsubscribe.startswith(f"{BASE}{prefix}/unsubscribe/")
        assert mail["List-Unsubscribe"] == f"<{unsubscribe}>"
        assert html_lang(body_html(mail)) == (prefix.strip("/") or "en")

    # Following the Kyrgyz signer's unsubscribe link shows a Kyrgyz page.
    [unsubscribe] = [
        link for link in links_in(mailbox.last_to("aibek@example.kg")) if "/unsubscribe/" in link
    ]
    page = client.get(unsubscribe.removeprefix(BASE))
    assert page.status_code == 200
    assert html_lang(page.get_data(as_text=True)) == "ky"
    assert "She listened." in body_text(mailbox.last_to("aibek@example.kg"))


def test_a_russian_signer_reads_the_approved_russian_title_in_the_mail(
    signer, mailbox, make_petition, make_translation
):
    petition = make_petition(title="Каракол жолуна жарык орнотулсун")
    make_translation(petition, "ru", title="Осветить дорогу в Каракол")
    signer.sign(petition, "olga@example.ru", language="ru")
    signer.deliver()
    assert "Осветить дорогу в Каракол" in body_text(mailbox.last_to("olga@example.ru"))


def test_a_signer_of_another_language_reads_the_original_title(
    signer, mailbox, make_petition, make_translation
):
    petition = make_petition(title="Каракол жолуна жарык орнотулсун")
    make_translation(petition, "ru", title="Осветить дорогу в Каракол")
    signer.sign(petition, "aibek@example.kg", language="ky")
    signer.deliver()
    assert "Каракол жолуна жарык орнотулсун" in body_text(mailbox.last_to("aibek@example.kg"))


def test_a_pending_translation_does_not_name_the_petition_in_mail(
    signer, mailbox, make_petition, make_translation
):
    petition = make_petition(title="Каракол жолуна жарык орнотулсун")
    make_translation(petition, "ru", title="Осветить дорогу в Каракол", state="pending")
    signer.sign(petition, "olga@example.ru", language="ru")
    signer.deliver()
    assert "Каракол жолуна жарык орнотулсун" in body_text(mailbox.last_to("olga@example.ru"))
