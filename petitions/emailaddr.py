"""Email addresses: validation for the sign form, and the key that makes one person one signature.

Two addresses that reach the same mailbox must give the same key, or a person could sign twice
by writing their address differently. The key is computed from a normalised form:

- Unicode NFKC of the whole address (full-width letters, ligatures...), and case folding of
  the local part (`ß` is `ss` there);
- `+tag` sub-addressing removed from the local part (Gmail, Outlook, Fastmail, iCloud, Proton
  and most self-hosted servers deliver `a+x@d` to `a@d`);
- for Gmail, dots in the local part are ignored and googlemail.com is gmail.com;
- internationalised domains in their ASCII form by IDNA 2008 (UTS 46), the rules email-validator
  and mail servers use: `straße.de` and `strasse.de` are different domains, so `ß` and `ς` are
  not case-folded there as they are in the local part.

The stored value is an HMAC of that form, not the form itself, so a copy of the table does not
give a list of addresses (the key is SIGNER_HASH_KEY, and it must never change).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

import idna
from email_validator import EmailNotValidError, validate_email

GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


class InvalidEmail(ValueError):
    """The address is not one we can send to; the message is safe to show the user."""


def validate_address(address: str, *, check_deliverability: bool = False) -> str:
    """Return the address in the form to send mail to, or raise InvalidEmail."""
    try:
        result = validate_email(address, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return result.normalized


def normalise_for_identity(address: str) -> str:
    """The canonical mailbox an address reaches (see the module docstring)."""
    local, sep, domain = unicodedata.normalize("NFKC", address.strip()).rpartition("@")
    domain = domain.rstrip(".")
    if not sep or not local or not domain:
        raise InvalidEmail("An email address needs a name, an @ and a domain.")
    local = local.casefold()
    domain = _ascii_domain(domain)
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _ascii_domain(domain: str) -> str:
    """The domain as mail is routed to it (IDNA 2008, UTS 46 mapping, non-transitional)."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError:  # not a valid IDNA name: compare it as text
        return domain.casefold()


def identity_key(address: str, secret: str) -> str:
    """Keyed hash of the canonical mailbox; 64 hex characters."""
    canonical = normalise_for_identity(address)
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
