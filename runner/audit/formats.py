"""Decision-log format versions: which bytes each line's ``hash`` is computed over.

- Format 1 (lines without a ``format`` field; logs written before issue 12): the sha256 of
  ``json.dumps(line without hash, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)`` encoded as UTF-8 (``surrogatepass`` for lone surrogates). Python's
  key order and float text: another language cannot reproduce it for every line.
- Format 2 (``"format": 2`` on every line, under the hash): the sha256 of the RFC 8785 JSON
  Canonicalization Scheme (JCS) bytes of the line without ``hash``: keys sorted by UTF-16
  code units, ECMAScript number text, minimal string escapes, UTF-8. Any JCS implementation
  reproduces it. JCS takes I-JSON only, so a format-2 writer logs a lone surrogate as U+FFFD
  and an integer beyond +-(2**53 - 1) as its decimal string, and lists each such value's
  JSON pointer in the line's ``masked`` (:func:`jcs_safe`).

Every reader picks the hash by the line's ``format``; a log keeps one format throughout
(``audit verify`` refuses a line whose format differs from the first line's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

FORMAT_V1 = 1  # implicit: a line without a "format" field
FORMAT_V2 = 2
CURRENT_FORMAT = FORMAT_V2
FORMATS = (FORMAT_V1, FORMAT_V2)
JCS_INT_MAX = 2**53 - 1  # RFC 8785 / I-JSON (RFC 7493): integers exactly representable


class FormatError(ValueError):
    """A line that cannot be hashed by its format (see :class:`UnknownFormat`)."""


class UnknownFormat(FormatError):
    """A line whose ``format`` this version cannot verify (a newer writer, or garbage)."""

    def __init__(self, value: object) -> None:
        self.value = value
        super().__init__(f"unknown decision-log format {value!r} (known: 1, 2)")


def canonical_json(obj: Any) -> bytes:
    """Format 1's hashed bytes: sorted keys, no spaces, UTF-8.

    Lone surrogates (a string decoded from invalid UTF-8 with ``surrogateescape``,
    or a ``\\udcxx`` escape sent by a client) are encoded with ``surrogatepass`` so
    that such an input can still be logged; for every valid string this is plain UTF-8.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def jcs(obj: Any) -> bytes:
    """Format 2's hashed bytes: RFC 8785 (raises ``rfc8785.CanonicalizationError``)."""
    return rfc8785.dumps(obj)


def line_format(record: Mapping[str, Any]) -> int:
    """The format of a parsed line: 1 without a ``format`` field, else its value."""
    if "format" not in record:
        return FORMAT_V1
    value = record["format"]
    if type(value) is not int or value not in FORMATS or value == FORMAT_V1:
        raise UnknownFormat(value)  # format 1 is never written explicitly
    return int(value)


def hashed_bytes(record: Mapping[str, Any]) -> bytes:
    """The bytes a line's ``hash`` covers (the line without ``hash``), by its format."""
    body = {k: v for k, v in record.items() if k != "hash"}
    if line_format(record) == FORMAT_V1:
        return canonical_json(body)
    try:
        return jcs(body)
    except rfc8785.CanonicalizationError as exc:  # not I-JSON: a writer never logs such a line
        raise FormatError(f"a format-2 line that is not I-JSON ({exc}): edited") from None


def entry_hash(record: Mapping[str, Any]) -> str:
    """sha256 hex of the line without its ``hash`` field, canonicalized by its format."""
    return hashlib.sha256(hashed_bytes(record)).hexdigest()


def json_pointer(parent: str, key: str | int) -> str:
    """RFC 6901: ``parent`` + ``/`` + the key with ``~`` as ``~0`` and ``/`` as ``~1``."""
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _replace_surrogates(text: str) -> str:
    """``text`` with every lone surrogate as U+FFFD (valid UTF-8 either way after)."""
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def jcs_safe(value: Any, where: str, masked: list[str]) -> Any:
    """``value`` (plain JSON data) as I-JSON that RFC 8785 accepts; pointers of what changed.

    A string (or object key) with a lone surrogate gets U+FFFD in its place; an integer
    outside +-(2**53 - 1) becomes its decimal string. Each changed value's JSON pointer
    (under ``where``, e.g. ``/input``) is appended to ``masked``.
    """
    if isinstance(value, str):
        if _has_surrogate(value):
            masked.append(where)
            return _replace_surrogates(value)
        return value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if -JCS_INT_MAX <= value <= JCS_INT_MAX:
            return value
        masked.append(where)
        return str(value)
    if isinstance(value, list):
        return [jcs_safe(v, json_pointer(where, i), masked) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            safe_key = key
            if _has_surrogate(key):
                safe_key = _replace_surrogates(key)
                while safe_key in value or safe_key in out:  # never overwrite another key
                    safe_key += "\ufffd"
            path = json_pointer(where, safe_key)
            if safe_key != key:
                masked.append(path)
            out[safe_key] = jcs_safe(item, path, masked)
        return out
    return value
