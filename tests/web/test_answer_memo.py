"""The per-process memo of public answers in front of the app (petitions/answers.py): the next
cookie-less reader of a shareable answer gets it without the app running, and nobody else
does."""

from __future__ import annotations

import pytest

from petitions.answers import AnswerMemo


@pytest.fixture
def app_config(app_config):
    """The memo on, for longer than any test runs."""
    return {**app_config, "ANSWER_MEMO_SECONDS": 3600.0}


@pytest.fixture
def reader(app):
    """A second browser, which only reads."""
    return app.test_client()


def total(client, petition: int, **kwargs) -> int:
    response = client.get(f"/petitions/{petition}/count.json", **kwargs)
    assert response.status_code == 200
    return response.get_json()["signature_count"]


def test_the_next_reader_without_a_cookie_is_given_the_kept_total(reader, signer, petition):
    assert total(reader, petition) == 0
    signer.sign_and_confirm(petition, "aibek@example.kg")
    assert total(reader, petition) == 0


def test_a_reader_with_a_cookie_is_answered_by_the_app(reader, signer, petition):
    assert total(reader, petition) == 0
    signer.sign_and_confirm(petition, "aibek@example.kg")
    reader.set_cookie("lang", "en")
    assert total(reader, petition) == 1


def test_a_reader_who_has_the_answer_gets_a_304_from_the_app(reader, petition):
    etag = reader.get(f"/petitions/{petition}/count.json").headers["ETag"]
    again = reader.get(f"/petitions/{petition}/count.json", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_each_language_a_plain_path_varies_on_gets_its_own_answer(reader, petition):
    reader.get("/", headers={"Accept-Language": "ru"})
    english = reader.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en"' in english


def test_a_kept_answer_is_replayed_with_the_apps_headers(reader, petition):
    first = reader.get(f"/petitions/{petition}")
    again = reader.get(f"/petitions/{petition}")
    assert (again.headers["ETag"], again.headers["Content-Security-Policy"]) == (
        first.headers["ETag"],
        first.headers["Content-Security-Policy"],
    )


def test_a_signer_given_a_kept_page_signs(reader, petition, signer):
    """The signer's page is the one kept for the reader before (neither sends a cookie)."""
    reader.get(f"/petitions/{petition}")
    response = signer.sign(petition, "olga@example.ru")
    assert response.status_code == 303


# The layer alone, around a small WSGI app that counts its calls.


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting_app(headers: list[tuple[str, str]], body: list[bytes] | None = None):
    calls = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", list(headers))
        return body if body is not None else [b"hello"]

    return app, calls


PUBLIC = [("Cache-Control", "public, max-age=5"), ("Content-Length", "5")]


def get(memo, path: str = "/x", **environ) -> bytes:
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_HOST": "localhost", **environ}
    answer = memo(base, lambda status, headers, exc_info=None: None)
    try:
        return b"".join(answer)
    finally:
        getattr(answer, "close", lambda: None)()


def test_an_answer_is_kept_for_its_seconds_only():
    app, calls = counting_app(PUBLIC)
    clock = Clock()
    memo = AnswerMemo(app, 2.0, clock=clock)
    get(memo)
    clock.now = 1.9
    get(memo)
    clock.now = 2.1
    get(memo)
    assert calls == ["/x", "/x"]


@pytest.mark.parametrize(
    "headers",
    [
        [("Cache-Control", "private, max-age=5"), ("Content-Length", "5")],
        [("Cache-Control", "public, no-cache"), ("Content-Length", "5")],
        [("Cache-Control", "no-store"), ("Content-Length", "5")],
        [("Content-Length", "5")],
        [*PUBLIC, ("Set-Cookie", "session=abc")],
        [*PUBLIC, ("Vary", "*")],
        [("Cache-Control", "public, max-age=5")],
    ],
    ids=[
        "private",
        "no-cache",
        "no-store",
        "no cache-control",
        "set-cookie",
        "vary-star",
        "stream",
    ],
)
def test_an_answer_not_shareable_is_never_replayed(headers):
    app, calls = counting_app(headers)
    memo = AnswerMemo(app, 60.0)
    get(memo)
    get(memo)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_COOKIE": "session=abc"},
        {"HTTP_AUTHORIZATION": "Bearer x"},
        {"HTTP_IF_NONE_MATCH": '"abc"'},
        {"REQUEST_METHOD": "HEAD"},
        {"REQUEST_METHOD": "POST"},
    ],
    ids=["cookie", "credentials", "conditional", "head", "post"],
)
def test_a_personal_or_conditional_request_goes_to_the_app(environ):
    app, calls = counting_app(PUBLIC)
    memo = AnswerMemo(app, 60.0)
    get(memo)
    get(memo, **environ)
    assert len(calls) == 2


def test_an_answer_cut_short_is_not_kept():
    app, calls = counting_app([("Cache-Control", "public"), ("Content-Length", "10")])
    memo = AnswerMemo(app, 60.0)
    get(memo)
    get(memo)
    assert len(calls) == 2


def test_a_header_named_in_vary_keys_the_answer():
    app, calls = counting_app([*PUBLIC, ("Vary", "Accept-Language")])
    memo = AnswerMemo(app, 60.0)
    get(memo, HTTP_ACCEPT_LANGUAGE="ru")
    get(memo, HTTP_ACCEPT_LANGUAGE="ky")
    get(memo, HTTP_ACCEPT_LANGUAGE="ru")
    assert len(calls) == 2


def test_another_host_or_query_is_another_answer():
    app, calls = counting_app(PUBLIC)
    memo = AnswerMemo(app, 60.0)
    get(memo)
    get(memo, HTTP_HOST="other.example")
    get(memo, QUERY_STRING="page=2")
    assert len(calls) == 3


def test_the_oldest_url_makes_room_when_the_memo_is_full():
    app, calls = counting_app(PUBLIC)
    memo = AnswerMemo(app, 60.0, max_entries=2)
    for path in ("/a", "/b", "/c", "/a"):
        get(memo, path)
    assert calls == ["/a", "/b", "/c", "/a"]
