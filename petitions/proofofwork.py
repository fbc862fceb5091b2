"""A small self-hosted proof of work for the sign form (runtime setting `proof_of_work`).

Hashcash style: the form carries a challenge signed with SECRET_KEY (the petition, when it
was issued, the difficulty in bits, a random id) and static/pow.js looks for a nonce such
that SHA-256 of `challenge:nonce` starts with `bits` zero bits (2**bits hashes on average,
about a second at 16 bits in a browser). The server checks it with one hash; a challenge
counts once (its id is recorded in the rate limits' storage, shared by every instance, until
it expires: limits.first_use).

Nothing is refused for a missing or wrong proof: the signature is flagged (NO_PROOF) and
held for review when confirmed, so a person without JavaScript still signs.

The difficulty rises while signing is under pressure (`difficulty`): +4 bits when the
client's address or network is at its signing rate, +4 more when the petition is, so a
script pays 16 or 256 times as much per signature where it is attacking and nowhere else.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

SALT = "sign-proof-of-work"
#: Added for a source (address or network) at its signing rate, and again for the petition.
RAISE_BITS = 4
#: Beyond this a phone would work for minutes; the setting and the raises are capped here.
MAX_BITS = 26
#: A nonce is a decimal counter; anything longer is not one pow.js sends.
NONCE_MAX = 20


class ProofCheck(enum.StrEnum):
    VALID = "valid"
    #: No challenge or no nonce (JavaScript off, or a script that skips it).
    MISSING = "missing"
    #: Altered, for another petition, expired, or the hash has too few zero bits.
    INVALID = "invalid"
    #: The challenge was already used by an earlier signature.
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Challenge:
    petition_id: int
    issued_ms: int
    bits: int
    #: Random, so every page view gets its own challenge (and one use of it).
    id: str


def difficulty(base_bits: int, *, source_at_rate: bool, petition_at_rate: bool) -> int:
    """The bits a new challenge asks for (see the module docstring)."""
    bits = base_bits + RAISE_BITS * source_at_rate + RAISE_BITS * petition_at_rate
    return max(0, min(MAX_BITS, bits))


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def issue(secret: str, *, petition_id: int, bits: int, now_ms: int) -> str:
    """A new signed challenge, as the form carries it."""
    return _serializer(secret).dumps([petition_id, now_ms, bits, secrets.token_urlsafe(12)])


def read(secret: str, token: str) -> Challenge | None:
    """The challenge a token carries, or None if it is not one this site signed."""
    try:
        petition_id, issued_ms, bits, challenge_id = _serializer(secret).loads(token)
    except (BadData, ValueError, TypeError):
        return None
    if not (
        isinstance(petition_id, int)
        and isinstance(issued_ms, int)
        and isinstance(bits, int)
        and isinstance(challenge_id, str)
    ):
        return None
    return Challenge(petition_id, issued_ms, bits, challenge_id)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def solves(token: str, nonce: str, bits: int) -> bool:
    """Whether sha256(`token:nonce`) starts with `bits` zero bits."""
    digest = hashlib.sha256(f"{token}:{nonce}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def check(
    secret: str,
    token: str | None,
    nonce: str | None,
    *,
    petition_id: int,
    now_ms: int,
    max_age_ms: int,
) -> tuple[ProofCheck, Challenge | None]:
    """Check a proof without recording its use (the caller records it: limits.first_use)."""
    if not token or not nonce:
        return ProofCheck.MISSING, None
    challenge = read(secret, token)
    if (
        challenge is None
        or challenge.petition_id != petition_id
        or not 0 <= now_ms - challenge.issued_ms <= max_age_ms
        or len(nonce) > NONCE_MAX
        or not nonce.isascii()
        or not nonce.isdigit()
        or not solves(token, nonce, challenge.bits)
    ):
        return ProofCheck.INVALID, challenge
    return ProofCheck.VALID, challenge


def solve(token: str, bits: int) -> str:
    """Find a nonce, as pow.js does (for tests and scripts that check the server)."""
    nonce = 0
    while not solves(token, str(nonce), bits):
        nonce += 1
    return str(nonce)
