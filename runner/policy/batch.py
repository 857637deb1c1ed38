"""The ``policy eval`` input: one JSON tool call, or a batch of JSON lines.

A tool call is an object ``{"tool": NAME, "input": {...}}`` (or the Messages API's ``name``),
with an optional ``id`` (any JSON value) that is echoed in its decision line. The whole input
may be one object (pretty-printed over several lines); otherwise each non-blank line is one
call. A line that is not valid JSON, or not an object, does not stop the batch: it becomes a
:class:`BatchItem` with an ``error`` (and its line number), and ``policy eval`` prints a deny
line for it, ``{"allow": false, "error": ..., "line": N, "reasons": [input/bad_input]}``.

Only input that holds no tool call at all (empty, or not text) or cannot be read is an
:class:`~runner.errors.InputError` (exit 2).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import InputError
from runner.policy.decider import tool_call_from_json
from runner.policy.models import Decision, Reason, ToolCall

_NO_ID = object()


@dataclass(frozen=True)
class BatchItem:
    """One call of a batch: the call to decide, or the error that replaces it."""

    line: int  # 1-based line of the input where the call starts
    call: ToolCall | None = None
    id: Any = _NO_ID  # the call's "id" field, when it has one
    error: str | None = None

    @property
    def has_id(self) -> bool:
        return self.id is not _NO_ID

    def output(self, decision: Decision | None) -> dict[str, Any]:
        """The decision line: ``id`` first when given, then the decision (or the error)."""
        out: dict[str, Any] = {"id": self.id} if self.has_id else {}
        if self.error is not None or decision is None:
            msg = self.error or "no decision"
            out.update({
                "allow": False, "error": msg, "line": self.line,
                "reasons": [Reason(policy="input", rule="bad_input",
                                   msg=f"line {self.line}: {msg}").model_dump()],
            })
            return out
        out.update(decision.model_dump(mode="json"))
        return out


def _item(value: Any, line: int) -> BatchItem:
    if not isinstance(value, dict):
        return BatchItem(line=line, error='expected a JSON object {"tool": ..., "input": {...}}')
    call = tool_call_from_json(value)
    return BatchItem(line=line, call=call, id=value["id"]) if "id" in value else BatchItem(
        line=line, call=call)


def parse_batch(text: str, *, source: str = "<input>") -> list[BatchItem]:
    """The calls of ``text`` (see the module docstring); bad lines become error items."""
    if not text.strip():
        raise InputError("no tool call given", path=source)
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        whole = None
    else:
        if isinstance(whole, dict):
            first = next(i for i, line in enumerate(text.splitlines(), start=1) if line.strip())
            return [_item(whole, first)]
    items: list[BatchItem] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(BatchItem(line=lineno,
                                   error=f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        except RecursionError:
            items.append(BatchItem(line=lineno, error="invalid JSON: nested too deeply"))
            continue
        items.append(_item(value, lineno))
    return items


def read_batch(source: str) -> list[BatchItem]:
    """The calls of a file, or of stdin for ``-`` (see :func:`parse_batch`).

    Bytes that are not UTF-8 are kept as lone surrogates (the calls holding them are then
    denied as malformed), so that one bad line does not refuse the whole batch.
    """
    if source == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else (
            sys.stdin.read().encode("utf-8", "surrogateescape"))
        name = "<stdin>"
    else:
        name = source
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), path=source) from None
    return parse_batch(data.decode("utf-8", "surrogateescape"), source=name)
