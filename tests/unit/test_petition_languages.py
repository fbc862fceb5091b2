"""The small helpers behind petitions in several languages: the time zones offered, the
direction and Open Graph locale of a language, and which version a reader sees."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from petitions import timezones
from petitions.languages import lang_attributes, og_locale, text_direction
from petitions.services.translations import shown_version


def test_our_organisers_zones_come_first():
    assert timezones.zone_names()[:8] == timezones.COMMON_ZONES


@pytest.mark.parametrize("name", ["US/Eastern", "Etc/GMT+5", "Cuba", "asia/bishkek", "", None])
def test_aliases_and_odd_names_are_not_offered(name):
    assert not timezones.is_offered(name)


def test_every_place_zone_is_offered_once():
    names = timezones.zone_names()
    assert len(names) == len(set(names))
    assert "America/Argentina/Salta" in names


@pytest.mark.parametrize(("code", "direction"), [("ru", "ltr"), ("ar", "rtl"), ("fa", "rtl")])
def test_text_direction(code, direction):
    assert text_direction(code) == direction


def test_a_right_to_left_language_gets_dir():
    assert str(lang_attributes("ar")) == ' lang="ar" dir="rtl"'
    assert str(lang_attributes("ky")) == ' lang="ky"'


@pytest.mark.parametrize(
    ("code", "locale"), [("en", "en_US"), ("ru", "ru_RU"), ("ky", "ky_KG"), ("id", "id_ID")]
)
def test_open_graph_locales(code, locale):
    assert og_locale(code) == locale


def _petition():
    return SimpleNamespace(language="ky", title="Т", action="А", background="")


def _translation(language, state="approved"):
    return SimpleNamespace(
        language=language, title=language, action="a", background="", state=state
    )


def test_a_reader_without_a_translation_sees_the_original():
    shown = shown_version(_petition(), [_translation("ru")], reader_language="id")
    assert shown.version.original and shown.version.language == "ky"


def test_a_pending_translation_is_not_a_version():
    shown = shown_version(_petition(), [_translation("ru", "pending")], reader_language="ru")
    assert shown.version.original
    assert [v.language for v in shown.versions] == ["ky"]


def test_asking_for_a_version_wins_over_the_readers_language():
    shown = shown_version(
        _petition(), [_translation("ru"), _translation("en")], reader_language="ru", asked="en"
    )
    assert (shown.version.language, shown.asked) == ("en", True)
