"""Who the client is behind proxies (petitions/clientaddr.py): the walk of X-Forwarded-For
from the right past the trusted proxies, IPv6 and IPv4-mapped addresses, and what a header
with garbage in it gets (nothing beyond the garbage is believed)."""

from __future__ import annotations

import pytest

from petitions.clientaddr import TrustedProxies, network_of, parse_address, parse_ranges

PROXIES = TrustedProxies(None, parse_ranges(["10.0.0.0/8", "::1/128", "fd00::/8"]))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Not from a proxy: the header is the client's own and counts for nothing.
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # One proxy: the address it saw.
        ("10.0.0.1", "203.0.113.9", "203.0.113.9"),
        # A chain: past every trusted hop, the first one outside is the client, and what the
        # client wrote to the left of it is not believed.
        ("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        # Every hop is a proxy: the farthest one.
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),
        # No header from a proxy: the proxy itself.
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        # IPv6 clients and proxies.
        ("::1", "2001:db8::5", "2001:db8::5"),
        ("fd00::1", "2001:db8::5, fd00::2", "2001:db8::5"),
        # IPv4-mapped IPv6 (a dual-stack socket): the IPv4 address it stands for.
        ("::ffff:10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "::ffff:203.0.113.9", "203.0.113.9"),
        # Garbage: nothing at or beyond it is believed.
        ("10.0.0.1", "not-an-address", "10.0.0.1"),
        ("10.0.0.1", "203.0.113.9, garbage", "10.0.0.1"),
        ("10.0.0.1", "garbage, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "203.0.113.9, , 10.0.0.2", "10.0.0.2"),
        ("10.0.0.1", "\x00\xff, 203.0.113.9:8080", "10.0.0.1"),
    ],
)
def test_the_client_is_the_first_untrusted_address_from_the_right(peer, forwarded, client):
    assert PROXIES.client(peer, forwarded) == client


def test_the_middleware_sets_the_client_and_drops_an_untrusted_peers_proto_and_host():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return []

    middleware = TrustedProxies(app, parse_ranges(["10.0.0.0/8"]))
    middleware(
        {
            "REMOTE_ADDR": "203.0.113.9",
            "HTTP_X_FORWARDED_FOR": "198.51.100.1",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "evil.example",
        },
        None,
    )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert "HTTP_X_FORWARDED_PROTO" not in seen
    assert "HTTP_X_FORWARDED_HOST" not in seen


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.9", "203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
    ],
)
def test_a_network_is_an_ipv4_24_or_an_ipv6_48(address, network):
    assert network_of(parse_address(address)) == network


@pytest.mark.parametrize("text", [None, "", "garbage", "300.1.1.1", "1.2.3.4/24"])
def test_what_is_not_an_address_parses_to_none(text):
    assert parse_address(text) is None


def test_a_bad_range_in_the_settings_is_named():
    with pytest.raises(ValueError, match="'10.0.0.0/33' is not an IP range"):
        parse_ranges(["10.0.0.0/8", "10.0.0.0/33"])
