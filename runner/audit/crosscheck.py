"""Every decision against the model's ``tool_use`` blocks in ``transcript.jsonl``.

The chain proves the log was not edited; it does not prove that each decision
answers a call the *model* made. Anything in the container that reaches the
gateway could post decisions of its own, and an agent could run a tool without
asking. The transcript is written by the host from the provider's responses, so
it is the record of what the model asked for:

- every decision must name (``tool_use_id``) a ``tool_use`` block of a model
  response, with the same tool name and the same input; a decision without one is
  reported (forged, or the agent changed the call after the model made it);
- a tool_use decided twice is reported, except Claude Code's second ask;
- in a claude-code run (``labels.runtime``), the hook is asked with the input Claude Code
  will run, which it normalises first: a default added or left out (``replace_all: false``),
  a relative path made absolute under ``/workspace``, a leading ``cd /workspace &&`` dropped
  from a command; and for a file tool the hook runs a second time once the path is absolute.
  Such inputs match the model's; such a second ask is counted (``reasked``), not reported;
- a tool_use the agent answered (a ``tool_result`` in a later request) without a
  decision is reported; one that was never answered (the run ended first) is a note, and so
  is, in a claude-code run, a call of a tool the pinned Claude Code does not have (``LS``:
  Claude Code answers "No such tool available" itself; nothing runs).

Only responses count as the model's calls: requests are written by the agent. Decisions
of kind ``connect`` (the egress proxy's, written by the host) answer no tool_use: they are
counted, not matched.
A format-2 log holds inputs as I-JSON (a lone surrogate as U+FFFD, a huge integer as its
decimal string, listed in ``masked``): the model's input is compared in that form too.
Secrets are redacted in the transcript: a ``[REDACTED:rule]`` marker there matches
whatever text the log holds in its place (a log redacted by the same redactor holds
the same marker).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runner.audit.formats import FORMAT_V1, jcs_safe
from runner.audit.log import LogEntry, strict_loads
from runner.errors import InputError
from runner.policy.claude_code import CD_PREFIX
from runner.runtime_tools import CLAUDE_CODE_ABSENT
from runner.sanitize import one_line

TRANSCRIPT_NAME = "transcript.jsonl"
MAX_LINE = 64 * 1024 * 1024
_MARKER = re.compile(r"\[REDACTED:[A-Za-z0-9_.-]+\]")


class CrossProblem(BaseModel):
    seq: int | None = None  # the decision's seq (None: a tool_use without a decision)
    tool_use_id: str | None = None
    problem: str


class CrossCheck(BaseModel):
    decisions: int
    tool_uses: int
    matched: int
    connections: int = 0  # decisions of kind "connect" (the egress proxy's; no tool_use)
    reasked: int = 0  # Claude Code's second ask for a file tool, its input normalised
    problems: list[CrossProblem]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _ToolUse:
    name: str
    input: Any
    exchange: int  # transcript line number


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read the transcript: {exc.strerror}", path=path) from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            if raw.strip():
                yield number, raw


def _blocks(message_content: Any) -> list[dict[str, Any]]:
    if not isinstance(message_content, list):
        return []
    return [b for b in message_content if isinstance(b, dict)]


def read_transcript(path: Path) -> tuple[dict[str, _ToolUse], set[str], list[str]]:
    """(tool_use blocks of model responses by id, tool_use ids answered in requests, problems)."""
    uses: dict[str, _ToolUse] = {}
    answered: set[str] = set()
    problems: list[str] = []
    for number, raw in _lines(path):
        try:
            if len(raw) > MAX_LINE:
                raise ValueError("line too long")
            record = strict_loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"transcript line {number}: unreadable ({exc})")
            continue
        if not isinstance(record, dict):
            problems.append(f"transcript line {number}: not a JSON object")
            continue
        response = record.get("response")
        for block in _blocks(response.get("content") if isinstance(response, dict) else None):
            if block.get("type") != "tool_use" or not isinstance(block.get("id"), str):
                continue
            if block["id"] in uses:
                problems.append(f"transcript line {number}: tool_use id {block['id']!r} "
                                f"already used on line {uses[block['id']].exchange}")
                continue
            uses[block["id"]] = _ToolUse(name=str(block.get("name")), input=block.get("input"),
                                         exchange=number)
        request = record.get("request")
        messages = request.get("messages") if isinstance(request, dict) else None
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            for block in _blocks(message.get("content")):
                if block.get("type") == "tool_result" and isinstance(block.get("tool_use_id"), str):
                    answered.add(block["tool_use_id"])
    return uses, answered, problems


@lru_cache(maxsize=1024)
def _pattern(redacted: str) -> re.Pattern[str]:
    parts = _MARKER.split(redacted)
    return re.compile(".*?".join(re.escape(p) for p in parts), re.DOTALL)


def _same_text(decided: str, model: str) -> bool:
    if decided == model:
        return True
    return _MARKER.search(model) is not None and _pattern(model).fullmatch(decided) is not None


def same_input(decided: Any, model: Any) -> bool:
    """Equal JSON values; a redaction marker in the model's (transcript) string stands for
    any text, so a log that was not redacted still matches its redacted transcript."""
    if isinstance(decided, dict) and isinstance(model, dict):
        return decided.keys() == model.keys() and all(
            same_input(decided[k], model[k]) for k in decided)
    if isinstance(decided, list) and isinstance(model, list):
        return len(decided) == len(model) and all(
            same_input(x, y) for x, y in zip(decided, model, strict=True))
    if isinstance(decided, str) and isinstance(model, str):
        return _same_text(decided, model)
    if isinstance(decided, bool) or isinstance(model, bool):
        return decided is model
    return type(decided) in (int, float, type(None)) and decided == model


def _as_logged(model_input: Any, log_format: int) -> Any:
    """The model's input as a line of ``log_format`` logs it (format 2: I-JSON, see
    :func:`runner.audit.formats.jcs_safe`), so the comparison is like for like."""
    if log_format == FORMAT_V1:
        return model_input
    return jcs_safe(model_input, "", [])


def _show(text: object) -> str:
    return one_line(text, 80)


def cross_check(entries: list[LogEntry], transcript: Path) -> CrossCheck:
    """Match ``entries`` (a verified log) against the model's tool calls in ``transcript``."""
    uses, answered, read_problems = read_transcript(transcript)
    problems = [CrossProblem(problem=p) for p in read_problems]
    decided: dict[str, int] = {}
    matched = 0
    matched_ids: set[str] = set()
    reasked: set[str] = set()
    connections = 0
    for entry in entries:
        if entry.kind == "connect":  # decided for the egress proxy, not a call of the model
            connections += 1
            continue
        use_id = entry.tool_use_id
        if not use_id:
            problems.append(CrossProblem(seq=entry.seq, problem=(
                f"seq {entry.seq}: {_show(entry.tool_name)} has no tool_use_id: "
                "it cannot be matched to a call of the model")))
            continue
        if use_id in decided:
            use = uses.get(use_id)
            if use is not None and use.name == entry.tool_name and use_id not in reasked \
                    and use_id in matched_ids and entry.labels.get("runtime") == "claude-code" \
                    and normalised_input(entry.tool_input, use.input):
                reasked.add(use_id)
                continue
            problems.append(CrossProblem(seq=entry.seq, tool_use_id=use_id, problem=(
                f"seq {entry.seq}: tool_use {_show(use_id)} was already decided at seq "
                f"{decided[use_id]}")))
            continue
        decided[use_id] = entry.seq
        use = uses.get(use_id)
        if use is None:
            problems.append(CrossProblem(seq=entry.seq, tool_use_id=use_id, problem=(
                f"seq {entry.seq}: {_show(entry.tool_name)} names tool_use {_show(use_id)}, "
                "which no model response contains (a decision the model never asked for)")))
        elif use.name != entry.tool_name:
            problems.append(CrossProblem(seq=entry.seq, tool_use_id=use_id, problem=(
                f"seq {entry.seq}: decided {_show(entry.tool_name)}, the model called "
                f"{_show(use.name)} (transcript line {use.exchange})")))
        elif not (same_input(entry.tool_input, _as_logged(use.input, entry.log_format)) or (
                entry.labels.get("runtime") == "claude-code"
                and normalised_input(entry.tool_input, _as_logged(use.input, entry.log_format)))):
            problems.append(CrossProblem(seq=entry.seq, tool_use_id=use_id, problem=(
                f"seq {entry.seq}: the decided input of {_show(entry.tool_name)} differs from "
                f"the model's tool_use {_show(use_id)} (transcript line {use.exchange})")))
        else:
            matched += 1
            matched_ids.add(use_id)
    notes: list[str] = []
    claude_code = any(e.labels.get("runtime") == "claude-code" for e in entries)
    for use_id, use in uses.items():
        if use_id in decided:
            continue
        if use_id in answered and claude_code and use.name in CLAUDE_CODE_ABSENT:
            notes.append(f"tool_use {_show(use_id)} ({_show(use.name)}) names a tool Claude Code "
                         "does not have: it answered the call itself, nothing ran")
        elif use_id in answered:
            problems.append(CrossProblem(tool_use_id=use_id, problem=(
                f"tool_use {_show(use_id)} ({_show(use.name)}, transcript line {use.exchange}) "
                "was answered without a decision")))
        else:
            notes.append(f"tool_use {_show(use_id)} ({_show(use.name)}) was never decided "
                         "(the run ended before)")
    return CrossCheck(decisions=len(entries), tool_uses=len(uses), matched=matched,
                      connections=connections, reasked=len(reasked), problems=problems,
                      notes=notes)


_PATH_KEYS = ("file_path", "notebook_path", "path")


def normalised_input(decided: Any, model: Any, workspace: str = "/workspace") -> bool:
    """Claude Code's normalised form of the model's tool input: path keys relative in the
    model's input may be ``workspace/<it>``, a command may lose a leading ``cd workspace &&``,
    a key may be added or left out where its value is a default (false, null, empty, 0);
    everything else the same."""
    if not isinstance(decided, dict) or not isinstance(model, dict):
        return False
    for key in set(decided) | set(model):
        if key not in model or key not in decided:
            value = decided.get(key) if key not in model else model.get(key)
            if isinstance(value, (list, dict)) or value not in (False, None, "", 0):
                return False
            continue
        mine, theirs = decided[key], model[key]
        if key in _PATH_KEYS and isinstance(theirs, str) and isinstance(mine, str):
            absolute = theirs if theirs.startswith("/") else f"{workspace}/{theirs}"
            if mine not in (theirs, absolute.rstrip("/") or "/"):
                return False
        elif key == "command" and isinstance(theirs, str) and isinstance(mine, str):
            if mine != theirs and CD_PREFIX.sub("", theirs, count=1) != mine:
                return False
        elif not same_input(mine, theirs):
            return False
    return True
