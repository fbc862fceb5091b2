"""Email addresses: validation for the sign form, and the key that makes one person one signature.

Two addresses that reach the same mailbox must give the same key, or a person could sign twice
by writing their address differently; two addresses of different people must not, or the
second could never sign. The key is computed from a normalised form:

- Unicode NFKC of the whole address (full-width letters, ligatures...), and case folding of
  the local part (`ß` is `ss` there);
- internationalised domains in their ASCII form by IDNA 2008 (UTS 46), the rules email-validator
  and mail servers use: `straße.de` and `strasse.de` are different domains, so `ß` and `ς` are
  not case-folded there as they are in the local part;
- then the provider's row of the alias table (`BUILTIN_ALIAS_RULES`, extended by the operator's
  EMAIL_ALIAS_RULES): where a tag starts (`+` for most servers, also `-` at Yahoo), which
  characters are ignored (Gmail's dots) or the same (Yandex's `-` and `.`), and which domains
  are names of one mailbox (googlemail.com is gmail.com; the Yandex domains are yandex.ru).
  A domain without a row gets `DEFAULT_RULE`: `+tag` removed, as Gmail, Outlook, Fastmail,
  iCloud, Proton, Yandex and most self-hosted servers deliver `a+x@d` to `a@d`.

A rule may only merge what is one mailbox. Cutting a tag at a character that the provider does
not allow in account names (`+` at the big providers, `-` at Yahoo) is safe: no other person's
mailbox can have that name. Ignoring a character that account names may contain is safe only
where the provider itself says the names are the same (Gmail's dots, Yandex's `.` for `-`).
So the mail.ru family keeps its domains apart (`aibek@mail.ru` and `aibek@bk.ru` are two
registrations) and its `.`, `-` and `_` (all allowed in its names, all significant).

The stored value is an HMAC of that form, not the form itself, so a copy of the table does not
give a list of addresses (the key is SIGNER_HASH_KEY, and it must never change).

Changing the rules and the data already stored
----------------------------------------------
`signatures.email_key` holds keys computed with the rules in force when each signature was
made; they cannot be recomputed, since a confirmed signer's address is erased unless they asked
for updates. So stored keys are left as they are, and the question "has this person signed?"
asks about every form the address had: `identity_keys` gives the key of the current form (the
one new signatures store) and then the keys under `EARLIER_ALIAS_RULES` (the built-in table,
for rows stored before the operator added a rule, and the table before the provider rules). An
address that signed before a change therefore cannot sign again, written as it was then, and
every stored key stays valid (confirmation and unsubscribe links carry its first characters).

What no lookup can undo: one person who signed with two aliases before the change keeps both
signatures, and one who signed with an alias may sign once more, with another alias, on a
petition that was open across the change (after that the new key is stored, and found).

`users.email_canonical` stores the form itself. `accounts.find_by_email` looks for every form,
the current one first, so existing accounts are found and can log in; new accounts store the
current form. Recomputing the column from `users.email` would make old rows agree with the
rules (two accounts that now share a mailbox would need a decision): a data migration.

When the built-in table changes again, add the table as it was to `EARLIER_ALIAS_RULES`.
Operators should treat EMAIL_ALIAS_RULES like SIGNER_HASH_KEY: once signatures exist, add rules
but do not change or remove one, as the forms it gave are not looked for afterwards.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import idna
from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """The address is not one we can send to; the message is safe to show the user."""


class InvalidAliasRules(ValueError):
    """EMAIL_ALIAS_RULES cannot be read; the app refuses to start with this message."""


def validate_address(address: str, *, check_deliverability: bool = False) -> str:
    """Return the address in the form to send mail to, or raise InvalidEmail."""
    try:
        result = validate_email(address, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return result.normalized


# --- the alias table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRule:
    """How one provider's addresses reach mailboxes: one row of the alias table.

    It is applied to the case-folded local part of an address at one of its `domains`.
    """

    #: The domains (in ASCII, lower case) the rule is for.
    domains: tuple[str, ...]
    #: A tag starts at the first of these characters and is cut off: `a+x` is `a`. A local
    #: part that starts with one is kept whole (there is no name before the tag).
    tag_separators: str = "+"
    #: Characters left out of what remains (Gmail's dots).
    ignored: str = ""
    #: Characters that are one and the same there; each becomes the first (Yandex's `-.`).
    same: str = ""
    #: The domain all of `domains` become, when they are names of one mailbox; None: each
    #: domain is a mailbox of its own.
    mailbox_domain: str | None = None

    def mailbox(self, local: str, domain: str) -> str:
        """The canonical form of `local@domain` (`domain` is one of this rule's)."""
        cut = min((i for i in map(local.find, self.tag_separators) if i >= 0), default=-1)
        if cut > 0:
            local = local[:cut]
        for char in self.ignored:
            local = local.replace(char, "")
        for char in self.same[1:]:
            local = local.replace(char, self.same[0])
        return f"{local}@{self.mailbox_domain or domain}"


#: Domains without a row of their own: `+tag` removed, everything else kept.
DEFAULT_RULE = ProviderRule(domains=())


@dataclass(frozen=True)
class AliasRules:
    """The alias table: the rule of each domain. A later row wins over an earlier one for the
    domains it names (that is how configured rules override the built-in ones)."""

    rules: tuple[ProviderRule, ...]
    default: ProviderRule = DEFAULT_RULE
    _by_domain: dict[str, ProviderRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {domain: rule for rule in self.rules for domain in rule.domains}
        object.__setattr__(self, "_by_domain", index)

    def rule_for(self, domain: str) -> ProviderRule:
        return self._by_domain.get(domain, self.default)

    def extended(self, rules: Iterable[ProviderRule]) -> AliasRules:
        """This table with `rules` added after its own (they win for the domains they name)."""
        return AliasRules(self.rules + tuple(rules), self.default)


GMAIL_DOMAINS = ("gmail.com", "googlemail.com")

#: Gmail ignores dots in the name ("Dots don't matter in Gmail addresses", Gmail help) and
#: googlemail.com, its name in Germany and the UK for years, is the same mailbox.
GMAIL = ProviderRule(GMAIL_DOMAINS, ignored=".", mailbox_domain="gmail.com")

#: Yahoo Mail's domains that share Yahoo's account names: yahoo.com, its older ymail.com and
#: rocketmail.com, and the regional ones in use. Yahoo Japan (yahoo.co.jp) is another company
#: with its own rules and is left out. The domains are separate registrations, not merged.
YAHOO_DOMAINS = (
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "yahoo.co.uk",
    "yahoo.ie",
    "yahoo.fr",
    "yahoo.de",
    "yahoo.it",
    "yahoo.es",
    "yahoo.gr",
    "yahoo.ca",
    "yahoo.com.au",
    "yahoo.co.nz",
    "yahoo.co.in",
    "yahoo.in",
    "yahoo.com.br",
    "yahoo.com.mx",
    "yahoo.com.ar",
    "yahoo.com.sg",
    "yahoo.com.ph",
    "yahoo.co.id",
    "yahoo.com.tr",
)

#: Yahoo "disposable addresses" (AddressGuard, now part of Yahoo Mail Plus) are
#: `basename-keyword@yahoo.com`: every keyword reaches the mailbox of the base name (Yahoo's
#: AddressGuard help; Yahoo's patent application US 2006/0041621 tells them from account
#: names by a reserved character, the dash). Yahoo's sign-up allows only letters, digits, `_`
#: and one `.` in an account name, so no account is named `a-b` and cutting at `-` merges
#: nothing else. Yahoo has no `+` aliases and no name holds a `+`: cutting there too is
#: harmless and keeps the keys of the earlier rule. Caveat: the base name is chosen apart from
#: the account name, so `base@yahoo.com` may rarely be someone else; `base-x` still counts as
#: `base`, which gives each base name one signature (and one with the account that shares its
#: name) at the price of that rare collision.
YAHOO = ProviderRule(YAHOO_DOMAINS, tag_separators="+-")

#: Yandex Mail: an account's address works at every Yandex domain, the regional ones of
#: Central Asia (kz, kg, uz, tj, tm) included. The list is the one Yandex's own services map
#: to yandex.ru (its webmaster service's address normalisation), plus narod.ru, Yandex's old
#: homepage service, whose addresses are Yandex logins (Delta Chat's provider database lists
#: it with them). yandex-team.ru is staff mail, another system, and is left out.
YANDEX_DOMAINS = (
    "yandex.ru",
    "ya.ru",
    "yandex.com",
    "yandex.by",
    "yandex.kz",
    "yandex.kg",
    "yandex.uz",
    "yandex.tj",
    "yandex.tm",
    "yandex.ua",
    "yandex.az",
    "yandex.com.am",
    "yandex.com.ge",
    "yandex.md",
    "yandex.lt",
    "yandex.lv",
    "yandex.ee",
    "yandex.co.il",
    "yandex.com.tr",
    "yandex.fr",
    "narod.ru",
)

#: In a Yandex login `.` and `-` are one character (mail to `a.b@` reaches `a-b@`; the same
#: normalisation maps `.` to `-`), and Yandex delivers `login+tag` to the login.
YANDEX = ProviderRule(YANDEX_DOMAINS, same="-.", mailbox_domain="yandex.ru")

#: Mail.ru Group's free mail: each domain is a separate registration (`aibek@mail.ru` and
#: `aibek@bk.ru` can be two people), and `.`, `-` and `_` are allowed in names and
#: significant (help.mail.ru/mail-help/registration/name). Mail.ru documents no sub-addressing,
#: and no name may contain `+`, so cutting at `+` (the generic rule, kept for the keys already
#: stored) merges no two mailboxes. The row states that decision; it is the default rule.
MAILRU_DOMAINS = ("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "xmail.ru")
MAILRU = ProviderRule(MAILRU_DOMAINS)

#: The built-in table; EMAIL_ALIAS_RULES extends it (see configured_alias_rules).
BUILTIN_ALIAS_RULES = AliasRules((GMAIL, YAHOO, YANDEX, MAILRU))

#: The table before the provider rules (issue 8): only Gmail's. Signatures made then carry keys
#: of its forms.
ALIAS_RULES_V1 = AliasRules((GMAIL,))

#: Tables whose forms are still looked for (see the module docstring), newest first.
EARLIER_ALIAS_RULES = (BUILTIN_ALIAS_RULES, ALIAS_RULES_V1)


# --- the canonical mailbox and its key ---------------------------------------------------------


def normalise_for_identity(address: str, rules: AliasRules = BUILTIN_ALIAS_RULES) -> str:
    """The canonical mailbox an address reaches (see the module docstring).

    `rules` is the app's table (config EMAIL_ALIAS_RULES, parsed at start-up); the built-in
    one serves callers without an app.
    """
    local, sep, domain = unicodedata.normalize("NFKC", address.strip()).rpartition("@")
    domain = domain.rstrip(".")
    if not sep or not local or not domain:
        raise InvalidEmail("An email address needs a name, an @ and a domain.")
    domain = _ascii_domain(domain)
    return rules.rule_for(domain).mailbox(local.casefold(), domain)


def identity_forms(address: str, rules: AliasRules = BUILTIN_ALIAS_RULES) -> tuple[str, ...]:
    """The address's canonical form under `rules`, then the different forms earlier tables
    gave it: what to look for among rows stored before a change of the rules."""
    forms = [normalise_for_identity(address, rules)]
    for earlier in EARLIER_ALIAS_RULES:
        form = normalise_for_identity(address, earlier)
        if form not in forms:
            forms.append(form)
    return tuple(forms)


@functools.lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str:
    """The domain as mail is routed to it (IDNA 2008, UTS 46 mapping, non-transitional).

    Remembered: a sign computes it for each alias table (identity_forms), and a campaign's
    signers share a few domains; IDNA encoding was a tenth of a millisecond each time."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError:  # not a valid IDNA name: compare it as text
        return domain.casefold()


def email_domain(address: str) -> str:
    """The domain of an address as mail is routed to it (lower-case ASCII), e.g. for rules and
    per-domain limits."""
    return _ascii_domain(address.rpartition("@")[2].strip().rstrip("."))


def domain_matches(domain: str, pattern: str) -> bool:
    """Whether an (ASCII, lower-case) domain matches an admin's pattern: `example.com` is that
    domain and its subdomains; globs as in `mailinator.*`, `*.example.com`."""
    pattern = pattern.strip().lower().rstrip(".")
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(domain, pattern)
    return domain == pattern or domain.endswith("." + pattern)


def identity_key(address: str, secret: str, rules: AliasRules = BUILTIN_ALIAS_RULES) -> str:
    """Keyed hash of the canonical mailbox; 64 hex characters. New rows store this one."""
    return _keyed(normalise_for_identity(address, rules), secret)


def identity_keys(
    address: str, secret: str, rules: AliasRules = BUILTIN_ALIAS_RULES
) -> tuple[str, ...]:
    """`identity_key` first, then the keys of the address's forms under earlier tables: a row
    with any of them is this person's."""
    return tuple(_keyed(form, secret) for form in identity_forms(address, rules))


def _keyed(canonical: str, secret: str) -> str:
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


# --- EMAIL_ALIAS_RULES -------------------------------------------------------------------------

#: What a tag separator, an ignored or a "same" character may be: the non-alphanumeric
#: characters allowed unquoted in a local part (RFC 5322 atext, and `.`). Letters and digits
#: are refused: ignoring one would merge the mailboxes of different people.
RULE_CHARACTERS = frozenset("!#$%&'*+-./=?^_`{|}~")

_RULE_FORMAT = "a rule is 'domain, domain: option option', e.g. 'example.kg: tag=+- ignore=.'"
_OPTIONS = "tag=, ignore=, same=, one-mailbox"


def parse_alias_rules(text: str) -> tuple[ProviderRule, ...]:
    """Read EMAIL_ALIAS_RULES; raise InvalidAliasRules saying what is wrong and where.

    Rules are separated by `;` (or new lines). Each is `domains: options`: the domains
    separated by commas or spaces, then any of
    `tag=CHARS` (a tag starts at any of them; `tag=` for none; default `+`),
    `ignore=CHARS` (left out of the name), `same=CHARS` (all become the first) and
    `one-mailbox` (the domains are names of one mailbox: all become the first listed).
    A rule without options gives its domains the generic rule (it undoes a built-in one).
    """
    rules: list[ProviderRule] = []
    seen: set[str] = set()
    for written in re.split(r"[;\n]", text):
        if not written.strip():
            continue
        try:
            rule = _parse_rule(written)
        except InvalidAliasRules as exc:
            raise InvalidAliasRules(f"EMAIL_ALIAS_RULES, in {written.strip()!r}: {exc}") from None
        for domain in rule.domains:
            if domain in seen:
                raise InvalidAliasRules(
                    f"EMAIL_ALIAS_RULES: {domain} is in two rules; give each domain one rule"
                )
            seen.add(domain)
        rules.append(rule)
    return tuple(rules)


def _parse_rule(written: str) -> ProviderRule:
    domains_text, colon, options_text = written.partition(":")
    if not colon:
        raise InvalidAliasRules(f"no colon after the domains ({_RULE_FORMAT})")
    domains = tuple(_rule_domain(name) for name in re.split(r"[\s,]+", domains_text) if name)
    if not domains:
        raise InvalidAliasRules(f"no domain before the colon ({_RULE_FORMAT})")
    if len(set(domains)) != len(domains):
        raise InvalidAliasRules("a domain is listed twice")
    values: dict[str, str] = {}
    one_mailbox = False
    for option in options_text.split():
        name, equals, value = option.partition("=")
        if option == "one-mailbox":
            if one_mailbox:
                raise InvalidAliasRules("one-mailbox is given twice")
            one_mailbox = True
        elif equals and name in ("tag", "ignore", "same"):
            if name in values:
                raise InvalidAliasRules(f"{name}= is given twice")
            values[name] = _rule_characters(name, value)
        else:
            raise InvalidAliasRules(f"unknown option {option!r} (the options are {_OPTIONS})")
    if one_mailbox and len(domains) < 2:
        raise InvalidAliasRules("one-mailbox needs two or more domains")
    if "same" in values and len(values["same"]) < 2:
        raise InvalidAliasRules("same= needs two or more characters")
    for first, second in (("tag", "ignore"), ("tag", "same"), ("ignore", "same")):
        shared = set(values.get(first, "")) & set(values.get(second, ""))
        if shared:
            raise InvalidAliasRules(f"{''.join(sorted(shared))} is in both {first}= and {second}=")
    return ProviderRule(
        domains,
        tag_separators=values.get("tag", DEFAULT_RULE.tag_separators),
        ignored=values.get("ignore", ""),
        same=values.get("same", ""),
        mailbox_domain=domains[0] if one_mailbox else None,
    )


def _rule_domain(name: str) -> str:
    """A domain as addresses are compared (ASCII, lower case, no final dot), or refused."""
    try:
        domain = idna.encode(name.rstrip("."), uts46=True).decode("ascii")
    except UnicodeError:
        raise InvalidAliasRules(f"{name!r} is not a domain name") from None
    if "." not in domain:
        raise InvalidAliasRules(f"{name!r} is not a domain name (it has no dot)")
    return domain


def _rule_characters(option: str, value: str) -> str:
    wrong = sorted(set(value) - RULE_CHARACTERS)
    if wrong:
        raise InvalidAliasRules(
            f"{option}= takes characters from {''.join(sorted(RULE_CHARACTERS))}, "
            f"not {''.join(wrong)!r}"
        )
    if len(set(value)) != len(value):
        raise InvalidAliasRules(f"{option}= lists a character twice")
    return value


def configured_alias_rules(setting: str | AliasRules | None) -> AliasRules:
    """The app's table from the EMAIL_ALIAS_RULES setting: the built-in table extended by the
    rules written there (a table given as such, e.g. by a test, is used as it is)."""
    if isinstance(setting, AliasRules):
        return setting
    if setting is not None and not isinstance(setting, str):
        raise InvalidAliasRules(f"EMAIL_ALIAS_RULES must be text, not {type(setting).__name__}")
    return BUILTIN_ALIAS_RULES.extended(parse_alias_rules(setting or ""))
