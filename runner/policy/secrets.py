"""Hard-coded secrets in what a tool call writes or runs, found by detect-secrets' plugins.

Findings carry the rule (a kebab-case plugin name) and where it was found, never
the value.

Which plugins (the list and the rule names are runner/secret_detectors.py's, shared with
redaction: a secret is named alike in a deny and in a ``[REDACTED:<rule>]`` mark):

* The token-format detectors are on: all of detect-secrets' regex plugins (AWS, private
  keys, GitHub, GitLab, Slack, Stripe, JWT, basic-auth URLs, ...) and an Anthropic key
  pattern; a hit is a real credential shape.
* ``IPPublicDetector`` is off: an IP address is not a credential (hosts are the
  network policy's business).
* ``KeywordDetector`` is off unless asked for (``keyword=True``): it flags any
  quoted value assigned to a secret-sounding name, which in a backend's code and
  tests (``password="correct horse"`` in a login test) is mostly noise, and a
  deny there would stop the agent writing ordinary auth code.
* The entropy plugins are off unless asked for (``entropy=True``), as the issue
  requires; they flag hashes, test vectors and base64 fixtures.

Development defaults and documentation samples are not secrets (issue 9): a basic-auth
URL whose credentials are a well-known placeholder (:data:`PLACEHOLDER_PASSWORDS`, the same
user and password such as ``postgres:postgres``) or whose host is a development host
(:func:`dev_host`: localhost, loopback addresses, a single-label service name such as ``db``,
``*.local``, ``*.localhost``, ``*.internal``, ``*.test``), and the jwt.io sample token
(any JWT whose payload is the sample's ``{"sub": "1234567890", "name": "John Doe", ...}``)
are not findings. Every other credential-shaped value still is: a real-looking password
for a real host, any other JWT.

The plugins are used directly (``analyze_string``), not through detect-secrets'
scan pipeline: that pipeline reads global settings, may *verify* secrets over
the network when a verification filter is configured, and honours
``pragma: allowlist secret`` comments, which would let the agent switch the check
off by writing a comment. To stay fast on large files, each plugin runs only on
the lines that could match: where a cheap "gate" regex read off the plugin's own
regex (its strongest literal part) matches, or, for regexes without one, where
the regex itself matches over the whole text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner.policy.models import SecretFinding
from runner.secret_detectors import RULES, rule_of, token_detectors
from runner.secret_gates import Prefilter, ascii_lines, doc_of, prefilter


@dataclass
class _Plugin:
    rule: str
    instance: Any
    prefilter: tuple[Prefilter, ...]  # () = no cheap prefilter, always run per line


_lock = threading.Lock()
_regex_plugins: list[_Plugin] | None = None
_entropy_plugins: list[_Plugin] | None = None
_keyword_plugin: _Plugin | None = None


def _load_regex_plugins() -> list[_Plugin]:
    return [_Plugin(rule_of(d), d, tuple(prefilter(p) for p in d.denylist))
            for d in token_detectors()]


def _load_entropy_plugins() -> list[_Plugin]:
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

    return [
        _Plugin(RULES["Base64HighEntropyString"], Base64HighEntropyString(limit=4.5), ()),
        _Plugin(RULES["HexHighEntropyString"], HexHighEntropyString(limit=3.0), ()),
    ]


_plugin_gates: tuple[list[_Plugin], tuple[Prefilter, ...]] | None = None


def _gates(plugins: list[_Plugin]) -> tuple[Prefilter, ...]:
    """Every gate of ``plugins``, in order: one tuple while the plugin list is the same."""
    global _plugin_gates
    kept = _plugin_gates
    if kept is None or kept[0] is not plugins:
        kept = _plugin_gates = (plugins, tuple(p for pl in plugins for p in pl.prefilter))
    return kept[1]


def regex_plugins() -> list[_Plugin]:
    """The regex plugins, instantiated once per process."""
    global _regex_plugins
    if _regex_plugins is None:
        with _lock:
            if _regex_plugins is None:
                _regex_plugins = _load_regex_plugins()
    return _regex_plugins


def _entropy() -> list[_Plugin]:
    global _entropy_plugins
    if _entropy_plugins is None:
        with _lock:
            if _entropy_plugins is None:
                _entropy_plugins = _load_entropy_plugins()
    return _entropy_plugins


def _keyword() -> _Plugin:
    global _keyword_plugin
    if _keyword_plugin is None:
        from detect_secrets.plugins.keyword import KeywordDetector

        _keyword_plugin = _Plugin(RULES["KeywordDetector"], KeywordDetector(), ())
    return _keyword_plugin


# --- placeholders ------------------------------------------------------------------------------

# Passwords of examples, tutorials, docker-compose files and .env.example templates.
PLACEHOLDER_PASSWORDS = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "changeme", "change-me", "change_me",
    "changethis", "change-this", "example", "test", "testing", "tests", "dev", "development",
    "local", "default", "dummy", "fake", "sample", "placeholder", "postgres", "postgresql",
    "mysql", "root", "admin", "administrator", "user", "username", "guest", "demo", "app",
    "foo", "bar", "foobar", "xxx", "xxxx", "xxxxxx", "xxxxxxxx", "1234", "12345", "123456",
    "12345678", "qwerty", "letmein", "mypassword", "yourpassword", "your-password",
    "your_password", "db_password", "redis", "rabbitmq", "mongo", "s3cr3t",
})
# <password>, ***, xxxx, ..., $DB_PASSWORD, %(password)s
_PLACEHOLDER_SHAPE = re.compile(r"^(<[^<>]*>|\*+|x+|\.{3}|\$\w+|%\(\w+\)s)$", re.IGNORECASE)
_DEV_SUFFIXES = (".local", ".localhost", ".internal", ".test", ".invalid", ".localdomain")
_BASIC_AUTH_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^\s{}:/@]*):([^\s{}]+?)@([^\s/?#'\"<>,;]*)")
_JWT_SAMPLE = {"sub": "1234567890", "name": "John Doe"}


def dev_host(host: str) -> bool:
    """localhost, a loopback or unspecified address, a single-label service name (``db``) or a
    reserved local suffix (``*.local``, ``*.internal``, ``*.test`` ...)."""
    h = host.strip("[]").rpartition(":")[0] if host.count(":") == 1 else host.strip("[]")
    h = h.lower().rstrip(".")
    return (
        not h or h in ("localhost", "::1", "0.0.0.0") or h.startswith("127.")
        or ("." not in h and ":" not in h and not h.isdigit())
        or h.endswith(_DEV_SUFFIXES)
    )


def placeholder_password(user: str, password: str) -> bool:
    p = password.lower()
    return (
        p == user.lower() or p in PLACEHOLDER_PASSWORDS or bool(_PLACEHOLDER_SHAPE.match(p))
    )


def _basic_auth_placeholder(line: str) -> bool:
    """Every user:password@host URL on the line is a development default (and there is one)."""
    found = list(_BASIC_AUTH_URL.finditer(line))
    return bool(found) and all(
        placeholder_password(m.group(1), m.group(2)) or dev_host(m.group(3)) for m in found
    )


def _jwt_sample(token: str) -> bool:
    """The jwt.io sample token (whatever the header and signature)."""
    import base64
    import json

    parts = token.split(".")
    if len(parts) < 2:
        return False
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return False
    return isinstance(claims, dict) and all(claims.get(k) == v for k, v in _JWT_SAMPLE.items())


def _found(plugin: _Plugin, line: str) -> bool:
    """The plugin finds something on the line that is not a placeholder (see above)."""
    values = plugin.instance.analyze_string(line)
    if plugin.rule == "basic-auth-credentials":
        return any(True for _ in values) and not _basic_auth_placeholder(line)
    if plugin.rule == "jwt-token":
        return any(not _jwt_sample(v) for v in values)
    return any(True for _ in values)


def _lines(text: str) -> Iterable[tuple[int, str]]:
    return enumerate(text.splitlines(), start=1)


def _value_filters() -> tuple[Any, ...]:
    from detect_secrets.filters.heuristic import (
        is_potential_uuid,
        is_sequential_string,
        is_templated_secret,
    )

    return is_sequential_string, is_potential_uuid, is_templated_secret


def _entropy_hits(plugin: _Plugin, line: str) -> bool:
    inst = plugin.instance
    filters = _value_filters()
    for value in inst.analyze_string(line):
        if inst.calculate_shannon_entropy(value) <= inst.entropy_limit:
            continue
        if any(f(value) for f in filters):
            continue
        return True
    return False


def _keyword_hits(plugin: _Plugin, line: str, filename: str) -> bool:
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
    )
    from detect_secrets.util.filetype import determine_file_type

    table = REGEX_BY_FILETYPE.get(
        determine_file_type(filename or "x.txt"), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
    )
    filters = _value_filters()
    return any(
        value and not any(f(value) for f in filters)
        for value in plugin.instance.analyze_string(line, denylist_regex_to_group=table)
    )


def scan(
    text: str,
    where: str,
    *,
    filename: str = "",
    entropy: bool = False,
    keyword: bool = False,
) -> list[SecretFinding]:
    """Secret findings in ``text`` (one per rule and line); never the value."""
    if not text:
        return []
    findings: list[SecretFinding] = []
    seen: set[tuple[str, int]] = set()

    def add(rule: str, line: int) -> None:
        if (rule, line) not in seen:
            seen.add((rule, line))
            findings.append(SecretFinding(rule=rule, where=where, line=line))

    doc = doc_of(text)
    # the gates hold for ASCII text: a line that is not ASCII is a candidate for every
    # plugin, and the gates are asked about the others (the text with those lines emptied)
    odd: list[int] = []
    gated = doc
    if not text.isascii():
        ascii_text, odd = ascii_lines(doc.lines)
        gated = doc_of(ascii_text)
    plugins = regex_plugins()
    possible = iter(gated.possible_among(_gates(plugins)))
    for plugin in plugins:
        lines = set(odd)
        for p in plugin.prefilter:
            if next(possible):
                lines |= p.candidate_lines(gated)
        for index in sorted(lines):
            if index < len(doc.lines) and _found(plugin, doc.lines[index]):
                add(plugin.rule, index + 1)
    if entropy:
        for plugin in _entropy():
            for number, line in _lines(text):
                if _entropy_hits(plugin, line):
                    add(plugin.rule, number)
    if keyword:
        plugin = _keyword()
        for number, line in _lines(text):
            if _keyword_hits(plugin, line, filename):
                add(plugin.rule, number)
    return findings


def warm_up() -> None:
    """Load and compile the plugins now (the first scan otherwise pays for it)."""
    regex_plugins()
