"""Secret redaction for everything that leaves towards the model.

Two sources of secrets:

- known values: host environment variables whose names look secret (``*KEY*``,
  ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*`` ...; ``ANTHROPIC_API_KEY`` among
  them) and the values of the secret files masked in the container (``.env``
  ``KEY=VALUE`` lines and the like), given by the caller;
- detector findings (runner/secret_detectors.py, the list the policy uses too, with
  the same rule names): detect-secrets' regex plugins (AWS, GitHub, Slack, JWT,
  private keys, basic-auth URLs, ...) plus an Anthropic key pattern and the
  credential forms CI leaves behind: ``Authorization: Basic|Bearer ...`` headers,
  git ``extraheader`` values (what ``actions/checkout`` persists in
  ``.git/config``) and tokens in the user part of a URL. Entropy and keyword
  plugins are off: they would mangle ordinary code the agent reads.

A JSON tree is redacted whole, dict keys included: no key is passed over (a
tool's input can hold a ``type`` or an ``id`` as well as anything else).

Each secret is replaced with ``[REDACTED:<rule>]``. Findings carry the rule and
where it was found, never the value.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from re import Pattern
from typing import TYPE_CHECKING, Any

from runner.gateway.credentials import git_config_credentials
from runner.secret_detectors import (
    MIN_SECRET_LENGTH,
    credential_form_detectors,
    rule_of,
    token_detectors,
)
from runner.secret_gates import MEMO_MIN, Prefilter, ascii_lines, doc_of, prefilter

if TYPE_CHECKING:
    from detect_secrets.plugins.base import RegexBasedDetector

SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_PEM_RE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
_NEWLINE = re.compile("\n")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=")
_MAX_FILE_BYTES = 1 << 20
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Redaction:
    rule: str  # "env:ANTHROPIC_API_KEY", "file:.env:DB_PASSWORD", "aws-access-key", ...
    where: str  # "messages[3].content[0].content"
    count: int = 1


@functools.cache  # once per process; the first redactor made builds it
def detector_regexes() -> tuple[tuple[str, Pattern[str], Prefilter], ...]:
    """(rule, regex, its gate) of the shared token detectors and the credential forms CI
    leaves, for every regex of each: importing detect-secrets' plugins and reading the gates
    off their regexes take tens of ms (a run's redactor is made while Docker starts the
    container)."""
    detectors: list[RegexBasedDetector] = [*token_detectors(), *credential_form_detectors()]
    return tuple((rule_of(d), regex, prefilter(regex)) for d in detectors for regex in d.denylist)


@functools.cache
def detector_gates() -> tuple[Prefilter, ...]:
    """The gate of each of :func:`detector_regexes`, in order (one tuple per process)."""
    return tuple(gate for *_, gate in detector_regexes())


class Redactor:
    """Replaces secrets in text; thread-compatible (one instance per run)."""

    def __init__(self, known: Mapping[str, str] | None = None, *, detectors: bool = True) -> None:
        self._known: dict[str, str] = {}  # value -> rule
        self._known_re: Pattern[str] | None = None
        self._detectors = detectors and bool(detector_regexes())  # built once per process
        self._cache: dict[str, tuple[str, dict[str, int]]] = {}
        for rule, value in (known or {}).items():
            self.add_value(rule, value)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, extra: Mapping[str, str] | None = None,
        secret_files: Iterable[Path] = (), detectors: bool = True,
    ) -> Redactor:
        """Known values from secret-looking host env vars, ``extra`` and ``secret_files``."""
        env = os.environ if environ is None else environ
        red = cls(detectors=detectors)
        for name, value in env.items():
            if SECRET_NAME_RE.search(name):
                red.add_value(f"env:{name}", value)
        for rule, value in (extra or {}).items():
            red.add_value(rule, value)
        for path in secret_files:
            red.add_file(path)
        return red

    # --- known values ---------------------------------------------------------------

    def add_value(self, rule: str, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH or value in self._known:
            return
        self._known[value] = rule
        ordered = sorted(self._known, key=len, reverse=True)  # longest first
        self._known_re = re.compile("|".join(re.escape(v) for v in ordered))
        self._cache.clear()

    def add_file(self, path: Path, *, label: str | None = None) -> int:
        """Add the values of a secret file (``KEY=VALUE`` lines, else whole lines). Returns how many."""
        try:  # a file under a writable path may be a FIFO or a link the agent left: never block or follow
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return 0
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return 0
            text = fh.read(_MAX_FILE_BYTES).decode("utf-8", errors="replace")
        before = len(self._known)
        name = label or path.name
        for key, value in _secret_values(text):
            self.add_value(f"file:{name}:{key}" if key else f"file:{name}", value)
        return len(self._known) - before

    def add_git_credentials(self, project: Path) -> int:
        """Add every credential of the project's git config (runner/gateway/credentials.py)."""
        before = len(self._known)
        for rule, value in git_config_credentials(project):
            self.add_value(rule, value)
        return len(self._known) - before

    @property
    def known_count(self) -> int:
        return len(self._known)

    # --- redaction ------------------------------------------------------------------

    def redact_text(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with secrets replaced, and how many of each rule were replaced."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        counts: dict[str, int] = {}
        result = (self._redact(text, counts), counts)
        self._keep(text, result)
        return result

    def _keep(self, text: str, result: tuple[str, dict[str, int]]) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[text] = result

    def finds_any(self, texts: Sequence[str]) -> bool:
        """Would redacting any of ``texts`` replace something?

        The texts not redacted before are looked at together, joined by newlines: the
        detectors work line by line, and a known value or a private key found in one text
        is found in the joined one (which can only find more, never less), so False means
        every text comes back unchanged (and each is remembered as such).
        """
        new: dict[str, None] = {}
        for text in texts:
            hit = self._cache.get(text)
            if hit is None:
                new[text] = None
            elif hit[1]:
                return True
        if not new:
            return False
        short = []
        for text in new:  # a long text on its own (and kept): its gates may be known already
            if len(text) < MEMO_MIN:
                short.append(text)
            elif self.redact_text(text)[1]:
                return True
        counts: dict[str, int] = {}
        self._redact("\n".join(short), counts)
        if counts:
            return True
        for text in short:
            self._keep(text, (text, {}))
        return False

    def _redact(self, text: str, counts: dict[str, int]) -> str:
        out = text
        if self._known_re is not None:
            out = self._known_re.sub(lambda m: self._mark(self._known[m.group(0)], counts), out)
        if self._detectors:
            out = _PEM_RE.sub(lambda m: self._mark("private-key", counts), out)
            out = self._detect(out, counts)
        return out

    def redact_tree(self, obj: Any, where: str = "") -> tuple[Any, list[Redaction]]:
        """Redact every string in a JSON tree, dict keys included (base64 data too)."""
        found: list[Redaction] = []
        return self._walk(obj, where, found), found

    def redact_request(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[Redaction]]:
        """A Messages API request redacted whole (a new dict): what is forwarded and recorded."""
        out, found = self.redact_tree(request)
        return dict(out), found

    def _walk(self, obj: Any, where: str, found: list[Redaction]) -> Any:
        if isinstance(obj, str):
            new, counts = self.redact_text(obj)
            found.extend(Redaction(rule, where, n) for rule, n in sorted(counts.items()))
            return new
        if isinstance(obj, list):
            return [self._walk(v, f"{where}[{i}]", found) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            out: dict[Any, Any] = {}
            for k, v in obj.items():
                key = k
                if isinstance(k, str):
                    key, counts = self.redact_text(k)
                    found.extend(Redaction(rule, f"{where}{{key}}", n)
                                 for rule, n in sorted(counts.items()))
                here = f"{where}.{key}" if where else str(key)
                out[key] = self._walk(v, here, found)
            return out
        return obj

    def _detect(self, text: str, counts: dict[str, int]) -> str:
        # only the regexes whose gate matches somewhere in the text can match on one of its
        # lines (runner/secret_gates.py), and only on the lines their gate's matches touch:
        # most texts rule out all but a few regexes, and those all but a few lines. The gates
        # hold for ASCII text: a line that is not ASCII gets every regex, and the gates are
        # asked about the others (the text with those lines emptied: the same line numbers)
        lines = text.split("\n")
        gated, odd = (text, []) if text.isascii() else ascii_lines(lines)
        doc = doc_of(gated)
        detectors = detector_regexes()
        active = [d for d, ok in zip(detectors, doc.possible_among(detector_gates()),
                                     strict=True) if ok]
        if not active and not odd:
            return text
        everywhere: list[tuple[str, Pattern[str]]] = []  # regexes run on every line
        on: dict[int, list[tuple[str, Pattern[str]]]] = {}  # and those run on some
        starts = _line_starts(gated)
        for rule, regex, gate in active:
            if gate.gate is None or not gate.folded:
                everywhere.append((rule, regex))
                continue
            for i in _lines_touched(gate.gate, doc.folded, starts):
                on.setdefault(i, []).append((rule, regex))
        every = [(rule, regex) for rule, regex, _ in detectors]
        unruled = set(odd)  # lines that are not ASCII: no gate rules a regex out
        for i in range(len(lines)) if everywhere else sorted(on.keys() | unruled):
            line = lines[i]
            if len(line) < 8:
                continue
            regexes = every if i in unruled else [*everywhere, *on.get(i, ())]
            spans = sorted(_spans(line, regexes))
            for start, end, rule in reversed(_disjoint(spans)):
                counts[rule] = counts.get(rule, 0) + 1
                line = f"{line[:start]}[REDACTED:{rule}]{line[end:]}"
            lines[i] = line
        return "\n".join(lines)

    @staticmethod
    def _mark(rule: str, counts: dict[str, int]) -> str:
        counts[rule] = counts.get(rule, 0) + 1
        return f"[REDACTED:{rule}]"


def _spans(line: str, regexes: list[tuple[str, Pattern[str]]]) -> Iterable[tuple[int, int, str]]:
    """Where each detector's patterns match: the secret group when it is one, else the match."""
    for rule, regex in regexes:
        for m in regex.finditer(line):
            start, end = m.span()
            groups = [g for g in range(1, (m.lastindex or 0) + 1) if m.group(g)]
            if groups and len(m.group(groups[-1])) >= 8:
                start, end = m.span(groups[-1])
            while end < len(line) and line[end] in _TOKEN_CHARS:
                end += 1  # patterns ending lazily (JWT) stop short of the token's end
            if end - start >= 4:
                yield start, end, rule


def _line_starts(text: str) -> list[int]:
    """The offset where each line of ``text`` (split on "\\n") starts."""
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def _lines_touched(gate: Pattern[str], folded: str, starts: list[int]) -> set[int]:
    """Every line a match of ``gate`` in ``folded`` touches (``starts``: its lines' offsets;
    an ASCII text's casefold keeps them). The matches are found left to right without
    overlapping, so a place where the gate matches is either a match's start or inside an
    earlier match: the lines those cover hold every line on which the gate matches."""
    out: set[int] = set()
    for m in gate.finditer(folded):
        first = bisect.bisect_right(starts, m.start()) - 1
        last = bisect.bisect_right(starts, max(m.start(), m.end() - 1)) - 1
        out.update(range(first, last + 1))
    return out


def _disjoint(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for start, end, rule in spans:
        if out and start < out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(last[1], end), last[2])
        else:
            out.append((start, end, rule))
    return out


_ASSIGN_RE = re.compile(r"^\s*(?:export\s+)?([^=\s]+?)\s*[=:]\s*(.*?)\s*$")


def _secret_values(text: str) -> Iterable[tuple[str, str]]:
    """(key, value) pairs of a dotenv/ini/npmrc-like file; bare long lines (PEM bodies) as ('', line)."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "-----")):
            continue
        if "=" in line:
            match = _ASSIGN_RE.match(line)
            if match:
                value = match.group(2)
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                yield match.group(1).rsplit(":", 1)[-1], value
                continue
        words = line.split()
        for j, word in enumerate(words[:-1]):  # .netrc: "machine h login u password p"
            if word.lower() in ("password", "passwd", "secret", "token"):
                yield word.lower(), words[j + 1]
        if len(line) >= 16:
            yield "", line
