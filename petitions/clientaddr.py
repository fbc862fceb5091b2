"""Who the client is: its IP address, and the network it belongs to.

Behind reverse proxies, the client's address is in `X-Forwarded-For`, but anyone can send that
header. It is believed only as far as the operator said:

- `PROXY_FIX_HOPS = n`: exactly n proxies in front; Werkzeug's ProxyFix takes the n-th address
  from the right (security.py);
- `TRUSTED_PROXIES = ranges`: the socket's peer and each address read from the right of the
  header are skipped while they lie in those ranges; the first one outside is the client
  (`TrustedProxies`, the same walk nginx's `real_ip_recursive` does).

With neither, the socket's address is the client's, and a client's own `X-Forwarded-For`
gains it nothing. Everything downstream (Flask-Limiter, the signature's request facts) reads
`request.remote_addr`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The prefix that stands for "one network": a household, an office, a mobile carrier's pool
#: is usually one IPv4 /24 or one IPv6 /48.
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48


def parse_ranges(ranges: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR ranges as typed in settings; raises ValueError naming a bad one."""
    parsed = []
    for text in ranges:
        try:
            parsed.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP range (CIDR), e.g. 10.0.0.0/8") from None
    return tuple(parsed)


def parse_address(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def network_of(address: IPAddress) -> str:
    """The network an address stands in for rate limits and statistics, e.g. 203.0.113.0/24."""
    prefix = IPV4_NETWORK_PREFIX if address.version == 4 else IPV6_NETWORK_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def in_ranges(address: IPAddress, ranges: Iterable[IPNetwork]) -> bool:
    return any(address.version == r.version and address in r for r in ranges)


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the first address, from the right of
    X-Forwarded-For, that is not one of the trusted proxies (see the module's docstring)."""

    def __init__(self, app, ranges: Iterable[IPNetwork]) -> None:
        self.app = app
        self.ranges = tuple(ranges)

    def client(self, peer: str | None, forwarded: str | None) -> str | None:
        address = parse_address(peer)
        if address is None or not in_ranges(address, self.ranges) or not forwarded:
            return peer
        client = peer
        for hop in reversed([part.strip() for part in forwarded.split(",")]):
            hop_address = parse_address(hop)
            if hop_address is None:
                break
            client = str(hop_address)
            if not in_ranges(hop_address, self.ranges):
                break
        return client

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR")
        peer_address = parse_address(peer)
        if peer_address is None or not in_ranges(peer_address, self.ranges):
            for header in ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"):
                environ.pop(header, None)
        client = self.client(peer, environ.get("HTTP_X_FORWARDED_FOR"))
        if client != peer:
            environ["petitions.proxy_peer"] = peer
            environ["REMOTE_ADDR"] = client
        return self.app(environ, start_response)
