"""Share links for a petition: plain links to each service's own share page, no third-party
script, button or pixel on our pages (a reader's visit is nobody else's business, and the
strict CSP allows none). Each link carries the page's address in the reader's language and the
title in the version they read, percent-encoded as UTF-8 (Cyrillic titles included).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class ShareLink:
    #: A short code for the service (a CSS class and a test hook).
    service: str
    #: Its name as people know it ("Email" is translated by the template).
    name: str
    href: str


def _q(value: str) -> str:
    return quote(value, safe="")


def share_links(url: str, title: str) -> list[ShareLink]:
    """Telegram, WhatsApp, VK, Facebook, X and email, in that order."""
    u, t = _q(url), _q(title)
    body = _q(title + "\r\n\r\n" + url)  # RFC 6068: CRLF line breaks
    return [
        ShareLink("telegram", "Telegram", f"https://t.me/share/url?url={u}&text={t}"),
        ShareLink("whatsapp", "WhatsApp", f"https://wa.me/?text={_q(f'{title} {url}')}"),
        ShareLink("vk", "VK", f"https://vk.com/share.php?url={u}&title={t}"),
        ShareLink("facebook", "Facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
        ShareLink("x", "X", f"https://x.com/intent/post?url={u}&text={t}"),
        ShareLink("email", "Email", f"mailto:?subject={t}&body={body}"),
    ]
