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

import bisect
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner.policy.models import SecretFinding
from runner.secret_detectors import RULES, rule_of, token_detectors


@dataclass(frozen=True)
class _Prefilter:
    """Which lines one of a plugin's regexes could match (a superset, never fewer).

    ``gate``: a cheap regex over the casefolded text that matches wherever the real
    regex does (see :func:`gate_pattern`); the lines where it matches are the
    candidates. Without a gate, the real regex itself is run over the whole text
    (compiled with MULTILINE, so its per-line anchors still work).
    """

    regex: re.Pattern[str]
    gate: re.Pattern[str] | None
    needles: tuple[str, ...] = ()  # when few: every gate match contains one (str search)
    folded: bool = True  # the gate runs on the casefolded text (else on the text itself)

    def candidate_lines(self, doc: _Doc) -> set[int]:
        if self.gate is not None and not self.folded:
            return {doc.line(m.start()) for m in self.gate.finditer(doc.text)}
        if self.gate is not None:
            folded = doc.folded
            if self.needles and not any(n in folded for n in self.needles):
                return set()
            return {doc.folded_line(m.start()) for m in self.gate.finditer(folded)}
        out: set[int] = set()
        for m in self.regex.finditer(doc.text):
            first, last = doc.line(m.start()), doc.line(max(m.start(), m.end() - 1))
            out.update(range(first, last + 1))
        return out


class _Doc:
    """A text split into lines, with offsets to map matches back to line indexes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = text.casefold()
        self._lines: list[str] | None = None
        self._starts: list[int] | None = None
        self._folded_starts: list[int] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def line(self, offset: int) -> int:
        if self._starts is None:
            self._starts = _starts(self.text)
        return max(0, bisect.bisect_right(self._starts, offset) - 1)

    def folded_line(self, offset: int) -> int:
        if self._folded_starts is None:
            self._folded_starts = _starts(self.folded)
        return max(0, bisect.bisect_right(self._folded_starts, offset) - 1)


def _starts(text: str) -> list[int]:
    starts = [0]
    pos = 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _prefilter(pattern: re.Pattern[str]) -> _Prefilter:
    found = gate_pattern(pattern.pattern, pattern.flags)
    full = re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
    if found is None or found[1] < MIN_GATE:
        anchored = anchored_gate(pattern.pattern, pattern.flags)
        if anchored is not None:  # run on the original text, with the regex's own flags
            return _Prefilter(full, re.compile(anchored, pattern.flags), (), folded=False)
        return _Prefilter(full, None)
    # a gate that starts with an alternation scans slowly: plain substring searches
    # for its few possible strings rule most texts out first
    options = found[2] or frozenset()
    needles = tuple(sorted(o for o in options if not any(p != o and p in o for p in options)))
    return _Prefilter(full, re.compile(found[0]), needles)


@dataclass
class _Plugin:
    rule: str
    instance: Any
    prefilter: tuple[_Prefilter, ...]  # () = no cheap prefilter, always run per line


_lock = threading.Lock()
_regex_plugins: list[_Plugin] | None = None
_entropy_plugins: list[_Plugin] | None = None
_keyword_plugin: _Plugin | None = None


def _load_regex_plugins() -> list[_Plugin]:
    return [_Plugin(rule_of(d), d, tuple(_prefilter(p) for p in d.denylist))
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


_EXACT_LIMIT = 256  # largest string set tracked for one part of a regex
_CLASS_LIMIT = 16  # largest character class expanded into literals
MIN_GATE = 3  # gates that can match fewer characters are too weak to be worth it
_NEEDLES = 8  # up to this many strings, a gate is pre-checked with substring searches


Gate = tuple[str, int, frozenset[str] | None]  # source, shortest match, its few strings


def gate_pattern(pattern: str, flags: int = 0) -> Gate | None:
    """A regex that matches in the casefolded text wherever ``pattern`` matches.

    Read off the regex's syntax tree: the strongest run of parts whose possible
    strings are known exactly (literals, small alternations and classes, bounded
    repeats), trimmed of optional ends and rendered as alternations of casefolded
    literals. Returns (source, shortest length it matches, the strings it can
    match when there are at most eight, else None) or None. Sound (the
    gate matches wherever the regex does, up to Unicode case-folding corner cases)
    but not complete: it only chooses the lines the real regex is run on.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern, flags)
    except Exception:
        return None
    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def product(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
        if len(a) * len(b) > _EXACT_LIMIT:
            return None
        return frozenset(x + y for x in a for y in b)

    def exact_seq(items: Any) -> frozenset[str] | None:
        acc: frozenset[str] | None = frozenset({""})
        for op, av in items:
            e = exact(op, av)
            acc = product(acc, e) if acc is not None and e is not None else None
            if acc is None:
                return None
        return acc

    def exact(op: Any, av: Any) -> frozenset[str] | None:
        """Every string this part can match, when that is a small finite set."""
        if op is c.LITERAL:
            return frozenset({chr(av)})
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return frozenset({""})  # zero-width
        if op is c.SUBPATTERN:
            return exact_seq(av[-1])
        if op is c.BRANCH:
            alts = [exact_seq(b) for b in av[1]]
            if any(a is None for a in alts):
                return None
            out = frozenset().union(*(a for a in alts if a is not None))
            return out if len(out) <= _EXACT_LIMIT else None
        if op is c.IN:
            chars: set[str] = set()
            for iop, iav in av:
                if iop is c.LITERAL:
                    chars.add(chr(iav))
                elif iop is c.RANGE and iav[1] - iav[0] < _CLASS_LIMIT:
                    chars.update(chr(x) for x in range(iav[0], iav[1] + 1))
                elif iop is c.CATEGORY and iav is c.CATEGORY_DIGIT:
                    chars.update("0123456789")
                else:
                    return None
            return frozenset(chars) if len(chars) <= _CLASS_LIMIT else None
        if op in repeats and av[1] <= 3:
            body = exact_seq(av[2])
            out_set: set[str] = set()
            power: frozenset[str] | None = frozenset({""})
            for k in range(av[1] + 1):
                if power is None or body is None:
                    return None
                if k >= av[0]:
                    out_set.update(power)
                power = product(power, body)
            return frozenset(out_set) if len(out_set) <= _EXACT_LIMIT else None
        return None

    def render(run: list[frozenset[str]]) -> Gate | None:
        while run and "" in run[0]:
            run = run[1:]
        while run and "" in run[-1]:
            run = run[:-1]
        if not run:
            return None
        parts = []
        for options in run:
            alts = [re.escape(x) for x in sorted({o.casefold() for o in options},
                                                 key=len, reverse=True)]
            parts.append(alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")")
        strings: frozenset[str] | None = frozenset({""})
        for options in run:
            folded = frozenset(o.casefold() for o in options)
            strings = product(strings, folded) if strings is not None else None
        if strings is not None and len(strings) > _NEEDLES:
            strings = None
        return "".join(parts), sum(min(len(o) for o in options) for options in run), strings

    def gate_seq(items: Any) -> Gate | None:
        best: Gate | None = None

        def consider(g: Gate | None) -> None:
            nonlocal best
            if g is not None and (best is None or g[1] > best[1]):
                best = g

        run: list[frozenset[str]] = []
        for op, av in items:
            e = exact(op, av)
            if e is not None:
                run.append(e)
                continue
            consider(render(run))
            run = []
            if op is c.SUBPATTERN:
                consider(gate_seq(av[-1]))
            elif op is c.ATOMIC_GROUP:
                consider(gate_seq(av))
            elif op is c.BRANCH:
                alts = [gate_seq(b) for b in av[1]]
                found = [a for a in alts if a is not None]
                if alts and len(found) == len(alts):
                    union: frozenset[str] | None = frozenset()
                    for a in found:
                        union = union | a[2] if union is not None and a[2] is not None else None
                    if union is not None and len(union) > _NEEDLES:
                        union = None
                    consider(("(?:" + "|".join(a[0] for a in found) + ")",
                              min(a[1] for a in found), union))
            elif op in repeats and av[0] >= 1:
                consider(gate_seq(av[2]))
        consider(render(run))
        return best

    try:
        return gate_seq(tree)
    except Exception:
        return None


_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S",
}


