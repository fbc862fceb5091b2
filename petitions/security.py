"""HTTP security headers and proxy handling."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import clientaddr
from .extensions import csrf

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: For the one page other sites may show in an iframe: the embeddable petition widget.
FRAMEABLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors *"
)


def allow_framing(response: Response) -> Response:
    """Let any site put this response in an iframe (CSP frame-ancestors *, no X-Frame-Options).

    Every other page refuses framing, against clickjacking; the widget has no form and no
    session to abuse, and its links open the petition in a new tab.
    """
    response.headers["Content-Security-Policy"] = FRAMEABLE_CONTENT_SECURITY_POLICY
    return response


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # For browsers without CSP frame-ancestors; left out where the policy allows framing
    # (allow_framing), since those browsers would then refuse the widget.
    policy = headers["Content-Security-Policy"]
    if "frame-ancestors" not in policy or "frame-ancestors 'none'" in policy:
        headers.setdefault("X-Frame-Options", "DENY")
    # Emailed links carry tokens in their path; never send them to another site.
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


#: What Sec-Fetch-Site says of a request this site's own pages made (or the person, typing).
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSitePost(CSRFError):
    """A form post that its browser does not say came from this site (errors.py: a 403)."""

    code = 403


def from_this_site(req: Request, public_base_url: str | None) -> bool:
    """Whether a browser says this request came from one of this site's pages.

    OWASP's "verifying origin with standard headers": Sec-Fetch-Site where the browser sends
    it, else Origin (every current browser sends it on a POST), else Referer (this site's
    Referrer-Policy keeps it on same-origin requests). A request that carries none of them is
    refused: a page elsewhere can strip the Referer, and a browser that sends neither of the
    others is too old to trust. A script that forges headers is not what this guards against:
    it is not riding anyone's browser, and the rate limits and screening meet it.
    """
    fetch_site = req.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in SAME_ORIGIN_FETCH
    claimed = req.headers.get("Origin") or req.headers.get("Referer")
    if not claimed:
        return False
    parts = urlsplit(claimed)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null": a sandboxed frame, a data: URL, a redirect from elsewhere
    ours = {req.host.lower()}
    if public_base_url:
        ours.add(urlsplit(public_base_url).netloc.lower())
    return parts.netloc.lower() in ours


def same_origin_posts(view: Callable) -> Callable:
    """Decorator for forms a page that a shared cache serves to everyone can carry, where no
    session (hence no session-bound CSRF token) exists: the sign forms, and the confirmation
    buttons whose URL holds a secret token. The view is exempt from the session token check;
    instead its POSTs must come from this site's pages (`from_this_site`), else they get a
    page that says so (a 403) and change nothing."""

    @wraps(view)
    def checked(*args, **kwargs):
        if request.method not in SAFE_METHODS and not from_this_site(
            request, current_app.config.get("PUBLIC_BASE_URL")
        ):
            raise CrossSitePost("The request did not come from this site's pages.")
        return view(*args, **kwargs)

    csrf.exempt(checked)
    return checked


def strict_transport_security(config: Mapping) -> str | None:
    """The Strict-Transport-Security value the settings ask for; None: no header.

    Sent on every response, whatever the scheme the app sees: behind a proxy that ends TLS
    without PROXY_FIX_HOPS, every request looks like plain HTTP, and browsers ignore the
    header on a response that did not come over HTTPS anyway (RFC 6797, 8.1).
    """
    seconds = config.get("HSTS_SECONDS", 0)
    if seconds < 0:
        raise ValueError(f"HSTS_SECONDS must be 0 (off) or more, not {seconds}")
    if not seconds:
        return None
    value = f"max-age={seconds}"
    if config.get("HSTS_INCLUDE_SUBDOMAINS"):
        value += "; includeSubDomains"
    if config.get("HSTS_PRELOAD"):
        value += "; preload"
    return value


def init_app(app: Flask) -> None:
    hops = app.config.get("PROXY_FIX_HOPS", 0)
    proxies = clientaddr.parse_ranges(app.config.get("TRUSTED_PROXIES") or ())
    if hops and proxies:
        raise ValueError("set PROXY_FIX_HOPS or TRUSTED_PROXIES, not both")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if proxies:
        # The proxies' X-Forwarded-Proto and -Host are believed; TrustedProxies drops both
        # when the peer is not one of them.
        app.wsgi_app = clientaddr.TrustedProxies(
            ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=1), proxies
        )
    app.after_request(add_security_headers)
    hsts = strict_transport_security(app.config)
    if hsts is not None:

        @app.after_request
        def add_strict_transport_security(response: Response) -> Response:
            response.headers.setdefault("Strict-Transport-Security", hsts)
            return response
