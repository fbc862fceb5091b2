"""Static files under fingerprinted names, cached for a year.

A page links `/static/site.3f2a9c41d0.css` (`static_url("site.css")`): the name carries a
digest of the file's contents, so a browser or a shared cache may keep it for a year without
asking again (`immutable`), and a release that changes the file changes its name, so nobody
is left with an old stylesheet. The digests are computed once per process, on first use (a
release restarts the processes); the files are a few kilobytes.

The plain name (`/static/site.css`) is still served, with a short cache, for anything that
linked it before. A fingerprint that is not the file's current one (a page cached before a
release asks for the old file) gets today's file with the short cache, never `immutable`.

Static files carry no language: the links go from the site's root (`ROOT_KEY`, the
SCRIPT_NAME from before LanguagePrefix moved `/ky` into it), so every language's pages share
one copy of each file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask, Response, abort, current_app, request, send_from_directory

from .languages import ROOT_KEY

#: Hex digits of the SHA-256 of a file's contents in its name.
DIGEST_LENGTH = 10
#: `site.3f2a9c41d0.css` -> ("site", "3f2a9c41d0", ".css").
FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[^./]+)$"
)
#: For fingerprinted names: the contents never change under that name.
IMMUTABLE = "public, max-age=31536000, immutable"
#: For plain names and stale fingerprints: five minutes.
SHORT = "public, max-age=300"
EXTENSION_KEY = "petitions.assets"


def content_digest(path: Path) -> str:
    """The fingerprint of a file: the first hex digits of the SHA-256 of its bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_LENGTH]


def fingerprinted_name(filename: str, digest: str) -> str:
    """`site.css`, digest -> `site.<digest>.css` (a name without a suffix gets it at the end)."""
    stem, dot, suffix = filename.rpartition(".")
    if not dot or "/" in suffix:
        return f"{filename}.{digest}"
    return f"{stem}.{digest}.{suffix}"


def _digests(app: Flask) -> dict[str, str]:
    return app.extensions.setdefault(EXTENSION_KEY, {})


def digest_of(app: Flask, filename: str) -> str | None:
    """The file's fingerprint, computed on first use and kept for the process; None if
    there is no such file."""
    digests = _digests(app)
    digest = digests.get(filename)
    if digest is None:
        folder = Path(app.static_folder)
        path = (folder / filename).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            return None
        digest = digests[filename] = content_digest(path)
    return digest


def static_url(filename: str) -> str:
    """The fingerprinted URL of a static file, from the site's root (no language prefix)."""
    root = request.environ.get(ROOT_KEY, request.script_root) if request else ""
    digest = digest_of(current_app._get_current_object(), filename)
    name = fingerprinted_name(filename, digest) if digest else filename
    return f"{root}/static/{name}"


def send_static(filename: str) -> Response:
    """The `static` endpoint: a fingerprinted name is served as its file, cached a year when
    the fingerprint is the current one; a plain name is served with a short cache."""
    app = current_app._get_current_object()
    cache_control = SHORT
    match = FINGERPRINTED.match(filename.rsplit("/", 1)[-1])
    if match and "/" not in filename:
        plain = match["stem"] + match["suffix"]
        current = digest_of(app, plain)
        if current is None:
            abort(404)
        filename = plain
        if current == match["digest"]:
            cache_control = IMMUTABLE
    response = send_from_directory(app.static_folder, filename, max_age=0)
    response.headers["Cache-Control"] = cache_control
    return response


def init_app(app: Flask) -> None:
    app.view_functions["static"] = send_static
    app.jinja_env.globals.update(static_url=static_url)
