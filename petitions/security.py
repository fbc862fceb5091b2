"""HTTP security headers and proxy handling."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from . import clientaddr

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
