"""Password hashing: argon2id, never raising on a wrong password or a damaged hash."""

import pytest
from argon2 import PasswordHasher

from petitions.passwords import hash_password, needs_rehash, verify_password


def test_hash_and_verify():
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert hashed != hash_password("correct horse battery")  # salted
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not needs_rehash(hashed)


@pytest.mark.parametrize("damaged", ["", "plain text", "$argon2id$v=19$garbage", "$2b$12$abc"])
def test_a_damaged_hash_never_verifies_and_never_raises(damaged):
    assert verify_password(damaged, "anything at all") is False


def test_older_parameters_need_a_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw pw pw pw")
    assert verify_password(weak, "pw pw pw pw")
    assert needs_rehash(weak)


def test_the_hash_profile_comes_from_config(app_config):
    from petitions import create_app

    cheap = create_app({**app_config, "PASSWORD_HASH_PROFILE": "CHEAPEST"})
    strong = create_app({**app_config, "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY"})
    with cheap.app_context():
        cheap_hash = hash_password("pw pw pw pw")
    with strong.app_context():
        assert needs_rehash(cheap_hash), "a login under the stronger profile upgrades it"
        assert verify_password(cheap_hash, "pw pw pw pw")
    with pytest.raises(RuntimeError, match="not an argon2-cffi profile"):
        create_app({**app_config, "PASSWORD_HASH_PROFILE": "FASTEST_PLEASE"})
