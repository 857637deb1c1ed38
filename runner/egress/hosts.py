"""Host patterns of the egress allowlists, connection targets, and addresses the proxy refuses.

Allowlist entries (``--allow-host``, ``[egress] allow_hosts``, ``allowed_hosts`` and
``setup_allowed_hosts`` in the policy data)::

    pypi.org              the host, on the default ports (80, 443)
    index.test:8080       the host on that port only
    *.example.com[:PORT]  every subdomain of example.com (not example.com itself)
    10.1.2.3[:PORT]       an IPv4 literal
    [fd00::5][:PORT]      an IPv6 literal (bare, without brackets, when there is no port)

Names are ASCII (internationalized names in their ``xn--`` form), case-insensitive, without
a trailing dot; IP literals are canonical. ``policies/network.rego`` matches entries with
the same grammar (``split_entry``); everything malformed is refused here, when it is given.

The SSRF rule (:func:`refused_address`): after the policy allowed a host, the proxy resolves
it and refuses loopback, private (RFC 1918, ULA), link-local, multicast, unspecified, other
non-global and cloud metadata addresses, unless the host was listed as that IP literal or
matches an ``allow_private`` pattern (metadata addresses: only as a listed literal).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = (80, 443)
MAX_NAME = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
    "169.254.170.2",  # AWS ECS task metadata
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "100.100.100.200",  # Alibaba Cloud
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "fc00::/7",  # unique local addresses (RFC 4193)
))


class BadHost(ValueError):
    """A host pattern or a connection target that is not well-formed."""


@dataclass(frozen=True)
class HostPattern:
    """One allowlist entry, parsed."""

    host: str  # a name, "*.suffix", or an IP literal (canonical, no brackets)
    port: int | None  # None: the default ports

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    @property
    def ip(self) -> IPAddress | None:
        return _ip_literal(self.host)

    @property
    def entry(self) -> str:
        """The canonical text of the entry (what the policy data holds)."""
        host = f"[{self.host}]" if ":" in self.host and self.port is not None else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def matches_host(self, host: str) -> bool:
        if self.wildcard:
            return host.endswith(self.host[1:])
        return host == self.host

    def matches(self, host: str, port: int, default_ports: tuple[int, ...] = DEFAULT_PORTS) -> bool:
        return self.matches_host(host) and (
            port in default_ports if self.port is None else port == self.port)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _port(text: str, what: str) -> int:
    if not _PORT.match(text) or not 1 <= int(text) <= 65535:
        raise BadHost(f"{what}: the port must be a number from 1 to 65535")
    return int(text)


def check_name(name: str, what: str) -> str:
    """A DNS name, lowercase, without the trailing dot; a numeric look-alike of an IPv4
    address (``127.1``, ``2130706433``, ``0x7f.1``) is refused, not resolved."""
    name = name.lower().removesuffix(".")
    if not name or len(name) > MAX_NAME:
        raise BadHost(f"{what}: a host name must have 1 to {MAX_NAME} characters")
    if not name.isascii():
        raise BadHost(f"{what}: write an internationalized name in its xn-- (IDNA) form")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise BadHost(f"{what}: not a host name (letters, digits, '-' and '_' in dot-separated "
                      "labels of at most 63 characters)")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):
        raise BadHost(f"{what}: a numeric name that is not an IPv4 address in dotted form")
    return name


def _canonical_ip(text: str) -> str | None:
    ip = _ip_literal(text)
    return None if ip is None else ip.compressed


def _ipv6(text: str, problem: str) -> str:
    """A canonical IPv6 literal (no %zone) or :class:`BadHost` with ``problem``."""
    ip = _ip_literal(text)
    if ip is None or ip.version != 6 or "%" in text:
        raise BadHost(problem)
    return ip.compressed


def parse_host_pattern(text: str, *, canonical: bool = False) -> HostPattern:
    """One allowlist entry; :class:`BadHost` with a one-line reason when malformed.

    ``canonical``: the text must already be in the canonical form (policy data, which the
    Rego policies compare as text): a non-canonical entry is refused with the form to use.
    """
    what = repr(text)
    raw = text.strip().lower()
    if not raw:
        raise BadHost("an empty host")
    port: int | None = None
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise BadHost(f"{what}: an IPv6 literal needs its closing ']'")
        inner, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise BadHost(f"{what}: only ':PORT' may follow ']'")
            port = _port(rest[1:], what)
        host = _ipv6(inner, f"{what}: not an IPv6 address in brackets")
    elif raw.count(":") >= 2:
        host = _ipv6(raw, f"{what}: not an IPv6 address (write [ADDRESS]:PORT for a port)")
    else:
        name, sep, port_text = raw.partition(":")
        if sep:
            port = _port(port_text, what)
        if name.startswith("*."):
            host = f"*.{check_name(name[2:], what)}"  # never an address: no numeric last label
        elif "*" in name:
            raise BadHost(f"{what}: '*' is allowed only as a leading '*.' (*.example.com)")
        else:
            host = _canonical_ip(name) or check_name(name, what)
    pattern = HostPattern(host=host, port=port)
    if canonical and pattern.entry != text:
        raise BadHost(f"{what}: write it as {pattern.entry!r}")
    return pattern


def parse_host_patterns(entries: list[str], *, canonical: bool = False) -> list[HostPattern]:
    return [parse_host_pattern(e, canonical=canonical) for e in entries]


def check_host_entries(entries: list[str]) -> list[str]:
    """Allowlist entries in their canonical form (a pydantic validator's body)."""
    return [parse_host_pattern(e).entry for e in entries]


# --- connection targets ---------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """A connection's host as the policy sees it: a lowercase name without the trailing dot,
    or a canonical IP literal without brackets; :class:`BadHost` otherwise."""
    what = repr(host[:100])
    if host.startswith("[") and host.endswith("]"):
        return _ipv6(host[1:-1], f"{what}: not an IPv6 address in brackets")
    if ":" in host:
        raise BadHost(f"{what}: an IPv6 address must be in brackets")
    literal = _canonical_ip(host)
    return literal if literal is not None else check_name(host, what)


def split_authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) of a CONNECT target or a URL, normalized."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise BadHost("an IPv6 address needs its closing ']'")
        host, rest = authority[: end + 1], authority[end + 1:]
        if rest and not rest.startswith(":"):
            raise BadHost("only ':PORT' may follow ']'")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if port_text:
        port = _port(port_text, repr(authority[:100]))
    elif default_port is None:
        raise BadHost("the target needs a port (host:port)")
    else:
        port = default_port
    if "@" in host:
        raise BadHost("user information in the target is not allowed")
    return normalize_host(host), port


# --- the SSRF rule ---------------------------------------------------------------------------


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address ("loopback", "private", ...); None when it is."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            inner = address_kind(embedded)
            return f"{inner} (embedded in {ip.compressed})" if inner else None
    private = any(ip in net for net in PRIVATE_NETWORKS if net.version == ip.version)
    for kind, flag in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", private)):
        if flag:
            return kind
    if ip.is_private or not ip.is_global:
        return "reserved (not a public address)"
    return None


def refused_address(ip: IPAddress, *, listed_literal: bool, private_allowed: bool) -> str | None:
    """The SSRF rule for one resolved address: a reason to refuse it, or None.

    ``listed_literal``: the connection's host is this IP literal and the allowlist names it;
    ``private_allowed``: the host matches an ``allow_private`` pattern.
    """
    kind = address_kind(ip)
    if kind is None or listed_literal:
        return None
    if private_allowed and not kind.startswith("a cloud metadata"):
        return None
    return kind
