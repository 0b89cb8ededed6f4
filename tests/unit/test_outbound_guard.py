"""The webhook address policy: which addresses may be connected to, and which URLs taken."""

from ipaddress import ip_address, ip_network

import pytest

from postroom.outbound.guard import (
    HTTPS_REQUIRED,
    check_url,
    parse_cidrs,
    plain_http_allowed,
    refusal,
)

REFUSED = [
    ("127.0.0.1", "loopback address"),
    ("127.255.255.254", "loopback address"),
    ("::1", "loopback address"),
    ("10.0.0.1", "private address"),
    ("10.255.255.255", "private address"),
    ("172.16.0.1", "private address"),
    ("172.31.255.255", "private address"),
    ("192.168.1.1", "private address"),
    ("fc00::1", "private address"),
    ("fd12:3456::1", "private address"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("169.254.169.254", "cloud metadata address"),
    ("fd00:ec2::254", "cloud metadata address"),
    ("100.100.100.200", "cloud metadata address"),
    ("169.254.1.1", "link-local address"),
    ("fe80::1", "link-local address"),
    ("fe80::1%eth0", "link-local address"),
    ("febf::1", "link-local address"),
    ("224.0.0.1", "multicast address"),
    ("239.255.255.250", "multicast address"),
    ("ff02::1", "multicast address"),
    ("0.0.0.0", "unspecified address"),
    ("::", "unspecified address"),
    ("0.1.2.3", "this-network address"),
    ("255.255.255.255", "broadcast address"),
    ("240.0.0.1", "reserved address"),
    ("fec0::1", "site-local address"),
    ("192.0.2.1", "documentation address"),
    ("198.51.100.7", "documentation address"),
    ("203.0.113.9", "documentation address"),
    ("2001:db8::1", "documentation address"),
    ("3fff::1", "documentation address"),
    ("198.18.0.1", "non-global address"),  # benchmarking
    ("192.0.0.1", "IETF protocol address"),
    ("192.0.0.8", "IETF protocol address"),
    ("2001::1", "non-global address"),  # Teredo
    ("64:ff9b:1::a00:1", "local NAT64 address"),
]

EMBEDDED = [
    ("::ffff:127.0.0.1", "loopback address"),
    ("::ffff:10.0.0.1", "private address"),
    ("::ffff:169.254.169.254", "cloud metadata address"),
    ("::ffff:0.0.0.0", "unspecified address"),
    ("64:ff9b::127.0.0.1", "loopback address via NAT64"),
    ("64:ff9b::10.1.2.3", "private address via NAT64"),
    ("64:ff9b::169.254.169.254", "cloud metadata address via NAT64"),
    ("2002:7f00:1::1", "loopback address via 6to4"),
    ("2002:c0a8:101::1", "private address via 6to4"),
    ("2002:a9fe:a9fe::1", "cloud metadata address via 6to4"),
    ("::10.0.0.1", "IPv4-compatible address"),
    ("::127.0.0.1", "IPv4-compatible address"),
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",  # just past 172.16/12
    "100.128.0.1",  # just past 100.64/10
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "192.0.0.9",  # PCP anycast: the one global part of 192.0.0.0/24 with 192.0.0.10
]


@pytest.mark.parametrize(("address", "reason"), REFUSED + EMBEDDED)
def test_refused_without_an_allow_list(address: str, reason: str) -> None:
    """Every non-public range is refused, with the reason naming it."""
    assert refusal(ip_address(address), ()) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    """Globally routable unicast addresses, also inside IPv4-mapped, NAT64 and 6to4 ones."""
    assert refusal(ip_address(address), ()) == ""


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_an_allow_list_admits_exactly_its_ranges(address: str, reason: str) -> None:
    """An address inside an allowed range may be connected to; the list admits no other."""
    ip = ip_address(address)
    network = ip_network(f"{address.split('%')[0]}/{ip.max_prefixlen}")
    assert refusal(ip, (network,)) == ""
    elsewhere = (ip_network("203.0.113.0/24"), ip_network("2001:db8::/32"))
    if ip not in elsewhere[0] and ip not in elsewhere[1]:
        assert refusal(ip, elsewhere) == reason


def test_the_allow_list_judges_the_ipv4_inside_a_mapped_address() -> None:
    """::ffff:127.0.0.1 is 127.0.0.1 on the wire: an IPv4 range admits it."""
    assert refusal(ip_address("::ffff:127.0.0.1"), parse_cidrs("127.0.0.0/8")) == ""
    assert plain_http_allowed(ip_address("::ffff:127.0.0.1"), parse_cidrs("127.0.0.0/8"))


def test_the_allow_list_does_not_reach_into_nat64_or_6to4() -> None:
    """Allowing 10/8 does not allow 10/8 behind a translator: the IPv6 address is what counts."""
    allowed = parse_cidrs("10.0.0.0/8")
    assert refusal(ip_address("64:ff9b::10.0.0.1"), allowed) == "private address via NAT64"
    assert refusal(ip_address("2002:a00:1::1"), allowed) == "private address via 6to4"
    assert refusal(ip_address("64:ff9b::10.0.0.1"), parse_cidrs("64:ff9b::/96")) == ""


def test_ranges_of_one_version_never_admit_the_other() -> None:
    """An IPv6 allow list does not admit an IPv4 address, nor the other way round."""
    assert refusal(ip_address("10.0.0.1"), parse_cidrs("::/0")) == "private address"
    assert refusal(ip_address("fd00::1"), parse_cidrs("0.0.0.0/0")) == "private address"


def test_plain_http_only_inside_the_allow_list() -> None:
    """Plain http is for the operator's own networks: a public address needs https."""
    allowed = parse_cidrs("10.0.0.0/8,192.168.5.5")
    assert plain_http_allowed(ip_address("10.2.3.4"), allowed)
    assert plain_http_allowed(ip_address("192.168.5.5"), allowed)
    assert not plain_http_allowed(ip_address("192.168.5.6"), allowed)
    assert not plain_http_allowed(ip_address("8.8.8.8"), allowed)
    assert not plain_http_allowed(ip_address("8.8.8.8"), ())
    assert HTTPS_REQUIRED == "https required"


def test_parse_cidrs_takes_ranges_and_bare_addresses() -> None:
    """Comma-separated CIDRs and single addresses of both versions, spaces around commas."""
    assert parse_cidrs("10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1") == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.7/32"),
        ip_network("fd00::/8"),
        ip_network("::1/128"),
    )


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_cidrs_of_nothing_is_empty(text: str) -> None:
    """An unset or blank setting allows nothing extra."""
    assert parse_cidrs(text) == ()


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("10.0.0.0/33", "10.0.0.0/33"),
        ("10.0.0.0/8,localhost", "localhost"),
        ("10.0.0.5/8", "10.0.0.5/8"),  # host bits set: likely a typo
        ("10.0.0.0/8,,10.1.0.0/16", ""),
        ("127.1", "127.1"),
        ("10.0.0.0/8 192.168.0.0/16", "10.0.0.0/8 192.168.0.0/16"),
    ],
)
def test_parse_cidrs_names_the_bad_entry(text: str, entry: str) -> None:
    """Anything that is not a CIDR or an address is a ValueError naming that entry."""
    with pytest.raises(ValueError, match="not a CIDR or an IP address") as raised:
        parse_cidrs(text)
    assert repr(entry) in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/postroom",
        "http://hooks.example.com:8080/in?token=abc",
        "HTTPS://Example.COM",
        "https://[2001:db8::1]:8443/x",
        "https://10.0.0.1/x",  # addresses are judged when connecting, with the allow list
        "https://bücher.example/hook",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    ],
)
def test_check_url_takes_http_and_https_urls(url: str) -> None:
    """Any http(s) URL with a host and none of the refused parts is taken."""
    assert check_url(url) == ""


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "the URL must be http or https"),
        ("file:///etc/passwd", "the URL must be http or https"),
        ("gopher://127.0.0.1:6379/_x", "the URL must be http or https"),
        ("example.com/hook", "the URL must be http or https"),
        ("https:///path", "the URL has no host"),
        ("https://:443/path", "the URL has no host"),
        ("https://user:secret@example.com/", "the URL must not contain credentials"),
        ("https://user@example.com/", "the URL must not contain credentials"),
        ("https://example.com/#frag", "the URL must not have a fragment"),
        ("https://example.com/#", "the URL must not have a fragment"),
        ("https://example.com/" + "a" * 2048, "the URL is longer than 2048 characters"),
        ("https://exa mple.com/", "the URL contains spaces or control characters"),
        ("https://example.com/\nHost: x", "the URL contains spaces or control characters"),
        ("https://example.com\t/", "the URL contains spaces or control characters"),
        ("https://[::1/", "not a valid URL"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com:port/", "not a valid URL"),
        ("https://example.com:0/", "the URL's port must not be 0"),
    ],
)
def test_check_url_refuses_with_a_reason(url: str, reason: str) -> None:
    """Each refused URL gets its reason, which never repeats any part of the URL."""
    assert check_url(url) == reason
    assert "example" not in reason
    assert "secret" not in reason
