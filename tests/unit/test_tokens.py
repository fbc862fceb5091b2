"""Confirmation tokens: signed, expiring, and never an exception for whatever a link holds."""

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from petitions.tokens import (
    CONFIRM_SALT,
    ConfirmationClaim,
    TokenState,
    make_confirmation_token,
    read_confirmation_token,
)

SECRET = "unit-test-secret-key"
EMAIL_KEY = "0123456789abcdef" + "f" * 48
MAX_AGE = 7 * 24 * 3600


def signed_at(timestamp: int, secret: str = SECRET, salt: str = CONFIRM_SALT):
    """A serializer like the app's whose clock says `timestamp` (no sleeping in tests)."""

    class FrozenSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return timestamp

    return URLSafeTimedSerializer(secret, salt=salt, signer=FrozenSigner)


def test_round_trip():
    token = make_confirmation_token(42, EMAIL_KEY, SECRET)
    claim = read_confirmation_token(token, SECRET, MAX_AGE)
    assert claim == ConfirmationClaim(TokenState.VALID, 42, EMAIL_KEY[:16])


def test_token_is_url_safe_and_does_not_carry_the_whole_key():
    token = make_confirmation_token(2**40, EMAIL_KEY, SECRET)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert EMAIL_KEY not in token
    assert read_confirmation_token(token, SECRET, MAX_AGE).signature_id == 2**40


def test_tokens_for_different_signatures_differ():
    assert make_confirmation_token(1, EMAIL_KEY, SECRET) != make_confirmation_token(
        2, EMAIL_KEY, SECRET
    )


def test_token_just_made_by_the_app_clock_is_valid():
    token = signed_at(int(time.time())).dumps([7, EMAIL_KEY[:16]])
    assert read_confirmation_token(token, SECRET, MAX_AGE).state is TokenState.VALID


def test_expired_token_still_names_its_signature():
    """The page can then offer a fresh link for the right signature."""
    token = signed_at(int(time.time()) - MAX_AGE - 60).dumps([7, EMAIL_KEY[:16]])
    claim = read_confirmation_token(token, SECRET, MAX_AGE)
    assert claim == ConfirmationClaim(TokenState.EXPIRED, 7, EMAIL_KEY[:16])


def test_expiry_follows_max_age():
    token = signed_at(int(time.time()) - 3600).dumps([7, EMAIL_KEY[:16]])
    assert read_confirmation_token(token, SECRET, 7200).state is TokenState.VALID
    assert read_confirmation_token(token, SECRET, 1800).state is TokenState.EXPIRED


def test_expired_token_with_wrong_secret_is_invalid_not_expired():
    token = signed_at(int(time.time()) - MAX_AGE - 60, secret="another").dumps([7, "k"])
    assert read_confirmation_token(token, SECRET, MAX_AGE) == ConfirmationClaim(TokenState.INVALID)


def test_wrong_secret_is_invalid():
    token = make_confirmation_token(42, EMAIL_KEY, "some other secret")
    claim = read_confirmation_token(token, SECRET, MAX_AGE)
    assert claim == ConfirmationClaim(TokenState.INVALID)
    assert claim.signature_id is None


def test_other_salt_is_invalid():
    """A token signed for another purpose with the same key is not a confirmation."""
    token = URLSafeTimedSerializer(SECRET, salt="password-reset").dumps([42, EMAIL_KEY[:16]])
    assert read_confirmation_token(token, SECRET, MAX_AGE).state is TokenState.INVALID


def _tampered(token: str) -> list[str]:
    payload, timestamp, signature = token.split(".")
    flip = {"A": "B", "B": "A"}
    other_payload = URLSafeTimedSerializer(SECRET, salt=CONFIRM_SALT).dumps([43, EMAIL_KEY[:16]])
    return [
        # Another payload under the original signature (signature 43 instead of 42).
        other_payload.split(".")[0] + "." + timestamp + "." + signature,
        # One character of the signature changed (not the last: in base64 its low bits may be
        # padding, so some changes there decode to the same bytes).
        f"{payload}.{timestamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}",
        # The timestamp moved (to make an old link look new).
        f"{payload}.{''.join(flip.get(c, c) for c in timestamp) + 'A'}.{signature}",
        # Parts missing or added.
        f"{payload}.{signature}",
        f"{payload}.{timestamp}",
        f"{payload}.{timestamp}.{signature}.extra",
        token[:-1],
        token + "A",
        token.upper(),
    ]


@pytest.mark.parametrize("index", range(9))
def test_tampering_is_invalid(index):
    token = make_confirmation_token(42, EMAIL_KEY, SECRET)
    tampered = _tampered(token)[index]
    assert tampered != token
    assert read_confirmation_token(tampered, SECRET, MAX_AGE) == ConfirmationClaim(
        TokenState.INVALID
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"id": 1},
        [1],
        [1, "key", "extra"],
        ["1", "key"],
        [1.5, "key"],
        [1, 2],
        [None, "key"],
        "1",
        None,
    ],
)
def test_signed_but_unexpected_payload_is_invalid(payload):
    """Even with a valid signature, only [id, key prefix] is a claim."""
    token = URLSafeTimedSerializer(SECRET, salt=CONFIRM_SALT).dumps(payload)
    assert read_confirmation_token(token, SECRET, MAX_AGE) == ConfirmationClaim(TokenState.INVALID)


def test_expired_with_unexpected_payload_is_invalid():
    token = signed_at(int(time.time()) - MAX_AGE - 60).dumps({"id": 1})
    assert read_confirmation_token(token, SECRET, MAX_AGE).state is TokenState.INVALID


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "...",
        "a",
        "a.b",
        "a.b.c",
        "abc.def.ghi.jkl",
        "eyJ.e30.AAAA",
        "WzEsImEiXQ.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ".eJyLjgUAARUAuQ.x.y",
        "%00",
        "\x00\x01\x02",
        "кыргызча.токен.белги",
        "😀",
        "\ud800",
        "=" * 10,
        "A" * 10_000,
        "." * 10_000,
        "a.b." + "A" * 5000,
        "<script>alert(1)</script>",
        "../../etc/passwd",
    ],
)
def test_garbage_never_raises(garbage):
    assert read_confirmation_token(garbage, SECRET, MAX_AGE) == ConfirmationClaim(
        TokenState.INVALID
    )


def test_garbage_never_raises_fuzz():
    """Random bytes, and random mutations of a real token, are INVALID (or, rarely, VALID)."""
    import random

    rng = random.Random(20240601)
    token = make_confirmation_token(42, EMAIL_KEY, SECRET)
    alphabet = "ABCabc012-_.=+/ ыё\x00"
    for _ in range(500):
        mutated = list(token)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.choice(alphabet)
        claim = read_confirmation_token("".join(mutated), SECRET, MAX_AGE)
        assert claim.state in (TokenState.INVALID, TokenState.VALID)
        if claim.state is TokenState.VALID:
            # Base64 has some slack in its last character; the claim is still the real one.
            assert claim == ConfirmationClaim(TokenState.VALID, 42, EMAIL_KEY[:16])
        noise = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert read_confirmation_token(noise, SECRET, MAX_AGE).state is TokenState.INVALID
