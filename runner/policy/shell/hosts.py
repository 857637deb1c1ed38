"""Host and URL parsing: ``host:port``, URLs and their default ports, scp-style remotes."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_DEFAULT_PORTS = {
    "http": 80, "https": 443, "ftp": 21, "ftps": 990, "sftp": 22, "ssh": 22, "scp": 22,
    "git": 9418, "rsync": 873, "ws": 80, "wss": 443, "telnet": 23, "ldap": 389, "ldaps": 636,
    "smtp": 25, "smtps": 465, "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995,
    "redis": 6379, "rediss": 6379, "mongodb": 27017, "postgres": 5432, "postgresql": 5432,
    "mysql": 3306, "amqp": 5672, "amqps": 5671, "mqtt": 1883, "nats": 4222, "gopher": 70,
    "dict": 2628, "socks4": 1080, "socks4a": 1080, "socks5": 1080, "socks5h": 1080,
    "tftp": 69, "svn": 3690, "irc": 6667, "ircs": 6697, "tcp": None, "udp": None,
}
_URL_RE = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,30})://[^\s'\"<>]*")


def split_host_port(text: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port``, ``user@host:port``, bare IPv6 literals."""
    s = text.strip()
    if "@" in s:
        s = s.rpartition("@")[2]
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = _port(rest[1:]) if rest.startswith(":") else None
        return host, port if port is not None else default_port
    if s.count(":") == 1:
        host, _, p = s.partition(":")
        port = _port(p)
        return host, port if port is not None else default_port
    return s, default_port


def _port(text: str) -> int | None:
    m = re.match(r"^(\d{1,5})", text)
    if not m:
        return None
    v = int(m.group(1))
    return v if 0 < v < 65536 else None


def url_host(url: str) -> tuple[str, int | None, str] | None:
    """(host, port, scheme) of a URL, or None when it names no host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    transport = scheme.rpartition("+")[2] if "+" in scheme else scheme
    host = parts.hostname
    if not host:
        netloc = parts.netloc.rpartition("@")[2]
        if netloc.startswith("["):
            host = netloc[1:].partition("]")[0]
        else:
            host = netloc.partition(":")[0] if netloc.count(":") <= 1 else netloc
    if not host or transport == "file":
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(transport)
    return host, port, transport


def authority_of(url: str) -> str:
    """The ``user@host:port`` part of ``scheme://...`` (up to the first ``/``, ``?`` or ``#``)."""
    rest = url.partition("://")[2]
    end = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < end:
            end = i
    return rest[:end]


def authority_is_dynamic(authority: str) -> bool:
    """Whether an expansion (``$``, a backtick, xargs' ``{}``) or a split point is in a URL's authority.

    Any of them there may change the host, even after the ``:`` of a port
    (``localhost:$PORT`` with ``PORT=80@evil.example``).
    """
    return any(c in "$`" or c.isspace() for c in authority) or not authority or "{}" in authority


def scp_remote(text: str) -> str | None:
    """The host of an scp/rsync-style remote ``[user@]host:path`` (None: a local path)."""
    if "://" in text:
        return None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host if rest.startswith(":") and host else None
    head, sep, _ = text.partition(":")
    if not sep or "/" in head or not head:
        return None
    host = head.rpartition("@")[2]
    return host or None


def urlsplit_path(text: str) -> str:
    try:
        return urlsplit(text if "://" in text else "http://" + text).path
    except ValueError:
        return ""
