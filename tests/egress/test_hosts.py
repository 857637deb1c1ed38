"""Allowlist entries, connection targets and the SSRF rule (runner/egress/hosts.py)."""

from __future__ import annotations

import ipaddress

import pytest

from runner.egress.hosts import (
    BadHost,
    HostPattern,
    address_kind,
    normalize_host,
    parse_host_pattern,
    refused_address,
    split_authority,
)


@pytest.mark.parametrize(("text", "host", "port", "entry"), [
    ("pypi.org", "pypi.org", None, "pypi.org"),
    ("PyPI.org.", "pypi.org", None, "pypi.org"),
    ("index.test:8080", "index.test", 8080, "index.test:8080"),
    ("*.example.com", "*.example.com", None, "*.example.com"),
    ("*.Example.com:8443", "*.example.com", 8443, "*.example.com:8443"),
    ("10.1.2.3:3141", "10.1.2.3", 3141, "10.1.2.3:3141"),
    ("[FD00:0::5]:443", "fd00::5", 443, "[fd00::5]:443"),
    ("2001:db8::1", "2001:db8::1", None, "2001:db8::1"),
    ("[::1]", "::1", None, "::1"),
    ("under_score.internal", "under_score.internal", None, "under_score.internal"),
])
def test_host_patterns_parse_to_their_canonical_entry(text: str, host: str, port: int | None,
                                                      entry: str) -> None:
    pattern = parse_host_pattern(text)
    assert (pattern.host, pattern.port, pattern.entry) == (host, port, entry)
    assert parse_host_pattern(entry, canonical=True) == pattern


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"),
    ("a b", "not a host name"),
    ("pypi.org:0", "port"),
    ("pypi.org:65536", "port"),
    ("pypi.org:http", "port"),
    ("*", "only as a leading"),
    ("ex*.com", "only as a leading"),
    ("*.*.example.com", "not a host name"),
    ("127.1", "numeric"),
    ("2130706433", "numeric"),
    ("0x7f.1", "numeric"),
    ("*.0.0.1", "numeric"),
    ("[::1", "closing"),
    ("[::1]x", "':PORT'"),
    ("[10.0.0.1]:80", "not an IPv6"),
    ("[fe80::1%eth0]:80", "not an IPv6"),
    ("fe80::1%eth0", "not an IPv6"),
    ("bücher.example", "xn--"),
    ("-bad.example", "not a host name"),
    ("a" * 64 + ".example", "not a host name"),
    ("http://pypi.org", "port"),
])
def test_bad_host_patterns_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(BadHost, match=says):
        parse_host_pattern(text)


def test_policy_data_entries_must_be_canonical() -> None:
    with pytest.raises(BadHost, match=r"write it as 'pypi\.org'"):
        parse_host_pattern("PyPI.org", canonical=True)
    with pytest.raises(BadHost, match=r"write it as '\[fd00::5\]:443'"):
        parse_host_pattern("[fd00:0::5]:443", canonical=True)


def test_pattern_matching() -> None:
    exact, wild, port = HostPattern("pypi.org", None), HostPattern("*.example.com", None), \
        HostPattern("index.test", 8080)
    assert exact.matches("pypi.org", 443) and exact.matches("pypi.org", 80)
    assert not exact.matches("pypi.org", 22) and not exact.matches("evil.pypi.org", 443)
    assert wild.matches("a.example.com", 443) and wild.matches("a.b.example.com", 443)
    assert not wild.matches("example.com", 443) and not wild.matches("evilexample.com", 443)
    assert port.matches("index.test", 8080) and not port.matches("index.test", 443)


@pytest.mark.parametrize(("authority", "default", "expected"), [
    ("pypi.org:443", None, ("pypi.org", 443)),
    ("PyPI.org.:443", None, ("pypi.org", 443)),
    ("[2001:DB8::1]:8443", None, ("2001:db8::1", 8443)),
    ("pypi.org", 80, ("pypi.org", 80)),
    ("127.0.0.1:8080", None, ("127.0.0.1", 8080)),
])
def test_connection_targets_are_normalized(authority: str, default: int | None,
                                           expected: tuple[str, int]) -> None:
    assert split_authority(authority, default) == expected


@pytest.mark.parametrize("authority", [
    "pypi.org", "user@pypi.org:443", "2001:db8::1:443", "[2001:db8::1]443", "127.1:80",
    "pypi.org:99999", "evil host:443", "[::1%lo]:80", "",
])
def test_bad_connection_targets(authority: str) -> None:
    with pytest.raises(BadHost):
        split_authority(authority, None)


def test_normalize_host() -> None:
    assert normalize_host("[::FFFF:127.0.0.1]") == "::ffff:7f00:1"
    with pytest.raises(BadHost):
        normalize_host("::1")


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("100.64.0.1", "not a public"), ("192.0.2.1", "not a public"),
    ("203.0.113.80", "not a public"), ("240.0.0.1", "not a public"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a00:1", "private"), ("2002:a00:1::", "private"), ("2001:db8::1", "not a public"),
])
def test_non_public_addresses_are_classified(address: str, kind: str) -> None:
    found = address_kind(ipaddress.ip_address(address))
    assert found is not None and kind in found


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.0.223", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) is None


def test_exemptions() -> None:
    loop, meta = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254")
    assert refused_address(loop, listed_literal=False, private_allowed=False) == "loopback"
    assert refused_address(loop, listed_literal=True, private_allowed=False) is None
    assert refused_address(loop, listed_literal=False, private_allowed=True) is None
    # metadata: only the listed literal itself, never a name allowed to be private
    assert refused_address(meta, listed_literal=False, private_allowed=True) is not None
    assert refused_address(meta, listed_literal=True, private_allowed=False) is None
