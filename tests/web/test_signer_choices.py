"""Issue 8, defect 4 and the recipient's language: what the signer chose is what happens.

Updates are mailed by the platform; the organiser gets an address only when the signer ticks
the separate "share my email address" box, which is off by default. Each signature remembers
the language it was made in, and its mail is queued in that language."""

from tests.fixtures.database import scalar_sql


def test_the_sign_form_says_the_organiser_does_not_get_the_address(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    assert "the organiser does not get my address" in html


def test_sharing_the_address_is_off_unless_ticked(client, petition):
    html = client.get(f"/petitions/{petition}").get_data(as_text=True)
    field = html[html.index('name="share_email"') - 80 : html.index('name="share_email"') + 80]
    assert "checked" not in field


def test_asking_for_updates_keeps_the_address_without_sharing_it(app, signer, petition):
    signer.sign_and_confirm(petition, "aibek@example.kg", wants_updates=True)
    row = scalar_sql(app, "SELECT share_email FROM signatures")
    assert row in (False, 0)


def test_sharing_keeps_the_address_after_confirmation(app, signer, petition):
    signer.sign_and_confirm(petition, "aibek@example.kg", share_email="y")
    assert scalar_sql(app, "SELECT email FROM signatures") == "aibek@example.kg"


def test_unsubscribing_keeps_an_address_the_signer_shared(app, signer, mailbox, petition):
    signer.sign_and_confirm(petition, "aibek@example.kg", wants_updates=True, share_email="y")
    from petitions import links

    with app.app_context():
        sig_id, key = (
            scalar_sql(app, "SELECT id FROM signatures"),
            scalar_sql(app, "SELECT email_key FROM signatures"),
        )
        path = links.unsubscribe("", sig_id, key, app.config["SECRET_KEY"])
    signer.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert scalar_sql(app, "SELECT email FROM signatures") == "aibek@example.kg"


def test_the_signature_remembers_the_language_it_was_made_in(app, client, signer, petition):
    signer.sign(petition, "aibek@example.kg", language="ru")
    assert scalar_sql(app, "SELECT locale FROM signatures") == "ru"


def test_its_mail_is_queued_in_that_language(app, client, signer, petition):
    signer.sign(petition, "aibek@example.kg", language="ru")
    assert scalar_sql(app, "SELECT locale FROM outbox_messages") == "ru"


def test_a_repeat_is_answered_in_the_signers_language_not_the_visitors(
    app, client, signer, petition
):
    signer.sign(petition, "aibek@example.kg", language="ru")
    signer.sign(petition, "aibek@example.kg")
    assert scalar_sql(app, "SELECT COUNT(*) FROM outbox_messages WHERE locale = 'ru'") == 2
