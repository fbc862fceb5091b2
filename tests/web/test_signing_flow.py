"""The central path: sign in the browser, confirm by email, the public total goes up by one."""

from tests.fixtures.mail import body_html, body_text, confirm_link


def test_sign_confirm_and_count(signer, mailbox, petition, client):
    assert signer.count(petition) == 0

    response = signer.sign(petition, "aibek@example.kg", follow=True)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert signer.count(petition) == 0, "a pending signature must not count"

    path = signer.confirmation_path("aibek@example.kg")
    mail = mailbox.last_to("aibek@example.kg")
    assert "Do not send troops abroad" in mail["Subject"]
    assert "Do not send troops abroad" in body_text(mail)
    assert confirm_link(mail) in body_html(mail)

    # Opening the link (as a mail scanner would) changes nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert "Confirm my signature" in page.get_data(as_text=True)
    assert signer.count(petition) == 0

    confirmed = signer.confirm(path)
    assert confirmed.status_code == 200
    assert "Your signature is confirmed" in confirmed.get_data(as_text=True)
    assert signer.count(petition) == 1

    page = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "<strong data-count>1</strong>" in page


def test_second_confirm_is_idempotent(signer, petition):
    first = signer.sign_and_confirm(petition, "a@example.org")
    assert "Your signature is confirmed" in first.get_data(as_text=True)
    path = signer.confirmation_path("a@example.org")
    again = signer.confirm(path)
    assert again.status_code == 200
    assert "Already confirmed" in again.get_data(as_text=True)
    assert signer.count(petition) == 1
