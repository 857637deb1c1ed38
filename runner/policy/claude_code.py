"""Claude Code's tool calls as policy inputs (``--runtime claude-code``).

The PreToolUse hook (runner/agent/hook.py) sends each call Claude Code is about to run as a
DecideRequest with ``runtime="claude-code"``; ``DecisionService.decide`` maps it here, then derives and
evaluates it like any other call (one decision, logged with the call's tool_use_id).

- Bash, Read, Write, Edit, Glob, Grep, LS: as they are. Claude Code's extra keys
  (``description``, ``run_in_background``, ``timeout``, ``dangerouslyDisableSandbox``,
  Grep's ``output_mode``/``-n``/``type``..., Read's ``pages``) reach the policy input
  untouched; derivation reads only the keys of ``derive.FIELDS`` and trusts none of the
  others (``dangerouslyDisableSandbox`` disables nothing: the sandbox is the container).
- MultiEdit ``{file_path, edits: [{old_string, new_string, replace_all?}]}``: ONE Edit
  decision of ``file_path`` whose ``old_string``/``new_string`` are the edits' strings
  joined by newlines, so the secrets scan sees every new_string (and the path rules the one
  file). One decision per tool_use keeps the log's cross-check with the transcript one to
  one. A malformed ``edits`` is a malformed-input deny.
- NotebookEdit ``{notebook_path, new_source, ...}``: an Edit of ``notebook_path`` whose
  new_string is ``new_source``.
- Task: the Agent tool under its older name.
- Everything else keeps its name: WebFetch, WebSearch, Agent and the bookkeeping tools are
  policy tools of their own (TOOL_NAMES; policies/network.rego, policies/claude_code.rego),
  and a name the policies do not know is denied by main.rego ("tool X is not available in
  the sandbox"). Nothing matched is a deny.

A mapped call keeps the call as Claude Code made it in ``tool.called`` ({name, input}): the
audit log's cross-check compares that with the model's tool_use block.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from runner.policy.models import ToolCall

RUNTIME = "claude-code"
MAX_EDITS = 1000
# A leading `cd /workspace &&` (or `;`), which Claude Code drops from a command it runs there.
CD_PREFIX = re.compile(r"\Acd +(?:/workspace|\"/workspace\"|'/workspace')/? *(?:&&|;) *")
_DEFAULTS: dict[str, dict[str, Any]] = {"Edit": {"replace_all": False}}  # filled in when absent
_REASKED = ("Read", "Write", "Edit")  # asked again with the path made absolute


@dataclass
class Mapped:
    """The call the policies decide, and what was wrong with the original (denied if any)."""

    call: ToolCall
    errors: list[str] = field(default_factory=list)


def asked_forms(call: ToolCall, workspace: str = "/workspace") -> list[ToolCall]:
    """The calls Claude Code's hook is expected to send for the model's tool_use ``call``,
    as far as its normalisation is known (docs/runtimes.md; the audit cross-check allows the
    same): a default filled in (``replace_all: false``), a leading ``cd /workspace &&``
    dropped from a command; and for Read, Write and Edit with a relative path, a second ask
    with the path absolute. Only a guess: each form is decided ahead
    (``DecisionService.prepare``), and what the hook sends is decided as it is."""
    inp = dict(call.input)
    for key, value in _DEFAULTS.get(call.name, {}).items():
        inp.setdefault(key, value)
    command = inp.get("command")
    if call.name == "Bash" and isinstance(command, str):
        inp["command"] = CD_PREFIX.sub("", command, count=1)
    forms = [ToolCall(name=call.name, input=inp)]
    path = inp.get("file_path")
    if call.name in _REASKED and isinstance(path, str) and path and not path.startswith("/"):
        absolute = posixpath.normpath(posixpath.join(workspace, path))
        forms.append(ToolCall(name=call.name, input={**inp, "file_path": absolute}))
    return forms


def map_call(call: ToolCall) -> Mapped:
    """The policy call for a Claude Code tool call (never raises)."""
    try:
        mapper = _MAPPERS.get(call.name)
        if mapper is None:
            return Mapped(call)
        name, inp, errors = mapper(call.input)
    except Exception as exc:  # fail closed: a deny naming the problem
        return Mapped(call, [f"{call.name}: cannot be mapped ({type(exc).__name__}: {exc})"])
    mapped = ToolCall(name=name, input=inp)
    extra = mapped.__pydantic_extra__
    assert extra is not None
    extra["called"] = {"name": call.name, "input": call.input}
    return Mapped(mapped, errors)


def _task(inp: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    return "Agent", inp, []


def _multi_edit(inp: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    edits = inp.get("edits")
    out: dict[str, Any] = {"file_path": inp.get("file_path")}
    if not isinstance(edits, list) or not edits:
        return "Edit", out, ["MultiEdit: field 'edits' must be a non-empty list of edits"]
    if len(edits) > MAX_EDITS:
        return "Edit", out, [f"MultiEdit: more than {MAX_EDITS} edits in one call"]
    olds: list[str] = []
    news: list[str] = []
    errors: list[str] = []
    for i, edit in enumerate(edits):
        old = edit.get("old_string") if isinstance(edit, dict) else None
        new = edit.get("new_string") if isinstance(edit, dict) else None
        if not isinstance(old, str) or not isinstance(new, str):
            errors.append(f"MultiEdit: edits[{i}] needs old_string and new_string strings")
            continue
        olds.append(old)
        news.append(new)
    out["old_string"] = "\n".join(olds)
    out["new_string"] = "\n".join(news)
    return "Edit", out, errors


def _notebook_edit(inp: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    source = inp.get("new_source", "")
    out = {"file_path": inp.get("notebook_path"), "old_string": "",
           "new_string": source if isinstance(source, str) else None}
    errors = [] if isinstance(source, str) else ["NotebookEdit: field 'new_source' must be a string"]
    return "Edit", out, errors


_MAPPERS = {"Task": _task, "MultiEdit": _multi_edit, "NotebookEdit": _notebook_edit}
