"""The nginx configuration, for production and for the loopback stack, from one template
(deploy/nginx/petitions.conf.template).

`python deploy/render.py` rewrites deploy/nginx/petitions.conf, the production file the
repository carries (for petitions.example.kg, one instance on 127.0.0.1:8000; a test checks it
is up to date). An operator renders their own the same way, with the pages nginx answers by
itself (its 429, and its 503 when no instance answers, in every language of the site):

    python deploy/render.py --server-name petitions.kg --app 10.0.0.5:8000 --app 10.0.0.6:8000 \\
        --output /etc/nginx/sites-available/petitions.conf \\
        --error-pages /srv/petitions/instance/error-pages

deploy/loopback.py renders the same template for a stack on 127.0.0.1. What the app decides
(its languages, cookie names, the length of a live stream, the body limit, the fingerprints of
static names) is read from the app's own config, so nginx cannot disagree with it; render again
after changing LANGUAGES, LIVE_STREAM_SECONDS or MAX_CONTENT_LENGTH, and the error pages after
each release (they are the app's templates: proxy_pages in petitions/errors.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import jinja2

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
TEMPLATE = "petitions.conf.template"
PRODUCTION_FILE = NGINX_DIR / "petitions.conf"

#: The production file's example host, instance and checkout.
EXAMPLE_SERVER_NAME = "petitions.example.kg"
EXAMPLE_UPSTREAMS = ("127.0.0.1:8000",)
EXAMPLE_CHECKOUT = Path("/srv/petitions")
PRODUCTION_CACHE_DIR = Path("/var/cache/nginx/petitions")
PRODUCTION_ACCESS_LOG = "/var/log/nginx/petitions.access.log petitions"

#: Form POSTs (sign, confirm, login) one address may send: a sustained rate and a burst
#: served at once beyond it. Far above one person, and above what a carrier's crowd behind
#: one address sends in practice; the app's own, finer limits do the rest.
FORM_RATE = "5r/s"
FORM_BURST = 100
#: Retry-After of nginx's 429 (FORM_RATE's zone, and the streams per address). Once the burst
#: is spent the zone frees FORM_RATE posts a second, which a flood still running takes at once;
#: in 5 s there is room for 25, enough for the person and the others behind their address,
#: and still a short wait for someone who reads "try again in 5 seconds".
FORM_RETRY_AFTER = 5
#: Live-count streams one address may hold open (the app caps them per process as well).
STREAMS_PER_ADDRESS = 20
#: After max_fails failures an instance is left alone this many seconds.
UPSTREAM_FAIL_TIMEOUT = 10
#: Retry-After of nginx's 503 when no instance answers: sooner, nginx would still be leaving
#: the failed instances alone.
UNAVAILABLE_RETRY_AFTER = UPSTREAM_FAIL_TIMEOUT
#: Seconds nginx keeps an idle connection to an instance; gunicorn's WEB_KEEPALIVE is longer.
UPSTREAM_KEEPALIVE_TIMEOUT = 60


@dataclass(frozen=True)
class AppFacts:
    """What the configuration must agree with the app about, read from its config."""

    #: Every language the site offers, the default first.
    languages: tuple[str, ...]
    default_language: str
    language_cookie: str
    session_cookie: str
    remember_cookie: str
    #: Longer than a live stream lasts and than its quiet stretches between heartbeats.
    stream_read_timeout: int
    max_body_k: int
    digest_length: int
    immutable_cache: str
    short_cache: str

    @classmethod
    def from_app(cls, app) -> AppFacts:
        from flask_login.config import COOKIE_NAME

        from petitions import assets, languages

        config = app.config
        return cls(
            languages=tuple(config["LANGUAGES"]),
            default_language=config["BABEL_DEFAULT_LOCALE"],
            language_cookie=languages.COOKIE,
            session_cookie=config["SESSION_COOKIE_NAME"],
            remember_cookie=config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME),
            stream_read_timeout=max(config["LIVE_STREAM_SECONDS"], config["LIVE_HEARTBEAT_SECONDS"])
            + 30,
            max_body_k=2 * -(-config["MAX_CONTENT_LENGTH"] // 1024),
            digest_length=assets.DIGEST_LENGTH,
            immutable_cache=assets.IMMUTABLE,
            short_cache=assets.SHORT,
        )


def _app(environ: Mapping[str, str] | None):
    from petitions import create_app

    settings = {"PETITIONS_ENV": "development", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    if environ is None:
        return create_app(settings)
    with patch.dict(os.environ, environ, clear=True):
        return create_app(settings)


def app_facts(environ: Mapping[str, str] | None = None) -> AppFacts:
    """The facts of the app as configured by `environ`, the environment it runs with (by
    default this process's). No database is opened."""
    return AppFacts.from_app(_app(environ))


def write_error_pages(directory: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    """nginx's own 429 and 503 pages, `directory/<language>/429.html` and `503.html`, from the
    app configured by `environ` (as app_facts), saying the waits nginx sends as Retry-After."""
    from petitions.errors import proxy_pages

    pages = proxy_pages(
        _app(environ),
        too_many_retry_after=FORM_RETRY_AFTER,
        unavailable_retry_after=UNAVAILABLE_RETRY_AFTER,
    )
    written = []
    for name, html in pages.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
        written.append(path)
    return written


@dataclass(frozen=True)
class Placement:
    """Where the configuration runs: production behind TLS, or plain HTTP on loopback."""

    #: `host:port` of each app instance (gunicorn's WEB_BIND).
    upstreams: tuple[str, ...]
    #: The checkout whose static/ folder nginx serves.
    static_root: Path
    #: Where write_error_pages() put nginx's own error pages.
    error_pages: Path
    cache_dir: Path
    #: nginx's access_log arguments: a path and the format, or "off".
    access_log: str
    production: bool
    server_name: str
    #: The plain-HTTP listen address (loopback only).
    listen: str | None = None


def _environment() -> jinja2.Environment:
    return jinja2.Environment(  # noqa: S701 - nginx configuration, not HTML
        loader=jinja2.FileSystemLoader(NGINX_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(facts: AppFacts, placement: Placement, header: str) -> str:
    """The http-level configuration: upstream, maps, zones, cache and server blocks."""
    if not placement.upstreams:
        raise ValueError("at least one app instance is needed")
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            header=header,
            upstreams=placement.upstreams,
            static_root=placement.static_root,
            error_pages=placement.error_pages,
            cache_dir=placement.cache_dir,
            access_log=placement.access_log,
            production=placement.production,
            server_name=placement.server_name,
            listen=placement.listen,
            languages=facts.languages,
            default_language=facts.default_language,
            prefixed_languages=[c for c in facts.languages if c != facts.default_language],
            language_cookie=facts.language_cookie,
            session_cookie=facts.session_cookie,
            remember_cookie=facts.remember_cookie,
            stream_read_timeout=facts.stream_read_timeout,
            max_body_k=facts.max_body_k,
            digest_quantifier=f"{{{facts.digest_length}}}",
            digest_length=facts.digest_length,
            immutable_cache=facts.immutable_cache,
            short_cache=facts.short_cache,
            form_rate=FORM_RATE,
            form_burst=FORM_BURST,
            streams_per_address=STREAMS_PER_ADDRESS,
            form_retry_after=FORM_RETRY_AFTER,
            upstream_fail_timeout=UPSTREAM_FAIL_TIMEOUT,
            unavailable_retry_after=UNAVAILABLE_RETRY_AFTER,
            upstream_keepalive_timeout=UPSTREAM_KEEPALIVE_TIMEOUT,
        )
    )


PRODUCTION_HEADER = (
    "Rendered by `python deploy/render.py` from deploy/nginx/petitions.conf.template: edit the\n"
    "# template and render again, not this file. Goes in /etc/nginx/sites-available/ (linked\n"
    "# from sites-enabled/), inside Debian's nginx.conf http{} block (README, Operations)."
)


def render_production(
    facts: AppFacts,
    *,
    server_name: str = EXAMPLE_SERVER_NAME,
    upstreams: Sequence[str] = EXAMPLE_UPSTREAMS,
    checkout: Path = EXAMPLE_CHECKOUT,
    cache_dir: Path = PRODUCTION_CACHE_DIR,
    error_pages: Path | None = None,
) -> str:
    """The production file; nginx's error pages in `error_pages` (by default the checkout's
    instance/error-pages)."""
    placement = Placement(
        upstreams=tuple(upstreams),
        static_root=checkout,
        error_pages=error_pages or checkout / "instance" / "error-pages",
        cache_dir=cache_dir,
        access_log=PRODUCTION_ACCESS_LOG,
        production=True,
        server_name=server_name,
    )
    return render(facts, placement, PRODUCTION_HEADER)


LOOPBACK_MAIN = """\
# The loopback stack's nginx (deploy/loopback.py), run as `nginx -p {workdir} -c {conf}`.
# Everything it writes stays in {workdir}; the site below is the production template's.
{user}daemon off;
master_process on;
worker_processes {worker_processes};
worker_rlimit_nofile 16384;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx.error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {workdir}/temp/body;
    proxy_temp_path {workdir}/temp/proxy;
    fastcgi_temp_path {workdir}/temp/fastcgi;
    uwsgi_temp_path {workdir}/temp/uwsgi;
    scgi_temp_path {workdir}/temp/scgi;

{site}}}
"""


def render_loopback(
    facts: AppFacts,
    *,
    workdir: Path,
    port: int,
    upstreams: Sequence[str],
    access_log: bool = True,
    worker_processes: str = "auto",
) -> str:
    """A whole nginx.conf for 127.0.0.1:`port` whose files all live in `workdir` (the error
    pages in workdir/error-pages, see write_error_pages)."""
    placement = Placement(
        upstreams=tuple(upstreams),
        static_root=ROOT,
        error_pages=workdir / "error-pages",
        cache_dir=workdir / "cache",
        access_log=f"{workdir}/nginx.access.log petitions" if access_log else "off",
        production=False,
        server_name="_",
        listen=f"127.0.0.1:{port}",
    )
    site = render(facts, placement, "Rendered by deploy/loopback.py from petitions.conf.template.")
    indented = "".join(f"    {line}" if line.strip() else line for line in site.splitlines(True))
    return LOOPBACK_MAIN.format(
        workdir=workdir,
        conf=workdir / "nginx.conf",
        # As root, nginx would hand its workers to `nobody`, who cannot enter the work folder.
        user="user root;\n" if os.geteuid() == 0 else "",
        worker_processes=worker_processes,
        site=indented,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-name", default=EXAMPLE_SERVER_NAME)
    parser.add_argument(
        "--app",
        action="append",
        dest="upstreams",
        metavar="HOST:PORT",
        help="an app instance (gunicorn's WEB_BIND); repeat for several",
    )
    parser.add_argument("--checkout", type=Path, default=EXAMPLE_CHECKOUT)
    parser.add_argument("--cache-dir", type=Path, default=PRODUCTION_CACHE_DIR)
    parser.add_argument("--output", type=Path, default=PRODUCTION_FILE)
    parser.add_argument(
        "--error-pages",
        type=Path,
        metavar="DIR",
        help="write nginx's error pages into DIR, which the configuration then names "
        "(without it: names CHECKOUT/instance/error-pages and writes no pages)",
    )
    args = parser.parse_args(argv)
    text = render_production(
        app_facts(),
        server_name=args.server_name,
        upstreams=args.upstreams or EXAMPLE_UPSTREAMS,
        checkout=args.checkout,
        cache_dir=args.cache_dir,
        error_pages=args.error_pages.resolve() if args.error_pages else None,
    )
    args.output.write_text(text)
    print(f"wrote {args.output}")
    if args.error_pages:
        pages = write_error_pages(args.error_pages)
        print(f"wrote {len(pages)} error pages in {args.error_pages}")


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main()