def anchored_gate(pattern: str, flags: int = 0) -> str | None:
    """A tail of ``pattern`` that starts with a literal, for regexes without a literal gate.

    The longest run of top-level literals, classes and their repeats that begins
    with a literal character (so the regex engine can scan for that character
    fast), rendered back to regex source; None when it would match fewer than
    MIN_GATE characters. Any match of ``pattern`` contains a match of it.
    """
    try:
        from re import _constants as c  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        items = list(_parser.parse(pattern, flags))
    except Exception:
        return None

    def char(code: int) -> str:
        return f"\\U{code:08x}"

    def klass(av: Any) -> str | None:
        parts = []
        negate = ""
        for op, v in av:
            if op is c.NEGATE:
                negate = "^"
            elif op is c.LITERAL:
                parts.append(char(v))
            elif op is c.RANGE:
                parts.append(f"{char(v[0])}-{char(v[1])}")
            elif op is c.CATEGORY and str(v) in _CATEGORIES:
                parts.append(_CATEGORIES[str(v)])
            else:
                return None
        return f"[{negate}{''.join(parts)}]"

    def atom(op: Any, av: Any) -> tuple[str, int] | None:
        if op is c.LITERAL:
            return char(av), 1
        if op is c.IN:
            k = klass(av)
            return (k, 1) if k is not None else None
        if op is c.MAX_REPEAT and len(av[2]) == 1:
            inner = atom(*av[2][0])
            if inner is None or av[2][0][0] not in (c.LITERAL, c.IN):
                return None
            hi = "" if av[1] is c.MAXREPEAT else str(av[1])
            return f"{inner[0]}{{{av[0]},{hi}}}", av[0]
        return None

    best: tuple[str, int] | None = None
    for start, (op, _) in enumerate(items):
        if op is not c.LITERAL:
            continue
        parts: list[str] = []
        length = 0
        for iop, iav in items[start:]:
            a = atom(iop, iav)
            if a is None:
                break
            parts.append(a[0])
            length += a[1]
        if length >= MIN_GATE and (best is None or length > best[1]):
            best = "".join(parts), length
    return best[0] if best is not None else None


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

    doc = _Doc(text)
    for plugin in regex_plugins():
        lines: set[int] = set()
        for p in plugin.prefilter:
            lines |= p.candidate_lines(doc)
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
