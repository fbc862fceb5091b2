"""The files of deploy/ that the stack tests do not run: the production nginx file is the
template rendered and nginx accepts it; the environment example is one production starts with.
"""

from __future__ import annotations

import re
import subprocess

import config
from deploy import render
from deploy.loopback import NGINX
from petitions import create_app

ENV_EXAMPLE = render.ROOT / "deploy" / "petitions.env.example"
SECRETS = ("SECRET_KEY", "SIGNER_HASH_KEY", "MAIL_PASSWORD")


def example_variables() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name: value.strip('"') for name, value in pairs}


def test_the_production_nginx_file_is_the_template_rendered(tmp_path):
    assert render.PRODUCTION_FILE.read_text() == render.render_production(render.app_facts()), (
        "deploy/nginx/petitions.conf is out of date: run `python deploy/render.py`"
    )


def test_nginx_accepts_the_production_configuration(tmp_path):
    """`nginx -t` on the production file inside a stock http{} block, with a throwaway
    certificate where Let's Encrypt's would be."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=petitions.example.kg", "-keyout", tmp_path / "privkey.pem", "-out",
         tmp_path / "fullchain.pem"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site_conf = render.render_production(
        render.app_facts(), checkout=render.ROOT, cache_dir=tmp_path / "cache"
    )
    site_conf = site_conf.replace("/etc/letsencrypt/live/petitions.example.kg/", f"{tmp_path}/")
    site_conf = site_conf.replace("/var/log/nginx/", f"{tmp_path}/")
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        "include /etc/nginx/mime.types;\n"
        f"proxy_temp_path {tmp_path}/proxy;\nclient_body_temp_path {tmp_path}/body;\n"
        f"{site_conf}}}\n"
    )
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr


def test_the_environment_example_sets_only_settings():
    assert set(example_variables()) - set(config.ENVIRONMENT_VARIABLES) == set()


def test_the_environment_example_holds_no_secret():
    assert {name: example_variables()[name] for name in SECRETS} == dict.fromkeys(SECRETS, "")


def test_production_starts_with_the_environment_example(monkeypatch):
    for name, value in example_variables().items():
        monkeypatch.setenv(name, value or f"a-long-random-{name.lower()}")
    app = create_app()
    assert app.config["PETITIONS_ENV"] == "production"


def test_nginx_waits_on_a_live_stream_longer_than_the_app_makes_it_last():
    facts = render.app_facts({"LIVE_STREAM_SECONDS": "120", "LIVE_HEARTBEAT_SECONDS": "15"})
    timeouts = re.findall(r"proxy_read_timeout (\d+)s;", render.render_production(facts))
    assert timeouts and int(timeouts[0]) > 120


def test_render_writes_each_languages_error_pages_where_the_configuration_looks(tmp_path):
    pages = tmp_path / "error-pages"
    render.main(["--output", str(tmp_path / "petitions.conf"), "--error-pages", str(pages)])
    written = sorted(str(p.relative_to(pages)) for p in pages.rglob("*.html"))
    expected = sorted(
        f"{code}/{page}.html" for code in render.app_facts().languages for page in (429, 503)
    )
    named = f"root {pages.resolve()};" in (tmp_path / "petitions.conf").read_text()
    assert (written, named) == (expected, True)
