"""Password hashing with argon2id.

The parameters are a profile of argon2-cffi named by PASSWORD_HASH_PROFILE (default
RFC_9106_LOW_MEMORY, the library's own default); the tests use CHEAPEST so that hundreds of
sign-ups and logins stay fast. Hashes made with other parameters are upgraded at the next login.
"""

from __future__ import annotations

import argon2.profiles
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, has_app_context

_DEFAULT = PasswordHasher.from_parameters(argon2.profiles.RFC_9106_LOW_MEMORY)


def init_app(app: Flask) -> None:
    name = app.config["PASSWORD_HASH_PROFILE"]
    parameters = getattr(argon2.profiles, name, None)
    if not isinstance(parameters, argon2.Parameters):
        raise RuntimeError(f"PASSWORD_HASH_PROFILE {name!r} is not an argon2-cffi profile")
    app.extensions["password_hasher"] = PasswordHasher.from_parameters(parameters)


def _hasher() -> PasswordHasher:
    if has_app_context():
        return current_app.extensions.get("password_hasher", _DEFAULT)
    return _DEFAULT


#: Longer passwords are refused before hashing (argon2 handles any length; this bounds work).
PASSWORD_MAX = 256
PASSWORD_MIN = 10


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; never raises for a wrong password or a malformed hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with other parameters than today's; rehash it at the next login."""
    return _hasher().check_needs_rehash(password_hash)
