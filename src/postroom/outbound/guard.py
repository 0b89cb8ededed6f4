"""Which addresses Postroom may connect to for a user's webhook endpoint, and which endpoint
URLs it takes: the SSRF policy, pure (standard library only).

Webhook URLs are chosen by users, so without a policy a webhook is a way to make Postroom
POST to its own network: the cloud metadata service, a database's HTTP port, an admin page on
localhost. Every address a connection would go to is judged by `refusal`; an operator whose
receivers live on a private network lists their ranges in POSTROOM_WEBHOOK_ALLOW_CIDRS.
"""

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

MAX_URL_LENGTH = 2048
HTTPS_REQUIRED = "https required"

# RFC 6052's well-known NAT64 prefix: the gateway connects to the IPv4 in the low 32 bits, so
# that IPv4 is what is judged (a DNS64 resolver hands these out for IPv4-only sites).
_NAT64 = ip_network("64:ff9b::/96")
# Deprecated IPv4-compatible addresses (RFC 4291 2.5.5.1): nothing routes them any more.
_COMPATIBLE = ip_network("::/96")


def parse_cidrs(text: str) -> tuple[Network, ...]:
    """The networks of POSTROOM_WEBHOOK_ALLOW_CIDRS: comma-separated CIDRs or bare addresses
    ("" for none); ValueError naming the first entry that is neither."""
    if not text.strip():
        return ()
    return tuple(_cidr(entry.strip()) for entry in text.split(","))


def _cidr(entry: str) -> Network:
    try:
        # strict: "10.0.0.5/8" is more likely a typo than a wish to allow all of 10/8.
        return ip_network(entry, strict=True)
    except ValueError:
        raise ValueError(f"not a CIDR or an IP address: {entry!r}") from None


def refusal(ip: IPAddress, allowed: Sequence[Network] = ()) -> str:
    """Why a connection to `ip` may not be made ("loopback address"), "" when it may: inside
    `allowed` it may; otherwise only to globally routable unicast addresses."""
    ip = _unmapped(ip)
    if _inside(ip, allowed):
        return ""
    return _reason(ip)


def plain_http_allowed(ip: IPAddress, allowed: Sequence[Network] = ()) -> bool:
    """Plain http:// only to the operator's own networks: anywhere else the signed payload and
    its response would cross networks nobody here controls, readable and alterable."""
    return _inside(_unmapped(ip), allowed)


def check_url(url: str) -> str:
    """Why `url` may not be an endpoint's URL, "" when it may. The reason never repeats the
    URL (it may hold a token the user would not want in an error or a log)."""
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        # urlsplit quietly drops tabs and newlines; a URL that has them is not the one we'd use.
        return "the URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    return _url_parts_reason(parts.scheme, parts.netloc, parts.hostname, port, "#" in url)


def _url_parts_reason(
    scheme: str, netloc: str, hostname: str | None, port: int | None, fragment: bool
) -> str:
    if scheme.lower() not in ("http", "https"):
        return "the URL must be http or https"
    if "@" in netloc:
        return "the URL must not contain credentials"
    if not hostname:
        return "the URL has no host"
    if port == 0:
        return "the URL's port must not be 0"
    if fragment:
        return "the URL must not have a fragment"
    return ""


def _unmapped(ip: IPAddress) -> IPAddress:
    # ::ffff:a.b.c.d is the IPv4 address on a dual-stack socket: judge it as that address.
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _inside(ip: IPAddress, allowed: Sequence[Network]) -> bool:
    # `in` is False across versions, so IPv6 ranges never admit an IPv4 address or back.
    return any(ip in network for network in allowed)


def _reason(ip: IPAddress) -> str:
    if isinstance(ip, IPv6Address):
        embedded = _embedded_reason(ip)
        if embedded is not None:
            return embedded
    return next((reason for reason, applies in _RULES if applies(ip)), "")


def _embedded_reason(ip: IPv6Address) -> str | None:
    """The verdict on an IPv6 address that carries an IPv4 one to connect to, None for others.
    Through NAT64 the IPv4 is all that counts; 6to4 must pass both ways (the IPv6 too)."""
    if ip in _NAT64:
        inner = _reason(IPv4Address(int(ip) & 0xFFFFFFFF))
        return f"{inner} via NAT64" if inner else ""
    if ip.sixtofour is not None:
        inner = _reason(ip.sixtofour)
        return f"{inner} via 6to4" if inner else None
    return None


def _within(*cidrs: str) -> Callable[[IPAddress], bool]:
    networks = tuple(ip_network(cidr) for cidr in cidrs)
    return lambda ip: any(ip in network for network in networks)


def _not_global(ip: IPAddress) -> bool:
    return not ip.is_global


def _ietf_protocol(ip: IPAddress) -> bool:
    # RFC 6890: none of 192.0.0.0/24 is global but the PCP and TURN anycast addresses (older
    # Pythons call most of it global).
    return ip in _IETF_PROTOCOL and ip not in _IETF_ANYCAST


_IETF_PROTOCOL = ip_network("192.0.0.0/24")
_IETF_ANYCAST = (ip_address("192.0.0.9"), ip_address("192.0.0.10"))


# First match names the reason. The named ranges are explicit rather than left to is_private,
# whose lists have changed between Python releases; `is_global` catches whatever else IANA's
# special-purpose registries say is not globally reachable (benchmarking, 192.0.0.0/24, ...).
_RULES: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified address", lambda ip: ip.is_unspecified),
    ("loopback address", lambda ip: ip.is_loopback),
    # AWS (IPv4 and IPv6), GCP, Azure, Oracle use 169.254.169.254; Alibaba 100.100.100.200.
    ("cloud metadata address", _within("169.254.169.254/32", "fd00:ec2::254/128")),
    ("cloud metadata address", _within("100.100.100.200/32")),
    ("link-local address", lambda ip: ip.is_link_local),
    ("multicast address", lambda ip: ip.is_multicast),
    ("broadcast address", _within("255.255.255.255/32")),
    ("this-network address", _within("0.0.0.0/8")),
    ("private address", _within("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("shared address space (CGNAT)", _within("100.64.0.0/10")),
    ("site-local address", _within("fec0::/10")),
    ("IPv4-compatible address", _within(str(_COMPATIBLE))),
    (
        "documentation address",
        _within("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
    ),
    # Local-use NAT64 (RFC 8215) translates to whatever the local operator chose.
    ("local NAT64 address", _within("64:ff9b:1::/48")),
    ("IETF protocol address", _ietf_protocol),
    ("reserved address", lambda ip: ip.is_reserved),
    ("non-global address", _not_global),
)
